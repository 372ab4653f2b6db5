/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs: the files (or buffers) a resource is made of. The runtime fills
 * `res->blobs[i]` when a resource is created; they stay valid until the resource is
 * released. `data` is the runtime's copy of the bytes: read it, do not write it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	VACCEL_BLOB_FILE = 0,   /* read from a file (`path` names it) */
	VACCEL_BLOB_BUFFER = 1, /* made from memory (`path` is NULL) */
	VACCEL_BLOB_MAPPED = 2,
	VACCEL_BLOB_MAX = 3
} vaccel_blob_type_t;

struct vaccel_blob {
	vaccel_blob_type_t type;
	char *name;      /* file name, no directories */
	char *path;      /* the file it was read from, or NULL */
	bool path_owned;
	uint8_t *data;   /* its bytes (read-only) */
	bool data_owned;
	size_t size;     /* bytes at `data` */
};

#ifdef __cplusplus
}
#endif
