/*
 * watch: see watch.h. Everything here runs on the loop thread except the
 * body of a job (job.c), which runs in libuv's thread pool. While a job
 * runs the loop never touches what it reads: configuration reloads and
 * snapshot updates wait for it to finish, and events meanwhile only set
 * flags. Every state change ends in schedule(), which decides what to do
 * next from those flags, in this order:
 *
 *   reload the configuration (debounced edits, SIGHUP, resync)
 *   read the approval file
 *   (nothing else while the engine is unreachable)
 *   start a queued apply            -> job
 *   full re-list (start, reconnect, after an apply, resync) -> job
 *   partial re-observe (config, networks, volumes changed) -> job
 *   re-inspect the containers events named (async, dkev)
 *   re-read the edge files (a plain file read)
 *   re-plan; print and journal the plan if its token changed
 *
 * The data lives with the file that changes it: the observation and the
 * why-list in snap, the apply requests in queue, the worker in job, the
 * approvals already taken in approve. This file keeps the configuration,
 * the event and request handlers, signals, the scheduler and start-up.
 */
#include "bg.h"
#include "bg-log.h"
#include "watch.h"
#include "apply.h"
#include "alert.h"
#include "approve.h"
#include "cfgwatch.h"
#include "ctlsock.h"
#include "desired.h"
#include "dkev.h"
#include "edge.h"
#include "hist.h"
#include "job.h"
#include "lock.h"
#include "logsreq.h"
#include "plan.h"
#include "pubsnap.h"
#include "queue.h"
#include "rt.h"
#include "snap.h"
#include "verify.h"
#include "watch-int.h"

#include <signal.h>
#include <unistd.h>

struct watch {
	uv_loop_t loop;
	const struct watch_printer *pr;
	struct watch_opts opts;
	char *dir;
	struct cfg *cfg;
	int64_t cfg_loaded_ms;
	char *state_dir, *docker_socket; /* fixed for the daemon's life */
	enum cfg_docker_mode docker_mode;   /* ... and so is the runtime */
	const struct rt_watch_rule *rule;   /* the runtime's event scope (issue 17), or NULL */
	char *sock_path;
	struct bg_lock *lock;
	struct hist *hist;
	struct dkev *ev;
	struct cfgw *cfgw;
	struct ctls *ctls;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t resync, retry;
	bool handles_up;

	struct snap snap;
	struct queue queue;
	struct job_pool jobs;
	struct approve_book book;

	bool connected, ever_connected, reconnected, note_unchanged;
	char *disconnect_reason;
	bool cfg_dirty, approve_dirty;
	bool cfg_forced; /* the pending reload comes from a forced batch (cfgwatch.h) */
	bool retry_wait;
	uint64_t retry_ms;
	struct bg_strv cfg_files;
	char *reload_reason;
	int64_t apply_end_ms;

	char last_token[PLAN_TOKEN_LEN + 1];
	char *last_cfg_diag;
	char *last_obs_error;

	bool stopping, shut, in_schedule, schedule_again;
	int exit_code;
	struct verify *verify; /* issue 14: watch windows after switches */
};

static void schedule(struct watch *c);

/* How long a stopping daemon waits for alerts still being delivered. */
#define WATCH_ALERT_DRAIN_MS 5000u

static void wake(void *arg)
{
	schedule(arg);
}

/* The apply running in the worker, or NULL. */
static const struct queue_req *running(const struct watch *c)
{
	return c->jobs.cur && c->jobs.cur->kind == JOB_APPLY ? c->jobs.cur->req : NULL;
}

/* ---- plans ---- */

static void replan(struct watch *c)
{
	struct plan_args args;
	struct plan p;
	struct bg_diag d;
	struct obs view;

	c->snap.want_plan = false;
	c->snap.plan_early = false;
	if (!c->snap.have) {
		return;
	}
	/* One view over both parts; rec_plan_build only reads it. */
	snap_view(&c->snap, &view);
	plan_args_init(&args);
	plan_init(&p);
	bg_diag_init(&d);
	char *why = snap_why_text(&c->snap);
	int err = rec_plan_build(&p, c->cfg, &view, &args, &d);
	explicit_bzero(&view.secrets, sizeof(view.secrets)); /* the copy of the key */
	if (err) {
		watch__diag(c->pr, &d);
		watch__complain(c->pr, "error", "cannot plan (%s): %s", why, bg_strerror(err));
	} else if (strcmp(p.token, c->last_token) != 0) {
		/* Journaled as drift when only drift explains it. */
		watch__plan_show(c->pr, c->cfg, c->hist, c->dir, &p, why,
				c->snap.why_drift.n && !c->snap.why.n);
		memcpy(c->last_token, p.token, sizeof(c->last_token));
		if (c->snap.why_drift.n) { /* issue 14: in a thread, never on the loop */
			alert_emit_text(c->cfg, CFG_ALERT_DRIFT, NULL, p.token, why, ALERT_ASYNC);
		}
	} else if (c->note_unchanged) {
		watch__note(c->pr, "plan unchanged (%s): %s", p.token, why);
	}
	c->note_unchanged = false;
	pubsnap_publish(c->state_dir, c->cfg, &view, err ? NULL : &p, c->hist); /* status.json, after the plan is out */
	snap_why_clear(&c->snap);
	free(why);
	bg_diag_release(&d);
	plan_release(&p);
	plan_args_release(&args);
}

