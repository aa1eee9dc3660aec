/*
 * cockpit: the dispatcher (route table), the snapshot reader, the history
 * digest and the refusal log. Safe mode's guarantee lives here: the route
 * table has GET routes only, and any other method is refused before a
 * route is even looked up. Nothing in this file can change state: the
 * history handle is read-only and the only file written is the refusal
 * log (ADR "cockpit safe mode": why not the journal).
 */
#include "cockpit-int.h"
#include "cockpit-sse.h"

#include "bg-fs.h"
#include "bg-log.h"
#include "cfg.h"
#include "hist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The snapshot is small (a few hundred bytes per site): anything larger is refused. */
#define CK_SNAP_MAX (8u << 20)

void cockpit_reply_init(struct cockpit_reply *r)
{
	r->status = 200;
	r->ctype = "text/plain; charset=utf-8";
	bg_buf_init(&r->body, 0);
	r->set_cookie = r->location = NULL;
	r->scope = NULL;
	r->admin = false;
	r->set_cookie2 = NULL;
}

void cockpit_reply_release(struct cockpit_reply *r)
{
	if (r) {
		bg_buf_release(&r->body);
		free(r->set_cookie);
		free(r->location);
		free(r->set_cookie2);
		ck_scope_free(r->scope);
		r->set_cookie = r->location = r->set_cookie2 = NULL;
		r->scope = NULL;
	}
}

struct cockpit *cockpit_new(const struct cockpit_opts *o)
{
	struct cockpit *ck = bg_xcalloc(1, sizeof(*ck));
	ck->o = *o;
	pthread_mutex_init(&ck->mu, NULL);
	ck->auth = o->users_path ? ck_auth_new(o) : NULL;
	ck->admin = o->act ? ck_admin_new(o) : NULL;
	ck->pub = o->publish_dir ? ck_pub_new(o->publish_dir) : NULL; /* issue 15 (P) */
	return ck;
}

void cockpit_free(struct cockpit *ck)
{
	if (!ck) {
		return;
	}
	for (size_t i = 0; i < ck->n_counts; i++) {
		free(ck->counts[i].action);
		free(ck->counts[i].result);
	}
	for (size_t i = 0; i < ck->n_sw; i++) {
		free(ck->sw[i].site);
		free(ck->sw[i].details);
	}
	free(ck->counts);
	free(ck->sw);
	ck_dur_free(ck->dur);
	ck_auth_free(ck->auth);
	ck_admin_free(ck->admin);
	ck_pub_free(ck->pub);
	pthread_mutex_destroy(&ck->mu);
	free(ck);
}

/* ---- the snapshot ---- */

const char *ck_jstr(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	return json_object_get_string(v);
}

/* Drop the sites r's user may not see (a viewer): they are never rendered. */
static void ck_snap_scope(struct ck_snap *s, const struct cockpit_reply *r)
{
	if (!r || !ck_scope_limited(r->scope) || !s->sites) {
		return;
	}
	struct json_object *keep = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(s->sites); i++) {
		struct json_object *o = json_object_array_get_idx(s->sites, i);
		if (ck_scope_sees(r->scope, ck_jstr(o, "site"))) {
			json_object_array_add(keep, json_object_get(o));
		}
	}
	json_object_object_add(s->root, "sites", keep);
	s->sites = keep;
}

void ck_snap_load(struct cockpit *ck, const struct cockpit_reply *r, struct ck_snap *s)
{
	char *text = NULL;
	size_t len = 0;
	struct json_object *v;
	memset(s, 0, sizeof(*s));
	int err = bg_file_read(ck->o.snapshot_path, CK_SNAP_MAX, &text, &len);
	if (err) {
		s->why = err == BG_ERRNO(ENOENT) ? "no status snapshot yet: is `bluegreen watch` running?"
						 : "the status snapshot cannot be read";
		return;
	}
	s->root = json_tokener_parse(text);
	free(text);
	if (!s->root || !json_object_object_get_ex(s->root, "sites", &s->sites) ||
			!json_object_is_type(s->sites, json_type_array)) {
		ck_snap_release(s);
		s->why = "the status snapshot is not valid";
		return;
	}
	/* A newer daemon's format is not guessed at. */
	if (json_object_object_get_ex(s->root, "format", &v) && json_object_get_int(v) != 1) {
		ck_snap_release(s);
		s->why = "the status snapshot has a format this cockpit does not know";
		return;
	}
	if (json_object_object_get_ex(s->root, "written_at_ms", &v)) {
		s->written_at_ms = json_object_get_int64(v);
	}
	ck_snap_scope(s, r);
}

void ck_snap_release(struct ck_snap *s)
{
	json_object_put(s->root);
	s->root = NULL;
	s->sites = NULL;
}

