/* slog: a binary built against upstream's log macros calls slog_print (variadic; here with
 * integer, floating-point and string arguments) — libvaccel exports it. */
#include <stdint.h>
#include <vaccel.h>

void slog_print(int flag, uint8_t new_line, const char *fmt, ...);

int main(void)
{
	if (vaccel_log_init() != VACCEL_OK)
		return 1;
	slog_print(1 << 6, 1, "slog error: %d %.2f %s %ld", 42, 3.5, "text", 1234567890123L);
	slog_print(1 << 2, 1, "slog info: %c%c", 'o', 'k');
	vaccel_info("macro info: %d", 7);
	return vaccel_log_shutdown();
}
