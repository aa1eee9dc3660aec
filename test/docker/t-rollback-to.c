/*
 * t-rollback-to: `bluegreen rollback SITE --to VERSION` and `bluegreen
 * versions SITE` end to end (issue 13), against a real engine and nginx.
 * Three versions (bluegreen-test/web:v1, v2, v3, each answering its
 * version) are deployed in turn; `versions` lists the three with their
 * live times, v3 live and v2 the warm previous; --to of the live version
 * and of an unknown one are refused with exit 1; then `rollback --to 1
 * --yes`, two versions back, runs while a load loop sends requests through
 * nginx: none fails, and the site answers v1. Afterwards v3 stays warm as
 * the previous colour, and the next plan does not propose v3 again (it
 * was rolled back) while the configuration still names it.
 * Then a version whose image is gone: its build was pushed to a private
 * registry (Debian's docker-registry on 127.0.0.1), deployed, and removed
 * locally; `versions` shows the digest kept when it went live and
 * "pullable", and rollback --to pulls that digest and serves it again.
 *
 * Needs: dockerd, nginx, curl; images from test/images/build.sh.
 */
#include "bg.h"
#include "e2e.h"
#include "e2e-load.h"

#include <json-c/json.h>
#include <signal.h>
#include <unistd.h>

#define STRAT "strategy: {promote: auto}\n"

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* `versions SITE --json`: the "versions" array (the caller puts the root). */
static struct json_object *versions_json(struct e2e *e, struct json_object **root)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "--json", "versions", e->site, NULL), 0);
	*root = json_tokener_parse(r.out);
	if (!*root) {
		fail_msg("versions --json is not JSON: %s", r.out);
	}
	th_run_release(&r);
	struct json_object *a = jget(*root, "versions");
	assert_true(a && json_object_is_type(a, json_type_array));
	return a;
}

