/* SPDX-License-Identifier: Apache-2.0 */
/* Calling functions in shared libraries. */
#pragma once

#include "vaccel/arg.h"
#include "vaccel/resource.h"
#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Call int fn_symbol(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
 * size_t nr_write) in `library`; its non-zero return is returned. */
int vaccel_exec(struct vaccel_session *sess, const char *library, const char *fn_symbol,
		struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write, size_t nr_write);

int vaccel_exec_with_resource(struct vaccel_session *sess, struct vaccel_resource *resource,
			      const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
			      struct vaccel_arg *write, size_t nr_write);

#ifdef __cplusplus
}
#endif
