/*
 * snap: see snap.h. Loop thread only. The containers change on events
 * (an inspect each, or a die event's prediction); the rest is replaced
 * whole by a job's observation (snap_take) or, for the edge files, by a
 * re-read that also tells what changed outside bluegreen. The edge files
 * are read through the edge reconciler (rec.h), so the daemon needs no
 * edge driver header.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-log.h"
#include "snap.h"
#include "rec.h"
#include "watch-int.h"

void snap_init(struct snap *s, const struct watch_printer *pr, void (*wake)(void *arg),
		void *wake_arg)
{
	memset(s, 0, sizeof(*s));
	obs_init(&s->cont);
	obs_init(&s->rest);
	bg_strv_init(&s->inspect);
	bg_strv_init(&s->inflight);
	bg_strv_init(&s->why);
	bg_strv_init(&s->why_drift);
	s->pr = pr;
	s->wake = wake;
	s->wake_arg = wake_arg;
}

void snap_release(struct snap *s)
{
	if (!s) {
		return;
	}
	obs_release(&s->cont);
	obs_release(&s->rest);
	bg_strv_release(&s->inspect);
	bg_strv_release(&s->inflight);
	bg_strv_release(&s->why);
	bg_strv_release(&s->why_drift);
}

/* ---- why a plan is printed ---- */

void snap_why_add(struct snap *s, bool drift, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *why = bg_xvasprintf(fmt, ap);
	va_end(ap);
	struct bg_strv *list = drift ? &s->why_drift : &s->why;
	if (bg_strv_contains(&s->why, why) || bg_strv_contains(&s->why_drift, why)) {
		free(why);
	} else if (s->why.n + s->why_drift.n >= SNAP_WHY_KEPT) {
		s->why_dropped++;
		free(why);
	} else {
		bg_strv_push_take(list, why);
	}
}

/*
 * What the operator did (or what happened to the engine) first, then
 * drift: when dockerd stops, the containers it kills are drift too, but
 * "docker reconnected" is the news.
 */
char *snap_why_text(const struct snap *s)
{
	if (!s->why.n && !s->why_drift.n) {
		return bg_xstrdup("re-observed");
	}
	struct bg_buf b = BG_BUF_INIT;
	size_t shown = 0, total = s->why.n + s->why_drift.n;
	for (size_t k = 0; k < 2; k++) {
		const struct bg_strv *l = k ? &s->why_drift : &s->why;
		for (size_t i = 0; i < l->n && shown < SNAP_WHY_SHOWN; i++, shown++) {
			bg_buf_addf(&b, "%s%s", shown ? "; " : "", l->v[i]);
		}
	}
	if (total - shown + s->why_dropped) {
		bg_buf_addf(&b, "; and %zu more", total - shown + s->why_dropped);
	}
	return bg_buf_detach(&b, NULL);
}

void snap_why_clear(struct snap *s)
{
	bg_strv_release(&s->why);
	bg_strv_release(&s->why_drift);
	s->why_dropped = 0;
}

/* ---- containers, from events ---- */

const char *snap_event_words(const struct dk_event *e, char *buf, size_t len)
{
	const char *a = e->action;
	if (strcmp(a, "die") == 0) {
		snprintf(buf, len, "stopped outside bluegreen (exit code %d)", e->exit_code);
	} else if (strcmp(a, "start") == 0) {
		snprintf(buf, len, "started outside bluegreen");
	} else if (strcmp(a, "destroy") == 0) {
		snprintf(buf, len, "removed outside bluegreen");
	} else if (strcmp(a, "create") == 0) {
		snprintf(buf, len, "created outside bluegreen");
	} else if (strcmp(a, "health_status") == 0) {
		snprintf(buf, len, "is %s", e->detail ? e->detail : "unknown");
	} else if (strcmp(a, "oom") == 0) {
		snprintf(buf, len, "ran out of memory");
	} else {
		snprintf(buf, len, "%s outside bluegreen", a);
	}
	return buf;
}

