/* resource_forms: resources from blobs and buffers, the allocated forms, a resource's
 * directory, sync, and (given a URL) a resource downloaded from it.
 * Usage: resource_forms DIR [URL]  (DIR holds at least one file) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vaccel.h>

int main(int argc, char **argv)
{
	struct vaccel_blob a, b;
	uint8_t x[] = "aaaa", y[] = "bb";
	struct vaccel_resource fromblobs = { .id = 0 }, dir = { .id = 0 }, *heap = NULL, *heap2 = NULL;
	struct vaccel_session sess;
	char path[4096], *alloc = NULL;

	if (argc < 2 || vaccel_session_init(&sess, 0))
		return 2;
	if (vaccel_blob_init_from_buf(&a, x, sizeof(x), false, "a.bin", NULL, false) ||
	    vaccel_blob_init_from_buf(&b, y, sizeof(y), false, "b.bin", NULL, false))
		return 1;
	const struct vaccel_blob *list[] = { &a, &b };
	printf("from blobs: %s\n",
	       vaccel_resource_init_from_blobs(&fromblobs, list, 2, VACCEL_RESOURCE_DATA) == VACCEL_OK &&
			       fromblobs.nr_blobs == 2 && strcmp(fromblobs.blobs[1]->name, "b.bin") == 0 &&
			       fromblobs.blobs[0]->size == sizeof(x) && fromblobs.blobs[0]->data != x
		       ? "yes (copied)"
		       : "no");
	printf("from_buf (allocated): %s\n",
	       vaccel_resource_from_buf(&heap, x, sizeof(x), VACCEL_RESOURCE_MODEL, "m.onnx", true) == VACCEL_OK &&
			       heap->type == VACCEL_RESOURCE_MODEL
		       ? "yes"
		       : "no");
	const char *paths[] = { argv[1] };
	printf("multi_new of a directory: %s\n",
	       vaccel_resource_multi_new(&heap2, paths, 1, VACCEL_RESOURCE_DATA) == VACCEL_OK &&
			       heap2->path_type == VACCEL_PATH_LOCAL_DIR && heap2->nr_blobs == 0
		       ? "yes (its data is read at register)"
		       : "no");
	if (vaccel_resource_init(&dir, argv[1], VACCEL_RESOURCE_DATA))
		return 1;
	printf("directory: %s\n",
	       vaccel_resource_directory(&dir, path, sizeof(path), NULL) == VACCEL_OK && strcmp(path, argv[1]) == 0 ? "yes" : "no");
	printf("directory, allocated: %s\n",
	       vaccel_resource_directory(&dir, NULL, 0, &alloc) == VACCEL_OK && strcmp(alloc, argv[1]) == 0 ? "yes" : "no");
	free(alloc);
	printf("directory of a buffer resource: %s\n",
	       vaccel_resource_directory(&fromblobs, path, sizeof(path), NULL) == VACCEL_ENOTSUP ? "VACCEL_ENOTSUP" : "other");
	vaccel_resource_register(&dir, &sess);
	printf("sync, local: %s\n", vaccel_resource_sync(&dir, &sess) == VACCEL_OK ? "ok" : "failed");
	printf("sync, not registered: %s\n", vaccel_resource_sync(&fromblobs, &sess) == VACCEL_ENOENT ? "VACCEL_ENOENT" : "other");
	if (argc > 2) {
		struct vaccel_resource web = { .id = 0 };
		int rc = vaccel_resource_init(&web, argv[2], VACCEL_RESOURCE_DATA);
		int before = rc == VACCEL_OK && web.path_type == VACCEL_PATH_REMOTE_FILE && web.nr_blobs == 0;
		rc = rc ? rc : vaccel_resource_register(&web, &sess);
		printf("from a URL: %s\n", before && rc == VACCEL_OK && web.nr_blobs == 1 &&
						   web.blobs[0]->path == NULL && web.blobs[0]->size > 0
						   ? "yes (downloaded at register)"
						   : "no");
		if (rc == VACCEL_OK) {
			printf("downloaded blob name: %s\n", web.blobs[0]->name);
			vaccel_resource_unregister(&web, &sess);
			vaccel_resource_release(&web);
		}
	}
	/* A file's data is read when the resource is registered, as upstream: what it holds
	 * then counts; a file gone by then fails the registration. */
	char late[] = "/tmp/vaccel-late-XXXXXX";
	int fd = mkstemp(late);
	struct vaccel_resource lr = { .id = 0 };
	if (fd >= 0 && write(fd, "before", 6) == 6 && vaccel_resource_init(&lr, late, VACCEL_RESOURCE_DATA) == VACCEL_OK) {
		int ok = ftruncate(fd, 0) == 0 && pwrite(fd, "after!!", 7, 0) == 7;
		ok = ok && vaccel_resource_register(&lr, &sess) == VACCEL_OK && lr.nr_blobs == 1 &&
		     lr.blobs[0]->size == 7 && memcmp(lr.blobs[0]->data, "after!!", 7) == 0;
		printf("data read at register: %s\n", ok ? "yes" : "no");
		vaccel_resource_unregister(&lr, &sess);
		vaccel_resource_release(&lr);
		vaccel_resource_init(&lr, late, VACCEL_RESOURCE_DATA);
		unlink(late);
		printf("file gone by register: %s\n",
		       vaccel_resource_register(&lr, &sess) == VACCEL_ENOENT && lr.nr_blobs == 0 ? "VACCEL_ENOENT" : "other");
		vaccel_resource_release(&lr);
	}
	if (fd >= 0)
		close(fd);
	vaccel_resource_unregister(&dir, &sess);
	vaccel_resource_release(&dir);
	vaccel_resource_delete(heap2);
	vaccel_resource_delete(heap);
	vaccel_resource_release(&fromblobs);
	vaccel_blob_release(&a);
	vaccel_blob_release(&b);
	vaccel_session_release(&sess);
	return 0;
}
