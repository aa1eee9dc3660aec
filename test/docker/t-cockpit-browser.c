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
 */
#include "bg.h"
#include "bg-fs.h"
#include "e2e.h"
#include "th.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct e2e E;
static pid_t watch_pid = -1, cockpit_pid = -1;

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

/* Wait for the file to hold want (ms); returns its text or NULL. */
static char *wait_file(const char *path, const char *want, int ms)
{
	for (int t = 0; t < ms; t += 100) {
		char *s = NULL;
		if (bg_file_read(path, 1 << 20, &s, NULL) == 0 && strstr(s, want)) {
			return s;
		}
		free(s);
		usleep(100 * 1000);
	}
	return NULL;
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
	char *text = wait_file(snap, lv, 60000);
	if (!text) {
		char *o = th_read(wout);
		fail_msg("the daemon published no status.json with %s live:\n%s", live, o ? o : "");
	}
	free(text);
	/* No --listen: the address comes from global.conf's cockpit.listen. */
	char *cargv[] = {bin, "-c", E.dir, "cockpit", "--safe", NULL};
	cockpit_pid = th_spawn_bg(cargv, env, cout);
	char *t = wait_file(cout, "listening on port ", 30000);
	if (!t) {
		char *o = th_read(cout);
		fail_msg("the cockpit did not start:\n%s", o ? o : "");
	}
	unsigned port = (unsigned)strtoul(strstr(t, "listening on port ") + 18, NULL, 10);
	assert_true(port > 0 && port != 8077);
	free(t);

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

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_browser_live_switch, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
