/*
 * cockpit-login: the gate in front of every route once a users file is in
 * use (issue 15, docs/cockpit.md "Users and roles"). It serves the login
 * form and its POST (throttled per client address and per user name),
 * logout, and hands a logged-in user's requests on with a scope: a copy of
 * who they are, which sites they see and their session's CSRF token.
 * Every POST but the login itself must carry that token in a hidden field
 * (compared in constant time), else 403; the login POST has no session
 * yet, so it carries the login form's own token instead (a pre-session
 * cookie and a keyed MAC of it in the form, cockpit-auth.h), checked
 * before the throttle and the password; a request without a session gets
 * the login page (HTML) or 401 (JSON, metrics). The users file is re-read
 * when it changes, so `cockpit user del` ends that user's sessions; a file
 * that turns bad closes the cockpit (503) rather than opening it.
 */
#include "cockpit-int.h"

#include "bg-log.h"

#include <openssl/rand.h>
#include <sys/stat.h>

struct ck_auth {
	char *path;
	bool secure;
	pthread_mutex_t mu; /* users and the file's identity below */
	struct ck_users users;
	bool bad; /* the file as last read is refused: nobody gets in */
	struct stat id;
	struct ck_sessions *sessions;
	/* The login form's MAC key, drawn at start (a restart voids open forms). */
	unsigned char form_key[CK_LOGIN_KEY_LEN];
	bool form_key_ok; /* false: RAND_bytes failed, every login is refused */
};

void ck_scope_free(struct ck_scope *sc)
{
	if (!sc) {
		return;
	}
	free(sc->user);
	free(sc->session);
	bg_strv_release(&sc->sites);
	explicit_bzero(sc, sizeof(*sc));
	free(sc);
}

bool ck_scope_sees(const struct ck_scope *sc, const char *site)
{
	return !sc || (site && (sc->role == CK_ROLE_ADMIN || bg_strv_contains(&sc->sites, site)));
}

bool ck_scope_limited(const struct ck_scope *sc)
{
	return sc && sc->role != CK_ROLE_ADMIN;
}

/* Re-read the users file when its identity (inode, size, mtime) changed. */
static void ck_auth_refresh(struct ck_auth *a)
{
	struct stat st;
	struct bg_diag d;
	if (lstat(a->path, &st) == 0 && st.st_ino == a->id.st_ino && st.st_size == a->id.st_size &&
			st.st_mtim.tv_sec == a->id.st_mtim.tv_sec &&
			st.st_mtim.tv_nsec == a->id.st_mtim.tv_nsec && st.st_mode == a->id.st_mode) {
		return;
	}
	struct ck_users fresh;
	ck_users_init(&fresh);
	bg_diag_init(&d);
	int err = ck_users_load(&fresh, a->path, &d);
	for (size_t i = 0; i < d.n; i++) {
		bg_log(BG_LOG_ERROR, "cockpit: %s", d.items[i].msg);
	}
	bg_diag_release(&d);
	a->id = st;
	a->bad = err != 0;
	if (err) {
		bg_log(BG_LOG_ERROR, "cockpit: %s is refused: nobody can log in until it is mended",
				a->path);
		ck_users_release(&fresh);
		return;
	}
	/* A user gone (or whose role changed) loses the sessions they had. */
	for (size_t i = 0; i < a->users.n; i++) {
		const struct ck_user *now = ck_users_find(&fresh, a->users.v[i].name);
		if (!now || now->role != a->users.v[i].role ||
				!bg_strv_equal(&now->sites, &a->users.v[i].sites)) {
			ck_sessions_drop_user(a->sessions, a->users.v[i].name);
		}
	}
	ck_users_release(&a->users);
	a->users = fresh;
}

