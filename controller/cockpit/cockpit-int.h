/*
 * cockpit-int: what the cockpit's files share: the snapshot as parsed, the
 * history digest (counters and last switches, kept up to date by walking
 * only the entries added since the last request), and the page renderers.
 */
#ifndef BG_CONTROLLER_COCKPIT_INT_H
#define BG_CONTROLLER_COCKPIT_INT_H

#include "cockpit.h"
#include "bg-util.h"
#include "cockpit-auth.h"

#include <json-c/json.h>
#include <pthread.h>

/* Counters by (action, result) over the whole journal. */
struct ck_count {
	char *action, *result;
	uint64_t n;
};

/* The last ok switch or rollback of a site. */
struct ck_switch {
	char *site;
	int64_t time_ms;
	char *details;
};

struct cockpit {
	struct cockpit_opts o;
	pthread_mutex_t mu; /* the digest below */
	uint64_t seen_seq;
	struct ck_count *counts;
	size_t n_counts;
	struct ck_switch *sw;
	size_t n_sw;
	/* issue 15 (E): live updates, TLS, durations for the histograms */
	struct ck_sse_hub *sse;   /* NULL: no server (unit tests) */
	bool tls;                 /* served over our own TLS */
	struct ck_durations *dur; /* apply and switch durations (cockpit-metrics.c) */
	/* issue 15: users and sessions (cockpit-login.c), admin mode (cockpit-admin.c). */
	struct ck_auth *auth;   /* NULL: no users file, no login */
	struct ck_admin *admin; /* NULL: safe mode */
	struct ck_pub *pub;     /* issue 15 (P): the publish directory's journal; NULL: the history */
};

/* The snapshot: root object (NULL when absent/unreadable, *why says so). */
struct ck_snap {
	struct json_object *root;
	struct json_object *sites; /* array, borrowed from root */
	int64_t written_at_ms;
	const char *why;
};
/* Only the sites r's user may see are kept (cockpit-login.c, ck_scope_sees). */
void ck_snap_load(struct cockpit *ck, const struct cockpit_reply *r, struct ck_snap *s);
void ck_snap_release(struct ck_snap *s);
/* The site object named name (borrowed), NULL if none. */
struct json_object *ck_snap_site(const struct ck_snap *s, const char *name);
/* A string member, NULL if absent or not a string. */
const char *ck_jstr(struct json_object *o, const char *key);

/* Bring the digest up to date with the journal (takes ck->mu). */
void ck_digest_update(struct cockpit *ck);
/* Copies out of the digest (ck->mu held by the caller). */
const struct ck_switch *ck_digest_switch(const struct cockpit *ck, const char *site);

/* A site name fit for a route: what config accepts (letters, digits, -). */
bool ck_site_name_ok(const char *name);

/* issue 15 (E): apply and switch durations from the journal (cockpit-metrics.c);
 * ck_dur_note is called for every entry the digest reads, ck->mu held. */
struct hist_entry;
void ck_dur_note(struct cockpit *ck, const struct hist_entry *e);
void ck_dur_free(struct ck_durations *d);

/* Pages (cockpit-html.c), API (cockpit-api.c), metrics (cockpit-metrics.c). */
void ck_page_overview(struct cockpit *ck, struct cockpit_reply *r);
void ck_page_site(struct cockpit *ck, const char *name, struct cockpit_reply *r);
void ck_page_error(struct cockpit_reply *r, unsigned status, const char *title, const char *text);
void ck_api_sites(struct cockpit *ck, struct cockpit_reply *r);
void ck_api_site(struct cockpit *ck, const char *name, struct cockpit_reply *r);
void ck_api_history(struct cockpit *ck, const char *query, struct cockpit_reply *r);
void ck_metrics(struct cockpit *ck, struct cockpit_reply *r);
/* One query parameter's value (a new string), NULL if absent. */
char *ck_query_get(const char *query, const char *key);

