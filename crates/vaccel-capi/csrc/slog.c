/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of slog_print, the symbol upstream's log macros (vaccel_info … through slog)
 * call, so a program or plugin compiled against upstream's headers that logs finds it in
 * libvaccel: formats the message and hands it to the runtime's logger. In C, because it
 * is variadic; the exported slog_print (src/log_compat.rs) jumps here.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

void vaccel_log_write(int level, const char *msg);

/* slog's flags (bits) → our levels: 1 error, 2 warn, 3 info, 4 debug. */
static int level_of(int flag)
{
	if (flag & ((1 << 6) | (1 << 7))) /* ERROR, FATAL */
		return 1;
	if (flag & (1 << 3)) /* WARN */
		return 2;
	if (flag & ((1 << 4) | (1 << 5))) /* DEBUG, TRACE */
		return 4;
	return 3; /* NOTAG, NOTE, INFO */
}

void vaccel_slog_print_impl(int flag, uint8_t new_line, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	(void)new_line;
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vaccel_log_write(level_of(flag), msg);
}