/* ---- configuration ---- */

/* The edge directory to watch: the edge driver knows where its files are. */
static const char *edge_dir_of(const struct cfg *cfg)
{
	return edge_for(cfg)->watch_dir(cfg);
}

static void rewatch(struct watch *c)
{
	struct bg_diag d;
	bg_diag_init(&d);
	if (cfgw_watch(c->cfgw, c->dir, edge_dir_of(c->cfg), &d) != 0) {
		watch__diag(c->pr, &d);
	}
	bg_diag_release(&d);
}

/* Things a running daemon cannot change under its own feet. */
static const char *fixed_setting_changed(struct watch *c, const struct cfg *n)
{
	if (strcmp(n->g.state_dir, c->state_dir) != 0) {
		return "state_dir";
	}
	if (strcmp(n->g.docker_socket, c->docker_socket) != 0) {
		return "docker.socket";
	}
	if (n->g.docker_mode != c->docker_mode) {
		return "docker.mode";
	}
	return NULL;
}

/* The value the daemon keeps of the setting fixed_setting_changed names. */
static const char *fixed_kept(struct watch *c, const struct cfg *n)
{
	const char *what = fixed_setting_changed(c, n);
	if (strcmp(what, "docker.mode") == 0) {
		return c->docker_mode == CFG_DOCKER_SWARM ? "swarm" : "engine";
	}
	return strcmp(what, "state_dir") == 0 ? c->state_dir : c->docker_socket;
}

static void take_config(struct watch *c, struct cfg *n)
{
	bool edge_moved = strcmp(edge_dir_of(n), edge_dir_of(c->cfg)) != 0;
	cfg_destroy(c->cfg);
	c->cfg = n;
	c->cfg_loaded_ms = bg_now_ms();
	if (c->cfg_files.n || c->reload_reason) {
		if (c->reload_reason) {
			snap_why_add(&c->snap, false, "%s", c->reload_reason);
		}
		if (c->cfg_files.n) {
			char *files = watch__join_some(&c->cfg_files, 3, ", ");
			snap_why_add(&c->snap, false, "config changed: %s", files);
			free(files);
		}
	}
	bg_strv_release(&c->cfg_files);
	free(c->reload_reason);
	c->reload_reason = NULL;
	c->cfg_dirty = false;
	c->snap.need_rest = true;
	if (edge_moved) {
		rewatch(c);
	}
}

/* Print diagnostics when they differ from the last ones printed (no repeats). */
static bool cfg_diag_show(struct watch *c, const struct bg_diag *d)
{
	char *text = watch__diag_text(d);
	bool changed = !c->last_cfg_diag || strcmp(text, c->last_cfg_diag) != 0;
	if (changed) {
		watch__diag(c->pr, d);
		free(c->last_cfg_diag);
		c->last_cfg_diag = text;
	} else {
		free(text);
	}
	return changed;
}

static void config_reload(struct watch *c)
{
	struct cfg *n = NULL;
	struct bg_diag d;

	c->cfg_dirty = false;
	bg_diag_init(&d);
	int err = des_cfg_load(&n, c->dir, 0, &d);
	if (err && c->cfg_forced) {
		/* Maybe a file caught half written: the quiet batch that follows decides. */
		bg_trace(LOOP, "reload during a burst failed; waiting for quiet");
		c->cfg_forced = false;
		bg_diag_release(&d);
		return;
	}
	bool shown = cfg_diag_show(c, &d);
	if (err) {
		if (shown) {
			char ts[32];
			bg_time_format_utc(c->cfg_loaded_ms, ts);
			watch__complain(c->pr, "error", "configuration reload failed (%zu error%s): the "
					"configuration loaded at %s stays in use", d.n_errors,
					d.n_errors == 1 ? "" : "s", ts);
			struct hist_entry e = {
				.action = "error", .result = "config",
				.details = c->last_cfg_diag,
			};
			hist_append(c->hist, &e, NULL);
		}
		bg_strv_release(&c->cfg_files);
		free(c->reload_reason);
		c->reload_reason = NULL;
	} else if (fixed_setting_changed(c, n)) {
		watch__complain(c->pr, "error", "%s changed in the configuration: the running daemon "
				"keeps %s; restart it to use the new value (the previous configuration "
				"stays in use)", fixed_setting_changed(c, n), fixed_kept(c, n));
		cfg_destroy(n);
	} else {
		take_config(c, n);
	}
	bg_diag_release(&d);
}

