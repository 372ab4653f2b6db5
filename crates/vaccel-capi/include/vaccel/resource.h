/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resources: shared libraries (LIB), data (DATA) and models (MODEL), made from files,
 * directories (every regular file in it becomes a blob) or memory. A resource can be
 * registered with several sessions; it cannot be released while registered
 * (VACCEL_EBUSY). File contents are read at init; the paths are not kept open.
 */
#pragma once

#include "vaccel/utils/enum.h"
#include "vaccel/blob.h"
#include "vaccel/list.h"
#include "vaccel/id.h"
#include "vaccel/utils/path.h"
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vaccel_session;

#define VACCEL_RESOURCE_TYPES_(X, P) \
	X(P, LIB, 0) \
	X(P, DATA, 1) \
	X(P, MODEL, 2)
VACCEL_ENUM(vaccel_resource_type, VACCEL_RESOURCE, 3, VACCEL_RESOURCE_TYPES_)

/* Upstream's layout (152 bytes on x86-64). `paths` and `blobs` are filled at init and
 * freed by the release; nothing frees them behind the caller's back. */
struct vaccel_resource {
	vaccel_id_t id;                 /* > 0 once initialised; 0 = unset */
	vaccel_id_t remote_id;          /* id on the remote agent, when registered remotely */
	vaccel_resource_type_t type;    /* VACCEL_RESOURCE_* */
	vaccel_path_type_t path_type;   /* what `paths` are */
	char **paths;                   /* the paths it was made from (NULL from a buffer) */
	size_t nr_paths;
	char *rundir;                   /* NULL: blobs are kept in memory */
	struct vaccel_blob **blobs;     /* its blobs, in order */
	size_t nr_blobs;
	vaccel_list_t entry;            /* not used by this library */
	vaccel_list_t sessions;         /* an empty list */
	struct { int64_t opaque[5]; } sessions_lock; /* pthread_mutex_t upstream; unused */
	unsigned int refcount;          /* sessions it is registered with */
	void *plugin_priv;              /* reserved for plugins */
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
/* From the caller's blobs (their bytes copied). */
int vaccel_resource_init_from_blobs(struct vaccel_resource *res, const struct vaccel_blob **blobs,
				    size_t nr_blobs, vaccel_resource_type_t type);
int vaccel_resource_release(struct vaccel_resource *res);
/* Allocated forms (free with vaccel_resource_delete). */
int vaccel_resource_multi_new(struct vaccel_resource **res, const char **paths, size_t nr_paths,
			      vaccel_resource_type_t type);
int vaccel_resource_from_buf(struct vaccel_resource **res, const void *buf, size_t nr_bytes,
			     vaccel_resource_type_t type, const char *filename, bool mem_only);
int vaccel_resource_from_blobs(struct vaccel_resource **res, const struct vaccel_blob **blobs,
			       size_t nr_blobs, vaccel_resource_type_t type);
/* The directory a resource was made from (VACCEL_ENOTSUP if not from a directory): into
 * out_path, or a new malloc'ed string in *alloc_path. */
int vaccel_resource_directory(struct vaccel_resource *res, char *out_path, size_t out_path_size,
			      char **alloc_path);
/* Bring its blobs up to date from a remote agent (VACCEL_ENOTSUP for a remote session:
 * our protocol does not carry blobs back; a local session's resource is current). */
int vaccel_resource_sync(struct vaccel_resource *res, struct vaccel_session *sess);
int vaccel_resource_new(struct vaccel_resource **res, const char *path,
			vaccel_resource_type_t type);
int vaccel_resource_delete(struct vaccel_resource *res);
int vaccel_resource_register(struct vaccel_resource *res, struct vaccel_session *sess);
/* The live resource struct with this id; the oldest of a type; all of a type (a malloc'ed
 * array the caller frees). VACCEL_ENOENT when there is none. */
int vaccel_resource_get_by_id(struct vaccel_resource **res, vaccel_id_t id);
int vaccel_resource_get_by_type(struct vaccel_resource **res, vaccel_resource_type_t type);
int vaccel_resource_get_all_by_type(struct vaccel_resource ***res, size_t *nr_found,
				    vaccel_resource_type_t type);
/* The number of sessions it is registered with (-1 for a resource that is not live). */
long int vaccel_resource_refcount(const struct vaccel_resource *res);
int vaccel_resource_unregister(struct vaccel_resource *res, struct vaccel_session *sess);

#ifdef __cplusplus
}
#endif
