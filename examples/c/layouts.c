/* layouts: upstream vAccel 0.8's struct layouts (sizes and offsets on x86-64), and the
 * fields a program built for upstream reads — really filled in.
 * Usage: layouts FILE [remote]   (FILE: any readable file; "remote": a REMOTE session too) */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <vaccel.h>

#define AT(type, field, off) static_assert(offsetof(type, field) == (off), #type "." #field)
#define SIZE(type, n) static_assert(sizeof(type) == (n), "sizeof " #type)

SIZE(struct vaccel_session, 4264);
AT(struct vaccel_session, id, 0);
AT(struct vaccel_session, remote_id, 8);
AT(struct vaccel_session, hint, 16);
AT(struct vaccel_session, is_virtio, 20);
AT(struct vaccel_session, rundir, 21);
AT(struct vaccel_session, entry, 4120);
AT(struct vaccel_session, resources, 4136);
AT(struct vaccel_session, resource_counts, 4184);
AT(struct vaccel_session, resources_lock, 4208);
AT(struct vaccel_session, plugin, 4248);
AT(struct vaccel_session, priv, 4256);

SIZE(struct vaccel_resource, 152);
AT(struct vaccel_resource, id, 0);
AT(struct vaccel_resource, remote_id, 8);
AT(struct vaccel_resource, type, 16);
AT(struct vaccel_resource, path_type, 20);
AT(struct vaccel_resource, paths, 24);
AT(struct vaccel_resource, nr_paths, 32);
AT(struct vaccel_resource, rundir, 40);
AT(struct vaccel_resource, blobs, 48);
AT(struct vaccel_resource, nr_blobs, 56);
AT(struct vaccel_resource, entry, 64);
AT(struct vaccel_resource, sessions, 80);
AT(struct vaccel_resource, sessions_lock, 96);
AT(struct vaccel_resource, refcount, 136);
AT(struct vaccel_resource, plugin_priv, 144);

SIZE(struct vaccel_blob, 56);
AT(struct vaccel_blob, type, 0);
AT(struct vaccel_blob, name, 8);
AT(struct vaccel_blob, path, 16);
AT(struct vaccel_blob, path_owned, 24);
AT(struct vaccel_blob, data, 32);
AT(struct vaccel_blob, data_owned, 40);
AT(struct vaccel_blob, size, 48);

SIZE(struct vaccel_config, 32);
AT(struct vaccel_config, plugins, 0);
AT(struct vaccel_config, log_level, 8);
AT(struct vaccel_config, log_file, 16);
AT(struct vaccel_config, profiling_enabled, 24);
AT(struct vaccel_config, version_ignore, 25);

SIZE(struct vaccel_arg_list, 32);
AT(struct vaccel_arg_list, list, 8);
AT(struct vaccel_arg_list, curr_idx, 16);
AT(struct vaccel_arg_list, idcs_allocated_space, 24);

SIZE(struct vaccel_list_entry, 16);

SIZE(struct vaccel_op, 24);
AT(struct vaccel_op, type, 0);
AT(struct vaccel_op, func, 8);
AT(struct vaccel_op, owner, 16);

SIZE(struct vaccel_plugin_info, 96);
AT(struct vaccel_plugin_info, name, 0);
AT(struct vaccel_plugin_info, version, 8);
AT(struct vaccel_plugin_info, vaccel_version, 16);
AT(struct vaccel_plugin_info, init, 24);
AT(struct vaccel_plugin_info, fini, 32);
AT(struct vaccel_plugin_info, is_virtio, 40);
AT(struct vaccel_plugin_info, type, 44);
AT(struct vaccel_plugin_info, session_init, 48);
AT(struct vaccel_plugin_info, session_release, 56);
AT(struct vaccel_plugin_info, session_update, 64);
AT(struct vaccel_plugin_info, resource_register, 72);
AT(struct vaccel_plugin_info, resource_unregister, 80);
AT(struct vaccel_plugin_info, resource_sync, 88);

SIZE(struct vaccel_plugin, 224);
AT(struct vaccel_plugin, dl_handle, 0);
AT(struct vaccel_plugin, entry, 8);
AT(struct vaccel_plugin, ops, 24);
AT(struct vaccel_plugin, info, 216);
SIZE(struct vaccel_arg, 32);

static int failed;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

