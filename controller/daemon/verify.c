/*
 * verify: see verify.h. A window is a thread that samples and a record
 * the loop keeps. The thread owns its samples until it says it is done
 * (under the window's mutex) and wakes the loop (uv_async_send, which is
 * thread-safe); the loop then joins it, so every figure it reads was
 * written before the join. Nothing in a window thread touches the
 * configuration, the snapshot or the history: it works on copies made when
 * the window started (URLs, host, path, rules).
 *
 * Decisions that need the world as it is now (is the watched colour still
 * live, is the previous one still running, is this still the newest
 * switch) are taken on the loop, from the daemon's snapshot and journal,
 * just before a revert is queued.
 */
#include "bg.h"
#include "bg-log.h"
#include "verify.h"
#include "alert.h"
#include "apply.h"
#include "checks.h"
#include "desired.h"
#include "edge-verify.h"
#include "hist.h"
#include "hist-live.h"
#include "obs.h"
#include "queue.h"
#include "rt.h"
#include "snap.h"
#include "watch-int.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

/* Newest journal entries of a site looked at to find its last switch. */
#define SCAN_ENTRIES 64
/* Samples kept per series (a 10-minute window at 1 s is 600). */
#define SERIES_MAX 100000

/* ---- the verdict (pure) ---- */

const char *verify_verdict_name(enum verify_verdict v)
{
	switch (v) {
	case VERIFY_PASSED:
		return "passed";
	case VERIFY_FAILED_ERRORS:
		return "failed: error rate";
	case VERIFY_FAILED_LATENCY:
		return "failed: latency";
	default:
		return "pending";
	}
}

/* errors/n above pct percent? In integers: no rounding at the limit. */
static bool rate_above(unsigned errors, unsigned n, unsigned pct)
{
	return n && (uint64_t)errors * 100 > (uint64_t)pct * n;
}

static unsigned pct_of(unsigned errors, unsigned n)
{
	return n ? (unsigned)(((uint64_t)errors * 100 + n / 2) / n) : 0;
}

enum verify_verdict verify_judge(const struct cfg_verify *rules, const struct verify_figures *edge,
		const struct verify_figures *live, const struct verify_figures *prev, bool final,
		char **why)
{
	enum verify_verdict v = VERIFY_PENDING;
	char lat[160] = "";

	bool enough = edge->n >= rules->min_requests || (final && edge->n);
	if (enough && rate_above(edge->errors, edge->n, rules->error_rate)) {
		v = VERIFY_FAILED_ERRORS;
	} else if (final && !edge->n) {
		v = VERIFY_FAILED_ERRORS; /* a window without one answer proves nothing good */
	}
	bool both = live && prev && live->n > live->errors && prev->n > prev->errors;
	if (rules->compare && both) {
		uint64_t limit = prev->p95_ms * (100 + VERIFY_DEGRADATION_PCT);
		bool slower = live->p95_ms * 100 > limit &&
				live->p95_ms > prev->p95_ms + rules->slack_ms;
		long long d = prev->p95_ms ? ((long long)live->p95_ms - (long long)prev->p95_ms) *
				100 / (long long)prev->p95_ms : 0;
		snprintf(lat, sizeof(lat), "; p95 %" PRIu64 " ms on the live colour vs %" PRIu64
				" ms on the previous (%+lld %%, limit +%d %% and +%" PRIu64 " ms)",
				live->p95_ms, prev->p95_ms, d, VERIFY_DEGRADATION_PCT, rules->slack_ms);
		if (final && slower && v == VERIFY_PENDING) {
			v = VERIFY_FAILED_LATENCY;
		}
	} else if (rules->compare && final) {
		snprintf(lat, sizeof(lat), "; latency not compared (%s)",
				!prev || !prev->n ? "no previous colour to measure"
						  : "a colour never answered");
	}
	if (final && v == VERIFY_PENDING) {
		v = VERIFY_PASSED;
	}
	if (why) {
		*why = bg_xasprintf("%u request%s through the edge, %u error%s (%u %%, limit %u %%), "
				"p95 %" PRIu64 " ms%s", edge->n, edge->n == 1 ? "" : "s",
				edge->errors, edge->errors == 1 ? "" : "s",
				pct_of(edge->errors, edge->n), rules->error_rate, edge->p95_ms, lat);
	}
	return v;
}

/* ---- a window ---- */

