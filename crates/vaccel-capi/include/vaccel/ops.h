/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operations. Each takes the session first and returns a VACCEL_* code. An op that no
 * loaded plugin implements returns VACCEL_ENOTSUP. Output strings are NUL-terminated and
 * truncated to the given length. Arg layouts of genop: see docs/C-API.md.
 */
#pragma once

#include "vaccel/arg.h"
#include "vaccel/resource.h"
#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int vaccel_noop(struct vaccel_session *sess);

/* read[0] is the op type (uint8); the rest are that op's args. */
int vaccel_genop(struct vaccel_session *sess, struct vaccel_arg *read, int nr_read,
		 struct vaccel_arg *write, int nr_write);

/* Call int fn_symbol(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
 * size_t nr_write) in `library`; its non-zero return is returned. */
int vaccel_exec(struct vaccel_session *sess, const char *library, const char *fn_symbol,
		struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write, size_t nr_write);
int vaccel_exec_with_resource(struct vaccel_session *sess, struct vaccel_resource *resource,
			      const char *fn_symbol, struct vaccel_arg *read, size_t nr_read,
			      struct vaccel_arg *write, size_t nr_write);

int vaccel_image_classification(struct vaccel_session *sess, const void *img,
				unsigned char *out_text, unsigned char *out_imgname,
				size_t len_img, size_t len_out_text, size_t len_out_imgname);
int vaccel_image_detection(struct vaccel_session *sess, const void *img,
			   unsigned char *out_imgname, size_t len_img, size_t len_out_imgname);
int vaccel_image_segmentation(struct vaccel_session *sess, const void *img,
			      unsigned char *out_imgname, size_t len_img, size_t len_out_imgname);
int vaccel_image_pose(struct vaccel_session *sess, const void *img, unsigned char *out_imgname,
		      size_t len_img, size_t len_out_imgname);
int vaccel_image_depth(struct vaccel_session *sess, const void *img, unsigned char *out_imgname,
		       size_t len_img, size_t len_out_imgname);

/* Row-major C = alpha * A(m x k) * B(k x n) + beta * C(m x n). */
int vaccel_sgemm(struct vaccel_session *sess, int64_t m, int64_t n, int64_t k, float alpha,
		 float *a, int64_t lda, float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Deprecated upstream; kept for source compatibility. */
int vaccel_minmax(struct vaccel_session *sess, const double *indata, int ndata,
		  int low_threshold, int high_threshold, double *outdata, double *min,
		  double *max);
int vaccel_fpga_arraycopy(struct vaccel_session *sess, int a[], int out_a[], size_t len_a);
int vaccel_fpga_mmult(struct vaccel_session *sess, float a[], float b[], float c[],
		      size_t len_a);
int vaccel_fpga_parallel(struct vaccel_session *sess, float a[], float b[], float add_output[],
			 float mult_output[], size_t len_a);
int vaccel_fpga_vadd(struct vaccel_session *sess, float a[], float b[], float c[], size_t len_a,
		     size_t len_b);

#ifdef __cplusplus
}
#endif