struct json_object *ck_snap_site(const struct ck_snap *s, const char *name)
{
	size_t n = s->sites ? json_object_array_length(s->sites) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(s->sites, i);
		const char *sn = ck_jstr(o, "site");
		if (sn && strcmp(sn, name) == 0) {
			return o;
		}
	}
	return NULL;
}

bool ck_site_name_ok(const char *name)
{
	return cfg_name_valid(name);
}

/* ---- the history digest ---- */

static void ck_count_add(struct cockpit *ck, const char *action, const char *result)
{
	size_t cap = ck->n_counts;
	result = result ? result : "none";
	for (size_t i = 0; i < ck->n_counts; i++) {
		if (strcmp(ck->counts[i].action, action) == 0 &&
				strcmp(ck->counts[i].result, result) == 0) {
			ck->counts[i].n++;
			return;
		}
	}
	BG_GROW(ck->counts, cap, ck->n_counts + 1);
	ck->counts[ck->n_counts++] = (struct ck_count){bg_xstrdup(action), bg_xstrdup(result), 1};
}

static void ck_switch_note(struct cockpit *ck, const struct hist_entry *e)
{
	size_t cap = ck->n_sw;
	for (size_t i = 0; i < ck->n_sw; i++) {
		if (strcmp(ck->sw[i].site, e->site) == 0) {
			free(ck->sw[i].details);
			ck->sw[i].details = bg_xstrdup(e->details);
			ck->sw[i].time_ms = e->time_ms;
			return;
		}
	}
	BG_GROW(ck->sw, cap, ck->n_sw + 1);
	ck->sw[ck->n_sw++] = (struct ck_switch){bg_xstrdup(e->site), e->time_ms,
		bg_xstrdup(e->details)};
}

static int ck_digest_cb(const struct hist_entry *e, void *arg)
{
	struct cockpit *ck = arg;
	if (!e->action) {
		return 0;
	}
	ck_count_add(ck, e->action, e->result);
	ck_dur_note(ck, e); /* issue 15 (E): the duration histograms */
	if (e->site && e->result && strcmp(e->result, "ok") == 0 &&
			(strcmp(e->action, "switch") == 0 || strcmp(e->action, "rollback") == 0)) {
		ck_switch_note(ck, e);
	}
	ck->seen_seq = e->seq;
	return 0;
}

/* issue 15 (P): a counter as the daemon published it (publish mode). */
static void ck_count_set(struct cockpit *ck, const char *action, const char *result, uint64_t n)
{
	ck_count_add(ck, action, result);
	for (size_t i = 0; i < ck->n_counts; i++) {
		if (strcmp(ck->counts[i].action, action) == 0 && strcmp(ck->counts[i].result, result) == 0) {
			ck->counts[i].n = n;
		}
	}
}

/* Only the entries added since the last call are read: a scrape stays cheap. */
void ck_digest_update(struct cockpit *ck)
{
	if (!ck->o.hist && !ck->pub) {
		return;
	}
	pthread_mutex_lock(&ck->mu);
	if (ck_hist_last_seq(ck) > ck->seen_seq) {
		ck_hist_foreach(ck, NULL, ck->seen_seq, 0, ck_digest_cb, ck);
		/* issue 15 (P): the published window is not the whole journal; the
		 * daemon's counters are. */
		ck_hist_counts(ck, ck_count_set);
	}
	pthread_mutex_unlock(&ck->mu);
}

const struct ck_switch *ck_digest_switch(const struct cockpit *ck, const char *site)
{
	for (size_t i = 0; i < ck->n_sw; i++) {
		if (strcmp(ck->sw[i].site, site) == 0) {
			return &ck->sw[i];
		}
	}
	return NULL;
}

/* ---- refusals ---- */

/*
 * One JSON line per refused request, the fields of a journal entry
 * (time_ms, actor, action, result, details): safe mode holds no write
 * handle on the history, so this file is its journal of refusals.
 */
