/*
 * t-plan-gate: issue 13's "fail fast, and keep only good colours warm",
 * the pure parts. The planner (from a real configuration and an
 * observation built in code, the fixture style of t-plan.c): after a
 * failed first deploy the next candidate replaces the failed colour and
 * nothing calls it previous; a failed candidate beside the live colour is
 * not restarted "so a rollback stays instant", while the truly previous
 * colour still is. The gate's verdict on a container's run state, the
 * parse of that state from an inspect document, and the log tail it
 * prints: secrets redacted, control characters defused, 20 lines.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "dk-cstate.h"
#include "edge.h"
#include "health.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "th.h"

#include <json-c/json.h>

#define SECRET "s3cr3t-value-never-printed"

static void fx_load(struct pfx *f, const char *image)
{
	const char *refs[] = {"bluegreen-test/web:v1", "bluegreen-test/web:v2"};
	char *sc = bg_xasprintf("site: shop\n"
			"domains: [shop.example.com]\n"
			"image: %s\n"
			"port: 8080\n"
			"env:\n"
			"  DB_PASSWORD: " SECRET "\n", image);
	char *g = pfx_global_conf("development");
	pfx_load(f, "plangate", g, sc, refs, 2);
	free(g);
	free(sc);
	pfx_add_shop_networks(f);
	obs_finish(&f->obs);
}

static void add_colour(struct pfx *f, const char *colour, const char *spec, unsigned version,
		const char *state)
{
	char *name = bg_xasprintf("shop-%s", colour);
	bool up = obs_cstate_parse(state) == OBS_CSTATE_RUNNING;
	struct obs_container *c = pfx_add_container(f, name, "colour", colour, 1, spec, version,
			state, !up ? NULL : strcmp(colour, "blue") == 0 ? "10.0.0.2" : "10.0.0.3");
	c->exit_code = c->state == OBS_CSTATE_EXITED ? 1 : 0;
	free(name);
}

static void add_hist(struct pfx *f, unsigned last, const char *rejected_spec)
{
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = last;
	if (rejected_spec) {
		bg_strv_push(&h->rejected, rejected_spec);
	}
}

#define assert_ops(p, expected) pfx_assert_ops(p, true, expected)

static char *text_of(struct pfx *f, const struct plan *p)
{
	struct bg_buf text = BG_BUF_INIT;
	plan_render_text(p, f->cfg, false, &text);
	return bg_buf_detach(&text, NULL);
}

/* A failed first deploy (blue v1 stopped by its gate, no edge file): v2 replaces it. */
static void test_failed_first_deploy_replaced(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2");
	add_colour(&f, "blue", "failedspec", 1, "exited");
	add_hist(&f, 1, NULL);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"remove container shop-blue\n"
		"create container shop-blue\n"
		"start container shop-blue\n"
		"health container shop-blue\n"
		"switch edge EDGE\n");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_null(ps->live_before);
	assert_string_equal(ps->live_after, "blue");
	assert_int_equal(ps->version_after, 2);
	char *text = text_of(&f, &p);
	th_assert_not_contains(text, "previous");
	th_assert_not_contains(text, "shop-green");
	th_assert_not_contains(text, "green (v");
	th_assert_not_contains(text, SECRET);
	free(text);
	plan_release(&p);
	pfx_release(&f);

	/* Crash-looping (an interrupted apply left it restarting): the same. */
	fx_load(&f, "bluegreen-test/web:v2");
	add_colour(&f, "blue", "failedspec", 1, "restarting");
	add_hist(&f, 1, NULL);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"remove container shop-blue\n"
		"create container shop-blue\n"
		"start container shop-blue\n"
		"health container shop-blue\n"
		"switch edge EDGE\n");
	plan_release(&p);
	pfx_release(&f);

	/* Running with no edge file (the file was lost): kept, as before. */
	fx_load(&f, "bluegreen-test/web:v2");
	add_colour(&f, "blue", "oldspec", 1, "running");
	add_hist(&f, 1, NULL);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"create container shop-green\n"
		"start container shop-green\n"
		"health container shop-green\n"
		"switch edge EDGE\n");
	plan_release(&p);
	pfx_release(&f);
}