/* ---- the approval file ---- */

static void approve_read(struct watch *c)
{
	c->approve_dirty = false;
	approve_take(&c->book, c->dir, c->hist, &c->queue, running(c), c->pr);
}

/* ---- jobs ---- */

static void on_retry(uv_timer_t *t)
{
	struct watch *c = t->data;
	c->retry_wait = false;
	schedule(c);
}

static void observe_failed(struct watch *c, struct job *j)
{
	char *text = watch__diag_text(&j->diag);
	if (!c->last_obs_error || strcmp(text, c->last_obs_error) != 0) {
		watch__diag(c->pr, &j->diag);
		watch__complain(c->pr, "error", "cannot observe (%s); the last observation stays "
				"in use and no plan is printed until this works", bg_strerror(j->err));
		free(c->last_obs_error);
		c->last_obs_error = text;
	} else {
		free(text);
	}
	if (j->kind == JOB_FULL) {
		c->snap.need_full = true;
	} else {
		c->snap.need_rest = true;
	}
	/* Never spin: a failing observation is retried with a backoff. */
	c->retry_ms = c->retry_ms ? c->retry_ms * 2 : WATCH_RETRY_INITIAL_MS;
	if (c->retry_ms > WATCH_RETRY_MAX_MS) {
		c->retry_ms = WATCH_RETRY_MAX_MS;
	}
	c->retry_wait = true;
	uv_timer_start(&c->retry, on_retry, c->retry_ms, 0);
}

static void observed(struct watch *c, struct job *j)
{
	snap_take(&c->snap, &j->obs, j->kind == JOB_FULL);
	if (j->kind == JOB_FULL) { /* issue 14: a recent switch gets its watch window */
		struct obs view;
		snap_view(&c->snap, &view);
		verify_scan(c->verify, c->cfg, &view);
	}
	c->retry_ms = 0;
	free(c->last_obs_error);
	c->last_obs_error = NULL;
	if (j->kind == JOB_FULL && c->reconnected) {
		const struct obs *cont = &c->snap.cont, *rest = &c->snap.rest;
		watch__note(c->pr, "docker: re-listed after the reconnection: %zu container%s, %zu "
				"network%s, %zu volume%s", cont->n_containers,
				cont->n_containers == 1 ? "" : "s", rest->n_networks,
				rest->n_networks == 1 ? "" : "s", rest->n_volumes,
				rest->n_volumes == 1 ? "" : "s");
		c->reconnected = false;
		c->note_unchanged = true;
	}
}

static void applied(struct watch *c, struct job *j)
{
	struct queue_req *r = j->req;

	c->apply_end_ms = bg_now_ms();
	queue_finish(&c->queue, r, j->cfg, &j->outcome, &j->diag, j->t0);
	verify_applied(c->verify, j->cfg, r, &j->outcome); /* issue 14: an auto-revert ended */
	/* apply_run observed and changed the world: see it afresh. */
	c->snap.need_full = true;
	snap_why_add(&c->snap, false, "after %s%s (exit %d)", r->token ? "apply " : "", r->label,
			j->outcome.exit);
}

/* The job pool's done callback (job.h). */
static void job_done(struct job *j, void *arg)
{
	struct watch *c = arg;

	switch (j->kind) {
	case JOB_FULL:
	case JOB_REST:
		if (j->err) {
			observe_failed(c, j);
		} else {
			observed(c, j);
		}
		break;
	case JOB_APPLY:
		applied(c, j);
		break;
	}
	job_destroy(j);
	schedule(c);
}

static void start_job(struct watch *c, enum job_kind kind, struct queue_req *req)
{
	struct obs seed;
	bool seeded = true;

	obs_init(&seed);
	if (kind == JOB_FULL) {
		snap_full_begin(&c->snap);
	} else if (kind == JOB_REST) {
		snap_rest_begin(&c->snap, &seed);
	} else if (snap_containers_fresh(&c->snap)) {
		/* An apply on what the events say: no re-list (ADR, hand-off). */
		snap_containers_copy(&c->snap, &seed);
	} else {
		seeded = false; /* behind the events: the apply lists them itself */
	}
	int err = job_start(&c->jobs, kind, c->cfg, req, seeded ? &seed : NULL);
	obs_release(&seed);
	if (err) {
		/* Cannot happen with a live loop; do not lose the request if it does. */
		watch__complain(c->pr, "error", "cannot start a worker: %s", uv_strerror(err));
		if (req) {
			queue_refuse(&c->queue, req, "refused", BG_EXIT_ERROR, NULL, "the watch daemon "
					"cannot start a worker thread: nothing was changed");
		}
	}
}

