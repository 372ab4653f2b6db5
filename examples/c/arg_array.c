/* arg_array: the typed arg-array API as a C user drives it — add, get, set, serialized
 * custom types, and the error codes for misuse. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

#define CHECK(expr)                                                           \
	do {                                                                  \
		int rc_ = (expr);                                             \
		if (rc_) {                                                    \
			fprintf(stderr, "%s failed: %d\n", #expr, rc_);       \
			return 1;                                             \
		}                                                             \
	} while (0)

struct point {
	int32_t x, y;
};

static int point_serialize(const void *data, size_t data_size, uint32_t id, void **buf, size_t *size)
{
	(void)id;
	if (data_size != sizeof(struct point))
		return VACCEL_EINVAL;
	*buf = malloc(sizeof(struct point));
	if (!*buf)
		return VACCEL_ENOMEM;
	memcpy(*buf, data, sizeof(struct point));
	*size = sizeof(struct point);
	return VACCEL_OK;
}

static int point_deserialize(const void *buf, size_t size, uint32_t id, size_t data_size, void *data)
{
	(void)id;
	if (size != sizeof(struct point) || data_size != sizeof(struct point))
		return VACCEL_EINVAL;
	memcpy(data, buf, size);
	return VACCEL_OK;
}

int main(void)
{
	struct vaccel_arg_array arr;
	int32_t i32 = -7, got_i32 = 0;
	double dbl[3] = { 1.5, 2.5, 3.5 };
	double *got_dbl = NULL;
	size_t n = 0;
	char str[] = "hello";
	char *got_str = NULL;
	struct point p = { 3, 4 }, q = { 0, 0 };
	bool flag = true, got_flag = false;

	CHECK(vaccel_arg_array_init(&arr, 2));
	CHECK(vaccel_arg_array_add_int32(&arr, &i32));
	CHECK(vaccel_arg_array_add_double_array(&arr, dbl, 3));
	CHECK(vaccel_arg_array_add_string(&arr, str));
	CHECK(vaccel_arg_array_add_bool(&arr, &flag));
	CHECK(vaccel_arg_array_add_serialized(&arr, VACCEL_ARG_CUSTOM, 42, &p, sizeof(p), point_serialize));
	printf("count: %zu\n", vaccel_arg_array_count(&arr));

	CHECK(vaccel_arg_array_get_int32(&arr, &got_i32));
	CHECK(vaccel_arg_array_get_double_array(&arr, &got_dbl, &n));
	CHECK(vaccel_arg_array_get_string(&arr, &got_str));
	CHECK(vaccel_arg_array_get_bool(&arr, &got_flag));
	CHECK(vaccel_arg_array_get_serialized(&arr, VACCEL_ARG_CUSTOM, 42, &q, sizeof(q), point_deserialize));
	printf("int32: %" PRId32 "\n", got_i32);
	printf("doubles: %zu, last %.1f\n", n, got_dbl[n - 1]);
	printf("string: %s\n", got_str);
	printf("bool: %s\n", got_flag ? "true" : "false");
	printf("point: (%" PRId32 ", %" PRId32 ")\n", q.x, q.y);

	/* set writes into the caller's memory in place */
	vaccel_arg_array_reset_position(&arr);
	int32_t replacement = 99;
	CHECK(vaccel_arg_array_set_int32(&arr, &replacement));
	printf("after set: %" PRId32 "\n", i32);

	/* copy args between arrays: a range (views), the remaining ones, all (owned copies) */
	struct vaccel_arg_array part, rest, copy;
	CHECK(vaccel_arg_array_init(&part, 1));
	CHECK(vaccel_arg_array_init(&rest, 1));
	CHECK(vaccel_arg_array_init(&copy, 1));
	CHECK(vaccel_arg_array_add_range(&part, &arr, 1, 2, false));
	vaccel_arg_array_set_position(&arr, 2);
	CHECK(vaccel_arg_array_add_remaining(&rest, &arr, false));
	CHECK(vaccel_arg_array_add_all(&copy, &arr, true));
	printf("range: %zu args, views: %s; remaining: %zu; all: %zu, owned copies: %s\n",
	       vaccel_arg_array_count(&part), part.args[0].buf == arr.args[1].buf ? "yes" : "no",
	       vaccel_arg_array_count(&rest), vaccel_arg_array_count(&copy),
	       copy.args[0].owned && copy.args[0].buf != arr.args[0].buf ? "yes" : "no");
	printf("range past the end: %s\n",
	       vaccel_arg_array_add_range(&part, &arr, 1, 99, false) == VACCEL_ERANGE ? "VACCEL_ERANGE" : "other");
	CHECK(vaccel_arg_array_release(&part));
	CHECK(vaccel_arg_array_release(&rest));
	CHECK(vaccel_arg_array_release(&copy));

	/* misuse gives error codes */
	vaccel_arg_array_reset_position(&arr);
	float f;
	printf("wrong type: %s\n", vaccel_arg_array_get_float(&arr, &f) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	vaccel_arg_array_set_position(&arr, vaccel_arg_array_count(&arr));
	printf("past the end: %s\n", vaccel_arg_array_get_int32(&arr, &got_i32) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	printf("NULL array: %s\n", vaccel_arg_array_add_int32(NULL, &i32) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");

	CHECK(vaccel_arg_array_release(&arr));
	printf("second release: %s\n", vaccel_arg_array_release(&arr) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	printf("NULL session: %s\n", vaccel_noop(NULL) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	return 0;
}
