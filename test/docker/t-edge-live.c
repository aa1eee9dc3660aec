/*
 * t-edge-live: the edge a real site needs (issue 11), end to end through
 * real Docker, the real bluegreen binary and a real nginx edge:
 *
 *   - WebSockets (bluegreen-test/ws, python3-websockets): a connection
 *     opened on v1 answers "v1: ..." and keeps answering "v1: ..." after
 *     the switch to v2 (nginx's old worker and the old colour keep it),
 *     while a new connection answers "v2: ...";
 *   - uploads: a 20 MB POST reaches the container whole (its byte count
 *     answered) under the default edge.max_body, and gets 413 from nginx
 *     with edge.max_body: 1m (a smaller one still passes);
 *   - preview protection: with preview_allow [10.0.0.0/8] the test's own
 *     127.0.0.1 is not listed, so the preview host asks for preview_auth's
 *     credentials (401 without or with a wrong password, 200 with them), and
 *     without preview_auth it is 403; the live host is never protected;
 *   - HTTPS with tls: {mode: files} (a self-signed certificate made with
 *     openssl): curl trusting that certificate gets the live colour over
 *     HTTPS (and the new one after a switch), with HSTS; HTTP answers 308
 *     to https.
 *
 * Each part deploys its own site with its own nginx (e2e.h). The ws images
 * are built here (test/images/build.sh ws: mmdebstrap, cached by input
 * hash), not in the preamble, which every docker test runs.
 *
 * Needs: dockerd, nginx (ssl, auth_basic), curl, openssl, mmdebstrap,
 * /usr/bin/python3 with python3-websockets; root (the preview's password
 * file is given to the nginx workers' group, nogroup here).
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UPLOAD_BYTES (20 * 1024 * 1024)

static pid_t ws_pid; /* the long-lived WebSocket client, killed by the teardown */

static int teardown(void **state)
{
	if (ws_pid > 0) {
		kill(ws_pid, SIGKILL);
		waitpid(ws_pid, NULL, 0);
		ws_pid = 0;
	}
	return e2e_teardown(state);
}

/* The nginx workers run as nobody:nogroup (th's nginx.conf has no `user`):
 * they must enter the config directory to read the preview's htpasswd. */
static void live_init(struct e2e *e, const char *tag)
{
	e2e_init(e, tag, "nginx", "development");
	assert_int_equal(chmod(e->dir, 0711), 0);
}

/* ---- WebSockets ---- */

static char *ws_client_path(void)
{
	return th_src_path("test/docker/ws-client.py");
}

/* One message on a new connection to host: the answer line ("error: ..." on failure). */
static char *ws_once(struct e2e *e, const char *host, const char *msg)
{
	char *py = ws_client_path();
	char *port = bg_xasprintf("%d", e->port);
	char *argv[] = {"/usr/bin/python3", py, port, (char *)host, "-", (char *)msg, NULL};
	struct th_run r;
	th_run_argv(argv, NULL, &r);
	char *out = bg_xstrdup(r.out);
	out[strcspn(out, "\n")] = '\0';
	if (r.status != 0) {
		th_print_error("ws-client exited %d:\n%s\n%s\n", r.status, r.out, r.err);
	}
	th_run_release(&r);
	free(port);
	free(py);
	return out;
}

/* Wait until the file has at least `lines` lines (or the client exited). */
static char *ws_wait_lines(const char *path, size_t lines, int ms)
{
	for (int waited = 0;; waited += 50) {
		char *data = NULL;
		if (bg_file_read(path, 1 << 16, &data, NULL) == 0 &&
				(th_count(data, "\n") >= lines || strstr(data, "error:") ||
				waited >= ms || !th_running(ws_pid, NULL))) {
			return data;
		}
		if (waited >= ms) {
			return data ? data : bg_xstrdup("");
		}
		free(data);
		usleep(50 * 1000);
	}
}

