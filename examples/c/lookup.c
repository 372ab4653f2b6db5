/* lookup: finding sessions and resources again by id and type, as upstream's plugins and
 * programs do (vaccel_session_resource_by_type, *_get_by_id …), and the deprecated names. */
#include <stdio.h>
#include <stdlib.h>
#include <vaccel.h>

static int failed;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	if (!ok)
		failed = 1;
}

int main(void)
{
	struct vaccel_session sess, *found_sess = NULL;
	struct vaccel_resource lib = { .id = 0 }, data = { .id = 0 }, data2 = { .id = 0 };
	struct vaccel_resource *r = NULL, **all = NULL;
	size_t n = 0;
	char b1[] = "one", b2[] = "two", b3[] = "three";

	if (vaccel_sess_init(&sess, 0) != VACCEL_OK)
		return 1;
	if (vaccel_resource_init_from_buf(&lib, b1, sizeof(b1), VACCEL_RESOURCE_LIB, "l.so", true) ||
	    vaccel_resource_init_from_buf(&data, b2, sizeof(b2), VACCEL_RESOURCE_DATA, "d1", true) ||
	    vaccel_resource_init_from_buf(&data2, b3, sizeof(b3), VACCEL_RESOURCE_DATA, "d2", true))
		return 1;
	check(vaccel_session_get_by_id(&found_sess, sess.id) == VACCEL_OK && found_sess == &sess,
	      "session by id is the caller's struct");
	check(vaccel_session_get_by_id(&found_sess, 987654) == VACCEL_ENOENT, "unknown session id: ENOENT");
	check(vaccel_resource_get_by_id(&r, data.id) == VACCEL_OK && r == &data, "resource by id");
	check(vaccel_resource_get_by_type(&r, VACCEL_RESOURCE_DATA) == VACCEL_OK && r == &data,
	      "oldest resource of a type");
	check(vaccel_resource_get_all_by_type(&all, &n, VACCEL_RESOURCE_DATA) == VACCEL_OK && n == 2 &&
		      all[0] == &data && all[1] == &data2,
	      "all resources of a type");
	free(all);
	check(vaccel_resource_get_all_by_type(&all, &n, VACCEL_RESOURCE_MODEL) == VACCEL_ENOENT && n == 0,
	      "none of a type: ENOENT");

	vaccel_id_t before = sess.id;
	check(vaccel_session_update(&sess, VACCEL_PLUGIN_DEBUG) == VACCEL_OK && sess.id == before &&
		      sess.hint == VACCEL_PLUGIN_DEBUG && vaccel_noop(&sess) == VACCEL_OK,
	      "update rebinds, keeping the id");
	check(vaccel_sess_update(&sess, 0) == VACCEL_OK, "deprecated update");
	vaccel_resource_register(&lib, &sess);
	check(vaccel_session_update(&sess, VACCEL_PLUGIN_DEBUG) == VACCEL_ENOTSUP,
	      "update with registered resources: ENOTSUP");
	vaccel_resource_register(&data2, &sess);
	check(vaccel_session_resource_by_type(&sess, &r, VACCEL_RESOURCE_LIB) == VACCEL_OK && r == &lib &&
		      r->blobs[0]->size == sizeof(b1),
	      "the session's LIB resource, with its blob");
	check(vaccel_session_resource_by_id(&sess, &r, data2.id) == VACCEL_OK && r == &data2,
	      "the session's resource by id");
	check(vaccel_session_resource_by_id(&sess, &r, data.id) == VACCEL_ENOENT,
	      "a resource not registered with it: ENOENT");
	check(vaccel_session_resources_by_type(&sess, &all, &n, VACCEL_RESOURCE_DATA) == VACCEL_OK &&
		      n == 1 && all[0] == &data2,
	      "the session's resources of a type");
	free(all);
	check(vaccel_sess_has_resource(&sess, &lib), "deprecated has_resource");
	vaccel_resource_unregister(&lib, &sess);
	vaccel_resource_unregister(&data2, &sess);
	vaccel_id_t sid = sess.id;
	check(vaccel_sess_free(&sess) == VACCEL_OK &&
		      vaccel_session_get_by_id(&found_sess, sid) == VACCEL_ENOENT,
	      "released sessions are not found");
	vaccel_id_t lid = lib.id;
	vaccel_resource_release(&lib);
	check(vaccel_resource_get_by_id(&r, lid) == VACCEL_ENOENT && lib.id == 0,
	      "released resources are not found");
	vaccel_resource_release(&data);
	vaccel_resource_release(&data2);
	return failed;
}
