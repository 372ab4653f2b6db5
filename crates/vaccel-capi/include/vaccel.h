/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vaccel.h — the vAccel C API (umbrella header).
 *
 * Source-compatible with upstream vAccel 0.8: programs written for it compile against
 * these headers and link against this libvaccel (`pkg-config --cflags --libs vaccel`).
 *
 * The library initialises itself on first use, loading the plugins named in
 * VACCEL_PLUGINS (built-in plugins need no configuration). vaccel_bootstrap() and
 * vaccel_cleanup() give explicit control.
 *
 * Thread safety: every function may be called from any thread. A session may be used by
 * several threads at once (ops run concurrently); creating, releasing and registering
 * are internally locked. A `struct vaccel_arg_array` is NOT thread-safe: one thread per
 * array. A `struct vaccel_prof_region` is NOT thread-safe: one thread per region.
 */
#pragma once

/* The upstream vAccel API version this library implements (what `pkg-config --modversion
 * vaccel` reports); upstream plugins put it in their descriptor's vaccel_version. */
#define VACCEL_VERSION "0.8.0"

#include "vaccel/error.h"
#include "vaccel/plugin.h"
#include "vaccel/op.h"
#include "vaccel/arg.h"
#include "vaccel/session.h"
#include "vaccel/resource.h"
#include "vaccel/prof.h"
#include "vaccel/log.h"
#include "vaccel/core.h"
#include "vaccel/ops.h"
#include "vaccel/tensor.h"
