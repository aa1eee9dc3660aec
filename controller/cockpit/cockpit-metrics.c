/*
 * cockpit-metrics: /metrics in the Prometheus text format (0.0.4), checked
 * by `promtool check metrics` in t-cockpit. Per site from the snapshot:
 * live colour, version, health, in sync, pending changes; from the
 * history digest: applies, switches and rollbacks by result; and how old
 * the snapshot is, so an alert can tell a dead daemon from a quiet one.
 * Label values are escaped as the format says (\\, \", \n).
 */
#include "cockpit-int.h"
#include "cockpit-sse.h"
#include "hist.h"

static void ck_label(struct bg_buf *b, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"') {
			bg_buf_addch(b, '\\');
			bg_buf_addch(b, *v);
		} else if (*v == '\n') {
			bg_buf_adds(b, "\\n");
		} else {
			bg_buf_addch(b, *v);
		}
	}
}

static void ck_head(struct bg_buf *b, const char *name, const char *type, const char *help)
{
	bg_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int64_t ck_int(struct json_object *o, const char *key, bool *present)
{
	struct json_object *v;
	*present = o && json_object_object_get_ex(o, key, &v) && v;
	return *present ? json_object_get_int64(v) : 0;
}

/* One gauge per site: fn picks the value; a site without one is left out. */
static void ck_site_gauge(struct bg_buf *b, struct json_object *sites, const char *name,
		const char *help, const char *key)
{
	size_t n = sites ? json_object_array_length(sites) : 0;
	ck_head(b, name, "gauge", help);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(sites, i);
		bool present;
		int64_t v = ck_int(s, key, &present);
		if (!present) {
			continue;
		}
		bg_buf_addf(b, "%s{site=\"", name);
		ck_label(b, ck_jstr(s, "site"));
		bg_buf_addf(b, "\"} %" PRId64 "\n", v);
	}
}

static void ck_site_metrics(struct bg_buf *b, struct json_object *sites)
{
	size_t n = sites ? json_object_array_length(sites) : 0;
	ck_head(b, "bluegreen_site_live", "gauge",
			"1 for the colour the edge serves, 0 for the other.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(sites, i);
		const char *live = ck_jstr(s, "live");
		for (int c = 0; live && c < 2; c++) {
			const char *colour = c ? "green" : "blue";
			bg_buf_adds(b, "bluegreen_site_live{site=\"");
			ck_label(b, ck_jstr(s, "site"));
			bg_buf_addf(b, "\",colour=\"%s\"} %d\n", colour, strcmp(live, colour) == 0);
		}
	}
	ck_site_gauge(b, sites, "bluegreen_site_version", "Version the live colour runs.",
			"version");
	ck_head(b, "bluegreen_site_healthy", "gauge",
			"1 when every container of the live colour is healthy.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(sites, i);
		const char *h = ck_jstr(s, "health");
		bg_buf_adds(b, "bluegreen_site_healthy{site=\"");
		ck_label(b, ck_jstr(s, "site"));
		bg_buf_addf(b, "\"} %d\n", h && bg_str_has_prefix(h, "healthy"));
	}
	ck_head(b, "bluegreen_site_in_sync", "gauge", "1 when the live colour runs the desired spec.");
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(sites, i), *v;
		bg_buf_adds(b, "bluegreen_site_in_sync{site=\"");
		ck_label(b, ck_jstr(s, "site"));
		bg_buf_addf(b, "\"} %d\n", json_object_object_get_ex(s, "in_sync", &v) &&
				json_object_get_boolean(v));
	}
	ck_site_gauge(b, sites, "bluegreen_site_pending_changes",
			"Changes the daemon's last plan has for the site.", "pending_changes");
}

/* Counters from the journal: which actions, under which metric name. */
static const struct {
	const char *action, *metric, *help;
} ck_counted[] = {
	{"apply-end", "bluegreen_applies_total", "Applies that ended, by result."},
	{"switch", "bluegreen_switches_total", "Switches of the live colour, by result."},
	{"rollback", "bluegreen_rollbacks_total", "Rollbacks, by result."},
};

