/* config: upstream's configuration API, and starting the library with a config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vaccel.h>

int main(void)
{
	struct vaccel_config cfg, copy, *heap = NULL;

	if (vaccel_config_init(&cfg, "exec:noop", VACCEL_LOG_WARN, NULL, true, false) ||
	    vaccel_config_init_from(&copy, &cfg) || vaccel_config_new(&heap, NULL, VACCEL_LOG_ERROR, NULL, false, true))
		return 1;
	printf("init: plugins %s, level %u, profiling %d\n", cfg.plugins, (unsigned)cfg.log_level,
	       cfg.profiling_enabled);
	printf("copy owns its strings: %s\n", copy.plugins != cfg.plugins && strcmp(copy.plugins, "exec:noop") == 0 ? "yes" : "no");
	vaccel_config_print_debug(&cfg);

	if (vaccel_bootstrap_with_config(&cfg) != VACCEL_OK)
		return 1;
	const struct vaccel_config *now = vaccel_config();
	printf("in force: plugins %s, profiling %d; prof enabled: %s\n", now->plugins,
	       now->profiling_enabled, vaccel_prof_enabled() ? "yes" : "no");
	struct vaccel_session s;
	printf("session after bootstrap: %s\n", vaccel_session_init(&s, 0) == VACCEL_OK ? "ok" : "failed");
	/* Restarting releases what the program left behind. */
	if (vaccel_bootstrap_with_config(heap) != VACCEL_OK)
		return 1;
	printf("restarted: prof enabled: %s, old session: %s\n", vaccel_prof_enabled() ? "yes" : "no",
	       vaccel_noop(&s) == VACCEL_ENOENT ? "gone" : "still there");
	struct vaccel_config *env = NULL;
	printf("from env: %s\n", vaccel_config_from_env(&env) == VACCEL_OK && env->log_level >= VACCEL_LOG_ERROR ? "ok" : "failed");
	printf("NULL config: %s\n", vaccel_config_init(NULL, NULL, VACCEL_LOG_ERROR, NULL, false, false) == VACCEL_EINVAL ? "VACCEL_EINVAL" : "other");
	vaccel_config_delete(env);
	vaccel_config_delete(heap);
	vaccel_config_release(&copy);
	vaccel_config_release(&cfg);
	return 0;
}