struct series {
	uint64_t *ms;    /* answered requests' times */
	size_t n_ms, cap;
	unsigned n, errors;
	char *last_error;
};

struct window {
	struct window *next;
	struct verify *v;
	/* What was switched (from the journal). */
	char *site;
	uint64_t switch_seq;
	char *live, *prev;   /* colours; prev NULL: a first deploy */
	unsigned live_version, prev_version;
	char *live_spec;     /* the live revision's spec hash, from its containers */
	/* Copies the thread reads. */
	struct cfg_verify rules;
	char *edge_base;     /* NULL: the edge cannot be asked (sampled directly) */
	char *host, *path;
	/* The site's checks that can be asked through the edge (http,
	 * forbidden, latency): a copy, so a config reload changes nothing. */
	struct cfg_check *checks;
	size_t n_checks;
	struct bg_strv live_urls, prev_urls;
	int64_t end_mono;
	uint64_t window_ms;
	/* The thread. */
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stop;
	bool done;          /* under mu */
	struct series edge, direct_live, direct_prev;
	enum verify_verdict verdict;
	char *evidence;
	int64_t t0_mono, verdict_mono;
};

struct revert {
	struct revert *next;
	char *site;
	char *evidence;
	uint64_t switch_seq;
};

struct verify {
	uv_loop_t *loop;
	uv_async_t async;
	bool async_up;
	const struct watch_printer *pr;
	struct hist *hist;
	struct queue *queue;
	struct snap *snap;
	const struct cfg *const *cfgp;
	verify_kick_cb kick;
	void *arg;
	char *actor;
	pthread_mutex_t mu;
	struct window *windows;   /* running or done, not yet handled */
	struct bg_strv handled;   /* "SITE #SEQ": switches with a window already */
	struct revert *reverts;   /* queued auto-reverts, until their apply ends */
	atomic_int stopping;      /* verify_stop began: the async handle is going */
};

static void series_add(struct series *s, bool error, uint64_t ms, bool answered,
		const char *what)
{
	s->n++;
	if (error) {
		s->errors++;
		free(s->last_error);
		s->last_error = bg_xstrdup(what);
	}
	if (answered && s->n_ms < SERIES_MAX) {
		if (s->n_ms == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->ms = bg_xrealloc(s->ms, s->cap * sizeof(*s->ms));
		}
		s->ms[s->n_ms++] = ms;
	}
}

static void series_figures(const struct series *s, struct verify_figures *f)
{
	uint64_t *copy = bg_xcalloc(s->n_ms ? s->n_ms : 1, sizeof(*copy));
	if (s->n_ms) { /* s->ms is NULL until a first answer: memcpy's source must not be */
		memcpy(copy, s->ms, s->n_ms * sizeof(*copy));
	}
	f->n = s->n;
	f->errors = s->errors;
	f->p95_ms = chk_percentile(copy, s->n_ms, 95);
	free(copy);
}

static void series_release(struct series *s)
{
	free(s->ms);
	free(s->last_error);
	memset(s, 0, sizeof(*s));
}

/* One GET: an error is no answer, a timeout, or a 5xx. */
static void sample(struct series *s, const char *base, const char *host, const char *path,
		uint64_t timeout_ms)
{
	struct chk_answer a = {0};
	char *why = NULL;
	int rc = chk_fetch(base, host, "GET", path, timeout_ms, &a, &why);
	if (rc != 0) {
		series_add(s, true, 0, false, why ? why : "no answer");
	} else {
		char what[32];
		snprintf(what, sizeof(what), "HTTP %ld", a.status);
		series_add(s, a.status >= 500, a.ms, true, what);
		chk_answer_release(&a);
	}
	free(why);
}

/*
 * The site's own checks, once a round, through the edge: a failed check
 * is an error of the edge series (the verdict and its evidence then name
 * it, unchanged). Only the kinds an edge can answer run here; tcp,
 * command and log checks ran in the gate before the switch.
 */
static void sample_checks(struct window *w)
{
	if (!w->n_checks || !w->edge_base) {
		return;
	}
	struct cfg_site s = {.name = w->site, .checks = w->checks, .n_checks = w->n_checks};
	struct chk_target t = {.base_url = w->edge_base, .host = w->host};
	struct chk_report r;
	chk_site_run(&s, -1, &t, &r);
	for (size_t i = 0; i < r.n_fail; i++) {
		char *what = bg_xasprintf("check %s (%s): %s", r.fail[i].name, r.fail[i].kind,
				r.fail[i].seen);
		series_add(&w->edge, true, 0, false, what);
		free(what);
	}
	chk_report_release(&r);
}

