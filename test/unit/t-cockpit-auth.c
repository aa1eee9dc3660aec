/*
 * t-cockpit-auth: users, login and admin mode of the cockpit without a
 * server (issue 15): scrypt hashes (round trip, wrong password, a
 * malformed hash), the users file (refused unless mode 0600 and a regular
 * file; a symlink is refused; bad lines named), the session cookie's flags
 * (HttpOnly, SameSite=Strict, Path=/, Secure only over TLS), CSRF (a POST
 * without the token or with a wrong one is 403 and logged; the login
 * POST's own token: the login page's cookie and hidden field, missing,
 * wrong, from another form, stale or right), the login
 * throttle (after 5 failures even the right password waits), a viewer's
 * scope (another site is 404 word for word like an unknown one, and its
 * name appears in no page, no JSON, no metric), and admin mode's routes:
 * the plan's token read from the journal, approve hands *that* token to
 * the daemon callback with the actor cockpit:USER, rollback needs the
 * name typed, a viewer gets 404/403. The callback stands in for the
 * control socket here; t-cockpit-admin drives the real daemon.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cfg.h"
#include "cockpit.h"
#include "cockpit-auth.h"
#include "hist.h"
#include "th.h"

#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir, *snap_path, *refused_path, *users_path;
static struct hist *H;
static struct cockpit *CK;
static char *plan_token;

static const char snap_json[] =
	"{\"format\": 1, \"written_at_ms\": 1765000000000, \"pid\": 1, \"plan_ok\": true,"
	" \"pending_changes\": 1, \"sites\": ["
	"{\"site\": \"shop\", \"live\": \"green\", \"version\": 3, \"image\": \"i\","
	" \"health\": \"healthy (1/1)\", \"candidate\": null, \"previous\": null,"
	" \"in_sync\": true, \"pending_changes\": 0, \"blocked\": null},"
	"{\"site\": \"secretclient\", \"live\": \"blue\", \"version\": 1, \"image\": \"i\","
	" \"health\": \"healthy (1/1)\", \"candidate\": null, \"previous\": null,"
	" \"in_sync\": true, \"pending_changes\": 1, \"blocked\": null}]}";

/* What the admin-mode callback was asked. */
static struct {
	int calls;
	char *token, *rollback_site, *actor;
	size_t n_confirms;
} acted;

/* issue 15: what "logs SITE" was asked, and what the fake daemon answers. */
static struct {
	int calls;
	char *site;
	unsigned tail;
	int exit_code;
	const char *answer;
} logs_asked;

static int fake_act(void *arg, const struct cockpit_act *a, struct bg_buf *out, int *exit_code)
{
	if (a->logs_site) { /* a read: counted apart from the actions */
		logs_asked.calls++;
		free(logs_asked.site);
		logs_asked.site = bg_xstrdup(a->logs_site);
		logs_asked.tail = a->logs_tail;
		assert_null(a->token);
		assert_null(a->rollback_site);
		bg_buf_adds(out, logs_asked.answer);
		*exit_code = logs_asked.exit_code;
		return 0;
	}
	acted.calls++;
	free(acted.token);
	free(acted.rollback_site);
	free(acted.actor);
	acted.token = bg_xstrdup(a->token);
	acted.rollback_site = bg_xstrdup(a->rollback_site);
	acted.actor = bg_xstrdup(a->actor);
	acted.n_confirms = a->confirms ? a->confirms->n : 0;
	bg_buf_adds(out, "switched <ok>\n");
	*exit_code = 0;
	return 0;
}

static void add(const char *action, const char *site, const char *token, const char *result,
		const char *details)
{
	struct hist_entry e = {.action = (char *)action, .site = (char *)site,
		.token = (char *)token, .result = (char *)result, .details = (char *)details};
	assert_int_equal(hist_append(H, &e, NULL), 0);
}

static void users_write(const char *text, unsigned mode)
{
	unlink(users_path);
	th_write(dir, "cockpit.users", text);
	assert_int_equal(chmod(users_path, mode), 0);
}

static char *users_text(void)
{
	char *admin = NULL, *viewer = NULL;
	assert_int_equal(ck_password_hash("admin-pw", &admin), 0);
	assert_int_equal(ck_password_hash("viewer-pw", &viewer), 0);
	char *t = bg_xasprintf("# users\nadmin admin - %s\nalice viewer shop %s\n", admin, viewer);
	free(admin);
	free(viewer);
	return t;
}

