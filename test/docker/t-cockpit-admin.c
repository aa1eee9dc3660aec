/*
 * t-cockpit-admin: users, roles and admin mode end to end (issue 15), with
 * a real watch daemon, real Docker and real nginx. Two sites: B (the e2e
 * site, live on v1, its file now asking for v2) and A (configured, not
 * deployed yet). Users are added with `bluegreen cockpit user add`, the
 * password on stdin; `user list` shows no hash. Then `bluegreen cockpit
 * --admin` runs next to the daemon, and libcurl with its cookie engine
 * plays two browsers:
 *   - a forged login (issue 15, login CSRF): the viewer's right password
 *     and a real form's field posted without the form's cookie is 403;
 *   - a viewer of A: every page, the JSON API, the history and the
 *     metrics answer without B's name anywhere; B's page and API are 404;
 *     the plan page is 404 and a forged approval is 403;
 *   - the admin: the plan page shows the daemon's own token; an approval
 *     POST without the CSRF token is 403 and changes nothing; with it, the
 *     daemon applies that token (B switches to green, nginx serves v2) and
 *     the journal's switch of B has the actor cockpit:admin; a rollback
 *     with B's name typed wrong does nothing, typed right puts blue back.
 *   - issue 15, the container logs: A runs the logs image of t-logs (it
 *     prints "out start MARK", "err start MARK" and its secret once); after
 *     the approval deploys A, the admin's page of A shows those lines in a
 *     <pre>, the secret as <redacted>, and /api/v1/sites/A/logs has them as
 *     JSON; the viewer of A sees no logs section on A's page and gets the
 *     404 of an unknown site from the logs route. The cockpit reads them
 *     through the daemon's control socket, never the Docker socket.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "e2e.h"
#include "logs-image.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS (90 * 1000)

#define LOGS_SECRET "s3cr3t-value-42"

static struct e2e E;
static char *site_a;
static pid_t daemon_pid = -1, cockpit_pid = -1;

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	bg_buf_add(arg, p, sz * n);
	return sz * n;
}

/* A browser: one curl handle with its own cookie jar (in memory). */
static CURL *browser(void)
{
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 180L);
	return c;
}

/* GET (form NULL) or POST form; returns the status, *body a new string. */
static long req(CURL *c, unsigned port, const char *path, const char *form, char **body)
{
	struct bg_buf b = BG_BUF_INIT;
	char *url = bg_xasprintf("http://127.0.0.1:%u%s", port, path);
	long code = -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (form) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	}
	free(url);
	*body = bg_buf_detach(&b, NULL);
	return code;
}

/* The value after `marker` up to the next '"' or '<' (a new string), or fail. */
static char *extract(const char *body, const char *marker)
{
	const char *at = strstr(body, marker);
	if (!at) {
		fail_msg("no %s in:\n%s", marker, body);
	}
	at += strlen(marker);
	return bg_xstrndup(at, strcspn(at, "\"<"));
}

static void fail_with(const char *path, const char *what)
{
	char *t = th_read(path);
	th_print_error("%s:\n%s", path, t ? t : "");
	free(t);
	fail_msg("%s", what);
}

/* As a browser does: the login page (its form cookie into c's jar), then its form. */
static void login(CURL *c, unsigned port, const char *user, const char *pw)
{
	char *body = NULL;
	assert_int_equal(req(c, port, "/login", NULL, &body), 200);
	char *csrf = extract(body, "name=\"csrf\" value=\"");
	free(body);
	char *form = bg_xasprintf("csrf=%s&user=%s&password=%s", csrf, user, pw);
	free(csrf);
	long st = req(c, port, "/login", form, &body);
	if (st != 303) {
		fail_msg("login %s: %ld:\n%s", user, st, body);
	}
	free(body);
	free(form);
}

