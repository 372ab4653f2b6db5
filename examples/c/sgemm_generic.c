/* sgemm_generic: the same multiplication as sgemm.c through vaccel_genop; its output must
 * be identical. Usage: sgemm_generic [M N K] */
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
	float alpha = 1.5f, beta = 0.5f;
	float *a = malloc(sizeof(float) * m * lda), *b = malloc(sizeof(float) * k * ldb),
	      *c = malloc(sizeof(float) * m * ldc);
	uint8_t op = VACCEL_OP_BLAS_SGEMM;
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
	/* The buffers hold exactly what the dimensions need. */
	size_t a_size = sizeof(float) * ((m - 1) * lda + k), b_size = sizeof(float) * ((k - 1) * ldb + n),
	       c_size = sizeof(float) * ((m - 1) * ldc + n);
	struct vaccel_arg read[11] = {
		{ .buf = &op, .size = sizeof(op), .type = VACCEL_ARG_UINT8 },
		{ .buf = &m, .size = sizeof(m), .type = VACCEL_ARG_INT64 },
		{ .buf = &n, .size = sizeof(n), .type = VACCEL_ARG_INT64 },
		{ .buf = &k, .size = sizeof(k), .type = VACCEL_ARG_INT64 },
		{ .buf = &alpha, .size = sizeof(alpha), .type = VACCEL_ARG_FLOAT32 },
		{ .buf = a, .size = a_size, .type = VACCEL_ARG_FLOAT32_ARRAY },
		{ .buf = &lda, .size = sizeof(lda), .type = VACCEL_ARG_INT64 },
		{ .buf = b, .size = b_size, .type = VACCEL_ARG_FLOAT32_ARRAY },
		{ .buf = &ldb, .size = sizeof(ldb), .type = VACCEL_ARG_INT64 },
		{ .buf = &beta, .size = sizeof(beta), .type = VACCEL_ARG_FLOAT32 },
		{ .buf = &ldc, .size = sizeof(ldc), .type = VACCEL_ARG_INT64 },
	};
	struct vaccel_arg write[1] = {
		{ .buf = c, .size = c_size, .type = VACCEL_ARG_FLOAT32_ARRAY },
	};
	if (vaccel_session_init(&sess, 0))
		return 1;
	ret = vaccel_genop(&sess, read, 11, write, 1);
	if (ret) {
		fprintf(stderr, "genop sgemm failed: %d (%s)\n", ret, vaccel_last_error());
		return 1;
	}
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++)
			sum += c[i * ldc + j];
	printf("sgemm %" PRId64 "x%" PRId64 "x%" PRId64 ": C[0][0]=%.4f C[m-1][n-1]=%.4f checksum=%.4f\n",
	       m, n, k, c[0], c[(m - 1) * ldc + n - 1], sum);

	/* Too small a C buffer for the dimensions is refused, naming C. */
	write[0].size -= sizeof(float);
	ret = vaccel_genop(&sess, read, 11, write, 1);
	printf("short C: %s: %s\n", ret == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other", vaccel_last_error());
	vaccel_session_release(&sess);
	free(a);
	free(b);
	free(c);
	return 0;
}
