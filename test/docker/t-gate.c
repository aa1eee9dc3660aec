/*
 * t-gate: the health gate fails fast (issue 13). A candidate whose process
 * exits at once (exit 1, restarted by the restart policy bluegreen sets)
 * fails its gate within seconds, not after retries x interval, and the
 * apply says why: the exit code, the restart count and the last lines of
 * its log with the secret values redacted, in the output and in
 * `bluegreen history`. The live colour keeps serving through nginx. A
 * colour that never passed its gate is not a rollback target: after a
 * failed first deploy the next candidate replaces it, nothing calls it
 * "previous" and nothing restarts it; one that kept running (so the next
 * deploy went to the other colour) is older than the live version and
 * still no rollback target: the history says which versions went live.
 *
 * Needs: dockerd, nginx, curl; images from test/images/build.sh, plus the
 * crashing image built here from bluegreen-test/web:v1.
 */
#include "bg.h"
#include "bg-util.h"
#include "e2e.h"

#include <unistd.h>

#define CRASH_IMAGE "bluegreen-test/gate-crash:1"
/* A secret value (its key matches the default redact pattern *PASSWORD*). */
#define SECRET "pw-9f3k-gate-secret"
#define LOG_LINE "gate-test: fatal: cannot reach the database"
/* The gate as the issue tried it: 60 tries, 1 s apart (a minute). */
/*
 * A failing apply (plan, create, start, gate) must end far below the 60 s
 * the tries alone would take (82 s measured before the fix); about 4 s on
 * an idle host, up to 20 s when the shared engine is loaded.
 */
#define FAST_MS 30000
#define SLOW_GATE "health: {path: /healthz, interval: 1s, retries: 60}\n"

/* An image whose process prints two lines (one holding the secret) and exits 1. */
static void crash_image_build(void)
{
	char *dir = th_tmpdir("gate-img");
	th_write(dir, "Dockerfile", "FROM bluegreen-test/web:v1\n"
			"COPY crash.sh /crash.sh\n"
			"CMD [\"/bin/sh\", \"/crash.sh\"]\n");
	th_write(dir, "crash.sh", "echo \"gate-test: starting, password $GATE_DB_PASSWORD\"\n"
			"echo \"" LOG_LINE "\" >&2\n"
			"exit 1\n");
	struct th_run r;
	char *env[] = {"DOCKER_BUILDKIT=0", NULL};
	char *argv[] = {"docker", "build", "-q", "-t", CRASH_IMAGE, dir, NULL};
	int rc = th_run_argv(argv, env, &r);
	if (rc != 0) {
		fail_msg("docker build %s: %s", CRASH_IMAGE, r.err);
	}
	th_run_release(&r);
	th_rm_rf(dir);
	free(dir);
}

static const char *crash_extra(void)
{
	return "env: {GATE_DB_PASSWORD: " SECRET "}\n" SLOW_GATE;
}

/* apply (plan first) and how long it took, in ms. */
static int timed_apply(struct e2e *e, struct th_run *r, int64_t *ms)
{
	int64_t t0 = bg_mono_ms();
	int rc = e2e_plan_apply(e, r);
	*ms = bg_mono_ms() - t0;
	print_message("# the failing apply took %" PRId64 " ms (gate: 60 tries, 1s apart)\n",
			*ms);
	return rc;
}

/* What a failed gate of a crashing candidate must say, and never say. */
static void assert_crash_report(const char *out, const char *colour)
{
	char *who = bg_xasprintf("candidate %s.1", colour);
	th_assert_contains(out, who);
	th_assert_contains(out, "with code 1");
	th_assert_contains(out, "restarted");
	th_assert_contains(out, "last 20 lines");
	th_assert_contains(out, LOG_LINE);
	th_assert_contains(out, "gate-test: starting, password <redacted>");
	th_assert_not_contains(out, SECRET);
	th_assert_not_contains(out, "no address yet");
	free(who);
}

static char *joined(const struct th_run *r)
{
	return bg_xasprintf("%s\n%s", r->out, r->err);
}

/* Live v1 on blue, a crashing candidate: fails fast, v1 keeps serving. */
static void test_crash_fails_fast(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	int64_t ms = 0;
	e2e_init(&e, "gcrash", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));

	e2e_site(&e, CRASH_IMAGE, crash_extra());
	assert_int_equal(timed_apply(&e, &r, &ms), 5);
	char *all = joined(&r);
	th_run_release(&r);
	assert_crash_report(all, "green");
	free(all);
	if (ms >= th_time_limit(FAST_MS)) {
		fail_msg("the gate took %" PRId64 " ms: it did not fail fast", ms);
	}
	/* The live colour serves on, through the edge. */
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);

	/*
	 * The step's history entry holds the log tail, redacted: the table
	 * shows an entry's first line (the reason) and how many more there
	 * are, --details all of them indented under it, --json all of it.
	 */
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "candidate green.1");
	th_assert_contains(r.out, "with code 1");
	th_assert_contains(r.out, "lines: history --details)");
	th_assert_not_contains(r.out, LOG_LINE);
	th_assert_not_contains(r.out, SECRET);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, "--details", NULL), 0);
	th_assert_contains(r.out, "        | " LOG_LINE);
	th_assert_contains(r.out, "gate-test: starting, password <redacted>");
	th_assert_not_contains(r.out, "history --details)");
	th_assert_not_contains(r.out, SECRET);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", "--json", e.site, NULL), 0);
	th_assert_contains(r.out, LOG_LINE);
	th_assert_not_contains(r.out, SECRET);
	th_run_release(&r);

	/* Fixed: the failed green is replaced; blue v1, which was live, is previous. */
	e2e_site(&e, "bluegreen-test/web:v2", "health: {path: /healthz, interval: 200ms}\n");
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "replaced by v");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0); /* the candidate (promote: manual) */
	assert_int_equal(e2e_plan_apply(&e, NULL), 0); /* the switch */
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	assert_int_equal(e2e_bg(&e, &r, "status", e.site, NULL), 0);
	th_assert_contains(r.out, "previous blue v1");
	th_run_release(&r);
	e2e_release(&e);
}