int main(int argc, char **argv)
{
	struct vaccel_session sess;
	struct vaccel_resource file = { .id = 0 }, buf = { .id = 0 };
	struct stat st;
	char bytes[] = "some bytes";

	if (argc < 2 || stat(argv[1], &st) != 0) {
		fprintf(stderr, "usage: layouts FILE [remote]\n");
		return 2;
	}
	int remote = argc > 2 && strcmp(argv[2], "remote") == 0;
	if (vaccel_session_init(&sess, 0) != VACCEL_OK)
		return 1;
	/* With only the rpc plugin loaded, hint 0 binds to it too. */
	if (remote)
		check(sess.id > 0 && sess.is_virtio && sess.remote_id > 0,
		      "default session on the transport: virtio, with its remote id");
	else
		check(sess.id > 0 && sess.hint == 0 && !sess.is_virtio && sess.remote_id == 0,
		      "local session: id, hint, not virtio, no remote id");
	struct stat rd;
	check(strstr(sess.rundir, "/session.") != NULL && stat(sess.rundir, &rd) == 0 &&
		      S_ISDIR(rd.st_mode),
	      "session rundir is a directory named session.<id>");
	check(strncmp(sess.rundir, vaccel_rundir(), strlen(vaccel_rundir())) == 0,
	      "session rundir is under vaccel_rundir()");
	check(sess.resources[VACCEL_RESOURCE_DATA].next == &sess.resources[VACCEL_RESOURCE_DATA],
	      "resource lists are empty lists");

	if (vaccel_resource_init(&file, argv[1], VACCEL_RESOURCE_DATA) != VACCEL_OK)
		return 1;
	check(file.nr_paths == 1 && strcmp(file.paths[0], argv[1]) == 0 &&
		      file.path_type == VACCEL_PATH_LOCAL_FILE,
	      "file resource: its path");
	check(file.nr_blobs == 0 && file.blobs == NULL,
	      "file resource: no blobs before it is registered (its data is read then)");
	if (vaccel_resource_init_from_buf(&buf, bytes, sizeof(bytes), VACCEL_RESOURCE_DATA,
					  "mine.bin", true) != VACCEL_OK)
		return 1;
	check(buf.nr_paths == 0 && buf.paths == NULL && buf.nr_blobs == 1 &&
		      buf.blobs[0]->type == VACCEL_BLOB_BUFFER && buf.blobs[0]->path == NULL &&
		      strcmp(buf.blobs[0]->name, "mine.bin") == 0 &&
		      buf.blobs[0]->size == sizeof(bytes) &&
		      memcmp(buf.blobs[0]->data, bytes, sizeof(bytes)) == 0,
	      "buffer resource: its blob (type, name, size, bytes)");

	check(vaccel_resource_register(&file, &sess) == VACCEL_OK && file.refcount == 1 &&
		      sess.resource_counts[VACCEL_RESOURCE_DATA] == 1 &&
		      vaccel_resource_refcount(&file) == 1,
	      "register counts the registration");
	check(file.nr_blobs == 1 && file.blobs[0]->type == VACCEL_BLOB_FILE &&
		      strcmp(file.blobs[0]->path, argv[1]) == 0 &&
		      file.blobs[0]->size == (size_t)st.st_size && file.blobs[0]->data != NULL &&
		      strchr(file.blobs[0]->name, '/') == NULL,
	      "file resource: its blob (type, path, size, data, name)");
	check(vaccel_resource_unregister(&file, &sess) == VACCEL_OK && file.refcount == 0 &&
		      sess.resource_counts[VACCEL_RESOURCE_DATA] == 0,
	      "unregister uncounts it");
	check(vaccel_resource_release(&file) == VACCEL_OK && file.blobs == NULL &&
		      file.nr_blobs == 0 && file.paths == NULL && file.id == 0,
	      "release frees and clears the fields");
	check(vaccel_resource_release(&file) != VACCEL_OK && vaccel_resource_refcount(&file) == -1,
	      "a second release is an error");
	vaccel_resource_release(&buf);

	char dir[sizeof(sess.rundir)];
	strcpy(dir, sess.rundir);
	check(vaccel_session_release(&sess) == VACCEL_OK && stat(dir, &rd) != 0,
	      "session release removes its rundir");

	if (remote) {
		struct vaccel_session r;
		int rc = vaccel_session_init(&r, VACCEL_PLUGIN_REMOTE);
		check(rc == VACCEL_OK && r.is_virtio && r.remote_id > 0 &&
			      r.hint == VACCEL_PLUGIN_REMOTE,
		      "REMOTE session: on the agent, with its remote id");
		check(rc == VACCEL_OK && vaccel_noop(&r) == VACCEL_OK, "REMOTE session runs ops");
		if (rc == VACCEL_OK)
			vaccel_session_release(&r);
	}
	return failed;
}
