/*
 * t-switch-served: when `bluegreen apply TOKEN` (a switch) or `rollback
 * SITE --yes` returns, every new connection to the edge gets the new
 * colour (issue 11: the switch may return as soon as the new version
 * serves, never before). A real nginx, real containers: right after each
 * command returns, REQUESTS fresh connections in a row ask GET / and must
 * all be answered by the colour just made live, over ROUNDS switch and
 * rollback pairs. An idle nginx's old worker is the first the kernel wakes
 * for a new connection until it is told to quit, so a switch that returned
 * while it still accepted would be answered by the previous version here.
 * The requests are raw sockets (no curl start between them): the first
 * one leaves within a millisecond of the command's exit.
 */
#include "bg.h"
#include "e2e.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS (60 * 1000)
#define ROUNDS 3
#define REQUESTS 20

static struct e2e E;

/* GET / on a fresh connection with Host: host; the body (a new string; "" when none). */
static char *fresh_get(int port, const char *host)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[512], buf[8192];
	size_t got = 0;
	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return bg_xstrdup("(connect failed)");
	}
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			host);
	assert_int_equal(write(fd, req, (size_t)n), n);
	for (ssize_t r; got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0;) {
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	const char *body = strstr(buf, "\r\n\r\n");
	char *out = bg_xstrdup(body ? body + 4 : "(no answer)");
	out[strcspn(out, "\r\n")] = '\0';
	return out;
}

/* Right after the command: REQUESTS fresh connections, all answered by want. */
static void assert_served(const char *what, int round, const char *want)
{
	char *seen[REQUESTS];
	bool ok = true;
	for (int i = 0; i < REQUESTS; i++) {
		seen[i] = fresh_get(E.port, E.domain);
	}
	for (int i = 0; i < REQUESTS; i++) {
		if (strcmp(seen[i], want) != 0) {
			th_print_error("%s, round %d: request %d after the command returned was "
					"answered '%s', not '%s'\n", what, round, i + 1, seen[i], want);
			ok = false;
		}
		free(seen[i]);
	}
	if (!ok) {
		fail_msg("%s returned before the new colour served every new connection", what);
	}
}

static void t_switch_returns_when_served(void **state)
{
	struct th_run r;
	(void)state;
	e2e_init(&E, "served", "nginx", "development");
	e2e_site(&E, "bluegreen-test/web:v1", "strategy: {promote: manual}\n");
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	assert_true(e2e_wait_body(&E, E.domain, "v1", WAIT_MS));

	for (int round = 1; round <= ROUNDS; round++) {
		char *extra = bg_xasprintf("strategy: {promote: manual}\nenv: {ROUND: \"%d\"}\n",
				round);
		e2e_site(&E, "bluegreen-test/web:v2", extra);
		free(extra);
		/* The candidate (v2, not live yet), then the switch's own plan. */
		assert_int_equal(e2e_plan_apply(&E, NULL), 0);
		int status = -1;
		char *tok = e2e_plan(&E, &status);
		assert_non_null(tok);
		/* The candidate's apply put its upstream in the file (preview):
		 * the switch is the flag alone, and the plan says so (issue 11). */
		e2e_bg(&E, &r, "plan", NULL);
		th_assert_contains(r.out, "(flag, no reload)");
		th_run_release(&r);
		if (e2e_bg(&E, &r, "apply", tok, NULL) != 0) {
			fail_msg("apply %s: exit %d\n%s\n%s", tok, r.status, r.out, r.err);
		}
		th_run_release(&r);
		free(tok);
		assert_served("the switch (apply TOKEN)", round, "v2");

		if (e2e_bg(&E, &r, "rollback", E.site, "--yes", NULL) != 0) {
			fail_msg("rollback: exit %d\n%s\n%s", r.status, r.out, r.err);
		}
		th_run_release(&r);
		assert_served("rollback --yes", round, "v1");
	}
	e2e_release(&E); /* before the next case's e2e_init */
}

/* The site file e2e_site writes, without a preview host. */
static void site_no_preview(const char *image)
{
	char *rel = bg_xasprintf("sites/%s.conf", E.site);
	char *conf = bg_xasprintf("site: %s\ndomains: [%s]\nimage: %s\nport: 8080\n"
			"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n"
			"stop_timeout: 2s\nstrategy: {promote: manual}\n", E.site, E.domain, image);
	th_write(E.dir, rel, conf);
	free(conf);
	free(rel);
}

/*
 * Issue 11: a site without a preview host. The candidate's plan lists the
 * candidate in the nginx file (live unchanged), so that the switch the
 * next plan proposes is a flag change, and it is served when it returns.
 */
static void t_no_preview_switch_by_flag(void **state)
{
	struct th_run r;
	(void)state;
	e2e_init(&E, "servednp", "nginx", "development");
	site_no_preview("bluegreen-test/web:v1");
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	assert_true(e2e_wait_body(&E, E.domain, "v1", WAIT_MS));
	site_no_preview("bluegreen-test/web:v2");
	assert_int_equal(e2e_bg(&E, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "list candidate");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	assert_true(e2e_wait_body(&E, E.domain, "v1", 1000)); /* still v1 */
	int status = -1;
	char *tok = e2e_plan(&E, &status);
	assert_non_null(tok);
	e2e_bg(&E, &r, "plan", NULL);
	th_assert_contains(r.out, "(flag, no reload)");
	th_run_release(&r);
	if (e2e_bg(&E, &r, "apply", tok, NULL) != 0) {
		fail_msg("apply %s: exit %d\n%s\n%s", tok, r.status, r.out, r.err);
	}
	th_run_release(&r);
	free(tok);
	assert_served("the switch without a preview host", 1, "v2");
	e2e_release(&E);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(t_switch_returns_when_served, e2e_teardown),
		cmocka_unit_test_teardown(t_no_preview_switch_by_flag, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
