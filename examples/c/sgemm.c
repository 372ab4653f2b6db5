/* sgemm: row-major C = alpha*A*B + beta*C with padded leading dimensions; prints a few
 * entries and a checksum. Usage: sgemm [M N K] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

static float value(int64_t i, unsigned seed)
{
	return (float)(((uint64_t)i * 2654435761u ^ seed) % 1000) / 500.0f - 1.0f;
}

int main(int argc, char **argv)
{
	int64_t m = argc > 3 ? atoll(argv[1]) : 64, n = argc > 3 ? atoll(argv[2]) : 48,
		k = argc > 3 ? atoll(argv[3]) : 32;
	int64_t lda = k + 3, ldb = n + 5, ldc = n + 2;
	float *a = malloc(sizeof(float) * m * lda), *b = malloc(sizeof(float) * k * ldb),
	      *c = malloc(sizeof(float) * m * ldc);
	struct vaccel_session sess;
	double sum = 0;
	int ret;

	if (!a || !b || !c)
		return 1;
	for (int64_t i = 0; i < m * lda; i++)
		a[i] = value(i, 1);
	for (int64_t i = 0; i < k * ldb; i++)
		b[i] = value(i, 2);
	for (int64_t i = 0; i < m * ldc; i++)
		c[i] = value(i, 3);
	if (vaccel_session_init(&sess, 0))
		return 1;
	ret = vaccel_sgemm(&sess, m, n, k, 1.5f, a, lda, b, ldb, 0.5f, c, ldc);
	if (ret) {
		fprintf(stderr, "sgemm failed: %d (%s)\n", ret, vaccel_last_error());
		return 1;
	}
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++)
			sum += c[i * ldc + j];
	printf("sgemm %" PRId64 "x%" PRId64 "x%" PRId64 ": C[0][0]=%.4f C[m-1][n-1]=%.4f checksum=%.4f\n",
	       m, n, k, c[0], c[(m - 1) * ldc + n - 1], sum);
	vaccel_session_release(&sess);
	free(a);
	free(b);
	free(c);
	return 0;
}
