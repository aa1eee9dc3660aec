/*
 * t-checks: the release checks of issue 14 (controller/probe/checks.c).
 * The judges and the percentile from fixtures; then every runner against
 * a real HTTP server (test/unit/edge-backend.py http, python3's
 * http.server on 127.0.0.1): a status, a body word present or absent, a
 * header, a time budget, a forbidden path that answers 200 and one that
 * answers 404, a latency budget met and missed, and a port nobody listens
 * on.
 */
#include "bg.h"
#include "checks.h"
#include "th.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

static struct {
	pid_t pid;
	char *base;
	char *dir;
} S;

static struct chk_answer fx(long status, const char *body, const char *headers, uint64_t ms)
{
	struct chk_answer a = {.status = status, .ms = ms};
	a.body = bg_xstrdup(body);
	a.body_len = strlen(body);
	a.headers = bg_xstrdup(headers);
	return a;
}

static void judge_expect(const struct chk_http *c, struct chk_answer *a, const char *want)
{
	char *why = chk_http_judge(c, a);
	if (!want) {
		if (why) {
			th_print_error("unexpected failure: %s", why);
		}
		assert_null(why);
	} else {
		assert_non_null(why);
		th_assert_contains(why, want);
	}
	free(why);
	chk_answer_release(a);
}

static void test_judge(void **state)
{
	(void)state;
	const char *h = "HTTP/1.1 200 OK\r\nX-App: shop v2\r\nContent-Type: text/html\r\n";
	struct chk_http any = {.path = "/"};
	struct chk_answer a = fx(204, "", h, 3);
	judge_expect(&any, &a, NULL);
	a = fx(301, "", h, 3);
	judge_expect(&any, &a, "status 301, want 2xx");
	struct chk_http exact = {.path = "/", .status = 404};
	a = fx(200, "", h, 3);
	judge_expect(&exact, &a, "status 200, want 404");
	struct chk_http body = {.path = "/", .body_contains = "Welcome",
		.body_not_contains = "Fatal error"};
	a = fx(200, "<h1>Welcome</h1>", h, 3);
	judge_expect(&body, &a, NULL);
	a = fx(200, "<h1>Hello</h1>", h, 3);
	judge_expect(&body, &a, "does not contain \"Welcome\"");
	a = fx(200, "Welcome <b>Fatal error</b> in wp-includes", h, 3);
	judge_expect(&body, &a, "contains \"Fatal error\"");
	struct chk_http hdr = {.path = "/", .header = "x-app: v2"};
	a = fx(200, "", h, 3);
	judge_expect(&hdr, &a, NULL);
	struct chk_http hdr3 = {.path = "/", .header = "X-App: v3"};
	a = fx(200, "", h, 3);
	judge_expect(&hdr3, &a, "no header \"X-App: v3\"");
	struct chk_http present = {.path = "/", .header = "Content-Type"};
	a = fx(200, "", h, 3);
	judge_expect(&present, &a, NULL);
	struct chk_http fast = {.path = "/", .max_ms = 100};
	a = fx(200, "", h, 250);
	judge_expect(&fast, &a, "250 ms, budget 100 ms");
	struct chk_http notin = {.path = "/", .body_not_contains = "debug"};
	a = fx(200, "fine", h, 3);
	a.truncated = true;
	judge_expect(&notin, &a, "cannot be ruled out");
}

static void test_forbidden_and_percentile(void **state)
{
	(void)state;
	struct chk_answer a = fx(200, "phpinfo()", "", 1);
	char *why = chk_forbidden_judge("/debug", &a);
	assert_non_null(why);
	th_assert_contains(why, "/debug answered 200");
	free(why);
	chk_answer_release(&a);
	const long refused[] = {301, 401, 403, 404, 500};
	for (size_t i = 0; i < BG_ARRAY_SIZE(refused); i++) {
		a = fx(refused[i], "", "", 1);
		assert_null(chk_forbidden_judge("/.git/config", &a));
		chk_answer_release(&a);
	}
	uint64_t ms[20];
	for (unsigned i = 0; i < 20; i++) {
		ms[i] = 20 - i; /* 20..1, unsorted on purpose */
	}
	assert_int_equal(chk_percentile(ms, 20, 95), 19);
	assert_int_equal(chk_percentile(ms, 20, 50), 10);
	assert_int_equal(chk_percentile(ms, 20, 100), 20);
	uint64_t one = 7;
	assert_int_equal(chk_percentile(&one, 1, 95), 7);
	assert_int_equal(chk_percentile(NULL, 0, 95), 0);
	assert_int_equal(chk_phase_from_name("security"), CHK_PHASE_SECURITY);
	assert_string_equal(chk_phase_name(CHK_PHASE_UI), "ui");
	assert_int_equal(chk_phase_from_name("smoke"), -1);
}