/* Live blue v1 is desired; green v2 failed its gate: it is not restarted. */
static void test_failed_candidate_not_kept_warm(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v1");
	char *spec = pfx_spec(&f, -1);
	add_colour(&f, "blue", spec, 1, "running");
	add_colour(&f, "green", "failedspec", 2, "exited");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
	add_hist(&f, 2, NULL);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "");
	assert_int_equal(plan_changes(&p), 0);
	char *text = text_of(&f, &p);
	th_assert_not_contains(text, "rollback stays instant");
	free(text);
	plan_release(&p);
	pfx_release(&f);

	/* The truly previous colour (v1, older, live before) stays warm as today. */
	fx_load(&f, "bluegreen-test/web:v1");
	spec = (free(spec), pfx_spec(&f, -1));
	add_colour(&f, "blue", spec, 2, "running");
	add_colour(&f, "green", "oldspec", 1, "exited");
	pfx_add_edge(&f, "blue", NULL, 2, "10.0.0.2:8080", NULL);
	add_hist(&f, 2, NULL);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "start container shop-green\n");
	th_assert_contains(p.actions[0].reason, "so a rollback stays instant");
	plan_release(&p);
	pfx_release(&f);

	/* A newer version that went live and was rolled back is rejected, not never-live. */
	fx_load(&f, "bluegreen-test/web:v1");
	spec = (free(spec), pfx_spec(&f, -1));
	add_colour(&f, "blue", spec, 1, "running");
	add_colour(&f, "green", "rolledback", 2, "exited");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
	add_hist(&f, 2, "rolledback");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "start container shop-green\n");
	plan_release(&p);
	free(spec);
	pfx_release(&f);
}

/* Live blue v1, green v2 failed, v3 desired: green is replaced, no "rollback" note. */
static void test_next_candidate_replaces_failed(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2");
	add_colour(&f, "blue", "livespec", 1, "running");
	add_colour(&f, "green", "failedspec", 2, "exited");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
	add_hist(&f, 2, NULL);
	pfx_plan_ok(&f, NULL, &p);
	/* No preview host: the candidate is listed in the nginx file, live
	 * unchanged, so that its switch is a flag change (issue 11). */
	assert_ops(&p,
		"remove container shop-green\n"
		"create container shop-green\n"
		"start container shop-green\n"
		"health container shop-green\n"
		"write edge EDGE\n");
	char *text = text_of(&f, &p);
	th_assert_contains(text, "list candidate green (v3) for the switch; blue stays live");
	th_assert_not_contains(text, "previous");
	th_assert_not_contains(text, "rollback to v2");
	free(text);
	plan_release(&p);
	pfx_release(&f);
}

static void test_crash_reason(void **state)
{
	(void)state;
	char *r = health_crash_reason("candidate green.1 (w-green)", OBS_CSTATE_EXITED, 1, 3, 0,
			false);
	assert_string_equal(r, "candidate green.1 (w-green) exited with code 1 (restarted 3 times)");
	free(r);
	r = health_crash_reason("x", OBS_CSTATE_EXITED, 137, 0, 0, true);
	assert_string_equal(r, "x exited with code 137, killed for lack of memory (OOM)");
	free(r);
	r = health_crash_reason("x", OBS_CSTATE_RESTARTING, 1, 1, 0, false);
	assert_string_equal(r, "x keeps restarting: exited with code 1 (restarted 1 time)");
	free(r);
	r = health_crash_reason("x", OBS_CSTATE_DEAD, 2, 0, 0, false);
	th_assert_contains(r, "is dead");
	free(r);
	/* Running: healthy may come; restarts grow past the limit: it will not. */
	assert_null(health_crash_reason("x", OBS_CSTATE_RUNNING, 0, 0, 0, false));
	assert_null(health_crash_reason("x", OBS_CSTATE_RUNNING, 0, 5, 4, false));
	assert_null(health_crash_reason("x", OBS_CSTATE_CREATED, 0, 0, 0, false));
	r = health_crash_reason("x", OBS_CSTATE_RUNNING, 0, 6, 4, false);
	th_assert_contains(r, "keeps restarting: restarted 2 times while the gate ran (6 in all)");
	free(r);
}