struct ck_auth *ck_auth_new(const struct cockpit_opts *o)
{
	struct ck_auth *a = bg_xcalloc(1, sizeof(*a));
	a->path = bg_xstrdup(o->users_path);
	a->secure = o->cookie_secure;
	pthread_mutex_init(&a->mu, NULL);
	ck_users_init(&a->users);
	a->sessions = ck_sessions_new();
	a->id.st_ino = (ino_t)-1;
	a->form_key_ok = RAND_bytes(a->form_key, sizeof(a->form_key)) == 1;
	if (!a->form_key_ok) {
		bg_log(BG_LOG_ERROR, "cockpit: no random key for the login form: nobody can log in");
	}
	ck_auth_refresh(a);
	return a;
}

void ck_auth_free(struct ck_auth *a)
{
	if (!a) {
		return;
	}
	ck_users_release(&a->users);
	ck_sessions_free(a->sessions);
	explicit_bzero(a->form_key, sizeof(a->form_key));
	pthread_mutex_destroy(&a->mu);
	free(a->path);
	free(a);
}

const char *ck_form_get(const struct cockpit_req *rq, const char *key)
{
	for (size_t i = 0; rq->form_keys && rq->form_vals && i < rq->form_keys->n &&
			i < rq->form_vals->n; i++) {
		if (strcmp(rq->form_keys->v[i], key) == 0) {
			return rq->form_vals->v[i];
		}
	}
	return NULL;
}

/* ---- pages ---- */

/* Whether rq came over HTTPS as the browser sees it (the cookies' Secure, __Host-). */
static bool ck_auth_secure(const struct ck_auth *a, const struct cockpit_req *rq)
{
	return a->secure || rq->secure;
}

/* The login form, with a fresh form token: its cookie goes in r->set_cookie2. */
static void ck_login_page(struct ck_auth *a, const struct cockpit_req *rq,
		struct cockpit_reply *r, unsigned status, const char *msg)
{
	char nonce[CK_TOKEN_HEX + 1];
	char *field = NULL;
	bg_buf_reset(&r->body);
	if (!a->form_key_ok || ck_login_form_new(a->form_key, bg_now_ms(), nonce, &field) != 0) {
		ck_page_error(r, 503, "Closed", "The cockpit cannot draw random numbers: see its log.");
		return;
	}
	free(r->set_cookie2);
	r->set_cookie2 = ck_login_cookie_header(nonce, ck_auth_secure(a, rq));
	explicit_bzero(nonce, sizeof(nonce));
	ck_html_open(&r->body, "Log in");
	if (msg) {
		bg_buf_adds(&r->body, "<p class=\"note\">");
		cockpit_html_esc(&r->body, msg);
		bg_buf_adds(&r->body, "</p>\n");
	}
	bg_buf_addf(&r->body, "<form method=\"post\" action=\"/login\">\n"
			"<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n", field);
	free(field);
	bg_buf_adds(&r->body,
			"<p><label>User <input name=\"user\" autocomplete=\"username\" required "
			"autofocus></label></p>\n"
			"<p><label>Password <input name=\"password\" type=\"password\" "
			"autocomplete=\"current-password\" required></label></p>\n"
			"<p><button type=\"submit\">Log in</button></p>\n</form>\n");
	ck_html_close(r);
	r->status = status;
	r->ctype = "text/html; charset=utf-8";
}

static void ck_redirect(struct cockpit_reply *r, const char *to)
{
	bg_buf_reset(&r->body);
	r->status = 303;
	r->ctype = "text/plain; charset=utf-8";
	free(r->location);
	r->location = bg_xstrdup(to);
	bg_buf_addf(&r->body, "See %s\n", to);
}

static void ck_forbidden(struct cockpit *ck, const struct cockpit_req *rq,
		struct cockpit_reply *r, const char *who, const char *why)
{
	char *actor = bg_xasprintf("cockpit:%s", who);
	ck_refusal_log_as(ck, rq->method, rq->path, actor, why);
	free(actor);
	ck_page_error(r, 403, "Forbidden", why);
}

