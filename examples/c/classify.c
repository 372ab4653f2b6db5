/* classify: classify an image file. Usage: classify <image> [iterations]
 * Prints "classification tags: <score>% <label>", as upstream's example does. */
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc(n > 0 ? (size_t)n : 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	unsigned char out_text[512], out_imgname[512];
	size_t len = 0;
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s <image> [iterations]\n", argv[0]);
		return 1;
	}
	int iterations = argc > 2 ? atoi(argv[2]) : 1;
	unsigned char *image = read_file(argv[1], &len);
	if (!image) {
		fprintf(stderr, "Could not read %s\n", argv[1]);
		return 1;
	}
	if (vaccel_session_init(&sess, 0)) {
		fprintf(stderr, "Could not initialize session\n");
		return 1;
	}
	for (int i = 0; i < iterations && !ret; i++)
		ret = vaccel_image_classification(&sess, image, out_text, out_imgname, len,
						  sizeof(out_text), sizeof(out_imgname));
	if (ret)
		fprintf(stderr, "Could not run op: %d (%s)\n", ret, vaccel_last_error());
	else
		printf("classification tags: %s\n", out_text);
	vaccel_session_release(&sess);
	free(image);
	return ret ? 1 : 0;
}