static int setup(void **state)
{
	dir = th_tmpdir("cockpit-auth");
	snap_path = bg_xasprintf("%s/status.json", dir);
	refused_path = bg_xasprintf("%s/cockpit-refused.log", dir);
	users_path = bg_xasprintf("%s/cockpit.users", dir);
	plan_token = bg_xstrdup("0123456789abcdef0123");
	assert_int_equal(hist_open(&H, dir, 0, NULL), 0);
	add("switch", "shop", NULL, "ok", "live blue (v2) -> green (v3)");
	add("switch", "secretclient", NULL, "ok", "first deploy of secretclient");
	add("plan", NULL, plan_token, "pending", "why: a site changed\nsecretclient: switch");
	hist_close(H);
	assert_int_equal(hist_open(&H, dir, HIST_RDONLY, NULL), 0);
	th_write(dir, "status.json", snap_json);
	char *u = users_text();
	users_write(u, 0600);
	free(u);
	struct cockpit_opts o = {.snapshot_path = snap_path, .refusal_log = refused_path,
		.hist = H, .users_path = users_path, .act = fake_act};
	CK = cockpit_new(&o);
	return 0;
}

static int teardown(void **state)
{
	cockpit_free(CK);
	hist_close(H);
	th_rm_rf(dir);
	free(dir);
	free(snap_path);
	free(refused_path);
	free(users_path);
	free(plan_token);
	free(acted.token);
	free(acted.rollback_site);
	free(acted.actor);
	free(logs_asked.site);
	return 0;
}

/*
 * One request; fields as "k", "v", ... NULL; login_nonce the login form's
 * cookie (sent under the name of the channel's kind). Returns the reply
 * (release it).
 */
static void call_ex(struct cockpit *ck, const char *method, const char *path, const char *cookie,
		const char *login_nonce, bool secure, struct cockpit_reply *r,
		const char *const *fields)
{
	struct bg_strv k, v;
	bg_strv_init(&k);
	bg_strv_init(&v);
	for (size_t i = 0; fields && fields[i]; i += 2) {
		bg_strv_push(&k, fields[i]);
		bg_strv_push(&v, fields[i + 1]);
	}
	struct cockpit_req rq = {.method = method, .path = path, .peer = "192.0.2.7",
		.cookie = cookie, .form_keys = &k, .form_vals = &v, .secure = secure,
		.login_cookie = secure ? NULL : login_nonce,
		.login_cookie_host = secure ? login_nonce : NULL};
	cockpit_reply_init(r);
	cockpit_handle_req(ck, &rq, r);
	bg_strv_release(&k);
	bg_strv_release(&v);
}

static void call(struct cockpit *ck, const char *method, const char *path, const char *cookie,
		struct cockpit_reply *r, const char *const *fields)
{
	call_ex(ck, method, path, cookie, NULL, false, r, fields);
}

