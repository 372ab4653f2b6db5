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
int vaccel_prof_region_stop(struct vaccel_prof_region *region);
/* Print "[prof] <name>: count N total T ns mean M ns" to stdout. */
int vaccel_prof_region_print(const struct vaccel_prof_region *region);

#ifdef __cplusplus
}
#endif
