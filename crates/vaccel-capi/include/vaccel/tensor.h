/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framework tensor types and model ops (Torch, TensorFlow, TFLite). The types and dtype
 * numbers are upstream's. The tensor helpers work; the model ops exist so programs
 * link, and return VACCEL_ENOTSUP until tensors are carried to a model-running plugin.
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

enum vaccel_tf_data_type {
	VACCEL_TF_FLOAT = 1,
	VACCEL_TF_DOUBLE = 2,
	VACCEL_TF_INT32 = 3,
	VACCEL_TF_UINT8 = 4,
	VACCEL_TF_INT16 = 5,
	VACCEL_TF_INT8 = 6,
	VACCEL_TF_STRING = 7,
	VACCEL_TF_COMPLEX64 = 8,
	VACCEL_TF_COMPLEX = 8,
	VACCEL_TF_INT64 = 9,
	VACCEL_TF_BOOL = 10,
	VACCEL_TF_QINT8 = 11,
	VACCEL_TF_QUINT8 = 12,
	VACCEL_TF_QINT32 = 13,
	VACCEL_TF_BFLOAT16 = 14,
	VACCEL_TF_QINT16 = 15,
	VACCEL_TF_QUINT16 = 16,
	VACCEL_TF_UINT16 = 17,
	VACCEL_TF_COMPLEX128 = 18,
	VACCEL_TF_HALF = 19,
	VACCEL_TF_RESOURCE = 20,
	VACCEL_TF_VARIANT = 21,
	VACCEL_TF_UINT32 = 22,
	VACCEL_TF_UINT64 = 23
};

struct vaccel_tf_tensor {
	void *data;
	size_t size;
	bool owned;
	int nr_dims;
	int64_t *dims;
	enum vaccel_tf_data_type data_type;
};

struct vaccel_tf_buffer {
	void *data;
	size_t size;
};

struct vaccel_tf_node {
	char *name;
	int id;
};

struct vaccel_tf_status {
	uint8_t code;
	char *message;
};

/*
 * Tensor helpers (same pattern for torch, tf and tflite): _init / _new copy `dims` and
 * leave data unset; _allocate also allocates `total_size` zeroed bytes owned by the
 * tensor; _set_data points at the caller's data (not owned); _take_data hands the data,
 * and its ownership, to the caller; _release / _delete free dims and owned data.
 */
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

int vaccel_tf_tensor_init(struct vaccel_tf_tensor *tensor, int nr_dims, const int64_t *dims,
			  enum vaccel_tf_data_type type);
int vaccel_tf_tensor_release(struct vaccel_tf_tensor *tensor);
int vaccel_tf_tensor_new(struct vaccel_tf_tensor **tensor, int nr_dims, const int64_t *dims,
			 enum vaccel_tf_data_type type);
int vaccel_tf_tensor_allocate(struct vaccel_tf_tensor **tensor, int nr_dims, const int64_t *dims,
			      enum vaccel_tf_data_type type, size_t total_size);
int vaccel_tf_tensor_delete(struct vaccel_tf_tensor *tensor);
int vaccel_tf_tensor_set_data(struct vaccel_tf_tensor *tensor, void *data, size_t size);
int vaccel_tf_tensor_take_data(struct vaccel_tf_tensor *tensor, void **data, size_t *size);

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

/* Buffers: _init / _new take ownership of malloc'd `data` (freed by _release / _delete);
 * _take_data gives it back. */
int vaccel_torch_buffer_init(struct vaccel_torch_buffer *buffer, char *data, size_t size);
int vaccel_torch_buffer_release(struct vaccel_torch_buffer *buffer);
int vaccel_torch_buffer_new(struct vaccel_torch_buffer **buffer, char *data, size_t size);
int vaccel_torch_buffer_delete(struct vaccel_torch_buffer *buffer);
int vaccel_torch_buffer_take_data(struct vaccel_torch_buffer *buffer, void **data, size_t *size);
int vaccel_tf_buffer_init(struct vaccel_tf_buffer *buffer, void *data, size_t size);
int vaccel_tf_buffer_release(struct vaccel_tf_buffer *buffer);
int vaccel_tf_buffer_new(struct vaccel_tf_buffer **buffer, void *data, size_t size);
int vaccel_tf_buffer_delete(struct vaccel_tf_buffer *buffer);
int vaccel_tf_buffer_take_data(struct vaccel_tf_buffer *buffer, void **data, size_t *size);

/* TF nodes and statuses copy their strings; _release frees them. */
int vaccel_tf_node_init(struct vaccel_tf_node *node, const char *name, int id);
int vaccel_tf_node_release(struct vaccel_tf_node *node);
int vaccel_tf_status_init(struct vaccel_tf_status *status, uint8_t code, const char *message);
int vaccel_tf_status_release(struct vaccel_tf_status *status);

int vaccel_torch_model_load(struct vaccel_session *sess, struct vaccel_resource *model);
int vaccel_torch_model_run(struct vaccel_session *sess, const struct vaccel_resource *model,
			   const struct vaccel_torch_buffer *run_options,
			   struct vaccel_torch_tensor *const *in_tensor, int nr_read,
			   struct vaccel_torch_tensor **out_tensor, int nr_write);

int vaccel_tflite_model_load(struct vaccel_session *sess, struct vaccel_resource *model);
int vaccel_tflite_model_run(struct vaccel_session *sess, const struct vaccel_resource *model,
			    struct vaccel_tflite_tensor *const *in_tensors, int nr_inputs,
			    struct vaccel_tflite_tensor **out_tensors, int nr_outputs,
			    uint8_t *status);
int vaccel_tflite_model_unload(struct vaccel_session *sess, struct vaccel_resource *model);

int vaccel_tf_model_load(struct vaccel_session *sess, struct vaccel_resource *model,
			 struct vaccel_tf_status *status);
int vaccel_tf_model_run(struct vaccel_session *sess, const struct vaccel_resource *model,
			const struct vaccel_tf_buffer *run_options,
			const struct vaccel_tf_node *in_nodes,
			struct vaccel_tf_tensor *const *in_tensors, int nr_inputs,
			const struct vaccel_tf_node *out_nodes,
			struct vaccel_tf_tensor **out_tensors, int nr_outputs,
			struct vaccel_tf_status *status);
int vaccel_tf_model_unload(struct vaccel_session *sess, struct vaccel_resource *model,
			   struct vaccel_tf_status *status);

#ifdef __cplusplus
}
#endif
