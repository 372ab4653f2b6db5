/* noop: create a session, run the noop op, release. Usage: noop [iterations] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess = { 0 };
	int iterations = argc > 1 ? atoi(argv[1]) : 1;
	int ret;

	sess.hint = 0;
	ret = vaccel_session_init(&sess, sess.hint);
	if (ret) {
		fprintf(stderr, "Could not initialize session: %d\n", ret);
		return 1;
	}
	printf("Initialized session with id: %" PRId64 "\n", sess.id);
	for (int i = 0; i < iterations; i++) {
		ret = vaccel_noop(&sess);
		if (ret) {
			fprintf(stderr, "noop failed: %d\n", ret);
			break;
		}
	}
	if (!ret)
		printf("noop: %d call(s) ok\n", iterations);
	if (vaccel_session_release(&sess)) {
		fprintf(stderr, "Could not release session\n");
		return 1;
	}
	return ret ? 1 : 0;
}
