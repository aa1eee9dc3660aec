/*
 * t-verify-live: the watch window after a switch (issue 14), end to end:
 * a real `bluegreen watch` daemon, real nginx as the edge, real Docker,
 * a real local HTTP receiver for the alerts (test/helpers/alert-receiver.py).
 *
 * The images (bluegreen-test/flip:v1, v2, built here from web:vN) answer
 * their health path /cgi-bin/health with 200, or with 500 once /tmp/fail
 * exists in that container: `docker exec ... touch /tmp/fail` flips v2
 * after its switch, leaving v1 (the previous colour, still warm) healthy.
 *
 *   revert: v2 fails within its window -> v1 is live again through the
 *           edge well within the window, the history holds verify-failed
 *           and auto-revert (actor daemon:..., with the evidence), and the
 *           receiver gets verify-failed and auto-revert. The time from the
 *           flip to v1 serving, and the failed requests seen meanwhile, are
 *           printed.
 *   alert:  the same failure only alerts: v2 stays live, and the next
 *           `bluegreen plan` proposes the rollback at its top; its token
 *           rolls back like any plan.
 *   pass:   a healthy v2 -> verify-passed.
 *
 * Needs: dockerd, nginx, python3; test/images/build.sh's web images.
 */
#include "bg.h"
#include "bg-util.h"
#include "e2e.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 20000
#define FLIP_HEALTH "health: {path: /cgi-bin/health, interval: 200ms, timeout: 1s, retries: 25}\n"

static struct e2e E;
static char *out_path;
static pid_t pid = -1;

struct recv {
	char *dir, *log;
	pid_t pid;
	int port;
};
static struct recv R = {.pid = -1};

/* flip:vN: web:vN plus a health CGI that answers 500 once /tmp/fail exists. */
static void flip_images_build(void)
{
	for (int v = 1; v <= 2; v++) {
		char *dir = th_tmpdir("flip-img");
		char *df = bg_xasprintf("FROM bluegreen-test/web:v%d\n"
				"COPY health /www/cgi-bin/health\n", v);
		th_write(dir, "Dockerfile", df);
		th_write(dir, "health", "#!/bin/sh\n"
				"if [ -e /tmp/fail ]; then\n"
				"printf 'Status: 500 Internal Server Error\\r\\nContent-Type: "
				"text/plain\\r\\n\\r\\nfail\\n'\n"
				"else\n"
				"printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n"
				"fi\n");
		char *cgi = bg_xasprintf("%s/health", dir);
		chmod(cgi, 0755);
		char *tag = bg_xasprintf("bluegreen-test/flip:v%d", v);
		struct th_run r;
		char *env[] = {"DOCKER_BUILDKIT=0", NULL};
		char *argv[] = {"docker", "build", "-q", "-t", tag, dir, NULL};
		if (th_run_argv(argv, env, &r) != 0) {
			fail_msg("docker build %s: %s", tag, r.err);
		}
		th_run_release(&r);
		th_rm_rf(dir);
		free(dir);
		free(df);
		free(cgi);
		free(tag);
	}
}

static void recv_start(void)
{
	R.dir = th_tmpdir("vrecv");
	char *portfile = bg_xasprintf("%s/port", R.dir);
	char *out = bg_xasprintf("%s/receiver.out", R.dir);
	char *script = th_src_path("test/helpers/alert-receiver.py");
	R.log = bg_xasprintf("%s/requests.jsonl", R.dir);
	char *argv[] = {"python3", script, portfile, R.log, "200", NULL};
	R.pid = th_spawn_bg(argv, NULL, out);
	int64_t deadline = bg_mono_ms() + th_time_limit(10000);
	while (access(portfile, R_OK) != 0) {
		if (bg_mono_ms() > deadline) {
			fail_msg("alert-receiver did not start");
		}
		usleep(20 * 1000);
	}
	char *p = th_read(portfile);
	R.port = atoi(p);
	free(p);
	free(portfile);
	free(out);
	free(script);
}

