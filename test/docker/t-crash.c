/*
 * t-crash: a SIGKILL at every step of every apply beyond the first deploy
 * (t-apply kills the first deploy at each of its steps): the candidate
 * apply, the switch, and `rollback --yes`. BLUEGREEN_FAULT=kill-during:N
 * kills the converger after step N's intent is journaled, before the step
 * runs; kill-after:N after its result is journaled (docs/testing.md). So
 * the switch is killed both before and after its edge step writes the
 * file. Each time:
 *
 *   - the history opens (`status` and `history` exit 0) and holds the
 *     killed apply's start;
 *   - the interruption is reported by the next command;
 *   - the live colour `status` shows is the one the edge file names, and
 *     nginx serves that colour's version;
 *   - the next plan finishes the job: the candidate ends healthy (the plan
 *     then proposes its switch), the switch ends with v2 live, the rollback
 *     ends with v1 live and v2 rejected (not proposed again).
 *
 * Needs: dockerd, nginx, curl; images from test/images/build.sh.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <json-c/json.h>
#include <signal.h>
#include <unistd.h>

enum phase { PH_CANDIDATE, PH_SWITCH, PH_ROLLBACK };
static const char *const phase_names[] = {"candidate", "switch", "rollback"};

/* The state each phase starts from, made by real applies. */
static void prepare(struct e2e *e, enum phase ph)
{
	e2e_reset_site(e);
	e2e_site(e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(e, NULL), 0);
	e2e_site(e, "bluegreen-test/web:v2", NULL);
	if (ph == PH_CANDIDATE) {
		return;
	}
	assert_int_equal(e2e_plan_apply(e, NULL), 0); /* candidate */
	if (ph == PH_SWITCH) {
		return;
	}
	assert_int_equal(e2e_plan_apply(e, NULL), 0); /* switch: v2 live */
	assert_true(e2e_wait_body(e, e->domain, "v2", 3000));
}

/*
 * The phase's plan as JSON (`plan --json`, or `rollback SITE --json`): its
 * number of steps and the 1-based step of the edge write (0: none).
 */
static int phase_steps(struct e2e *e, enum phase ph, int *edge_step)
{
	struct th_run r;
	int st = ph == PH_ROLLBACK ? e2e_bg(e, &r, "--json", "rollback", e->site, NULL)
				   : e2e_bg(e, &r, "--json", "plan", NULL);
	assert_int_equal(st, 2);
	struct json_object *j = json_tokener_parse(r.out);
	if (!j) {
		fail_msg("not JSON: %s\n%s", r.out, r.err);
	}
	struct json_object *sites = NULL, *acts = NULL, *changes = NULL;
	assert_true(json_object_object_get_ex(j, "changes", &changes));
	assert_true(json_object_object_get_ex(j, "sites", &sites));
	int n = json_object_get_int(changes);
	int k = 0;
	*edge_step = 0;
	for (size_t i = 0; i < json_object_array_length(sites); i++) {
		struct json_object *s = json_object_array_get_idx(sites, i);
		assert_true(json_object_object_get_ex(s, "actions", &acts));
		for (size_t a = 0; a < json_object_array_length(acts); a++) {
			struct json_object *act = json_object_array_get_idx(acts, a), *kind = NULL;
			k++;
			if (json_object_object_get_ex(act, "kind", &kind) &&
					strcmp(json_object_get_string(kind), "edge") == 0 && !*edge_step) {
				*edge_step = k;
			}
		}
	}
	/* Every change is one of our site's actions: the step numbers are theirs. */
	assert_int_equal(k, n);
	json_object_put(j);
	th_run_release(&r);
	return n;
}

/* After the kill: the history opens, the interruption is reported, live = edge file. */
static char *check_after_kill(struct e2e *e, enum phase ph, const char *token)
{
	struct th_run r;
	char *live = e2e_assert_interrupted(e);
	assert_int_equal(e2e_bg(e, &r, "history", NULL), 0);
	th_assert_contains(r.out, "started");
	if (token) {
		th_assert_contains(r.out, token);
	} else {
		th_assert_contains(r.out, "rollback");
	}
	th_run_release(&r);
	/* What nginx serves is what the edge file says. */
	assert_non_null(live);
	const char *want = strcmp(live, "blue") == 0 ? "v1" : "v2";
	if (!e2e_wait_body(e, e->domain, want, 3000)) {
		fail_msg("%s: the edge file says %s but %s does not serve %s", phase_names[ph],
				live, e->domain, want);
	}
	return live;
}

/*
 * Where the job did not end as it should, for the report: every step is
 * still killed and checked, and the test fails at the end listing them all.
 */
static struct bg_buf unfinished = BG_BUF_INIT;

