/*
 * t-cockpit-browser: the cockpit in a real, headless Chromium (issue 15).
 * A real daemon (`bluegreen watch`) runs a site with two colours (v1, then
 * v2 its candidate); the cockpit runs in safe mode with its listen address taken
 * from global.conf's cockpit: key. test/browser/cockpit_browser.py
 * (chromium-driver + python3-selenium) opens the overview, checks the
 * live colour, runs `bluegreen apply TOKEN` of the switch's plan (as an
 * operator would) and sees the other colour appear through the event stream without a reload; then the site
 * page, and both pages at a phone's 375 px without sideways scrolling.
 * Screenshots land in BUILDDIR/test-output/t-cockpit-browser/. Without
 * chromium the test fails under CI and skips elsewhere.
 *
 * The second case, roles: two sites (A, the viewer's, and B) live on v1,
 * a viewer of A and an admin added with `bluegreen cockpit user add` (the
 * password on stdin), the daemon, and `bluegreen cockpit --admin --users
 * FILE`. test/browser/cockpit_roles.py logs in as the viewer (A alone, B
 * nowhere, no form but the logout, forged POSTs 403), replaces A's file
 * (v2) and sees the edit arrive by SSE within two seconds, then as the
 * admin approves the plan on the plan page and sees A switch; here the
 * history must name the admin as the switch's actor.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "e2e.h"
#include "th.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct e2e E;
static pid_t watch_pid = -1, cockpit_pid = -1;
static char *site_b; /* the roles case's second site */

static int teardown(void **state)
{
	pid_t v[] = {cockpit_pid, watch_pid};
	for (size_t i = 0; i < BG_ARRAY_SIZE(v); i++) {
		if (v[i] > 0) {
			kill(v[i], SIGTERM);
			th_wait(v[i]);
		}
	}
	cockpit_pid = watch_pid = -1;
	if (site_b) {
		th_docker_cleanup_site(site_b);
		free(site_b);
		site_b = NULL;
	}
	e2e_release(&E); /* each case's e2e_init starts from a zeroed E */
	return e2e_teardown(state);
}

/* Chromium, its driver and selenium; false (skip) when missing outside CI. */
static bool browser_present(void)
{
	static const char *const need[] = {"/usr/bin/chromium", "/usr/bin/chromedriver",
		"/usr/lib/python3/dist-packages/selenium"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(need); i++) {
		if (access(need[i], F_OK) != 0) {
			if (th_ci()) {
				fail_msg("%s is missing (Debian packages chromium chromium-driver "
						"python3-selenium): CI must have it", need[i]);
			}
			printf("# skip: %s is missing\n", need[i]);
			return false;
		}
	}
	return true;
}

