/*
 * t-apply: `bluegreen apply`, `rollback` and the history against a real
 * Docker Engine and a real nginx (issue 4): the whole story under load
 * (zero failed requests through the switch and the rollback, an in-flight
 * request finishing on the old colour, rollback well under a second), a
 * candidate failing its health gate (exit 5, the live colour serving),
 * stale/used/unknown tokens (exit 3 with the current plan), confirm
 * phrases and a missing install_mode (exit 4), one converger at a time
 * (the second names the first), a SIGKILL at every step (history intact,
 * the interruption reported, live = what the edge file says, the next plan
 * finishes the job), the Traefik edge contract, services and volumes, and
 * the image's own HEALTHCHECK used as the gate.
 *
 * Needs: dockerd, nginx, hey, curl, /usr/bin/python3 with jsonschema+yaml;
 * images from test/images/build.sh.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Load comes from hey (Go's HTTP client, keep-alive on). A keep-alive
 * client must retry a request on a connection the server closed while it
 * was idle (RFC 7230 6.3.1): nginx's graceful reload closes idle
 * connections of its old workers, on any reload, switch or not. hey (like
 * browsers) retries those; wrk does not and would count nginx's reload,
 * not bluegreen's switch. See docs/adr/0005-nginx-edge.md.
 */
static pid_t load_start(struct e2e *e, const char *host, int seconds, const char *out)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/", e->port);
	char *dur = bg_xasprintf("%ds", seconds);
	char *argv[] = {"hey", "-z", dur, "-c", "16", "-t", "5", "-host", (char *)host, url, NULL};
	pid_t pid = th_spawn_bg(argv, NULL, out);
	free(url);
	free(dur);
	return pid;
}

static void load_check(pid_t pid, const char *out_path, const char *what)
{
	assert_int_equal(th_wait(pid), 0);
	char *out = th_read(out_path);
	long ok = 0, fail = 0;
	th_hey_result(out, &ok, &fail);
	print_message("# %s under load: %ld requests answered 2xx, %ld failed\n", what, ok, fail);
	if (ok <= 100 || fail != 0) {
		fail_msg("%s: %ld ok, %ld failed:\n%s", what, ok, fail, out);
	}
	free(out);
}

/* "NAME STARTEDAT RESTARTS" for every container of the site, sorted by name. */
static char *site_starts(struct e2e *e)
{
	struct th_run r;
	char *filter = bg_xasprintf("label=io.bluegreen.site=%s", e->site);
	assert_int_equal(th_docker(&r, "ps", "-aq", "--filter", filter, NULL), 0);
	struct bg_strv ids;
	bg_strv_init(&ids);
	char *save = NULL;
	for (char *id = strtok_r(r.out, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
		bg_strv_push(&ids, id);
	}
	th_run_release(&r);
	struct bg_strv lines;
	bg_strv_init(&lines);
	for (size_t i = 0; i < ids.n; i++) {
		assert_int_equal(th_docker(&r, "inspect", "-f",
				"{{.Name}} {{.State.StartedAt}} {{.RestartCount}}", ids.v[i], NULL), 0);
		bg_strv_push(&lines, r.out);
		th_run_release(&r);
	}
	bg_strv_sort(&lines);
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < lines.n; i++) {
		bg_buf_adds(&b, lines.v[i]);
	}
	bg_strv_release(&lines);
	bg_strv_release(&ids);
	free(filter);
	return bg_buf_detach(&b, NULL);
}

/* Load that runs until stopped (SIGINT: hey prints its report and exits 0). */
static pid_t load_until_stopped(struct e2e *e, const char *host, const char *out)
{
	return load_start(e, host, 120, out);
}

static void load_stop_and_check(pid_t pid, const char *out_path, const char *what)
{
	/* A second of traffic after the change, then stop it. */
	usleep(1000 * 1000);
	assert_int_equal(kill(pid, SIGINT), 0);
	load_check(pid, out_path, what);
}

