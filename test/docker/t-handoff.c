/*
 * t-handoff: `apply TOKEN` and `rollback SITE --yes` handed to a running
 * watch daemon do not list the containers again (issue 11: "the hand-off
 * should not re-observe what the daemon already knows"). A real daemon on
 * a real engine runs with BLUEGREEN_TRACE=dk,apply: the apply's own trace
 * marks where its observation starts and ends, and every Docker request
 * between the two marks is in the trace. A switch and a rollback whose
 * containers come from the daemon's snapshot make no container request
 * there; the site still switches (the token check is unchanged).
 */
#include "bg.h"
#include "bg-util.h"
#include "daemon-out.h"
#include "e2e.h"

#include <signal.h>
#include <unistd.h>

#define WAIT_MS (60 * 1000)
#define OBS_FROM_SNAP "observe: containers from the daemon's snapshot"
#define OBS_END "observed: "

static struct e2e E;
static char *out_path;
static pid_t pid = -1;

static char *d_text(void)
{
	return dout_text_read(out_path);
}

static size_t d_len(void)
{
	return dout_len_get(out_path);
}

/* Position of needle in the daemon's output at or after from, or -1 after ms. */
static long d_wait(size_t from, const char *needle, int ms)
{
	return dout_needle_wait(out_path, from, needle, ms);
}

static void d_fail(const char *what)
{
	char *t = d_text();
	th_print_error("the daemon printed:\n%s", t);
	free(t);
	fail_msg("%s", what);
}

/*
 * The apply that starts after from observed from the snapshot: its trace
 * says so, and no container is listed or inspected before its observation
 * ends.
 */
static void assert_no_relist(size_t from)
{
	long a = d_wait(from, "observe: containers ", WAIT_MS);
	long b = a < 0 ? -1 : d_wait((size_t)a, OBS_END, WAIT_MS);
	if (a < 0 || b < 0) {
		d_fail("no observation of the handed-off apply in the daemon's trace");
	}
	char *t = d_text();
	t[b] = '\0';
	const char *seg = t + a;
	if (strncmp(seg, OBS_FROM_SNAP, strlen(OBS_FROM_SNAP)) != 0 ||
			strstr(seg, "/containers/")) {
		th_print_error("the apply's observation:\n%s", seg);
		free(t);
		d_fail("the handed-off apply listed or inspected the containers again");
	}
	free(t);
}

/* The daemon has re-listed after an apply and printed where it stands. */
static void wait_settled(size_t from)
{
	long f = d_wait(from, " finished in ", WAIT_MS);
	if (f < 0 || d_wait((size_t)f, "=== plan ", WAIT_MS) < 0) {
		d_fail("the daemon printed no plan after the apply");
	}
}

/* The token of the last plan the daemon printed (a new string). */
static char *last_token(void)
{
	char *t = d_text();
	const char *last = NULL;
	for (const char *p = t; (p = strstr(p, "bluegreen apply ")); p++) {
		last = p;
	}
	char *tok = last ? th_plan_token(last) : NULL;
	free(t);
	assert_non_null(tok);
	return tok;
}

static void t_handoff_uses_snapshot(void **state)
{
	struct th_run r;
	(void)state;
	e2e_init(&E, "handoff", "nginx", "development");
	e2e_site(&E, "bluegreen-test/web:v1", "strategy: {promote: manual}\n");
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	assert_true(e2e_wait_body(&E, E.domain, "v1", WAIT_MS));
	e2e_site(&E, "bluegreen-test/web:v2", "strategy: {promote: manual}\n");

	out_path = bg_xasprintf("%s-daemon.out", E.dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", E.dir, "watch", NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_TRACE=dk,apply", NULL};
	pid = th_spawn_bg(argv, env, out_path);
	if (d_wait(0, "bluegreen apply ", WAIT_MS) < 0) {
		d_fail("no plan from the daemon");
	}

	/* The candidate (green, v2): handed off. */
	char *tok = last_token();
	size_t mark = d_len();
	assert_int_equal(e2e_bg(&E, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);
	if (d_wait(mark, OBS_FROM_SNAP, WAIT_MS) < 0) {
		d_fail("the candidate's apply did not start from the daemon's snapshot");
	}
	wait_settled(mark);

	/* The switch: every container it needs is known; none is listed. */
	tok = last_token();
	mark = d_len();
	assert_int_equal(e2e_bg(&E, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);
	assert_no_relist(mark);
	assert_true(e2e_wait_body(&E, E.domain, "v2", WAIT_MS));
	wait_settled(mark);

	/* The rollback, handed off the same way (the re-list after the switch is done). */
	mark = d_len();
	assert_int_equal(e2e_bg(&E, &r, "rollback", E.site, "--yes", NULL), 0);
	th_run_release(&r);
	assert_no_relist(mark);
	assert_true(e2e_wait_body(&E, E.domain, "v1", WAIT_MS));

	kill(pid, SIGTERM);
	assert_int_equal(th_wait(pid), 0);
	pid = -1;
}

static int teardown(void **state)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		th_wait(pid);
		pid = -1;
	}
	if (out_path) {
		unlink(out_path);
		free(out_path);
		out_path = NULL;
	}
	return e2e_teardown(state);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(t_handoff_uses_snapshot, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