static void apply_start(struct watch *c)
{
	struct queue_req *r = queue_pop(&c->queue);
	struct cfg *n = NULL;
	struct bg_diag d;

	/*
	 * The configuration on disk, exactly as a one-shot apply would load it:
	 * a token is checked against what the files say now, not against
	 * whatever the debounce has let the daemon see.
	 */
	bg_diag_init(&d);
	/* Before any refusal: a refused approval is not retried (docs/watch.md). */
	if (r->from_approve && r->token) {
		approve_book_mark(&c->book, r->token, &r->confirms, c->pr);
	}
	int err = des_cfg_load(&n, c->dir, CFG_LOAD_PARTIAL, &d);
	if (n && n->g.install_mode == CFG_MODE_UNSET) {
		char *why = apply_mode_refusal(c->dir);
		queue_refuse(&c->queue, r, "refused", BG_EXIT_REFUSED, &d,
				"refused: %s; nothing was changed", why);
		free(why);
		cfg_destroy(n);
		goto out;
	}
	if (err || !n) {
		queue_refuse(&c->queue, r, "refused", BG_EXIT_ERROR, &d, "%s: invalid "
				"configuration: nothing was changed", c->dir);
		cfg_destroy(n);
		goto out;
	}
	if (fixed_setting_changed(c, n)) {
		queue_refuse(&c->queue, r, "refused", BG_EXIT_ERROR, NULL, "%s changed in the "
				"configuration and the watch daemon still uses the old one: restart it "
				"(`systemctl restart bluegreen`); nothing was changed",
				fixed_setting_changed(c, n));
		cfg_destroy(n);
		goto out;
	}
	/* Warnings are not sent: the client printed its own load's already. */
	take_config(c, n);
	char ts[32];
	bg_time_format_utc(bg_now_ms(), ts);
	fprintf(c->pr->out, "\n=== %s%s (%s) at %s\n", r->token ? "apply " : "", r->label,
			r->source, ts);
	fflush(c->pr->out);
	start_job(c, JOB_APPLY, r);
out:
	bg_diag_release(&d);
}

/* ---- events ---- */

static bool event_is_ours(struct watch *c, int64_t when_ms)
{
	if (running(c)) {
		return true;
	}
	/* Events of our own apply may arrive after it ended; their time says. */
	return c->apply_end_ms && when_ms && when_ms <= c->apply_end_ms;
}

static void on_docker_event(struct dkev *ev, const struct dk_event *e, void *arg)
{
	struct watch *c = arg;
	char words[128];
	bool ours;
	const char *name = e->name ? e->name : e->id ? e->id : "?";

	if (c->stopping) {
		return;
	}
	ours = event_is_ours(c, e->time_ms);
	bg_trace(LOOP, "event %d %s %s", (int)e->type, e->action, name);
	if (watch__relist_event(&c->snap, c->rule, e, ours)) {
		schedule(c); /* issue 17: the runtime re-observes rather than inspects */
		return;
	}
	switch (e->type) {
	case DK_EVENT_CONTAINER:
		if (!e->id) {
			return;
		}
		watch__strv_add_unique(&c->snap.inspect, e->id);
		if (!ours) {
			snap_why_add(&c->snap, true, "drift: %s %s", name,
					snap_event_words(e, words, sizeof(words)));
			if (strcmp(e->action, "die") == 0) {
				snap_die_predict(&c->snap, e);
			}
		}
		break;
	case DK_EVENT_NETWORK:
		if (strcmp(e->action, "connect") == 0 || strcmp(e->action, "disconnect") == 0) {
			const struct obs_container *oc = e->container
				? snap_container_find(&c->snap, e->container) : NULL;
			if (!oc) {
				return; /* not one of ours (or not known yet: its create event comes) */
			}
			watch__strv_add_unique(&c->snap.inspect, e->container);
			if (!ours) {
				snap_why_add(&c->snap, true, "drift: %s %s network %s outside bluegreen",
						oc->name, strcmp(e->action, "connect") == 0
						? "connected to" : "disconnected from", name);
			}
			break;
		}
		c->snap.need_rest = true;
		if (!ours) {
			snap_why_add(&c->snap, true, "drift: network %s: %s outside bluegreen", name,
					e->action);
		}
		break;
	case DK_EVENT_VOLUME:
		c->snap.need_rest = true;
		if (!ours) {
			snap_why_add(&c->snap, true, "drift: volume %s: %s outside bluegreen", name,
					e->action);
		}
		break;
	default:
		return;
	}
	schedule(c);
}

