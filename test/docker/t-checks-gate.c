/*
 * t-checks-gate: a site's `checks:` run in the gate before the switch
 * (issue 14), with the real nginx edge and real candidates. Checks that
 * pass let the apply switch (and the plan listed them under the gate).
 * A candidate that serves a forbidden path, fails a body check, whose
 * command check exits 1 and whose log matches a pattern is refused: the
 * apply exits 5 naming each failed check with what it expected and what
 * it saw, secrets redacted; blue keeps serving through nginx; the journal
 * holds the details (history --details) and the gate-failed alert fires.
 *
 * Needs: dockerd, nginx, curl; images from test/images/build.sh, plus the
 * one built here from bluegreen-test/web:v2 (a /debug page, request log).
 */
#include "bg.h"
#include "bg-util.h"
#include "e2e.h"

#include <unistd.h>

#define BAD_IMAGE "bluegreen-test/checks-bad:1"
#define SECRET "pw-k7q2-checks-secret"

/* v2's pages plus /debug (answers 200), with busybox httpd logging each answer. */
static void bad_image_build(void)
{
	char *dir = th_tmpdir("checks-img");
	th_write(dir, "Dockerfile", "FROM bluegreen-test/web:v2\n"
			"COPY debug /www/debug\n"
			"CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", "
			"\"-h\", \"/www\"]\n");
	th_write(dir, "debug", "debug: internals\n");
	struct th_run r;
	char *env[] = {"DOCKER_BUILDKIT=0", NULL};
	char *argv[] = {"docker", "build", "-q", "-t", BAD_IMAGE, dir, NULL};
	if (th_run_argv(argv, env, &r) != 0) {
		fail_msg("docker build %s: %s", BAD_IMAGE, r.err);
	}
	th_run_release(&r);
	th_rm_rf(dir);
	free(dir);
}

/* Checks a good v2 passes, one of each kind. */
#define GOOD_CHECKS                                                            \
	"health: {path: /healthz, interval: 500ms}\n"                          \
	"checks:\n"                                                            \
	"  home:\n"                                                            \
	"    phase: functional\n"                                              \
	"    http: {path: /, status: 200, body_contains: v2, header: Content-Type, max_ms: 3000}\n" \
	"  no-debug:\n"                                                        \
	"    phase: security\n"                                                \
	"    forbidden: [/debug, /.git/]\n"                                    \
	"  speed:\n"                                                           \
	"    phase: performance\n"                                             \
	"    latency: {path: /healthz, requests: 5, p95_ms: 3000}\n"           \
	"  port:\n"                                                            \
	"    phase: container\n"                                               \
	"    tcp: {}\n"                                                        \
	"  selftest:\n"                                                        \
	"    phase: integration\n"                                             \
	"    command: [/bin/busybox, test, -f, /www/healthz]\n"                \
	"  no-fatal:\n"                                                        \
	"    phase: application\n"                                             \
	"    log: \"FATAL|panic\"\n"

/* Each failing on BAD_IMAGE but port (which passes); speed and quick: over
 * their time budgets (/cgi-bin/slow answers after a second). */
#define BAD_CHECKS                                                             \
	"env: {CHECKS_DB_PASSWORD: " SECRET "}\n"                              \
	"health: {path: /healthz, interval: 500ms}\n"                          \
	"checks:\n"                                                            \
	"  home:\n"                                                            \
	"    phase: functional\n"                                              \
	"    http: {path: /, body_contains: v3}\n"                             \
	"  no-debug:\n"                                                        \
	"    phase: security\n"                                                \
	"    forbidden: [/.git/, /debug]\n"                                    \
	"  port:\n"                                                            \
	"    phase: container\n"                                               \
	"    tcp: {}\n"                                                        \
	"  selftest:\n"                                                        \
	"    phase: integration\n"                                             \
	"    command: [/bin/busybox, cat, /proc/self/environ, /no/such/file]\n" \
	"  quiet-log:\n"                                                       \
	"    phase: application\n"                                             \
	"    log: \"response:200\"\n"                                           \
	"  speed:\n"                                                           \
	"    phase: performance\n"                                             \
	"    latency: {path: /cgi-bin/slow, requests: 3, p95_ms: 300}\n"       \
	"  quick:\n"                                                           \
	"    phase: functional\n"                                              \
	"    http: {path: /cgi-bin/slow, max_ms: 300}\n"

