/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PyTorch: tensors, buffers and model ops (upstream's types and dtype numbers).
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

enum vaccel_torch_data_type {
	VACCEL_TORCH_BYTE = 1,
	VACCEL_TORCH_CHAR = 2,
	VACCEL_TORCH_SHORT = 3,
	VACCEL_TORCH_INT = 4,
	VACCEL_TORCH_LONG = 5,
	VACCEL_TORCH_HALF = 6,
	VACCEL_TORCH_FLOAT = 7
};

struct vaccel_torch_tensor {
	void *data;
	size_t size;
	bool owned;
	int64_t nr_dims;
	int64_t *dims;
	enum vaccel_torch_data_type data_type;
};

struct vaccel_torch_buffer {
	char *data;
	size_t size;
};

int vaccel_torch_tensor_init(struct vaccel_torch_tensor *tensor, int64_t nr_dims,
			     const int64_t *dims, enum vaccel_torch_data_type type);

int vaccel_torch_tensor_release(struct vaccel_torch_tensor *tensor);

int vaccel_torch_tensor_new(struct vaccel_torch_tensor **tensor, int64_t nr_dims,
			    const int64_t *dims, enum vaccel_torch_data_type type);

int vaccel_torch_tensor_allocate(struct vaccel_torch_tensor **tensor, int64_t nr_dims,
				 const int64_t *dims, enum vaccel_torch_data_type type,
				 size_t total_size);

int vaccel_torch_tensor_delete(struct vaccel_torch_tensor *tensor);

int vaccel_torch_tensor_set_data(struct vaccel_torch_tensor *tensor, void *data, size_t size);

int vaccel_torch_tensor_take_data(struct vaccel_torch_tensor *tensor, void **data, size_t *size);

/* Buffers: _init / _new take ownership of malloc'd `data` (freed by _release / _delete);
 * _take_data gives it back. */
int vaccel_torch_buffer_init(struct vaccel_torch_buffer *buffer, char *data, size_t size);

int vaccel_torch_buffer_release(struct vaccel_torch_buffer *buffer);

int vaccel_torch_buffer_new(struct vaccel_torch_buffer **buffer, char *data, size_t size);

int vaccel_torch_buffer_delete(struct vaccel_torch_buffer *buffer);

int vaccel_torch_buffer_take_data(struct vaccel_torch_buffer *buffer, void **data, size_t *size);

int vaccel_torch_model_load(struct vaccel_session *sess, struct vaccel_resource *model);

int vaccel_torch_model_run(struct vaccel_session *sess, struct vaccel_resource *model,
			   const struct vaccel_torch_buffer *run_options,
			   struct vaccel_torch_tensor *const *in_tensor, int nr_read,
			   struct vaccel_torch_tensor **out_tensor, int nr_write);

/* Upstream's Torch matrix product over tensors: *out receives a new tensor (delete it
 * with vaccel_torch_tensor_delete). Served by plugins that implement it (upstream Torch
 * plugins); VACCEL_ENOTSUP otherwise. */
int vaccel_torch_sgemm(struct vaccel_session *sess, struct vaccel_torch_tensor **in_A,
		       struct vaccel_torch_tensor **in_B, struct vaccel_torch_tensor **in_C, int M,
		       int N, int K, struct vaccel_torch_tensor **out);

#ifdef __cplusplus
}
#endif
