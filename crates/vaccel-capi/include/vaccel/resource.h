/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resources: shared libraries (LIB), data (DATA) and models (MODEL), made from files,
 * directories (every regular file in it becomes a blob) or memory. A resource can be
 * registered with several sessions; it cannot be released while registered
 * (VACCEL_EBUSY). File contents are read at init; the paths are not kept open.
 */
#pragma once

#include "vaccel/session.h"
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	VACCEL_RESOURCE_LIB = 0,
	VACCEL_RESOURCE_DATA = 1,
	VACCEL_RESOURCE_MODEL = 2,
	VACCEL_RESOURCE_MAX = 3
} vaccel_resource_type_t;

struct vaccel_resource {
	vaccel_id_t id;              /* > 0 once initialised; 0 = unset */
	vaccel_id_t remote_id;       /* id on the remote agent, when registered remotely */
	vaccel_resource_type_t type; /* VACCEL_RESOURCE_* */
	size_t nr_blobs;             /* number of blobs (files) it holds */
	void *priv;                  /* reserved for the runtime */
};

int vaccel_resource_init(struct vaccel_resource *res, const char *path,
			 vaccel_resource_type_t type);
int vaccel_resource_init_multi(struct vaccel_resource *res, const char **paths, size_t nr_paths,
			       vaccel_resource_type_t type);
/* `filename` names the single blob; `mem_only` is accepted for compatibility (blobs are
 * always kept in memory). */
int vaccel_resource_init_from_buf(struct vaccel_resource *res, const void *buf, size_t nr_bytes,
				  vaccel_resource_type_t type, const char *filename,
				  bool mem_only);
int vaccel_resource_release(struct vaccel_resource *res);
int vaccel_resource_new(struct vaccel_resource **res, const char *path,
			vaccel_resource_type_t type);
int vaccel_resource_delete(struct vaccel_resource *res);
int vaccel_resource_register(struct vaccel_resource *res, struct vaccel_session *sess);
int vaccel_resource_unregister(struct vaccel_resource *res, struct vaccel_session *sess);

#ifdef __cplusplus
}
#endif
