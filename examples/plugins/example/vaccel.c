// SPDX-License-Identifier: Apache-2.0
/*
 * An example plugin written the way upstream vAccel's plugin authors write theirs: only
 * the public header, VACCEL_PLUGIN(...), VACCEL_OP_INIT, vaccel_plugin_register_ops,
 * the log macros, and the session's and resources' structs. Built as upstream builds
 * plugins:
 *
 *   cc -shared -fPIC $(pkg-config --cflags vaccel) vaccel.c -o libvaccel-example.so \
 *      $(pkg-config --libs vaccel)
 *
 * and loaded with VACCEL_PLUGINS=/path/to/libvaccel-example.so (or vaccel_plugin_load()).
 * Its ops compute real results (plain loops), so a test can check every byte:
 *
 *   noop               logs the session id
 *   exec               write[0] (int) = 3 * read[0] (int); symbol "fail" → VACCEL_EBACKEND
 *   exec_with_resource write[0] (int) = number of the resource's blobs, each checked
 *   image_classify     "example: <n> bytes, fnv1a <hex>" and the image name "example.out"
 *   blas_sgemm         C = alpha·A·B + beta·C (row-major, leading dimensions honoured)
 *   minmax             min and max of the data; outdata = data clamped to [low, high]
 *   fpga_vectoradd     c[i] = a[i] + b[i]
 *   torch_model_load   checks the model resource has data
 *   torch_model_run    one float output tensor: 2 * the first input, same dims
 *   tflite_model_run   the same for TFLite tensors (status 0)
 *   torch_sgemm        *out = A·B + C for float tensors A (M×K), B (K×N), C (M×N)
 *   tf_model_run       y = (in_nodes[0].id + 1) * x, read from the output node named
 *                      "out"; another name fails with a status message naming it
 *
 * Build switches for the loader's tests: EXAMPLE_VACCEL_VERSION (the vAccel version it
 * claims to be built with), EXAMPLE_INIT_FAILS (its init() fails), EXAMPLE_BAD_OP (it
 * registers an op with an out-of-range type).
 */

#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <vaccel.h>

#ifndef EXAMPLE_VACCEL_VERSION
#define EXAMPLE_VACCEL_VERSION VACCEL_VERSION
#endif

#define ex_info(fmt, ...) vaccel_info("[example] " fmt, ##__VA_ARGS__)
#define ex_error(fmt, ...) vaccel_error("[example] " fmt, ##__VA_ARGS__)

static int registrations;

static int example_noop(struct vaccel_session *sess)
{
	ex_info("noop for session %" PRId64, sess->id);
	return VACCEL_OK;
}

static int example_exec(struct vaccel_session *sess, const char *library,
			const char *fn_symbol, struct vaccel_arg *read,
			size_t nr_read, struct vaccel_arg *write, size_t nr_write)
{
	(void)sess;
	if (!library || !fn_symbol)
		return VACCEL_EINVAL;
	if (strcmp(fn_symbol, "fail") == 0) {
		ex_error("exec: asked to fail");
		return VACCEL_EBACKEND;
	}
	if (nr_read < 1 || nr_write < 1 || read[0].size != sizeof(int) ||
	    write[0].size != sizeof(int))
		return VACCEL_EINVAL;
	*(int *)write[0].buf = 3 * *(int *)read[0].buf;
	return VACCEL_OK;
}

static int example_exec_with_resource(struct vaccel_session *sess,
				      struct vaccel_resource *res,
				      const char *fn_symbol, struct vaccel_arg *read,
				      size_t nr_read, struct vaccel_arg *write,
				      size_t nr_write)
{
	(void)sess;
	(void)read;
	(void)nr_read;
	if (!res || !fn_symbol || nr_write < 1 || write[0].size != sizeof(int))
		return VACCEL_EINVAL;
	for (size_t i = 0; i < res->nr_blobs; i++) {
		if (!res->blobs[i]->path || res->blobs[i]->size == 0) {
			ex_error("blob %zu has no path or no data", i);
			return VACCEL_EINVAL;
		}
	}
	ex_info("exec_with_resource: main library %s",
		res->blobs[res->nr_blobs - 1]->path);
	*(int *)write[0].buf = (int)res->nr_blobs;
	return VACCEL_OK;
}

static int example_classify(struct vaccel_session *sess, const void *img,
			    unsigned char *out_text, unsigned char *out_imgname,
			    size_t len_img, size_t len_out_text,
			    size_t len_out_imgname)
{
	(void)sess;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len_img; i++)
		h = (h ^ ((const unsigned char *)img)[i]) * 16777619u;
	if (out_text)
		snprintf((char *)out_text, len_out_text,
			 "example: %zu bytes, fnv1a %08" PRIx32, len_img, h);
	if (out_imgname)
		snprintf((char *)out_imgname, len_out_imgname, "example.out");
	return VACCEL_OK;
}

