/* tensors: the framework tensor / buffer helpers as a C user drives them, and the model
 * ops' honest VACCEL_ENOTSUP while no plugin runs models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

int main(void)
{
	int64_t dims[4] = { 1, 3, 224, 224 };
	struct vaccel_torch_tensor *t = NULL;
	float *data;
	size_t size;
	int ret;

	ret = vaccel_torch_tensor_allocate(&t, 4, dims, VACCEL_TORCH_FLOAT, 3 * 224 * 224 * sizeof(float));
	if (ret || !t) {
		fprintf(stderr, "allocate failed: %d\n", ret);
		return 1;
	}
	dims[0] = 99; /* the tensor keeps its own copy of the dims */
	printf("torch tensor: %lld dims, [%lld,%lld,%lld,%lld], %zu bytes, owned=%d\n",
	       (long long)t->nr_dims, (long long)t->dims[0], (long long)t->dims[1],
	       (long long)t->dims[2], (long long)t->dims[3], t->size, (int)t->owned);
	ret = vaccel_torch_tensor_take_data(t, (void **)&data, &size);
	printf("take_data: %s, %zu bytes, tensor now empty: %s\n", ret ? "failed" : "ok", size,
	       t->data == NULL && t->size == 0 ? "yes" : "no");
	free(data);
	if (vaccel_torch_tensor_delete(t))
		return 1;

	int32_t tdims[2] = { 2, 2 };
	struct vaccel_tflite_tensor lt;
	float values[4] = { 1, 2, 3, 4 };
	if (vaccel_tflite_tensor_init(&lt, 2, tdims, VACCEL_TFLITE_FLOAT32) ||
	    vaccel_tflite_tensor_set_data(&lt, values, sizeof(values)))
		return 1;
	printf("tflite tensor: %d dims, %zu bytes, owned=%d\n", lt.nr_dims, lt.size, (int)lt.owned);
	if (vaccel_tflite_tensor_release(&lt))
		return 1;

	struct vaccel_tf_node node;
	struct vaccel_tf_status status;
	if (vaccel_tf_node_init(&node, "serving_default_input", 0) ||
	    vaccel_tf_status_init(&status, 0, "ok"))
		return 1;
	printf("tf node: %s/%d, status %u %s\n", node.name, node.id, status.code, status.message);
	vaccel_tf_node_release(&node);
	vaccel_tf_status_release(&status);

	printf("NULL tensor: %s\n", vaccel_torch_tensor_init(NULL, 1, dims, VACCEL_TORCH_FLOAT) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	printf("negative dims: %s\n", vaccel_tf_tensor_new((struct vaccel_tf_tensor **)&t, -1, NULL, VACCEL_TF_FLOAT) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");

	struct vaccel_session sess;
	struct vaccel_resource model = { .id = 0 };
	char bytes[] = "not a model";
	if (vaccel_session_init(&sess, 0) ||
	    vaccel_resource_init_from_buf(&model, bytes, sizeof(bytes), VACCEL_RESOURCE_MODEL, "model.pt", true))
		return 1;
	if (vaccel_resource_register(&model, &sess))
		return 1;
	ret = vaccel_torch_model_load(&sess, &model);
	printf("torch_model_load: %s\n", ret == VACCEL_ENOTSUP ? "VACCEL_ENOTSUP (not an ONNX model)" : "other");
	vaccel_resource_unregister(&model, &sess);
	vaccel_resource_release(&model);
	vaccel_session_release(&sess);

	struct vaccel_tf_node *heap_node = NULL;
	struct vaccel_tf_status *heap_status = NULL;
	if (vaccel_tf_node_new(&heap_node, "out", 3) || vaccel_tf_status_new(&heap_status, 2, "failed"))
		return 1;
	printf("tf node/status new: %s %d, %u %s\n", heap_node->name, heap_node->id, heap_status->code,
	       heap_status->message);
	printf("tf node/status delete: %s\n",
	       vaccel_tf_node_delete(heap_node) == VACCEL_OK && vaccel_tf_status_delete(heap_status) == VACCEL_OK
		       ? "ok"
		       : "failed");
	return 0;
}
