/* A library of exec functions: int fn(struct vaccel_arg *read, size_t nr_read,
 * struct vaccel_arg *write, size_t nr_write). Built as libmytestlib.so. */
#include <stdio.h>
#include <vaccel.h>

/* Doubles an int32: read[0] int32 -> write[0] int32. */
int mytestfunc(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write, size_t nr_write)
{
	struct vaccel_arg_array in, out;
	int32_t value, result;
	int ret;

	if (nr_read != 1 || nr_write != 1)
		return VACCEL_EINVAL;
	ret = vaccel_arg_array_wrap(&in, read, nr_read);
	if (ret)
		return ret;
	ret = vaccel_arg_array_wrap(&out, write, nr_write);
	if (ret)
		return ret;
	ret = vaccel_arg_array_get_int32(&in, &value);
	if (ret)
		return ret;
	result = 2 * value;
	return vaccel_arg_array_set_int32(&out, &result);
}

/* Always fails with VACCEL_EPERM, to test error propagation. */
int myfailingfunc(struct vaccel_arg *read, size_t nr_read, struct vaccel_arg *write,
		  size_t nr_write)
{
	(void)read;
	(void)nr_read;
	(void)write;
	(void)nr_write;
	return VACCEL_EPERM;
}