static void test_log_tail(void **state)
{
	(void)state;
	struct cfg_env_var v[] = {
		{.key = "A_SECRET", .value = "hunter2", .secret = true},
		{.key = "B_SECRET", .value = "hunter2-long", .secret = true},
		{.key = "MODE", .value = "demo", .secret = false},
		{.key = "EMPTY_SECRET", .value = "", .secret = true},
	};
	struct cfg_env env = {.v = v, .n = 4};
	const char *log = "start demo\r\npw=hunter2 and hunter2-long\n\033[31mred\033[0m\tok\n";
	char *t = health_log_tail(log, strlen(log), &env, 20);
	assert_string_equal(t, "start demo\npw=<redacted> and <redacted>\n?[31mred?[0m\tok");
	free(t);
	/* The last lines only; a secret cut by nothing shows nowhere. */
	struct bg_buf b = BG_BUF_INIT;
	for (int i = 1; i <= 30; i++) {
		bg_buf_addf(&b, "line %d hunter2\n", i);
	}
	t = health_log_tail(b.data, b.len, &env, 20);
	assert_int_equal(th_count(t, "\n"), 19);
	assert_true(strncmp(t, "line 11 <redacted>\n", 19) == 0);
	th_assert_contains(t, "line 30 <redacted>");
	th_assert_not_contains(t, "hunter2");
	free(t);
	bg_buf_release(&b);
	t = health_log_tail(NULL, 0, &env, 20);
	assert_string_equal(t, "");
	free(t);
	t = health_log_tail("a\nb\n", 4, NULL, 1);
	assert_string_equal(t, "b");
	free(t);
}

static void test_parse_cstate(void **state)
{
	(void)state;
	struct dk_cstate st;
	struct json_object *j = json_tokener_parse("{\"RestartCount\": 3, \"State\": "
			"{\"Status\": \"restarting\", \"ExitCode\": 1, \"OOMKilled\": false, "
			"\"Error\": \"\"}}");
	assert_int_equal(dk_parse_cstate(j, &st, NULL), 0);
	assert_int_equal(st.state, OBS_CSTATE_RESTARTING);
	assert_int_equal(st.exit_code, 1);
	assert_int_equal(st.restart_count, 3);
	assert_false(st.oom_killed);
	assert_string_equal(st.error, "");
	json_object_put(j);
	j = json_tokener_parse("{\"State\": {\"Status\": \"exited\", \"ExitCode\": 137, "
			"\"OOMKilled\": true, \"Error\": \"boom\"}}");
	assert_int_equal(dk_parse_cstate(j, &st, NULL), 0);
	assert_int_equal(st.state, OBS_CSTATE_EXITED);
	assert_int_equal(st.restart_count, 0);
	assert_true(st.oom_killed);
	assert_string_equal(st.error, "boom");
	json_object_put(j);
	j = json_tokener_parse("{\"State\": {}}");
	assert_int_equal(dk_parse_cstate(j, &st, NULL), BG_EPARSE);
	json_object_put(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_first_deploy_replaced),
		cmocka_unit_test(test_failed_candidate_not_kept_warm),
		cmocka_unit_test(test_next_candidate_replaces_failed),
		cmocka_unit_test(test_crash_reason),
		cmocka_unit_test(test_log_tail),
		cmocka_unit_test(test_parse_cstate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
