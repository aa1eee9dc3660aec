/*
 * dk-svc: the Docker calls behind backing services and limits (issue 13):
 * a one-shot resource usage sample of a container (GET
 * /containers/{id}/stats?stream=false) for `bluegreen status`, and a
 * short exec whose exit code says whether a service is healthy (its
 * `health.command`, argv only), with the output kept for the message when
 * it is not. Both touch only containers carrying our label.
 */
#ifndef BG_CONTROLLER_DK_SVC_H
#define BG_CONTROLLER_DK_SVC_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"

#include <json-c/json.h>

struct dk_client;

/* Output of a health exec kept for the message (the rest is dropped). */
#define DK_CHECK_OUTPUT_MAX 4096

/* One usage sample; a field the engine did not report is 0 (has_cpu false). */
struct dk_stats {
	uint64_t mem_usage;  /* bytes, page cache excluded (as `docker stats`) */
	uint64_t mem_limit;  /* bytes: the limit, or the host's memory when none */
	uint64_t pids;
	uint64_t pids_limit; /* 0: none */
	double cpu_percent;  /* of one CPU (150 = one and a half) */
	bool has_cpu;
};

/* GET /containers/{id}/stats?stream=false into st (the engine samples
 * twice, about a second apart, so it takes that long). Managed only. */
int dk_container_stats(struct dk_client *dk, const char *id, struct dk_stats *st,
		struct bg_diag *d);
/* Parse a stats document (borrowed j) into st; pure, for the tests. */
void dk_parse_stats(struct json_object *j, struct dk_stats *st);

/*
 * Run argv in the running managed container id and wait for it (at most
 * timeout_ms): *exit_code its exit code, out (may be NULL) gets up to
 * DK_CHECK_OUTPUT_MAX bytes of its stdout and stderr, demultiplexed. 0
 * when it ran, whatever its exit code; BG_ETIMEOUT when it did not finish
 * in time (it is left to end on its own).
 */
int dk_exec_check(struct dk_client *dk, const char *id, char *const *argv,
		uint64_t timeout_ms, int *exit_code, struct bg_buf *out, struct bg_diag *d);

#endif /* BG_CONTROLLER_DK_SVC_H */
