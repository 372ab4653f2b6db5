/* SPDX-License-Identifier: Apache-2.0 */
/* Operation ids (upstream vAccel 0.8 numbering; genop's read[0]). */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	VACCEL_OP_NOOP = 0,
	VACCEL_OP_EXEC = 1,
	VACCEL_OP_EXEC_WITH_RESOURCE = 2,
	VACCEL_OP_IMAGE_CLASSIFY = 3,
	VACCEL_OP_IMAGE_DETECT = 4,
	VACCEL_OP_IMAGE_SEGMENT = 5,
	VACCEL_OP_IMAGE_POSE = 6,
	VACCEL_OP_IMAGE_DEPTH = 7,
	VACCEL_OP_TF_MODEL_LOAD = 8,
	VACCEL_OP_TF_MODEL_UNLOAD = 9,
	VACCEL_OP_TF_MODEL_RUN = 10,
	VACCEL_OP_TFLITE_MODEL_LOAD = 11,
	VACCEL_OP_TFLITE_MODEL_UNLOAD = 12,
	VACCEL_OP_TFLITE_MODEL_RUN = 13,
	VACCEL_OP_TORCH_MODEL_LOAD = 14,
	VACCEL_OP_TORCH_MODEL_RUN = 15,
	VACCEL_OP_TORCH_SGEMM = 16,
	VACCEL_OP_BLAS_SGEMM = 17,
	VACCEL_OP_FPGA_ARRAYCOPY = 18,
	VACCEL_OP_FPGA_MMULT = 19,
	VACCEL_OP_FPGA_PARALLEL = 20,
	VACCEL_OP_FPGA_VECTORADD = 21,
	VACCEL_OP_MINMAX = 22,
	VACCEL_OP_OPENCV = 23,
	VACCEL_OP_MAX = 24
} vaccel_op_type_t;

/* Name of an op ("blas_sgemm"), or "unknown". The string is static. */
const char *vaccel_op_type_to_str(vaccel_op_type_t op);

#ifdef __cplusplus
}
#endif