/* ---- issue 15: users, sessions, CSRF (cockpit-login.c), admin mode (cockpit-admin.c) ---- */

/* Who a request is from: a copy, so a users file reloaded meanwhile changes nothing. */
struct ck_scope {
	char *user;
	enum ck_role role;
	struct bg_strv sites;
	char csrf[CK_TOKEN_HEX + 1];
	char *session; /* the cookie's value */
};
void ck_scope_free(struct ck_scope *sc); /* NULL-safe */
/* Whether sc may see site (NULL sc: no login in use, every site). */
bool ck_scope_sees(const struct ck_scope *sc, const char *site);
/* Whether sc sees only some sites (a viewer). */
bool ck_scope_limited(const struct ck_scope *sc);

struct ck_auth *ck_auth_new(const struct cockpit_opts *o);
void ck_auth_free(struct ck_auth *a);
/*
 * Login, logout, sessions, CSRF and the admin routes, before the read-only
 * routes: true when it answered r; false to go on, with r->scope set when
 * a user is logged in (and left NULL when no users file is in use).
 */
bool ck_auth_gate(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r);
/* A form field's value (borrowed), NULL if absent. */
const char *ck_form_get(const struct cockpit_req *rq, const char *key);
/* A refused request, as one JSON line of the refusal log (cockpit.c). */
void ck_refusal_log_as(struct cockpit *ck, const char *method, const char *path,
		const char *actor, const char *why);
/* Page frame of cockpit-html.c, for the pages of login and admin mode. */
void ck_html_open(struct bg_buf *b, const char *title);
void ck_html_close(struct cockpit_reply *r); /* its footer names r->admin's mode */
/* The 404 of an unknown site, identical for a site the user may not see. */
void ck_api_no_site(struct cockpit_reply *r);
/* A viewer's history: only its sites' entries (cockpit-api.c). */
void ck_api_history_scoped(struct cockpit *ck, const char *query, struct cockpit_reply *r);

struct ck_admin *ck_admin_new(const struct cockpit_opts *o);
void ck_admin_free(struct ck_admin *a);
/* Admin mode's routes for an admin (GET /plan, /api/v1/plan, the rollback form; POSTs): true when answered. */
bool ck_admin_route(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r);
/*
 * issue 15: the site's container logs for an admin (cockpit-logs.c), read
 * by the daemon ("logs SITE" on its control socket): the page's section,
 * the JSON route (CK_ROUTE_LOGS), and whether a path is that route (the
 * 404 every other user gets, word for word an unknown site's).
 */
void ck_logs_section(struct cockpit *ck, struct cockpit_reply *r, const char *site);
bool ck_logs_route(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r);
bool ck_logs_path(const char *path);
/* The daemon's text as JSON (exposed for the tests): a new object. */
struct json_object *ck_logs_json(const char *site, const char *text);

/* ---- issue 15 (P): the journal, from the history or the publish directory (cockpit-pub.c) ---- */

/* The journal window's name in the publish directory (pubdir.h's PUBDIR_JOURNAL). */
#define CK_PUB_JOURNAL COCKPIT_PUB_JOURNAL
struct ck_pub *ck_pub_new(const char *dir);
void ck_pub_free(struct ck_pub *p); /* NULL-safe */
struct obs;
uint64_t ck_hist_last_seq(struct cockpit *ck);
/* hist_foreach's contract; from the published window in publish mode. */
int ck_hist_foreach(struct cockpit *ck, const char *site, uint64_t after, size_t limit,
		int (*cb)(const struct hist_entry *e, void *arg), void *arg);
/* The site versions into o (obs_finish is the caller's); <0 when none could be read. */
int ck_hist_observe(struct cockpit *ck, struct obs *o);
/* The daemon's counters of the whole journal (publish mode): false when none. */
bool ck_hist_counts(struct cockpit *ck, void (*cb)(struct cockpit *ck, const char *action,
		const char *result, uint64_t n));

#endif /* BG_CONTROLLER_COCKPIT_INT_H */
