/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TensorFlow Lite: tensors and model ops (upstream's types and dtype numbers).
 * Tensor helpers follow one pattern: _init / _new copy `dims` and leave data unset;
 * _allocate also allocates `total_size` zeroed bytes owned by the tensor; _set_data points
 * at the caller's data (not owned); _take_data hands the data, and its ownership, to the
 * caller; _release / _delete free dims and owned data. Buffers' _init / _new take
 * ownership of malloc'd data. The model ops run ONNX models through the onnx plugin.
 */
#pragma once

#include "vaccel/resource.h"
#include "vaccel/session.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vaccel_tflite_data_type {
	VACCEL_TFLITE_NOTYPE = 0,
	VACCEL_TFLITE_FLOAT32 = 1,
	VACCEL_TFLITE_INT32 = 2,
	VACCEL_TFLITE_UINT8 = 3,
	VACCEL_TFLITE_INT64 = 4,
	VACCEL_TFLITE_STRING = 5,
	VACCEL_TFLITE_BOOL = 6,
	VACCEL_TFLITE_INT16 = 7,
	VACCEL_TFLITE_COMPLEX64 = 8,
	VACCEL_TFLITE_INT8 = 9,
	VACCEL_TFLITE_FLOAT16 = 10,
	VACCEL_TFLITE_FLOAT64 = 11,
	VACCEL_TFLITE_COMPLEX128 = 12,
	VACCEL_TFLITE_UINT64 = 13,
	VACCEL_TFLITE_RESOURCE = 14,
	VACCEL_TFLITE_VARIANT = 15,
	VACCEL_TFLITE_UINT32 = 16,
	VACCEL_TFLITE_UINT16 = 17,
	VACCEL_TFLITE_INT4 = 18
};

struct vaccel_tflite_tensor {
	void *data;
	size_t size;
	bool owned;
	int nr_dims;
	int32_t *dims;
	enum vaccel_tflite_data_type data_type;
};

int vaccel_tflite_tensor_init(struct vaccel_tflite_tensor *tensor, int nr_dims,
			      const int32_t *dims, enum vaccel_tflite_data_type type);

int vaccel_tflite_tensor_release(struct vaccel_tflite_tensor *tensor);

int vaccel_tflite_tensor_new(struct vaccel_tflite_tensor **tensor, int nr_dims,
			     const int32_t *dims, enum vaccel_tflite_data_type type);

int vaccel_tflite_tensor_allocate(struct vaccel_tflite_tensor **tensor, int nr_dims,
				  const int32_t *dims, enum vaccel_tflite_data_type type,
				  size_t total_size);

int vaccel_tflite_tensor_delete(struct vaccel_tflite_tensor *tensor);

int vaccel_tflite_tensor_set_data(struct vaccel_tflite_tensor *tensor, void *data, size_t size);

int vaccel_tflite_tensor_take_data(struct vaccel_tflite_tensor *tensor, void **data,
				   size_t *size);

int vaccel_tflite_model_load(struct vaccel_session *sess, struct vaccel_resource *model);

int vaccel_tflite_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
			    struct vaccel_tflite_tensor *const *in_tensors, int nr_inputs,
			    struct vaccel_tflite_tensor **out_tensors, int nr_outputs,
			    uint8_t *status);

int vaccel_tflite_model_unload(struct vaccel_session *sess, struct vaccel_resource *model);

#ifdef __cplusplus
}
#endif