static void on_docker_state(struct dkev *ev, enum dkev_state st, int err, const char *reason,
		void *arg)
{
	struct watch *c = arg;

	if (c->stopping) {
		return;
	}
	if (st == DKEV_CONNECTED) {
		c->connected = true;
		watch__note(c->pr, "docker connected: engine %s, API %s at %s",
				dkev_engine_version(ev) ? dkev_engine_version(ev) : "?",
				dkev_api_version(ev) ? dkev_api_version(ev) : "?", c->docker_socket);
		/* Events may have been lost while away: re-list everything. */
		c->snap.need_full = true;
		c->retry_wait = false;
		c->retry_ms = 0;
		uv_timer_stop(&c->retry);
		if (c->ever_connected) {
			c->jobs.wrt_stale = true;
			c->reconnected = true;
			snap_why_add(&c->snap, false, "docker reconnected");
		}
		c->ever_connected = true;
		free(c->disconnect_reason);
		c->disconnect_reason = NULL;
	} else {
		c->connected = false;
		free(c->disconnect_reason);
		c->disconnect_reason = bg_xstrdup(reason ? reason : bg_strerror(err));
		watch__note(c->pr, "docker disconnected: %s; reconnecting with backoff (no plan until the "
				"engine is back)", c->disconnect_reason);
		bg_strv_release(&c->snap.inspect);
	}
	schedule(c);
}

static void on_files(struct cfgw *w, const struct cfgw_batch *b, void *arg)
{
	struct watch *c = arg;

	if (c->stopping) {
		return;
	}
	bg_trace(LOOP, "files: kinds %u, %zu events", b->kinds, b->n_events);
	if (b->kinds & CFGW_CONFIG) {
		c->cfg_dirty = true;
		c->cfg_forced = b->forced;
		for (size_t i = 0; i < b->config_files.n; i++) {
			watch__strv_add_unique(&c->cfg_files, b->config_files.v[i]);
		}
	}
	if (b->kinds & CFGW_APPROVE) {
		c->approve_dirty = true;
	}
	if (b->kinds & CFGW_EDGE) {
		/* Whether it is drift is decided by content, in snap_edge_reread. */
		c->snap.edge_dirty = true;
	}
	schedule(c);
}

/*
 * A client's request: queued, or refused at once. Its actor in the
 * journal is user@host: the user of its uid (SO_PEERCRED, which it cannot
 * choose), by name, else "uid N", on our host, as bg_actor() names ours. A
 * $SUDO_USER of the daemon's own environment says nothing about the
 * client: none is kept.
 */
static void on_request(struct ctls *s, struct ctls_conn *conn, const struct ctls_request *req,
		void *arg)
{
	struct watch *c = arg;

	if (req->logs_site) { /* issue 15: a read, neither queued nor journaled (logsreq.h) */
		struct obs view;
		snap_view(&c->snap, &view);
		logsreq_serve(&c->loop, c->cfg, &view, c->snap.have, c->stopping, conn, req);
		explicit_bzero(&view.secrets, sizeof(view.secrets)); /* the copy of the key */
		return;
	}
	if (queue_refuse_invalid(c->cfg, c->stopping, conn, req)) {
		return;
	}
	queue_prune(&c->queue);
	/* issue 15: an admin-mode cockpit names its user ("cockpit:USER", ctlsock.h). */
	char *actor = req->actor ? bg_xstrdup(req->actor) : bg_actor_of_uid(ctls_conn_uid(conn));
	if (queue_refuse_request(&c->queue, running(c), conn, req, actor)) {
		free(actor);
		return;
	}
	queue_push(&c->queue, queue_req_from_client(conn, req, actor), running(c) != NULL);
	schedule(c);
}

/* A client waiting in the queue hung up: drop its request now (queue_prune). */
static void on_client_gone(struct ctls *s, struct ctls_conn *conn, void *arg)
{
	schedule(arg);
}

/* ---- signals and timers ---- */

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct watch *c = h->data;
	const char *name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
	if (c->stopping) {
		watch__note(c->pr, "%s: already stopping (waiting for the current step to finish)", name);
		return;
	}
	c->stopping = true;
	job_pool_cancel(&c->jobs);
	if (running(c)) {
		watch__note(c->pr, "%s: stopping: apply %s stops at its next safe point (between steps, or "
				"inside a health wait or drain), then the daemon exits", name,
				c->jobs.cur->req->label);
	} else {
		watch__note(c->pr, "%s: stopping", name);
	}
	schedule(c);
}

