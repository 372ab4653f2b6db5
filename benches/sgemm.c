/* P9: vaccel_sgemm (through libvaccel and the blas plugin) vs OpenBLAS's cblas_sgemm called
 * directly, same matrices, alternating, best of N rounds each. Usage: sgemm N [rounds] */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <vaccel.h>

/* From cblas.h (OpenBLAS, LP64): declared here so the benchmark needs no -dev headers. */
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
		 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1024;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	size_t len = (size_t)n * n;
	float *a = malloc(len * sizeof(float)), *b = malloc(len * sizeof(float)), *c = malloc(len * sizeof(float));
	struct vaccel_session sess;
	double best_direct = 1e30, best_vaccel = 1e30;

	if (!a || !b || !c || vaccel_session_init(&sess, 0))
		return 1;
	for (size_t i = 0; i < len; i++) {
		a[i] = (float)(i % 97) / 97.0f;
		b[i] = (float)(i % 89) / 89.0f;
	}
	for (int r = 0; r < rounds; r++) {
		double t0 = now();
		cblas_sgemm(101, 111, 111, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
		double t1 = now();
		if (vaccel_sgemm(&sess, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n)) {
			fprintf(stderr, "vaccel_sgemm failed: %s\n", vaccel_last_error());
			return 1;
		}
		double t2 = now();
		if (t1 - t0 < best_direct)
			best_direct = t1 - t0;
		if (t2 - t1 < best_vaccel)
			best_vaccel = t2 - t1;
	}
	double flops = 2.0 * n * (double)n * n;
	printf("sgemm %d^3, best of %d: OpenBLAS direct %.1f GFLOP/s, vaccel_sgemm %.1f GFLOP/s, ratio %.1f%% (goal >= 95%%)\n",
	       n, rounds, flops / best_direct / 1e9, flops / best_vaccel / 1e9, 100.0 * best_direct / best_vaccel);
	vaccel_session_release(&sess);
	return 0;
}
