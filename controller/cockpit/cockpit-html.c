/*
 * cockpit-html: the pages of safe mode. Plain HTML and one small style
 * sheet, both from the binary (no JavaScript to read them, no CDN), laid
 * out to read on a phone. Every string that comes from the snapshot or
 * the history goes through cockpit_html_esc: a site name, an image or a
 * journal detail never becomes markup.
 */
#include "cockpit-int.h"

#include "hist.h"
#include "obs.h"

#include <time.h>

void cockpit_html_esc(struct bg_buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': bg_buf_adds(out, "&amp;"); break;
		case '<': bg_buf_adds(out, "&lt;"); break;
		case '>': bg_buf_adds(out, "&gt;"); break;
		case '"': bg_buf_adds(out, "&quot;"); break;
		case '\'': bg_buf_adds(out, "&#39;"); break;
		default: bg_buf_addch(out, *s); break;
		}
	}
}

static const char ck_css[] =
	"body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:.5rem 1rem;"
	"color:#222;background:#fafafa}"
	"h1{font-size:1.3rem}h2{font-size:1.1rem;margin-top:1.5rem}"
	"table{border-collapse:collapse;width:100%}"
	"th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}"
	".blue{color:#fff;background:#1f5fbf;padding:0 .4rem;border-radius:.3rem}"
	".green{color:#fff;background:#1d7a35;padding:0 .4rem;border-radius:.3rem}"
	".bad{color:#a40000;font-weight:bold}.muted{color:#666}"
	".note{background:#fff3cd;padding:.5rem;border-radius:.3rem}"
	"footer{margin-top:2rem;font-size:.85rem;color:#666}"
	/* issue 15 (E): long images and details wrap instead of widening a phone's page */
	"td{overflow-wrap:anywhere;word-break:break-word}"
	"@media (max-width:40rem){table,tbody,tr,td{display:block}thead{display:none}"
	"tr{border:1px solid #ddd;margin:.5rem 0;padding:.3rem}td{border:0;padding:.15rem .3rem}"
	"td[data-h]::before{content:attr(data-h) \": \";color:#666}}";

static void ck_html_begin(struct bg_buf *b, const char *title)
{
	bg_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			"<title>");
	cockpit_html_esc(b, title);
	bg_buf_addf(b, " · bluegreen</title><style>%s</style></head><body>\n<h1>", ck_css);
	cockpit_html_esc(b, title);
	bg_buf_adds(b, "</h1>\n");
}

/* issue 15 (P): the footer names the mode actually served. */
static void ck_html_end(struct cockpit_reply *r)
{
	struct bg_buf *b = &r->body;
	bg_buf_adds(b, r->admin ? "<footer>bluegreen cockpit, admin mode: approves and rolls back "
			"through the daemon. " : "<footer>bluegreen cockpit, safe mode: read-only. ");
	bg_buf_adds(b, "<a href=\"/\">Sites</a> · <a href=\"/api/v1/sites\">JSON</a> · "
			"<a href=\"/metrics\">metrics</a> · <a href=\"/logout\">account</a>"
			"</footer>\n</body></html>\n");
}

/*
 * issue 15 (E): the live-update script (/static/cockpit.js, cockpit-js.c),
 * told which page it is on. Last in the body, so the rows exist when it runs.
 */
static void ck_live_script(struct bg_buf *b, const char *page, const char *site)
{
	bg_buf_addf(b, "<script src=\"/static/cockpit.js\" data-page=\"%s\"", page);
	if (site) {
		bg_buf_adds(b, " data-site=\"");
		cockpit_html_esc(b, site);
		bg_buf_adds(b, "\"");
	}
	bg_buf_adds(b, "></script>\n");
}

static void ck_html_reply(struct cockpit_reply *r, unsigned status)
{
	r->status = status;
	r->ctype = "text/html; charset=utf-8";
}

void ck_page_error(struct cockpit_reply *r, unsigned status, const char *title, const char *text)
{
	bg_buf_reset(&r->body);
	ck_html_begin(&r->body, title);
	bg_buf_adds(&r->body, "<p>");
	cockpit_html_esc(&r->body, text);
	bg_buf_adds(&r->body, "</p>\n");
	ck_html_end(r);
	ck_html_reply(r, status);
}

/* "2026-12-07 01:32:05 UTC" of a unix time in ms. */
static void ck_time_fmt(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!ms || !gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm)) {
		snprintf(buf, 32, "-");
	}
}

/* A colour as a badge: only the two names the snapshot may hold get a class. */
static void ck_colour(struct bg_buf *b, const char *c)
{
	if (c && (strcmp(c, "blue") == 0 || strcmp(c, "green") == 0)) {
		bg_buf_addf(b, "<span class=\"%s\">%s</span>", c, c);
	} else {
		bg_buf_adds(b, "<span class=\"muted\">none</span>");
	}
}

static int64_t ck_jint(struct json_object *o, const char *key)
{
	struct json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && v ? json_object_get_int64(v) : 0;
}

static void ck_cell(struct bg_buf *b, const char *head, const char *text)
{
	bg_buf_addf(b, "<td data-h=\"%s\">", head);
	cockpit_html_esc(b, text ? text : "-");
	bg_buf_adds(b, "</td>");
}

