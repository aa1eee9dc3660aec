/*
 * logsreq: the control socket's "logs SITE" (issue 15): the last lines of
 * a site's live colour containers, and of its candidate's, read through
 * the daemon's runtime (struct rt, rt_logs_stream) for an admin-mode
 * cockpit, which never opens the Docker socket itself. It is a read: it
 * is journaled nowhere, never waits in the apply queue, and runs in
 * libuv's thread pool with a runtime client of its own (the apply
 * worker's is not shared across threads), so neither the loop nor an
 * apply waits for it.
 *
 * Bounded on every side: at most CTLS_LOGS_TAIL_MAX lines a container,
 * LOGSREQ_LINE_MAX bytes a line, LOGSREQ_BYTES_MAX bytes for the whole
 * answer (oldest lines dropped first, and said so), LOGSREQ_RUNNING_MAX
 * reads at once. The values of the site's secret variables are replaced
 * with <redacted>, as `bluegreen logs` does, and control characters
 * other than a tab become '?'.
 *
 * The answer, as "out" lines (docs: DOCS-LOGS.md):
 *
 *   == blue.1 (live): 3 lines
 *   blue.1 (live) | the container's line
 *   == green.1 (candidate): 200 lines; 40 earlier lines not shown (64 KiB limit)
 *   green.1 (candidate) | ...
 *
 * Every log line starts with its label and " | ", so no line a container
 * prints can pass for a header. The picking and the rendering are pure
 * functions over a configuration and an observation (unit-tested).
 */
#ifndef BG_CONTROLLER_DAEMON_LOGSREQ_H
#define BG_CONTROLLER_DAEMON_LOGSREQ_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "ctlsock.h"

#include <uv.h>

/* Lines a container when the request says no "tail N". */
#define LOGSREQ_TAIL_DEFAULT 50u
/* The whole answer's log lines, labels included. */
#define LOGSREQ_BYTES_MAX (64u * 1024)
/* One line, after redaction; longer ones are cut and marked. */
#define LOGSREQ_LINE_MAX 2048u
/* Reads at once; more are told to try again (the pool has 4 threads). */
#define LOGSREQ_RUNNING_MAX 2u
/* Shorter secret values would redact ordinary words (cmd-logs.c's REDACT_MIN). */
#define LOGSREQ_REDACT_MIN 4u

struct cfg;
struct obs;

/* Which containers, under which labels, and what to redact. */
struct logsreq_target {
	struct bg_strv ids;     /* container ids, live colour first, by replica */
	struct bg_strv labels;  /* "blue.1 (live)", "green.2 (candidate)" */
	struct bg_strv secrets; /* values to redact */
};
void logsreq_target_init(struct logsreq_target *t);
void logsreq_target_release(struct logsreq_target *t); /* NULL-safe; wipes the secrets */

/*
 * The live colour's containers (the edge says which colour is live) and
 * those of the candidate (the other colour, when it runs the configured
 * spec), ours only (the observation lists only labelled objects). Returns
 * 0, or BG_ENOT_FOUND with *why (a new string) when the site is not
 * configured or has neither.
 */
int logsreq_pick(const struct cfg *cfg, const struct obs *o, const char *site,
		struct logsreq_target *t, char **why);

/* The lines read, per container. */
struct logsreq_acc {
	size_t n;
	struct bg_strv *lines;        /* [n]: redacted, cut, cleaned */
	const struct bg_strv *secrets; /* borrowed */
};
void logsreq_acc_init(struct logsreq_acc *a, size_t n, const struct bg_strv *secrets);
void logsreq_acc_release(struct logsreq_acc *a); /* NULL-safe */
/* One line of container index (rt_logs_stream's on_line). */
void logsreq_acc_line(struct logsreq_acc *a, size_t index, const char *line, size_t len);
/* The answer's text (a new string), within LOGSREQ_BYTES_MAX of log lines. */
char *logsreq_render(const struct logsreq_acc *a, const struct bg_strv *labels);

/*
 * Serve one "logs SITE" request on the loop: answers at once when it is
 * refused (stopping, no such site, nothing observed yet, too many reads),
 * else reads in the pool and finishes conn when done. view is the
 * daemon's observation (read now, not kept); the runtime is the one
 * cfg->g names (rt_open); have is false before the first observation.
 */
void logsreq_serve(uv_loop_t *loop, const struct cfg *cfg, const struct obs *view, bool have,
		bool stopping, struct ctls_conn *conn, const struct ctls_request *req);

#endif /* BG_CONTROLLER_DAEMON_LOGSREQ_H */