static void container_copy(struct obs_container *d, const struct obs_container *s)
{
	memset(d, 0, sizeof(*d));
	d->id = bg_xstrdup(s->id);
	d->name = bg_xstrdup(s->name);
	d->image = bg_xstrdup(s->image);
	d->image_id = bg_xstrdup(s->image_id);
	for (size_t i = 0; i < s->labels.n; i++) {
		obs_labels_set(&d->labels, s->labels.v[i].key, s->labels.v[i].value);
	}
	d->state = s->state;
	d->health = s->health;
	d->exit_code = s->exit_code;
	if (s->n_nets) {
		d->nets = bg_xcalloc(s->n_nets, sizeof(*d->nets));
		for (size_t i = 0; i < s->n_nets; i++) {
			d->nets[i].network = bg_xstrdup(s->nets[i].network);
			d->nets[i].ip = bg_xstrdup(s->nets[i].ip);
		}
		d->n_nets = s->n_nets;
	}
	obs_container_derive(d);
}

static ssize_t container_index(const struct obs *o, const char *id)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const char *cid = o->containers[i].id;
		/* Events carry full ids; accept a prefix as the engine does. */
		if (cid && (strcmp(cid, id) == 0 || bg_str_has_prefix(cid, id))) {
			return (ssize_t)i;
		}
	}
	return -1;
}

static void container_remove(struct snap *s, const char *id)
{
	ssize_t i = container_index(&s->cont, id);
	if (i < 0) {
		return;
	}
	struct obs *o = &s->cont;
	obs_container_release(&o->containers[i]);
	memmove(&o->containers[i], &o->containers[i + 1],
			(o->n_containers - (size_t)i - 1) * sizeof(o->containers[0]));
	o->n_containers--;
}

/* Takes oc's contents. */
static void container_put(struct snap *s, struct obs_container *oc)
{
	ssize_t i = container_index(&s->cont, oc->id);
	struct obs_container *slot;
	if (i >= 0) {
		slot = &s->cont.containers[i];
		obs_container_release(slot);
	} else {
		slot = obs_container_add(&s->cont);
	}
	*slot = *oc;
	memset(oc, 0, sizeof(*oc));
	obs_finish(&s->cont);
}

const struct obs_container *snap_container_find(const struct snap *s, const char *id)
{
	ssize_t i = container_index(&s->cont, id);
	return i < 0 ? NULL : &s->cont.containers[i];
}

struct insp {
	struct snap *s;
	char *id;
};

static void on_inspect(struct dkev *ev, struct obs_container *oc, int err, const char *msg,
		void *arg)
{
	struct insp *q = arg;
	struct snap *s = q->s;

	(void)ev;
	watch__strv_remove(&s->inflight, q->id);
	if (err == BG_ECANCELLED || s->shut) {
		goto out;
	}
	if (err == BG_ENOT_FOUND) {
		container_remove(s, q->id);
		s->want_plan = true;
	} else if (err) {
		/*
		 * The engine went away (the reconnection re-lists everything
		 * anyway), or its answer was not an inspect ("unreadable answer").
		 */
		bg_trace(LOOP, "inspect %s: %s", q->id, msg ? msg : bg_strerror(err));
	} else {
		const char *m = obs_labels_get(&oc->labels, BG_LABEL_MANAGED);
		if (m && strcmp(m, "true") == 0) {
			container_put(s, oc);
		} else {
			container_remove(s, q->id);
		}
		s->want_plan = true;
	}
out:
	free(q->id);
	free(q);
	s->wake(s->wake_arg);
}

void snap_inspect_issue(struct snap *s, struct dkev *ev)
{
	struct bg_strv ids = s->inspect;
	bg_strv_init(&s->inspect);
	for (size_t i = 0; i < ids.n; i++) {
		struct insp *q = bg_xcalloc(1, sizeof(*q));
		q->s = s;
		q->id = bg_xstrdup(ids.v[i]);
		if (dkev_container_inspect(ev, ids.v[i], on_inspect, q) == 0) {
			bg_strv_push(&s->inflight, ids.v[i]);
		} else {
			free(q->id);
			free(q);
		}
	}
	bg_strv_release(&ids);
}

/*
 * What an inspect of a container that just died will say, from the die
 * event alone: exited with the event's exit code, no address on any
 * network, and, if it has a HEALTHCHECK, unhealthy (what Docker 20.10 and
 * later report). The engine holds a dying container until its kill has
 * completed (with published ports, docker-proxy and the NAT rules go
 * first), so the inspect answers 60-300 ms after the event: planning from
 * the event puts the drift in front of the operator that much sooner. The
 * inspect still runs, and if it says something else, the token changes
 * and the corrected plan is printed.
 */