static void test_story_under_load(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "aload", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));

	/* Candidate: v2 on the preview host only. */
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.preview, "v2", 3000));
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));

	/* The switch, under load, with a slow request in flight on v1. */
	int st = 0;
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	char *wout = bg_xasprintf("%s/load-switch.txt", e.dir);
	char *sout = bg_xasprintf("%s/slow.txt", e.dir);
	char *starts = site_starts(&e);
	pid_t w = load_until_stopped(&e, e.domain, wout);
	usleep(1000 * 1000);
	char *surl = bg_xasprintf("http://127.0.0.1:%d/cgi-bin/slow", e.port);
	char *shdr = bg_xasprintf("Host: %s", e.domain);
	char *sargv[] = {"curl", "-sS", "--max-time", "10", "-H", shdr, surl, NULL};
	pid_t slow = th_spawn_bg(sargv, NULL, sout);
	usleep(200 * 1000);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	/* The load was still running when the switch was done: it spans it. */
	assert_true(th_running(w, NULL));
	assert_int_equal(th_wait(slow), 0);
	char *slow_body = th_read(sout);
	/* Started on v1 before the switch: it finished there, not cut. */
	assert_string_equal(slow_body, "v1 slow\n");
	free(slow_body);
	load_stop_and_check(w, wout, "switch");
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	/* A switch is routing only: no container was restarted or recreated. */
	char *after = site_starts(&e);
	assert_string_equal(starts, after);
	free(after);

	/* Rollback, under load: zero failures, and fast. */
	w = load_until_stopped(&e, e.domain, wout);
	usleep(1000 * 1000);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL), 0);
	int64_t ms = bg_mono_ms() - t0;
	assert_true(th_running(w, NULL));
	th_assert_contains(r.out, "rollback of");
	th_run_release(&r);
	load_stop_and_check(w, wout, "rollback");
	/*
	 * The figure is printed here and measured properly by the benchmarks
	 * (test/bench/bench-switch.sh, docs/benchmarks.md); the bound only
	 * says "not a redeploy", loose enough for a loaded sanitizer run.
	 */
	print_message("# rollback --yes took %" PRId64 " ms (process start to exit)\n", ms);
	assert_true(ms < 5000);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	after = site_starts(&e);
	assert_string_equal(starts, after);
	free(after);
	free(starts);

	/* The rolled-back revision is not proposed again; the history says who. */
	char *t2 = e2e_plan(&e, &st);
	assert_int_equal(st, 0);
	free(t2);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "rollback");
	th_assert_contains(r.out, "v2 marked rejected");
	th_assert_contains(r.out, "switch");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "status", NULL), 0);
	th_assert_contains(r.out, "rejected green v2");
	th_run_release(&r);
	/*
	 * Asking to retry brings v2 back as the candidate (it still runs: no
	 * container is created), on the preview host first (promote: manual).
	 */
	assert_int_equal(e2e_bg(&e, &r, "plan", "--retry", e.site, NULL), 2);
	th_assert_contains(r.out, "-> green (candidate v2); blue stays live");
	th_assert_not_contains(r.out, "create  container");
	th_run_release(&r);
	free(surl);
	free(shdr);
	free(sout);
	free(wout);
	free(tok);
	e2e_release(&e);
}

static void test_failing_candidate(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "afail", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	e2e_site(&e, "bluegreen-test/web:bad", "health: {path: /healthz, interval: 200ms, retries: 5}\n");
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	th_assert_contains(r.err, "did not become healthy");
	th_assert_contains(r.err, "live now: ");
	th_run_release(&r);
	/* v1 keeps serving, and the failed candidate was stopped. */
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	char *green = bg_xasprintf("%s-green", e.site);
	char *s = e2e_container_state(green);
	assert_string_equal(s, "exited");
	free(s);
	/* The next plan retries the gate instead of proposing a switch. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_not_contains(r.out, "switch  edge");
	th_assert_contains(r.out, "start");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "failed its health gate and was stopped");
	th_run_release(&r);
	free(green);
	e2e_release(&e);
}

static void test_tokens(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "atok", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	char *stale = e2e_plan(&e, &st);
	/* Something changes after the plan was printed: stale, new plan shown. */
	e2e_site(&e, "bluegreen-test/web:v1", "replicas: 2\n");
	assert_int_equal(e2e_bg(&e, &r, "apply", stale, NULL), 3);
	th_assert_contains(r.err, "is stale");
	th_assert_contains(r.out, "bluegreen apply ");
	char *fresh = th_plan_token(r.out);
	assert_string_not_equal(fresh, stale);
	th_run_release(&r);
	/* The plan shown is applicable as is. */
	assert_int_equal(e2e_bg(&e, &r, "apply", fresh, NULL), 0);
	th_run_release(&r);
	/* Used once only. */
	assert_int_equal(e2e_bg(&e, &r, "apply", fresh, NULL), 3);
	th_assert_contains(r.err, "already used");
	th_run_release(&r);
	/* Never printed and not the current plan. */
	assert_int_equal(e2e_bg(&e, &r, "apply", "0123456789abcdef", NULL), 3);
	th_assert_contains(r.err, "is unknown");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", "not-a-token", NULL), 3);
	th_assert_contains(r.err, "is not a plan token");
	th_run_release(&r);
	/* Both replicas serve. */
	char *b2 = bg_xasprintf("%s-blue-2", e.site);
	char *s = e2e_container_state(b2);
	assert_string_equal(s, "running");
	free(s);
	free(b2);
	free(stale);
	free(fresh);
	e2e_release(&e);
}

