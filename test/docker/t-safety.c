/*
 * t-safety: the promises a reviewer tried to break, checked against a real
 * Docker Engine and nginx:
 *   - a live container restarted by Docker (new address) keeps being
 *     served, and nothing needs approving (nginx upstreams are published
 *     ports, ADR 0011);
 *   - two sites in one apply, one failing its gate: neither live colour
 *     moves (every gate runs before any switch);
 *   - a rollback never goes forward to a candidate that never went live;
 *   - a retried revision stays retried once applied;
 *   - a changed secret (env_file) makes a candidate, through a keyed label
 *     that never shows the value, while the spec label stays the same;
 *   - a DB_PASS-like variable is secret by default: its value is nowhere in
 *     plans, apply, history, status or the state directory (issue 9);
 *   - the commands apply runs as root are in the token: a plan approved
 *     before the reload command became a shell is refused (issue 9).
 *
 * Needs: dockerd, nginx, curl; images from test/images/build.sh.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <sys/stat.h>
#include <unistd.h>

static char *inspect(const char *name, const char *fmt)
{
	struct th_run r;
	th_docker(&r, "inspect", "-f", fmt, name, NULL);
	char *s = bg_xstrdup(r.status == 0 ? r.out : "");
	th_run_release(&r);
	s[strcspn(s, "\n")] = '\0';
	return s;
}

static void test_restart_keeps_serving(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "srest", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *port = inspect(blue, "{{index .Config.Labels \"io.bluegreen.hostport\"}}");
	assert_true(atoi(port) >= 20000 && atoi(port) <= 29999);
	char *edge = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e.dir, e.site);
	char *text = th_read(edge);
	char *up = bg_xasprintf("server 127.0.0.1:%s;", port);
	th_assert_contains(text, up);
	free(text);
	/*
	 * Move the container's address: disconnect it from the edge network and
	 * connect it again (a restart may or may not keep an address; this
	 * always changes it), then restart it as Docker would after a crash.
	 */
	char *net = bg_xasprintf("%s-net", e.site);
	char *ip0 = inspect(blue, "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}");
	th_docker(&r, "network", "disconnect", e.edge_net, blue, NULL);
	th_run_release(&r);
	/* Something else takes the old address range first. */
	char *squat = bg_xasprintf("%s-squatter", e.site);
	th_docker(&r, "run", "-d", "--name", squat, "--network", e.edge_net,
			"bluegreen-test/web:v3", NULL);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	th_docker(&r, "network", "connect", e.edge_net, blue, NULL);
	th_run_release(&r);
	th_docker(&r, "restart", "-t", "1", blue, NULL);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	char *ip1 = inspect(blue, "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}");
	print_message("# addresses before %s, after %s\n", ip0, ip1);
	/* Still v1, never the squatter's v3, and nothing to approve. */
	assert_true(e2e_wait_body(&e, e.domain, "v1", 5000));
	for (int i = 0; i < 20; i++) {
		char *body = NULL;
		assert_int_equal(e2e_get(&e, e.domain, &body), 200);
		assert_string_equal(body, "v1");
		free(body);
	}
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 0);
	free(tok);
	th_docker(&r, "rm", "-f", squat, NULL);
	th_run_release(&r);
	free(ip0);
	free(ip1);
	free(squat);
	free(net);
	free(up);
	free(edge);
	free(port);
	free(blue);
	e2e_release(&e);
}

static void write_site(struct e2e *e, const char *site, const char *image, const char *extra)
{
	char *rel = bg_xasprintf("sites/%s.conf", site);
	char *conf = bg_xasprintf("site: %s\ndomains: [%s.localhost]\nimage: %s\nport: 8080\n"
			"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 8}\n"
			"stop_timeout: 2s\nstrategy: {promote: auto}\n%s",
			site, site, image, extra ? extra : "");
	th_write(e->dir, rel, conf);
	free(conf);
	free(rel);
}

static void test_gates_before_switches(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "sgate", "nginx", "development");
	/* Two sites named after the run, both on v1 with promote: auto. */
	char *a = bg_xasprintf("%s-a", e.site);
	char *b = bg_xasprintf("%s-b", e.site);
	write_site(&e, a, "bluegreen-test/web:v1", NULL);
	write_site(&e, b, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *ha = bg_xasprintf("%s.localhost", a), *hb = bg_xasprintf("%s.localhost", b);
	assert_true(e2e_wait_body(&e, ha, "v1", 3000));
	assert_true(e2e_wait_body(&e, hb, "v1", 3000));
	/* a to v2 (healthy), b to an image that never passes its gate; a comes
	 * first in the plan, yet its switch must wait for b's gate. */
	write_site(&e, a, "bluegreen-test/web:v2", NULL);
	write_site(&e, b, "bluegreen-test/web:bad", NULL);
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	th_assert_not_contains(r.err, "had already been switched");
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, ha, "v1", 1000));
	assert_true(e2e_wait_body(&e, hb, "v1", 1000));
	/* Fixed b: now both switch in one apply. */
	write_site(&e, b, "bluegreen-test/web:v3", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, ha, "v2", 3000));
	assert_true(e2e_wait_body(&e, hb, "v3", 3000));
	th_docker_cleanup_site(a);
	th_docker_cleanup_site(b);
	free(ha);
	free(hb);
	free(a);
	free(b);
	e2e_release(&e);
}