static void test_websocket_across_switch(void **state)
{
	(void)state;
	struct e2e e;
	live_init(&e, "ws");
	e2e_site(&e, "bluegreen-test/ws:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 5000));

	/* A connection opened on v1, held open across the switch. */
	char *py = ws_client_path();
	char *port = bg_xasprintf("%d", e.port);
	char *flag = bg_xasprintf("%s/ws-flag", e.dir);
	char *out = bg_xasprintf("%s/ws-held.txt", e.dir);
	char *argv[] = {"/usr/bin/python3", py, port, e.domain, flag, "before", "after", NULL};
	ws_pid = th_spawn_bg(argv, NULL, out);
	char *got = ws_wait_lines(out, 1, 15000);
	if (strcmp(got, "v1: before\n") != 0) {
		fail_msg("WebSocket through the nginx edge on v1: expected \"v1: before\", got \"%s\"",
				got);
	}
	free(got);

	/* v2 as candidate, then the switch. */
	e2e_site(&e, "bluegreen-test/ws:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.preview, "v2", 5000));
	/* The preview host passes WebSockets too (loopback: allowed by default). */
	got = ws_once(&e, e.preview, "preview");
	assert_string_equal(got, "v2: preview");
	free(got);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *live = e2e_edge_live(&e);
	assert_non_null(live);
	assert_string_equal(live, "green");
	free(live);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));

	/* The held connection still talks to v1... */
	th_write(e.dir, "ws-flag", "");
	got = ws_wait_lines(out, 2, 15000);
	if (strcmp(got, "v1: before\nv1: after\n") != 0) {
		fail_msg("the WebSocket opened before the switch: expected \"v1: before\\nv1: "
				"after\\n\", got \"%s\"", got);
	}
	free(got);
	assert_int_equal(th_wait(ws_pid), 0);
	ws_pid = 0;
	/* ...and a new one goes to v2. */
	got = ws_once(&e, e.domain, "hello");
	assert_string_equal(got, "v2: hello");
	free(got);

	free(out);
	free(flag);
	free(port);
	free(py);
	e2e_release(&e);
}

/* ---- uploads ---- */

/* POST the file to /cgi-bin/upload on host; returns the status, *body. */
static int upload(struct e2e *e, const char *host, const char *file, char **body)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/cgi-bin/upload", e->port);
	char *hdr = bg_xasprintf("Host: %s", host);
	char *data = bg_xasprintf("@%s", file);
	char *args[] = {"-H", hdr, "-H", "Content-Type: application/octet-stream",
			"--data-binary", data, url, NULL};
	int code = e2e_curl(args, body, NULL);
	free(data);
	free(hdr);
	free(url);
	return code;
}

static char *make_file(struct e2e *e, const char *name, size_t bytes)
{
	char *path = bg_xasprintf("%s/%s", e->dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	char block[65536];
	memset(block, 'u', sizeof(block));
	for (size_t left = bytes; left;) {
		size_t n = left < sizeof(block) ? left : sizeof(block);
		assert_int_equal(fwrite(block, 1, n, f), n);
		left -= n;
	}
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_upload_max_body(void **state)
{
	(void)state;
	struct e2e e;
	live_init(&e, "body");
	char *big = make_file(&e, "big.bin", UPLOAD_BYTES);
	char *small = make_file(&e, "small.bin", 512 * 1024);

	/* Default edge.max_body (64m): 20 MB reach the container whole. */
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 5000));
	char *body = NULL;
	int code = upload(&e, e.domain, big, &body);
	if (code != 200 || !body || strcmp(body, "20971520") != 0) {
		fail_msg("20 MB POST with the default max_body: %d \"%s\" (want 200 \"20971520\")",
				code, body);
	}
	free(body);

	/* edge.max_body: 1m: nginx refuses the same POST (413); 512 KiB pass. */
	e2e_site(&e, "bluegreen-test/web:v1", "edge: {max_body: 1m}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_int_equal(upload(&e, e.domain, big, &body), 413);
	free(body);
	code = upload(&e, e.domain, small, &body);
	assert_int_equal(code, 200);
	assert_string_equal(body, "524288");
	free(body);

	free(small);
	free(big);
	e2e_release(&e);
}

/* ---- preview protection ---- */

/* GET / on the preview host, with credentials "user:password" or none. */
static int preview_get(struct e2e *e, const char *cred, char **body)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/", e->port);
	char *hdr = bg_xasprintf("Host: %s", e->preview);
	char *with[] = {"-H", hdr, "-u", (char *)cred, url, NULL};
	char *without[] = {"-H", hdr, url, NULL};
	int code = e2e_curl(cred ? with : without, body, NULL);
	free(hdr);
	free(url);
	return code;
}

static void assert_preview(struct e2e *e, const char *cred, int want, const char *want_body)
{
	char *body = NULL;
	int code = preview_get(e, cred, &body);
	if (code != want || (want_body && (!body || strcmp(body, want_body) != 0))) {
		char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
		char *conf = NULL;
		bg_file_read(path, 1 << 20, &conf, NULL);
		th_print_error("the site's nginx file:\n%s\n", conf ? conf : "(none)");
		free(conf);
		free(path);
		char *pwf = bg_xasprintf("%s/auth/%s.htpasswd", e->dir, e->site);
		th_print_error("the preview's password file %s %s\n", pwf,
				access(pwf, F_OK) == 0 ? "exists" : "does not exist");
		free(pwf);
		fail_msg("preview %s credentials: %d \"%s\", want %d%s%s", cred ? "with" : "without",
				code, body, want, want_body ? " " : "",
				want_body ? want_body : "");
	}
	free(body);
}

