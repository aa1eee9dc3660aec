/*
 * watch: the reconciling daemon, `bluegreen watch` (SPEC §2). One libuv
 * loop reacts to the configuration files (cfgwatch), the Docker /events
 * stream (dkev), the edge directory, the approval file (approve.h) and the
 * control socket (ctlsock); it keeps an observation of the world up to date
 * from those events (snap.h), re-plans, and prints (and journals) a plan
 * whenever its token changes, and only then, with one line saying why.
 *
 * It converges only when a token arrives (a line of CONFIG_DIR/approve, or
 * `bluegreen apply TOKEN` handed over the control socket), always through
 * apply_run, the one code path that converges, which runs in a worker
 * thread with its own Docker client (job.h) so the loop keeps receiving
 * events meanwhile. One apply at a time; others queue (queue.h).
 *
 * The daemon holds the state lock for its whole life: it is the one
 * converger of its state directory. It prints only through the struct
 * watch_printer it is given (cmd-watch.c lends the CLI's functions), so it
 * never includes cli.h. docs/watch.md says what it prints, journals and
 * accepts; docs/adr/0009-watch-daemon.md why it is built so.
 */
#ifndef BG_CONTROLLER_DAEMON_WATCH_H
#define BG_CONTROLLER_DAEMON_WATCH_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"

struct apply_outcome;
struct bg_buf;
struct cfg;
struct hist;
struct plan;

/* A rare full re-list and config re-read, in case an event was missed (STYLE B6). */
#define WATCH_RESYNC_MS (10u * 60 * 1000)
/* Backoff of a failed observation while the engine still looks connected. */
#define WATCH_RETRY_INITIAL_MS 1000
#define WATCH_RETRY_MAX_MS 60000

struct watch_opts {
	uint64_t debounce_ms; /* 0: CFGW_DEBOUNCE_MS */
	uint64_t resync_ms;   /* 0: WATCH_RESYNC_MS */
};

/*
 * How the daemon prints. out and err take its own lines ("watch: ...",
 * plans, convergence progress); the callbacks render what the CLI renders
 * too, so that both print the same bytes. arg is passed to each.
 */
struct watch_printer {
	void *arg;
	FILE *out, *err;
	/* Diagnostics on err, as every verb prints them. */
	void (*diag)(void *arg, const struct bg_diag *d);
	/* A plan on out, after marking which execution settings changed since the last apply in h. */
	void (*plan)(void *arg, const struct cfg *cfg, struct hist *h, struct plan *p);
	/*
	 * What `bluegreen apply` would have printed had it converged itself,
	 * for a control-socket client that asked with json and color: its
	 * stdout into out, its stderr into err. d is the apply's diagnostics.
	 */
	void (*reply)(void *arg, const struct cfg *cfg, const struct apply_outcome *o,
			const struct bg_diag *d, bool json, bool color, struct bg_buf *out,
			struct bg_buf *err);
};

/*
 * Run the daemon on the configuration directory dir (resolved and checked
 * by the caller) until SIGTERM or SIGINT (exit 0, after the apply in
 * progress finished or stopped at a safe point). Startup failures (bad
 * configuration, lock held by another converger, history unusable) print
 * why and return BG_EXIT_ERROR. Returns an exit code. pr is borrowed for
 * the whole run.
 */
int watch_run(const struct watch_opts *opts, const char *dir, const struct watch_printer *pr);

#endif /* BG_CONTROLLER_DAEMON_WATCH_H */
