/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin type bits, also used as session hints (vaccel_session_init's flags). */
#pragma once

#include "vaccel/utils/enum.h"
#include <stdint.h>

#define VACCEL_PLUGIN_TYPES_(X, P) \
	X(P, CPU, 0x0001) \
	X(P, GPU, 0x0002) \
	X(P, FPGA, 0x0004) \
	X(P, SOFTWARE, 0x0008) \
	X(P, TENSORFLOW, 0x0010) \
	X(P, TORCH, 0x0020) \
	X(P, JETSON, 0x0040) \
	X(P, GENERIC, 0x0080) \
	X(P, DEBUG, 0x0100) \
	X(P, REMOTE, 0x4000) \
	X(P, ALL, 0xffff)
VACCEL_ENUM(vaccel_plugin_type, VACCEL_PLUGIN, 0x10000, VACCEL_PLUGIN_TYPES_)

/* No type bits (an extension; a session hint of 0 picks the highest-priority plugin). */
enum { VACCEL_PLUGIN_NONE = 0x0000 };
