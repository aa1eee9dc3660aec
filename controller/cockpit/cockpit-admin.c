/*
 * cockpit-admin: admin mode (issue 15). It changes state in exactly two
 * ways, both by handing a request to the watch daemon's control socket
 * through the CLI's own client (o->act, set by cmd-cockpit.c), so the
 * daemon checks, runs and journals them as it does `bluegreen apply`,
 * with the actor "cockpit:USER":
 *   - approving the pending plan: the daemon's newest plan, read from the
 *     journal (the daemon journals every plan it prints, with its token and
 *     text), so this process never needs Docker; the form carries *that*
 *     token and the confirm phrases the user types (production sites);
 *   - rolling a site back, after a second form where the site's name is
 *     typed.
 * Anything else stays read-only. Only an admin reaches these routes (the
 * gate in cockpit-login.c), and every POST has passed the CSRF check.
 */
#include "cockpit-int.h"
#include "cockpit-admin.h"

#include "bg-log.h"
#include "cfg.h"
#include "hist.h"

/* The daemon's newest plan as the journal has it. */
struct ck_admin {
	pthread_mutex_t mu;
	uint64_t seen_seq;
	uint64_t seq;
	int64_t time_ms;
	char *token, *result, *details;
};

struct ck_admin *ck_admin_new(const struct cockpit_opts *o)
{
	struct ck_admin *a = bg_xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	return a;
}

