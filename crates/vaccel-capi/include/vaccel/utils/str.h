/* SPDX-License-Identifier: Apache-2.0 */
/* String helpers. */
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Lower-case `str`: into `lower` (at most `size` - 1 characters, NUL-terminated), or, when
 * `alloc_lower` is not NULL, into a new malloc'ed string stored there (free it). */
int vaccel_str_to_lower(const char *str, char *lower, size_t size, char **alloc_lower);

#ifdef __cplusplus
}
#endif
