/* exec_with_resource: register a library as a LIB resource and call into it.
 * Usage: exec_with_resource <libmytestlib.so> */
#include <inttypes.h>
#include <stdio.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	struct vaccel_resource lib = { .id = 0 };
	struct vaccel_arg_array read_args, write_args;
	int32_t input = 50, output = 0;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s <library>\n", argv[0]);
		return 1;
	}
	ret = vaccel_resource_init(&lib, argv[1], VACCEL_RESOURCE_LIB);
	if (ret || !(lib.id > 0)) {
		fprintf(stderr, "Could not create resource: %d\n", ret);
		return 1;
	}
	if (vaccel_session_init(&sess, VACCEL_PLUGIN_CPU))
		return 1;
	ret = vaccel_resource_register(&lib, &sess);
	if (ret) {
		fprintf(stderr, "Could not register: %d\n", ret);
		return 1;
	}
	printf("registered: %s\n", vaccel_session_has_resource(&sess, &lib) ? "yes" : "no");

	vaccel_arg_array_init(&read_args, 1);
	vaccel_arg_array_init(&write_args, 1);
	vaccel_arg_array_add_int32(&read_args, &input);
	vaccel_arg_array_add_int32(&write_args, &output);
	ret = vaccel_exec_with_resource(&sess, &lib, "mytestfunc", read_args.args, read_args.count,
					write_args.args, write_args.count);
	if (ret)
		fprintf(stderr, "exec_with_resource failed: %d (%s)\n", ret, vaccel_last_error());
	else
		printf("exec_with_resource: mytestfunc(%" PRId32 ") = %" PRId32 "\n", input, output);

	/* Releasing a registered resource is refused. */
	int busy = vaccel_resource_release(&lib);
	printf("release while registered: %s\n", busy == VACCEL_EBUSY ? "VACCEL_EBUSY" : "something else");

	vaccel_arg_array_release(&read_args);
	vaccel_arg_array_release(&write_args);
	if (vaccel_resource_unregister(&lib, &sess) || vaccel_session_release(&sess))
		return 1;
	if (vaccel_resource_release(&lib))
		return 1;
	/* Releasing twice is an error code, not a crash. */
	int twice = vaccel_resource_release(&lib);
	int sess_twice = vaccel_session_release(&sess);
	printf("double release: %s, %s\n", twice ? "error" : "ok", sess_twice ? "error" : "ok");
	return ret ? 1 : 0;
}
