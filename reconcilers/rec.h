/*
 * rec: the one interface every resource kind implements (wlroots' impl
 * pattern): observe what exists, diff desired against observed (pure: no
 * I/O, no clock, unit-tested from fixtures), and apply one planned action.
 * The registry is a static, ordered table: shared objects and networks,
 * volumes, backing services, images, colours (and their switch), edge.
 * A new kind is one file and one row; every plan kind has exactly one
 * reconciler whose handles() claims it.
 */
#ifndef BG_RECONCILERS_REC_H
#define BG_RECONCILERS_REC_H

#include "bg.h"
#include "bg-err.h"
#include "cfg.h"
#include "desired.h"
#include "hist.h"
#include "obs.h"
#include "plan.h"
#include "rt.h"

#include <stdatomic.h>

/* Everything a diff may read, and where it writes. */
struct rec_diff_ctx {
	const struct cfg *cfg;
	const struct obs *obs;
	const struct desired *des;
	const struct plan_args *args;
	struct plan *plan;
	/* Per-site pass (NULL in the shared pass that runs first). */
	const struct des_site *site;
	struct plan_site *ps;
	/* This site's managed containers (borrowed from obs), sorted by name. */
	const struct obs_container *const *cs;
	size_t n_cs;
	/* This site's managed volumes (label io.bluegreen.site), sorted by name. */
	const struct obs_volume *const *vols;
	size_t n_vols;
	bool switching; /* set by the colour diff when it planned a switch or preview write */
};

/*
 * A progress line's flags. TRANSIENT: a status line a terminal may
 * overwrite. SECRET: for the waiting operator only (issue 16: a generated
 * password shown once): never the convergence log, the journal, or a
 * daemon's own output.
 */
#define REC_PROGRESS_TRANSIENT 1u
#define REC_PROGRESS_SECRET 2u
typedef void (*rec_progress_cb)(void *arg, const char *line, unsigned flags);

/* Everything an apply step may use. */
struct rec_apply_ctx {
	const struct cfg *cfg;
	struct desired *des;    /* rebuilt after an image pull (rec-image.c) */
	struct obs *obs;        /* the observation the plan was built from; a pull adds its image */
	struct rt *rt;          /* the container runtime (rt.h) */
	struct hist *hist;
	const char *token;
	const char *actor;      /* who the journal names (NULL: ours, see rec_journal) */
	rec_progress_cb progress;
	void *progress_arg;
	atomic_int *cancel;     /* apply_opts.cancel: stop at the next safe point */
	struct bg_strv ports;   /* host ports handed out during this apply */
	const struct plan *plan; /* the plan being applied */
	size_t step;            /* plan->actions index of the step being executed */
	struct bg_strv switched; /* sites whose live colour this apply switched so far */
	/* Steps that failed without stopping the apply (a refused certificate:
	 * the other steps still run); rec_exec_run then returns BG_EPARTIAL. */
	struct bg_strv not_done;
};

/* nginx, upstream: ports: does this configuration publish colour ports? */
bool rec_publishes_ports(const struct cfg *cfg);

struct rec_impl {
	const char *kind;
	/* Read this kind's managed objects (and name conflicts) into o. Blocking. */
	int (*observe)(struct rt *rt, const struct cfg *cfg, struct obs *o,
			struct bg_diag *d);
	/* Pure: append this kind's actions and facts for ctx->site (or the shared pass). */
	int (*diff)(struct rec_diff_ctx *ctx);
	/* Execute one action of a kind this reconciler handles. */
	int (*apply)(struct rec_apply_ctx *ctx, const struct plan_action *a,
			struct bg_diag *d);
	/* Which plan kinds its apply handles. */
	bool (*handles)(enum plan_kind kind);
	/* Pure, like diff: this kind's part of a rollback plan (NULL: none). */
	int (*rollback)(struct rec_diff_ctx *ctx);
	/* The executor calls after once a step of this kind succeeded (NULL:
	 * nothing to do), and failed once it failed, with its error (NULL:
	 * nothing to undo). They keep the executor a generic loop. */
	int (*after)(struct rec_apply_ctx *ctx, const struct plan_action *a,
			struct bg_diag *d);
	void (*failed)(struct rec_apply_ctx *ctx, const struct plan_action *a, int err);
};

extern const struct rec_impl rec_network_impl;
extern const struct rec_impl rec_volume_impl;
extern const struct rec_impl rec_service_impl;
extern const struct rec_impl rec_image_impl;
extern const struct rec_impl rec_colour_impl;
extern const struct rec_impl rec_edge_impl;
extern const struct rec_impl rec_cert_impl;
extern const struct rec_impl rec_backup_impl;
/* Issue 16: the wordpress module's install and database upgrade (rec-wordpress.c). */
extern const struct rec_impl rec_wordpress_impl;

/* The history's complete backups into o->backups (rec-backup.c; issue 12). */
int rec_backup_observe_hist(struct hist *h, struct obs *o, struct bg_diag *d);

