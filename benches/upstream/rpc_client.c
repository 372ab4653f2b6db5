/* A guest as upstream builds it: upstream's libvaccel and its RPC client library
 * (vaccel-rust's vaccel-rpc-client, the C ABI its rpc plugin wraps), talking to whatever
 * agent listens at VACCEL_RPC_ADDRESS. benches/upstream/ttrpc.sh points it at upstream's
 * agent and at ours.
 *
 * Usage: rpc_client check IMAGE   session, genop noop, classify IMAGE, session update and
 *                                 release; prints what each returned
 *        rpc_client bench CALLS   CALLS UpdateSession round trips (the smallest RPC both
 *                                 agents serve with any plugin): p50 and p99 in µs */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vaccel.h>
#include "vaccel-rpc-client.h"

static int noop(struct VaccelRpcClient *c, vaccel_id_t s)
{
	uint8_t op = VACCEL_OP_NOOP;
	struct vaccel_arg read[1] = { { .buf = &op, .size = sizeof(op), .type = VACCEL_ARG_UINT8 } };
	return vaccel_rpc_client_genop(c, s, read, 1, NULL, 0);
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s check IMAGE | bench CALLS\n", argv[0]);
		return 2;
	}
	struct VaccelRpcClient *c = vaccel_rpc_client_create();
	if (!c) {
		fprintf(stderr, "no client (VACCEL_RPC_ADDRESS?)\n");
		return 1;
	}
	vaccel_id_t s = vaccel_rpc_client_session_init(c, 0);
	if (s <= 0) {
		fprintf(stderr, "session_init failed: %lld\n", (long long)s);
		return 1;
	}
	if (strcmp(argv[1], "check") == 0) {
		printf("session: %s\n", s > 0 ? "ok" : "failed");
		printf("genop noop: %d\n", noop(c, s));
		FILE *f = fopen(argv[2], "rb");
		if (!f)
			return 1;
		static unsigned char img[16 << 20];
		size_t n = fread(img, 1, sizeof(img), f);
		fclose(f);
		unsigned char tags[256] = { 0 };
		int rc = vaccel_rpc_client_image_classify(c, s, img, n, tags, sizeof(tags) - 1);
		printf("classify: %d tags: %s\n", rc, (char *)tags);
		printf("classify of 3 bytes: %d\n",
		       vaccel_rpc_client_image_classify(c, s, img, 3, tags, sizeof(tags) - 1));
		printf("genop on an unknown session: %d\n", noop(c, s + 1000));
		printf("session update: %d\n", vaccel_rpc_client_session_update(c, s, 0));
		printf("session release: %d\n", vaccel_rpc_client_session_release(c, s));
		printf("session release again: %d\n", vaccel_rpc_client_session_release(c, s));
		return 0;
	}
	int calls = atoi(argv[2]);
	if (calls < 10)
		calls = 10;
	double *t = malloc(sizeof(double) * (size_t)calls);
	for (int i = 0; i < 200; i++)
		if (vaccel_rpc_client_session_update(c, s, 0))
			return 1;
	for (int i = 0; i < calls; i++) {
		double t0 = now_us();
		if (vaccel_rpc_client_session_update(c, s, 0))
			return 1;
		t[i] = now_us() - t0;
	}
	qsort(t, (size_t)calls, sizeof(double), cmp);
	printf("%.1f %.1f\n", t[calls / 2], t[(size_t)((double)(calls - 1) * 0.99)]);
	vaccel_rpc_client_session_release(c, s);
	return 0;
}
