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

/* `docker ARGS...` (NULL-terminated) must succeed; its stdout, a new string. */
static char *docker_out(const char *what, char *const args[])
{
	struct bg_strv argv;
	struct th_run r;
	bg_strv_init(&argv);
	bg_strv_push(&argv, "docker");
	for (size_t i = 0; args[i]; i++) {
		bg_strv_push(&argv, args[i]);
	}
	th_run_argv(argv.v, NULL, &r);
	bg_strv_release(&argv);
	if (r.status != 0) {
		th_print_error("docker %s exited %d: %s\n", what, r.status, r.err);
		th_run_release(&r);
		fail_msg("docker %s failed", what);
	}
	char *out = bg_xstrdup(r.out);
	th_run_release(&r);
	return out;
}

/*
 * Files under the configuration directory (which holds the state directory
 * and the edge's conf.d): path, size, mtime, mode and SHA-256, sorted.
 * Left out: what a plan is meant to write, the history journal (SPEC §7:
 * every printed plan is journaled; history_growth() checks what was
 * added) and its lock, and nginx's own logs and temp files.
 */
static bool file_skipped(const char *rel)
{
	return strcmp(rel, "state") == 0 || strcmp(rel, "state/") == 0 ||
			bg_str_has_prefix(rel, "state/history") || strcmp(rel, "state/lock") == 0 ||
			bg_str_has_prefix(rel, "nginx/tmp") || bg_str_has_suffix(rel, ".log");
}

static void files_into(struct bg_buf *b, const char *dir)
{
	/* Directories without their mtime: what they hold is listed anyway. */
	char *dargv[] = {"find", (char *)dir, "-type", "d", "-printf", "%P/ %m\n", NULL};
	char *fargv[] = {"find", (char *)dir, "!", "-type", "d", "-printf", "%P %y %s %T@ %m\n",
			NULL};
	char *hargv[] = {"find", (char *)dir, "-type", "f", "-exec", "sha256sum", "{}", "+", NULL};
	char **runs[] = {dargv, fargv, hargv};
	struct bg_strv lines;
	bg_strv_init(&lines);
	size_t dl = strlen(dir);
	for (size_t k = 0; k < BG_ARRAY_SIZE(runs); k++) {
		struct th_run r;
		assert_int_equal(th_run_argv(runs[k], NULL, &r), 0);
		char *save = NULL;
		for (char *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *rel;
			if (k == 2) {
				/* sha256sum prints "HASH  /abs/path": make the path relative. */
				char *abs = strstr(l, dir);
				rel = bg_xstrdup(abs ? abs + dl + (abs[dl] == '/') : l);
			} else {
				rel = bg_xstrndup(l, strcspn(l, " "));
			}
			if (!file_skipped(rel)) {
				bg_strv_push(&lines, l);
			}
			free(rel);
		}
		th_run_release(&r);
	}
	bg_strv_sort(&lines);
	for (size_t i = 0; i < lines.n; i++) {
		bg_buf_addf(b, "%s\n", lines.v[i]);
	}
	bg_strv_release(&lines);
}

/*
 * Everything a plan could touch, for "no side effects": this run's Docker
 * objects only (containers of the site, with their start time and restart
 * count and labels; networks and volumes named after the run id), every
 * docker CLI call checked, and the files of the configuration directory.
 */
static char *world(struct e2e *e)
{
	struct bg_buf b = BG_BUF_INIT;
	char *site = bg_xasprintf("label=io.bluegreen.site=%s", e->site);
	char *name = bg_xasprintf("name=%s", th_run_id());
	char *ps[] = {"ps", "-a", "--no-trunc", "--filter", site, "--format",
			"{{.ID}} {{.Names}} {{.State}}", NULL};
	char *out = docker_out("ps", ps);
	bg_buf_addf(&b, "== ps\n%s", out);
	free(out);
	/* Each container in depth: a restart or a recreate shows here. */
	struct th_run r;
	char *ids[] = {"ps", "-aq", "--filter", site, NULL};
	out = docker_out("ps -q", ids);
	char *save = NULL;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(th_docker(&r, "inspect", "-f", "{{.Name}} {{.State.StartedAt}} "
				"{{.RestartCount}} {{.Image}} {{json .Config.Labels}}", l, NULL), 0);
		bg_buf_adds(&b, r.out);
		th_run_release(&r);
	}
	free(out);
	/* Networks and volumes named after the run, inspected (labels as sorted JSON). */
	const char *kinds[] = {"network", "volume"};
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		char *ls[] = {(char *)kinds[k], "ls", "-q", "--filter", name, NULL};
		out = docker_out(kinds[k], ls);
		bg_buf_addf(&b, "== %s\n", kinds[k]);
		save = NULL;
		for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			assert_int_equal(th_docker(&r, (char *)kinds[k], "inspect", "-f",
					"{{.Name}} {{json .Labels}}", l, NULL), 0);
			bg_buf_adds(&b, r.out);
			th_run_release(&r);
		}
		free(out);
	}
	bg_buf_adds(&b, "== files\n");
	files_into(&b, e->dir);
	free(name);
	free(site);
	return bg_buf_detach(&b, NULL);
}