static void test_confirm_and_install_mode(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "aconf", "nginx", "production");
	e2e_site(&e, "bluegreen-test/web:v1", "confirm: \"DEPLOY IT NOW\"\n");
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 4);
	th_assert_contains(r.err, "requires its confirm phrase");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, "--confirm", "DEPLOY IT", NULL), 4);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, "--confirm", "DEPLOY IT NOW", NULL), 0);
	th_run_release(&r);
	free(tok);
	/* install_mode removed: apply refuses (4), validate says invalid (1). */
	free(e.mode);
	e.mode = NULL;
	e2e_global(&e, NULL);
	assert_int_equal(e2e_bg(&e, &r, "apply", "0123456789abcdef", NULL), 4);
	th_assert_contains(r.err, "install_mode is not set");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "validate", NULL), 1);
	th_assert_contains(r.err, "install_mode");
	th_run_release(&r);
	e2e_release(&e);
}

static void test_one_converger(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "alock", "nginx", "development");
	/* A bad image with a slow gate keeps the first apply busy for ~8 s. */
	e2e_site(&e, "bluegreen-test/web:bad",
			"health: {path: /healthz, interval: 250ms, retries: 32}\n");
	char *tok = e2e_plan(&e, &st);
	const char *bin = getenv("BG_BINARY");
	char *out = bg_xasprintf("%s/first.txt", e.dir);
	char *argv[] = {(char *)bin, "-c", e.dir, "apply", tok, NULL};
	pid_t first = th_spawn_bg(argv, NULL, out);
	char *lockf = bg_xasprintf("%s/state/lock", e.dir);
	char *want = bg_xasprintf("pid: %ld", (long)first);
	bool held = false;
	for (int i = 0; i < 100 && !held; i++) {
		char *data = NULL;
		if (bg_file_read(lockf, 4096, &data, NULL) == 0) {
			held = strstr(data, want) != NULL;
			free(data);
		}
		usleep(50 * 1000);
	}
	assert_true(held);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(e2e_bg(&e, &r, "apply", "0123456789abcdef", "--wait", "1", NULL), 1);
	int64_t waited = bg_mono_ms() - t0;
	char *named = bg_xasprintf("locked by pid %ld", (long)first);
	th_assert_contains(r.err, named);
	th_assert_contains(r.err, "apply ");
	th_run_release(&r);
	assert_true(waited >= 900 && waited < 5000);
	/* Kill the first converger: the lock goes with it, nothing is stale. */
	kill(first, SIGKILL);
	assert_int_equal(th_wait(first), 128 + SIGKILL);
	assert_int_equal(e2e_bg(&e, &r, "apply", "0123456789abcdef", "--wait", "1", NULL), 3);
	th_assert_contains(r.err, "interrupted");
	th_run_release(&r);
	free(named);
	free(want);
	free(lockf);
	free(out);
	free(tok);
	e2e_release(&e);
}

