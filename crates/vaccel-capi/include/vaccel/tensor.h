/* SPDX-License-Identifier: Apache-2.0 */
/* The framework tensor types and model ops (kept for programs that include it):
 * vaccel/ops/{torch,tf,tflite}.h. */
#pragma once

#include "vaccel/ops/tf.h"
#include "vaccel/ops/tflite.h"
#include "vaccel/ops/torch.h"