/* The live host answers want (it is never protected), or the test fails saying what it got. */
static void assert_live(struct e2e *e, const char *want)
{
	if (e2e_wait_body(e, e->domain, want, 2000)) {
		return;
	}
	char *body = NULL;
	int code = e2e_get(e, e->domain, &body);
	fail_msg("live host %s: %d \"%s\", want 200 \"%s\"", e->domain, code,
			body ? body : "(curl failed)", want);
}

/*
 * v1 live and v2 the candidate on the preview host, with these site keys.
 * (The plan after a candidate is the switch: each protection is tried on
 * a site deployed afresh, never by editing the keys of a pending one.)
 */
static void deploy_candidate(struct e2e *e, const char *extra)
{
	e2e_site(e, "bluegreen-test/web:v1", extra);
	assert_int_equal(e2e_plan_apply(e, NULL), 0);
	assert_live(e, "v1");
	e2e_site(e, "bluegreen-test/web:v2", extra);
	assert_int_equal(e2e_plan_apply(e, NULL), 0);
	char *live = e2e_edge_live(e);
	assert_non_null(live);
	assert_string_equal(live, "blue");
	free(live);
}

static void test_preview_protection(void **state)
{
	(void)state;
	struct e2e e;
	live_init(&e, "prev");
	/* The workers run as nobody:nogroup; the auth files live in the test's dir. */
	e2e_global_nginx(&e, "    group: nogroup\n    auth_dir: auth\n", NULL);
	th_write(e.dir, "preview.pw", "s3cret-preview\n");
	char *pw = bg_xasprintf("%s/preview.pw", e.dir);
	assert_int_equal(chmod(pw, 0600), 0);
	free(pw);

	/* 127.0.0.1 is not in 10.0.0.0/8: credentials or nothing. */
	deploy_candidate(&e, "preview_allow: [10.0.0.0/8]\n"
			"preview_auth: {user: reviewer, password_file: preview.pw}\n");
	assert_preview(&e, NULL, 401, NULL);
	assert_preview(&e, "reviewer:wrong", 401, NULL);
	assert_preview(&e, "someone:s3cret-preview", 401, NULL);
	assert_preview(&e, "reviewer:s3cret-preview", 200, "v2");
	/* The live host is not the preview: open. */
	assert_live(&e, "v1");

	/* Without preview_auth, an unlisted network is refused outright. */
	e2e_reset_site(&e);
	deploy_candidate(&e, "preview_allow: [10.0.0.0/8]\n");
	assert_preview(&e, NULL, 403, NULL);
	assert_preview(&e, "reviewer:s3cret-preview", 403, NULL);
	assert_live(&e, "v1");

	/* The default list (loopback) lets the test in. */
	e2e_reset_site(&e);
	deploy_candidate(&e, NULL);
	assert_preview(&e, NULL, 200, "v2");
	e2e_release(&e);
}

/* ---- HTTPS ---- */

/* GET https://DOMAIN:port/ trusting cert, resolved to 127.0.0.1. */
static int https_get(struct e2e *e, int port, const char *cert, char **body, char **hsts)
{
	char *url = bg_xasprintf("https://%s:%d/", e->domain, port);
	char *resolve = bg_xasprintf("%s:%d:127.0.0.1", e->domain, port);
	char *hdrs = bg_xasprintf("%s/https-headers.txt", e->dir);
	char *args[] = {"--cacert", (char *)cert, "--resolve", resolve, "-D", hdrs, url, NULL};
	int code = e2e_curl(args, body, NULL);
	if (hsts) {
		char *h = NULL;
		*hsts = NULL;
		if (bg_file_read(hdrs, 1 << 16, &h, NULL) == 0) {
			const char *p = strcasestr(h, "\nstrict-transport-security: ");
			if (p) {
				p += strlen("\nstrict-transport-security: ");
				*hsts = bg_xstrndup(p, strcspn(p, "\r\n"));
			}
		}
		free(h);
	}
	free(hdrs);
	free(resolve);
	free(url);
	return code;
}

static bool https_wait(struct e2e *e, int port, const char *cert, const char *want, int ms)
{
	for (int waited = 0; waited <= ms; waited += 100) {
		char *body = NULL;
		int code = https_get(e, port, cert, &body, NULL);
		bool ok = code == 200 && body && strcmp(body, want) == 0;
		free(body);
		if (ok) {
			return true;
		}
		usleep(100 * 1000);
	}
	return false;
}

