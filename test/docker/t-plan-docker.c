/*
 * t-plan-docker: `bluegreen plan` and `observe` against a real Docker
 * Engine and nginx (issue 3): the first-deploy plan and its --json fields,
 * the candidate plan after an image change, the switch proposal, drift
 * after `docker stop` and `docker rm`, unmanaged containers ignored (and
 * a name collision blocking, never touched), determinism, snapshot
 * equality (`plan --observed` gives the live token), planning changing
 * nothing, secrets absent from every output, and an unreachable engine.
 *
 * Needs: dockerd, nginx, curl; images from test/images/build.sh.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

static struct json_object *plan_json(struct e2e *e, int *status)
{
	struct th_run r;
	*status = e2e_bg(e, &r, "--json", "plan", NULL);
	struct json_object *j = json_tokener_parse(r.out);
	if (!j) {
		fail_msg("plan --json is not JSON (exit %d): %s\n%s", *status, r.out, r.err);
	}
	th_run_release(&r);
	return j;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	return json_object_get_string(v);
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Everything Docker and the edge dir hold for a site: what "no side effects" compares. */
static char *world(struct e2e *e)
{
	struct th_run r;
	struct bg_buf b = BG_BUF_INIT;
	char *filter = bg_xasprintf("label=io.bluegreen.site=%s", e->site);
	th_docker(&r, "ps", "-a", "--no-trunc", "--filter", filter, "--format",
			"{{.ID}} {{.Names}} {{.State}}", NULL);
	bg_buf_adds(&b, r.out);
	th_run_release(&r);
	th_docker(&r, "network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}", NULL);
	bg_buf_adds(&b, r.out);
	th_run_release(&r);
	th_docker(&r, "volume", "ls", "--format", "{{.Name}}", NULL);
	bg_buf_adds(&b, r.out);
	th_run_release(&r);
	char *conf = bg_xasprintf("%s/nginx/conf.d", e->dir);
	char *argv[] = {"ls", "-la", "--time-style=full-iso", conf, NULL};
	th_run_argv(argv, NULL, &r);
	bg_buf_adds(&b, r.out);
	th_run_release(&r);
	free(conf);
	free(filter);
	return bg_buf_detach(&b, NULL);
}

static void test_first_deploy_plan_json(void **state)
{
	struct e2e e;
	int st;
	e2e_init(&e, "pfirst", "nginx", "production");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	struct json_object *j = plan_json(&e, &st);
	assert_int_equal(st, 2);
	const char *token = jstr(j, "token");
	assert_non_null(token);
	assert_int_equal(strlen(token), 16);
	assert_string_equal(jstr(j, "install_mode"), "production");
	assert_true(json_object_get_int(jget(j, "changes")) >= 5);
	struct json_object *sites = jget(j, "sites");
	assert_int_equal(json_object_array_length(sites), 1);
	struct json_object *s0 = json_object_array_get_idx(sites, 0);
	assert_string_equal(jstr(s0, "site"), e.site);
	assert_null(jstr(s0, "live_before"));
	assert_string_equal(jstr(s0, "live_after"), "blue");
	struct json_object *acts = jget(s0, "actions");
	size_t n = json_object_array_length(acts);
	assert_true(n >= 4);
	bool create = false, sw = false;
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(acts, i);
		assert_non_null(jstr(a, "op"));
		assert_non_null(jstr(a, "kind"));
		assert_non_null(jstr(a, "name"));
		assert_non_null(jstr(a, "reason"));
		char *blue = bg_xasprintf("%s-blue", e.site);
		create |= strcmp(jstr(a, "op"), "create") == 0 && strcmp(jstr(a, "name"), blue) == 0;
		sw |= strcmp(jstr(a, "op"), "switch") == 0 && strcmp(jstr(a, "kind"), "edge") == 0;
		free(blue);
	}
	assert_true(create);
	assert_true(sw);
	struct json_object *audit = jget(j, "audit");
	assert_int_equal(json_object_array_length(jget(audit, "files_written")), 1);
	assert_int_equal(json_object_array_length(jget(audit, "volumes_deleted")), 0);
	/* The text form says the same in words. */
	struct th_run r;
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "first deploy: nothing is live yet");
	th_assert_contains(r.out, "containers started:");
	th_assert_contains(r.out, "bluegreen apply ");
	th_run_release(&r);
	json_object_put(j);
	e2e_release(&e);
}