/* One round: through the edge, then each colour directly (round-robin over replicas). */
static void round_once(struct window *w, unsigned i)
{
	uint64_t t = w->rules.timeout_ms;
	const char *live_direct = w->live_urls.n ? w->live_urls.v[i % w->live_urls.n] : NULL;
	if (w->edge_base) {
		sample(&w->edge, w->edge_base, w->host, w->path, t);
	} else if (live_direct) {
		sample(&w->edge, live_direct, NULL, w->path, t);
	}
	sample_checks(w);
	if (live_direct) {
		sample(&w->direct_live, live_direct, NULL, w->path, t);
	}
	if (w->prev_urls.n) {
		sample(&w->direct_prev, w->prev_urls.v[i % w->prev_urls.n], NULL, w->path, t);
	}
}

static void judge(struct window *w, bool final)
{
	struct verify_figures e, l, p;
	series_figures(&w->edge, &e);
	series_figures(&w->direct_live, &l);
	series_figures(&w->direct_prev, &p);
	free(w->evidence);
	w->evidence = NULL;
	w->verdict = verify_judge(&w->rules, &e, &l, w->prev ? &p : NULL, final, &w->evidence);
}

/* Sleep until mono time `until` or a stop; true when stopped. */
static bool nap(struct window *w, int64_t until)
{
	struct timespec ts;
	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stop) && bg_mono_ms() < until) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t left = until - bg_mono_ms();
		ts.tv_sec += (time_t)(left / 1000);
		ts.tv_nsec += (long)(left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return atomic_load(&w->stop) != 0;
}

static void *window_thread(void *arg)
{
	struct window *w = arg;
	unsigned i = 0;

	while (!atomic_load(&w->stop) && bg_mono_ms() < w->end_mono) {
		int64_t next = bg_mono_ms() + (int64_t)w->rules.interval_ms;
		round_once(w, i++);
		judge(w, false);
		if (w->verdict != VERIFY_PENDING) {
			break; /* failed early: every second now costs users */
		}
		if (nap(w, next < w->end_mono ? next : w->end_mono)) {
			break;
		}
	}
	if (w->verdict == VERIFY_PENDING && !atomic_load(&w->stop)) {
		judge(w, true);
	}
	w->verdict_mono = bg_mono_ms();
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_mutex_unlock(&w->mu);
	/* Also when superseded, so the loop joins it; verify_stop joins the rest itself. */
	if (!atomic_load(&w->v->stopping)) {
		uv_async_send(&w->v->async);
	}
	return NULL;
}

