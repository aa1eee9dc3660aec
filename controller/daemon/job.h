/*
 * job: the watch daemon's work off the loop. A job is a full observation,
 * a partial one (everything but the containers) or an apply_run, run in
 * libuv's thread pool with the pool's own blocking Docker client, so that
 * the loop keeps receiving events meanwhile. Only one job exists at a
 * time, and while it runs the loop never touches what the job reads (its
 * configuration, the worker's Docker client).
 *
 * An apply's progress lines cross back to the loop through a mutex-guarded
 * list and a uv_async_t; the loop prints them and streams them to the
 * client waiting for the apply. The stop flag the loop sets for a running
 * apply (SIGTERM) is a C11 atomic read by the worker (apply_opts.cancel).
 * When a job ends, the pool hands it to its done callback on the loop.
 */
#ifndef BG_CONTROLLER_DAEMON_JOB_H
#define BG_CONTROLLER_DAEMON_JOB_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"
#include "apply.h"
#include "obs.h"
#include "queue.h"
#include "rt.h"

#include <stdatomic.h>
#include <uv.h>

struct cfg;
struct hist;
struct job_pool;

enum job_kind {
	JOB_FULL = 1, /* rec_observe(..., 0, ...) */
	JOB_REST,     /* everything but the containers */
	JOB_APPLY,    /* apply_run */
};

struct job {
	uv_work_t work;
	struct job_pool *pool;
	enum job_kind kind;
	const struct cfg *cfg; /* the loop keeps it alive and unchanged meanwhile */
	struct obs obs;        /* what an observation read; JOB_APPLY: see seeded */
	/* JOB_APPLY: obs holds the snapshot's containers, fresh (snap_containers_fresh):
	 * the apply observes only the rest (no container list, no inspects). */
	bool seeded;
	struct bg_diag diag;
	int err;               /* an observation's result */
	struct queue_req *req; /* JOB_APPLY: the request (the job's) */
	struct apply_outcome outcome;
	int64_t t0;            /* bg_mono_ms at the start */
};

/* A job ended (on the loop): the callback owns j and job_destroy()s it. */
typedef void (*job_done_cb)(struct job *j, void *arg);

struct job_pool {
	uv_loop_t *loop;
	struct hist *hist;          /* borrowed */
	struct rt *wrt;             /* the worker's blocking runtime (rt_open: engine or Swarm) */
	bool wrt_stale;             /* a new engine may be behind the socket: new wrt first */
	uv_async_t progress;
	uv_mutex_t pmu;
	struct bg_strv plines;      /* progress lines from the worker, under pmu */
	bool started;               /* pmu and progress exist */
	atomic_int cancel;          /* apply_opts.cancel of the running apply (apply.h) */
	struct job *cur;            /* the running job, or NULL */
	FILE *out;                  /* where progress lines are printed */
	job_done_cb done;
	void *arg;
};

/*
 * Set up the pool for the runtime g names (rt_open: docker.socket and
 * docker.mode, read now), its worker's client included. Returns 0 or a
 * negative error (the client).
 */
struct cfg_global;
int job_pool_init(struct job_pool *jp, const struct cfg_global *g, FILE *out,
		job_done_cb done, void *arg);
/* The loop's part: the progress channel (a uv_async_t on loop). */
void job_pool_start(struct job_pool *jp, uv_loop_t *loop, struct hist *h);
/* Close the progress handle (before the loop's last run). NULL-safe. */
void job_pool_close(struct job_pool *jp);
/* After the loop is closed: free the rest. NULL-safe. */
void job_pool_release(struct job_pool *jp);

/*
 * Start a job of kind on cfg: req (JOB_APPLY) is taken on success, seed
 * (may be NULL; the containers a JOB_REST or a JOB_APPLY is given) is taken
 * whatever happens. A JOB_APPLY given a seed does not list the containers. Returns 0 (jp->cur is the job), or a negative error from
 * uv_queue_work, and then req stays the caller's.
 */
int job_start(struct job_pool *jp, enum job_kind kind, const struct cfg *cfg,
		struct queue_req *req, struct obs *seed);
/* Ask the running apply to stop at its next safe point (and any later one). */
void job_pool_cancel(struct job_pool *jp);
/* NULL-safe. */
void job_destroy(struct job *j);

#endif /* BG_CONTROLLER_DAEMON_JOB_H */