static void on_sighup(uv_signal_t *h, int signum)
{
	struct watch *c = h->data;
	if (c->stopping) {
		return;
	}
	watch__note(c->pr, "SIGHUP: reloading the configuration");
	c->cfg_dirty = true;
	free(c->reload_reason);
	c->reload_reason = bg_xstrdup("configuration reloaded (SIGHUP)");
	rewatch(c);
	schedule(c);
}

static void on_resync(uv_timer_t *t)
{
	struct watch *c = t->data;
	/* The safety net: anything an event could not tell (an image re-tagged). */
	c->snap.need_full = true;
	c->cfg_dirty = true;
	free(c->reload_reason);
	c->reload_reason = bg_xstrdup("periodic resync");
	snap_why_add(&c->snap, false, "periodic resync");
	rewatch(c);
	schedule(c);
}

/* ---- scheduling ---- */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static void shutdown_now(struct watch *c)
{
	struct queue_req *r;
	c->shut = c->snap.shut = true;
	while ((r = queue_pop(&c->queue))) {
		/* Not started: an approval line is tried again at the next start. */
		queue_refuse(&c->queue, r, "dropped", BG_EXIT_ERROR, NULL, "error: the watch daemon "
				"stopped before this apply started: nothing was changed");
	}
	ctls_close(c->ctls, NULL);
	c->ctls = NULL;
	cfgw_close(c->cfgw, NULL);
	c->cfgw = NULL;
	dkev_close(c->ev, NULL);
	c->ev = NULL;
	close_handle((uv_handle_t *)&c->sigterm);
	close_handle((uv_handle_t *)&c->sigint);
	close_handle((uv_handle_t *)&c->sighup);
	close_handle((uv_handle_t *)&c->resync);
	close_handle((uv_handle_t *)&c->retry);
	verify_stop(c->verify);
	job_pool_close(&c->jobs);
	watch__note(c->pr, "stopped");
}

static void step(struct watch *c)
{
	/* Even while an apply runs: a client that gave up is answered now. */
	queue_prune(&c->queue);
	if (c->shut || c->jobs.cur) {
		return;
	}
	if (c->stopping) {
		shutdown_now(c);
		return;
	}
	if (c->cfg_dirty) {
		config_reload(c);
	}
	if (c->approve_dirty) {
		approve_read(c);
	}
	if (!c->connected) {
		queue_tell_waiting(&c->queue, c->disconnect_reason);
		return;
	}
	if (c->snap.inflight.n) {
		return; /* inspects in flight: their answers come back here */
	}
	if (c->queue.head && (c->snap.have || c->retry_wait)) {
		apply_start(c);
		c->schedule_again = !c->jobs.cur; /* refused before starting: look again */
		return;
	}
	if (c->retry_wait) {
		return;
	}
	if (c->snap.need_full) {
		start_job(c, JOB_FULL, NULL);
		return;
	}
	if (c->snap.need_rest) {
		start_job(c, JOB_REST, NULL);
		return;
	}
	if (c->snap.inspect.n) {
		snap_inspect_issue(&c->snap, c->ev);
		/* Wait for the answers, unless a die event already said what they will. */
		if (c->snap.inflight.n && !c->snap.plan_early) {
			return;
		}
	}
	if (c->snap.edge_dirty) {
		snap_edge_reread(&c->snap, c->cfg);
		if (c->snap.need_rest) {
			c->schedule_again = true;
			return;
		}
	}
	if (c->snap.want_plan) {
		replan(c);
	}
}

static void schedule(struct watch *c)
{
	/* Callbacks may nest (a request answered at once): run step() flat. */
	if (c->in_schedule) {
		c->schedule_again = true;
		return;
	}
	c->in_schedule = true;
	do {
		c->schedule_again = false;
		step(c);
	} while (c->schedule_again);
	c->in_schedule = false;
}

/* ---- start and end ---- */