static void test_plan_changes_nothing(void **state)
{
	struct e2e e;
	e2e_init(&e, "pnoop", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	char *before = world(&e);
	struct th_run r;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
		th_run_release(&r);
		assert_int_equal(e2e_bg(&e, &r, "observe", NULL), 0);
		th_run_release(&r);
	}
	char *after = world(&e);
	assert_string_equal(before, after);
	char *edge = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e.dir, e.site);
	assert_int_not_equal(access(edge, F_OK), 0);
	free(edge);
	free(before);
	free(after);
	e2e_release(&e);
}

static void test_candidate_switch_and_drift(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "pflow", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 0);
	free(tok);

	/* Image change: a candidate in the idle colour, the live one untouched. */
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	char *green = bg_xasprintf("%s-green", e.site);
	char *blue = bg_xasprintf("%s-blue", e.site);
	th_assert_contains(r.out, "live: blue v1; candidate: green");
	th_assert_contains(r.out, green);
	th_assert_contains(r.out, "candidate: v2, image bluegreen-test/web:v2");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.preview, "v2", 3000));
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));

	/* A healthy candidate matching the desired spec: the switch is proposed. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "live: blue v1 -> green v2");
	th_assert_contains(r.out, "switch");
	th_assert_contains(r.out, "re-check before the switch");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));

	/* Drift: the live container stopped outside bluegreen. */
	struct th_run d;
	th_docker(&d, "stop", "-t", "1", green, NULL);
	assert_int_equal(d.status, 0);
	th_run_release(&d);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	char *want = bg_xasprintf("drift: live %s is exited", green);
	th_assert_contains(r.out, want);
	free(want);
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));

	/* Drift: the live container removed outside bluegreen. */
	th_docker(&d, "rm", "-f", green, NULL);
	th_run_release(&d);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "has no containers (removed outside bluegreen)");
	th_assert_contains(r.out, "refresh upstream addresses");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));
	/* The previous colour (v1) was never touched through all of it. */
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "running");
	free(s);
	free(green);
	free(blue);
	e2e_release(&e);
}

static void test_unmanaged_ignored_or_blocking(void **state)
{
	struct e2e e;
	struct th_run r, d;
	int st;
	e2e_init(&e, "punm", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	char *t1 = e2e_plan(&e, &st);

	/* An unlabelled container with another name: invisible to bluegreen. */
	char *other = bg_xasprintf("%s-stranger", e.site);
	th_docker(&d, "run", "-d", "--name", other, "bluegreen-test/web:v1", NULL);
	assert_int_equal(d.status, 0);
	th_run_release(&d);
	char *t2 = e2e_plan(&e, &st);
	assert_string_equal(t1, t2);
	assert_int_equal(e2e_bg(&e, &r, "observe", NULL), 0);
	th_assert_not_contains(r.out, other);
	th_run_release(&r);

	/* An unlabelled container holding one of our names: the site is blocked,
	 * and nothing touches it, not even apply. */
	char *blue = bg_xasprintf("%s-blue", e.site);
	th_docker(&d, "run", "-d", "--name", blue, "bluegreen-test/web:v1", NULL);
	assert_int_equal(d.status, 0);
	th_run_release(&d);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 1);
	char *msg = bg_xasprintf("container '%s' already exists and is not managed", blue);
	th_assert_contains(r.out, msg);
	free(msg);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", t1, NULL), 3);
	th_run_release(&r);
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "running");
	free(s);
	th_docker(&d, "rm", "-f", blue, other, NULL);
	th_run_release(&d);
	free(blue);
	free(other);
	free(t1);
	free(t2);
	e2e_release(&e);
}

