/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin type bits, also used as session hints (vaccel_session_init's flags). */
#pragma once

#include "vaccel/list.h"
#include "vaccel/op.h"
#include "vaccel/utils/enum.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_PLUGIN_TYPES_(X, P) \
	X(P, CPU, 0x0001) \
	X(P, GPU, 0x0002) \
	X(P, FPGA, 0x0004) \
	X(P, SOFTWARE, 0x0008) \
	X(P, TENSORFLOW, 0x0010) \
	X(P, TORCH, 0x0020) \
	X(P, JETSON, 0x0040) \
	X(P, GENERIC, 0x0080) \
	X(P, DEBUG, 0x0100) \
	X(P, REMOTE, 0x4000) \
	X(P, ALL, 0xffff)
VACCEL_ENUM(vaccel_plugin_type, VACCEL_PLUGIN, 0x10000, VACCEL_PLUGIN_TYPES_)

/* No type bits (an extension; a session hint of 0 picks the highest-priority plugin). */
enum { VACCEL_PLUGIN_NONE = 0x0000 };

struct vaccel_session;
struct vaccel_resource;

/*
 * Upstream's plugin ABI: libvaccel loads a shared object named in VACCEL_PLUGINS (or given
 * to vaccel_plugin_load) that exports `vaccel_plugin`, next to plugins of the Rust plugin
 * ABI, and selects and routes it by the same rules. Its init() registers its ops with
 * vaccel_plugin_register_ops(); each op function has the op's upstream signature
 * (docs/C-API.md lists which ops libvaccel hands to such plugins).
 */
struct vaccel_plugin_info {
	const char *name;           /* required, unique among loaded plugins */
	const char *version;        /* required */
	const char *vaccel_version; /* VACCEL_VERSION it was built with (checked: another
	                               major is refused; VACCEL_VERSION_IGNORE=1 skips) */
	int (*init)(void);          /* required: registers the ops */
	int (*fini)(void);          /* required */
	bool is_virtio;             /* a transport: serves VACCEL_PLUGIN_REMOTE sessions */
	vaccel_plugin_type_t type;
	/* Called for remote (is_virtio) sessions only, as upstream does. */
	int (*session_init)(struct vaccel_session *sess, uint32_t flags);
	int (*session_release)(struct vaccel_session *sess);
	int (*session_update)(struct vaccel_session *sess, uint32_t flags);
	/* Called when a resource is (un)registered with a session bound to the plugin. */
	int (*resource_register)(struct vaccel_resource *res, struct vaccel_session *sess);
	int (*resource_unregister)(struct vaccel_resource *res, struct vaccel_session *sess);
	int (*resource_sync)(struct vaccel_resource *res, struct vaccel_session *sess);
};

struct vaccel_plugin {
	void *dl_handle;
	struct vaccel_list_entry entry;
	struct vaccel_op *ops[VACCEL_OP_MAX]; /* filled by vaccel_plugin_register_ops */
	struct vaccel_plugin_info *info;
};

/* Define the plugin: VACCEL_PLUGIN(.name = ..., .version = ..., .vaccel_version =
 * VACCEL_VERSION, .type = ..., .init = ..., .fini = ...). C only (designated
 * initialisers), as upstream's. */
#define VACCEL_PLUGIN(...)                                                          \
	static struct vaccel_plugin_info _vaccel_plugin_info = { __VA_ARGS__ };     \
	__attribute__((visibility("hidden"))) struct vaccel_plugin vaccel_this_plugin = { \
		.dl_handle = NULL,                                                  \
		.entry = LIST_ENTRY_INIT(vaccel_this_plugin.entry),                 \
		.ops = { NULL },                                                    \
		.info = &_vaccel_plugin_info                                        \
	};                                                                          \
	const struct vaccel_plugin *vaccel_plugin = &vaccel_this_plugin;

/* Register the plugin's ops (from its init(): VACCEL_EINVAL otherwise, or when an op's
 * owner is not the plugin being loaded, its type out of range or its function NULL). */
int vaccel_plugin_register_ops(struct vaccel_op *ops, size_t nr_ops);

/* Load a plugin (a path, or a file name searched the dlopen way) into the running
 * library, at the lowest priority; sessions created from then on can use it. Upstream's
 * and Rust-ABI plugins alike. */
int vaccel_plugin_load(const char *lib);

/* Load each plugin of a ':'-separated list. */
int vaccel_plugin_parse_and_load(const char *lib_str);

static inline int vaccel_plugin_register_op(struct vaccel_op *op)
{
	return vaccel_plugin_register_ops(op, 1);
}

/* Deprecated. */
#define VACCEL_MODULE(...)                                                                    \
	_Pragma("GCC warning \"VACCEL_MODULE() is deprecated. Use VACCEL_PLUGIN() instead\"") \
		VACCEL_PLUGIN(__VA_ARGS__)

__attribute__((deprecated("Use vaccel_plugin_register_op() instead"))) static inline int
register_plugin_function(struct vaccel_op *plugin_op)
{
	return vaccel_plugin_register_op(plugin_op);
}

__attribute__((deprecated("Use vaccel_plugin_register_ops() instead"))) static inline int
register_plugin_functions(struct vaccel_op *plugin_ops, size_t nr_ops)
{
	return vaccel_plugin_register_ops(plugin_ops, nr_ops);
}

#ifdef __cplusplus
}
#endif
