/* SPDX-License-Identifier: Apache-2.0 */
/* The generic op: read[0] is the op type; the rest are its args (layouts: docs/C-API.md). */
#pragma once

#include "vaccel/arg.h"
#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* read[0] is the op type (uint8); the rest are that op's args. */
int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read, int nr_read,
		 struct vaccel_arg *write, int nr_write);

#ifdef __cplusplus
}
#endif
