/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Profiling regions: time code between _start and _stop, in nanoseconds. Active only
 * when VACCEL_PROFILING_ENABLED=1 (as upstream); otherwise start/stop do nothing and
 * succeed. Not thread-safe: one region per thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vaccel_prof_sample {
	uint64_t start; /* ns since an arbitrary epoch */
	uint64_t time;  /* duration, ns */
};

struct vaccel_prof_region {
	char *name;                         /* region name */
	bool name_owned;                    /* name was copied by _init and is freed by _release */
	size_t nr_entries;                  /* samples recorded */
	struct vaccel_prof_sample *samples; /* recorded samples (malloc'd by the library) */
	size_t size;                        /* capacity of samples */
};

#define VACCEL_PROF_REGION_INIT(name_) { .name = (name_), .name_owned = false, .nr_entries = 0, \
					 .samples = NULL, .size = 0 }

int vaccel_prof_region_init(struct vaccel_prof_region *region, const char *name);
int vaccel_prof_region_release(struct vaccel_prof_region *region);
int vaccel_prof_region_start(struct vaccel_prof_region *region);
int vaccel_prof_region_stop(const struct vaccel_prof_region *region);
/* Print "[prof] <name>: count N total T ns mean M ns" to stdout. */
int vaccel_prof_region_print(const struct vaccel_prof_region *region);

/* Whether regions record (VACCEL_PROFILING_ENABLED). */
bool vaccel_prof_enabled(void);
/* Arrays of regions, by name (the last region of that name): reset them for recording
 * (names kept), free their samples, start / stop one. */
int vaccel_prof_regions_init(struct vaccel_prof_region *regions, int nregions);
int vaccel_prof_regions_release(struct vaccel_prof_region *regions, int nregions);
int vaccel_prof_regions_start_by_name(struct vaccel_prof_region *regions, int nregions,
				      const char *name);
int vaccel_prof_regions_stop_by_name(struct vaccel_prof_region *regions, int nregions,
				     const char *name);
/* Print "[prof] NAME: total_time: T nsec nr_entries: N" for each region with samples. */
int vaccel_prof_regions_print_all(struct vaccel_prof_region *regions, int nregions);
/* With tbuf NULL: the bytes those lines take (each NUL-terminated). Otherwise *tbuf gets a
 * malloc'ed buffer of tbuf_len bytes holding the lines that fit, and the number of regions
 * is returned. 0 when profiling is off; -VACCEL_E* on errors. */
int vaccel_prof_regions_print_all_to_buf(char **tbuf, size_t tbuf_len,
					 struct vaccel_prof_region *regions, int nregions);

#ifdef __cplusplus
}
#endif
