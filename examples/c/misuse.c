/* misuse: what a buggy program does — stale, forged, NULL and double-released handles —
 * must come back as error codes, never crash the process. */
#include <stdio.h>
#include <string.h>
#include <vaccel.h>

static const char *name(int code)
{
	switch (code) {
	case VACCEL_OK: return "VACCEL_OK";
	case VACCEL_EINVAL: return "VACCEL_EINVAL";
	case VACCEL_ENOENT: return "VACCEL_ENOENT";
	case VACCEL_EBUSY: return "VACCEL_EBUSY";
	case VACCEL_EEXIST: return "VACCEL_EEXIST";
	case VACCEL_ENOTSUP: return "VACCEL_ENOTSUP";
	default: return "other";
	}
}

int main(void)
{
	struct vaccel_session forged = { .id = 987654 };
	struct vaccel_session sess, *heap = NULL;
	struct vaccel_resource res = { .id = 0 }, forged_res = { .id = 424242 };
	char blob[] = "data";
	float m[4] = { 0 }, v[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[8];
	int ia[4] = { 1, 2, 3, 4 };

	printf("noop on forged session: %s\n", name(vaccel_noop(&forged)));
	printf("release forged session: %s\n", name(vaccel_session_release(&forged)));
	printf("delete forged session: %s\n", name(vaccel_session_delete(&forged)));
	printf("NULL session init: %s\n", name(vaccel_session_init(NULL, 0)));
	printf("NULL resource path: %s\n", name(vaccel_resource_init(&res, NULL, VACCEL_RESOURCE_DATA)));
	printf("missing resource file: %s\n", name(vaccel_resource_init(&res, "/nonexistent/file", VACCEL_RESOURCE_DATA)));
	printf("bad resource type: %s\n", name(vaccel_resource_init_from_buf(&res, blob, sizeof(blob), 7, "b", false)));
	printf("register forged resource: %s\n", name(vaccel_resource_register(&forged_res, &forged)));
	printf("negative sgemm dims: %s\n", name(vaccel_sgemm(&forged, -1, 2, 2, 1, m, 2, m, 2, 0, m, 2)));

	if (vaccel_session_new(&heap, 0) || vaccel_session_init(&sess, 0))
		return 1;
	if (vaccel_resource_init_from_buf(&res, blob, sizeof(blob), VACCEL_RESOURCE_DATA, "b", false))
		return 1;
	printf("register: %s\n", name(vaccel_resource_register(&res, &sess)));
	printf("register again: %s\n", name(vaccel_resource_register(&res, &sess)));
	printf("unregister from other session: %s\n", name(vaccel_resource_unregister(&res, heap)));
	printf("sgemm with NULL matrices: %s\n", name(vaccel_sgemm(&sess, 2, 2, 2, 1, NULL, 2, NULL, 2, 0, NULL, 2)));
	printf("classify a non-image: %s\n", name(vaccel_image_classification(&sess, blob, NULL, NULL, sizeof(blob), 0, 0)));
	printf("fpga vadd, no plugin for it: %s\n", name(vaccel_fpga_vadd(&sess, v, v + 4, out, 4, 4)));
	printf("fpga parallel, overlapping outputs: %s\n",
	       name(vaccel_fpga_parallel(&sess, v, v + 4, out, out + 2, 4)));
	printf("fpga arraycopy, NULL output: %s\n", name(vaccel_fpga_arraycopy(&sess, ia, NULL, 4)));
	printf("fpga mmult, misaligned: %s\n",
	       name(vaccel_fpga_mmult(&sess, (float *)((char *)v + 1), v, out, 2)));
	printf("opencv, no plugin for it: %s\n", name(vaccel_opencv_unpack(&sess, NULL, 0, NULL, 0)));
	{
		int64_t d[1] = { 4 };
		struct vaccel_torch_tensor *t = NULL, *o = NULL;
		vaccel_torch_tensor_new(&t, 1, d, VACCEL_TORCH_FLOAT);
		vaccel_torch_tensor_set_data(t, v, 4 * sizeof(float));
		printf("torch_sgemm, no plugin for it: %s\n", name(vaccel_torch_sgemm(&sess, &t, &t, &t, 2, 2, 2, &o)));
		printf("torch_sgemm, NULL operand: %s\n", name(vaccel_torch_sgemm(&sess, &t, NULL, &t, 2, 2, 2, &o)));
		vaccel_torch_tensor_delete(t);
	}
	printf("genop with negative count: %s\n", name(vaccel_genop(&sess, NULL, -1, NULL, 0)));
	printf("genop with NULL args: %s\n", name(vaccel_genop(&sess, NULL, 2, NULL, 0)));
	printf("release session holding a resource: %s\n", name(vaccel_session_release(&sess)));
	printf("resource now free: %s\n", name(vaccel_resource_release(&res)));
	printf("noop on released session: %s\n", name(vaccel_noop(&sess)));
	printf("delete heap session: %s\n", name(vaccel_session_delete(heap)));
	int cleaned = vaccel_cleanup();
	printf("cleanup: %s, initialized after: %s\n", name(cleaned), vaccel_is_initialized() ? "yes" : "no");
	printf("bootstrap again: %s\n", name(vaccel_bootstrap()));
	return 0;
}
