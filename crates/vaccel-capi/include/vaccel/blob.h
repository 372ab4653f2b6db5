/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blobs: the files (or buffers) a resource is made of. The runtime fills
 * `res->blobs[i]` when a resource is created; they stay valid until the resource is
 * released. `data` is the runtime's copy of the bytes: read it, do not write it.
 */
#pragma once

#include "vaccel/utils/enum.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_BLOB_TYPES_(X, P) \
	X(P, FILE, 0) \
	X(P, BUFFER, 1) \
	X(P, MAPPED, 2)
/* FILE: read from a file (`path` names it); BUFFER: made from memory (`path` is NULL). */
VACCEL_ENUM(vaccel_blob_type, VACCEL_BLOB, 3, VACCEL_BLOB_TYPES_)

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