/* GET /login as a browser: the form cookie's value and the hidden csrf field (new strings). */
static void login_form(struct cockpit *ck, bool secure, char **nonce, char **field)
{
	struct cockpit_reply r;
	call_ex(ck, "GET", "/login", NULL, NULL, secure, &r, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(r.set_cookie2);
	const char *name = secure ? CK_LOGIN_COOKIE_HOST "=" : CK_LOGIN_COOKIE "=";
	assert_true(bg_str_has_prefix(r.set_cookie2, name));
	const char *v = r.set_cookie2 + strlen(name);
	*nonce = bg_xstrndup(v, strcspn(v, ";"));
	const char *at = strstr(r.body.data, "name=\"csrf\" value=\"");
	assert_non_null(at);
	at += strlen("name=\"csrf\" value=\"");
	*field = bg_xstrndup(at, strcspn(at, "\""));
	cockpit_reply_release(&r);
}

/* POST /login with a fresh form from the same cockpit (fields after the token). */
static void login_post(struct cockpit *ck, bool secure, struct cockpit_reply *r,
		const char *user, const char *pw)
{
	char *nonce = NULL, *field = NULL;
	login_form(ck, secure, &nonce, &field);
	const char *f[] = {"csrf", field, "user", user, "password", pw, NULL};
	call_ex(ck, "POST", "/login", NULL, nonce, secure, r, f);
	free(nonce);
	free(field);
}

/* Log in; returns the cookie's value (a new string), NULL when refused. */
static char *login(struct cockpit *ck, const char *user, const char *pw, unsigned *status)
{
	struct cockpit_reply r;
	login_post(ck, false, &r, user, pw);
	*status = r.status;
	char *id = NULL;
	if (r.set_cookie && bg_str_has_prefix(r.set_cookie, CK_COOKIE_NAME "=")) {
		const char *v = r.set_cookie + strlen(CK_COOKIE_NAME "=");
		id = bg_xstrndup(v, strcspn(v, ";"));
	}
	cockpit_reply_release(&r);
	return id;
}

/* The session's CSRF token, from the logout page's hidden field. */
static char *csrf_of(const char *cookie)
{
	struct cockpit_reply r;
	call(CK, "GET", "/logout", cookie, &r, NULL);
	assert_int_equal(r.status, 200);
	const char *at = strstr(r.body.data, "name=\"csrf\" value=\"");
	assert_non_null(at);
	at += strlen("name=\"csrf\" value=\"");
	char *t = bg_xstrndup(at, strcspn(at, "\""));
	cockpit_reply_release(&r);
	assert_int_equal(strlen(t), CK_TOKEN_HEX);
	return t;
}

static void test_hash_round_trip(void **state)
{
	char *h = NULL, *h2 = NULL;
	assert_int_equal(ck_password_hash("correct horse", &h), 0);
	assert_true(bg_str_has_prefix(h, "scrypt$15$8$1$"));
	assert_true(ck_password_verify("correct horse", h));
	assert_false(ck_password_verify("correct horsE", h));
	assert_false(ck_password_verify("", h));
	assert_int_equal(ck_password_hash("correct horse", &h2), 0);
	assert_string_not_equal(h, h2); /* a fresh salt each time */
	h[strlen(h) - 1] = h[strlen(h) - 1] == '0' ? '1' : '0';
	assert_false(ck_password_verify("correct horse", h));
	assert_false(ck_password_verify("correct horse", "scrypt$15$8$1$zz$zz"));
	assert_false(ck_password_verify("correct horse", NULL));
	free(h);
	free(h2);
}

static void test_users_file_rules(void **state)
{
	struct ck_users u;
	struct bg_diag d;
	char *good = th_read(users_path);
	ck_users_init(&u);
	bg_diag_init(&d);
	assert_int_equal(ck_users_load(&u, users_path, &d), 0);
	assert_int_equal(u.n, 2);
	assert_true(ck_user_sees(ck_users_find(&u, "alice"), "shop"));
	assert_false(ck_user_sees(ck_users_find(&u, "alice"), "secretclient"));
	assert_true(ck_user_sees(ck_users_find(&u, "admin"), "secretclient"));
	ck_users_release(&u);

	users_write(good, 0640); /* readable by the group: refused */
	assert_int_equal(ck_users_load(&u, users_path, &d), BG_EREFUSED);
	assert_true(d.n_errors > 0 && strstr(d.items[d.n - 1].msg, "0600"));

	char *real = bg_xasprintf("%s/real.users", dir);
	th_write(dir, "real.users", good);
	assert_int_equal(chmod(real, 0600), 0);
	unlink(users_path);
	assert_int_equal(symlink(real, users_path), 0); /* a link: refused, even to a good file */
	assert_int_equal(ck_users_load(&u, users_path, &d), BG_EREFUSED);
	unlink(users_path);

	users_write("bob viewer - scrypt$x\nBad admin - scrypt$x\ncarol admin - nohash\n", 0600);
	bg_diag_release(&d);
	bg_diag_init(&d);
	assert_int_equal(ck_users_load(&u, users_path, &d), BG_EPARSE);
	assert_int_equal(d.n_errors, 3);
	ck_users_release(&u);

	/* Saved back: mode 0600, no hash lost, loads again. */
	users_write(good, 0600);
	assert_int_equal(ck_users_load(&u, users_path, &d), 0);
	assert_int_equal(ck_users_save(&u, real, &d), 0);
	struct stat st;
	assert_int_equal(stat(real, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ck_users_release(&u);
	assert_int_equal(ck_users_load(&u, real, &d), 0);
	assert_int_equal(u.n, 2);
	ck_users_release(&u);
	bg_diag_release(&d);
	free(real);
	free(good);
}

static void test_login_cookie(void **state)
{
	struct cockpit_reply r;
	call(CK, "GET", "/", NULL, &r, NULL);
	assert_int_equal(r.status, 303); /* every page needs a login */
	assert_string_equal(r.location, "/login");
	cockpit_reply_release(&r);
	call(CK, "GET", "/api/v1/sites", NULL, &r, NULL);
	assert_int_equal(r.status, 401);
	cockpit_reply_release(&r);
	call(CK, "GET", "/login", NULL, &r, NULL);
	assert_int_equal(r.status, 200);
	th_assert_contains(r.body.data, "type=\"password\"");
	cockpit_reply_release(&r);

	login_post(CK, false, &r, "admin", "admin-pw");
	assert_int_equal(r.status, 303);
	assert_non_null(r.set_cookie);
	th_assert_contains(r.set_cookie, "; HttpOnly");
	th_assert_contains(r.set_cookie, "; SameSite=Strict");
	th_assert_contains(r.set_cookie, "; Path=/");
	th_assert_not_contains(r.set_cookie, "Secure;");
	assert_false(strstr(r.set_cookie, "; Secure") != NULL);
	const char *v = r.set_cookie + strlen(CK_COOKIE_NAME "=");
	assert_int_equal(strcspn(v, ";"), CK_TOKEN_HEX);
	char *cookie = bg_xstrndup(v, CK_TOKEN_HEX);
	cockpit_reply_release(&r);
	call(CK, "GET", "/", cookie, &r, NULL);
	assert_int_equal(r.status, 200);
	th_assert_contains(r.body.data, "secretclient"); /* an admin sees every site */
	cockpit_reply_release(&r);
	call(CK, "GET", "/", "0000000000000000000000000000000000000000000000000000000000000000",
			&r, NULL);
	assert_int_equal(r.status, 303); /* a made-up session is none */
	cockpit_reply_release(&r);

	/* Over TLS the cookie is Secure. */
	struct cockpit_opts o = {.snapshot_path = snap_path, .hist = H, .users_path = users_path,
		.cookie_secure = true};
	struct cockpit *tls = cockpit_new(&o);
	login_post(tls, true, &r, "admin", "admin-pw");
	assert_int_equal(r.status, 303);
	th_assert_contains(r.set_cookie, "; Secure");
	cockpit_reply_release(&r);
	cockpit_free(tls);
	free(cookie);
}

static void test_csrf(void **state)
{
	unsigned st;
	char *cookie = login(CK, "admin", "admin-pw", &st);
	assert_non_null(cookie);
	char *csrf = csrf_of(cookie);
	unlink(refused_path);
	struct cockpit_reply r;
	const char *none[] = {NULL};
	call(CK, "POST", "/logout", cookie, &r, none);
	assert_int_equal(r.status, 403);
	cockpit_reply_release(&r);
	const char *wrong[] = {"csrf", "1111111111111111111111111111111111111111111111111111111111111111", NULL};
	call(CK, "POST", "/logout", cookie, &r, wrong);
	assert_int_equal(r.status, 403);
	cockpit_reply_release(&r);
	const char *approve_no_csrf[] = {"token", plan_token, NULL};
	call(CK, "POST", "/plan/approve", cookie, &r, approve_no_csrf);
	assert_int_equal(r.status, 403);
	assert_int_equal(acted.calls, 0);
	cockpit_reply_release(&r);
	char *log = th_read(refused_path);
	assert_int_equal(th_count(log, "missing or wrong CSRF token"), 3);
	th_assert_contains(log, "\"actor\": \"cockpit:admin\"");
	free(log);
	const char *right[] = {"csrf", csrf, NULL};
	call(CK, "POST", "/logout", cookie, &r, right);
	assert_int_equal(r.status, 303);
	th_assert_contains(r.set_cookie, "Max-Age=0");
	cockpit_reply_release(&r);
	call(CK, "GET", "/", cookie, &r, NULL);
	assert_int_equal(r.status, 303); /* logged out: the session is gone */
	cockpit_reply_release(&r);
	free(csrf);
	free(cookie);
}

/* A POST /login refused for its form token: 403, the form again, no session, logged. */
static void login_refused(struct cockpit *ck, const char *nonce, bool secure,
		const char *const *f)
{
	struct cockpit_reply r;
	call_ex(ck, "POST", "/login", NULL, nonce, secure, &r, f);
	assert_int_equal(r.status, 403);
	assert_null(r.set_cookie); /* no session */
	th_assert_contains(r.body.data, "has expired or was not served by this cockpit");
	th_assert_contains(r.body.data, "name=\"csrf\""); /* a fresh form to try again */
	assert_non_null(r.set_cookie2);
	cockpit_reply_release(&r);
}

/* Login CSRF: the login POST needs the login page's cookie and field, matching. */
static void test_login_csrf(void **state)
{
	char *n1 = NULL, *f1 = NULL, *n2 = NULL, *f2 = NULL;
	struct cockpit_reply r;
	unlink(refused_path);
	login_form(CK, false, &n1, &f1);
	login_form(CK, false, &n2, &f2);
	assert_int_equal(strlen(n1), CK_TOKEN_HEX);
	assert_string_not_equal(n1, n2); /* fresh per page */
	/* The cookie's flags: HttpOnly, SameSite=Strict, short-lived; Secure only over HTTPS. */
	call(CK, "GET", "/login", NULL, &r, NULL);
	th_assert_contains(r.set_cookie2, "; HttpOnly");
	th_assert_contains(r.set_cookie2, "; SameSite=Strict");
	th_assert_contains(r.set_cookie2, "; Max-Age=600");
	th_assert_not_contains(r.set_cookie2, "Secure");
	cockpit_reply_release(&r);
	call_ex(CK, "GET", "/login", NULL, NULL, true, &r, NULL);
	th_assert_contains(r.set_cookie2, CK_LOGIN_COOKIE_HOST "=");
	th_assert_contains(r.set_cookie2, "; Secure");
	cockpit_reply_release(&r);

	/* Missing: no field and no cookie (a forged form), field without cookie, cookie without field. */
	const char *none[] = {"user", "admin", "password", "admin-pw", NULL};
	login_refused(CK, NULL, false, none);
	const char *f_only[] = {"csrf", f1, "user", "admin", "password", "admin-pw", NULL};
	login_refused(CK, NULL, false, f_only);
	login_refused(CK, n1, false, none);
	/* Wrong: another form's field, a tampered one, a plain cookie over HTTPS. */
	const char *other[] = {"csrf", f2, "user", "admin", "password", "admin-pw", NULL};
	login_refused(CK, n1, false, other);
	char *bad = bg_xstrdup(f1);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	const char *tampered[] = {"csrf", bad, "user", "admin", "password", "admin-pw", NULL};
	login_refused(CK, n1, false, tampered);
	/* Over HTTPS only the __Host- cookie counts: a plain bg_login (one a sibling host could plant) is none. */
	struct bg_strv k, v;
	bg_strv_init(&k);
	bg_strv_init(&v);
	for (size_t i = 0; f_only[i]; i += 2) {
		bg_strv_push(&k, f_only[i]);
		bg_strv_push(&v, f_only[i + 1]);
	}
	struct cockpit_req rq = {.method = "POST", .path = "/login", .peer = "192.0.2.7",
		.form_keys = &k, .form_vals = &v, .secure = true, .login_cookie = n1};
	cockpit_reply_init(&r);
	cockpit_handle_req(CK, &rq, &r);
	assert_int_equal(r.status, 403);
	assert_null(r.set_cookie);
	cockpit_reply_release(&r);
	bg_strv_release(&k);
	bg_strv_release(&v);
	char *log = th_read(refused_path);
	assert_int_equal(th_count(log, "missing or wrong CSRF token (login form)"), 6);
	th_assert_contains(log, "\"actor\": \"cockpit:192.0.2.7\"");
	th_assert_contains(log, "\"details\": \"POST /login\"");
	free(log);

	/* Stale, or made by another key: refused by the check itself. */
	unsigned char key[CK_LOGIN_KEY_LEN] = {1}, key2[CK_LOGIN_KEY_LEN] = {2};
	char nonce[CK_TOKEN_HEX + 1], *field = NULL;
	assert_int_equal(ck_login_form_new(key, 1000000, nonce, &field), 0);
	assert_true(ck_login_form_ok(key, nonce, field, 1000000 + CK_LOGIN_FORM_MS));
	assert_false(ck_login_form_ok(key, nonce, field, 1000000 + CK_LOGIN_FORM_MS + 1));
	assert_false(ck_login_form_ok(key2, nonce, field, 1000000));
	assert_false(ck_login_form_ok(key, nonce, "1000000", 1000000));
	assert_false(ck_login_form_ok(key, nonce, NULL, 1000000));
	free(field);

	/* Right: logged in, and the refusals above did not feed the throttle. */
	const char *right[] = {"csrf", f1, "user", "admin", "password", "admin-pw", NULL};
	call_ex(CK, "POST", "/login", NULL, n1, false, &r, right);
	assert_int_equal(r.status, 303);
	assert_true(bg_str_has_prefix(r.set_cookie, CK_COOKIE_NAME "="));
	th_assert_contains(r.set_cookie2, CK_LOGIN_COOKIE "=;"); /* the form's cookie is cleared */
	th_assert_contains(r.set_cookie2, "Max-Age=0");
	cockpit_reply_release(&r);
	free(bad);
	free(n1);
	free(f1);
	free(n2);
	free(f2);
}

static void test_throttle(void **state)
{
	struct cockpit_opts o = {.snapshot_path = snap_path, .hist = H, .users_path = users_path};
	struct cockpit *ck = cockpit_new(&o);
	unsigned st;
	for (int i = 0; i < 5; i++) {
		assert_null(login(ck, "alice", "guess", &st));
		assert_int_equal(st, 403);
	}
	/* Five failures: now even the right password waits. */
	assert_null(login(ck, "alice", "viewer-pw", &st));
	assert_int_equal(st, 429);
	cockpit_free(ck);

	/* The delay doubles, and a success forgets the key. */
	struct ck_sessions *s = ck_sessions_new();
	for (int i = 0; i < 4; i++) {
		ck_throttle_fail(s, "user:x", 1000);
	}
	assert_int_equal(ck_throttle_wait(s, "user:x", 1000), 0);
	ck_throttle_fail(s, "user:x", 1000);
	assert_int_equal(ck_throttle_wait(s, "user:x", 1000), 1000);
	ck_throttle_fail(s, "user:x", 3000);
	assert_int_equal(ck_throttle_wait(s, "user:x", 3000), 2000);
	assert_int_equal(ck_throttle_wait(s, "addr:y", 3000), 0);
	ck_throttle_ok(s, "user:x");
	assert_int_equal(ck_throttle_wait(s, "user:x", 3000), 0);
	ck_sessions_free(s);
}

static char *get(const char *cookie, const char *path, unsigned *st)
{
	struct cockpit_reply r;
	call(CK, "GET", path, cookie, &r, NULL);
	*st = r.status;
	char *b = bg_xstrdup(r.body.data);
	cockpit_reply_release(&r);
	return b;
}

static void test_viewer_scope(void **state)
{
	unsigned st, st2;
	char *cookie = login(CK, "alice", "viewer-pw", &st);
	assert_non_null(cookie);
	static const char *const paths[] = {"/", "/sites/shop", "/api/v1/sites", "/api/v1/sites/shop",
		"/api/v1/history", "/metrics", "/api/v1/history?site=shop"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(paths); i++) {
		const char *q = strchr(paths[i], '?');
		char *p = q ? bg_xstrndup(paths[i], (size_t)(q - paths[i])) : bg_xstrdup(paths[i]);
		struct cockpit_reply r;
		struct cockpit_req rq = {.method = "GET", .path = p, .query = q ? q + 1 : NULL,
			.cookie = cookie};
		cockpit_reply_init(&r);
		cockpit_handle_req(CK, &rq, &r);
		if (r.status != 200 || !strstr(r.body.data, "shop") ||
				strstr(r.body.data, "secretclient")) {
			fail_msg("viewer GET %s: %u:\n%s", paths[i], r.status, r.body.data);
		}
		cockpit_reply_release(&r);
		free(p);
	}
	/* Another client's site answers exactly as a site that does not exist. */
	char *hidden = get(cookie, "/sites/secretclient", &st);
	char *none = get(cookie, "/sites/nosuch", &st2);
	assert_int_equal(st, 404);
	assert_int_equal(st2, 404);
	assert_string_equal(hidden, none);
	free(hidden);
	free(none);
	hidden = get(cookie, "/api/v1/sites/secretclient", &st);
	none = get(cookie, "/api/v1/sites/nosuch", &st2);
	assert_int_equal(st, 404);
	assert_string_equal(hidden, none);
	free(hidden);
	free(none);
	/* With no snapshot (daemon stopped) the journal still names nothing of another client. */
	char *moved = bg_xasprintf("%s.away", snap_path);
	assert_int_equal(rename(snap_path, moved), 0);
	hidden = get(cookie, "/sites/secretclient", &st);
	assert_int_equal(rename(moved, snap_path), 0);
	free(moved);
	assert_int_equal(st, 404);
	th_assert_not_contains(hidden, "first deploy");
	free(hidden);
	hidden = get(cookie, "/api/v1/history?site=secretclient", &st);
	th_assert_not_contains(hidden, "secretclient");
	free(hidden);
	/* Admin mode's pages are not a viewer's: 404 to read, 403 to post. */
	none = get(cookie, "/plan", &st);
	assert_int_equal(st, 404);
	th_assert_not_contains(none, plan_token);
	free(none);
	char *csrf = csrf_of(cookie);
	struct cockpit_reply r;
	const char *f[] = {"csrf", csrf, "token", plan_token, NULL};
	call(CK, "POST", "/plan/approve", cookie, &r, f);
	assert_int_equal(r.status, 403);
	cockpit_reply_release(&r);
	const char *rb[] = {"csrf", csrf, "site", "shop", NULL};
	call(CK, "POST", "/sites/shop/rollback", cookie, &r, rb);
	assert_int_equal(r.status, 403);
	cockpit_reply_release(&r);
	assert_int_equal(acted.calls, 0);
	free(csrf);
	free(cookie);
}

static void test_admin_actions(void **state)
{
	unsigned st;
	char *cookie = login(CK, "admin", "admin-pw", &st);
	char *csrf = csrf_of(cookie);
	char *page = get(cookie, "/plan", &st);
	assert_int_equal(st, 200);
	th_assert_contains(page, plan_token);
	th_assert_contains(page, "secretclient: switch");
	th_assert_contains(page, "action=\"/plan/approve\"");
	/* issue 15 (P): the footer names the mode served, on every page */
	th_assert_contains(page, "<footer>bluegreen cockpit, admin mode");
	th_assert_not_contains(page, "safe mode");
	free(page);
	page = get(cookie, "/", &st);
	th_assert_contains(page, "<footer>bluegreen cockpit, admin mode");
	th_assert_not_contains(page, "safe mode");
	free(page);
	page = get(cookie, "/api/v1/plan", &st);
	th_assert_contains(page, "\"pending\": true");
	free(page);

	struct cockpit_reply r;
	const char *other[] = {"csrf", csrf, "token", "ffffffffffffffffffff", NULL};
	call(CK, "POST", "/plan/approve", cookie, &r, other); /* not the page's token */
	assert_int_equal(r.status, 409);
	cockpit_reply_release(&r);
	assert_int_equal(acted.calls, 0);
	const char *f[] = {"csrf", csrf, "token", plan_token, "confirm", "", "confirm", "yes", NULL};
	call(CK, "POST", "/plan/approve", cookie, &r, f);
	assert_int_equal(r.status, 200);
	th_assert_contains(r.body.data, "switched &lt;ok&gt;");
	cockpit_reply_release(&r);
	assert_int_equal(acted.calls, 1);
	assert_string_equal(acted.token, plan_token);
	assert_null(acted.rollback_site);
	assert_string_equal(acted.actor, "cockpit:admin");
	assert_int_equal(acted.n_confirms, 1); /* the empty field is no phrase */

	page = get(cookie, "/sites/shop/rollback", &st);
	assert_int_equal(st, 404); /* no configuration given: no site is known to roll back */
	free(page);
	free(csrf);
	free(cookie);

	/* Rollback of a configured site: a form first, then the site's name typed. */
	struct cfg_site sites[] = {{.name = "shop", .confirm = "ship it"}};
	struct cfg cfg = {.sites = sites, .n_sites = 1};
	struct cockpit_opts o = {.snapshot_path = snap_path, .hist = H, .users_path = users_path,
		.cfg = &cfg, .act = fake_act};
	struct cockpit *ck = cockpit_new(&o);
	cookie = login(ck, "admin", "admin-pw", &st);
	call(ck, "GET", "/logout", cookie, &r, NULL);
	const char *at = strstr(r.body.data, "name=\"csrf\" value=\"") + 19;
	csrf = bg_xstrndup(at, CK_TOKEN_HEX);
	cockpit_reply_release(&r);
	call(ck, "GET", "/plan", cookie, &r, NULL);
	th_assert_contains(r.body.data, "Confirm phrase of <b>shop</b>");
	th_assert_not_contains(r.body.data, "ship it"); /* typed, never shown */
	th_assert_contains(r.body.data, "href=\"/sites/shop/rollback\"");
	cockpit_reply_release(&r);
	call(ck, "GET", "/sites/shop/rollback", cookie, &r, NULL);
	assert_int_equal(r.status, 200);
	th_assert_contains(r.body.data, "name=\"site\"");
	cockpit_reply_release(&r);
	const char *typo[] = {"csrf", csrf, "site", "shops", NULL};
	call(ck, "POST", "/sites/shop/rollback", cookie, &r, typo);
	assert_int_equal(r.status, 400);
	cockpit_reply_release(&r);
	assert_int_equal(acted.calls, 1);
	const char *typed[] = {"csrf", csrf, "site", "shop", NULL};
	call(ck, "POST", "/sites/shop/rollback", cookie, &r, typed);
	assert_int_equal(r.status, 200);
	cockpit_reply_release(&r);
	assert_int_equal(acted.calls, 2);
	assert_string_equal(acted.rollback_site, "shop");
	assert_null(acted.token);
	assert_string_equal(acted.actor, "cockpit:admin");
	cockpit_free(ck);
	free(csrf);
	free(cookie);
}

/* One GET with a query on ck; the body (a new string). */
static char *get_q(struct cockpit *ck, const char *cookie, const char *path, const char *query,
		unsigned *st)
{
	struct cockpit_reply r;
	struct cockpit_req rq = {.method = "GET", .path = path, .query = query, .cookie = cookie,
		.peer = "192.0.2.7"};
	cockpit_reply_init(&r);
	cockpit_handle_req(ck, &rq, &r);
	*st = r.status;
	char *b = bg_xstrdup(r.body.data);
	cockpit_reply_release(&r);
	return b;
}

#define LOGS_ANSWER "== blue.1 (live): 2 lines\n" \
	"blue.1 (live) | <script>alert(1)</script> & \"ok\"\n" \
	"blue.1 (live) | == green.1 (candidate): 5 lines\n" \
	"== green.1 (candidate): 1 line\n" \
	"green.1 (candidate) | hello from green\n"

/* issue 15: the container logs: an admin's page and JSON, escaped; nothing for a viewer. */
static void test_admin_logs(void **state)
{
	unsigned st, st2;
	struct cfg_site sites[] = {{.name = "shop"}};
	struct cfg cfg = {.sites = sites, .n_sites = 1};
	struct cockpit_opts o = {.snapshot_path = snap_path, .hist = H, .users_path = users_path,
		.cfg = &cfg, .act = fake_act};
	struct cockpit *ck = cockpit_new(&o);
	int acted_before = acted.calls;
	logs_asked.answer = LOGS_ANSWER;
	logs_asked.exit_code = 0;
	logs_asked.calls = 0;

	/* The admin's site page: the daemon's answer in a <pre>, escaped. */
	char *cookie = login(ck, "admin", "admin-pw", &st);
	assert_non_null(cookie);
	char *page = get_q(ck, cookie, "/sites/shop", NULL, &st);
	assert_int_equal(st, 200);
	assert_int_equal(logs_asked.calls, 1);
	assert_string_equal(logs_asked.site, "shop");
	assert_int_equal(logs_asked.tail, 0); /* the daemon's default */
	th_assert_contains(page, "<h2>Container logs</h2>");
	th_assert_contains(page, "<pre id=\"ck-logs\">== blue.1 (live): 2 lines\n"
			"blue.1 (live) | &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;ok&quot;\n");
	th_assert_not_contains(page, "<script>alert");
	free(page);

	/* JSON: per container, the lines as the container printed them. */
	page = get_q(ck, cookie, "/api/v1/sites/shop/logs", "tail=20", &st);
	assert_int_equal(st, 200);
	assert_int_equal(logs_asked.tail, 20);
	struct json_object *j = json_tokener_parse(page), *cs, *c0, *lines, *v;
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "containers", &cs));
	assert_int_equal(json_object_array_length(cs), 2);
	c0 = json_object_array_get_idx(cs, 0);
	assert_true(json_object_object_get_ex(c0, "container", &v));
	assert_string_equal(json_object_get_string(v), "blue.1");
	assert_true(json_object_object_get_ex(c0, "role", &v));
	assert_string_equal(json_object_get_string(v), "live");
	assert_true(json_object_object_get_ex(c0, "lines", &lines));
	assert_int_equal(json_object_array_length(lines), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(lines, 0)),
			"<script>alert(1)</script> & \"ok\"");
	/* A container's own "== ..." stays one of its lines, not a header. */
	assert_string_equal(json_object_get_string(json_object_array_get_idx(lines, 1)),
			"== green.1 (candidate): 5 lines");
	assert_true(json_object_object_get_ex(json_object_array_get_idx(cs, 1), "role", &v));
	assert_string_equal(json_object_get_string(v), "candidate");
	json_object_put(j);
	free(page);

	/* A bad tail never reaches the daemon; an unknown site is the usual 404. */
	int n = logs_asked.calls;
	static const char *const bad_tails[] = {"tail=0", "tail=201", "tail=x", "tail=", "tail=-1"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_tails); i++) {
		page = get_q(ck, cookie, "/api/v1/sites/shop/logs", bad_tails[i], &st);
		assert_int_equal(st, 400);
		free(page);
	}
	char *unknown = get_q(ck, cookie, "/api/v1/sites/nosuch/logs", NULL, &st);
	char *none = get_q(ck, cookie, "/api/v1/sites/nosuch", NULL, &st2);
	assert_int_equal(st, 404);
	assert_string_equal(unknown, none);
	free(unknown);
	free(none);
	assert_int_equal(logs_asked.calls, n);

	/* The daemon says no: shown as its error, never as logs. */
	logs_asked.answer = "bluegreen: error: logs: site 'shop' has no live or candidate "
			"containers <x>\n";
	logs_asked.exit_code = 1;
	page = get_q(ck, cookie, "/sites/shop", NULL, &st);
	assert_int_equal(st, 200);
	th_assert_contains(page, "could not read the logs (exit 1)");
	th_assert_contains(page, "candidate containers &lt;x&gt;");
	th_assert_not_contains(page, "id=\"ck-logs\"");
	free(page);
	page = get_q(ck, cookie, "/api/v1/sites/shop/logs", NULL, &st);
	assert_int_equal(st, 502);
	th_assert_contains(page, "\"error\"");
	free(page);
	free(cookie);
	logs_asked.answer = LOGS_ANSWER;
	logs_asked.exit_code = 0;

	/* A viewer of shop: no logs section, and the route is an unknown site's 404. */
	n = logs_asked.calls;
	cookie = login(ck, "alice", "viewer-pw", &st);
	assert_non_null(cookie);
	page = get_q(ck, cookie, "/sites/shop", NULL, &st);
	assert_int_equal(st, 200);
	th_assert_not_contains(page, "Container logs");
	th_assert_not_contains(page, "hello from green");
	free(page);
	char *own = get_q(ck, cookie, "/api/v1/sites/shop/logs", NULL, &st);
	none = get_q(ck, cookie, "/api/v1/sites/nosuch", NULL, &st2);
	assert_int_equal(st, 404);
	assert_int_equal(st2, 404);
	assert_string_equal(own, none);
	free(own);
	free(none);
	assert_int_equal(logs_asked.calls, n); /* the daemon was never asked */
	struct cockpit_reply r;
	const char *f[] = {"csrf", "x", NULL};
	call(ck, "POST", "/api/v1/sites/shop/logs", cookie, &r, f);
	assert_int_equal(r.status, 403);
	cockpit_reply_release(&r);
	free(cookie);
	assert_int_equal(acted.calls, acted_before); /* a read is no action */
	cockpit_free(ck);

	/* Safe mode (no daemon callback): an admin gets neither. */
	o.act = NULL;
	ck = cockpit_new(&o);
	cookie = login(ck, "admin", "admin-pw", &st);
	page = get_q(ck, cookie, "/sites/shop", NULL, &st);
	th_assert_not_contains(page, "Container logs");
	free(page);
	page = get_q(ck, cookie, "/api/v1/sites/shop/logs", NULL, &st);
	assert_int_equal(st, 404);
	free(page);
	free(cookie);
	cockpit_free(ck);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_round_trip),
		cmocka_unit_test(test_login_cookie),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_login_csrf),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_viewer_scope),
		cmocka_unit_test(test_admin_actions),
		cmocka_unit_test(test_admin_logs),
		cmocka_unit_test(test_users_file_rules), /* last: it rewrites the users file */
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