static int example_sgemm(struct vaccel_session *sess, int64_t m, int64_t n,
			 int64_t k, float alpha, float *a, int64_t lda, float *b,
			 int64_t ldb, float beta, float *c, int64_t ldc)
{
	(void)sess;
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			float acc = 0;
			for (int64_t p = 0; p < k; p++)
				acc += a[i * lda + p] * b[p * ldb + j];
			c[i * ldc + j] = alpha * acc + beta * c[i * ldc + j];
		}
	return VACCEL_OK;
}

static int example_minmax(struct vaccel_session *sess, const double *indata,
			  int ndata, int low_threshold, int high_threshold,
			  double *outdata, double *min, double *max)
{
	(void)sess;
	if (ndata < 1)
		return VACCEL_EINVAL;
	*min = *max = indata[0];
	for (int i = 0; i < ndata; i++) {
		double v = indata[i];
		if (v < *min)
			*min = v;
		if (v > *max)
			*max = v;
		outdata[i] = v < low_threshold	? low_threshold :
			     v > high_threshold ? high_threshold :
						  v;
	}
	return VACCEL_OK;
}

static int example_vadd(struct vaccel_session *sess, float a[], float b[],
			float c[], size_t len_a, size_t len_b)
{
	(void)sess;
	size_t n = len_a < len_b ? len_a : len_b;
	for (size_t i = 0; i < n; i++)
		c[i] = a[i] + b[i];
	return VACCEL_OK;
}

static int example_torch_load(struct vaccel_session *sess,
			      struct vaccel_resource *model)
{
	(void)sess;
	if (!model || model->nr_blobs < 1 || model->blobs[0]->size == 0)
		return VACCEL_EINVAL;
	ex_info("torch model %s: %zu bytes", model->blobs[0]->name,
		model->blobs[0]->size);
	return VACCEL_OK;
}

/* y = 2 * x over `size` bytes of floats: the example "model". */
static void double_floats(const float *x, float *y, size_t size)
{
	for (size_t i = 0; i < size / sizeof(float); i++)
		y[i] = 2 * x[i];
}

static int example_torch_run(struct vaccel_session *sess,
			     struct vaccel_resource *model,
			     const struct vaccel_torch_buffer *run_options,
			     struct vaccel_torch_tensor *const *inputs,
			     int nr_inputs, struct vaccel_torch_tensor **outputs,
			     int nr_outputs)
{
	(void)sess;
	(void)run_options;
	if (!model || nr_inputs < 1 || nr_outputs < 1 ||
	    inputs[0]->data_type != VACCEL_TORCH_FLOAT)
		return VACCEL_EINVAL;
	const struct vaccel_torch_tensor *in = inputs[0];
	int ret = vaccel_torch_tensor_allocate(&outputs[0], in->nr_dims, in->dims,
					       VACCEL_TORCH_FLOAT, in->size);
	if (ret)
		return ret;
	double_floats(in->data, outputs[0]->data, in->size);
	return VACCEL_OK;
}

static int example_tflite_run(struct vaccel_session *sess,
			      struct vaccel_resource *model,
			      struct vaccel_tflite_tensor *const *inputs,
			      int nr_inputs, struct vaccel_tflite_tensor **outputs,
			      int nr_outputs, uint8_t *status)
{
	(void)sess;
	if (!model || nr_inputs < 1 || nr_outputs < 1 ||
	    inputs[0]->data_type != VACCEL_TFLITE_FLOAT32)
		return VACCEL_EINVAL;
	const struct vaccel_tflite_tensor *in = inputs[0];
	int ret = vaccel_tflite_tensor_allocate(&outputs[0], in->nr_dims, in->dims,
						VACCEL_TFLITE_FLOAT32, in->size);
	if (ret)
		return ret;
	double_floats(in->data, outputs[0]->data, in->size);
	*status = 0;
	return VACCEL_OK;
}