/* The other slot in words: "candidate green v4, healthy (1/1)". */
static void ck_other_cell(struct bg_buf *b, struct json_object *site)
{
	struct json_object *o = NULL;
	if (!json_object_object_get_ex(site, "candidate", &o) || !o) {
		json_object_object_get_ex(site, "previous", &o);
	}
	bg_buf_adds(b, "<td data-h=\"Other colour\">");
	if (o) {
		cockpit_html_esc(b, ck_jstr(o, "role"));
		bg_buf_adds(b, " ");
		ck_colour(b, ck_jstr(o, "colour"));
		bg_buf_addf(b, " v%" PRId64 ", ", ck_jint(o, "version"));
		cockpit_html_esc(b, ck_jstr(o, "health"));
	} else {
		bg_buf_adds(b, "-");
	}
	bg_buf_adds(b, "</td>");
}

/*
 * issue 15 (P): what the daemon's newest plan holds for the site, from the
 * snapshot (the cockpit never plans): "none", "N change(s)", "blocked: WHY",
 * or "unknown" when the daemon could not plan. cockpit.js says the same.
 */
static void ck_pending_cell(struct bg_buf *b, struct json_object *s)
{
	struct json_object *v = NULL;
	const char *blocked = ck_jstr(s, "blocked");
	bool known = json_object_object_get_ex(s, "pending_changes", &v) && v;
	int64_t n = known ? json_object_get_int64(v) : 0;
	bg_buf_addf(b, "<td data-h=\"Pending\"%s>", blocked || n > 0 ? " class=\"bad\"" : "");
	if (blocked) {
		bg_buf_adds(b, "blocked: ");
		cockpit_html_esc(b, blocked);
	} else if (!known) {
		bg_buf_adds(b, "unknown");
	} else if (n == 0) {
		bg_buf_adds(b, "none");
	} else {
		bg_buf_addf(b, "%" PRId64 " change%s", n, n == 1 ? "" : "s");
	}
	bg_buf_adds(b, "</td>");
}

static void ck_site_row(struct cockpit *ck, struct bg_buf *b, struct json_object *s)
{
	const char *name = ck_jstr(s, "site");
	const char *health = ck_jstr(s, "health");
	char ver[24] = "-", when[32] = "-";
	if (ck_jint(s, "version")) {
		snprintf(ver, sizeof(ver), "v%" PRId64, ck_jint(s, "version"));
	}
	pthread_mutex_lock(&ck->mu);
	const struct ck_switch *sw = name ? ck_digest_switch(ck, name) : NULL;
	ck_time_fmt(sw ? sw->time_ms : 0, when);
	pthread_mutex_unlock(&ck->mu);
	bg_buf_adds(b, "<tr data-site=\"");
	cockpit_html_esc(b, name);
	bg_buf_adds(b, "\"><td data-h=\"Site\"><a href=\"/sites/");
	cockpit_html_esc(b, name);
	bg_buf_adds(b, "\">");
	cockpit_html_esc(b, name);
	bg_buf_adds(b, "</a></td><td data-h=\"Live\">");
	ck_colour(b, ck_jstr(s, "live"));
	bg_buf_adds(b, "</td>");
	ck_cell(b, "Version", ver);
	bg_buf_addf(b, "<td data-h=\"Health\"%s>", health && bg_str_has_prefix(health, "healthy")
			? "" : " class=\"bad\"");
	cockpit_html_esc(b, health);
	bg_buf_adds(b, "</td>");
	ck_other_cell(b, s);
	ck_pending_cell(b, s); /* issue 15 (P) */
	ck_cell(b, "Last switch", when);
	bg_buf_adds(b, "</tr>\n");
}

static void ck_snap_note(struct bg_buf *b, const struct ck_snap *s)
{
	char when[32];
	if (!s->root) {
		bg_buf_adds(b, "<p class=\"note\">");
		cockpit_html_esc(b, s->why);
		bg_buf_adds(b, "</p>\n");
		return;
	}
	ck_time_fmt(s->written_at_ms, when);
	bg_buf_addf(b, "<p class=\"muted\">As the daemon saw it at <span id=\"ck-when\">%s</span>."
			"</p>\n", when);
}

void ck_page_overview(struct cockpit *ck, struct cockpit_reply *r)
{
	struct ck_snap s;
	ck_digest_update(ck);
	ck_snap_load(ck, r, &s);
	ck_html_begin(&r->body, "Sites");
	ck_snap_note(&r->body, &s);
	size_t n = s.sites ? json_object_array_length(s.sites) : 0;
	if (n) {
		bg_buf_adds(&r->body, "<table><thead><tr><th>Site</th><th>Live</th><th>Version</th>"
				"<th>Health</th><th>Other colour</th><th>Pending</th><th>Last switch</th></tr>"
				"</thead><tbody>\n");
		for (size_t i = 0; i < n; i++) {
			ck_site_row(ck, &r->body, json_object_array_get_idx(s.sites, i));
		}
		bg_buf_adds(&r->body, "</tbody></table>\n");
	} else if (s.root) {
		bg_buf_adds(&r->body, "<p>No sites are configured.</p>\n");
	}
	ck_live_script(&r->body, "overview", NULL);
	ck_html_end(r);
	ck_html_reply(r, s.root ? 200 : 503);
	ck_snap_release(&s);
}

