/* SPDX-License-Identifier: Apache-2.0 */
/* Object ids: > 0 once initialised; 0 = unset. */
#pragma once

#include <stdint.h>

typedef int64_t vaccel_id_t;
