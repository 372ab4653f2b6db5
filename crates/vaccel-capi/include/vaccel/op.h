/* SPDX-License-Identifier: Apache-2.0 */
/* Operation ids (upstream vAccel 0.8 numbering; genop's read[0]). */
#pragma once

#include "vaccel/utils/enum.h"
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

#define VACCEL_OP_TYPES_(X, P) \
	X(P, NOOP, 0) \
	X(P, EXEC, 1) \
	X(P, EXEC_WITH_RESOURCE, 2) \
	X(P, IMAGE_CLASSIFY, 3) \
	X(P, IMAGE_DETECT, 4) \
	X(P, IMAGE_SEGMENT, 5) \
	X(P, IMAGE_POSE, 6) \
	X(P, IMAGE_DEPTH, 7) \
	X(P, TF_MODEL_LOAD, 8) \
	X(P, TF_MODEL_UNLOAD, 9) \
	X(P, TF_MODEL_RUN, 10) \
	X(P, TFLITE_MODEL_LOAD, 11) \
	X(P, TFLITE_MODEL_UNLOAD, 12) \
	X(P, TFLITE_MODEL_RUN, 13) \
	X(P, TORCH_MODEL_LOAD, 14) \
	X(P, TORCH_MODEL_RUN, 15) \
	X(P, TORCH_SGEMM, 16) \
	X(P, BLAS_SGEMM, 17) \
	X(P, FPGA_ARRAYCOPY, 18) \
	X(P, FPGA_MMULT, 19) \
	X(P, FPGA_PARALLEL, 20) \
	X(P, FPGA_VECTORADD, 21) \
	X(P, MINMAX, 22) \
	X(P, OPENCV, 23)
VACCEL_ENUM(vaccel_op_type, VACCEL_OP, 24, VACCEL_OP_TYPES_)

/* The op's name in lower case ("blas_sgemm") written into `lower`. */
static inline char *vaccel_op_type_to_lower(vaccel_op_type_t op_type, char *lower, size_t size)
{
	vaccel_str_to_lower(vaccel_op_type_to_base_str(op_type), lower, size, NULL);
	return lower;
}

struct vaccel_plugin;

/* One op a plugin implements (upstream's plugin ABI): its type, the function with the
 * op's upstream signature, and the plugin it belongs to. */
struct vaccel_op {
	vaccel_op_type_t type;
	void *func;
	struct vaccel_plugin *owner;
};

/* The plugin defined by VACCEL_PLUGIN(...) in the plugin being built. */
extern struct vaccel_plugin vaccel_this_plugin;
#define VACCEL_OP_INIT(name, type, func) \
	{ (type), (void *)(func), (&vaccel_this_plugin) }

#ifdef __cplusplus
}
#endif