/* The entry of version v (newest first: index last - v). */
static struct json_object *ver(struct json_object *a, int v)
{
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		if (json_object_get_int(jget(o, "version")) == v) {
			return o;
		}
	}
	fail_msg("versions has no v%d", v);
	return NULL;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v = jget(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool jtrue(struct json_object *o, const char *k)
{
	return json_object_get_boolean(jget(o, k));
}

/* After v1, v2, v3: three versions, their live times in order, v3 live, v2 warm. */
static void check_versions_before(struct e2e *e)
{
	struct json_object *root;
	struct json_object *a = versions_json(e, &root);
	assert_int_equal(json_object_array_length(a), 3);
	struct json_object *v1 = ver(a, 1), *v2 = ver(a, 2), *v3 = ver(a, 3);
	assert_string_equal(jstr(v1, "image"), "bluegreen-test/web:v1");
	assert_string_equal(jstr(v3, "image"), "bluegreen-test/web:v3");
	assert_true(bg_str_has_prefix(jstr(v1, "image_id"), "sha256:"));
	assert_true(jtrue(v3, "live_now") && !jtrue(v2, "live_now") && !jtrue(v1, "live_now"));
	assert_true(jtrue(v2, "previous") && !jtrue(v1, "previous") && !jtrue(v3, "previous"));
	/* ISO 8601 UTC strings compare in time order. */
	const char *f1 = jstr(v1, "first_live"), *l1 = jstr(v1, "last_live");
	const char *f2 = jstr(v2, "first_live"), *l2 = jstr(v2, "last_live");
	const char *f3 = jstr(v3, "first_live");
	assert_true(f1 && l1 && f2 && l2 && f3);
	assert_null(jstr(v3, "last_live"));
	assert_true(strcmp(f1, l1) <= 0 && strcmp(l1, f2) <= 0 && strcmp(f2, l2) <= 0 &&
			strcmp(l2, f3) <= 0);
	assert_string_equal(jstr(v1, "restore"), "present");
	assert_string_equal(jstr(v3, "restore"), "live");
	json_object_put(root);
}

static void test_rollback_to_two_back_under_load(void **state)
{
	struct e2e e;
	struct th_run r;
	char *body = NULL;

	e2e_init(&e, "rbto", "nginx", "development");
	static const char *const images[] = {"bluegreen-test/web:v1", "bluegreen-test/web:v2",
			"bluegreen-test/web:v3"};
	for (size_t i = 0; i < 3; i++) {
		e2e_site(&e, images[i], STRAT);
		assert_int_equal(e2e_plan_apply(&e, NULL), 0);
		char want[4];
		snprintf(want, sizeof(want), "v%zu", i + 1);
		assert_true(e2e_wait_body(&e, e.domain, want, 10000));
		sleep(1); /* live times at second resolution: keep them apart */
	}
	check_versions_before(&e);
	/* The text form: a header and one line per version. */
	assert_int_equal(e2e_bg(&e, &r, "versions", e.site, NULL), 0);
	th_assert_contains(r.out, "VERSION");
	assert_int_equal(th_count(r.out, "\n"), 4);
	th_run_release(&r);

	/* The live version, an unknown one: exit 1 and why. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--to", "3", NULL), 1);
	th_assert_contains(r.out, "v3 is live already");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--to", "9", NULL), 1);
	th_assert_contains(r.err, "has no version 9");
	th_run_release(&r);

	/* The plan: a new candidate of v1 in the idle colour, gated, then the switch. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--to", "1", NULL), 2);
	th_assert_contains(r.out, "rollback --to 1: v1, image bluegreen-test/web:v1 (id sha256:");
	th_assert_contains(r.out, "marked rejected");
	th_run_release(&r);

	static const char *const v1_or_v3[] = {"v1", "v3", NULL};
	struct e2e_load *l = e2e_load_start(&e, e.domain, v1_or_v3);
	usleep(300 * 1000);
	int rc = e2e_bg(&e, &r, "rollback", e.site, "--to", "1", "--yes", NULL);
	usleep(500 * 1000);
	struct e2e_load_result lr = e2e_load_stop(l);
	if (rc != 0) {
		fail_msg("rollback --to 1 --yes exited %d:\n%s\n%s", rc, r.err, r.out);
	}
	th_run_release(&r);
	e2e_load_assert(&lr, "rollback --to 1");
	assert_int_equal(e2e_get(&e, e.domain, &body), 200);
	assert_string_equal(body, "v1");
	free(body);

	/* v1 live (the same version number: same spec), v3 the warm previous. */
	struct json_object *root;
	struct json_object *a = versions_json(&e, &root);
	assert_int_equal(json_object_array_length(a), 3);
	assert_true(jtrue(ver(a, 1), "live_now") && jtrue(ver(a, 3), "previous"));
	assert_non_null(jstr(ver(a, 3), "last_live"));
	json_object_put(root);

	/* The configuration still says v3: the next plan keeps v1 and says why. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 0);
	th_assert_contains(r.out, "was rolled back");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "v3 marked rejected");
	th_run_release(&r);
	e2e_release(&e);
}

/* ---- rollback --to pulls a gone image back by its registry digest ---- */

#define REGISTRY "/usr/bin/docker-registry"

/* The registry this test started, stopped by the teardown even when an assertion failed. */
static pid_t registry_pid;

static int registry_teardown(void **state)
{
	if (registry_pid > 0) {
		kill(registry_pid, SIGTERM);
		th_wait(registry_pid);
		registry_pid = 0;
	}
	return e2e_teardown(state);
}

/* A private registry (Debian's docker-registry) on 127.0.0.1:*port, serving dir. */
static pid_t registry_start(const char *dir, int *port)
{
	*port = th_free_port();
	char *cfg = bg_xasprintf("version: 0.1\nlog: {level: error}\n"
			"storage: {filesystem: {rootdirectory: %s/data}, delete: {enabled: true}}\n"
			"http: {addr: 127.0.0.1:%d}\n", dir, *port);
	th_write(dir, "config.yml", cfg);
	free(cfg);
	char *path = bg_xasprintf("%s/config.yml", dir), *log = bg_xasprintf("%s/log", dir);
	char *argv[] = {REGISTRY, "serve", path, NULL};
	pid_t pid = th_spawn_bg(argv, NULL, log);
	char *url = bg_xasprintf("http://127.0.0.1:%d/v2/", *port);
	bool up = false;
	for (int i = 0; i < 100 && !up && th_running(pid, NULL); i++) {
		char *body = NULL;
		up = th_http_get(url, &body) == 200;
		free(body);
		if (!up) {
			usleep(100 * 1000);
		}
	}
	if (!up) {
		fail_msg("the registry did not answer on %s (log: %s)", url, log);
	}
	free(url);
	free(path);
	free(log);
	return pid;
}

static void docker_ok(char *const argv[])
{
	struct th_run r;
	char *env[] = {"DOCKER_BUILDKIT=0", NULL};
	if (th_run_argv(argv, env, &r) != 0) {
		fail_msg("%s %s: %s%s", argv[0], argv[1], r.err, r.out);
	}
	th_run_release(&r);
}

/* A build of web:v1 with an id of its own (a label), tagged ref, pushed to the registry. */
static void image_push(const char *ref, const char *site)
{
	char *dir = th_tmpdir("rbto-img");
	char *df = bg_xasprintf("FROM bluegreen-test/web:v1\nLABEL bluegreen-test.unique=%s\n",
			site);
	th_write(dir, "Dockerfile", df);
	free(df);
	char *build[] = {"docker", "build", "-q", "-t", (char *)ref, dir, NULL};
	docker_ok(build);
	char *push[] = {"docker", "push", "-q", (char *)ref, NULL};
	docker_ok(push);
	th_rm_rf(dir);
	free(dir);
}

static void test_rollback_to_pulls_by_digest(void **state)
{
	struct e2e e;
	struct th_run r;
	int port = 0;
	(void)state;

	if (access(REGISTRY, X_OK) != 0) {
		print_message("# %s is not installed (apt-get install docker-registry)\n", REGISTRY);
		assert_false(th_ci()); /* CI never skips: run.sh installs it */
		skip();
	}
	e2e_init(&e, "rbpull", "nginx", "development");
	char *rdir = th_tmpdir("rbto-reg");
	registry_pid = registry_start(rdir, &port);
	char *repo = bg_xasprintf("127.0.0.1:%d/%s-web", port, e.site);
	char *ref = bg_xasprintf("%s:v1", repo);
	image_push(ref, e.site);

	static const char *const later[] = {"bluegreen-test/web:v2", "bluegreen-test/web:v3"};
	e2e_site(&e, ref, STRAT);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 10000));
	for (size_t i = 0; i < 2; i++) {
		e2e_site(&e, later[i], STRAT);
		assert_int_equal(e2e_plan_apply(&e, NULL), 0);
		assert_true(e2e_wait_body(&e, e.domain, i ? "v3" : "v2", 10000));
	}

	/* The switch to v1 kept its digest; a local build (v2) has none. */
	struct json_object *root;
	struct json_object *a = versions_json(&e, &root);
	const char *dg = jstr(ver(a, 1), "digest");
	char *want = bg_xasprintf("%s@sha256:", repo);
	assert_non_null(dg);
	assert_true(bg_str_has_prefix(dg, want));
	char *digest = bg_xstrdup(dg);
	char *id = bg_xstrdup(jstr(ver(a, 1), "image_id"));
	assert_string_equal(jstr(ver(a, 1), "restore"), "present");
	assert_null(jstr(ver(a, 2), "digest"));
	json_object_put(root);

	/* The image goes (v1's containers went when v3 took their colour). */
	char *rmi[] = {"docker", "rmi", ref, NULL};
	docker_ok(rmi);
	a = versions_json(&e, &root);
	assert_string_equal(jstr(ver(a, 1), "restore"), "pullable");
	assert_true(jtrue(ver(a, 1), "restorable"));
	json_object_put(root);
	assert_int_equal(e2e_bg(&e, &r, "versions", e.site, NULL), 0);
	th_assert_contains(r.out, "pullable");
	th_assert_contains(r.out, digest);
	th_run_release(&r);

	/* The plan pulls exactly that digest before rebuilding v1. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--to", "1", NULL), 2);
	char *pull = bg_xasprintf("image     %s", digest); /* the plan's "pull image NAME" step */
	th_assert_contains(r.out, pull);
	const char *at = strstr(r.out, pull);
	while (at > r.out && at[-1] != '\n') {
		at--;
	}
	const char *op = strstr(at, "pull");
	assert_true(op && op < strstr(at, digest)); /* on the digest's own line, before it */
	th_assert_contains(r.err, "no longer on this host");
	th_run_release(&r);
	int rc = e2e_bg(&e, &r, "rollback", e.site, "--to", "1", "--yes", NULL);
	if (rc != 0) {
		fail_msg("rollback --to 1 --yes exited %d:\n%s\n%s", rc, r.err, r.out);
	}
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 10000));
	/* The very build: the recorded id is here again. */
	char *insp[] = {"docker", "image", "inspect", "-f", "{{.Id}}", id, NULL};
	assert_int_equal(th_run_argv(insp, NULL, &r), 0);
	th_assert_contains(r.out, id);
	th_run_release(&r);

	e2e_release(&e); /* its containers go first: then the image may */
	char *rmid[] = {"docker", "rmi", "-f", id, NULL};
	th_run_argv(rmid, NULL, &r);
	th_run_release(&r);
	kill(registry_pid, SIGTERM); /* on a failed assertion, registry_teardown does it */
	th_wait(registry_pid);
	registry_pid = 0;
	th_rm_rf(rdir);
	free(pull);
	free(want);
	free(digest);
	free(id);
	free(ref);
	free(repo);
	free(rdir);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_rollback_to_two_back_under_load, e2e_teardown),
		cmocka_unit_test_teardown(test_rollback_to_pulls_by_digest, registry_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
