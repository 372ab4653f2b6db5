/* SPDX-License-Identifier: Apache-2.0 */
/* Where a resource's paths point. */
#pragma once

#include "vaccel/utils/enum.h"
#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_PATH_TYPES_(X, P) \
	X(P, LOCAL_FILE, 0) \
	X(P, LOCAL_DIR, 1) \
	X(P, REMOTE_FILE, 2)
VACCEL_ENUM(vaccel_path_type, VACCEL_PATH, 3, VACCEL_PATH_TYPES_)

#ifdef __cplusplus
}
#endif
