/* names: upstream's enum helpers and constants — the strings programs print and compare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

#ifdef VACCEL_EINVAL
#error "error codes are an enum upstream, not macros"
#endif

static int failed;

static void same(const char *got, const char *want)
{
	int ok = got && strcmp(got, want) == 0;
	printf("%s: %s\n", want, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

int main(void)
{
	char lower[VACCEL_ENUM_STR_MAX], small[4], *alloc = NULL;

	same(vaccel_op_type_to_str(VACCEL_OP_BLAS_SGEMM), "VACCEL_OP_BLAS_SGEMM");
	same(vaccel_op_type_to_base_str(VACCEL_OP_BLAS_SGEMM), "BLAS_SGEMM");
	same(vaccel_op_type_name(VACCEL_OP_IMAGE_CLASSIFY, lower, sizeof(lower)), "image_classify");
	same(vaccel_op_type_to_lower(VACCEL_OP_NOOP, lower, sizeof(lower)), "noop");
	same(vaccel_op_type_to_str((vaccel_op_type_t)99), "VACCEL_OP_MAX");
	same(vaccel_arg_type_to_str(VACCEL_ARG_FLOAT32_ARRAY), "VACCEL_ARG_FLOAT32_ARRAY");
	same(vaccel_log_level_to_base_str(VACCEL_LOG_WARN), "WARN");
	same(vaccel_resource_type_name(VACCEL_RESOURCE_MODEL, lower, sizeof(lower)), "model");
	same(vaccel_blob_type_to_str(VACCEL_BLOB_BUFFER), "VACCEL_BLOB_BUFFER");
	same(vaccel_path_type_to_base_str(VACCEL_PATH_REMOTE_FILE), "REMOTE_FILE");
	same(vaccel_plugin_type_to_str(VACCEL_PLUGIN_REMOTE), "VACCEL_PLUGIN_REMOTE");
	same(vaccel_plugin_type_to_str((vaccel_plugin_type_t)(VACCEL_PLUGIN_CPU | VACCEL_PLUGIN_GPU)),
	     "VACCEL_PLUGIN_MAX");
	printf("constants: %d %d %d %d %d %d\n", VACCEL_ARG_MAX, VACCEL_LOG_MAX, VACCEL_PLUGIN_MAX,
	       VACCEL_OP_MAX, VACCEL_BLOB_MAX, VACCEL_PATH_MAX);
	same(VACCEL_VERSION, "0.8.0");

	if (vaccel_str_to_lower("MiXeD", small, sizeof(small), NULL) == VACCEL_OK)
		same(small, "mix");
	if (vaccel_str_to_lower("MiXeD", NULL, 0, &alloc) == VACCEL_OK)
		same(alloc, "mixed");
	free(alloc);
	printf("NULL string: %s\n",
	       vaccel_str_to_lower(NULL, small, sizeof(small), NULL) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	return failed;
}