/* The viewer of A: B is nowhere, B's routes are 404, admin mode is not theirs. */
static void check_viewer(unsigned port)
{
	CURL *v = browser();
	char *body = NULL;
	/* A cross-site form carries no form cookie (SameSite=Strict): refused, not logged in. */
	CURL *f = browser();
	assert_int_equal(req(f, port, "/login", NULL, &body), 200);
	char *field = extract(body, "name=\"csrf\" value=\"");
	free(body);
	char *forged_login = bg_xasprintf("csrf=%s&user=alice&password=alice-pw-1", field);
	assert_int_equal(req(v, port, "/login", forged_login, &body), 403);
	free(body);
	assert_int_equal(req(v, port, "/", NULL, &body), 303);
	free(body);
	free(forged_login);
	free(field);
	curl_easy_cleanup(f);
	login(v, port, "alice", "alice-pw-1");
	static const char *const paths[] = {"/", "/api/v1/sites", "/api/v1/history", "/metrics"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(paths); i++) {
		long st = req(v, port, paths[i], NULL, &body);
		if (st != 200 || strstr(body, E.site) || (i < 2 && !strstr(body, site_a))) {
			fail_msg("viewer GET %s: %ld, must show %s and never %s:\n%s", paths[i], st,
					site_a, E.site, body);
		}
		free(body);
	}
	char *page_b = bg_xasprintf("/sites/%s", E.site);
	char *api_b = bg_xasprintf("/api/v1/sites/%s", E.site);
	assert_int_equal(req(v, port, page_b, NULL, &body), 404);
	th_assert_not_contains(body, E.site);
	free(body);
	assert_int_equal(req(v, port, api_b, NULL, &body), 404);
	free(body);
	assert_int_equal(req(v, port, "/plan", NULL, &body), 404);
	free(body);
	assert_int_equal(req(v, port, "/logout", NULL, &body), 200);
	char *csrf = extract(body, "name=\"csrf\" value=\"");
	free(body);
	char *forged = bg_xasprintf("csrf=%s&token=0000", csrf);
	assert_int_equal(req(v, port, "/plan/approve", forged, &body), 403);
	free(body);
	free(forged);
	free(csrf);
	free(page_b);
	free(api_b);
	curl_easy_cleanup(v);
}

/*
 * issue 15: A's container logs: the admin's page and JSON show A's lines
 * (read by the daemon), the secret redacted; A's own viewer gets neither.
 */
static void check_logs(CURL *a, unsigned port)
{
	char *page = bg_xasprintf("/sites/%s", site_a);
	char *api = bg_xasprintf("/api/v1/sites/%s/logs", site_a);
	char *api200 = bg_xasprintf("%s?tail=200", api);
	/* A's first colour, whichever it is: ".1 (live)". */
	char *tick_line = bg_xasprintf(".1 (live) | tick mark-%s\n", site_a);
	char *starts[] = {bg_xasprintf("\"out start mark-%s\"", site_a),
		bg_xasprintf("\"err start mark-%s\"", site_a), bg_xstrdup("\"token <redacted>\"")};
	char *body = NULL, *none = NULL;
	long st = -1;

	/*
	 * JSON, the last 200 lines (the start lines stay in them for 100 s of
	 * ticks). The daemon reads its own snapshot, which catches up with the
	 * apply that deployed A a moment after it: ask until it has A.
	 */
	for (int64_t end = bg_mono_ms() + th_time_limit(15000);;) {
		free(body);
		st = req(a, port, api200, NULL, &body);
		if ((st == 200 && strstr(body, starts[0])) || bg_mono_ms() > end) {
			break;
		}
		usleep(300 * 1000);
	}
	if (st != 200 || !strstr(body, "\"role\": \"live\"") || strstr(body, LOGS_SECRET)) {
		fail_msg("admin GET %s: %ld:\n%s", api200, st, body);
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(starts); i++) {
		if (!strstr(body, starts[i])) {
			fail_msg("admin GET %s: no %s:\n%s", api200, starts[i], body);
		}
		free(starts[i]);
	}
	free(body);
	/* The page: the default tail, in a <pre>, escaped, the secret nowhere. */
	st = req(a, port, page, NULL, &body);
	if (st != 200 || !strstr(body, "<h2>Container logs</h2>") ||
			!strstr(body, "<pre id=\"ck-logs\">== ") || !strstr(body, ".1 (live): ") ||
			!strstr(body, tick_line) || strstr(body, LOGS_SECRET)) {
		fail_msg("admin GET %s: %ld: no logs of %s (or the secret shown):\n%s", page, st,
				site_a, body);
	}
	free(body);

	/* The viewer of A: A's page without logs; the route as an unknown site. */
	CURL *v = browser();
	login(v, port, "alice", "alice-pw-1");
	st = req(v, port, page, NULL, &body);
	if (st != 200 || strstr(body, "Container logs") || strstr(body, "tick mark-")) {
		fail_msg("viewer GET %s: %ld: shows logs:\n%s", page, st, body);
	}
	free(body);
	assert_int_equal(req(v, port, api200, NULL, &body), 404);
	assert_int_equal(req(v, port, "/api/v1/sites/nosuch/logs", NULL, &none), 404);
	assert_string_equal(body, none);
	free(body);
	free(none);
	curl_easy_cleanup(v);
	free(page);
	free(api);
	free(api200);
	free(tick_line);
}

