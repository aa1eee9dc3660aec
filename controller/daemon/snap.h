/*
 * snap: the watch daemon's picture of the world, kept up to date from
 * events rather than re-read on a clock. It has two parts: `cont`, the
 * managed containers, maintained from /events (one inspect per container
 * event, through dkev), and `rest`, everything else (networks, volumes,
 * image ids, name conflicts, edge files, history facts), refreshed by jobs
 * (job.h) and, for the edge files, by a plain re-read. Planning looks at
 * both through one struct obs that borrows the two parts' arrays.
 *
 * It also keeps the why-list: the reasons since the last printed plan
 * (what the operator did or what happened to the engine, then drift),
 * shown on the plan's "why:" line.
 */
#ifndef BG_CONTROLLER_DAEMON_SNAP_H
#define BG_CONTROLLER_DAEMON_SNAP_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"
#include "dkev.h"
#include "obs.h"

struct cfg;
struct watch_printer;

/* Reasons shown on a plan's "why:" line; more are counted, not listed. */
#define SNAP_WHY_SHOWN 4
#define SNAP_WHY_KEPT 64

struct snap {
	struct obs cont, rest;
	bool have;       /* a first observation arrived: planning may start */
	/* What is stale, for the scheduler (watch.c) to refresh, in this order. */
	bool need_full;  /* re-list everything (start, reconnect, after an apply, resync) */
	bool need_rest;  /* re-observe all but the containers (config, networks, volumes) */
	bool edge_dirty; /* re-read the edge files */
	bool want_plan;  /* something changed: re-plan */
	/* A die event already told what the inspect will say: plan now (snap_die_predict). */
	bool plan_early;
	bool shut;       /* the daemon stopped: late inspect answers are ignored */
	struct bg_strv inspect;  /* container ids to inspect */
	struct bg_strv inflight; /* ... and those being inspected */
	/* Reasons since the last printed plan: configuration, engine, applies ... */
	struct bg_strv why;
	struct bg_strv why_drift; /* ... and drift, listed after them */
	size_t why_dropped;
	const struct watch_printer *pr; /* borrowed */
	void (*wake)(void *arg);        /* an inspect answered: the scheduler runs */
	void *wake_arg;
};

void snap_init(struct snap *s, const struct watch_printer *pr, void (*wake)(void *arg),
		void *wake_arg);
/* NULL-safe. */
void snap_release(struct snap *s);

/* ---- why a plan is printed ---- */

/* Add a reason (printf-style; repeats and more than SNAP_WHY_KEPT are not kept). */
void snap_why_add(struct snap *s, bool drift, const char *fmt, ...) BG_PRINTF(3, 4);
/* The "why:" line (a new string): "re-observed" when nothing was added. */
char *snap_why_text(const struct snap *s);
void snap_why_clear(struct snap *s);
/* What a container event e says happened to it, for a "drift:" reason, into buf; returns buf. */
const char *snap_event_words(const struct dk_event *e, char *buf, size_t len);

/* ---- containers, from events ---- */

/* A managed container by id or id prefix (borrowed), NULL if unknown. */
const struct obs_container *snap_container_find(const struct snap *s, const char *id);
/*
 * A managed container died (e, borrowed): mark it as the inspect will
 * report it, and plan now rather than in 60-300 ms.
 */
void snap_die_predict(struct snap *s, const struct dk_event *e);
/* Start inspecting the containers in s->inspect (answers come back through wake). */
void snap_inspect_issue(struct snap *s, struct dkev *ev);

/* ---- the rest, from jobs and files ---- */

/*
 * Re-read the edge files of cfg (plain file reads, on the loop). A file
 * whose content differs from the last observation changed outside
 * bluegreen, and is drift; when they cannot be read, need_rest is set.
 */
void snap_edge_reread(struct snap *s, const struct cfg *cfg);
/* A full re-list starts: it covers every partial refresh and event so far. */
void snap_full_begin(struct snap *s);
/* A partial refresh starts: seed gets a copy of the containers (obs_init'ed by the caller). */
void snap_rest_begin(struct snap *s, struct obs *seed);
/*
 * Is the container list as new as the event stream allows: a first
 * observation arrived, no full re-list is pending and every container
 * event received so far has been inspected? (The guarantee of the
 * daemon's own plans; docs/adr, "apply hand-off without re-observing".)
 */
bool snap_containers_fresh(const struct snap *s);
/* seed (obs_init'ed by the caller) gets a copy of the containers, finished. */
void snap_containers_copy(const struct snap *s, struct obs *seed);
/*
 * A refresh (full or not) produced o: it becomes the snapshot (o is
 * emptied). A partial one carries the copy of the containers it was given:
 * the snapshot's own list is newer and stays.
 */
void snap_take(struct snap *s, struct obs *o, bool full);
/* One view over both parts (borrowing their arrays) for planning: read it only. */
void snap_view(const struct snap *s, struct obs *view);

#endif /* BG_CONTROLLER_DAEMON_SNAP_H */