/* The next plan(s) finish the job the killed apply had. */
static void finish_the_job(struct e2e *e, enum phase ph, const char *live_after_kill,
		const char *when, int step)
{
	struct th_run r;
	int st;
	for (int round = 0;; round++) {
		assert_true(round < 3);
		st = e2e_bg(e, &r, "plan", NULL);
		bool switch_proposed = strstr(r.out, "live: blue v1 -> green v2") != NULL;
		char *tok = th_plan_token(r.out);
		if (st == 0 || (ph == PH_CANDIDATE && switch_proposed)) {
			th_run_release(&r);
			free(tok);
			break;
		}
		bool v2_back = strstr(r.out, "-> green v2") != NULL;
		if (st != 2 || (ph == PH_ROLLBACK && v2_back)) {
			/* A rollback is never "finished" by a plan putting v2 back. */
			th_print_error("%s: plan exited %d after the kill (edge said %s):\n%s%s\n",
					phase_names[ph], st, live_after_kill, r.out, r.err);
			fail_msg("%s: the next plan does not finish the job", phase_names[ph]);
		}
		th_run_release(&r);
		assert_int_equal(e2e_bg(e, &r, "apply", tok, NULL), 0);
		th_run_release(&r);
		free(tok);
	}
	switch (ph) {
	case PH_CANDIDATE:
		/*
		 * The candidate's job, done: it is healthy (the plan proposes its
		 * switch), on the preview host (promote: manual: the operator
		 * looks at it there before switching), and v1 is still live.
		 */
		assert_int_equal(st, 2);
		assert_true(e2e_wait_body(e, e->domain, "v1", 3000));
		if (!e2e_wait_body(e, e->preview, "v2", 3000)) {
			char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
			char *edge = th_read(path);
			const char *pv = strstr(edge, "# bluegreen-preview: ");
			bg_buf_addf(&unfinished, "  candidate killed %s:%d: the next plan proposes the "
					"switch, but the preview host does not serve the candidate v2 "
					"(edge file: %.*s)\n", when, step,
					pv ? (int)strcspn(pv, "\n") : 9, pv ? pv : "no preview");
			free(edge);
			free(path);
		}
		break;
	case PH_SWITCH:
		assert_true(e2e_wait_body(e, e->domain, "v2", 3000));
		break;
	case PH_ROLLBACK:
		if (strcmp(live_after_kill, "green") == 0) {
			/* Killed before the edge changed: nothing happened; do it again. */
			assert_int_equal(e2e_bg(e, &r, "rollback", e->site, "--yes", NULL), 0);
			th_run_release(&r);
			char *t = e2e_plan(e, &st);
			free(t);
			assert_int_equal(st, 0);
		}
		assert_true(e2e_wait_body(e, e->domain, "v1", 3000));
		assert_int_equal(e2e_bg(e, &r, "status", NULL), 0);
		th_assert_contains(r.out, "rejected green v2");
		th_run_release(&r);
		break;
	}
	/* And the history holds the interruption. */
	assert_int_equal(e2e_bg(e, &r, "history", NULL), 0);
	th_assert_contains(r.out, "interrupted");
	th_run_release(&r);
}

static void kill_at(struct e2e *e, enum phase ph, const char *when, int step)
{
	struct th_run r;
	int st;
	prepare(e, ph);
	char *tok = NULL;
	char *fault = bg_xasprintf("BLUEGREEN_FAULT=%s:%d", when, step);
	char *env[] = {fault, "NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	if (ph == PH_ROLLBACK) {
		char *argv[] = {getenv("BG_BINARY"), "-c", e->dir, "rollback", e->site, "--yes", NULL};
		th_run_argv(argv, env, &r);
	} else {
		tok = e2e_plan(e, &st);
		assert_int_equal(st, 2);
		char *argv[] = {getenv("BG_BINARY"), "-c", e->dir, "apply", tok, NULL};
		th_run_argv(argv, env, &r);
	}
	if (r.status != 128 + SIGKILL) {
		th_print_error("%s %s:%d: exited %d, not killed:\n%s%s\n", phase_names[ph], when, step,
				r.status, r.out, r.err);
	}
	assert_int_equal(r.status, 128 + SIGKILL);
	th_run_release(&r);
	char *live = check_after_kill(e, ph, tok);
	finish_the_job(e, ph, live, when, step);
	print_message("# %s killed %s step %d: edge said %s; recovered\n", phase_names[ph], when,
			step, live);
	free(live);
	free(fault);
	free(tok);
}

static void kill_every_step(enum phase ph, const char *tag)
{
	struct e2e e;
	int edge_step = 0;
	e2e_init(&e, tag, "nginx", "development");
	prepare(&e, ph);
	int n = phase_steps(&e, ph, &edge_step);
	print_message("# %s: %d steps, the edge write is step %d\n", phase_names[ph], n,
			edge_step);
	assert_true(n >= 1);
	if (ph != PH_CANDIDATE) {
		/* The switch and the rollback are edge changes: that step is killed too. */
		assert_true(edge_step >= 1);
	}
	bg_buf_release(&unfinished);
	for (int k = 1; k <= n; k++) {
		kill_at(&e, ph, "kill-during", k);
		kill_at(&e, ph, "kill-after", k);
	}
	e2e_release(&e);
	if (unfinished.len) {
		th_print_error("%s: the next plan did not finish the job:\n%s", phase_names[ph],
				unfinished.data);
		bg_buf_release(&unfinished);
		fail_msg("%s: interrupted applies not finished by the next plan", phase_names[ph]);
	}
}

static void test_kill_candidate(void **state)
{
	kill_every_step(PH_CANDIDATE, "kcand");
}

static void test_kill_switch(void **state)
{
	kill_every_step(PH_SWITCH, "kswitch");
}

static void test_kill_rollback(void **state)
{
	kill_every_step(PH_ROLLBACK, "krb");
}

int main(void)
{
#ifndef BG_FAULT_INJECTION
	/* Every test here kills apply at its kill points: a test build only. */
	if (th_ci()) {
		printf("Bail out! built without -Dfault_injection=true: nothing can be killed\n");
		return 1;
	}
	printf("1..0 # SKIP built without -Dfault_injection=true (BLUEGREEN_FAULT is ignored)\n");
	return 0;
#endif
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kill_candidate, e2e_teardown),
		cmocka_unit_test_teardown(test_kill_switch, e2e_teardown),
		cmocka_unit_test_teardown(test_kill_rollback, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