void snap_die_predict(struct snap *s, const struct dk_event *e)
{
	ssize_t i = container_index(&s->cont, e->id);
	if (i < 0) {
		return;
	}
	struct obs_container *oc = &s->cont.containers[i];
	oc->state = OBS_CSTATE_EXITED;
	if (e->exit_code >= 0) {
		oc->exit_code = e->exit_code;
	}
	if (oc->health != OBS_HEALTH_NONE) {
		oc->health = OBS_HEALTH_UNHEALTHY;
	}
	for (size_t k = 0; k < oc->n_nets; k++) {
		free(oc->nets[k].ip);
		oc->nets[k].ip = bg_xstrdup("");
	}
	s->want_plan = true;
	s->plan_early = true;
}

/* ---- the rest, from jobs and files ---- */

/*
 * Move src's container list into dst (dropping dst's): the loop keeps the
 * containers up to date from events, and a job's observation brings a
 * full list (a re-list) or the copy it was given (a partial refresh).
 */
static void obs_take_containers(struct obs *dst, struct obs *src)
{
	for (size_t i = 0; i < dst->n_containers; i++) {
		obs_container_release(&dst->containers[i]);
	}
	free(dst->containers);
	dst->containers = src->containers;
	dst->n_containers = src->n_containers;
	dst->cap_containers = src->cap_containers;
	src->containers = NULL;
	src->n_containers = src->cap_containers = 0;
}

/*
 * Our own edge writes happen inside applies, and every apply is followed
 * by a full observation that already holds them: any other change is drift.
 */
void snap_edge_reread(struct snap *s, const struct cfg *cfg)
{
	struct obs t;
	struct bg_diag d;
	s->edge_dirty = false;
	obs_init(&t);
	bg_diag_init(&d);
	if (rec_edge_impl.observe(NULL, cfg, &t, &d) == 0) {
		obs_finish(&t);
		for (size_t i = 0; i < t.n_edges; i++) {
			const struct obs_edge *n = &t.edges[i];
			const struct obs_edge *o = obs_edge_find(&s->rest, n->site);
			if (o && o->exists == n->exists && bg_str_eq(o->content_sha, n->content_sha)) {
				continue;
			}
			const char *slash = n->path ? strrchr(n->path, '/') : NULL;
			const char *name = slash ? slash + 1 : n->path ? n->path : n->site;
			snap_why_add(s, true, "drift: edge file %s %s outside bluegreen", name,
					o && o->exists && !n->exists ? "removed" : "changed");
		}
		struct obs_edge *e = s->rest.edges;
		size_t n = s->rest.n_edges, cap = s->rest.cap_edges;
		s->rest.edges = t.edges;
		s->rest.n_edges = t.n_edges;
		s->rest.cap_edges = t.cap_edges;
		t.edges = e;
		t.n_edges = n;
		t.cap_edges = cap;
		obs_finish(&s->rest);
		s->want_plan = true;
	} else {
		watch__diag(s->pr, &d);
		s->need_rest = true;
	}
	bg_diag_release(&d);
	obs_release(&t);
}

void snap_full_begin(struct snap *s)
{
	s->need_full = s->need_rest = s->edge_dirty = false;
	bg_strv_release(&s->inspect);
}

void snap_containers_copy(const struct snap *s, struct obs *seed)
{
	for (size_t i = 0; i < s->cont.n_containers; i++) {
		container_copy(obs_container_add(seed), &s->cont.containers[i]);
	}
	obs_finish(seed);
}

void snap_rest_begin(struct snap *s, struct obs *seed)
{
	s->need_rest = s->edge_dirty = false;
	snap_containers_copy(s, seed);
}

bool snap_containers_fresh(const struct snap *s)
{
	/* A full re-list pending (start, reconnect, after an apply, resync) or
	 * an event whose inspect has not answered: the list is behind. */
	return s->have && !s->need_full && !s->inspect.n && !s->inflight.n;
}

void snap_take(struct snap *s, struct obs *o, bool full)
{
	if (full) {
		obs_take_containers(&s->cont, o);
		obs_finish(&s->cont);
	} else {
		/* The copy it was given: the loop's own list is newer. */
		struct obs tmp;
		obs_init(&tmp);
		obs_take_containers(&tmp, o);
		obs_release(&tmp);
	}
	obs_release(&s->rest);
	s->rest = *o;
	obs_init(o);
	s->have = true;
	s->want_plan = true;
}

void snap_view(const struct snap *s, struct obs *view)
{
	*view = s->rest;
	view->containers = s->cont.containers;
	view->n_containers = s->cont.n_containers;
	view->cap_containers = s->cont.cap_containers;
}
