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

/* A blob of an existing file (mapped when its data is asked for). */
int vaccel_blob_init(struct vaccel_blob *blob, const char *path);
/* A blob of a buffer called `name`: viewed, copied (`own`), or — with `dir` — written to a
 * new file there (a random suffix with `randomize` or when the name is taken) and mapped. */
int vaccel_blob_init_from_buf(struct vaccel_blob *blob, const uint8_t *buf, size_t size, bool own,
			      const char *name, const char *dir, bool randomize);
/* Write the blob's bytes to a new file in `dir` and map it (the blob then owns the file). */
int vaccel_blob_persist(struct vaccel_blob *blob, const char *dir, const char *filename,
			bool randomize);
/* Free what it holds; a file it owns is removed. */
int vaccel_blob_release(struct vaccel_blob *blob);
int vaccel_blob_new(struct vaccel_blob **blob, const char *path);
int vaccel_blob_from_buf(struct vaccel_blob **blob, const uint8_t *buf, size_t size, bool own,
			 const char *name, const char *dir, bool randomize);
int vaccel_blob_delete(struct vaccel_blob *blob);
/* Map a file blob's file (privately: writes do not reach it). */
int vaccel_blob_read(struct vaccel_blob *blob);
/* Its bytes (read first if needed) and their size; NULL on failure. */
uint8_t *vaccel_blob_data(struct vaccel_blob *blob, size_t *size);
/* Its file (FILE or MAPPED blobs), else NULL. */
const char *vaccel_blob_path(struct vaccel_blob *blob);
bool vaccel_blob_valid(const struct vaccel_blob *blob);

#ifdef __cplusplus
}
#endif
