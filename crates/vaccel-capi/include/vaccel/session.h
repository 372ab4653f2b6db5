/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions. A session is bound to a plugin chosen from its hint (VACCEL_PLUGIN_* bits; 0
 * picks the highest-priority plugin); an op the bound plugin lacks is run by the next
 * loaded plugin that has it. Sessions are thread-safe.
 */
#pragma once

#include "vaccel/id.h"
#include "vaccel/list.h"
#include "vaccel/resource.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vaccel_resource;
struct vaccel_plugin;

/* Upstream's layout (4264 bytes on x86-64), fields filled as upstream fills them. */
struct vaccel_session {
	vaccel_id_t id;        /* > 0 once initialised; 0 = unset */
	vaccel_id_t remote_id; /* the agent's id for it, for a remote (VACCEL_PLUGIN_REMOTE) session */
	uint32_t hint;         /* the flags it was created with */
	bool is_virtio;        /* true when its ops run on a remote agent */
	char rundir[4096];     /* PATH_MAX: its run-time directory, "<vaccel_rundir()>/session.<id>" */
	vaccel_list_t entry;                /* not used by this library */
	vaccel_list_t resources[3];         /* empty lists (one per VACCEL_RESOURCE_* type) */
	size_t resource_counts[3];          /* resources registered, by type */
	struct { int64_t opaque[5]; } resources_lock; /* pthread_mutex_t upstream; unused */
	struct vaccel_plugin *plugin;       /* NULL: the plugin is the runtime's */
	void *priv;                         /* reserved for the runtime */
};

/* Initialise a caller-allocated session. */
int vaccel_session_init(struct vaccel_session *sess, uint32_t flags);
/* Unregister its resources and release it; a second release returns VACCEL_EINVAL. */
int vaccel_session_release(struct vaccel_session *sess);
/* Allocate and initialise; free with vaccel_session_delete. */
int vaccel_session_new(struct vaccel_session **sess, uint32_t flags);
int vaccel_session_delete(struct vaccel_session *sess);
bool vaccel_session_has_resource(struct vaccel_session *sess, struct vaccel_resource *res);
/* The live session struct with this id (as initialised by the caller). VACCEL_ENOENT if none. */
int vaccel_session_get_by_id(struct vaccel_session **sess, vaccel_id_t id);
/* Resources registered with `sess`, as the caller's structs: by id, the first of a type, or
 * all of a type (a malloc'ed array the caller frees). VACCEL_ENOENT when there is none. */
int vaccel_session_resource_by_id(struct vaccel_session *sess, struct vaccel_resource **res,
				  vaccel_id_t id);
int vaccel_session_resource_by_type(struct vaccel_session *sess, struct vaccel_resource **res,
				    vaccel_resource_type_t type);
int vaccel_session_resources_by_type(struct vaccel_session *sess,
				     struct vaccel_resource ***resources, size_t *nr_found,
				     vaccel_resource_type_t type);

/* Rebind it by new flags, keeping its id (VACCEL_ENOTSUP with registered resources or on
 * a remote agent). */
int vaccel_session_update(struct vaccel_session *sess, uint32_t flags);

/* Upstream's deprecated names. */
int vaccel_sess_update(struct vaccel_session *sess, uint32_t flags);
int vaccel_sess_init(struct vaccel_session *sess, uint32_t flags);
int vaccel_sess_free(struct vaccel_session *sess);
bool vaccel_sess_has_resource(struct vaccel_session *sess, struct vaccel_resource *res);

#ifdef __cplusplus
}
#endif
