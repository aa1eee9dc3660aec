/*
 * job: see job.h. job_work is the only code of the daemon that runs off
 * the loop thread; it reads the job, the configuration it was given, the
 * worker's runtime client (rt.h), the history (LMDB: its own transactions)
 * and the cancel flag, and writes only the job and, under pmu, the
 * progress lines.
 */
#include "bg.h"
#include "job.h"
#include "hist.h"
#include "rec.h"

int job_pool_init(struct job_pool *jp, const struct cfg_global *g, FILE *out,
		job_done_cb done, void *arg)
{
	memset(jp, 0, sizeof(*jp));
	bg_strv_init(&jp->plines);
	atomic_init(&jp->cancel, 0);
	jp->out = out;
	jp->done = done;
	jp->arg = arg;
	return rt_open(&jp->wrt, g);
}

/*
 * Worker thread: queue one progress line for the loop ('T' transient, 'S'
 * secret: the waiting client only, never the daemon's output; 'L' a line).
 */
static void job_progress(void *arg, const char *line, unsigned flags)
{
	struct job_pool *jp = arg;
	char kind = (flags & REC_PROGRESS_SECRET) ? 'S' : (flags & REC_PROGRESS_TRANSIENT) ? 'T' : 'L';
	char *entry = bg_xasprintf("%c%s", kind, line);
	uv_mutex_lock(&jp->pmu);
	bg_strv_push_take(&jp->plines, entry);
	uv_mutex_unlock(&jp->pmu);
	uv_async_send(&jp->progress);
}

/* Print the lines so far, and stream them to the client waiting for j's apply. */
static void progress_drain(struct job_pool *jp, struct job *j)
{
	struct bg_strv lines;
	uv_mutex_lock(&jp->pmu);
	lines = jp->plines;
	bg_strv_init(&jp->plines);
	uv_mutex_unlock(&jp->pmu);
	struct ctls_conn *conn = j && j->req ? j->req->conn : NULL;
	for (size_t i = 0; i < lines.n; i++) {
		bool transient = lines.v[i][0] == 'T';
		const char *text = lines.v[i] + 1;
		if (conn) {
			ctls_conn_send(conn, transient ? CTLS_STATUS : CTLS_OUT, text);
		}
		if (lines.v[i][0] == 'L') {
			fprintf(jp->out, "%s\n", text);
		}
	}
	fflush(jp->out);
	bg_strv_release(&lines);
}

static void on_progress(uv_async_t *h)
{
	struct job_pool *jp = h->data;
	progress_drain(jp, jp->cur);
}

void job_pool_start(struct job_pool *jp, uv_loop_t *loop, struct hist *h)
{
	jp->loop = loop;
	jp->hist = h;
	uv_mutex_init(&jp->pmu);
	uv_async_init(loop, &jp->progress, on_progress);
	jp->progress.data = jp;
	jp->started = true;
}

void job_pool_close(struct job_pool *jp)
{
	if (jp && jp->started && !uv_is_closing((uv_handle_t *)&jp->progress)) {
		uv_close((uv_handle_t *)&jp->progress, NULL);
	}
}

void job_pool_release(struct job_pool *jp)
{
	if (!jp) {
		return;
	}
	if (jp->started) {
		uv_mutex_destroy(&jp->pmu);
		jp->started = false;
	}
	rt_destroy(jp->wrt);
	jp->wrt = NULL;
	bg_strv_release(&jp->plines);
}

void job_pool_cancel(struct job_pool *jp)
{
	atomic_store(&jp->cancel, 1);
}

/* Worker thread. */
static void job_work(uv_work_t *w)
{
	struct job *j = w->data;
	struct job_pool *jp = j->pool;

	switch (j->kind) {
	case JOB_FULL:
		j->err = rec_observe(jp->wrt, j->cfg, jp->hist, &j->obs, 0, &j->diag);
		break;
	case JOB_REST:
		j->err = rec_observe(jp->wrt, j->cfg, jp->hist, &j->obs, REC_OBSERVE_NO_CONTAINERS,
				&j->diag);
		break;
	case JOB_APPLY: {
		struct apply_opts o = {
			.token = j->req->token,
			.rollback_site = j->req->rollback_site,
			.confirms = &j->req->confirms,
			.actor = j->req->actor,
			.progress = job_progress,
			.progress_arg = jp,
			.cancel = &jp->cancel,
			.known = j->seeded ? &j->obs : NULL,
		};
		apply_run(j->cfg, jp->wrt, jp->hist, &o, &j->outcome, &j->diag);
		break;
	}
	}
}

void job_destroy(struct job *j)
{
	if (!j) {
		return;
	}
	obs_release(&j->obs);
	bg_diag_release(&j->diag);
	apply_outcome_release(&j->outcome);
	queue_req_free(j->req);
	free(j);
}

/* Loop thread: the job ended (status: UV_ECANCELED never happens, nothing cancels work). */
static void job_after(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct job_pool *jp = j->pool;

	(void)status;
	jp->cur = NULL;
	progress_drain(jp, j);
	jp->done(j, jp->arg);
}

int job_start(struct job_pool *jp, enum job_kind kind, const struct cfg *cfg,
		struct queue_req *req, struct obs *seed)
{
	struct job *j = bg_xcalloc(1, sizeof(*j));
	j->pool = jp;
	j->kind = kind;
	j->cfg = cfg;
	j->req = req;
	j->t0 = bg_mono_ms();
	j->work.data = j;
	obs_init(&j->obs);
	if (seed) {
		j->obs = *seed;
		obs_init(seed);
		j->seeded = kind == JOB_APPLY;
	}
	bg_diag_init(&j->diag);
	apply_outcome_init(&j->outcome);

	if (jp->wrt_stale) {
		/* A new engine may be behind the socket: start from a fresh client. */
		struct rt *n = NULL;
		if (rt_reopen(jp->wrt, &n) == 0) {
			rt_destroy(jp->wrt);
			jp->wrt = n;
		}
		jp->wrt_stale = false;
	}
	int err = uv_queue_work(jp->loop, &j->work, job_work, job_after);
	if (err) {
		j->req = NULL; /* still the caller's */
		job_destroy(j);
		return err;
	}
	jp->cur = j;
	return 0;
}