static void window_free(struct window *w)
{
	if (!w) {
		return;
	}
	free(w->site);
	free(w->live);
	free(w->prev);
	free(w->live_spec);
	free(w->edge_base);
	free(w->host);
	free(w->path);
	cfg_checks_free(w->checks, w->n_checks);
	bg_strv_release(&w->live_urls);
	bg_strv_release(&w->prev_urls);
	series_release(&w->edge);
	series_release(&w->direct_live);
	series_release(&w->direct_prev);
	free(w->evidence);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/* ---- the journal ---- */

static void journal(struct verify *v, const char *action, const char *site, const char *result,
		const char *fmt, ...) BG_PRINTF(5, 6);
static void journal(struct verify *v, const char *action, const char *site, const char *result,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *details = bg_xvasprintf(fmt, ap);
	va_end(ap);
	struct hist_entry e = {
		.actor = v->actor, .action = (char *)action, .site = (char *)site,
		.result = (char *)result, .details = details,
	};
	int err = hist_append(v->hist, &e, NULL);
	if (err) {
		watch__complain(v->pr, "warning", "cannot journal %s of %s: %s", action, site,
				bg_strerror(err));
	}
	free(details);
}

/* The newest switch of a site, and whether a verdict followed it. */
struct last_switch {
	uint64_t seq;
	int64_t time_ms;
	char live[16], prev[16];
	unsigned live_version, prev_version;
	bool judged;
};

static int scan_cb(const struct hist_entry *e, void *arg)
{
	struct last_switch *ls = arg;
	unsigned to = hist_live_version(e);
	if (to && e->details) {
		struct last_switch n = {.seq = e->seq, .time_ms = e->time_ms};
		if (sscanf(e->details, "live %15s (v%u) -> %15s (v%u)", n.prev, &n.prev_version,
				n.live, &n.live_version) != 4) {
			n.prev[0] = '\0';
			n.prev_version = 0;
			if (sscanf(e->details, "first deploy: %15s (v%u)", n.live,
					&n.live_version) != 2) {
				return 0;
			}
		}
		*ls = n;
		return 0;
	}
	if (ls->seq && e->action && (strcmp(e->action, "verify-passed") == 0 ||
			strcmp(e->action, "verify-failed") == 0 ||
			strcmp(e->action, "auto-revert") == 0)) {
		ls->judged = true;
	}
	return 0;
}

static void last_switch_find(struct verify *v, const char *site, struct last_switch *ls)
{
	memset(ls, 0, sizeof(*ls));
	hist_foreach(v->hist, site, 0, SCAN_ENTRIES, scan_cb, ls);
}

/* ---- starting windows ---- */

/* "http://IP:PORT" of each replica of colour that has an address, into out. */
void verify_colour_urls(const struct cfg *cfg, const struct cfg_site *cs, const struct obs *view,
		const char *colour, struct bg_strv *out, char **spec)
{
	char *net = bg_xasprintf("%s-net", cs->name);
	for (unsigned r = 1; r <= cs->replicas; r++) {
		char *name = des_colour_container_name(cs->name, colour, r);
		const struct obs_container *c = obs_container_find(view, name);
		free(name);
		if (!c || c->state != OBS_CSTATE_RUNNING) {
			continue;
		}
		if (spec && !*spec && c->spec) {
			*spec = bg_xstrdup(c->spec);
		}
		/*
		 * Where the runtime says this host reaches it, as the gate does
		 * (a Swarm task's published port): an overlay address is not
		 * reachable from here, and may even be another host's server.
		 * Empty: not running yet.
		 */
		const char *at = obs_labels_get(&c->labels, RT_LABEL_PROBE);
		if (at) {
			if (*at) {
				bg_strv_push_take(out, bg_xasprintf("http://%s", at));
			}
			continue;
		}
		const char *ip = obs_container_ip(c, cfg->g.edge_network);
		if (!ip || !*ip) {
			ip = obs_container_ip(c, net);
		}
		if (ip && *ip) {
			bg_strv_push_take(out, strchr(ip, ':') ? bg_xasprintf("http://[%s]:%u", ip, cs->port)
					: bg_xasprintf("http://%s:%u", ip, cs->port));
		}
	}
	free(net);
}

static bool handled(struct verify *v, const char *site, uint64_t seq)
{
	char key[256];
	snprintf(key, sizeof(key), "%s #%" PRIu64, site, seq);
	if (bg_strv_contains(&v->handled, key)) {
		return true;
	}
	bg_strv_push(&v->handled, key);
	return false;
}

static void window_start(struct verify *v, const struct cfg *cfg, const struct cfg_site *cs,
		const struct obs *view, const struct last_switch *ls, int64_t left_ms)
{
	struct window *w = bg_xcalloc(1, sizeof(*w));
	pthread_condattr_t ca;

	w->v = v;
	w->site = bg_xstrdup(cs->name);
	w->switch_seq = ls->seq;
	w->live = bg_xstrdup(ls->live);
	w->prev = ls->prev[0] ? bg_xstrdup(ls->prev) : NULL;
	w->live_version = ls->live_version;
	w->prev_version = ls->prev_version;
	w->rules = cs->verify;
	w->window_ms = cs->verify.window_ms;
	w->edge_base = edge_http_base(cfg);
	w->host = bg_xstrdup(cs->domains.n ? cs->domains.v[0] : "localhost");
	w->path = bg_xstrdup(cs->health.path ? cs->health.path : "/");
	w->n_checks = cfg_checks_copy(&w->checks, cs->checks, cs->n_checks,
			1u << CFG_CHECK_HTTP | 1u << CFG_CHECK_FORBIDDEN | 1u << CFG_CHECK_LATENCY);
	bg_strv_init(&w->live_urls);
	bg_strv_init(&w->prev_urls);
	verify_colour_urls(cfg, cs, view, w->live, &w->live_urls, &w->live_spec);
	if (w->prev) {
		verify_colour_urls(cfg, cs, view, w->prev, &w->prev_urls, NULL);
	}
	w->t0_mono = bg_mono_ms();
	w->end_mono = w->t0_mono + left_ms;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&w->th, NULL, window_thread, w);
	if (rc != 0) {
		watch__complain(v->pr, "warning", "verify: %s: cannot start the watch window: %s",
				w->site, strerror(rc));
		window_free(w);
		return;
	}
	w->started = true;
	pthread_mutex_lock(&v->mu);
	w->next = v->windows;
	v->windows = w;
	pthread_mutex_unlock(&v->mu);
	watch__note(v->pr, "verify: %s: watching %s (v%u) for %" PRId64 " ms after switch #%" PRIu64
			"%s (through %s)", w->site, w->live, w->live_version, left_ms, w->switch_seq,
			w->prev ? "" : ", a first deploy: nothing to compare or revert to",
			w->edge_base ? w->edge_base : "the live containers directly");
}

