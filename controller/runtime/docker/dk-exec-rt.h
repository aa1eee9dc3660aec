/*
 * dk-exec-rt: the Docker runtime's backup members (rt.h), defined in
 * dk-exec.c on top of dk_exec_run and friends; rt.c puts them in its
 * docker table with DK_EXEC_RT_MEMBERS and lends them its client through
 * rt__docker_client (struct rt_docker is rt.c's own).
 */
#ifndef BG_CONTROLLER_DK_EXEC_RT_H
#define BG_CONTROLLER_DK_EXEC_RT_H

#include "rt.h"

struct dk_client *rt__docker_client(struct rt *rt);

int dk__rt_exec(struct rt *rt, const char *id, struct dk_exec *x, struct bg_diag *d);
int dk__rt_archive_get(struct rt *rt, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d);
int dk__rt_archive_put(struct rt *rt, const char *id, const char *path,
		dk_source_fn source, void *arg, struct bg_diag *d);
int dk__rt_helper_create(struct rt *rt, const struct dk_helper *h, char **id,
		struct bg_diag *d);
int dk__rt_helper_remove(struct rt *rt, const char *id, struct bg_diag *d);
int dk__rt_wait(struct rt *rt, const char *id, int *exit_code, struct bg_diag *d);
int dk__rt_volume_usage(struct rt *rt, const char *name, int64_t *bytes,
		struct bg_diag *d);

#define DK_EXEC_RT_MEMBERS                                                    \
	.exec = dk__rt_exec, .archive_get = dk__rt_archive_get,               \
	.archive_put = dk__rt_archive_put, .helper_create = dk__rt_helper_create, \
	.helper_remove = dk__rt_helper_remove, .wait = dk__rt_wait,           \
	.volume_usage = dk__rt_volume_usage,

#endif /* BG_CONTROLLER_DK_EXEC_RT_H */