static char *recv_requests(void)
{
	return access(R.log, R_OK) == 0 ? th_read(R.log) : bg_xstrdup("");
}

/* Wait until the receiver got a body naming event. */
static bool recv_wait(const char *event, int ms)
{
	char *needle = bg_xasprintf("\\\"event\\\": \\\"%s\\\"", event);
	char *needle2 = bg_xasprintf("\\\"event\\\":\\\"%s\\\"", event);
	int64_t end = bg_mono_ms() + ms * th_time_scale();
	bool got = false;
	while (!got && bg_mono_ms() < end) {
		char *t = recv_requests();
		got = strstr(t, needle) || strstr(t, needle2);
		free(t);
		if (!got) {
			usleep(50 * 1000);
		}
	}
	free(needle);
	free(needle2);
	return got;
}

static char *d_text(void)
{
	char *t = th_read(out_path);
	return t ? t : bg_xstrdup("");
}

static long d_wait(size_t from, const char *needle, int ms)
{
	int64_t end = bg_mono_ms() + ms * th_time_scale();
	for (;;) {
		char *t = d_text();
		const char *at = strlen(t) >= from ? strstr(t + from, needle) : NULL;
		long pos = at ? (long)(at - t) : -1;
		free(t);
		if (pos >= 0 || bg_mono_ms() > end) {
			return pos;
		}
		usleep(50 * 1000);
	}
}

static void d_fail(const char *what)
{
	char *t = d_text();
	th_print_error("the daemon printed:\n%s", t);
	free(t);
	fail_msg("%s", what);
}

static void daemon_start(void)
{
	out_path = bg_xasprintf("%s-daemon.out", E.dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", E.dir, "watch", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	pid = th_spawn_bg(argv, env, out_path);
	if (d_wait(0, "=== plan ", WAIT_MS) < 0) {
		d_fail("no plan from the daemon");
	}
}

static void daemon_stop(void)
{
	kill(pid, SIGTERM);
	assert_int_equal(th_wait(pid), 0);
	pid = -1;
}

/*
 * v1 live (no daemon yet), then the daemon, then v2 with verify: applied
 * through the daemon (the one-shot apply hands its token over).
 */
static void setup_v2(const char *tag, const char *verify, const char *events)
{
	recv_start();
	e2e_init(&E, tag, "nginx", "development");
	char *alerts = bg_xasprintf("alerts:\n  ops:\n    webhook: \"http://127.0.0.1:%d/hook\"\n"
			"    events: [%s]\n", R.port, events);
	e2e_global(&E, alerts);
	free(alerts);
	e2e_site(&E, "bluegreen-test/flip:v1", FLIP_HEALTH);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	assert_true(e2e_wait_body(&E, E.domain, "v1", WAIT_MS));
	daemon_start();
	char *extra = bg_xasprintf(FLIP_HEALTH "%s", verify);
	e2e_site(&E, "bluegreen-test/flip:v2", extra);
	free(extra);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0); /* the candidate (promote: manual) */
	assert_int_equal(e2e_plan_apply(&E, NULL), 0); /* the switch */
	if (!e2e_wait_body(&E, E.domain, "v2", WAIT_MS)) {
		d_fail("v2 is not live after its apply");
	}
}

static void flip_fail(const char *colour)
{
	char *name = bg_xasprintf("%s-%s", E.site, colour);
	struct th_run r;
	assert_int_equal(th_docker(&r, "exec", name, "/bin/busybox", "touch", "/tmp/fail", NULL), 0);
	th_run_release(&r);
	free(name);
}

/* GET path through nginx with Host: the site's domain: the status. */
static int edge_status(const char *path)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d%s", E.port, path);
	char *host = bg_xasprintf("Host: %s", E.domain);
	char *args[] = {"-H", host, url, NULL};
	char *body = NULL;
	int st = e2e_curl(args, &body, NULL);
	free(body);
	free(host);
	free(url);
	return st;
}

