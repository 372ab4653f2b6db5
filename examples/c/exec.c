/* exec: call mytestfunc in a library by path. Usage: exec <libmytestlib.so> [iterations] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	struct vaccel_arg_array read_args, write_args;
	int32_t input = 21, output = 0;
	int iterations;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s <library> [iterations]\n", argv[0]);
		return 1;
	}
	iterations = argc > 2 ? atoi(argv[2]) : 1;
	ret = vaccel_session_init(&sess, 0);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %d\n", ret);
		return 1;
	}
	if (vaccel_arg_array_init(&read_args, 1) || vaccel_arg_array_init(&write_args, 1)) {
		fprintf(stderr, "Could not initialize arg arrays\n");
		return 1;
	}
	ret = vaccel_arg_array_add_int32(&read_args, &input);
	ret |= vaccel_arg_array_add_int32(&write_args, &output);
	if (ret) {
		fprintf(stderr, "Could not add args\n");
		return 1;
	}
	for (int i = 0; i < iterations && !ret; i++)
		ret = vaccel_exec(&sess, argv[1], "mytestfunc", read_args.args, read_args.count,
				  write_args.args, write_args.count);
	if (ret)
		fprintf(stderr, "exec failed: %d (%s)\n", ret, vaccel_last_error());
	else
		printf("exec: mytestfunc(%" PRId32 ") = %" PRId32 "\n", input, output);

	/* A function that fails: VACCEL_EBACKEND, as upstream (its own code is in the message). */
	int fail = vaccel_exec(&sess, argv[1], "myfailingfunc", NULL, 0, NULL, 0);
	printf("exec: myfailingfunc returned %s\n", fail == VACCEL_EBACKEND ? "VACCEL_EBACKEND" : "something else");
	/* A symbol that does not exist: VACCEL_ENOSYS, as upstream. */
	int missing = vaccel_exec(&sess, argv[1], "no_such_function", NULL, 0, NULL, 0);
	printf("exec: missing symbol returned %s\n", missing == VACCEL_ENOSYS ? "VACCEL_ENOSYS" : "something else");

	vaccel_arg_array_release(&read_args);
	vaccel_arg_array_release(&write_args);
	if (vaccel_session_release(&sess))
		return 1;
	return ret ? 1 : 0;
}