#ifdef BG_FAULT_INJECTION
static void crash_at(struct e2e *e, const char *when, int step)
{
	struct th_run r;
	int st;
	e2e_reset_site(e);
	char *tok = e2e_plan(e, &st);
	assert_int_equal(st, 2);
	char *fault = bg_xasprintf("BLUEGREEN_FAULT=%s:%d", when, step);
	char *env[] = {fault, "NO_COLOR=1", NULL};
	char *argv[] = {getenv("BG_BINARY"), "-c", e->dir, "apply", tok, NULL};
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 128 + SIGKILL);
	th_run_release(&r);
	/*
	 * The next command reports it, the live colour is what the edge file
	 * says; the history opens and holds the start.
	 */
	char *live = e2e_assert_interrupted(e);
	assert_int_equal(e2e_bg(e, &r, "history", NULL), 0);
	th_assert_contains(r.out, tok);
	th_assert_contains(r.out, "started");
	th_run_release(&r);
	/* The next plan finishes the job, and the interruption is journaled. */
	char *tok2 = e2e_plan(e, &st);
	if (st == 2) {
		assert_int_equal(e2e_bg(e, &r, "apply", tok2, NULL), 0);
		th_run_release(&r);
	}
	free(tok2);
	tok2 = e2e_plan(e, &st);
	assert_int_equal(st, 0);
	assert_true(e2e_wait_body(e, e->domain, "v1", 3000));
	assert_int_equal(e2e_bg(e, &r, "history", NULL), 0);
	th_assert_contains(r.out, "interrupted");
	th_run_release(&r);
	print_message("# kill %s step %d: recovered\n", when, step);
	free(tok2);
	free(live);
	free(fault);
	free(tok);
}

