/* SPDX-License-Identifier: Apache-2.0 */
/* Min/max (deprecated upstream; kept for source compatibility). */
#pragma once

#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deprecated upstream; kept for source compatibility. */
int vaccel_minmax(struct vaccel_session *sess, const double *indata, int ndata,
		  int low_threshold, int high_threshold, double *outdata, double *min,
		  double *max);

#ifdef __cplusplus
}
#endif