/* The configuration: a bad one is fatal at startup (STYLE B4); later, only logged. */
static int load_config(struct watch *c)
{
	struct bg_diag d;

	bg_diag_init(&d);
	int err = des_cfg_load(&c->cfg, c->dir, 0, &d);
	c->pr->diag(c->pr->arg, &d);
	c->last_cfg_diag = watch__diag_text(&d);
	if (err) {
		fprintf(c->pr->err, "bluegreen: %s: invalid configuration (%zu error%s): watch "
				"not started\n", c->dir, d.n_errors, d.n_errors == 1 ? "" : "s");
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	c->docker_mode = c->cfg->g.docker_mode;
	c->cfg_loaded_ms = bg_now_ms();
	c->state_dir = bg_xstrdup(c->cfg->g.state_dir);
	c->docker_socket = bg_xstrdup(c->cfg->g.docker_socket);
	return 0;
}

/* The state directory, its lock (for the daemon's life), the history and the approvals taken. */
static int open_state(struct watch *c)
{
	struct bg_diag d;

	bg_diag_init(&d);
	int err = bg_state_dir_prepare(c->state_dir, &d);
	if (err) {
		c->pr->diag(c->pr->arg, &d);
		bg_diag_release(&d);
		fprintf(c->pr->err, "bluegreen: error: state directory %s: watch not started\n",
				c->state_dir);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	/*
	 * The daemon is the converger of this state directory, for its whole
	 * life. It waits a little: a `plan` takes the lock for a moment to
	 * journal interrupted applies, and must not stop a daemon from starting;
	 * a converger that really holds it is still refused after the wait.
	 */
	bg_diag_init(&d);
	err = lock_acquire(&c->lock, c->state_dir, "watch", 2000, &d);
	if (err) {
		c->pr->diag(c->pr->arg, &d);
		bg_diag_release(&d);
		fprintf(c->pr->err, "bluegreen: error: another converger holds the state "
				"directory: watch not started\n");
		return BG_EXIT_ERROR;
	}
	err = hist_open(&c->hist, c->state_dir, 0, &d);
	if (err) {
		c->pr->diag(c->pr->arg, &d);
		bg_diag_release(&d);
		fprintf(c->pr->err, "bluegreen: error: cannot open the history in %s: %s\n",
				c->state_dir, bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	char *report = NULL;
	if (apply_recover(c->hist, c->state_dir, &report)) {
		fprintf(c->pr->err, "bluegreen: warning: %s", report);
		free(report);
	}
	c->queue.hist = c->hist;
	approve_book_init(&c->book, c->state_dir);
	approve_book_load(&c->book);
	return 0;
}

/* Issue 14: a watch window asks to look again (a revision rejected) or to run a revert. */
static void verify_kick(void *arg, bool reobserve, const char *why)
{
	struct watch *c = arg;
	if (reobserve) {
		c->snap.need_rest = true;
		snap_why_add(&c->snap, false, "%s", why);
	}
	schedule(c);
}

/* The worker's Docker client, the event loop, its signals and timers. */
static int open_engine(struct watch *c)
{
	int err = job_pool_init(&c->jobs, &c->cfg->g, c->pr->out, job_done, c);
	if (err) {
		fprintf(c->pr->err, "bluegreen: error: docker client: %s\n", bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	err = uv_loop_init(&c->loop);
	if (err) {
		fprintf(c->pr->err, "bluegreen: error: event loop: %s\n", uv_strerror(err));
		return BG_EXIT_ERROR;
	}
	job_pool_start(&c->jobs, &c->loop, c->hist);
	c->verify = verify_create(&c->loop, c->pr, c->hist, &c->queue, &c->snap,
			(const struct cfg *const *)&c->cfg, verify_kick, c);
	uv_signal_init(&c->loop, &c->sigterm);
	uv_signal_init(&c->loop, &c->sigint);
	uv_signal_init(&c->loop, &c->sighup);
	c->sigterm.data = c->sigint.data = c->sighup.data = c;
	uv_signal_start(&c->sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&c->sigint, on_stop_signal, SIGINT);
	uv_signal_start(&c->sighup, on_sighup, SIGHUP);
	uv_timer_init(&c->loop, &c->resync);
	uv_timer_init(&c->loop, &c->retry);
	c->resync.data = c->retry.data = c;
	uint64_t resync = c->opts.resync_ms ? c->opts.resync_ms : WATCH_RESYNC_MS;
	uv_timer_start(&c->resync, on_resync, resync, resync);
	c->handles_up = true;
	return 0;
}

/* The configuration and edge files, the control socket, the Docker event stream. */
static int open_watchers(struct watch *c)
{
	struct bg_diag d;
	int err = cfgw_create(&c->cfgw, &c->loop, on_files, c);
	if (err) {
		fprintf(c->pr->err, "bluegreen: error: file watcher: %s\n", uv_strerror(err));
		return BG_EXIT_ERROR;
	}
	cfgw_set_timing(c->cfgw, c->opts.debounce_ms, 0);
	/* The state directory may live in the configuration directory (state_dir: state). */
	char *sd = bg_xstrdup(c->state_dir);
	char *slash = strrchr(sd, '/');
	if (slash && slash != sd) {
		*slash = '\0';
		if (strcmp(sd, c->dir) == 0) {
			cfgw_ignore(c->cfgw, slash + 1);
		}
	}
	free(sd);
	bg_diag_init(&d);
	err = cfgw_watch(c->cfgw, c->dir, edge_dir_of(c->cfg), &d);
	if (err) {
		c->pr->diag(c->pr->arg, &d);
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	c->sock_path = bg_xasprintf("%s/%s", c->state_dir, CTLS_SOCKET_NAME);
	err = ctls_listen(&c->ctls, &c->loop, c->sock_path, on_request, c, &d);
	if (err) {
		/* The approval file still works; `bluegreen apply` then waits for the lock. */
		c->pr->diag(c->pr->arg, &d);
		watch__complain(c->pr, "warning", "no control socket: `bluegreen apply` cannot hand "
				"tokens to this daemon (use %s/%s)", c->dir, CFGW_APPROVE_NAME);
		c->ctls = NULL;
	} else {
		ctls_set_gone_cb(c->ctls, on_client_gone);
	}
	bg_diag_release(&d);
	err = dkev_create(&c->ev, &c->loop, c->docker_socket, on_docker_event, on_docker_state, c);
	c->rule = err ? NULL : rt_watch_rule(c->jobs.wrt); /* issue 17: a Swarm's events */
	if (c->rule) {
		dkev_set_scope(c->ev, c->rule->events_query, c->rule->accept);
	}
	if (!err) {
		err = dkev_start(c->ev);
	}
	if (err) {
		fprintf(c->pr->err, "bluegreen: error: docker event stream: %s\n", bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	return 0;
}

/* Say where everything is, and ask for the first approvals read and re-list. */
static void announce(struct watch *c)
{
	watch__note(c->pr, "started (pid %ld): config %s (%zu site%s), state %s, edge %s, "
			"approvals in %s/%s, control socket %s", (long)getpid(), c->dir,
			c->cfg->n_sites, c->cfg->n_sites == 1 ? "" : "s", c->state_dir,
			edge_dir_of(c->cfg), c->dir, CFGW_APPROVE_NAME,
			c->ctls ? c->sock_path : "(none)");
	c->approve_dirty = true;
	c->snap.need_full = true;
	snap_why_add(&c->snap, false, "daemon started");
}

static int start(struct watch *c)
{
	int rc = load_config(c);
	if (!rc) {
		rc = open_state(c);
	}
	if (!rc) {
		rc = open_engine(c);
	}
	if (!rc) {
		rc = open_watchers(c);
	}
	if (!rc) {
		announce(c);
	}
	return rc;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	close_handle(h);
}

/* Everything but the loop, which watch_run closes first. */
static void watch_free(struct watch *c)
{
	verify_destroy(c->verify);
	hist_close(c->hist);
	lock_release(c->lock);
	job_pool_release(&c->jobs);
	cfg_destroy(c->cfg);
	snap_release(&c->snap);
	queue_release(&c->queue);
	approve_book_release(&c->book);
	bg_strv_release(&c->cfg_files);
	free(c->reload_reason);
	free(c->disconnect_reason);
	free(c->last_cfg_diag);
	free(c->last_obs_error);
	free(c->sock_path);
	free(c->state_dir);
	free(c->docker_socket);
	free(c->dir);
	free(c);
}

int watch_run(const struct watch_opts *opts, const char *dir, const struct watch_printer *pr)
{
	struct watch *c = bg_xcalloc(1, sizeof(*c));
	int rc;

	c->pr = pr;
	if (opts) {
		c->opts = *opts;
	}
	c->dir = bg_xstrdup(dir);
	snap_init(&c->snap, pr, wake, c);
	queue_init(&c->queue, NULL, pr);
	bg_strv_init(&c->cfg_files);
	/* A client that hangs up must not kill the daemon with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	rc = start(c);
	if (rc == 0) {
		schedule(c);
		uv_run(&c->loop, UV_RUN_DEFAULT);
		rc = c->exit_code;
		/* Issue 14: alerts in flight (verify-failed, auto-revert) get a bounded chance. */
		if (alert_wait_idle(WATCH_ALERT_DRAIN_MS) != 0) {
			bg_log(BG_LOG_WARN, "alerts still being delivered after %u ms: not waited for",
					WATCH_ALERT_DRAIN_MS);
		}
	} else if (c->handles_up || c->cfgw || c->ev || c->ctls) {
		/* A failure half way through start: close what was opened. */
		ctls_close(c->ctls, NULL);
		cfgw_close(c->cfgw, NULL);
		dkev_close(c->ev, NULL);
		uv_walk(&c->loop, walk_close, NULL);
		uv_run(&c->loop, UV_RUN_DEFAULT);
	}
	if (c->handles_up && uv_loop_close(&c->loop) != 0) {
		bg_log(BG_LOG_WARN, "event loop closed with handles still open");
	}
	watch_free(c);
	return rc;
}