/* A self-signed certificate for the domain and the preview host (openssl, argv). */
static void make_cert(struct e2e *e)
{
	char *key = bg_xasprintf("%s/tls/site.key", e->dir);
	char *crt = bg_xasprintf("%s/tls/site.crt", e->dir);
	char *subj = bg_xasprintf("/CN=%s", e->domain);
	char *san = bg_xasprintf("subjectAltName=DNS:%s,DNS:%s", e->domain, e->preview);
	th_write(e->dir, "tls/.keep", "");
	char *argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
			"-out", crt, "-days", "2", "-subj", subj, "-addext", san, NULL};
	struct th_run r;
	if (th_run_argv(argv, NULL, &r) != 0) {
		fail_msg("openssl req exited %d: %s", r.status, r.err);
	}
	th_run_release(&r);
	assert_int_equal(chmod(key, 0600), 0);
	free(san);
	free(subj);
	free(crt);
	free(key);
}

static void test_https_files(void **state)
{
	(void)state;
	struct e2e e;
	live_init(&e, "tls");
	int tls_port = th_free_port();
	char *nginx = bg_xasprintf("    listen_tls: \"127.0.0.1:%d\"\n", tls_port);
	e2e_global_nginx(&e, nginx, NULL);
	free(nginx);
	make_cert(&e);
	char *crt = bg_xasprintf("%s/tls/site.crt", e.dir);
	const char *tls = "tls: {mode: files, cert: tls/site.crt, key: tls/site.key, hsts: 300}\n";
	e2e_site(&e, "bluegreen-test/web:v1", tls);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);

	/* HTTPS serves the live colour, with the certificate we made. */
	if (!https_wait(&e, tls_port, crt, "v1", 5000)) {
		char *body = NULL;
		int code = https_get(&e, tls_port, crt, &body, NULL);
		fail_msg("https://%s:%d/ answers %d \"%s\", want 200 \"v1\"", e.domain, tls_port,
				code, body);
	}
	char *body = NULL, *hsts = NULL;
	assert_int_equal(https_get(&e, tls_port, crt, &body, &hsts), 200);
	assert_non_null(hsts);
	assert_string_equal(hsts, "max-age=300");
	free(hsts);
	free(body);

	/* HTTP redirects to HTTPS with 308, the request path kept (the port
	 * may be left out: 443 is what browsers use). */
	char *url = bg_xasprintf("http://127.0.0.1:%d/some/path?q=1", e.port);
	char *hdr = bg_xasprintf("Host: %s", e.domain);
	char *args[] = {"-H", hdr, url, NULL};
	char *loc = NULL;
	assert_int_equal(e2e_curl(args, NULL, &loc), 308);
	char *want = bg_xasprintf("https://%s/some/path?q=1", e.domain);
	char *want_port = bg_xasprintf("https://%s:%d/some/path?q=1", e.domain, tls_port);
	assert_non_null(loc);
	if (strcmp(loc, want) != 0 && strcmp(loc, want_port) != 0) {
		fail_msg("HTTP redirects to \"%s\", want \"%s\" or \"%s\"", loc, want, want_port);
	}
	free(want_port);
	free(want);
	free(loc);
	free(hdr);
	free(url);

	/* After a switch, HTTPS serves the new colour. */
	e2e_site(&e, "bluegreen-test/web:v2", tls);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(https_wait(&e, tls_port, crt, "v1", 2000));
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(https_wait(&e, tls_port, crt, "v2", 5000));

	free(crt);
	e2e_release(&e);
}

/* Is there an executable `name` in PATH? */
static bool in_path(const char *name)
{
	const char *path = getenv("PATH");
	char *copy = bg_xstrdup(path ? path : "/usr/bin:/bin");
	char *save = NULL;
	bool found = false;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *f = bg_xasprintf("%s/%s", d, name);
		found = access(f, X_OK) == 0;
		free(f);
	}
	free(copy);
	return found;
}

/* The ws images: built here, not by every docker test's preamble. */
static void build_ws_images(void)
{
	bool ci = th_ci();
	const char *need[] = {"mmdebstrap", "openssl", "/usr/bin/python3"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(need); i++) {
		if (!in_path(need[i]) && access(need[i], X_OK) != 0) {
			printf(ci ? "Bail out! %s is not installed (./run.sh test installs it)\n"
				  : "1..0 # SKIP %s is not installed (./run.sh test installs it)\n",
					need[i]);
			exit(ci ? 1 : 0);
		}
	}
	struct th_run r;
	char *script = th_src_path("test/images/build.sh");
	char *argv[] = {script, "ws", NULL};
	th_run_argv_ex(argv, NULL, 600000, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build.sh ws failed%s: %s%s\n",
				r.timed_out ? " (timed out after 600 s)" : "", r.out, r.err);
		exit(1);
	}
	th_run_release(&r);
	free(script);
}

int main(void)
{
	th_docker_preamble();
	build_ws_images();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_websocket_across_switch, teardown),
		cmocka_unit_test_teardown(test_upload_max_body, teardown),
		cmocka_unit_test_teardown(test_preview_protection, teardown),
		cmocka_unit_test_teardown(test_https_files, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