static void setup_sites(void)
{
	e2e_init(&E, "ckadm", "nginx", "development");
	e2e_site(&E, "bluegreen-test/web:v1", "strategy: {promote: auto}\n");
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	char *live = e2e_edge_live(&E);
	assert_string_equal(live, "blue");
	free(live);
	/* Site A: another client's, named with nothing of B's name in it. */
	site_a = bg_xasprintf("va%s", th_run_id());
	char *rel = bg_xasprintf("sites/%s.conf", site_a);
	/* issue 15: A prints known lines and its secret (the logs case). */
	logs_image_build();
	char *conf = bg_xasprintf("site: %s\ndomains: [%s.localhost]\nimage: " LOGS_IMAGE "\n"
			"port: 8080\nstop_timeout: 2s\n"
			"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n"
			"env:\n  MARK: mark-%s\n  APP_SECRET: " LOGS_SECRET "\n",
			site_a, site_a, site_a);
	th_write(E.dir, rel, conf);
	free(conf);
	free(rel);
	e2e_site(&E, "bluegreen-test/web:v2", "strategy: {promote: auto}\n"); /* B's change: pending until approved */
}

static void t_admin_and_viewer(void **state)
{
	setup_sites();
	e2e_cockpit_user_add(&E, NULL, "admin", "admin-pw-1", "admin", NULL);
	e2e_cockpit_user_add(&E, NULL, "alice", "alice-pw-1", "viewer", site_a);
	char *out = NULL;
	char *list[] = {(char *)getenv("BG_BINARY"), "-c", E.dir, "cockpit", "user", "list", NULL};
	assert_int_equal(th_run_stdin(list, "", &out), 0);
	th_assert_contains(out, "alice viewer");
	th_assert_not_contains(out, "scrypt");
	free(out);

	char *d_out = bg_xasprintf("%s-daemon.out", E.dir);
	char *c_out = bg_xasprintf("%s-cockpit.out", E.dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", E.dir, "watch", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	daemon_pid = th_spawn_bg(argv, env, d_out);
	char *d_text = th_wait_file(d_out, "or approve it: ", WAIT_MS);
	if (!d_text) {
		fail_with(d_out, "no plan from the daemon");
	}
	char *snap = bg_xasprintf("%s/state/status.json", E.dir);
	char *s = th_wait_file(snap, site_a, WAIT_MS);
	assert_non_null(s);
	free(s);
	char *daemon_token = th_plan_token(d_text);
	assert_non_null(daemon_token);
	unsigned port = e2e_cockpit_start(&E, c_out, "cockpit: admin mode", &cockpit_pid, "--admin",
			"--listen", "127.0.0.1:0", NULL);

	check_viewer(port);

	CURL *a = browser();
	char *body = NULL;
	login(a, port, "admin", "admin-pw-1");
	assert_int_equal(req(a, port, "/plan", NULL, &body), 200);
	char *token = extract(body, "<code id=\"token\">");
	char *csrf = extract(body, "name=\"csrf\" value=\"");
	free(body);
	assert_string_equal(token, daemon_token); /* the daemon's own plan */

	/* No CSRF token: 403, nothing handed to the daemon. */
	char *no_csrf = bg_xasprintf("token=%s", token);
	assert_int_equal(req(a, port, "/plan/approve", no_csrf, &body), 403);
	free(body);
	char *live = e2e_edge_live(&E);
	assert_string_equal(live, "blue");
	free(live);

	char *form = bg_xasprintf("csrf=%s&token=%s", csrf, token);
	long st = req(a, port, "/plan/approve", form, &body);
	if (st != 200 || !strstr(body, "exit 0")) {
		th_print_error("cockpit said %ld:\n%s", st, body);
		fail_with(d_out, "the approval did not apply");
	}
	live = e2e_edge_live(&E);
	if (!live || strcmp(live, "green") != 0) {
		th_print_error("cockpit said:\n%s", body);
		fail_with(d_out, "approved, but B is not live on green");
	}
	free(body);
	free(live);
	assert_true(e2e_wait_body(&E, E.domain, "v2", 10000));

	char *hist = bg_xasprintf("/api/v1/history?site=%s", E.site);
	assert_int_equal(req(a, port, hist, NULL, &body), 200);
	if (!strstr(body, "\"actor\": \"cockpit:admin\"") || !strstr(body, "\"action\": \"switch\"")) {
		fail_msg("the switch of %s is not journaled as cockpit:admin:\n%s", E.site, body);
	}
	free(body);
	/* The viewer still sees nothing of B after the switch. */
	check_viewer(port);
	check_logs(a, port); /* issue 15: A is deployed now */

	/* Rollback: the name typed wrong does nothing; typed right, blue is back. */
	char *rb = bg_xasprintf("/sites/%s/rollback", E.site);
	assert_int_equal(req(a, port, rb, NULL, &body), 200);
	free(body);
	char *typo = bg_xasprintf("csrf=%s&site=%sx", csrf, E.site);
	assert_int_equal(req(a, port, rb, typo, &body), 400);
	free(body);
	live = e2e_edge_live(&E);
	assert_string_equal(live, "green");
	free(live);
	char *typed = bg_xasprintf("csrf=%s&site=%s", csrf, E.site);
	st = req(a, port, rb, typed, &body);
	if (st != 200 || !strstr(body, "exit 0")) {
		th_print_error("cockpit said %ld:\n%s", st, body);
		fail_with(d_out, "the rollback did not happen");
	}
	free(body);
	live = e2e_edge_live(&E);
	assert_string_equal(live, "blue");
	free(live);
	assert_int_equal(req(a, port, hist, NULL, &body), 200);
	if (!strstr(body, "\"action\": \"rollback\"")) {
		fail_msg("no rollback journaled:\n%s", body);
	}
	free(body);
	free(rb);
	free(typo);
	free(typed);

	kill(cockpit_pid, SIGTERM);
	assert_int_equal(th_wait(cockpit_pid), 0);
	cockpit_pid = -1;
	kill(daemon_pid, SIGTERM);
	assert_int_equal(th_wait(daemon_pid), 0);
	daemon_pid = -1;
	curl_easy_cleanup(a);
	free(hist);
	free(form);
	free(no_csrf);
	free(token);
	free(csrf);
	free(daemon_token);
	free(snap);
	free(d_text);
	free(d_out);
	free(c_out);
}

static int teardown(void **state)
{
	if (cockpit_pid > 0) {
		kill(cockpit_pid, SIGKILL);
		th_wait(cockpit_pid);
	}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		th_wait(daemon_pid);
	}
	cockpit_pid = daemon_pid = -1;
	if (site_a) {
		th_docker_cleanup_site(site_a);
		free(site_a);
		site_a = NULL;
	}
	return e2e_teardown(state);
}

int main(void)
{
	th_docker_preamble();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(t_admin_and_viewer, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
