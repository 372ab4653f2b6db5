/*
 * A program served by a plugin written for upstream's plugin ABI
 * (examples/plugins/example): every op it registers, checked against results computed
 * here; an op it lacks; its errors; its hooks; registering ops outside a plugin's init.
 *
 * Usage: upstream_plugin <libmytestlib.so> [load <plugin.so>]
 *   With "load", the plugin is loaded with vaccel_plugin_load() (else VACCEL_PLUGINS
 *   names it) and the session asks for it by type (VACCEL_PLUGIN_FPGA).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <vaccel.h>

static const char *yes(int c)
{
	return c ? "yes" : "no";
}

static const char *code(int ret)
{
	switch (ret) {
	case VACCEL_OK: return "VACCEL_OK";
	case VACCEL_EINVAL: return "VACCEL_EINVAL";
	case VACCEL_ENOENT: return "VACCEL_ENOENT";
	case VACCEL_EEXIST: return "VACCEL_EEXIST";
	case VACCEL_ENOTSUP: return "VACCEL_ENOTSUP";
	case VACCEL_EBACKEND: return "VACCEL_EBACKEND";
	default: return "other";
	}
}

static int example_ops(void)
{
	struct vaccel_op op = { VACCEL_OP_NOOP, (void *)example_ops, NULL };
	return vaccel_plugin_register_ops(&op, 1);
}

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	uint32_t hint = 0;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s <libmytestlib.so> [load <plugin.so>]\n", argv[0]);
		return 1;
	}
	if (argc > 3 && strcmp(argv[2], "load") == 0) {
		ret = vaccel_plugin_load(argv[3]);
		printf("vaccel_plugin_load: %s\n", code(ret));
		if (ret)
			return 1;
		printf("loading it again: %s\n", code(vaccel_plugin_load(argv[3])));
		printf("parse_and_load of a missing file: %s, of an empty list: %s\n",
		       code(vaccel_plugin_parse_and_load("/nonexistent/libvaccel-none.so")),
		       code(vaccel_plugin_parse_and_load("::")));
		hint = VACCEL_PLUGIN_FPGA;
	}
	ret = vaccel_session_init(&sess, hint);
	if (ret) {
		fprintf(stderr, "session: %d (%s)\n", ret, vaccel_last_error());
		return 1;
	}

	printf("noop: %s\n", code(vaccel_noop(&sess)));

	/* classify: the plugin's text and image name, its checksum computed here too. */
	const unsigned char img[] = "not really an image, but the plugin only hashes it";
	unsigned char text[128] = { 0 }, name[64] = { 0 };
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(img); i++)
		h = (h ^ img[i]) * 16777619u;
	char want[128];
	snprintf(want, sizeof(want), "example: %zu bytes, fnv1a %08" PRIx32, sizeof(img), h);
	ret = vaccel_image_classification(&sess, img, text, name, sizeof(img), sizeof(text),
					  sizeof(name));
	printf("classify: %s, text as computed: %s, image name: %s\n", code(ret),
	       yes(strcmp((char *)text, want) == 0), (char *)name);

	/* sgemm with leading dimensions wider than the matrices. */
	enum { M = 3, N = 4, K = 5, LDA = 6, LDB = 5, LDC = 7 };
	float a[M * LDA], b[K * LDB], c[M * LDC], ref[M * LDC];
	for (int i = 0; i < M * LDA; i++)
		a[i] = (float)(i % 7) - 2.5f;
	for (int i = 0; i < K * LDB; i++)
		b[i] = (float)(i % 5) * 0.5f;
	for (int i = 0; i < M * LDC; i++)
		c[i] = ref[i] = (float)i;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float acc = 0;
			for (int p = 0; p < K; p++)
				acc += a[i * LDA + p] * b[p * LDB + j];
			ref[i * LDC + j] = 2.0f * acc + 0.5f * ref[i * LDC + j];
		}
	ret = vaccel_sgemm(&sess, M, N, K, 2.0f, a, LDA, b, LDB, 0.5f, c, LDC);
	int same = 1;
	for (int i = 0; i < M * LDC; i++)
		same &= c[i] - ref[i] < 1e-4f && ref[i] - c[i] < 1e-4f;
	printf("sgemm: %s, C as computed: %s\n", code(ret), yes(same));

	/* minmax */
	double in[6] = { 4, -3, 10, 7, 0.5, 12 }, out[6], mn = 0, mx = 0;
	ret = vaccel_minmax(&sess, in, 6, 0, 9, out, &mn, &mx);
	printf("minmax: %s, min %.1f max %.1f, clamped: %s\n", code(ret), mn, mx,
	       yes(out[1] == 0 && out[2] == 9 && out[4] == 0.5 && out[5] == 9));

	/* fpga vadd */
	float va[4] = { 1, 2, 3, 4 }, vb[4] = { 10, 20, 30, 40 }, vc[4] = { 0 };
	ret = vaccel_fpga_vadd(&sess, va, vb, vc, 4, 4);
	printf("fpga_vadd: %s, sums: %s\n", code(ret),
	       yes(vc[0] == 11 && vc[1] == 22 && vc[2] == 33 && vc[3] == 44));

	/* An op it does not register and no other plugin has. */
	float mc[4];
	printf("fpga_mmult, not registered: %s\n", code(vaccel_fpga_mmult(&sess, va, vb, mc, 4)));

	/* exec: its arithmetic, not mytestfunc's. */
	struct vaccel_arg_array r, w;
	int32_t in32 = 7, out32 = 0;
	vaccel_arg_array_init(&r, 1);
	vaccel_arg_array_init(&w, 1);
	vaccel_arg_array_add_int32(&r, &in32);
	vaccel_arg_array_add_int32(&w, &out32);
	ret = vaccel_exec(&sess, "libanything.so", "triple", r.args, r.count, w.args, w.count);
	printf("exec: %s, 3 * 7 = %" PRId32 "\n", code(ret), out32);
	ret = vaccel_exec(&sess, "libanything.so", "fail", r.args, r.count, w.args, w.count);
	printf("exec failing in the plugin: %s\n", code(ret));

	/* exec_with_resource: the plugin reads the caller's resource struct. */
	struct vaccel_resource res;
	ret = vaccel_resource_init(&res, argv[1], VACCEL_RESOURCE_LIB);
	ret = ret ? ret : vaccel_resource_register(&res, &sess);
	out32 = 0;
	ret = ret ? ret : vaccel_exec_with_resource(&sess, &res, "anything", r.args, r.count,
						    w.args, w.count);
	printf("exec_with_resource: %s, blobs seen: %" PRId32 "\n", code(ret), out32);
	vaccel_resource_unregister(&res, &sess);
	vaccel_resource_release(&res);

	/* torch: a model resource (any file; the plugin checks it has data) and a tensor. */
	struct vaccel_resource model;
	int64_t dims[2] = { 2, 3 };
	float x[6] = { 1, -2, 3.5f, 0, 7, -0.25f };
	struct vaccel_torch_tensor *tin = NULL, *tout = NULL;
	ret = vaccel_resource_init(&model, argv[1], VACCEL_RESOURCE_MODEL);
	ret = ret ? ret : vaccel_resource_register(&model, &sess);
	ret = ret ? ret : vaccel_torch_model_load(&sess, &model);
	printf("torch_model_load: %s\n", code(ret));
	ret = vaccel_torch_tensor_new(&tin, 2, dims, VACCEL_TORCH_FLOAT);
	ret = ret ? ret : vaccel_torch_tensor_set_data(tin, x, sizeof(x));
	ret = ret ? ret : vaccel_torch_model_run(&sess, &model, NULL, &tin, 1, &tout, 1);
	int doubled = tout && tout->nr_dims == 2 && tout->dims[1] == 3 && tout->size == sizeof(x);
	for (int i = 0; doubled && i < 6; i++)
		doubled = ((float *)tout->data)[i] == 2 * x[i];
	printf("torch_model_run: %s, output doubled: %s\n", code(ret), yes(doubled));
	vaccel_torch_tensor_delete(tin);
	vaccel_torch_tensor_delete(tout);
	int32_t ldims[2] = { 2, 3 };
	struct vaccel_tflite_tensor *lin = NULL, *lout = NULL;
	uint8_t status = 9;
	ret = vaccel_tflite_tensor_new(&lin, 2, ldims, VACCEL_TFLITE_FLOAT32);
	ret = ret ? ret : vaccel_tflite_tensor_set_data(lin, x, sizeof(x));
	ret = ret ? ret : vaccel_tflite_model_run(&sess, &model, &lin, 1, &lout, 1, &status);
	doubled = lout && lout->nr_dims == 2 && lout->size == sizeof(x);
	for (int i = 0; doubled && i < 6; i++)
		doubled = ((float *)lout->data)[i] == 2 * x[i];
	printf("tflite_model_run: %s, status %d, output doubled: %s\n", code(ret), status, yes(doubled));
	vaccel_tflite_tensor_delete(lin);
	vaccel_tflite_tensor_delete(lout);
	/* tf: the nodes reach the plugin (it scales by the input node's id + 1 and reads the
	 * output node named "out"); its status message comes back on failure. */
	int64_t fdims[2] = { 2, 3 };
	struct vaccel_tf_tensor *fin = NULL, *fout = NULL;
	struct vaccel_tf_node in_node = { .name = "in", .id = 2 }, out_node = { .name = "out", .id = 0 };
	struct vaccel_tf_status st = { 0 };
	ret = vaccel_tf_tensor_new(&fin, 2, fdims, VACCEL_TF_FLOAT);
	ret = ret ? ret : vaccel_tf_tensor_set_data(fin, x, sizeof(x));
	ret = ret ? ret : vaccel_tf_model_run(&sess, &model, NULL, &in_node, &fin, 1, &out_node, &fout, 1, &st);
	int tripled = fout && fout->size == sizeof(x);
	for (int i = 0; tripled && i < 6; i++)
		tripled = ((float *)fout->data)[i] == 3 * x[i];
	printf("tf_model_run: %s, nodes used: %s\n", code(ret), yes(tripled));
	vaccel_tf_tensor_delete(fout);
	fout = NULL;
	out_node.name = "missing";
	ret = vaccel_tf_model_run(&sess, &model, NULL, &in_node, &fin, 1, &out_node, &fout, 1, &st);
	printf("tf_model_run, unknown output node: %s, status says: %s\n", code(ret),
	       yes(st.message && strstr(st.message, "no output node named missing")));
	vaccel_tf_status_release(&st);
	vaccel_tf_tensor_delete(fin);
	vaccel_resource_unregister(&model, &sess);
	vaccel_resource_release(&model);

	/* torch_sgemm: out = A·B + C, by the plugin, checked here. */
	float ta[6] = { 1, 2, 3, 4, 5, 6 }, tb[6] = { 1, 0, -1, 2, 0.5f, 1 }, tc[4] = { 1, 1, 1, 1 };
	int64_t da[2] = { 2, 3 }, db[2] = { 3, 2 }, dc[2] = { 2, 2 };
	struct vaccel_torch_tensor *A = NULL, *B = NULL, *C = NULL, *O = NULL;
	ret = vaccel_torch_tensor_new(&A, 2, da, VACCEL_TORCH_FLOAT);
	ret = ret ? ret : vaccel_torch_tensor_new(&B, 2, db, VACCEL_TORCH_FLOAT);
	ret = ret ? ret : vaccel_torch_tensor_new(&C, 2, dc, VACCEL_TORCH_FLOAT);
	ret = ret ? ret : vaccel_torch_tensor_set_data(A, ta, sizeof(ta));
	ret = ret ? ret : vaccel_torch_tensor_set_data(B, tb, sizeof(tb));
	ret = ret ? ret : vaccel_torch_tensor_set_data(C, tc, sizeof(tc));
	ret = ret ? ret : vaccel_torch_sgemm(&sess, &A, &B, &C, 2, 2, 3, &O);
	float want_o[4];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			want_o[i * 2 + j] = tc[i * 2 + j];
			for (int p = 0; p < 3; p++)
				want_o[i * 2 + j] += ta[i * 3 + p] * tb[p * 2 + j];
		}
	int product = O && O->size == sizeof(want_o) && O->nr_dims == 2;
	for (int i = 0; product && i < 4; i++)
		product = ((float *)O->data)[i] == want_o[i];
	printf("torch_sgemm: %s, product as computed: %s\n", code(ret), yes(product));
	vaccel_torch_tensor_delete(A);
	vaccel_torch_tensor_delete(B);
	vaccel_torch_tensor_delete(C);
	vaccel_torch_tensor_delete(O);

	/* The generic form reaches the same function. */
	uint8_t op = VACCEL_OP_FPGA_VECTORADD;
	float gc[4] = { 0 };
	struct vaccel_arg gr[3] = {
		{ .buf = &op, .size = sizeof(op), .type = VACCEL_ARG_UINT8 },
		{ .buf = va, .size = sizeof(va), .type = VACCEL_ARG_FLOAT32_ARRAY },
		{ .buf = vb, .size = sizeof(vb), .type = VACCEL_ARG_FLOAT32_ARRAY },
	};
	struct vaccel_arg gw[1] = {
		{ .buf = gc, .size = sizeof(gc), .type = VACCEL_ARG_FLOAT32_ARRAY },
	};
	ret = vaccel_genop(&sess, gr, 3, gw, 1);
	printf("genop fpga_vadd: %s, sums: %s\n", code(ret), yes(gc[0] == 11 && gc[3] == 44));

	/* Ops are registered from a plugin's init() only. */
	printf("register_ops outside init: %s\n", code(example_ops()));

	vaccel_arg_array_release(&r);
	vaccel_arg_array_release(&w);
	ret = vaccel_session_release(&sess);
	printf("release: %s\n", code(ret));
	/* Cleanup finalises the plugins (the plugin's fini logs). */
	printf("cleanup: %s\n", code(vaccel_cleanup()));
	return 0;
}