static void test_kill_at_every_step(void **state)
{
	struct e2e e;
	int st;
	e2e_init(&e, "akill", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	/* How many steps the first deploy has. */
	char *tok = e2e_plan(&e, &st);
	struct th_run r;
	e2e_bg(&e, &r, "--json", "plan", NULL);
	const char *c = strstr(r.out, "\"changes\": ");
	assert_non_null(c);
	int n = atoi(c + strlen("\"changes\": "));
	th_run_release(&r);
	assert_true(n >= 5);
	for (int k = 1; k <= n; k++) {
		crash_at(&e, "kill-during", k);
	}
	for (int k = 1; k <= n; k++) {
		crash_at(&e, "kill-after", k);
	}
	free(tok);
	e2e_release(&e);
}
#endif

/*
 * Every router of a Traefik dynamic file (read with python3-yaml, not by
 * string search) listens on exactly global.conf's entrypoints, in order,
 * and asks the configured certresolver; at least `min` routers.
 */
static void traefik_routers_use_config(const char *file, int min)
{
	struct th_run r;
	const char *py =
		"import sys, yaml\n"
		"d = yaml.safe_load(open(sys.argv[1]))\n"
		"want_eps = [x.strip() for x in sys.argv[2].split(',')]\n"
		"routers = d['http']['routers']\n"
		"assert len(routers) >= int(sys.argv[4]), routers\n"
		"for name, r in routers.items():\n"
		"    assert r.get('entryPoints') == want_eps, (name, r.get('entryPoints'))\n"
		"    assert r.get('tls', {}).get('certResolver') == sys.argv[3], (name, r.get('tls'))\n"
		"print(len(routers), 'routers ok')\n";
	char minb[16];
	snprintf(minb, sizeof(minb), "%d", min);
	char *argv[] = {"/usr/bin/python3", "-c", (char *)py, (char *)file,
			E2E_TRAEFIK_ENTRYPOINTS, E2E_TRAEFIK_CERTRESOLVER, minb, NULL};
	th_run_argv(argv, NULL, &r);
	if (r.status != 0) {
		char *data = th_read(file);
		th_print_error("%s:\n%s\n%s%s", file, data, r.out, r.err);
		free(data);
	}
	assert_int_equal(r.status, 0);
	th_run_release(&r);
}

static void test_traefik_contract(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "atrf", "traefik", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *file = bg_xasprintf("%s/traefik/dynamic/%s.yml", e.dir, e.site);
	char *data = th_read(file);
	char *svc = bg_xasprintf("service: %s-blue@docker", e.site);
	th_assert_contains(data, svc);
	/* global.conf's entrypoints and certresolver (not the defaults) are used. */
	traefik_routers_use_config(file, 1);
	th_assert_not_contains(data, "websecure");
	th_assert_not_contains(data, "letsencrypt");
	char *rule = bg_xasprintf("Host(`%s`)", e.domain);
	th_assert_contains(data, rule);
	th_assert_not_contains(data, "{{");
	free(data);
	/* The file validates against Traefik's published schema (v3 and v2). */
	char *py = th_src_path("test/unit/traefik-validate.py");
	char *schema3 = th_src_path("test/data/traefik/traefik-v3-file-provider.json");
	char *schema2 = th_src_path("test/data/traefik/traefik-v2-file-provider.json");
	char *argv3[] = {"/usr/bin/python3", py, schema3, file, NULL};
	th_run_argv(argv3, NULL, &r);
	if (r.status != 0) {
		fail_msg("v3 schema: %s%s", r.out, r.err);
	}
	th_run_release(&r);
	char *argv2[] = {"/usr/bin/python3", py, schema2, file, NULL};
	th_run_argv(argv2, NULL, &r);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	/* Labels: the colour's service and its pinned router; no live hostnames. */
	char *blue = bg_xasprintf("%s-blue", e.site);
	th_docker(&r, "inspect", "-f", "{{json .Config.Labels}}", blue, NULL);
	char *port = bg_xasprintf("\"traefik.http.services.%s-blue.loadbalancer.server.port\":\"8080\"",
			e.site);
	th_assert_contains(r.out, port);
	char *net = bg_xasprintf("\"traefik.docker.network\":\"%s\"", e.edge_net);
	th_assert_contains(r.out, net);
	th_assert_contains(r.out, "\"traefik.enable\":\"true\"");
	th_assert_contains(r.out, "\"io.bluegreen.managed\":\"true\"");
	th_assert_not_contains(r.out, e.domain);
	th_run_release(&r);
	/* Candidate, then switch: the live router follows. */
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	data = th_read(file);
	th_assert_contains(data, svc); /* still blue live */
	free(data);
	/* The live and the preview router, both with the configured ones. */
	traefik_routers_use_config(file, 2);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	data = th_read(file);
	char *svc2 = bg_xasprintf("service: %s-green@docker", e.site);
	th_assert_contains(data, svc2);
	free(data);
	free(svc2);
	free(net);
	free(port);
	free(blue);
	free(py);
	free(schema3);
	free(schema2);
	free(rule);
	free(svc);
	free(file);
	e2e_release(&e);
}

static void test_services_and_volumes(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "asvc", "nginx", "development");
	const char *extra = "volumes: {uploads: /data}\n"
			    "services:\n"
			    "  db:\n"
			    "    image: bluegreen-test/db:1\n"
			    "    volumes: {dbdata: /var/db}\n"
			    "depends_on: [db]\n";
	e2e_site(&e, "bluegreen-test/web:v1", extra);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *vol = bg_xasprintf("%s-uploads", e.site);
	char *db = bg_xasprintf("%s-db", e.site);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *green = bg_xasprintf("%s-green", e.site);
	th_docker(&r, "volume", "inspect", "-f", "{{json .Labels}}", vol, NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "\"io.bluegreen.managed\":\"true\"");
	th_run_release(&r);
	char *s = e2e_container_state(db);
	assert_string_equal(s, "running");
	free(s);
	char *fmt = bg_xasprintf("{{json (index .NetworkSettings.Networks \"%s-net\").Aliases}}", e.site);
	th_docker(&r, "inspect", "-f", fmt, db, NULL);
	th_assert_contains(r.out, "\"db\"");
	th_run_release(&r);
	free(fmt);
	/* Data written by blue is seen by green: the volume is shared, not recreated. */
	th_docker(&r, "exec", blue, "/bin/busybox", "sh", "-c", "echo kept > /data/f", NULL);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	e2e_site(&e, "bluegreen-test/web:v2", extra);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	th_docker(&r, "exec", green, "/bin/busybox", "cat", "/data/f", NULL);
	assert_string_equal(r.out, "kept\n");
	th_run_release(&r);
	/* The db was not touched by the candidate. */
	s = e2e_container_state(db);
	assert_string_equal(s, "running");
	free(s);
	/* The volume leaves the site file: reported, kept, never deleted. */
	e2e_site(&e, "bluegreen-test/web:v2",
			"services:\n  db:\n    image: bluegreen-test/db:1\n"
			"    volumes: {dbdata: /var/db}\n");
	e2e_bg(&e, &r, "plan", NULL);
	char *note = bg_xasprintf("volume '%s' is no longer used", vol);
	th_assert_contains(r.out, note);
	th_assert_not_contains(r.out, "remove    volume");
	th_run_release(&r);
	int st;
	char *tok = e2e_plan(&e, &st);
	if (st == 2) {
		assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
		th_run_release(&r);
	}
	th_docker(&r, "volume", "inspect", vol, NULL);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	free(tok);
	free(note);
	free(vol);
	free(db);
	free(blue);
	free(green);
	e2e_release(&e);
}

