/* torch_inference: run an ONNX model through the Torch tensor API (the onnx plugin serves
 * Torch, TFLite and TF entry points for ONNX models).
 * Usage: torch_inference <model.onnx> <input.f32 (1x3x224x224 float32)> <labels.txt> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

static const char *label(const char *path, int index, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int i = 0;

	snprintf(buf, len, "class %d", index);
	if (!f)
		return buf;
	while (fgets(buf, (int)len, f)) {
		if (i++ == index) {
			buf[strcspn(buf, "\n")] = 0;
			fclose(f);
			return buf;
		}
	}
	fclose(f);
	snprintf(buf, len, "class %d", index);
	return buf;
}

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	struct vaccel_resource model = { .id = 0 };
	int64_t dims[4] = { 1, 3, 224, 224 };
	size_t n = 3 * 224 * 224;
	char name[256];
	int ret;

	if (argc < 4) {
		fprintf(stderr, "Usage: %s <model.onnx> <input.f32> <labels.txt>\n", argv[0]);
		return 1;
	}
	float *input = malloc(n * sizeof(float));
	FILE *f = fopen(argv[2], "rb");
	if (!input || !f || fread(input, sizeof(float), n, f) != n) {
		fprintf(stderr, "Could not read %zu floats from %s\n", n, argv[2]);
		return 1;
	}
	fclose(f);

	if (vaccel_resource_init(&model, argv[1], VACCEL_RESOURCE_MODEL) ||
	    vaccel_session_init(&sess, 0) || vaccel_resource_register(&model, &sess))
		return 1;
	ret = vaccel_torch_model_load(&sess, &model);
	if (ret) {
		fprintf(stderr, "model load failed: %d (%s)\n", ret, vaccel_last_error());
		return 1;
	}

	struct vaccel_torch_tensor *in;
	if (vaccel_torch_tensor_new(&in, 4, dims, VACCEL_TORCH_FLOAT) ||
	    vaccel_torch_tensor_set_data(in, input, n * sizeof(float)))
		return 1;
	struct vaccel_torch_tensor *out = NULL;
	ret = vaccel_torch_model_run(&sess, &model, NULL, &in, 1, &out, 1);
	if (ret) {
		fprintf(stderr, "model run failed: %d (%s)\n", ret, vaccel_last_error());
		return 1;
	}
	const float *logits = out->data;
	int64_t classes = out->nr_dims == 2 ? out->dims[1] : 0;
	int best = 0;
	for (int64_t i = 1; i < classes; i++)
		if (logits[i] > logits[best])
			best = (int)i;
	printf("torch output: %lld dims [%lld, %lld], float=%d\n", (long long)out->nr_dims,
	       (long long)out->dims[0], (long long)classes, out->data_type == VACCEL_TORCH_FLOAT);
	printf("torch top-1: %s\n", label(argv[3], best, name, sizeof(name)));

	/* The same model through the TFLite entry point gives the same answer. */
	struct vaccel_tflite_tensor *lin, *lout = NULL;
	int32_t ldims[4] = { 1, 3, 224, 224 };
	uint8_t status = 9;
	if (vaccel_tflite_tensor_new(&lin, 4, ldims, VACCEL_TFLITE_FLOAT32) ||
	    vaccel_tflite_tensor_set_data(lin, input, n * sizeof(float)))
		return 1;
	ret = vaccel_tflite_model_run(&sess, &model, &lin, 1, &lout, 1, &status);
	if (ret) {
		fprintf(stderr, "tflite run failed: %d (%s)\n", ret, vaccel_last_error());
		return 1;
	}
	printf("tflite agrees: %s (status %u)\n",
	       memcmp(lout->data, out->data, out->size) == 0 ? "yes" : "no", status);

	/* A wrong input shape is refused, not crashed on. */
	int64_t bad[4] = { 1, 3, 8, 8 };
	struct vaccel_torch_tensor *small;
	vaccel_torch_tensor_allocate(&small, 4, bad, VACCEL_TORCH_FLOAT, 3 * 8 * 8 * sizeof(float));
	struct vaccel_torch_tensor *none = NULL;
	ret = vaccel_torch_model_run(&sess, &model, NULL, &small, 1, &none, 1);
	printf("wrong shape: %s\n", ret == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");

	vaccel_torch_tensor_delete(small);
	vaccel_tflite_tensor_delete(lin);
	vaccel_tflite_tensor_delete(lout);
	vaccel_torch_tensor_delete(in);
	vaccel_torch_tensor_delete(out);
	vaccel_tflite_model_unload(&sess, &model);
	vaccel_resource_unregister(&model, &sess);
	vaccel_resource_release(&model);
	vaccel_session_release(&sess);
	free(input);
	return 0;
}
