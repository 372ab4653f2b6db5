/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin type bits, also used as session hints (vaccel_session_init's flags). */
#pragma once

#include <stdint.h>

typedef enum {
	VACCEL_PLUGIN_NONE = 0x0000,
	VACCEL_PLUGIN_CPU = 0x0001,
	VACCEL_PLUGIN_GPU = 0x0002,
	VACCEL_PLUGIN_FPGA = 0x0004,
	VACCEL_PLUGIN_SOFTWARE = 0x0008,
	VACCEL_PLUGIN_TENSORFLOW = 0x0010,
	VACCEL_PLUGIN_TORCH = 0x0020,
	VACCEL_PLUGIN_JETSON = 0x0040,
	VACCEL_PLUGIN_GENERIC = 0x0080,
	VACCEL_PLUGIN_DEBUG = 0x0100,
	VACCEL_PLUGIN_REMOTE = 0x4000,
	VACCEL_PLUGIN_ALL = 0xffff
} vaccel_plugin_type_t;