/* A failed first deploy: the never-live colour is replaced, never kept warm. */
static void test_failed_first_deploy_replaced(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	int64_t ms = 0;
	e2e_init(&e, "gfirst", "nginx", "development");
	e2e_site(&e, CRASH_IMAGE, crash_extra());
	assert_int_equal(timed_apply(&e, &r, &ms), 5);
	char *all = joined(&r);
	th_run_release(&r);
	assert_crash_report(all, "blue");
	free(all);
	if (ms >= th_time_limit(FAST_MS)) {
		fail_msg("the first deploy's gate took %" PRId64 " ms", ms);
	}
	char *live = e2e_edge_live(&e);
	assert_null(live);

	/* Fixed: the next candidate takes the failed colour's place. */
	e2e_site(&e, "bluegreen-test/web:v2", "health: {path: /healthz, interval: 200ms}\n");
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	char *green = bg_xasprintf("%s-green", e.site);
	th_assert_not_contains(r.out, "previous");
	th_assert_not_contains(r.out, green);
	th_assert_contains(r.out, "remove");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));

	/* Nothing calls v1 previous, nothing restarts it: it is gone. */
	assert_int_equal(e2e_bg(&e, &r, "status", e.site, NULL), 0);
	th_assert_not_contains(r.out, "previous");
	th_assert_not_contains(r.out, "v1");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 0);
	th_assert_not_contains(r.out, "rollback stays instant");
	th_run_release(&r);
	char *st = e2e_container_state(green);
	assert_string_equal(st, "");
	free(st);
	free(green);
	char *blue = bg_xasprintf("%s-blue", e.site);
	st = e2e_container_state(blue);
	assert_string_equal(st, "running");
	free(st);
	free(blue);
	e2e_release(&e);
}

/*
 * A failed first deploy whose colour runs again (web:bad serves, but
 * never passes /healthz; started by hand after the gate stopped it): the
 * next deploy goes to the other colour and
 * goes live, so the never-live v1 is OLDER than the live v2. It must still
 * not be "previous": status says never-live, the plan does not restart it
 * when it stops, and `rollback SITE` finds no rollback target. (Before the
 * history recorded which versions went live, only a never-live colour
 * newer than live was recognised: this one was called previous, restarted
 * "so a rollback stays instant", and a rollback switched to it.)
 */
static void test_older_never_live_not_previous(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "gold", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:bad", "health: {path: /healthz, interval: 200ms, "
			"retries: 5}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 5);
	char *live = e2e_edge_live(&e);
	assert_null(live);
	char *blue = bg_xasprintf("%s-blue", e.site), *green = bg_xasprintf("%s-green", e.site);
	/*
	 * The gate stopped it. Started again (by hand, or as an older release
	 * left it), a running colour with no edge file is kept, as before, and
	 * the next deploy goes to the other colour.
	 */
	char *st = e2e_container_state(blue);
	assert_string_equal(st, "exited");
	free(st);
	char *start[] = {"docker", "start", blue, NULL};
	assert_int_equal(th_run_argv(start, NULL, &r), 0);
	th_run_release(&r);

	e2e_site(&e, "bluegreen-test/web:v2", "health: {path: /healthz, interval: 200ms}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	live = e2e_edge_live(&e);
	assert_string_equal(live, "green");
	free(live);

	assert_int_equal(e2e_bg(&e, &r, "status", e.site, NULL), 0);
	th_assert_not_contains(r.out, "previous");
	th_assert_contains(r.out, "never-live blue v1");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "versions", e.site, NULL), 0);
	th_assert_not_contains(r.out, "previous");
	th_run_release(&r);

	/* Stopped, it stays stopped: nothing to do, no "rollback stays instant". */
	char *argv[] = {"docker", "stop", "-t", "1", blue, NULL};
	assert_int_equal(th_run_argv(argv, NULL, &r), 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 0);
	th_assert_not_contains(r.out, "rollback stays instant");
	th_assert_not_contains(r.out, "start container");
	th_run_release(&r);
	st = e2e_container_state(blue);
	assert_string_equal(st, "exited");
	free(st);

	/* It is no rollback target; the live colour serves on. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL), 5);
	char *all = joined(&r);
	th_assert_contains(all, "no rollback target");
	th_assert_contains(all, "never went live");
	free(all);
	th_run_release(&r);
	live = e2e_edge_live(&e);
	assert_string_equal(live, "green");
	free(live);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 1000));
	st = e2e_container_state(green);
	assert_string_equal(st, "running");
	free(st);
	free(blue);
	free(green);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	crash_image_build();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crash_fails_fast, e2e_teardown),
		cmocka_unit_test_teardown(test_failed_first_deploy_replaced, e2e_teardown),
		cmocka_unit_test_teardown(test_older_never_live_not_previous, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