static int example_tf_run(struct vaccel_session *sess,
			  struct vaccel_resource *model,
			  const struct vaccel_tf_buffer *run_options,
			  const struct vaccel_tf_node *in_nodes,
			  struct vaccel_tf_tensor *const *inputs, int nr_inputs,
			  const struct vaccel_tf_node *out_nodes,
			  struct vaccel_tf_tensor **outputs, int nr_outputs,
			  struct vaccel_tf_status *status)
{
	(void)sess;
	(void)run_options;
	if (!model || nr_inputs < 1 || nr_outputs < 1 ||
	    inputs[0]->data_type != VACCEL_TF_FLOAT)
		return VACCEL_EINVAL;
	if (strcmp(out_nodes[0].name, "out") != 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "no output node named %s",
			 out_nodes[0].name);
		vaccel_tf_status_init(status, 3, msg);
		return VACCEL_EINVAL;
	}
	const struct vaccel_tf_tensor *in = inputs[0];
	int ret = vaccel_tf_tensor_allocate(&outputs[0], in->nr_dims, in->dims,
					    VACCEL_TF_FLOAT, in->size);
	if (ret)
		return ret;
	const float *x = in->data;
	float *y = outputs[0]->data;
	for (size_t i = 0; i < in->size / sizeof(float); i++)
		y[i] = (float)(in_nodes[0].id + 1) * x[i];
	return VACCEL_OK;
}

static int example_torch_sgemm(struct vaccel_session *sess,
			       struct vaccel_torch_tensor **in_A,
			       struct vaccel_torch_tensor **in_B,
			       struct vaccel_torch_tensor **in_C, int M, int N, int K,
			       struct vaccel_torch_tensor **out)
{
	(void)sess;
	const struct vaccel_torch_tensor *a = *in_A, *b = *in_B, *c = *in_C;
	if (M < 1 || N < 1 || K < 1 ||
	    a->size != (size_t)M * K * sizeof(float) ||
	    b->size != (size_t)K * N * sizeof(float) ||
	    c->size != (size_t)M * N * sizeof(float))
		return VACCEL_EINVAL;
	int64_t dims[2] = { M, N };
	int ret = vaccel_torch_tensor_allocate(out, 2, dims, VACCEL_TORCH_FLOAT,
					       c->size);
	if (ret)
		return ret;
	const float *x = a->data, *y = b->data, *z = c->data;
	float *o = (*out)->data;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float acc = z[i * N + j];
			for (int p = 0; p < K; p++)
				acc += x[i * K + p] * y[p * N + j];
			o[i * N + j] = acc;
		}
	return VACCEL_OK;
}

static int example_resource_register(struct vaccel_resource *res,
				     struct vaccel_session *sess)
{
	registrations++;
	ex_info("resource %" PRId64 " registered with session %" PRId64
		" (%d so far)",
		res->id, sess->id, registrations);
	return VACCEL_OK;
}

static struct vaccel_op ops[] = {
	VACCEL_OP_INIT(ops[0], VACCEL_OP_NOOP, example_noop),
	VACCEL_OP_INIT(ops[1], VACCEL_OP_EXEC, example_exec),
	VACCEL_OP_INIT(ops[2], VACCEL_OP_EXEC_WITH_RESOURCE,
		       example_exec_with_resource),
	VACCEL_OP_INIT(ops[3], VACCEL_OP_IMAGE_CLASSIFY, example_classify),
	VACCEL_OP_INIT(ops[4], VACCEL_OP_BLAS_SGEMM, example_sgemm),
	VACCEL_OP_INIT(ops[5], VACCEL_OP_MINMAX, example_minmax),
	VACCEL_OP_INIT(ops[6], VACCEL_OP_FPGA_VECTORADD, example_vadd),
	VACCEL_OP_INIT(ops[7], VACCEL_OP_TORCH_MODEL_LOAD, example_torch_load),
	VACCEL_OP_INIT(ops[8], VACCEL_OP_TORCH_MODEL_RUN, example_torch_run),
	VACCEL_OP_INIT(ops[9], VACCEL_OP_TFLITE_MODEL_RUN, example_tflite_run),
	VACCEL_OP_INIT(ops[10], VACCEL_OP_TORCH_SGEMM, example_torch_sgemm),
	VACCEL_OP_INIT(ops[11], VACCEL_OP_TF_MODEL_RUN, example_tf_run),
};

static int init(void)
{
#ifdef EXAMPLE_INIT_FAILS
	ex_error("init: failing, as built to");
	return VACCEL_EBACKEND;
#endif
#ifdef EXAMPLE_BAD_OP
	ops[6].type = (vaccel_op_type_t)77;
#endif
	int ret = vaccel_plugin_register_ops(ops, sizeof(ops) / sizeof(ops[0]));
	if (ret == VACCEL_OK)
		ex_info("init: %zu ops registered", sizeof(ops) / sizeof(ops[0]));
	return ret;
}

static int fini(void)
{
	ex_info("fini after %d resource registration(s)", registrations);
	return VACCEL_OK;
}

VACCEL_PLUGIN(.name = "example", .version = "1.0.0",
	      .vaccel_version = EXAMPLE_VACCEL_VERSION,
	      .type = VACCEL_PLUGIN_CPU | VACCEL_PLUGIN_FPGA, .init = init,
	      .fini = fini, .resource_register = example_resource_register)
