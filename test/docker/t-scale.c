/*
 * t-scale: issue 13's scale end to end, against a real engine and nginx.
 * A site goes live with one replica; `replicas: 3` is then planned (the
 * plan says it scales the live colour, no switch) and applied while a
 * load loop sends requests through nginx: none fails, three replicas run
 * (docker ps), the edge names three upstreams, the live colour is the
 * same, no switch is journaled, there is still one version, status shows
 * 3/3 and the next plan is empty. Then back to `replicas: 1` under load:
 * the edge drops the extras before they drain and stop, none fails, one
 * replica runs, the plan is empty again. A scale whose gate fails stops
 * only the new replicas and leaves the edge as it was.
 *
 * Needs: dockerd, nginx; images from test/images/build.sh.
 */
#include "bg.h"
#include "e2e.h"
#include "e2e-load.h"

#include <json-c/json.h>
#include <unistd.h>

#define STRAT "strategy: {promote: auto, drain: 2s}\n"

/* Running colour containers of the site, as `docker ps` lists them. */
static size_t running_replicas(struct e2e *e)
{
	struct th_run r;
	char *site = bg_xasprintf("label=io.bluegreen.site=%s", e->site);
	char *argv[] = {"docker", "ps", "-q", "--filter", site, "--filter",
			"label=io.bluegreen.role=colour", NULL};
	assert_int_equal(th_run_argv(argv, NULL, &r), 0);
	size_t n = th_count(r.out, "\n");
	th_run_release(&r);
	free(site);
	return n;
}

/*
 * Upstream servers of the live colour in the site's nginx file: its own
 * upstream (`bluegreen_SITE_COLOUR`) when the file lists both colours for
 * the switch by flag (issue 11), else the fixed `_live` one (a file whose
 * flags nginx's workers cannot reach).
 */
static size_t edge_servers(struct e2e *e, const char *live)
{
	char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
	char *data = NULL;
	assert_int_equal(bg_file_read(path, 1 << 20, &data, NULL), 0);
	/* The live upstream block only (a preview block may name the same servers). */
	char *want = bg_xasprintf("_%s {", live);
	char *block = strstr(data, want);
	free(want);
	if (!block) {
		block = strstr(data, "_live {");
	}
	if (!block) {
		fail_msg("no upstream of the live colour %s in %s:\n%s", live, path, data);
	}
	char *end = strchr(block, '}');
	assert_non_null(end);
	*end = '\0';
	size_t n = th_count(block, "\tserver ");
	free(data);
	free(path);
	return n;
}

/* How many switches the history journaled for the site. */
static size_t switches(struct e2e *e)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "--json", "history", e->site, NULL), 0);
	size_t n = th_count(r.out, "\"action\": \"switch\"") + th_count(r.out, "\"action\":\"switch\"");
	th_run_release(&r);
	return n;
}

/* Step line first appears before step line second in the apply's output. */
static void steps_in_order(const char *out, const char *first, const char *second)
{
	const char *a = strstr(out, first), *b = strstr(out, second);
	if (!a || !b || a > b) {
		fail_msg("expected \"%s\" before \"%s\" in the apply's steps:\n%s", first, second,
				out);
	}
}

/* plan (exit 2) says it scales the live colour from..to without a switch; apply under load. */
static void scale_under_load(struct e2e *e, const char *live, unsigned from, unsigned to)
{
	struct th_run r;
	char *want = bg_xasprintf("scale live %s (v1) from %u to %u replica%s, no switch", live,
			from, to, to == 1 ? "" : "s");
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, want);
	th_run_release(&r);
	free(want);

	static const char *const v1[] = {"v1", NULL};
	struct e2e_load *l = e2e_load_start(e, e->domain, v1);
	usleep(300 * 1000);
	int rc = e2e_plan_apply(e, &r);
	usleep(500 * 1000);
	struct e2e_load_result lr = e2e_load_stop(l);
	if (rc != 0) {
		fail_msg("apply (scale %u -> %u) exited %d:\n%s\n%s", from, to, rc, r.err, r.out);
	}
	char *what = bg_xasprintf("scale %u -> %u", from, to);
	e2e_load_assert(&lr, what);
	free(what);
	/* The order the steps ran in (their "[i/n] op kind name" lines): new replicas
	 * are gated before the edge names them; extras leave the edge before they stop. */
	char *extra = bg_xasprintf("] remove container %s-%s-%u", e->site, live, from > to ? from : to);
	if (from < to) {
		steps_in_order(r.out, "] health container ", "] write edge ");
		th_assert_not_contains(r.out, "] remove container ");
	} else {
		steps_in_order(r.out, "] write edge ", "] drain container ");
		steps_in_order(r.out, "] drain container ", extra);
		th_assert_not_contains(r.out, "] create container ");
	}
	th_assert_not_contains(r.out, "] switch edge ");
	free(extra);
	th_run_release(&r);
}