static void test_rollback_never_forward_and_retry(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "sroll", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0); /* candidate v2, manual */
	assert_true(e2e_wait_body(&e, e.preview, "v2", 3000));
	/* "Rolling back" now would put the untested candidate live: refused. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL), 5);
	th_assert_contains(r.err, "the candidate that never went live");
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	/* Switch, roll back, then retry v2: it goes live, and stays retried. */
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL), 0);
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	/* And no second rollback back to the rejected v2. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL), 5);
	th_assert_contains(r.err, "already rolled back");
	th_run_release(&r);
	/*
	 * The retry follows promote: manual like any candidate: v2 is shown on
	 * the preview host first (the rollback pointed it back at v1), and
	 * the plan after that proposes the switch.
	 */
	assert_int_equal(e2e_bg(&e, &r, "plan", "--retry", e.site, NULL), 2);
	th_assert_contains(r.out, "-> green (candidate v2); blue stays live");
	th_assert_not_contains(r.out, "live: blue v1 -> green v2");
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);
	assert_true(e2e_wait_body(&e, e.preview, "v2", 3000));
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "live: blue v1 -> green v2");
	tok = th_plan_token(r.out);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	/* Without --retry, the next plan has nothing left (not "rolled back"). */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 0);
	th_assert_not_contains(r.out, "was rolled back");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "no longer rejected");
	th_run_release(&r);
	(void)st;
	e2e_release(&e);
}

#define SECRET_A "first-secret-value-111"
#define SECRET_B "second-secret-value-222"

static void test_secret_rotation(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "ssec", "nginx", "development");
	th_write(e.dir, "app.env", "DB_PASSWORD=" SECRET_A "\n");
	char *envf = bg_xasprintf("%s/app.env", e.dir);
	chmod(envf, 0600);
	e2e_site(&e, "bluegreen-test/web:v1", "env_file: app.env\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *spec1 = inspect(blue, "{{index .Config.Labels \"io.bluegreen.spec\"}}");
	char *mac1 = inspect(blue, "{{index .Config.Labels \"io.bluegreen.secrets\"}}");
	assert_int_equal(strlen(mac1), 64);
	/* The key exists, private. */
	char *key = bg_xasprintf("%s/state/secrets.key", e.dir);
	struct stat sb;
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* Rotate the secret: a candidate, explained, values nowhere. */
	th_write(e.dir, "app.env", "DB_PASSWORD=" SECRET_B "\n");
	chmod(envf, 0600);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "create  container");
	th_assert_not_contains(r.out, SECRET_A);
	th_assert_not_contains(r.out, SECRET_B);
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *green = bg_xasprintf("%s-green", e.site);
	char *spec2 = inspect(green, "{{index .Config.Labels \"io.bluegreen.spec\"}}");
	char *mac2 = inspect(green, "{{index .Config.Labels \"io.bluegreen.secrets\"}}");
	/* Same configuration (spec), other secret values (keyed hash). */
	assert_string_equal(spec1, spec2);
	assert_string_not_equal(mac1, mac2);
	char *env = inspect(green, "{{json .Config.Env}}");
	th_assert_contains(env, "DB_PASSWORD=" SECRET_B);
	free(env);
	free(spec1);
	free(spec2);
	free(mac1);
	free(mac2);
	free(key);
	free(green);
	free(blue);
	free(envf);
	e2e_release(&e);
}

/* Does any file under dir hold needle (bytes, binary files included)? */
static bool tree_contains(const char *dir, const char *needle)
{
	char *argv[] = {"grep", "-r", "-a", "-l", "-F", (char *)needle, (char *)dir, NULL};
	struct th_run r;
	th_run_argv(argv, NULL, &r);
	bool found = r.status == 0;
	if (found) {
		th_print_error("'%s' found in: %s", needle, r.out);
	}
	th_run_release(&r);
	return found;
}

/*
 * Default redaction (issue 9): a variable named DB_PASS (no *PASSWORD*)
 * is a secret without any configuration: the container gets it, and no
 * plan, apply output, history (text or JSON, versions' spec_json
 * included: every byte of the state directory) or status shows it.
 */