/* The journal as JSON lines (empty when there is none yet), a new string. */
static char *journal(struct e2e *e)
{
	struct th_run r;
	int st = e2e_bg(e, &r, "--json", "history", NULL);
	assert_int_equal(st, 0);
	char *out = bg_xstrdup(r.out);
	th_run_release(&r);
	return out;
}

/* What was journaled since `before`: printed plans only (SPEC §7), nothing else. */
static void history_growth(const char *before, const char *after)
{
	if (!bg_str_has_prefix(after, before)) {
		fail_msg("the journal was rewritten, not appended to:\n--- before\n%s--- after\n%s",
				before, after);
	}
	char *added = bg_xstrdup(after + strlen(before));
	char *save = NULL;
	for (char *l = strtok_r(added, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strstr(l, "\"action\":\"plan\"") && !strstr(l, "\"action\":\"drift\"")) {
			fail_msg("planning journaled more than its plan: %s", l);
		}
	}
	free(added);
}

/* plan and observe, three times each, change nothing (but the journal of plans). */
static void assert_planning_changes_nothing(struct e2e *e, int plan_exit)
{
	struct th_run r;
	char *before = world(e);
	char *j0 = journal(e);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e2e_bg(e, &r, "plan", NULL), plan_exit);
		th_run_release(&r);
		assert_int_equal(e2e_bg(e, &r, "--json", "plan", NULL), plan_exit);
		th_run_release(&r);
		assert_int_equal(e2e_bg(e, &r, "observe", NULL), 0);
		th_run_release(&r);
	}
	char *after = world(e);
	if (strcmp(before, after) != 0) {
		th_print_error("--- before\n%s--- after\n%s", before, after);
	}
	assert_string_equal(before, after);
	char *j1 = journal(e);
	history_growth(j0, j1);
	free(j0);
	free(j1);
	free(before);
	free(after);
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
	assert_planning_changes_nothing(&e, 2);
	char *edge = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e.dir, e.site);
	assert_int_not_equal(access(edge, F_OK), 0);
	free(edge);
	e2e_release(&e);
}

static void test_candidate_switch_and_drift(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	char *s;
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
	/* Planning the drift repairs nothing by itself. */
	assert_planning_changes_nothing(&e, 2);
	s = e2e_container_state(green);
	assert_string_equal(s, "exited");
	free(s);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));

	/* Drift: the live container removed outside bluegreen. */
	th_docker(&d, "rm", "-f", green, NULL);
	th_run_release(&d);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "has no containers (removed outside bluegreen)");
	th_run_release(&r);
	assert_planning_changes_nothing(&e, 2);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));
	/* The previous colour (v1) was never touched through all of it. */
	s = e2e_container_state(blue);
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

/*
 * One command of the secrets check: its exit status, what it must say
 * (proof it ran and printed the real thing), and neither secret anywhere.
 */
