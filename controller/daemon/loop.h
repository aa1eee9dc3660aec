/*
 * loop: the reconciling daemon, `bluegreen watch` (SPEC §2). One libuv
 * loop reacts to the configuration files (cfgwatch), the Docker /events
 * stream (dkev), the edge directory, the approval file and the control
 * socket (ctlsock); it keeps an observation of the world up to date from
 * those events, re-plans, and prints (and journals) a plan whenever its
 * token changes, and only then, with one line saying why.
 *
 * It converges only when a token arrives (a line of CONFIG_DIR/approve, or
 * `bluegreen apply TOKEN` handed over the control socket), always through
 * apply_run, the one code path that converges, which runs in a worker
 * thread with its own Docker client so the loop keeps receiving events
 * meanwhile. One apply at a time; others queue.
 *
 * The daemon holds the state lock for its whole life: it is the one
 * converger of its state directory. docs/watch.md says what it prints,
 * journals and accepts; docs/adr/0009-watch-daemon.md why it is built so.
 */
#ifndef BG_CONTROLLER_LOOP_H
#define BG_CONTROLLER_LOOP_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"

/* A declaration is enough: the loop only passes the pointer on. */
struct cli;

/* A rare full re-list and config re-read, in case an event was missed (STYLE B6). */
#define CTL_RESYNC_MS (10u * 60 * 1000)
/* Backoff of a failed observation while the engine still looks connected. */
#define CTL_RETRY_INITIAL_MS 1000
#define CTL_RETRY_MAX_MS 60000
/* The journal of tokens the approval file handed to apply, in STATE_DIR. */
#define CTL_APPROVE_SEEN "approve.seen"

struct ctl_opts {
	uint64_t debounce_ms; /* 0: CFGW_DEBOUNCE_MS */
	uint64_t resync_ms;   /* 0: CTL_RESYNC_MS */
};

/*
 * Run the daemon until SIGTERM or SIGINT (exit 0, after the apply in
 * progress finished or stopped at a safe point). Startup failures (bad
 * configuration, lock held by another converger, history unusable) print
 * why and return BG_EXIT_ERROR. Returns an exit code.
 */
int ctl_run(struct cli *cli, const struct ctl_opts *opts);

/* ---- the approval file (pure; exposed for tests) ---- */

struct ctl_approval {
	char *token;
	struct bg_strv confirms;
	unsigned line;
};

struct ctl_approvals {
	struct ctl_approval *v;
	size_t n, cap;
};

void ctl_approvals_init(struct ctl_approvals *a);
void ctl_approvals_release(struct ctl_approvals *a);

/*
 * Parse the approval file (`name` is how diagnostics call it). One
 * approval per line: `TOKEN [--confirm TEXT]...`, where TEXT is one word
 * or a "double-quoted" string (\" and \\ escape); blank lines and lines
 * starting with '#' are skipped. A bad line is reported in d as
 * `approve:LINE:COL: error: ...` and skipped; the others still count.
 * Returns the number of bad lines (0: all good).
 */
size_t ctl_approve_parse(const char *name, const char *data, size_t len,
		struct ctl_approvals *out, struct bg_diag *d);

/*
 * What STATE_DIR/approve.seen records of an approval taken from the file:
 * "TOKEN HASH", HASH from its --confirm phrases (order does not matter, the
 * phrases are not stored). ctl_approval_seen: is this approval (or, for a
 * bare-token line of an older daemon, any approval of the token) in seen?
 * The same approval is acted on once; changed phrases make a new one.
 */
char *ctl_approval_key(const char *token, const struct bg_strv *confirms);
bool ctl_approval_seen(const struct bg_strv *seen, const char *token,
		const struct bg_strv *confirms);

#endif /* BG_CONTROLLER_LOOP_H */