static bool port_open(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0) {
		close(fd);
	}
	return ok;
}

/* Once, for the tests that need it (server_down stops it after the group). */
static int server_up(void **state)
{
	(void)state;
	if (S.base) {
		return 0;
	}
	char ps[16];
	int port = th_free_port();
	snprintf(ps, sizeof(ps), "%d", port);
	S.dir = th_tmpdir("checks");
	char *script = th_src_path("test/unit/edge-backend.py");
	char *log = bg_xasprintf("%s/backend.log", S.dir);
	char *argv[] = {"/usr/bin/python3", script, "http", ps, NULL};
	S.pid = th_spawn_bg(argv, NULL, log);
	for (int i = 0; i < 1000 && !port_open(port); i++) {
		usleep(10 * 1000);
	}
	free(log);
	free(script);
	if (!port_open(port)) {
		return -1;
	}
	S.base = bg_xasprintf("http://127.0.0.1:%d", port);
	return 0;
}

static int server_down(void **state)
{
	(void)state;
	if (S.pid > 0) {
		kill(S.pid, SIGTERM);
		waitpid(S.pid, NULL, 0);
	}
	th_rm_rf(S.dir);
	free(S.dir);
	free(S.base);
	return 0;
}

/* why by address: C leaves the order of argument evaluation open, so the
 * call that fills it must be sequenced before it is read. */
static void run_expect(int err, char **whyp, const char *want)
{
	char *why = *whyp;
	*whyp = NULL;
	if (!want) {
		if (err) {
			th_print_error("unexpected failure: %s", why ? why : "?");
		}
		assert_int_equal(err, 0);
	} else {
		assert_int_equal(err, BG_EHEALTH);
		assert_non_null(why);
		th_assert_contains(why, want);
	}
	free(why);
}

static void test_http_real(void **state)
{
	(void)state;
	char *why = NULL;
	struct chk_http ok = {.path = "/healthz", .body_contains = "requests=",
		.header = "X-Backend: edge", .max_ms = 5000};
	run_expect(chk_http_run(&ok, S.base, "shop.example.com", 5000, &why), &why, NULL);
	struct chk_http s500 = {.path = "/status?code=500"};
	run_expect(chk_http_run(&s500, S.base, NULL, 5000, &why), &why,
			"GET /status?code=500: status 500, want 2xx");
	struct chk_http want404 = {.path = "/status?code=404", .status = 404};
	run_expect(chk_http_run(&want404, S.base, NULL, 5000, &why), &why, NULL);
	struct chk_http word = {.path = "/", .body_not_contains = "requests="};
	run_expect(chk_http_run(&word, S.base, NULL, 5000, &why), &why, "contains \"requests=\"");
	struct chk_http hdr = {.path = "/", .header = "X-Debug"};
	run_expect(chk_http_run(&hdr, S.base, NULL, 5000, &why), &why, "no header \"X-Debug\"");
	struct chk_http slow = {.path = "/slow?ms=300", .max_ms = 100};
	run_expect(chk_http_run(&slow, S.base, NULL, 5000, &why), &why, "budget 100 ms");
	struct chk_http late = {.path = "/slow?ms=1500"};
	run_expect(chk_http_run(&late, S.base, NULL, 300, &why), &why, "timed out");
	char *closed = bg_xasprintf("http://127.0.0.1:%d", th_free_port());
	run_expect(chk_http_run(&ok, closed, NULL, 2000, &why), &why, "/healthz:");
	free(closed);
}

static void test_forbidden_and_latency_real(void **state)
{
	(void)state;
	char *why = NULL;
	run_expect(chk_forbidden_run("/debug", S.base, NULL, 5000, &why), &why,
			"/debug answered 200");
	run_expect(chk_forbidden_run("/status?code=404", S.base, NULL, 5000, &why), &why, NULL);
	run_expect(chk_forbidden_run("/status?code=403", S.base, NULL, 5000, &why), &why, NULL);
	uint64_t p95 = 0;
	run_expect(chk_latency_run("/", 20, 2000, S.base, NULL, 5000, &p95, &why), &why, NULL);
	assert_true(p95 < 2000);
	run_expect(chk_latency_run("/slow?ms=120", 5, 50, S.base, NULL, 5000, &p95, &why), &why,
			"p95");
	assert_true(p95 >= 120);
	run_expect(chk_latency_run("/status?code=503", 3, 1000, S.base, NULL, 5000, &p95, &why),
			&why, "status 503");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_forbidden_and_percentile),
		cmocka_unit_test_setup(test_http_real, server_up),
		cmocka_unit_test_setup(test_forbidden_and_latency_real, server_up),
	};
	return cmocka_run_group_tests_name("checks", tests, NULL, server_down);
}