static void test_deterministic_and_snapshot(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "psnap", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	e2e_site(&e, "bluegreen-test/web:v2", NULL);

	char *t1 = e2e_plan(&e, &st);
	char *t2 = e2e_plan(&e, &st);
	assert_non_null(t1);
	assert_string_equal(t1, t2);

	assert_int_equal(e2e_bg(&e, &r, "observe", NULL), 0);
	char *snap1 = bg_xstrdup(r.out);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "observe", NULL), 0);
	assert_string_equal(snap1, r.out);
	th_run_release(&r);
	th_write(e.dir, "snapshot.json", snap1);
	char *path = bg_xasprintf("%s/snapshot.json", e.dir);
	assert_int_equal(e2e_bg(&e, &r, "plan", "--observed", path, NULL), 2);
	char *t3 = th_plan_token(r.out);
	th_run_release(&r);
	assert_string_equal(t1, t3);
	/* And the token from the snapshot is accepted by apply on the "server". */
	assert_int_equal(e2e_bg(&e, &r, "apply", t3, NULL), 0);
	th_run_release(&r);
	/* A snapshot that is not one is refused clearly. */
	th_write(e.dir, "bad.json", "{\"bluegreen_observe\": 7}");
	char *bad = bg_xasprintf("%s/bad.json", e.dir);
	assert_int_equal(e2e_bg(&e, &r, "plan", "--observed", bad, NULL), 1);
	th_assert_contains(r.err, "format 7 is not supported");
	th_run_release(&r);
	free(bad);
	free(path);
	free(snap1);
	free(t1);
	free(t2);
	free(t3);
	e2e_release(&e);
}

#define SECRET1 "hunter2-inline-secret"
#define SECRET2 "from-env-file-secret-42"

static void test_no_secrets(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "psec", "nginx", "development");
	th_write(e.dir, "app.env", "DATABASE_URL=postgres://u:" SECRET2 "@db/x\n");
	char *envf = bg_xasprintf("%s/app.env", e.dir);
	chmod(envf, 0600);
	free(envf);
	e2e_site(&e, "bluegreen-test/web:v1",
			"env: {API_TOKEN: " SECRET1 ", MODE: demo}\nenv_file: app.env\n");
	const char *checks[][2] = {{"plan", NULL}, {"--json", "plan"}, {"observe", NULL},
			{"validate", "--explain"}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(checks); i++) {
		e2e_bg(&e, &r, checks[i][0], checks[i][1], NULL);
		th_assert_not_contains(r.out, SECRET1);
		th_assert_not_contains(r.out, SECRET2);
		th_assert_not_contains(r.err, SECRET1);
		th_assert_not_contains(r.err, SECRET2);
		th_run_release(&r);
	}
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	const char *after[][2] = {{"history", NULL}, {"--json", "history"}, {"log", NULL},
			{"status", NULL}, {"--json", "status"}, {"observe", NULL}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(after); i++) {
		e2e_bg(&e, &r, after[i][0], after[i][1], NULL);
		th_assert_not_contains(r.out, SECRET1);
		th_assert_not_contains(r.out, SECRET2);
		th_run_release(&r);
	}
	/* Nor in the raw files of the state dir (LMDB pages, the log). */
	char *statedir = bg_xasprintf("%s/state", e.dir);
	char *argv[] = {"grep", "-r", "-a", "-l", "-e", SECRET1, "-e", SECRET2, statedir, NULL};
	th_run_argv(argv, NULL, &r);
	assert_int_equal(r.status, 1); /* grep: no match */
	th_run_release(&r);
	free(statedir);
	/* The container does get them: that is where they belong. */
	char *blue = bg_xasprintf("%s-blue", e.site);
	th_docker(&r, "inspect", "-f", "{{json .Config.Env}}", blue, NULL);
	th_assert_contains(r.out, "API_TOKEN=" SECRET1);
	th_run_release(&r);
	free(blue);
	e2e_release(&e);
}

static void test_docker_unreachable(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "punr", "traefik", "development");
	e2e_global(&e, "docker: {socket: /tmp/bluegreen-no-such-docker.sock}\n");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 1);
	th_assert_contains(r.err, "/tmp/bluegreen-no-such-docker.sock");
	th_assert_contains(r.err, "cannot reach the Docker engine");
	th_run_release(&r);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_first_deploy_plan_json, e2e_teardown),
		cmocka_unit_test_teardown(test_plan_changes_nothing, e2e_teardown),
		cmocka_unit_test_teardown(test_candidate_switch_and_drift, e2e_teardown),
		cmocka_unit_test_teardown(test_unmanaged_ignored_or_blocking, e2e_teardown),
		cmocka_unit_test_teardown(test_deterministic_and_snapshot, e2e_teardown),
		cmocka_unit_test_teardown(test_no_secrets, e2e_teardown),
		cmocka_unit_test_teardown(test_docker_unreachable, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