/* Ask the running windows of site to end: a newer switch replaced what they watch. */
static void supersede(struct verify *v, const char *site)
{
	pthread_mutex_lock(&v->mu);
	for (struct window *w = v->windows; w; w = w->next) {
		if (strcmp(w->site, site) == 0) {
			pthread_mutex_lock(&w->mu);
			atomic_store(&w->stop, 1);
			pthread_cond_signal(&w->cv);
			pthread_mutex_unlock(&w->mu);
		}
	}
	pthread_mutex_unlock(&v->mu);
}

void verify_scan(struct verify *v, const struct cfg *cfg, const struct obs *view)
{
	if (!v || !cfg) {
		return;
	}
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *cs = &cfg->sites[i];
		struct last_switch ls;
		if (!cs->verify.window_ms) {
			continue;
		}
		last_switch_find(v, cs->name, &ls);
		if (!ls.seq || ls.judged || handled(v, cs->name, ls.seq)) {
			continue;
		}
		int64_t left = ls.time_ms + (int64_t)cs->verify.window_ms - bg_now_ms();
		if (left <= 0) {
			continue; /* its window is over (the daemon was not running then) */
		}
		supersede(v, cs->name);
		window_start(v, cfg, cs, view, &ls, left);
	}
}

/* ---- verdicts (on the loop) ---- */

/* Why an auto-revert must not happen now, or NULL (ADR: its limits). */
static char *revert_refusal(struct verify *v, const struct cfg *cfg, const struct window *w)
{
	struct last_switch ls;
	struct obs view;
	const struct cfg_site *cs = cfg_site_find(cfg, w->site);

	if (!w->prev) {
		return bg_xstrdup("a first deploy has no previous colour to go back to");
	}
	if (!cs) {
		return bg_xstrdup("the site is no longer configured");
	}
	last_switch_find(v, w->site, &ls);
	if (ls.seq != w->switch_seq) {
		return bg_xasprintf("switch #%" PRIu64 " came after the one watched (#%" PRIu64 ")",
				ls.seq, w->switch_seq);
	}
	snap_view(v->snap, &view);
	const struct obs_edge *e = obs_edge_find(&view, w->site);
	if (!e || !e->live || strcmp(e->live, w->live) != 0) {
		return bg_xasprintf("the edge no longer serves %s", w->live);
	}
	for (unsigned r = 1; r <= cs->replicas; r++) {
		char *name = des_colour_container_name(w->site, w->prev, r);
		const struct obs_container *c = obs_container_find(&view, name);
		bool up = c && c->state == OBS_CSTATE_RUNNING && c->health != OBS_HEALTH_UNHEALTHY;
		if (!up) {
			char *why = bg_xasprintf("the previous colour's container %s is %s", name,
					!c ? "gone" : c->state != OBS_CSTATE_RUNNING ? "not running"
								       : "unhealthy");
			free(name);
			return why;
		}
		free(name);
	}
	if (!w->direct_prev.n || rate_above(w->direct_prev.errors, w->direct_prev.n,
			w->rules.error_rate)) {
		return bg_xasprintf("the previous colour %s did not answer well either (%u error%s "
				"in %u request%s%s%s)", w->prev, w->direct_prev.errors,
				w->direct_prev.errors == 1 ? "" : "s", w->direct_prev.n,
				w->direct_prev.n == 1 ? "" : "s",
				w->direct_prev.last_error ? ", last: " : "",
				w->direct_prev.last_error ? w->direct_prev.last_error : "");
	}
	return NULL;
}