/* text as TAP comments, one line at a time (cmocka cuts long messages). */
static void print_lines(const char *title, const char *text)
{
	print_message("# %s:\n", title);
	for (const char *l = text; *l;) {
		size_t n = strcspn(l, "\n");
		print_message("#   %.*s\n", (int)n, l);
		l += n + (l[n] == '\n');
	}
}

static char *joined(const struct th_run *r)
{
	return bg_xasprintf("%s\n%s", r->out, r->err);
}

/* Passing checks: listed by the plan under the gate, then the switch. */
static void test_checks_pass_then_switch(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "ckpass", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));

	e2e_site(&e, "bluegreen-test/web:v2", "strategy: {promote: auto}\n" GOOD_CHECKS);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "check home (functional, http): GET / -> 200, body contains "
			"\"v2\", header \"Content-Type\", within 3000 ms");
	th_assert_contains(r.out, "check no-debug (security, forbidden): /debug, /.git/ must "
			"not answer 2xx");
	th_assert_contains(r.out, "check selftest (integration, command): exec [/bin/busybox, "
			"test, -f, /www/healthz]");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "plan", "--json", NULL), 2);
	th_assert_contains(r.out, "\"checks\"");
	th_assert_contains(r.out, "\"phase\": \"performance\"");
	th_run_release(&r);

	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	char *all = joined(&r);
	th_assert_contains(all, "6 checks passed");
	free(all);
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "green");
	free(live);
	e2e_release(&e);
}

/* Failing checks: exit 5, each named, blue serves on, journaled, alerted. */
static void test_checks_fail_blue_serves(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "ckfail", "nginx", "development");
	char *flag = bg_xasprintf("%s/gate-failed.alert", e.dir);
	char *alerts = bg_xasprintf("alerts:\n  ops:\n    command: [/usr/bin/touch, %s]\n"
			"    events: [gate-failed]\n", flag);
	e2e_global(&e, alerts);
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	assert_int_equal(access(flag, F_OK), -1); /* a good apply alerts nobody */

	e2e_site(&e, BAD_IMAGE, "strategy: {promote: auto}\n" BAD_CHECKS);
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	char *all = joined(&r);
	th_run_release(&r);
	print_lines("the refused apply said", all);
	th_assert_contains(all, "failed 6 of 7 checks before the switch; the live colour was "
			"not touched");
	/* A candidate slower than its budgets is refused, each budget named. */
	th_assert_contains(all, "check speed (phase performance, latency)");
	th_assert_contains(all, "check quick (phase functional, http)");
	th_assert_contains(all, "budget 300 ms");
	th_assert_contains(all, "check home (phase functional, http): expected GET / -> 2xx, "
			"body contains \"v3\"; seen");
	th_assert_contains(all, "the body does not contain \"v3\"");
	th_assert_contains(all, "check no-debug (phase security, forbidden): expected /.git/, "
			"/debug must not answer 2xx; seen");
	th_assert_contains(all, "/debug answered 200: it must not be served");
	th_assert_contains(all, "check selftest (phase integration, command)");
	th_assert_contains(all, ": exit 1, output: ");
	th_assert_contains(all, "CHECKS_DB_PASSWORD=<redacted>");
	th_assert_contains(all, "check quiet-log (phase application, log): expected no "
			"candidate log line matches \"response:200\"; seen");
	th_assert_contains(all, "logged: ");
	th_assert_not_contains(all, "check port (");
	th_assert_not_contains(all, SECRET);
	free(all);

	/* Blue serves on through nginx; the edge still names it. */
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);
	/* The failure is journaled with its details, and alerted. */
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, "--details", NULL), 0);
	th_assert_contains(r.out, "check no-debug (phase security, forbidden)");
	th_assert_contains(r.out, "check selftest (phase integration, command)");
	th_assert_not_contains(r.out, SECRET);
	th_run_release(&r);
	assert_int_equal(access(flag, F_OK), 0);
	free(alerts);
	free(flag);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	bad_image_build();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_checks_pass_then_switch, e2e_teardown),
		cmocka_unit_test_teardown(test_checks_fail_blue_serves, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