static void test_image_healthcheck_is_the_gate(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "ahc", "nginx", "development");
	/* /nope would fail an HTTP gate; the image's HEALTHCHECK passes. */
	char *conf = bg_xasprintf("site: %s\ndomains: [%s]\nimage: bluegreen-test/web:hc\n"
			"port: 8080\nhealth: {path: /nope, interval: 500ms, retries: 30}\n",
			e.site, e.domain);
	char *rel = bg_xasprintf("sites/%s.conf", e.site);
	th_write(e.dir, rel, conf);
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "hc", 3000));
	free(rel);
	free(conf);
	e2e_release(&e);
}

/*
 * The image's HEALTHCHECK is the gate, not just allowed to pass it: web:hc-bad
 * answers /healthz (an HTTP gate on it would pass) but its own HEALTHCHECK
 * asks for /nope (404), so Docker calls it unhealthy and the candidate must
 * fail (exit 5) while v1 keeps serving.
 */
static void test_image_healthcheck_fails_the_gate(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "ahcbad", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	e2e_site(&e, "bluegreen-test/web:hc-bad",
			"health: {path: /healthz, interval: 500ms, timeout: 1s, retries: 16}\n");
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	th_assert_contains(r.err, "did not become healthy");
	th_assert_contains(r.err, "docker health");
	th_run_release(&r);
	char *green = bg_xasprintf("%s-green", e.site);
	/* It does answer /healthz: only Docker's verdict failed it. */
	th_docker(&r, "inspect", "-f", "{{json .Config.Healthcheck.Test}}", green, NULL);
	th_assert_contains(r.out, "/nope");
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	char *live = e2e_edge_live(&e);
	assert_non_null(live);
	assert_string_equal(live, "blue");
	free(live);
	free(green);
	e2e_release(&e);
}

/*
 * A token goes stale when Docker changes between plan and apply, not only
 * the files: a managed container stopped outside bluegreen.
 */
static void test_stale_by_docker(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "astale", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	assert_non_null(tok);
	char *blue = bg_xasprintf("%s-blue", e.site);
	assert_int_equal(th_docker(&r, "stop", "-t", "1", blue, NULL), 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 3);
	th_assert_contains(r.err, "is stale");
	/* The plan shown is the new one, with the drift in it. */
	char *fresh = th_plan_token(r.out);
	assert_non_null(fresh);
	assert_string_not_equal(fresh, tok);
	char *drift = bg_xasprintf("drift: live %s is exited", blue);
	th_assert_contains(r.out, drift);
	th_run_release(&r);
	/* Nothing was done by the refused apply: green was never created. */
	char *green = bg_xasprintf("%s-green", e.site);
	char *s = e2e_container_state(green);
	assert_string_equal(s, "");
	free(s);
	s = e2e_container_state(blue);
	assert_string_equal(s, "exited");
	free(s);
	free(green);
	free(drift);
	free(fresh);
	free(blue);
	free(tok);
	e2e_release(&e);
}

/* The user@host bluegreen journals as the actor, computed here on our own. */
static char *expected_actor(void)
{
	char host[256] = "localhost";
	/* The real uid's user (SUDO_USER is only a claim, journaled apart). */
	struct passwd *pw = getpwuid(getuid());
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (!pw) {
		return bg_xasprintf("uid %u@%s", (unsigned)getuid(), host);
	}
	return bg_xasprintf("%s@%s", pw->pw_name, host);
}

/*
 * What apply creates: restart policy unless-stopped, the configured stop
 * signal and timeout, and every SPEC §4 label with the right value.
 */
