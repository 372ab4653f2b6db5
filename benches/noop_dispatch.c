/* P1: dispatch overhead of vaccel_noop through the C API vs a direct function call.
 * Both loops run in this process, one after the other, several rounds; the best round of
 * each is reported (least disturbed by the machine's noise). Usage: noop_dispatch [calls] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vaccel.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The baseline: a call the compiler cannot inline or remove. */
__attribute__((noinline)) static int direct_noop(struct vaccel_session *sess)
{
	__asm__ volatile("" : : "r"(sess) : "memory");
	return 0;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 2000000;
	int (*volatile direct)(struct vaccel_session *) = direct_noop;
	struct vaccel_session sess;
	double best_api = 1e30, best_direct = 1e30;

	if (vaccel_session_init(&sess, 0)) {
		fprintf(stderr, "session init failed\n");
		return 1;
	}
	for (int round = 0; round < 5; round++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < calls; i++)
			if (direct(&sess))
				return 1;
		uint64_t t1 = now_ns();
		for (long i = 0; i < calls; i++)
			if (vaccel_noop(&sess))
				return 1;
		uint64_t t2 = now_ns();
		double d = (double)(t1 - t0) / calls, a = (double)(t2 - t1) / calls;
		if (d < best_direct)
			best_direct = d;
		if (a < best_api)
			best_api = a;
	}
	printf("calls per round:          %ld (best of 5 rounds)\n", calls);
	printf("direct function call:     %.1f ns/call\n", best_direct);
	printf("vaccel_noop via C API:    %.1f ns/call\n", best_api);
	printf("dispatch overhead:        %.1f ns/call (goal < 100)\n", best_api - best_direct);
	vaccel_session_release(&sess);
	return 0;
}
