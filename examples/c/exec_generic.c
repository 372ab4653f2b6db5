/* exec through genop: read[0] is the op type, then library, symbol and the function's
 * args. Usage: exec_generic <libmytestlib.so> */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	uint8_t op = VACCEL_OP_EXEC;
	char symbol[] = "mytestfunc";
	int32_t input = 21, output = 0;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s <library>\n", argv[0]);
		return 1;
	}
	ret = vaccel_session_init(&sess, 0);
	if (ret)
		return 1;

	struct vaccel_arg read[4] = {
		{ .buf = &op, .size = sizeof(op), .type = VACCEL_ARG_UINT8 },
		{ .buf = argv[1], .size = strlen(argv[1]) + 1, .type = VACCEL_ARG_STRING },
		{ .buf = symbol, .size = sizeof(symbol), .type = VACCEL_ARG_STRING },
		{ .buf = &input, .size = sizeof(input), .type = VACCEL_ARG_INT32 },
	};
	struct vaccel_arg write[1] = {
		{ .buf = &output, .size = sizeof(output), .type = VACCEL_ARG_INT32 },
	};
	ret = vaccel_genop(&sess, read, 4, write, 1);
	if (ret)
		fprintf(stderr, "genop failed: %d (%s)\n", ret, vaccel_last_error());
	else
		printf("exec_generic: mytestfunc(%" PRId32 ") = %" PRId32 "\n", input, output);

	/* A wrong arg type is refused with VACCEL_EINVAL naming the arg. */
	read[2].type = VACCEL_ARG_INT32;
	int bad = vaccel_genop(&sess, read, 4, write, 1);
	printf("exec_generic: wrong symbol type returned %s: %s\n",
	       bad == VACCEL_EINVAL ? "VACCEL_EINVAL" : "something else", vaccel_last_error());
	/* An unknown op type is VACCEL_ENOTSUP. */
	uint8_t unknown = 200;
	read[0].buf = &unknown;
	int unk = vaccel_genop(&sess, read, 1, NULL, 0);
	printf("exec_generic: unknown op returned %s\n", unk == VACCEL_ENOTSUP ? "VACCEL_ENOTSUP" : "something else");

	vaccel_session_release(&sess);
	return ret ? 1 : 0;
}