extern const struct rec_impl *const rec_registry[];
extern const size_t rec_registry_len;

const struct rec_impl *rec_for_kind(enum plan_kind kind);

enum rec_observe_flags {
	/* The daemon keeps containers from the event stream: observe the rest. */
	REC_OBSERVE_NO_CONTAINERS = 1 << 0,
};

/*
 * The whole observation for a configuration: engine version, containers
 * (unless flags say otherwise), every kind's observe, and the history's
 * facts (h may be NULL: no history yet). The CLI and the daemon both use it.
 */
int rec_observe(struct rt *rt, const struct cfg *cfg, struct hist *h,
		struct obs *o, unsigned flags, struct bg_diag *d);

/*
 * Build the plan (rec-plan.c): des_build, every reconciler's diff (or
 * rollback), then plan_finish for the token. Pure: no I/O. args is copied.
 */
int rec_plan_build(struct plan *p, const struct cfg *cfg, const struct obs *obs,
		const struct plan_args *args, struct bg_diag *d);

/* ---- helpers shared by the reconcilers ---- */

/* A managed container of ctx->site by name (borrowed), NULL if absent. */
const struct obs_container *rec_site_container(const struct rec_diff_ctx *ctx,
		const char *name);
/*
 * Every site's edge file as it is on disk right now, into o (sorted): what
 * apply reports as live after a run. Errors are left out of any diag: a
 * file that cannot be read is an edge with no live colour.
 */
int rec_edge_read(const struct cfg *cfg, struct obs *o);

/* Record a container's facts (id, state, health, spec, version, IPs). */
void rec_fact_container(struct plan *p, const struct obs_container *c);
/* Sleep ms, or less when the apply is cancelled (BG_ECANCELLED): the
 * gates' intervals and the drain. */
int rec_pause_ms(struct rec_apply_ctx *ctx, uint64_t ms);
/* Report progress (a line for the convergence log, or a transient status). */
void rec_progress(struct rec_apply_ctx *ctx, bool transient, const char *fmt, ...)
	BG_PRINTF(3, 4);
/*
 * A pull of ref for ctx->site, planned here unless the observation has the
 * image locally: the colour and service diffs call it right before the
 * create that needs the image. Returns the action (borrowed from the plan,
 * for the caller to complete), or NULL when nothing is to pull.
 */
struct plan_action *rec_image_need(struct rec_diff_ctx *ctx, const char *ref,
		const char *why_fmt, ...) BG_PRINTF(3, 4);
/* Is this name held by an object bluegreen must not touch? */
bool rec_conflict(const struct obs *o, const char *kind, const char *name);
/* Observe name conflicts: the names (of kind "container", "network" or
 * "volume") not found among the managed objects o holds (sorted) are
 * looked up in one list of the engine's unmanaged objects of that kind. */
int rec_observe_conflicts(struct rt *rt, struct obs *o, const char *kind,
		const struct bg_strv *names, struct bg_diag *d);

/* ---- the executor (rec-exec.c) ---- */

struct rec_exec_opts {
	const char *actor;        /* who the journal names; NULL: ours */
	rec_progress_cb progress; /* step lines and transient status (may be NULL) */
	void *progress_arg;
	atomic_int *cancel;       /* non-zero: stop before the next step (may be NULL) */
};

/*
 * Execute plan p, whose token the caller verified and marked used: the
 * steps in phase order (plan order within a phase), each journaled before
 * (intent) and after (result), with the BLUEGREEN_FAULT kill points of test
 * builds around it. A step's reconciler gets `after` once it succeeded and
 * `failed` once it failed; the first failure stops the run. obs is the
 * observation p was built from (a pull adds its image). On a failed step,
 * *message gets a new string saying which step failed (and which sites
 * were already switched); a cancel leaves it alone. Returns 0 or the
 * error of the step that stopped the run (BG_ECANCELLED for a cancel).
 */
int rec_exec_run(const struct rec_exec_opts *o, const struct cfg *cfg, struct rt *rt,
		struct hist *h, const struct plan *p, struct obs *obs, char **message,
		struct bg_diag *d);

/*
 * Append one journal entry; actor NULL means ours (bg_actor, with the
 * $SUDO_USER claim), else who asked, alone. A failure is logged, not
 * returned: what it records already happened.
 */
void rec_journal_append(struct hist *h, const char *actor, const char *action,
		const char *site, const char *token, const char *result, const char *fmt, ...)
	BG_PRINTF(7, 8);
/* rec_journal_append with the actor and token of the apply ctx runs in. */
void rec_journal(struct rec_apply_ctx *ctx, const char *action, const char *site,
		const char *result, const char *fmt, ...) BG_PRINTF(5, 6);

/*
 * Issue 16: a line with a secret the operator must see once (a generated
 * password): to the caller's progress only (apply's stdout), never to the
 * convergence log or the journal (rec-exec.c).
 */
void rec_progress_secret(struct rec_apply_ctx *ctx, const char *line);

#endif /* BG_RECONCILERS_REC_H */
