/* SPDX-License-Identifier: Apache-2.0 */
/* Library life cycle. The library starts itself on first use; these give explicit control. */
#pragma once

#include "vaccel/config.h"
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Load configuration (environment) and plugins. Idempotent. Fails — with the reason
 * logged and kept for vaccel_last_error() — when a VACCEL_PLUGINS entry cannot be loaded. */
int vaccel_bootstrap(void);
/* Release every session and resource the program left behind and unload plugins. A later
 * call starts the library again. */
int vaccel_cleanup(void);
/* Start (or restart: a running library is cleaned up first) with `config` instead of the
 * environment. */
int vaccel_bootstrap_with_config(struct vaccel_config *config);
/* The configuration in force (NULL before the library has started). */
const struct vaccel_config *vaccel_config(void);
bool vaccel_is_initialized(void);
/* The process's run-time directory ($XDG_RUNTIME_DIR/vaccel/<random>, else
 * /run/user/<uid>/vaccel/<random>, else under the temporary directory): sessions keep
 * their files in "session.<id>" below it. Created at bootstrap, removed at cleanup. */
const char *vaccel_rundir(void);

/* Extension: the message of the last error on this thread ("" if none). Valid until the
 * next vAccel call on this thread. */
const char *vaccel_last_error(void);

#ifdef __cplusplus
}
#endif