static void ck_hist_metrics(struct cockpit *ck, struct bg_buf *b)
{
	ck_digest_update(ck);
	pthread_mutex_lock(&ck->mu);
	for (size_t k = 0; k < sizeof(ck_counted) / sizeof(ck_counted[0]); k++) {
		ck_head(b, ck_counted[k].metric, "counter", ck_counted[k].help);
		for (size_t i = 0; i < ck->n_counts; i++) {
			if (strcmp(ck->counts[i].action, ck_counted[k].action) != 0) {
				continue;
			}
			bg_buf_addf(b, "%s{result=\"", ck_counted[k].metric);
			ck_label(b, ck->counts[i].result);
			bg_buf_addf(b, "\"} %" PRIu64 "\n", ck->counts[i].n);
		}
	}
	ck_head(b, "bluegreen_history_last_seq", "gauge", "Sequence number of the newest journal entry.");
	bg_buf_addf(b, "bluegreen_history_last_seq %" PRIu64 "\n", ck->seen_seq);
	pthread_mutex_unlock(&ck->mu);
}

static void ck_live_metrics(struct cockpit *ck, struct bg_buf *b);

void ck_metrics(struct cockpit *ck, struct cockpit_reply *r)
{
	struct ck_snap s;
	ck_snap_load(ck, r, &s);
	r->status = 200;
	r->ctype = "text/plain; version=0.0.4; charset=utf-8";
	ck_head(&r->body, "bluegreen_snapshot_present", "gauge",
			"1 when the daemon's status snapshot could be read.");
	bg_buf_addf(&r->body, "bluegreen_snapshot_present %d\n", s.root != NULL);
	if (s.root) {
		ck_head(&r->body, "bluegreen_snapshot_age_seconds", "gauge",
				"Seconds since the daemon wrote the status snapshot.");
		bg_buf_addf(&r->body, "bluegreen_snapshot_age_seconds %.3f\n",
				(double)(bg_now_ms() - s.written_at_ms) / 1000.0);
		ck_site_metrics(&r->body, s.sites);
	}
	/* The journal's counters and durations are of all sites together: not for a viewer. */
	if (!ck_scope_limited(r->scope)) {
		ck_hist_metrics(ck, &r->body);
		ck_live_metrics(ck, &r->body); /* issue 15 (E) */
	}
	ck_snap_release(&s);
}

/* ---- issue 15 (E): durations, the event streams, the last plan ---- */

/*
 * Upper bounds (seconds) of the duration buckets: a switch takes a fraction
 * of a second, an apply that starts containers and waits for health takes
 * seconds to minutes.
 */
static const double ck_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
#define CK_NB (sizeof(ck_bounds) / sizeof(ck_bounds[0]))
/* Applies begun and not yet ended that are remembered (a crash leaves some). */
#define CK_OPEN_MAX 1024

struct ck_hist {
	uint64_t bucket[CK_NB]; /* not cumulative here; summed when printed */
	uint64_t count;
	double sum;
};

struct ck_open_apply {
	char *token;
	int64_t start_ms;
};

struct ck_durations {
	struct ck_hist apply, sw;
	struct ck_open_apply *open;
	size_t n_open, cap_open;
	int64_t last_plan_ms;
};

static void ck_hist_add(struct ck_hist *h, double s)
{
	s = s < 0 ? 0 : s;
	for (size_t i = 0; i < CK_NB; i++) {
		if (s <= ck_bounds[i]) {
			h->bucket[i]++;
			break;
		}
	}
	h->count++;
	h->sum += s;
}

static struct ck_open_apply *ck_open_find(struct ck_durations *d, const char *token)
{
	for (size_t i = 0; token && i < d->n_open; i++) {
		if (strcmp(d->open[i].token, token) == 0) {
			return &d->open[i];
		}
	}
	return NULL;
}

static void ck_open_drop(struct ck_durations *d, size_t i)
{
	free(d->open[i].token);
	memmove(&d->open[i], &d->open[i + 1], (d->n_open - i - 1) * sizeof(*d->open));
	d->n_open--;
}

/*
 * An apply lasts from its "apply started" entry to its "apply-end"; a
 * switch (or rollback) from the start of the apply that made it (same
 * token) to its own entry: the time an operator waits for traffic to move.
 */
