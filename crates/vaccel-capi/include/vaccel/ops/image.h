/* SPDX-License-Identifier: Apache-2.0 */
/* Image ops: encoded image in, names and text out (NUL-terminated, truncated to the length given). */
#pragma once

#include "vaccel/session.h"
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