/* v1 then v2: v1's colour is live, v2's the candidate a switch makes live. */
static char *deploy_two(void)
{
	e2e_init(&E, "ckbrowser", "nginx", "development");
	e2e_global(&E, "cockpit:\n  listen: \"127.0.0.1:0\"\n");
	e2e_site(&E, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	e2e_site(&E, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	char *live = e2e_edge_live(&E);
	assert_non_null(live);
	return live;
}

static void test_browser_live_switch(void **state)
{
	if (!browser_present()) {
		skip();
	}
	char *live = deploy_two();
	const char *other = strcmp(live, "blue") == 0 ? "green" : "blue";
	char *bin = getenv("BG_BINARY");
	char *wout = bg_xasprintf("%s-watch.out", E.dir);
	char *cout = bg_xasprintf("%s-cockpit.out", E.dir);
	char *env[] = {"NO_COLOR=1", NULL};
	char *wargv[] = {bin, "-c", E.dir, "watch", NULL};
	watch_pid = th_spawn_bg(wargv, env, wout);
	char *snap = bg_xasprintf("%s/state/status.json", E.dir);
	char *lv = bg_xasprintf("\"live\": \"%s\"", live);
	char *text = th_wait_file(snap, lv, 60000);
	if (!text) {
		char *o = th_read(wout);
		fail_msg("the daemon published no status.json with %s live:\n%s", live, o ? o : "");
	}
	free(text);
	/* No --listen: the address comes from global.conf's cockpit.listen. */
	unsigned port = e2e_cockpit_start(&E, cout, "cockpit: safe mode", &cockpit_pid, "--safe",
			NULL);
	assert_true(port > 0 && port != 8077);

	char *outdir = bg_xasprintf("%s/test-output/t-cockpit-browser", getenv("BG_BUILDDIR"));
	assert_int_equal(bg_mkdir_p(outdir, 0755), 0);
	char *url = bg_xasprintf("http://127.0.0.1:%u", port);
	char *script = th_src_path("test/browser/cockpit_browser.py");
	/* The switch: the plan the daemon sees too, applied by the CLI. */
	int st = 0;
	char *tok = e2e_plan(&E, &st);
	assert_int_equal(st, 2);
	assert_non_null(tok);
	char *pargv[] = {"/usr/bin/python3", script, url, E.site, live, (char *)other, outdir,
		"--", bin, "-c", E.dir, "apply", tok, NULL};
	struct th_run r;
	th_run_argv(pargv, env, &r);
	/* Its lines as TAP comments ("ok: ..." would read as test results). */
	for (char *l = r.out; l && *l;) {
		char *nl = strchr(l, '\n');
		printf("# %.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
		l = nl ? nl + 1 : NULL;
	}
	if (r.status != 0) {
		char *o = th_read(cout);
		fail_msg("the browser check failed (%d):\n%s%s\ncockpit:\n%s", r.status, r.out,
				r.err, o ? o : "");
	}
	assert_non_null(strstr(r.out, "without a reload"));
	assert_non_null(strstr(r.out, "overview at 375px: no sideways scroll"));
	th_run_release(&r);
	free(tok);
	free(script);
	free(url);
	free(outdir);
	free(lv);
	free(snap);
	free(cout);
	free(wout);
	free(live);
}

/* ---- the roles case: a viewer of A, an admin, admin mode ---- */

#define VIEWER "vera"
#define VIEWER_PW "vera-pw-7"
#define ADMIN "ops"
#define ADMIN_PW "ops-pw-7"

/*
 * A (the e2e site) and B live on v1 (promote: auto, so approving A's next
 * plan switches it); A's next file, on v2, waits beside the configuration
 * (returned: beside E.dir, on its file system) for the browser script to
 * rename it into place, as an editor saves.
 */
static char *deploy_a_and_b(void)
{
	static const char a_extra[] = "strategy: {promote: auto}\n";
	e2e_init(&E, "ckroles", "nginx", "development");
	e2e_site(&E, "bluegreen-test/web:v2", a_extra);
	char *a_conf = bg_xasprintf("%s/sites/%s.conf", E.dir, E.site);
	char *next = th_read(a_conf);
	assert_non_null(next);
	char *new_conf = bg_xasprintf("%s-next.conf", E.dir);
	FILE *f = fopen(new_conf, "w");
	assert_non_null(f);
	assert_int_equal(fputs(next, f) >= 0 && fclose(f) == 0, 1);
	e2e_site(&E, "bluegreen-test/web:v1", a_extra);
	site_b = bg_xasprintf("bside%s", th_run_id());
	char *rel = bg_xasprintf("sites/%s.conf", site_b);
	char *conf = bg_xasprintf("site: %s\ndomains: [%s.localhost]\nimage: bluegreen-test/web:v1\n"
			"port: 8080\nstop_timeout: 2s\n"
			"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n",
			site_b, site_b);
	th_write(E.dir, rel, conf);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	free(conf);
	free(rel);
	free(next);
	free(a_conf);
	return new_conf;
}

/* The journal's switch of A names the admin: `bluegreen history A`. */
static void assert_switch_actor(void)
{
	struct th_run r;
	assert_int_equal(e2e_bg(&E, &r, "history", E.site, NULL), 0);
	bool found = false;
	for (char *l = r.out; l && *l && !found;) {
		char *nl = strchr(l, '\n');
		char *line = bg_xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));
		/* "SEQ  TIME  ACTOR  ACTION  SITE  RESULT ...": the actor, then the action. */
		char *at = strstr(line, "  cockpit:" ADMIN " ");
		if (at) {
			at += strlen("  cockpit:" ADMIN " ");
			at += strspn(at, " ");
			found = bg_str_has_prefix(at, "switch ") && strstr(at, " ok ");
		}
		free(line);
		l = nl ? nl + 1 : NULL;
	}
	if (!found) {
		fail_msg("no switch of %s by cockpit:%s in its history:\n%s", E.site, ADMIN, r.out);
	}
	th_run_release(&r);
}

static void test_browser_roles(void **state)
{
	if (!browser_present()) {
		skip();
	}
	char *new_conf = deploy_a_and_b();
	char *live = e2e_edge_live(&E);
	assert_string_equal(live, "blue");
	char *users = bg_xasprintf("%s/cockpit.users", E.dir);
	e2e_cockpit_user_add(&E, users, ADMIN, ADMIN_PW, "admin", NULL);
	e2e_cockpit_user_add(&E, users, VIEWER, VIEWER_PW, "viewer", E.site);

	char *bin = getenv("BG_BINARY");
	char *wout = bg_xasprintf("%s-watch.out", E.dir);
	char *cout = bg_xasprintf("%s-cockpit.out", E.dir);
	char *env[] = {"NO_COLOR=1", NULL};
	char *wargv[] = {bin, "-c", E.dir, "watch", NULL};
	watch_pid = th_spawn_bg(wargv, env, wout);
	char *snap = bg_xasprintf("%s/state/status.json", E.dir);
	char *text = th_wait_file(snap, site_b, 60000);
	if (!text) {
		char *o = th_read(wout);
		fail_msg("the daemon published no status.json with both sites:\n%s", o ? o : "");
	}
	free(text);
	unsigned port = e2e_cockpit_start(&E, cout, "cockpit: admin mode", &cockpit_pid, "--admin",
			"--users", users, NULL);

	char *outdir = bg_xasprintf("%s/test-output/t-cockpit-browser", getenv("BG_BUILDDIR"));
	assert_int_equal(bg_mkdir_p(outdir, 0755), 0);
	char *url = bg_xasprintf("http://127.0.0.1:%u", port);
	char *script = th_src_path("test/browser/cockpit_roles.py");
	char *a_conf = bg_xasprintf("%s/sites/%s.conf", E.dir, E.site);
	char *penv[] = {"NO_COLOR=1", "CK_VIEWER=" VIEWER, "CK_VIEWER_PW=" VIEWER_PW,
		"CK_ADMIN=" ADMIN, "CK_ADMIN_PW=" ADMIN_PW, NULL};
	char *pargv[] = {"/usr/bin/python3", script, url, E.site, site_b, live, "green", outdir,
		new_conf, a_conf, wout, NULL};
	struct th_run r;
	th_run_argv_ex(pargv, penv, th_time_limit(600000), &r);
	for (char *l = r.out; l && *l;) {
		char *nl = strchr(l, '\n');
		printf("# %.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
		l = nl ? nl + 1 : NULL;
	}
	if (r.status != 0) {
		char *c = th_read(cout), *w = th_read(wout);
		fail_msg("the browser check failed (%d):\n%s%s\ncockpit:\n%s\ndaemon:\n%s", r.status,
				r.out, r.err, c ? c : "", w ? w : "");
	}
	th_assert_contains(r.out, "ok: the admin's open overview shows green live");
	th_run_release(&r);
	/* What the browser saw is what happened: A on green serving v2, B untouched. */
	char *now = e2e_edge_live(&E);
	assert_string_equal(now, "green");
	assert_true(e2e_wait_body(&E, E.domain, "v2", 10000));
	assert_switch_actor();
	free(now);
	free(a_conf);
	free(script);
	free(url);
	free(outdir);
	free(snap);
	free(cout);
	free(wout);
	free(users);
	free(live);
	unlink(new_conf);
	free(new_conf);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_browser_live_switch, teardown),
		cmocka_unit_test_teardown(test_browser_roles, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