static void test_container_properties(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "aprops", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", "stop_signal: SIGQUIT\n");
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	char *blue = bg_xasprintf("%s-blue", e.site);
	assert_int_equal(th_docker(&r, "inspect", "-f",
			"{{.HostConfig.RestartPolicy.Name}}|{{.Config.StopSignal}}|"
			"{{.Config.StopTimeout}}", blue, NULL), 0);
	assert_string_equal(r.out, "unless-stopped|SIGQUIT|2\n");
	th_run_release(&r);
	const char *labels[][2] = {{"io.bluegreen.managed", "true"},
			{"io.bluegreen.site", e.site}, {"io.bluegreen.colour", "blue"},
			{"io.bluegreen.version", "1"}, {"io.bluegreen.plan", tok}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(labels); i++) {
		char *fmt = bg_xasprintf("{{index .Config.Labels \"%s\"}}", labels[i][0]);
		assert_int_equal(th_docker(&r, "inspect", "-f", fmt, blue, NULL), 0);
		char *want = bg_xasprintf("%s\n", labels[i][1]);
		if (strcmp(r.out, want) != 0) {
			fail_msg("label %s is '%s', want '%s'", labels[i][0], r.out, labels[i][1]);
		}
		free(want);
		free(fmt);
		th_run_release(&r);
	}
	/* The spec label: a SHA-256 in hex. */
	assert_int_equal(th_docker(&r, "inspect", "-f",
			"{{index .Config.Labels \"io.bluegreen.spec\"}}", blue, NULL), 0);
	assert_int_equal(strlen(r.out), 65);
	assert_int_equal(strspn(r.out, "0123456789abcdef"), 64);
	th_run_release(&r);
	free(blue);
	free(tok);
	e2e_release(&e);
}

/*
 * Progress is shown live on a terminal: the health gate's transient
 * "healthy 0/1, try N/M" line, rewritten in place. Without a terminal no
 * such line is printed at all (logs stay clean).
 */
static void test_progress_on_a_terminal(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "aprog", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:bad", "health: {path: /healthz, interval: 300ms, retries: 4}\n");
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	char *argv[] = {getenv("BG_BINARY"), "-c", e.dir, "apply", tok, NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	assert_int_equal(th_run_pty(argv, env, &r), 5);
	th_assert_contains(r.out, "healthy 0/1, try 1/4");
	th_assert_contains(r.out, "healthy 0/1, try 3/4");
	th_assert_contains(r.out, "\r\033[K"); /* rewritten in place */
	th_run_release(&r);
	/* Through pipes (same failing gate, a new plan): no transient line. */
	free(tok);
	tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 5);
	th_assert_not_contains(r.out, ", try ");
	th_assert_not_contains(r.err, ", try ");
	th_assert_not_contains(r.err, "\033[");
	th_assert_contains(r.err, "did not become healthy");
	th_run_release(&r);
	free(tok);
	e2e_release(&e);
}

/*
 * strategy.promote: auto with keep_previous: false, end to end: one apply
 * creates the candidate, gates it, switches, then drains and removes the
 * old colour. The next plan has nothing to do.
 */
static void test_promote_auto(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "aauto", "nginx", "development");
	const char *strat = "strategy: {promote: auto, keep_previous: false}\n";
	e2e_site(&e, "bluegreen-test/web:v1", strat);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	e2e_site(&e, "bluegreen-test/web:v2", strat);
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	/* One apply: the gate, the switch and the removal of the old colour. */
	th_assert_contains(r.out, "health");
	th_assert_contains(r.out, "switch");
	th_assert_contains(r.out, "drain");
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	char *live = e2e_edge_live(&e);
	assert_non_null(live);
	assert_string_equal(live, "green");
	free(live);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "");
	free(s);
	free(blue);
	free(tok);
	tok = e2e_plan(&e, &st);
	assert_int_equal(st, 0);
	free(tok);
	e2e_release(&e);
}

/*
 * `rollback SITE` without --yes: a plan and its token, nothing done;
 * `apply TOKEN` of it rolls back. The history's rollback entry names who.
 */
static void test_rollback_plan_then_apply(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "arbplan", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0); /* candidate */
	assert_int_equal(e2e_plan_apply(&e, NULL), 0); /* switch */
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));

	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, NULL), 2);
	char *tok = th_plan_token(r.out);
	assert_non_null(tok);
	th_assert_contains(r.out, "live: green v2 -> blue v1");
	th_run_release(&r);
	/* Only printed: still v2. */
	assert_true(e2e_wait_body(&e, e.domain, "v2", 1000));
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "green");
	free(live);

	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);
	/* The journal: a rollback by user@host, with that token. */
	assert_int_equal(e2e_bg(&e, &r, "--json", "history", e.site, NULL), 0);
	char *actor = expected_actor();
	char *want = bg_xasprintf("\"actor\":\"%s\",\"action\":\"rollback\",\"site\":\"%s\","
			"\"token\":\"%s\"", actor, e.site, tok);
	th_assert_contains(r.out, want);
	free(want);
	free(actor);
	th_run_release(&r);
	/* v2 is rejected: not proposed again. */
	int st;
	char *t2 = e2e_plan(&e, &st);
	assert_int_equal(st, 0);
	free(t2);
	free(tok);
	e2e_release(&e);
}

