/* SPDX-License-Identifier: Apache-2.0 */
/* Noop: checks that dispatch works. */
#pragma once

#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_noop(struct vaccel_session *sess);

#ifdef __cplusplus
}
#endif
