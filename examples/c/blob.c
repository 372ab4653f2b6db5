/* blob: upstream's blob API — a file, a buffer viewed or copied, a buffer persisted to a
 * file and mapped. Usage: blob FILE DIR */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_blob file, view, copy, kept, *heap = NULL;
	uint8_t bytes[] = "persist me";
	size_t n = 0;
	struct stat st;

	if (argc < 3 || stat(argv[1], &st))
		return 2;
	if (vaccel_blob_init(&file, argv[1]) != VACCEL_OK)
		return 1;
	uint8_t *data = vaccel_blob_data(&file, &n);
	printf("file: type %s, %zu bytes, path given back: %s\n", vaccel_blob_type_to_base_str(file.type), n,
	       strcmp(vaccel_blob_path(&file), argv[1]) == 0 ? "yes" : "no");
	printf("file data read: %s\n", data && n == (size_t)st.st_size ? "yes" : "no");
	if (vaccel_blob_init_from_buf(&view, bytes, sizeof(bytes), false, "v", NULL, false) ||
	    vaccel_blob_init_from_buf(&copy, bytes, sizeof(bytes), true, "c", NULL, false))
		return 1;
	printf("view shares, copy owns: %s\n", view.data == bytes && copy.data != bytes && copy.data_owned ? "yes" : "no");
	if (vaccel_blob_init_from_buf(&kept, bytes, sizeof(bytes), false, "kept.bin", argv[2], false) ||
	    vaccel_blob_from_buf(&heap, bytes, sizeof(bytes), false, "kept.bin", argv[2], false))
		return 1;
	char path[4096];
	snprintf(path, sizeof(path), "%s", vaccel_blob_path(&kept));
	printf("persisted: type %s, name %s, on disk: %s, same bytes: %s\n", vaccel_blob_type_to_base_str(kept.type),
	       kept.name, stat(path, &st) == 0 && (size_t)st.st_size == sizeof(bytes) ? "yes" : "no",
	       memcmp(kept.data, bytes, sizeof(bytes)) == 0 ? "yes" : "no");
	printf("a taken name gets a suffix: %s\n", strcmp(heap->name, "kept.bin") != 0 ? "yes" : "no");
	printf("persist twice: %s\n", vaccel_blob_persist(&kept, argv[2], "again", false) == VACCEL_EEXIST ? "VACCEL_EEXIST" : "other");
	printf("valid: %s\n", vaccel_blob_valid(&kept) && vaccel_blob_valid(&view) ? "yes" : "no");
	vaccel_blob_release(&kept);
	printf("release removes the file: %s\n", stat(path, &st) != 0 ? "yes" : "no");
	printf("released is not valid: %s\n", !vaccel_blob_valid(&kept) ? "yes" : "no");
	printf("release twice: %s\n", vaccel_blob_release(&kept) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	printf("no name: %s\n",
	       vaccel_blob_init_from_buf(&view, bytes, sizeof(bytes), false, NULL, NULL, false) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	vaccel_blob_delete(heap);
	vaccel_blob_release(&copy);
	vaccel_blob_release(&file);
	return 0;
}