void ck_admin_free(struct ck_admin *a)
{
	if (!a) {
		return;
	}
	free(a->token);
	free(a->result);
	free(a->details);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

static int ck_admin_walk(const struct hist_entry *e, void *arg)
{
	struct ck_admin *a = arg;
	a->seen_seq = e->seq;
	if (e->action && e->token && (strcmp(e->action, "plan") == 0 ||
			strcmp(e->action, "drift") == 0)) {
		free(a->token);
		free(a->result);
		free(a->details);
		a->token = bg_xstrdup(e->token);
		a->result = bg_xstrdup(e->result);
		a->details = bg_xstrdup(e->details);
		a->seq = e->seq;
		a->time_ms = e->time_ms;
	}
	return 0;
}

/* The current plan (copies; all NULL when the daemon printed none yet). */
struct ck_plan {
	char *token, *result, *details;
	int64_t time_ms;
	bool used;
};

static void ck_plan_get(struct cockpit *ck, struct ck_plan *p)
{
	struct ck_admin *a = ck->admin;
	memset(p, 0, sizeof(*p));
	pthread_mutex_lock(&a->mu);
	/* Only the entries since the last look: the walk of the whole journal happens once. */
	if (ck->o.hist && hist_last_seq(ck->o.hist) > a->seen_seq) {
		hist_foreach(ck->o.hist, NULL, a->seen_seq, 0, ck_admin_walk, a);
	}
	p->token = bg_xstrdup(a->token);
	p->result = bg_xstrdup(a->result);
	p->details = bg_xstrdup(a->details);
	p->time_ms = a->time_ms;
	pthread_mutex_unlock(&a->mu);
	p->used = p->token && ck->o.hist && hist_token_used(ck->o.hist, p->token);
}

static void ck_plan_release(struct ck_plan *p)
{
	free(p->token);
	free(p->result);
	free(p->details);
}

static bool ck_plan_pending(const struct ck_plan *p)
{
	return p->token && !p->used && p->result && strcmp(p->result, "pending") == 0;
}

static void ck_html_done(struct cockpit_reply *r, unsigned status)
{
	ck_html_close(r);
	r->status = status;
	r->ctype = "text/html; charset=utf-8";
}

static void ck_csrf_field(struct bg_buf *b, const struct ck_scope *sc)
{
	bg_buf_addf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", sc->csrf);
}

/* One text field per site that has a confirm phrase: the user types it (never shown). */
static void ck_confirm_fields(struct cockpit *ck, struct bg_buf *b)
{
	for (size_t i = 0; ck->o.cfg && i < ck->o.cfg->n_sites; i++) {
		const struct cfg_site *s = &ck->o.cfg->sites[i];
		if (!s->confirm) {
			continue;
		}
		bg_buf_adds(b, "<p><label>Confirm phrase of <b>");
		cockpit_html_esc(b, s->name);
		bg_buf_adds(b, "</b> (needed when the plan changes it) <input name=\"confirm\" "
				"autocomplete=\"off\"></label></p>\n");
	}
}

static void ck_page_plan(struct cockpit *ck, struct cockpit_reply *r)
{
	struct ck_plan p;
	char when[32] = "-";
	ck_plan_get(ck, &p);
	ck_html_open(&r->body, "Pending plan");
	if (!p.token) {
		bg_buf_adds(&r->body, "<p class=\"note\">The watch daemon has not printed a plan yet.</p>\n");
		goto out;
	}
	bg_time_format_utc(p.time_ms, when);
	bg_buf_addf(&r->body, "<p>The daemon's newest plan, printed at %s: token <code id=\"token\">",
			when);
	cockpit_html_esc(&r->body, p.token);
	bg_buf_adds(&r->body, "</code> (");
	cockpit_html_esc(&r->body, p.used ? "applied" : p.result);
	bg_buf_adds(&r->body, ").</p>\n<pre>");
	cockpit_html_esc(&r->body, p.details);
	bg_buf_adds(&r->body, "</pre>\n");
	if (!ck_plan_pending(&p)) {
		bg_buf_adds(&r->body, "<p class=\"muted\">Nothing to approve.</p>\n");
		goto out;
	}
	bg_buf_addf(&r->body, "<form method=\"post\" action=\"%s\">", CK_ROUTE_APPROVE);
	ck_csrf_field(&r->body, r->scope);
	bg_buf_adds(&r->body, "<input type=\"hidden\" name=\"token\" value=\"");
	cockpit_html_esc(&r->body, p.token);
	bg_buf_adds(&r->body, "\">\n");
	ck_confirm_fields(ck, &r->body);
	bg_buf_adds(&r->body, "<p><button type=\"submit\">Approve this plan</button></p></form>\n");
out:
	/* The rollback forms: one link per configured site (each asks again). */
	for (size_t i = 0; ck->o.cfg && i < ck->o.cfg->n_sites; i++) {
		bg_buf_adds(&r->body, i ? " · " : "<p>Roll back: ");
		bg_buf_adds(&r->body, "<a href=\"/sites/");
		cockpit_html_esc(&r->body, ck->o.cfg->sites[i].name);
		bg_buf_addf(&r->body, "%s\">", CK_ROUTE_ROLLBACK);
		cockpit_html_esc(&r->body, ck->o.cfg->sites[i].name);
		bg_buf_adds(&r->body, i + 1 == ck->o.cfg->n_sites ? "</a></p>\n" : "</a>");
	}
	bg_buf_adds(&r->body, "<p><a href=\"/\">Sites</a> · <a href=\"/logout\">Log out</a></p>\n");
	ck_html_done(r, 200);
	ck_plan_release(&p);
}

static void ck_api_plan(struct cockpit *ck, struct cockpit_reply *r)
{
	struct ck_plan p;
	ck_plan_get(ck, &p);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "token", p.token ? json_object_new_string(p.token) : NULL);
	json_object_object_add(o, "time_ms", json_object_new_int64(p.time_ms));
	json_object_object_add(o, "result", p.result ? json_object_new_string(p.result) : NULL);
	json_object_object_add(o, "used", json_object_new_boolean(p.used));
	json_object_object_add(o, "pending", json_object_new_boolean(ck_plan_pending(&p)));
	json_object_object_add(o, "text", p.details ? json_object_new_string(p.details) : NULL);
	r->status = 200;
	r->ctype = "application/json";
	bg_buf_adds(&r->body, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	bg_buf_addch(&r->body, '\n');
	json_object_put(o);
	ck_plan_release(&p);
}

/* Hand the action to the daemon and show what it answered. */
static void ck_act(struct cockpit *ck, struct cockpit_reply *r, const char *title,
		const struct cockpit_act *act)
{
	struct bg_buf out = BG_BUF_INIT;
	int code = BG_EXIT_ERROR;
	int err = ck->o.act(ck->o.act_arg, act, &out, &code);
	bg_log(BG_LOG_INFO, "cockpit: %s %s %s: exit %d", act->actor,
			act->token ? "approved" : "rolled back",
			act->token ? act->token : act->rollback_site, err ? -1 : code);
	ck_html_open(&r->body, title);
	bg_buf_addf(&r->body, "<p class=\"%s\">The daemon answered: exit %d%s.</p>\n<pre>",
			!err && code == 0 ? "muted" : "note", err ? BG_EXIT_ERROR : code,
			!err && code == 0 ? " (done)" : "");
	cockpit_html_esc(&r->body, out.data);
	bg_buf_adds(&r->body, "</pre>\n<p><a href=\"/\">Sites</a> · <a href=\"/plan\">Plan</a></p>\n");
	ck_html_done(r, !err && code == 0 ? 200 : 409);
	bg_buf_release(&out);
}

static void ck_post_approve(struct cockpit *ck, const struct cockpit_req *rq,
		struct cockpit_reply *r)
{
	struct ck_plan p;
	const char *token = ck_form_get(rq, "token");
	ck_plan_get(ck, &p);
	/* Only the plan the page showed, and only while it is the pending one. */
	if (!token || !ck_plan_pending(&p) || strcmp(token, p.token) != 0) {
		ck_page_error(r, 409, "Not the pending plan", "This plan is no longer the pending "
				"one (or there is none): reload the plan page and read it again.");
		ck_plan_release(&p);
		return;
	}
	struct bg_strv confirms;
	bg_strv_init(&confirms);
	for (size_t i = 0; rq->form_keys && i < rq->form_keys->n; i++) {
		if (strcmp(rq->form_keys->v[i], "confirm") == 0 && rq->form_vals->v[i][0]) {
			bg_strv_push(&confirms, rq->form_vals->v[i]);
		}
	}
	char *actor = bg_xasprintf("cockpit:%s", r->scope->user);
	struct cockpit_act act = {.token = p.token, .confirms = &confirms, .actor = actor};
	ck_act(ck, r, "Approve", &act);
	free(actor);
	bg_strv_release(&confirms);
	ck_plan_release(&p);
}

/* GET: the confirmation form; POST: roll back once the site's name was typed. */
static void ck_rollback(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r,
		const char *site, bool post)
{
	const char *typed = post ? ck_form_get(rq, "site") : NULL;
	if (post && typed && bg_ct_streq(typed, site)) {
		char *actor = bg_xasprintf("cockpit:%s", r->scope->user);
		struct cockpit_act act = {.rollback_site = site, .actor = actor};
		ck_act(ck, r, "Rollback", &act);
		free(actor);
		return;
	}
	ck_html_open(&r->body, "Roll back");
	if (post) {
		bg_buf_adds(&r->body, "<p class=\"note\">The name typed is not the site's: nothing "
				"was done.</p>\n");
	}
	bg_buf_adds(&r->body, "<p>Roll <b>");
	cockpit_html_esc(&r->body, site);
	bg_buf_adds(&r->body, "</b> back to its previous colour? Type the site's name to confirm.</p>\n"
			"<form method=\"post\">");
	ck_csrf_field(&r->body, r->scope);
	bg_buf_adds(&r->body, "<p><label>Site <input name=\"site\" autocomplete=\"off\" required>"
			"</label></p><p><button type=\"submit\">Roll back</button></p></form>\n");
	ck_html_done(r, post ? 400 : 200);
}

/* "/sites/NAME/rollback" -> NAME (a new string), when NAME is a configured site. */
static char *ck_rollback_site(struct cockpit *ck, const char *path)
{
	size_t pl = strlen("/sites/"), sl = strlen(CK_ROUTE_ROLLBACK), n = strlen(path);
	if (!bg_str_has_prefix(path, "/sites/") || n <= pl + sl ||
			strcmp(path + n - sl, CK_ROUTE_ROLLBACK) != 0) {
		return NULL;
	}
	char *site = bg_xstrndup(path + pl, n - pl - sl);
	bool known = false;
	for (size_t i = 0; ck->o.cfg && i < ck->o.cfg->n_sites; i++) {
		known = known || strcmp(ck->o.cfg->sites[i].name, site) == 0;
	}
	if (!ck_site_name_ok(site) || !known) {
		free(site);
		return NULL;
	}
	return site;
}

bool ck_admin_route(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r)
{
	bool get = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
	bool post = strcmp(rq->method, "POST") == 0;
	char *site = NULL;
	if (get && strcmp(rq->path, CK_ROUTE_PLAN) == 0) {
		ck_page_plan(ck, r);
	} else if (get && strcmp(rq->path, CK_ROUTE_PLAN_API) == 0) {
		ck_api_plan(ck, r);
	} else if (post && strcmp(rq->path, CK_ROUTE_APPROVE) == 0) {
		ck_post_approve(ck, rq, r);
	} else if (get && ck_logs_path(rq->path)) { /* issue 15: cockpit-logs.c */
		ck_logs_route(ck, rq, r);
	} else if ((get || post) && (site = ck_rollback_site(ck, rq->path))) {
		ck_rollback(ck, rq, r, site, post);
		free(site);
	} else {
		return false;
	}
	return true;
}