void ck_refusal_log_as(struct cockpit *ck, const char *method, const char *path,
		const char *actor, const char *why)
{
	struct bg_buf b = BG_BUF_INIT;
	char *what = bg_xasprintf("%s %s", method, path);
	bg_buf_addf(&b, "{\"time_ms\": %" PRId64 ", \"actor\": ", bg_now_ms());
	bg_buf_add_json_str(&b, actor);
	bg_buf_adds(&b, ", \"action\": \"cockpit-request\", \"result\": \"refused\", \"details\": ");
	bg_buf_add_json_str(&b, what);
	bg_buf_adds(&b, ", \"why\": ");
	bg_buf_add_json_str(&b, why);
	bg_buf_adds(&b, "}\n");
	bg_log(BG_LOG_WARN, "cockpit: refused %s from %s (%s)", what, actor, why);
	if (ck->o.refusal_log) {
		int fd = open(ck->o.refusal_log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
				O_CLOEXEC | O_NONBLOCK, 0600);
		struct stat st;
		/* One write per line with O_APPEND: concurrent refusals never interleave. */
		if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
				write(fd, b.data, b.len) != (ssize_t)b.len) {
			bg_log(BG_LOG_ERROR, "cockpit: %s: cannot log the refusal: %s",
					ck->o.refusal_log, strerror(errno));
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	free(what);
	bg_buf_release(&b);
}

static void ck_refusal_log(struct cockpit *ck, const char *method, const char *path,
		const char *peer, const struct ck_scope *sc)
{
	char *actor = bg_xasprintf("cockpit:%s", sc ? sc->user : peer ? peer : "?");
	ck_refusal_log_as(ck, method, path, actor, sc && sc->role == CK_ROLE_ADMIN && ck->admin
			? "not an action of admin mode" : "safe mode: read-only");
	free(actor);
}

/* ---- routes ---- */

char *ck_query_get(const char *query, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			return bg_xstrndup(p + kl + 1, n - kl - 1);
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* The route table: exact paths, then "/prefix/NAME" ones. GET (and HEAD) only. */
enum ck_route_kind { CK_EXACT, CK_NAMED };
struct ck_route {
	const char *path; /* exact, or a prefix ending in '/' */
	enum ck_route_kind kind;
	void (*exact)(struct cockpit *ck, const char *query, struct cockpit_reply *r);
	void (*named)(struct cockpit *ck, const char *name, struct cockpit_reply *r);
};

static void rt_overview(struct cockpit *ck, const char *q, struct cockpit_reply *r)
{
	ck_page_overview(ck, r);
}

static void rt_sites(struct cockpit *ck, const char *q, struct cockpit_reply *r)
{
	ck_api_sites(ck, r);
}

static void rt_metrics(struct cockpit *ck, const char *q, struct cockpit_reply *r)
{
	ck_metrics(ck, r);
}

/* issue 15 (E): the pages' one script (cockpit-js.c). */
static void rt_script(struct cockpit *ck, const char *q, struct cockpit_reply *r)
{
	r->ctype = "text/javascript; charset=utf-8";
	bg_buf_adds(&r->body, ck_sse_js);
}

static const struct ck_route ck_routes[] = {
	{"/", CK_EXACT, rt_overview, NULL},
	{"/api/v1/sites", CK_EXACT, rt_sites, NULL},
	{"/api/v1/history", CK_EXACT, ck_api_history, NULL},
	{"/metrics", CK_EXACT, rt_metrics, NULL},
	{"/sites/", CK_NAMED, NULL, ck_page_site},
	{"/api/v1/sites/", CK_NAMED, NULL, ck_api_site},
	/* issue 15 (E): live updates (/events itself streams: cockpit-http.c) */
	{"/static/cockpit.js", CK_EXACT, rt_script, NULL},
};

void cockpit_handle(struct cockpit *ck, const char *method, const char *path,
		const char *query, const char *peer, struct cockpit_reply *r)
{
	struct cockpit_req rq = {.method = method, .path = path, .query = query, .peer = peer};
	cockpit_handle_req(ck, &rq, r);
}

void cockpit_handle_req(struct cockpit *ck, const struct cockpit_req *rq,
		struct cockpit_reply *r)
{
	const char *method = rq->method, *path = rq->path, *query = rq->query;
	bool is_api = bg_str_has_prefix(path, "/api/");
	r->admin = ck->admin != NULL; /* issue 15 (P): the footer says which mode serves */
	/* issue 15: login, sessions, CSRF, admin mode (cockpit-login.c) */
	if (ck_auth_gate(ck, rq, r)) {
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		ck_refusal_log(ck, method, path, rq->peer, r->scope);
		ck_page_error(r, 403, "Forbidden", "This cockpit runs in safe mode: it only shows.");
		return;
	}
	if (ck_logs_path(path)) {
		/* issue 15: the logs are an admin's (ck_admin_route); anyone else: no such site. */
		ck_api_no_site(r);
		return;
	}
	for (size_t i = 0; i < sizeof(ck_routes) / sizeof(ck_routes[0]); i++) {
		const struct ck_route *rt = &ck_routes[i];
		if (rt->kind == CK_EXACT && strcmp(path, rt->path) == 0) {
			rt->exact(ck, query, r);
			return;
		}
		if (rt->kind == CK_NAMED && bg_str_has_prefix(path, rt->path) &&
				ck_site_name_ok(path + strlen(rt->path))) {
			/* A site the user may not see is "no such site", word for word. */
			if (!ck_scope_sees(r->scope, path + strlen(rt->path))) {
				is_api ? ck_api_no_site(r) : ck_page_error(r, 404, "Not found",
						"There is no such site.");
				return;
			}
			rt->named(ck, path + strlen(rt->path), r);
			return;
		}
	}
	if (is_api) {
		r->status = 404;
		r->ctype = "application/json";
		bg_buf_adds(&r->body, "{\"error\": \"no such route\"}\n");
		return;
	}
	ck_page_error(r, 404, "Not found", "There is no such page.");
}
