/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions. A session is bound to a plugin chosen from its hint (VACCEL_PLUGIN_* bits; 0
 * picks the highest-priority plugin); an op the bound plugin lacks is run by the next
 * loaded plugin that has it. Sessions are thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int64_t vaccel_id_t;

struct vaccel_resource;

struct vaccel_session {
	vaccel_id_t id;        /* > 0 once initialised; 0 = unset */
	vaccel_id_t remote_id; /* id on the remote agent, for remote sessions */
	unsigned int hint;     /* the flags it was created with */
	void *priv;            /* reserved for the runtime */
};

/* Initialise a caller-allocated session. */
int vaccel_session_init(struct vaccel_session *sess, uint32_t flags);
/* Unregister its resources and release it; a second release returns VACCEL_EINVAL. */
int vaccel_session_release(struct vaccel_session *sess);
/* Allocate and initialise; free with vaccel_session_delete. */
int vaccel_session_new(struct vaccel_session **sess, uint32_t flags);
int vaccel_session_delete(struct vaccel_session *sess);
bool vaccel_session_has_resource(const struct vaccel_session *sess,
				 const struct vaccel_resource *res);

#ifdef __cplusplus
}
#endif