static void test_default_redaction(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "sred", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", "env: {DB_PASS: hunter2, SMTP_PWD: hunter3, "
			"PASSPORT_COUNTRY: visible-fr-42}\n");
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_not_contains(r.out, "hunter");
	th_assert_not_contains(r.err, "hunter");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "--json", "plan", NULL), 2);
	th_assert_not_contains(r.out, "hunter");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_assert_not_contains(r.out, "hunter");
	th_assert_not_contains(r.err, "hunter");
	th_run_release(&r);
	/* The container does get the values: that is where they belong. */
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *env = inspect(blue, "{{json .Config.Env}}");
	th_assert_contains(env, "DB_PASS=hunter2");
	th_assert_contains(env, "SMTP_PWD=hunter3");
	free(env);
	/* PASSPORT_COUNTRY is no secret: its value is in the spec the history keeps. */
	const char *views[][3] = {{"history", NULL, NULL}, {"--json", "history", NULL},
		{"status", NULL, NULL}, {"--json", "status", NULL}, {"plan", NULL, NULL}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(views); i++) {
		e2e_bg(&e, &r, views[i][0], views[i][1], views[i][2], NULL);
		th_assert_not_contains(r.out, "hunter");
		th_assert_not_contains(r.err, "hunter");
		th_run_release(&r);
	}
	char *st = bg_xasprintf("%s/state", e.dir);
	assert_false(tree_contains(st, "hunter2"));
	assert_false(tree_contains(st, "hunter3"));
	/* The check can fail: the non-secret value is stored (spec_json). */
	assert_true(tree_contains(st, "visible-fr-42"));
	free(st);
	free(blue);
	e2e_release(&e);
}

/*
 * Execution settings (issue 9): the commands apply runs as root are in the
 * token. A plan approved with one reload command cannot be applied after
 * global.conf swapped it for a shell (the case: reload
 * [/bin/sh, -c, ...] and test []): exit 3, nothing run, and the plan shown
 * names the new command and the old one. Each apply records the settings
 * it ran with; the journal says when they changed.
 */
static void test_exec_settings_token(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "sexe", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	/* First plan: nothing recorded yet, every setting is new. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "edge reload command: [nginx, -p, nginx/, -c, nginx.conf, -s, "
			"reload] (new)");
	th_assert_contains(r.out, "docker socket: ");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_int_equal(e2e_bg(&e, &r, "history", NULL), 0);
	th_assert_contains(r.out, "settings");
	th_assert_contains(r.out, "edge.nginx.reload: [nginx, -p");
	th_run_release(&r);
	/* Applied: the settings are as recorded, the plan says nothing of them. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 0);
	th_assert_not_contains(r.out, "execution settings");
	th_run_release(&r);

	/* A change is planned and approved... */
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	char *token = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	assert_non_null(token);
	/* ...then a commit swaps the reload command for a shell, and drops the test. */
	char *pwned = bg_xasprintf("%s/pwned", e.dir);
	char *y = th_nginx_edge_yaml(e.port);
	const char *rl = strstr(y, "    reload:");
	const char *tl = strstr(y, "    test:");
	assert_non_null(rl);
	assert_non_null(tl);
	char *evil = bg_xasprintf("state_dir: state\nedge:\n  kind: nginx\n  network: %s\n"
			"%.*s    test: []\n    reload: [/bin/sh, -c, \"id > %s\"]\n",
			e.edge_net, (int)(tl - y), y, pwned);
	char *global = bg_xasprintf("install_mode: development\n%s", evil);
	th_write(e.dir, "global.conf", global);
	assert_int_equal(e2e_bg(&e, &r, "apply", token, NULL), 3);
	th_assert_contains(r.err, "is stale");
	th_assert_contains(r.out, "edge reload command: [/bin/sh, -c, \"id > ");
	th_assert_contains(r.out, "(was [nginx, -p, nginx/, -c, nginx.conf, -s, reload])");
	th_assert_contains(r.out, "edge test command: [] (was [nginx, -p");
	th_run_release(&r);
	assert_int_equal(access(pwned, F_OK), -1);
	/* The plan names it too, in text and JSON. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "changed since the last apply");
	th_assert_contains(r.out, "edge reload command: [/bin/sh, -c, \"id > ");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "--json", "plan", NULL), 2);
	th_assert_contains(r.out, "\"status\": \"changed\"");
	th_run_release(&r);
	/* Back to the reviewed settings: the token approved then applies. */
	e2e_global(&e, NULL);
	assert_int_equal(e2e_bg(&e, &r, "apply", token, NULL), 0);
	th_run_release(&r);
	assert_int_equal(access(pwned, F_OK), -1);
	free(global);
	free(evil);
	free(y);
	free(pwned);
	free(token);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_restart_keeps_serving, e2e_teardown),
		cmocka_unit_test_teardown(test_gates_before_switches, e2e_teardown),
		cmocka_unit_test_teardown(test_rollback_never_forward_and_retry, e2e_teardown),
		cmocka_unit_test_teardown(test_secret_rotation, e2e_teardown),
		cmocka_unit_test_teardown(test_default_redaction, e2e_teardown),
		cmocka_unit_test_teardown(test_exec_settings_token, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
