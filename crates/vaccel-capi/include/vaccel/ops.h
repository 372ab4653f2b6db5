/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations, one header each as upstream lays them out (vaccel/ops/NAME.h). Each takes the
 * session first and returns a VACCEL_* code; an op that no loaded plugin implements
 * returns VACCEL_ENOTSUP. Arg layouts of genop: see docs/C-API.md.
 */
#pragma once

#include "vaccel/ops/blas.h"
#include "vaccel/ops/exec.h"
#include "vaccel/ops/fpga.h"
#include "vaccel/ops/genop.h"
#include "vaccel/ops/image.h"
#include "vaccel/ops/minmax.h"
#include "vaccel/ops/noop.h"
#include "vaccel/ops/opencv.h"
#include "vaccel/ops/tf.h"
#include "vaccel/ops/tflite.h"
#include "vaccel/ops/torch.h"
