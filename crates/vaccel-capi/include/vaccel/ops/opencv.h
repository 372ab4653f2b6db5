/* SPDX-License-Identifier: Apache-2.0 */
/* OpenCV: the op's args as the caller built them (no built-in plugin implements it: VACCEL_ENOTSUP). */
#pragma once

#include "vaccel/arg.h"
#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_opencv_unpack(struct vaccel_session *sess, struct vaccel_arg *read, int nr_read,
			 struct vaccel_arg *write, int nr_write);

#ifdef __cplusplus
}
#endif
