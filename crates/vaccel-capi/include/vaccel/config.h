/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration, as upstream's: what the environment sets (VACCEL_PLUGINS,
 * VACCEL_LOG_LEVEL, VACCEL_LOG_FILE, VACCEL_PROFILING_ENABLED, VACCEL_VERSION_IGNORE), as a
 * struct a program can fill and start the library with (vaccel_bootstrap_with_config).
 * A config holds malloc'ed copies of its strings, freed by _release / _delete.
 */
#pragma once

#include "vaccel/log.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vaccel_config {
	char *plugins;                /* ':'-separated plugin files or built-in names */
	vaccel_log_level_t log_level; /* VACCEL_LOG_ERROR .. VACCEL_LOG_DEBUG */
	char *log_file;               /* log file prefix, or NULL for the standard stream */
	bool profiling_enabled;
	bool version_ignore;
};

int vaccel_config_init(struct vaccel_config *config, const char *plugins,
		       vaccel_log_level_t log_level, const char *log_file, bool profiling_enabled,
		       bool version_ignore);
int vaccel_config_init_from_env(struct vaccel_config *config);
int vaccel_config_init_from(struct vaccel_config *config, struct vaccel_config *src);
int vaccel_config_release(struct vaccel_config *config);
int vaccel_config_new(struct vaccel_config **config, const char *plugins,
		      vaccel_log_level_t log_level, const char *log_file, bool profiling_enabled,
		      bool version_ignore);
int vaccel_config_from_env(struct vaccel_config **config);
int vaccel_config_from(struct vaccel_config **config, struct vaccel_config *src);
int vaccel_config_delete(struct vaccel_config *config);
/* Log the fields at debug level. */
void vaccel_config_print_debug(struct vaccel_config *config);

#ifdef __cplusplus
}
#endif
