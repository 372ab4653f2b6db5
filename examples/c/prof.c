/* prof: profiling regions, single and by name in an array, as upstream's programs time
 * their code. Run with VACCEL_PROFILING_ENABLED=1 (else regions record nothing). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

int main(void)
{
	struct vaccel_prof_region regions[2] = { VACCEL_PROF_REGION_INIT("load"),
						 VACCEL_PROF_REGION_INIT("run") };
	char *buf = NULL;

	printf("enabled: %s\n", vaccel_prof_enabled() ? "yes" : "no");
	if (vaccel_prof_regions_init(regions, 2) != VACCEL_OK)
		return 1;
	for (int i = 0; i < 3; i++) {
		if (vaccel_prof_regions_start_by_name(regions, 2, "run") ||
		    vaccel_prof_regions_stop_by_name(regions, 2, "run"))
			return 1;
	}
	vaccel_prof_regions_start_by_name(regions, 2, "load");
	vaccel_prof_regions_stop_by_name(regions, 2, "load");
	printf("unknown name: %s\n",
	       vaccel_prof_regions_start_by_name(regions, 2, "nope") == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	printf("entries: load %zu, run %zu\n", regions[0].nr_entries, regions[1].nr_entries);
	int need = vaccel_prof_regions_print_all_to_buf(NULL, 0, regions, 2);
	int n = vaccel_prof_regions_print_all_to_buf(&buf, (size_t)need, regions, 2);
	printf("buffer: %d regions, first line \"%.*s\"\n", n,
	       (int)strcspn(buf, ":"), buf);
	printf("second line starts: %.10s\n", buf + strlen(buf) + 1);
	free(buf);
	vaccel_prof_regions_print_all(regions, 2);
	return vaccel_prof_regions_release(regions, 2) != VACCEL_OK;
}
