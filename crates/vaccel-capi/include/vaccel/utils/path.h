/* SPDX-License-Identifier: Apache-2.0 */
/* Where a resource's paths point. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	VACCEL_PATH_LOCAL_FILE = 0,
	VACCEL_PATH_LOCAL_DIR = 1,
	VACCEL_PATH_REMOTE_FILE = 2,
	VACCEL_PATH_MAX = 3
} vaccel_path_type_t;

#ifdef __cplusplus
}
#endif