/* Lines of text holding one of the words, each as a TAP comment. */
static void print_lines(const char *text, const char *w1, const char *w2)
{
	for (const char *l = text, *nl; l && *l; l = nl ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		int n = nl ? (int)(nl - l) : (int)strlen(l);
		char *line = bg_xstrndup(l, (size_t)n);
		if (!w1 || strstr(line, w1) || (w2 && strstr(line, w2))) {
			print_message("#   %s\n", line);
		}
		free(line);
	}
}

static char *history(void)
{
	struct th_run r;
	assert_int_equal(e2e_bg(&E, &r, "history", E.site, "--details", NULL), 0);
	char *t = bg_xstrdup(r.out);
	th_run_release(&r);
	return t;
}

static void test_revert(void **state)
{
	(void)state;
	setup_v2("vrev", "verify: {window: 20s, interval: 200ms, min_requests: 3, on_failure: revert}\n",
			"verify-failed, auto-revert");
	char *live = e2e_edge_live(&E);
	assert_string_equal(live, "green");
	char *before = d_text();
	size_t mark = strlen(before);
	free(before);
	int64_t t0 = bg_mono_ms();
	flip_fail("green");
	/* Users' view meanwhile: count the failures until v1 serves again. */
	unsigned failed = 0, asked = 0;
	bool back = false;
	while (!back && bg_mono_ms() - t0 < 20000 * th_time_scale()) {
		int st = edge_status("/cgi-bin/health");
		asked++;
		if (st != 200) {
			failed++;
		}
		char *body = NULL;
		back = e2e_get(&E, E.domain, &body) == 200 && strcmp(body, "v1") == 0;
		free(body);
	}
	int64_t ms = bg_mono_ms() - t0;
	if (!back) {
		d_fail("v1 is not live again within the window");
	}
	print_message("# auto-revert: v1 served again %" PRId64 " ms after v2 started failing "
			"(window 20 s, samples every 200 ms, early verdict after 3); %u of %u "
			"requests failed meanwhile, none after v1 was back\n", ms, failed, asked);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(edge_status("/cgi-bin/health"), 200);
	}
	free(live);
	live = e2e_edge_live(&E);
	assert_string_equal(live, "blue");
	free(live);
	if (d_wait(mark, "auto-revert", WAIT_MS) < 0) {
		d_fail("the daemon said nothing of the auto-revert");
	}
	assert_true(recv_wait("verify-failed", WAIT_MS));
	assert_true(recv_wait("auto-revert", WAIT_MS));
	char *h = history();
	th_assert_contains(h, "verify-failed");
	th_assert_contains(h, "auto-revert");
	th_assert_contains(h, "daemon:");
	th_assert_contains(h, "requests through the edge");
	th_assert_contains(h, "HTTP 500");
	print_message("# history (verify and auto-revert entries):\n");
	print_lines(h, "verify-", "auto-revert");
	free(h);
	daemon_stop();
}