void ck_dur_note(struct cockpit *ck, const struct hist_entry *e)
{
	if (!ck->dur) {
		ck->dur = bg_xcalloc(1, sizeof(*ck->dur));
	}
	struct ck_durations *d = ck->dur;
	if (strcmp(e->action, "plan") == 0) {
		d->last_plan_ms = e->time_ms;
		return;
	}
	if (!e->token) {
		return;
	}
	struct ck_open_apply *o = ck_open_find(d, e->token);
	if (strcmp(e->action, "apply") == 0 && e->result && strcmp(e->result, "started") == 0) {
		if (o) {
			o->start_ms = e->time_ms;
			return;
		}
		if (d->n_open == CK_OPEN_MAX) {
			ck_open_drop(d, 0);
		}
		BG_GROW(d->open, d->cap_open, d->n_open + 1);
		d->open[d->n_open++] = (struct ck_open_apply){bg_xstrdup(e->token), e->time_ms};
	} else if (o && strcmp(e->action, "apply-end") == 0) {
		ck_hist_add(&d->apply, (double)(e->time_ms - o->start_ms) / 1000.0);
		ck_open_drop(d, (size_t)(o - d->open));
	} else if (o && e->result && strcmp(e->result, "ok") == 0 &&
			(strcmp(e->action, "switch") == 0 || strcmp(e->action, "rollback") == 0)) {
		ck_hist_add(&d->sw, (double)(e->time_ms - o->start_ms) / 1000.0);
	}
}

void ck_dur_free(struct ck_durations *d)
{
	if (!d) {
		return;
	}
	for (size_t i = 0; i < d->n_open; i++) {
		free(d->open[i].token);
	}
	free(d->open);
	free(d);
}

static void ck_hist_print(struct bg_buf *b, const char *name, const char *help,
		const struct ck_hist *h)
{
	static const struct ck_hist none;
	uint64_t cum = 0;
	h = h ? h : &none;
	ck_head(b, name, "histogram", help);
	for (size_t i = 0; i < CK_NB; i++) {
		cum += h->bucket[i];
		bg_buf_addf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, ck_bounds[i], cum);
	}
	bg_buf_addf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
	bg_buf_addf(b, "%s_sum %.3f\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

/* Called by ck_metrics after the digest is up to date. */
static void ck_live_metrics(struct cockpit *ck, struct bg_buf *b)
{
	struct ck_sse_counts c;
	ck_sse_counts_get(ck->sse, &c);
	pthread_mutex_lock(&ck->mu);
	ck_hist_print(b, "bluegreen_apply_duration_seconds",
			"Applies from start to end, from the journal.", ck->dur ? &ck->dur->apply : NULL);
	ck_hist_print(b, "bluegreen_switch_duration_seconds",
			"Switches and rollbacks, from the start of their apply to the switch.",
			ck->dur ? &ck->dur->sw : NULL);
	if (ck->dur && ck->dur->last_plan_ms) {
		ck_head(b, "bluegreen_last_plan_timestamp_seconds", "gauge",
				"When the newest plan in the journal was made (unix time).");
		bg_buf_addf(b, "bluegreen_last_plan_timestamp_seconds %.3f\n",
				(double)ck->dur->last_plan_ms / 1000.0);
	}
	pthread_mutex_unlock(&ck->mu);
	ck_head(b, "bluegreen_cockpit_event_streams", "gauge", "Event streams (/events) open now.");
	bg_buf_addf(b, "bluegreen_cockpit_event_streams %u\n", c.open);
	ck_head(b, "bluegreen_cockpit_event_streams_opened_total", "counter",
			"Event streams opened since the cockpit started.");
	bg_buf_addf(b, "bluegreen_cockpit_event_streams_opened_total %" PRIu64 "\n", c.opened);
	ck_head(b, "bluegreen_cockpit_event_stream_reconnects_total", "counter",
			"Event streams opened with a Last-Event-ID: a browser reconnecting.");
	bg_buf_addf(b, "bluegreen_cockpit_event_stream_reconnects_total %" PRIu64 "\n",
			c.reconnects);
	ck_head(b, "bluegreen_cockpit_event_streams_refused_total", "counter",
			"Event streams refused (503) because too many were open.");
	bg_buf_addf(b, "bluegreen_cockpit_event_streams_refused_total %" PRIu64 "\n", c.refused);
}