static void secret_check(struct e2e *e, const char *a, const char *b, int want_exit,
		const char *const want[])
{
	struct th_run r;
	int st = e2e_bg(e, &r, a, b, NULL);
	if (st != want_exit) {
		th_print_error("bluegreen %s %s exited %d, not %d:\n%s%s\n", a, b ? b : "", st,
				want_exit, r.out, r.err);
	}
	assert_int_equal(st, want_exit);
	for (size_t i = 0; want[i]; i++) {
		th_assert_contains(r.out, want[i]);
	}
	th_assert_not_contains(r.out, SECRET1);
	th_assert_not_contains(r.out, SECRET2);
	th_assert_not_contains(r.err, SECRET1);
	th_assert_not_contains(r.err, SECRET2);
	th_run_release(&r);
}

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
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *jsite = bg_xasprintf("\"site\": \"%s\"", e.site);
	char *hsite = bg_xasprintf("\"site\":\"%s\"", e.site);
	char *k1 = bg_xasprintf("sites.%s.env.API_TOKEN = <redacted>", e.site);
	char *k2 = bg_xasprintf("sites.%s.env.DATABASE_URL = <redacted>", e.site);
	char *k3 = bg_xasprintf("sites.%s.env.MODE = demo", e.site);

	const char *w_plan[] = {e.site, blue, "bluegreen apply ", NULL};
	secret_check(&e, "plan", NULL, 2, w_plan);
	const char *w_jplan[] = {jsite, "\"token\"", NULL};
	secret_check(&e, "--json", "plan", 2, w_jplan);
	const char *w_obs0[] = {"\"bluegreen_observe\"", NULL};
	secret_check(&e, "observe", NULL, 0, w_obs0);
	/* The key names are shown, their values are not (MODE is no secret). */
	const char *w_explain[] = {k1, k2, k3, NULL};
	secret_check(&e, "validate", "--explain", 0, w_explain);

	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	const char *w_hist[] = {e.site, "applied", NULL};
	secret_check(&e, "history", NULL, 0, w_hist);
	const char *w_jhist[] = {hsite, "\"action\":\"apply", NULL};
	secret_check(&e, "--json", "history", 0, w_jhist);
	const char *w_log[] = {"applied", blue, NULL};
	secret_check(&e, "log", NULL, 0, w_log);
	const char *w_status[] = {e.site, "blue", NULL};
	secret_check(&e, "status", NULL, 0, w_status);
	const char *w_jstatus[] = {jsite, "\"live\": \"blue\"", NULL};
	secret_check(&e, "--json", "status", 0, w_jstatus);
	const char *w_obs[] = {blue, NULL};
	secret_check(&e, "observe", NULL, 0, w_obs);

	/* Nor in the raw files of the state dir (LMDB pages, the log). */
	char *statedir = bg_xasprintf("%s/state", e.dir);
	char *argv[] = {"grep", "-r", "-a", "-l", "-e", SECRET1, "-e", SECRET2, statedir, NULL};
	th_run_argv(argv, NULL, &r);
	assert_int_equal(r.status, 1); /* grep: no match */
	th_run_release(&r);
	/* grep can tell: the files it searched do hold the site's name. */
	char *argv2[] = {"grep", "-r", "-a", "-q", "-e", e.site, statedir, NULL};
	assert_int_equal(th_run_argv(argv2, NULL, &r), 0);
	th_run_release(&r);
	free(statedir);
	/* The container does get them: that is where they belong. */
	th_docker(&r, "inspect", "-f", "{{json .Config.Env}}", blue, NULL);
	th_assert_contains(r.out, "API_TOKEN=" SECRET1);
	th_assert_contains(r.out, "DATABASE_URL=postgres://u:" SECRET2 "@db/x");
	th_run_release(&r);
	free(k1);
	free(k2);
	free(k3);
	free(hsite);
	free(jsite);
	free(blue);
	e2e_release(&e);
}

/*
 * Objects without our label are never read: a container that says
 * io.bluegreen.site=SITE (and even colour and version) but lacks
 * io.bluegreen.managed=true is not in `observe` and changes no plan.
 */
static void test_unlabelled_never_read(void **state)
{
	struct e2e e;
	struct th_run r, d;
	int st;
	e2e_init(&e, "punl", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	/* Nothing to do: the token is in --json (the text prints no apply line). */
	struct json_object *j = plan_json(&e, &st);
	assert_int_equal(st, 0);
	char *t1 = bg_xstrdup(jstr(j, "token"));
	json_object_put(j);
	assert_non_null(t1);
	assert_int_equal(e2e_bg(&e, &r, "observe", NULL), 0);
	char *obs1 = bg_xstrdup(r.out);
	th_run_release(&r);

	char *name = bg_xasprintf("%s-impostor", e.site);
	char *l1 = bg_xasprintf("io.bluegreen.site=%s", e.site);
	assert_int_equal(th_docker(&d, "run", "-d", "--name", name, "--label", l1, "--label",
			"io.bluegreen.colour=green", "--label", "io.bluegreen.version=9", "--label",
			"bluegreen.test=unmanaged", "bluegreen-test/web:v2", NULL), 0);
	th_run_release(&d);
	/* The filter the product must not rely on alone: the CLI does see it by site. */
	char *filter = bg_xasprintf("label=io.bluegreen.site=%s", e.site);
	assert_int_equal(th_docker(&d, "ps", "--filter", filter, "--format", "{{.Names}}", NULL), 0);
	th_assert_contains(d.out, name);
	th_run_release(&d);

	assert_int_equal(e2e_bg(&e, &r, "observe", NULL), 0);
	th_assert_not_contains(r.out, name);
	assert_string_equal(r.out, obs1);
	th_run_release(&r);
	j = plan_json(&e, &st);
	assert_int_equal(st, 0);
	char *t2 = bg_xstrdup(jstr(j, "token"));
	json_object_put(j);
	assert_non_null(t2);
	assert_string_equal(t1, t2);
	assert_int_equal(e2e_bg(&e, &r, "status", NULL), 0);
	th_assert_contains(r.out, "bluegreen-test/web:v1");
	th_assert_not_contains(r.out, "web:v2");
	th_assert_not_contains(r.out, "v9");
	th_run_release(&r);
	/* And nothing touched it. */
	char *s = e2e_container_state(name);
	assert_string_equal(s, "running");
	free(s);
	th_docker(&d, "rm", "-f", name, NULL);
	th_run_release(&d);
	free(filter);
	free(l1);
	free(name);
	free(obs1);
	free(t1);
	free(t2);
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
		cmocka_unit_test_teardown(test_unlabelled_never_read, e2e_teardown),
		cmocka_unit_test_teardown(test_docker_unreachable, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