/*
 * Exit 5 is not only a health gate: an edge reload that fails (reload:
 * [false]) and a pull that fails. The cause reaches stderr (the engine's
 * own words for the pull) and the live colour is untouched.
 */
static void test_exit_5_other_failures(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "afail5", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0); /* candidate */

	/* The switch with a reload that fails. */
	char *edge = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e.dir, e.site);
	char *before = th_read(edge);
	char *y = th_nginx_edge_yaml(e.port);
	char *bad = bg_xasprintf("%s", y);
	char *rl = strstr(bad, "    reload: [");
	assert_non_null(rl);
	*rl = '\0';
	struct bg_buf g = BG_BUF_INIT;
	bg_buf_addf(&g, "install_mode: development\nstate_dir: state\nedge:\n  kind: nginx\n"
			"  network: %s\n%s    reload: [\"false\"]\n", e.edge_net, bad);
	th_write(e.dir, "global.conf", g.data);
	bg_buf_release(&g);
	/* The candidate's file already lists green (its preview): that switch
	 * alone is a flag change and never runs the reload (issue 11). A
	 * changed edge setting makes this switch write the file and reload. */
	e2e_site(&e, "bluegreen-test/web:v2", "edge: {max_body: 32m}\n");
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	th_assert_contains(r.err, "nginx reload 'false' failed (exit 1)");
	char *still = bg_xasprintf("live now: %s: blue", e.site);
	th_assert_contains(r.err, still);
	free(still);
	th_run_release(&r);
	char *after = th_read(edge);
	assert_string_equal(before, after); /* the old file is back */
	free(after);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);
	e2e_global(&e, NULL);

	/* A pull that fails: the engine's message, word for word. */
	const char *img = "127.0.0.1:9/bluegreen-test/nope:1";
	th_docker(&r, "pull", img, NULL);
	assert_int_not_equal(r.status, 0);
	char *msg = strstr(r.err, "Error response from daemon: ");
	assert_non_null(msg);
	msg = bg_xstrndup(msg + strlen("Error response from daemon: "),
			strcspn(msg + strlen("Error response from daemon: "), "\n"));
	th_run_release(&r);
	e2e_site(&e, img, NULL);
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	print_message("# engine: %s\n", msg);
	th_assert_contains(r.err, msg);
	still = bg_xasprintf("live now: %s: blue", e.site);
	th_assert_contains(r.err, still);
	free(still);
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));
	live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);
	free(msg);
	free(bad);
	free(y);
	free(before);
	free(edge);
	e2e_release(&e);
}

int main(void)
{
#ifndef BG_FAULT_INJECTION
	/* The kill test needs apply's kill points (meson -Dfault_injection=true). */
	if (th_ci()) {
		printf("Bail out! built without -Dfault_injection=true: the kill test cannot run\n");
		return 1;
	}
	printf("# built without -Dfault_injection=true: test_kill_at_every_step left out\n");
#endif
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_story_under_load, e2e_teardown),
		cmocka_unit_test_teardown(test_failing_candidate, e2e_teardown),
		cmocka_unit_test_teardown(test_tokens, e2e_teardown),
		cmocka_unit_test_teardown(test_confirm_and_install_mode, e2e_teardown),
		cmocka_unit_test_teardown(test_one_converger, e2e_teardown),
#ifdef BG_FAULT_INJECTION
		cmocka_unit_test_teardown(test_kill_at_every_step, e2e_teardown),
#endif
		cmocka_unit_test_teardown(test_traefik_contract, e2e_teardown),
		cmocka_unit_test_teardown(test_services_and_volumes, e2e_teardown),
		cmocka_unit_test_teardown(test_image_healthcheck_is_the_gate, e2e_teardown),
		cmocka_unit_test_teardown(test_image_healthcheck_fails_the_gate, e2e_teardown),
		cmocka_unit_test_teardown(test_stale_by_docker, e2e_teardown),
		cmocka_unit_test_teardown(test_container_properties, e2e_teardown),
		cmocka_unit_test_teardown(test_progress_on_a_terminal, e2e_teardown),
		cmocka_unit_test_teardown(test_promote_auto, e2e_teardown),
		cmocka_unit_test_teardown(test_rollback_plan_then_apply, e2e_teardown),
		cmocka_unit_test_teardown(test_exit_5_other_failures, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