static void ck_logout_page(struct cockpit_reply *r, const struct ck_scope *sc)
{
	ck_html_open(&r->body, "Log out");
	bg_buf_adds(&r->body, "<p>Logged in as <b>");
	cockpit_html_esc(&r->body, sc->user);
	bg_buf_addf(&r->body, "</b> (%s).</p>\n<form method=\"post\" action=\"/logout\">"
			"<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			"<button type=\"submit\">Log out</button></form>\n",
			ck_role_name(sc->role), sc->csrf);
	ck_html_close(r);
	r->status = 200;
	r->ctype = "text/html; charset=utf-8";
}

/* ---- login ---- */

/*
 * The login form's token: the cookie of the channel's kind (only the
 * __Host- one over HTTPS) and the field it was served with. A failure is
 * a refused request, logged as the other CSRF failures are; the throttle
 * and the password are not touched (a forged form learns nothing).
 */
static bool ck_login_form_check(struct cockpit *ck, struct ck_auth *a,
		const struct cockpit_req *rq, struct cockpit_reply *r)
{
	const char *nonce = ck_auth_secure(a, rq) ? rq->login_cookie_host : rq->login_cookie;
	if (a->form_key_ok && ck_login_form_ok(a->form_key, nonce, ck_form_get(rq, "csrf"),
			bg_now_ms())) {
		return true;
	}
	char *actor = bg_xasprintf("cockpit:%s", rq->peer ? rq->peer : "?");
	ck_refusal_log_as(ck, rq->method, rq->path, actor,
			"missing or wrong CSRF token (login form)");
	free(actor);
	ck_login_page(a, rq, r, 403, "This login form has expired or was not served by this "
			"cockpit: log in again.");
	return false;
}

/* POST /login: the form's token, then throttled per address and per name, then one scrypt check. */
static void ck_login_post(struct cockpit *ck, struct ck_auth *a, const struct cockpit_req *rq,
		struct cockpit_reply *r)
{
	if (!ck_login_form_check(ck, a, rq, r)) {
		return;
	}
	const char *user = ck_form_get(rq, "user"), *pw = ck_form_get(rq, "password");
	bool name_ok = ck_user_name_ok(user);
	char *kaddr = bg_xasprintf("addr:%s", rq->peer ? rq->peer : "?");
	char *kuser = bg_xasprintf("user:%s", name_ok ? user : "?");
	int64_t now = bg_now_ms();
	int64_t wait = ck_throttle_wait(a->sessions, kaddr, now);
	int64_t wu = ck_throttle_wait(a->sessions, kuser, now);
	wait = wu > wait ? wu : wait;
	if (wait > 0) {
		char *msg = bg_xasprintf("Too many failed logins: try again in %lld s.",
				(long long)((wait + 999) / 1000));
		ck_login_page(a, rq, r, 429, msg);
		free(msg);
		goto out;
	}
	pthread_mutex_lock(&a->mu);
	const struct ck_user *u = name_ok ? ck_users_find(&a->users, user) : NULL;
	char *hash = u ? bg_xstrdup(u->hash) : NULL;
	pthread_mutex_unlock(&a->mu);
	bool ok = ck_password_verify(pw ? pw : "", hash) && u && pw;
	free(hash);
	char id[CK_TOKEN_HEX + 1], csrf[CK_TOKEN_HEX + 1];
	/* The wait counts from the failure, not from the request: a slow scrypt
	 * (a loaded host) must not eat the delay before the next attempt. */
	now = bg_now_ms();
	if (!ok || ck_session_open(a->sessions, user, now, id, csrf) != 0) {
		ck_throttle_fail(a->sessions, kaddr, now);
		ck_throttle_fail(a->sessions, kuser, now);
		bg_log(BG_LOG_WARN, "cockpit: failed login from %s", rq->peer ? rq->peer : "?");
		ck_login_page(a, rq, r, 403, "Wrong user name or password.");
		goto out;
	}
	ck_throttle_ok(a->sessions, kaddr);
	ck_throttle_ok(a->sessions, kuser);
	bg_log(BG_LOG_INFO, "cockpit: %s logged in from %s", user, rq->peer ? rq->peer : "?");
	ck_redirect(r, "/");
	r->set_cookie = ck_cookie_header(id, ck_auth_secure(a, rq));
	r->set_cookie2 = ck_login_cookie_header(NULL, ck_auth_secure(a, rq)); /* used up */
	explicit_bzero(id, sizeof(id));
out:
	free(kaddr);
	free(kuser);
}