/* After a scale: same live colour, n replicas running and in the edge, nothing to plan. */
static void check_scaled(struct e2e *e, const char *live, size_t n, size_t switched)
{
	struct th_run r;
	char *now = e2e_edge_live(e);
	assert_non_null(now);
	assert_string_equal(now, live);
	free(now);
	assert_int_equal(running_replicas(e), n);
	assert_int_equal(edge_servers(e, live), n);
	assert_int_equal(switches(e), switched);
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 0);
	/* (Notes about other installations' sites on this host may mention removals.) */
	char *none = bg_xasprintf("live: %s v1; no changes", live);
	th_assert_contains(r.out, none);
	th_assert_contains(r.out, " 0 changes");
	free(none);
	th_run_release(&r);
	assert_int_equal(e2e_bg(e, &r, "status", e->site, NULL), 0);
	char *count = bg_xasprintf("(%zu/%zu)", n, n);
	th_assert_contains(r.out, count);
	free(count);
	/* In sync: the scaled colour is the desired one, not "v2 not live yet". */
	th_assert_not_contains(r.out, "not live yet");
	th_run_release(&r);
	assert_int_equal(e2e_bg(e, &r, "--json", "status", e->site, NULL), 0);
	th_assert_contains(r.out, "\"in_sync\": true");
	th_assert_contains(r.out, "\"desired_version\": 1");
	th_run_release(&r);
	/* A scale is no new version. */
	assert_int_equal(e2e_bg(e, &r, "--json", "versions", e->site, NULL), 0);
	struct json_object *root = json_tokener_parse(r.out), *a = NULL;
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "versions", &a));
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(root);
	th_run_release(&r);
}

static void test_scale_1_3_1_under_load(void **state)
{
	struct e2e e;

	e2e_init(&e, "scale", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", STRAT);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 10000));
	char *live = e2e_edge_live(&e);
	assert_non_null(live);
	size_t switched = switches(&e);
	assert_int_equal(switched, 1); /* the first deploy */
	assert_int_equal(running_replicas(&e), 1);

	e2e_site(&e, "bluegreen-test/web:v1", STRAT "replicas: 3\n");
	scale_under_load(&e, live, 1, 3);
	check_scaled(&e, live, 3, switched);

	e2e_site(&e, "bluegreen-test/web:v1", STRAT "replicas: 1\n");
	scale_under_load(&e, live, 3, 1);
	check_scaled(&e, live, 1, switched);
	free(live);
	e2e_release(&e);
}

/* The container's state as docker inspect says ("" when absent). */
static void assert_state(const char *name, const char *want)
{
	char *st = e2e_container_state(name);
	if (strcmp(st, want) != 0) {
		fail_msg("%s is '%s', expected '%s'", name, st, want);
	}
	free(st);
}

/*
 * A scale up whose gate fails (the new health path answers 404 everywhere):
 * the apply fails, the new replicas are stopped and never named by the
 * edge, the serving replica is left running; with the path fixed, the next
 * plan starts and gates them, then writes the edge.
 */
static void test_failed_scale_gate(void **state)
{
	struct e2e e;
	struct th_run r;

	e2e_init(&e, "scalefail", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", STRAT);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 10000));
	char *live = e2e_edge_live(&e);
	assert_non_null(live);
	char *r1 = bg_xasprintf("%s-%s", e.site, live);
	char *r2 = bg_xasprintf("%s-%s-2", e.site, live);
	char *r3 = bg_xasprintf("%s-%s-3", e.site, live);

	e2e_site(&e, "bluegreen-test/web:v1", STRAT "replicas: 3\n"
			"health: {path: /no-such-page, retries: 2, interval: 500ms}\n");
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "from 1 to 3 replicas, no switch");
	th_run_release(&r);
	int rc = e2e_plan_apply(&e, &r);
	if (rc == 0) {
		fail_msg("the scale's gate passed on a 404 path:\n%s", r.out);
	}
	th_run_release(&r);
	assert_state(r1, "running");
	assert_state(r2, "exited");
	assert_state(r3, "exited");
	assert_int_equal(edge_servers(&e, live), 1);
	char *body = NULL;
	assert_int_equal(e2e_get(&e, e.domain, &body), 200);
	assert_string_equal(body, "v1");
	free(body);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "failed the health gate and were stopped");
	th_run_release(&r);

	e2e_site(&e, "bluegreen-test/web:v1", STRAT "replicas: 3\n");
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	steps_in_order(r.out, "] start container ", "] health container ");
	steps_in_order(r.out, "] health container ", "] write edge ");
	th_run_release(&r);
	assert_int_equal(running_replicas(&e), 3);
	assert_int_equal(edge_servers(&e, live), 3);
	free(r1);
	free(r2);
	free(r3);
	free(live);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_scale_1_3_1_under_load, e2e_teardown),
		cmocka_unit_test_teardown(test_failed_scale_gate, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
