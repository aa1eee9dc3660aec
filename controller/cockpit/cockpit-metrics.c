/*
 * cockpit-metrics: /metrics in the Prometheus text format (0.0.4), checked
 * by `promtool check metrics` in t-cockpit. Per site from the snapshot:
 * live colour, version, health, in sync, pending changes; from the
 * history digest: applies, switches and rollbacks by result; and how old
 * the snapshot is, so an alert can tell a dead daemon from a quiet one.
 * Label values are escaped as the format says (\\, \", \n).
 */
#include "cockpit-int.h"

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
	/* The journal's counters are of all sites together: not for a viewer (issue 15). */
	if (!ck_scope_limited(r->scope)) {
		ck_hist_metrics(ck, &r->body);
	}
	ck_snap_release(&s);
}