/* ---- one site ---- */

static int ck_hist_row(const struct hist_entry *e, void *arg)
{
	struct bg_buf *b = arg;
	char when[32];
	ck_time_fmt(e->time_ms, when);
	bg_buf_addf(b, "<tr><td data-h=\"#\">%" PRIu64 "</td>", e->seq);
	ck_cell(b, "Time", when);
	ck_cell(b, "Action", e->action);
	ck_cell(b, "Result", e->result);
	ck_cell(b, "Actor", e->actor);
	ck_cell(b, "Details", e->details);
	bg_buf_adds(b, "</tr>\n");
	return 0;
}

/* Versions the history gave the site, newest first. */
static void ck_versions(struct cockpit *ck, struct bg_buf *b, const char *name,
		struct json_object *site)
{
	struct obs o;
	obs_init(&o);
	if (ck_hist_observe(ck, &o) == 0) { /* issue 15 (P): or the publish dir */
		obs_finish(&o);
	}
	const struct obs_hist_site *hs = obs_hist_find(&o, name);
	bg_buf_adds(b, "<h2>Versions</h2>\n");
	if (!hs || !hs->spec_versions.n) {
		bg_buf_adds(b, "<p class=\"muted\">No version recorded yet.</p>\n");
		obs_release(&o);
		return;
	}
	bg_buf_adds(b, "<table><thead><tr><th>Version</th><th>Spec</th><th>State</th></tr>"
			"</thead><tbody>\n");
	for (unsigned v = hs->last_version; v >= 1; v--) {
		for (size_t i = 0; i < hs->spec_versions.n; i++) {
			const char *eq = strchr(hs->spec_versions.v[i], '=');
			if (!eq || strtoul(eq + 1, NULL, 10) != v) {
				continue;
			}
			char *spec = bg_xstrndup(hs->spec_versions.v[i],
					(size_t)(eq - hs->spec_versions.v[i]));
			bool rej = bg_strv_contains(&hs->rejected, spec);
			bool live = site && ck_jint(site, "version") == v;
			spec[spec[0] && strlen(spec) > 12 ? 12 : strlen(spec)] = '\0';
			bg_buf_addf(b, "<tr><td data-h=\"Version\">v%u</td>", v);
			ck_cell(b, "Spec", spec);
			ck_cell(b, "State", live ? "live" : rej ? "rolled back" : "");
			bg_buf_adds(b, "</tr>\n");
			free(spec);
		}
	}
	bg_buf_adds(b, "</tbody></table>\n");
	obs_release(&o);
}

void ck_page_site(struct cockpit *ck, const char *name, struct cockpit_reply *r)
{
	struct ck_snap s;
	ck_digest_update(ck);
	ck_snap_load(ck, r, &s);
	struct json_object *site = ck_snap_site(&s, name);
	if (s.root && !site) {
		ck_snap_release(&s);
		ck_page_error(r, 404, "Not found", "There is no such site.");
		return;
	}
	ck_html_begin(&r->body, name);
	ck_snap_note(&r->body, &s);
	if (site) {
		bg_buf_adds(&r->body, "<table><thead><tr><th>Site</th><th>Live</th><th>Version</th>"
				"<th>Health</th><th>Other colour</th><th>Pending</th><th>Last switch</th></tr>"
				"</thead><tbody>\n");
		ck_site_row(ck, &r->body, site);
		bg_buf_adds(&r->body, "</tbody></table>\n");
		if (ck_jint(site, "pending_changes") > 0) {
			bg_buf_addf(&r->body, "<p class=\"note\">%" PRId64 " change(s) pending: "
					"an operator approves them.</p>\n",
					ck_jint(site, "pending_changes"));
		}
	}
	ck_versions(ck, &r->body, name, site);
	bg_buf_adds(&r->body, "<h2>Recent history</h2>\n<table><thead><tr><th>#</th><th>Time</th>"
			"<th>Action</th><th>Result</th><th>Actor</th><th>Details</th></tr>"
			"</thead><tbody id=\"ck-history\">\n");
	ck_hist_foreach(ck, name, 0, 30, ck_hist_row, &r->body); /* or the publish dir */
	bg_buf_adds(&r->body, "</tbody></table>\n");
	if (ck->admin && r->scope && r->scope->role == CK_ROLE_ADMIN) {
		ck_logs_section(ck, r, name); /* issue 15: admins only (cockpit-logs.c) */
	}
	ck_live_script(&r->body, "site", name);
	ck_html_end(r);
	ck_html_reply(r, 200);
	ck_snap_release(&s);
}

/* ---- issue 15: the frame for the pages of login and admin mode ---- */

void ck_html_open(struct bg_buf *b, const char *title)
{
	ck_html_begin(b, title);
}

void ck_html_close(struct cockpit_reply *r)
{
	ck_html_end(r);
}