/* The scope of rq's session, NULL when it has none (or its user is gone). */
static struct ck_scope *ck_auth_scope(struct ck_auth *a, const struct cockpit_req *rq)
{
	char *user = NULL, csrf[CK_TOKEN_HEX + 1];
	if (!rq->cookie || !ck_session_get(a->sessions, rq->cookie, bg_now_ms(), &user, csrf)) {
		return NULL;
	}
	struct ck_scope *sc = NULL;
	pthread_mutex_lock(&a->mu);
	const struct ck_user *u = ck_users_find(&a->users, user);
	if (u) {
		sc = bg_xcalloc(1, sizeof(*sc));
		sc->user = bg_xstrdup(u->name);
		sc->role = u->role;
		bg_strv_init(&sc->sites);
		bg_strv_copy(&sc->sites, &u->sites);
		memcpy(sc->csrf, csrf, sizeof(csrf));
		sc->session = bg_xstrdup(rq->cookie);
	}
	pthread_mutex_unlock(&a->mu);
	free(user);
	explicit_bzero(csrf, sizeof(csrf));
	return sc;
}

/* No session: the login page for a page, 401 for the API and metrics, 403 for a POST. */
static void ck_auth_none(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r,
		bool is_get)
{
	if (!is_get) {
		ck_forbidden(ck, rq, r, rq->peer ? rq->peer : "?", "not logged in");
	} else if (bg_str_has_prefix(rq->path, "/api/") || strcmp(rq->path, "/metrics") == 0) {
		r->status = 401;
		r->ctype = "application/json";
		bg_buf_adds(&r->body, "{\"error\": \"log in first (POST /login)\"}\n");
	} else {
		ck_redirect(r, "/login");
	}
}

bool ck_auth_gate(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r)
{
	struct ck_auth *a = ck->auth;
	if (!a) {
		return false;
	}
	bool is_get = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
	pthread_mutex_lock(&a->mu);
	ck_auth_refresh(a);
	bool bad = a->bad;
	pthread_mutex_unlock(&a->mu);
	if (bad) {
		ck_page_error(r, 503, "Closed", "The cockpit's users file is refused: see its log.");
		return true;
	}
	if (strcmp(rq->path, "/login") == 0) {
		if (is_get) {
			ck_login_page(a, rq, r, 200, NULL);
		} else if (strcmp(rq->method, "POST") == 0) {
			ck_login_post(ck, a, rq, r);
		} else {
			ck_forbidden(ck, rq, r, rq->peer ? rq->peer : "?", "only GET or POST here");
		}
		return true;
	}
	r->scope = ck_auth_scope(a, rq);
	if (!r->scope) {
		ck_auth_none(ck, rq, r, is_get);
		return true;
	}
	if (!is_get) {
		/* Every POST of a session carries its CSRF token: checked before anything else. */
		const char *got = ck_form_get(rq, "csrf");
		if (!got || !bg_ct_streq(got, r->scope->csrf)) {
			ck_forbidden(ck, rq, r, r->scope->user, "missing or wrong CSRF token");
			return true;
		}
	}
	if (strcmp(rq->path, "/logout") == 0) {
		if (is_get) {
			ck_logout_page(r, r->scope);
		} else {
			ck_session_close(a->sessions, r->scope->session);
			ck_redirect(r, "/login");
			r->set_cookie = ck_cookie_header(NULL, a->secure || rq->secure);
		}
		return true;
	}
	if (ck->admin && r->scope->role == CK_ROLE_ADMIN) {
		return ck_admin_route(ck, rq, r);
	}
	return false;
}
