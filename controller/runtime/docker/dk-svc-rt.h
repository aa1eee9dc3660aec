/*
 * dk-svc-rt: the Docker runtime's members for services and limits (rt.h:
 * stats, exec_check), defined in dk-svc.c; rt.c puts them in its docker
 * table with DK_SVC_RT_MEMBERS and lends its client through
 * rt__docker_client (struct rt_docker is rt.c's own).
 */
#ifndef BG_CONTROLLER_DK_SVC_RT_H
#define BG_CONTROLLER_DK_SVC_RT_H

#include "rt.h"

struct dk_client *rt__docker_client(struct rt *rt);

int dk__rt_stats(struct rt *rt, const char *id, struct dk_stats *st, struct bg_diag *d);
int dk__rt_exec_check(struct rt *rt, const char *id, char *const *argv, uint64_t timeout_ms,
		int *exit_code, struct bg_buf *out, struct bg_diag *d);

#define DK_SVC_RT_MEMBERS .stats = dk__rt_stats, .exec_check = dk__rt_exec_check,

#endif /* BG_CONTROLLER_DK_SVC_RT_H */