/* Queue the rollback ahead of anything waiting: it restores service. */
static void revert_queue(struct verify *v, const struct window *w, const char *evidence)
{
	struct queue_req *r = bg_xcalloc(1, sizeof(*r));
	bg_strv_init(&r->confirms);
	r->rollback_site = bg_xstrdup(w->site);
	r->label = bg_xasprintf("rollback %s", w->site);
	r->source = bg_xasprintf("auto-revert: the watch window of switch #%" PRIu64 " failed",
			w->switch_seq);
	r->actor = bg_xstrdup(v->actor);
	queue_push_front(v->queue, r);

	struct revert *rv = bg_xcalloc(1, sizeof(*rv));
	rv->site = bg_xstrdup(w->site);
	rv->evidence = bg_xstrdup(evidence);
	rv->switch_seq = w->switch_seq;
	rv->next = v->reverts;
	v->reverts = rv;
	journal(v, "auto-revert", w->site, "started", "live %s (v%u) -> %s (v%u): %s",
			w->live, w->live_version, w->prev, w->prev_version, evidence);
	watch__note(v->pr, "verify: %s: auto-revert to %s (v%u) queued first", w->site, w->prev,
			w->prev_version);
}

static struct json_object *details_json(const struct window *w, const char *evidence)
{
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "message", json_object_new_string(evidence));
	json_object_object_add(d, "colour", json_object_new_string(w->live));
	json_object_object_add(d, "version", json_object_new_int((int)w->live_version));
	if (w->prev) {
		json_object_object_add(d, "previous", json_object_new_string(w->prev));
	}
	json_object_object_add(d, "switch", json_object_new_int64((int64_t)w->switch_seq));
	json_object_object_add(d, "verdict",
			json_object_new_string(verify_verdict_name(w->verdict)));
	return d;
}

static void window_failed(struct verify *v, const struct cfg *cfg, const struct window *w,
		const char *evidence)
{
	journal(v, "verify-failed", w->site, "failed", "%s", evidence);
	watch__complain(v->pr, "warning", "verify: %s: %s", w->site, evidence);
	alert_emit(cfg, CFG_ALERT_VERIFY_FAILED, w->site, details_json(w, evidence), ALERT_ASYNC);
	char *refusal = NULL;
	if (w->rules.on_failure == CFG_VERIFY_REVERT) {
		refusal = revert_refusal(v, cfg, w);
		if (!refusal) {
			revert_queue(v, w, evidence);
			v->kick(v->arg, false, NULL);
			return;
		}
		journal(v, "auto-revert", w->site, "refused", "%s; the next plan proposes the "
				"rollback instead", refusal);
		watch__complain(v->pr, "warning", "verify: %s: no auto-revert: %s", w->site, refusal);
	}
	/* Alert: the live revision is marked rejected, so the next plan proposes the rollback. */
	if (w->live_spec && hist_rejected_add(v->hist, w->site, w->live_spec) == 0) {
		watch__note(v->pr, "verify: %s: v%u marked rejected: the next plan proposes the "
				"rollback at its top", w->site, w->live_version);
		char *why = bg_xasprintf("verify: %s failed its watch window", w->site);
		v->kick(v->arg, true, why);
		free(why);
	}
	free(refusal);
}

static void window_verdict(struct verify *v, struct window *w)
{
	const struct cfg *cfg = *v->cfgp;
	struct last_switch ls;

	/* A newer switch of the site has a window of its own: this one judges nothing. */
	last_switch_find(v, w->site, &ls);
	if (atomic_load(&w->stop) || ls.seq != w->switch_seq) {
		watch__note(v->pr, "verify: %s: the window of switch #%" PRIu64 " ends without a "
				"verdict: switch #%" PRIu64 " came after it", w->site, w->switch_seq,
				ls.seq);
		return;
	}
	char head[96];
	if (w->prev) {
		snprintf(head, sizeof(head), "live %s v%u -> %s v%u", w->prev, w->prev_version,
				w->live, w->live_version);
	} else {
		snprintf(head, sizeof(head), "first deploy of %s v%u", w->live, w->live_version);
	}
	char *evidence = bg_xasprintf("watch window of switch #%" PRIu64 " (%s), %" PRId64
			" ms of %" PRIu64 ": %s: %s", w->switch_seq, head,
			w->verdict_mono - w->t0_mono, w->window_ms, verify_verdict_name(w->verdict),
			w->evidence ? w->evidence : "");
	if (w->edge.last_error) {
		char *more = bg_xasprintf("%s; last error: %s", evidence, w->edge.last_error);
		free(evidence);
		evidence = more;
	}
	if (w->verdict == VERIFY_PASSED) {
		journal(v, "verify-passed", w->site, "ok", "%s", evidence);
		watch__note(v->pr, "verify: %s: %s", w->site, evidence);
	} else {
		window_failed(v, cfg, w, evidence);
	}
	free(evidence);
}

