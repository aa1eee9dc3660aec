/*
 * verify: the watch window after a switch (issue 14, docs/checks.md
 * "Watch window", ADR "Auto-revert after a failed watch window"). When the
 * journal says a site with `verify: {window: ...}` was switched or rolled
 * back (by the daemon or by a one-shot command while it was down), the
 * daemon samples the live colour for the rest of the window: GET of the
 * site's health path through the edge (what users see: error rate and
 * p95), and directly on the containers of the live and of the previous
 * colour, side by side, so the two p95 are measured the same way at the
 * same moment (the >20 % degradation rule of the seeds' CI/CD rules).
 *
 * The sampling runs in a thread per window; the loop only learns the
 * verdict (uv_async_t). A passing window is journaled `verify-passed`; a
 * failing one `verify-failed` with its evidence and a verify-failed alert.
 * With `on_failure: revert` the daemon then queues, ahead of anything
 * else, a rollback of the site through the same apply_run as `rollback
 * --yes`, journaled `auto-revert` (actor the daemon) with the evidence,
 * and alerts auto-revert when it ends. With `alert` (the default) the
 * live revision is marked rejected, so the next plan proposes the
 * rollback at its top (reconcilers/rec-plan.c), to approve like any plan.
 *
 * The verdict itself is a pure function (verify_judge), tested from
 * figures in test/unit/t-verify.c.
 */
#ifndef BG_CONTROLLER_DAEMON_VERIFY_H
#define BG_CONTROLLER_DAEMON_VERIFY_H

#include "bg.h"
#include "cfg.h"

#include <uv.h>

struct apply_outcome;
struct hist;
struct obs;
struct queue;
struct queue_req;
struct snap;
struct watch_printer;

/* The seeds' rule: a p95 more than this many percent above the previous colour's fails. */
#define VERIFY_DEGRADATION_PCT 20

/* What one series of samples gave. */
struct verify_figures {
	unsigned n;      /* requests sent */
	unsigned errors; /* no answer, timeout, or 5xx */
	uint64_t p95_ms; /* over the answered requests; 0 when none answered */
};

enum verify_verdict {
	VERIFY_PENDING = 0,  /* not decided yet (the window goes on) */
	VERIFY_PASSED,
	VERIFY_FAILED_ERRORS,
	VERIFY_FAILED_LATENCY,
};

/*
 * Pure. edge: the live colour as users reach it; live and prev: the two
 * colours measured directly (prev NULL, or n 0: no previous colour). final:
 * the window is over. The error rate fails as soon as min_requests samples
 * exist; the latency is judged at the end only, with compare, when both
 * colours answered: live p95 > prev p95 * 1.2 and more than slack_ms
 * above it. *why (may be NULL) gets the evidence in words (a new string).
 */
enum verify_verdict verify_judge(const struct cfg_verify *rules, const struct verify_figures *edge,
		const struct verify_figures *live, const struct verify_figures *prev, bool final,
		char **why);

const char *verify_verdict_name(enum verify_verdict v);

/*
 * The base URLs ("http://HOST:PORT") of a colour's running replicas in
 * view, where the window samples them directly: the runtime's probe
 * address when it gives one (RT_LABEL_PROBE: a Swarm task's published
 * port; empty, not running yet, gives none), else the address on the edge
 * network, else on the site's network. *spec (when spec) gets the first
 * replica's spec hash.
 */
void verify_colour_urls(const struct cfg *cfg, const struct cfg_site *cs, const struct obs *view,
		const char *colour, struct bg_strv *out, char **spec);

struct verify;

/*
 * Called on the loop when the daemon should look again: reobserve (the
 * history changed: a revision marked rejected) and why (for the plan's
 * why line); or only to schedule (a revert was queued).
 */
typedef void (*verify_kick_cb)(void *arg, bool reobserve, const char *why);

/*
 * Everything borrowed; lives on loop until verify_stop. cfgp points at the
 * daemon's current configuration (reloads replace it). Never NULL.
 */
struct verify *verify_create(uv_loop_t *loop, const struct watch_printer *pr, struct hist *h,
		struct queue *q, struct snap *snap, const struct cfg *const *cfgp,
		verify_kick_cb kick, void *arg);
/*
 * After a full observation (view: the daemon's snapshot): start a window
 * for each site with verify.window whose latest switch in the journal is
 * recent enough and has no verdict yet.
 */
void verify_scan(struct verify *v, const struct cfg *cfg, const struct obs *view);
/* An apply ended: if it was an auto-revert, journal and alert how it ended. */
void verify_applied(struct verify *v, const struct cfg *cfg, const struct queue_req *r,
		const struct apply_outcome *o);
/* Stop every window (their threads end within one request) and close the handle. NULL-safe. */
void verify_stop(struct verify *v);
/* After the loop is closed. NULL-safe. */
void verify_destroy(struct verify *v);

#endif /* BG_CONTROLLER_DAEMON_VERIFY_H */
