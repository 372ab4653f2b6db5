/* classify_generic: the same classification through vaccel_genop.
 * Usage: classify_generic <image> */
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	unsigned char out_text[512], out_imgname[512];
	uint8_t op = VACCEL_OP_IMAGE_CLASSIFY;
	long n;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s <image>\n", argv[0]);
		return 1;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "Could not read %s\n", argv[1]);
		return 1;
	}
	unsigned char *image = malloc(n > 0 ? (size_t)n : 1);
	if (!image || fread(image, 1, (size_t)n, f) != (size_t)n)
		return 1;
	fclose(f);

	struct vaccel_arg read[2] = {
		{ .buf = &op, .size = sizeof(op), .type = VACCEL_ARG_UINT8 },
		{ .buf = image, .size = (size_t)n, .type = VACCEL_ARG_BUFFER },
	};
	struct vaccel_arg write[2] = {
		{ .buf = out_imgname, .size = sizeof(out_imgname), .type = VACCEL_ARG_UCHAR_ARRAY },
		{ .buf = out_text, .size = sizeof(out_text), .type = VACCEL_ARG_UCHAR_ARRAY },
	};
	if (vaccel_session_init(&sess, 0))
		return 1;
	ret = vaccel_genop(&sess, read, 2, write, 2);
	if (ret)
		fprintf(stderr, "Could not run op: %d (%s)\n", ret, vaccel_last_error());
	else
		printf("classification tags: %s\n", out_text);
	vaccel_session_release(&sess);
	free(image);
	return ret ? 1 : 0;
}
