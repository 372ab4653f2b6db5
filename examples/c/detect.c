/* detect: find text in an image; prints the annotated image's name.
 * Usage: detect <image> */
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	unsigned char out_imgname[1024];
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
	if (vaccel_session_init(&sess, 0))
		return 1;
	ret = vaccel_image_detection(&sess, image, out_imgname, (size_t)n, sizeof(out_imgname));
	if (ret)
		fprintf(stderr, "Could not run op: %d (%s)\n", ret, vaccel_last_error());
	else
		printf("detection image: %s\n", out_imgname);

	/* No segmentation model is installed: an honest VACCEL_ENOTSUP. */
	int seg = vaccel_image_segmentation(&sess, image, out_imgname, (size_t)n, sizeof(out_imgname));
	printf("segmentation: %s\n", seg == VACCEL_ENOTSUP ? "VACCEL_ENOTSUP" : "other");
	vaccel_session_release(&sess);
	free(image);
	return ret ? 1 : 0;
}
