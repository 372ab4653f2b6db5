/* SPDX-License-Identifier: Apache-2.0 */
/* Logging through the runtime's logger (stderr, or VACCEL_LOG_FILE), filtered by
 * VACCEL_LOG_LEVEL. The macros take printf-style arguments. */
#pragma once

#include "vaccel/utils/enum.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_LOG_LEVELS_(X, P) \
	X(P, ERROR, 1) \
	X(P, WARN, 2) \
	X(P, INFO, 3) \
	X(P, DEBUG, 4)
VACCEL_ENUM(vaccel_log_level, VACCEL_LOG, 5, VACCEL_LOG_LEVELS_)

/* Log one already formatted message. */
void vaccel_log_write(vaccel_log_level_t level, const char *msg);
/* Whether messages at `level` are shown. */
bool vaccel_log_enabled(vaccel_log_level_t level);

static inline void vaccel_log_printf_(vaccel_log_level_t level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!vaccel_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vaccel_log_write(level, msg);
}

#define vaccel_error(...) vaccel_log_printf_(VACCEL_LOG_ERROR, __VA_ARGS__)
#define vaccel_warn(...) vaccel_log_printf_(VACCEL_LOG_WARN, __VA_ARGS__)
#define vaccel_info(...) vaccel_log_printf_(VACCEL_LOG_INFO, __VA_ARGS__)
#define vaccel_debug(...) vaccel_log_printf_(VACCEL_LOG_DEBUG, __VA_ARGS__)
#define vaccel_trace(...) vaccel_log_printf_(VACCEL_LOG_DEBUG, __VA_ARGS__)
#define vaccel_fatal(...) vaccel_log_printf_(VACCEL_LOG_ERROR, __VA_ARGS__)

/* Set up logging (done when the library starts); shutting it down is a no-op that
 * succeeds (the logger lives as long as the process). */
int vaccel_log_init(void);
int vaccel_log_shutdown(void);

#ifdef __cplusplus
}
#endif