static void test_alert(void **state)
{
	(void)state;
	setup_v2("valert", "verify: {window: 20s, interval: 200ms, min_requests: 3}\n",
			"verify-failed, auto-revert");
	flip_fail("green");
	assert_true(recv_wait("verify-failed", WAIT_MS));
	if (d_wait(0, "the next plan proposes the rollback", WAIT_MS) < 0) {
		d_fail("no rollback proposal announced");
	}
	/* Nothing switched on its own. */
	usleep(500 * 1000);
	char *live = e2e_edge_live(&E);
	assert_string_equal(live, "green");
	free(live);
	struct th_run r;
	/* --retry keeps v2: a re-check of the live colour instead of the rollback. */
	assert_int_equal(e2e_bg(&E, &r, "plan", "--retry", E.site, NULL), 2);
	th_assert_contains(r.out, "keep v2 live (plan --retry)");
	th_assert_not_contains(r.out, "ROLLS BACK");
	th_run_release(&r);
	int rc = e2e_bg(&E, &r, "plan", NULL);
	assert_int_equal(rc, 2);
	const char *note = strstr(r.out, "failed its watch window");
	assert_non_null(note);
	th_assert_contains(r.out, "ROLLS BACK to blue (v1)");
	th_assert_contains(r.out, "rollback: live green (v2) -> blue (v1)");
	/* At the top: before the site's own section. */
	char *site_head = bg_xasprintf("\n%s (", E.site);
	const char *site = strstr(r.out, site_head);
	assert_non_null(site);
	assert_true(note < site);
	free(site_head);
	print_message("# plan after a failed window (on_failure: alert):\n");
	print_lines(r.out, NULL, NULL);
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	/* Approved like any plan: its token rolls back (through the daemon). */
	assert_int_equal(e2e_bg(&E, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);
	assert_true(e2e_wait_body(&E, E.domain, "v1", WAIT_MS));
	char *h = history();
	th_assert_contains(h, "verify-failed");
	th_assert_not_contains(h, "auto-revert");
	free(h);
	daemon_stop();
}

static void test_pass(void **state)
{
	(void)state;
	setup_v2("vpass", "verify: {window: 3s, interval: 100ms, on_failure: revert}\n",
			"verify-failed, auto-revert");
	if (d_wait(0, "verify: ", WAIT_MS) < 0 || d_wait(0, ": passed: ", WAIT_MS) < 0) {
		d_fail("no verify-passed");
	}
	char *h = history();
	th_assert_contains(h, "verify-passed");
	th_assert_not_contains(h, "verify-failed");
	free(h);
	char *live = e2e_edge_live(&E);
	assert_string_equal(live, "green");
	free(live);
	char *reqs = recv_requests();
	assert_string_equal(reqs, "");
	free(reqs);
	daemon_stop();
}

/*
 * The site's own checks run in the window too: v2's health stays 200 but
 * its home page goes (a check through the edge fails), and the window
 * reverts on that alone, naming the check.
 */
static void test_check_in_window(void **state)
{
	(void)state;
	setup_v2("vchk", "verify: {window: 20s, interval: 200ms, min_requests: 3, on_failure: revert}\n"
			"checks:\n  home: {phase: functional, http: {path: /}}\n",
			"verify-failed, auto-revert");
	char *name = bg_xasprintf("%s-green", E.site);
	struct th_run r;
	assert_int_equal(th_docker(&r, "exec", name, "/bin/busybox", "rm", "/www/index.html", NULL), 0);
	th_run_release(&r);
	free(name);
	assert_int_equal(edge_status("/cgi-bin/health"), 200); /* health alone would pass */
	if (!e2e_wait_body(&E, E.domain, "v1", WAIT_MS)) {
		d_fail("v1 is not live again after a check failed in the window");
	}
	char *h = history();
	th_assert_contains(h, "verify-failed");
	th_assert_contains(h, "auto-revert");
	th_assert_contains(h, "check home (http)");
	print_lines(h, "verify-", "auto-revert");
	free(h);
	daemon_stop();
}

static int teardown(void **state)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		th_wait(pid);
		pid = -1;
	}
	if (R.pid > 0) {
		kill(R.pid, SIGTERM);
		th_wait(R.pid);
		R.pid = -1;
		th_rm_rf(R.dir);
		free(R.dir);
		free(R.log);
	}
	if (out_path) {
		unlink(out_path);
		free(out_path);
		out_path = NULL;
	}
	e2e_release(&E); /* E is static: safe after a failed assertion; frees its names */
	return e2e_teardown(state);
}

int main(void)
{
	th_docker_preamble();
	flip_images_build();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_revert, teardown),
		cmocka_unit_test_teardown(test_alert, teardown),
		cmocka_unit_test_teardown(test_pass, teardown),
		cmocka_unit_test_teardown(test_check_in_window, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
