/* lifecycle: the library starts when it is loaded (unless VACCEL_BOOTSTRAP_ENABLED=0) and
 * removes its run-time directory at exit (unless VACCEL_CLEANUP_ENABLED=0). */
#include <stdio.h>
#include <sys/stat.h>
#include <vaccel.h>

int main(void)
{
	struct stat st;
	printf("initialized at start: %s\n", vaccel_is_initialized() ? "yes" : "no");
	printf("rundir: %s\n", vaccel_rundir());
	printf("rundir exists: %s\n", stat(vaccel_rundir(), &st) == 0 ? "yes" : "no");
	return 0;
}
