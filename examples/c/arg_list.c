/* arg_list: upstream's deprecated argument lists, as older exec programs use them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

struct pair {
	int32_t a, b;
};

static void *ser(void *buf, uint32_t *bytes)
{
	void *out = malloc(sizeof(struct pair));
	memcpy(out, buf, sizeof(struct pair));
	*bytes = sizeof(struct pair);
	return out;
}

static void *big_ser(void *buf, uint32_t *bytes)
{
	(void)buf;
	*bytes = 64;
	return calloc(1, 64);
}

static void *deser(void *buf, uint32_t size)
{
	return size == sizeof(struct pair) ? buf : NULL;
}

int main(void)
{
	int32_t in = 21, out = 0;
	struct pair p = { 3, 4 }, q = { 5, 6 };
	struct vaccel_arg_list *l = vaccel_args_init(4);
	if (!l || vaccel_add_serial_arg(l, &in, sizeof(in)) || vaccel_add_nonserial_arg(l, &p, 7, ser) ||
	    vaccel_expect_serial_arg(l, &out, sizeof(out)) || vaccel_expect_nonserial_arg(l, sizeof(struct pair)))
		return 1;
	printf("full list refuses more: %s\n", vaccel_add_serial_arg(l, &in, sizeof(in)) == VACCEL_EINVAL ? "yes" : "no");
	printf("serial: %d\n", *(int32_t *)vaccel_extract_serial_arg(l->list, 0));
	struct pair *got = vaccel_extract_nonserial_arg(l->list, 1, deser);
	printf("nonserial: %d %d (custom type %u)\n", got->a, got->b, l->list[1].custom_type_id);
	int32_t answer = 42;
	vaccel_write_serial_arg(l->list, 2, &answer);
	vaccel_write_nonserial_arg(l->list, 3, &q, ser);
	struct pair *w = vaccel_extract_serial_arg(l->list, 3);
	printf("written: %d, %d %d\n", out, w->a, w->b);
	printf("too big for the arg: %s\n",
	       vaccel_write_nonserial_arg(l->list, 3, &q, big_ser) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	printf("delete: %s\n", vaccel_delete_args(l) == VACCEL_OK ? "ok" : "failed");
	printf("empty list: %s\n", vaccel_args_init(0) == NULL ? "NULL" : "other");
	return 0;
}