static void on_async(uv_async_t *h)
{
	struct verify *v = h->data;
	struct window *done = NULL;

	pthread_mutex_lock(&v->mu);
	for (struct window **pw = &v->windows; *pw;) {
		struct window *w = *pw;
		pthread_mutex_lock(&w->mu);
		bool d = w->done;
		pthread_mutex_unlock(&w->mu);
		if (d) {
			*pw = w->next;
			w->next = done;
			done = w;
		} else {
			pw = &w->next;
		}
	}
	pthread_mutex_unlock(&v->mu);
	while (done) {
		struct window *w = done;
		done = w->next;
		pthread_join(w->th, NULL);
		window_verdict(v, w);
		window_free(w);
	}
}

void verify_applied(struct verify *v, const struct cfg *cfg, const struct queue_req *r,
		const struct apply_outcome *o)
{
	if (!v || !r->rollback_site || !r->source || !bg_str_has_prefix(r->source, "auto-revert")) {
		return;
	}
	for (struct revert **pr = &v->reverts; *pr; pr = &(*pr)->next) {
		struct revert *rv = *pr;
		if (strcmp(rv->site, r->rollback_site) != 0) {
			continue;
		}
		*pr = rv->next;
		bool ok = o->exit == BG_EXIT_OK;
		journal(v, "auto-revert", rv->site, ok ? "ok" : "failed", "%s; after %s",
				o->message ? o->message : "", rv->evidence);
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "message", json_object_new_string(o->message ? o->message
				: ""));
		json_object_object_add(d, "evidence", json_object_new_string(rv->evidence));
		json_object_object_add(d, "exit", json_object_new_int(o->exit));
		json_object_object_add(d, "switch", json_object_new_int64((int64_t)rv->switch_seq));
		alert_emit(cfg, CFG_ALERT_AUTO_REVERT, rv->site, d, ALERT_ASYNC);
		free(rv->site);
		free(rv->evidence);
		free(rv);
		return;
	}
}

/* ---- life ---- */

struct verify *verify_create(uv_loop_t *loop, const struct watch_printer *pr, struct hist *h,
		struct queue *q, struct snap *snap, const struct cfg *const *cfgp,
		verify_kick_cb kick, void *arg)
{
	struct verify *v = bg_xcalloc(1, sizeof(*v));
	v->loop = loop;
	v->pr = pr;
	v->hist = h;
	v->queue = q;
	v->snap = snap;
	v->cfgp = cfgp;
	v->kick = kick;
	v->arg = arg;
	v->actor = bg_xasprintf("daemon:%s", bg_actor());
	pthread_mutex_init(&v->mu, NULL);
	bg_strv_init(&v->handled);
	if (uv_async_init(loop, &v->async, on_async) == 0) {
		v->async.data = v;
		v->async_up = true;
	}
	return v;
}

void verify_stop(struct verify *v)
{
	if (!v) {
		return;
	}
	atomic_store(&v->stopping, 1);
	pthread_mutex_lock(&v->mu);
	struct window *all = v->windows;
	v->windows = NULL;
	pthread_mutex_unlock(&v->mu);
	for (struct window *w = all; w; w = w->next) {
		pthread_mutex_lock(&w->mu);
		atomic_store(&w->stop, 1);
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	while (all) {
		struct window *w = all;
		all = w->next;
		/* Within one request's timeout; the next start resumes the window from the journal. */
		pthread_join(w->th, NULL);
		window_free(w);
	}
	if (v->async_up && !uv_is_closing((uv_handle_t *)&v->async)) {
		uv_close((uv_handle_t *)&v->async, NULL);
	}
}

void verify_destroy(struct verify *v)
{
	if (!v) {
		return;
	}
	while (v->reverts) {
		struct revert *rv = v->reverts;
		v->reverts = rv->next;
		free(rv->site);
		free(rv->evidence);
		free(rv);
	}
	bg_strv_release(&v->handled);
	pthread_mutex_destroy(&v->mu);
	free(v->actor);
	free(v);
}
