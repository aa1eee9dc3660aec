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
static void hey_result(const char *out, long *ok, long *failures)
{
	const char *p;
	*ok = 0;
	*failures = 0;
	p = strstr(out, "Status code distribution:");
	if (p) {
		for (p = strchr(p, '\n'); p && p[1] == ' '; p = strchr(p + 1, '\n')) {
			long code = 0, n = 0;
			if (sscanf(p + 1, " [%ld] %ld responses", &code, &n) == 2) {
				if (code >= 200 && code < 400) {
					*ok += n;
				} else {
					*failures += n;
				}
			}
		}
	}
	p = strstr(out, "Error distribution:");
	if (p) {
		for (p = strchr(p, '\n'); p && p[1] == ' '; p = strchr(p + 1, '\n')) {
			long n = 0;
			if (sscanf(p + 1, " [%ld]", &n) == 1) {
				*failures += n;
			}
		}
	}
}

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
	hey_result(out, &ok, &fail);
	print_message("# %s under load: %ld requests answered 2xx, %ld failed\n", what, ok, fail);
	if (ok <= 100 || fail != 0) {
		fail_msg("%s: %ld ok, %ld failed:\n%s", what, ok, fail, out);
	}
	free(out);
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
	pid_t w = load_start(&e, e.domain, 4, wout);
	usleep(1000 * 1000);
	char *surl = bg_xasprintf("http://127.0.0.1:%d/cgi-bin/slow", e.port);
	char *shdr = bg_xasprintf("Host: %s", e.domain);
	char *sargv[] = {"curl", "-sS", "--max-time", "10", "-H", shdr, surl, NULL};
	pid_t slow = th_spawn_bg(sargv, NULL, sout);
	usleep(200 * 1000);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	assert_int_equal(th_wait(slow), 0);
	char *slow_body = th_read(sout);
	/* Started on v1 before the switch: it finished there, not cut. */
	assert_string_equal(slow_body, "v1 slow\n");
	free(slow_body);
	load_check(w, wout, "switch");
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));

	/* Rollback, under load: zero failures, and fast. */
	w = load_start(&e, e.domain, 3, wout);
	usleep(1000 * 1000);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL), 0);
	int64_t ms = bg_mono_ms() - t0;
	th_assert_contains(r.out, "rollback of");
	th_run_release(&r);
	load_check(w, wout, "rollback");
	print_message("# rollback --yes took %" PRId64 " ms (process start to exit)\n", ms);
	assert_true(ms < 1000);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));

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
	/* Asking to retry brings v2 back as a switch (the candidate still runs). */
	assert_int_equal(e2e_bg(&e, &r, "plan", "--retry", e.site, NULL), 2);
	th_assert_contains(r.out, "live: blue v1 -> green v2");
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

/* "# bluegreen-live: X" of the site's nginx file, or NULL when there is none. */
static char *edge_live(struct e2e *e)
{
	char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
	char *data = NULL, *live = NULL;
	if (bg_file_read(path, 1 << 20, &data, NULL) == 0) {
		const char *p = strstr(data, "# bluegreen-live: ");
		if (p) {
			p += strlen("# bluegreen-live: ");
			live = bg_xstrndup(p, strcspn(p, "\n"));
		}
	}
	free(data);
	free(path);
	return live;
}

static void reset_site(struct e2e *e)
{
	char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
	char *st = bg_xasprintf("%s/state", e->dir);
	unlink(path);
	th_rm_rf(st);
	th_docker_cleanup_site(e->site);
	th_docker_rm_network(e->edge_net);
	free(st);
	free(path);
}

static void crash_at(struct e2e *e, const char *when, int step)
{
	struct th_run r;
	int st;
	reset_site(e);
	char *tok = e2e_plan(e, &st);
	assert_int_equal(st, 2);
	char *fault = bg_xasprintf("BLUEGREEN_FAULT=%s:%d", when, step);
	char *env[] = {fault, "NO_COLOR=1", NULL};
	char *argv[] = {getenv("BG_BINARY"), "-c", e->dir, "apply", tok, NULL};
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 128 + SIGKILL);
	th_run_release(&r);
	/* The next command reports it; the history opens and holds the start. */
	assert_int_equal(e2e_bg(e, &r, "status", NULL), 0);
	th_assert_contains(r.err, "was interrupted");
	char *live = edge_live(e);
	/* The live colour is what the edge file says. */
	char *line = bg_xasprintf("%-16s %-6s", e->site, live ? live : "-");
	th_assert_contains(r.out, line);
	free(line);
	th_run_release(&r);
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
	th_assert_contains(data, "certResolver: letsencrypt");
	th_assert_contains(data, "websecure");
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

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_story_under_load, e2e_teardown),
		cmocka_unit_test_teardown(test_failing_candidate, e2e_teardown),
		cmocka_unit_test_teardown(test_tokens, e2e_teardown),
		cmocka_unit_test_teardown(test_confirm_and_install_mode, e2e_teardown),
		cmocka_unit_test_teardown(test_one_converger, e2e_teardown),
		cmocka_unit_test_teardown(test_kill_at_every_step, e2e_teardown),
		cmocka_unit_test_teardown(test_traefik_contract, e2e_teardown),
		cmocka_unit_test_teardown(test_services_and_volumes, e2e_teardown),
		cmocka_unit_test_teardown(test_image_healthcheck_is_the_gate, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
