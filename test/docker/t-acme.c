/*
 * t-acme: automatic HTTPS on the nginx edge, for real (issue 11, ADR
 * 0015). Debian's pebble (Let's Encrypt's test ACME server) and
 * pebble-challtestsrv (its DNS: every name is 127.0.0.1 unless told
 * otherwise) run on free loopback ports, with a CA and a certificate for
 * pebble's own HTTPS listener made here by openssl; pebble validates
 * http-01 on the test nginx's port. The real certbot, nginx and bluegreen
 * binary do the rest:
 *
 *   - a site with tls auto: the plan says "certificate requested for ...
 *     via ACME http-01"; apply issues it; the real nginx serves HTTPS that
 *     `curl --cacert <pebble's root>` validates; status shows days left;
 *   - renew_days above the certificate's validity: the plan says "renew",
 *     apply replaces it (a new serial is served) while a loop of HTTPS
 *     requests sees no failure;
 *   - a domain pebble cannot validate (its DNS answers 127.0.0.2, where
 *     nothing listens): apply says the certificate failed, naming the
 *     domain, the rest of the plan ran, the site keeps serving, and the
 *     next plan proposes the request again.
 *
 * Needs: dockerd, nginx, curl, openssl, certbot, pebble; images from
 * test/images/build.sh.
 */
#include "bg.h"
#include "e2e.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The ACME side: pebble, its DNS, and where their files are. */
struct acme {
	char *dir;           /* E2E_DIR/pebble */
	pid_t cts, pebble;
	int acme_port, mgmt_port, dns_port, cts_port, tls_port;
	char *ca;            /* the CA of pebble's own listener (certbot, curl) */
	char *root;          /* pebble's issuing root (curl checks the site with it) */
};

/* Static, not a local of the test: the teardown stops it after a failed
 * assertion, when the test function's frame is gone. */
static struct acme the_acme;
static bool acme_running;

static void run_ok(char *const argv[])
{
	struct th_run r;
	int st = th_run_argv(argv, NULL, &r);
	if (st != 0) {
		th_print_error("%s exited %d:\n%s\n%s\n", argv[0], st, r.out, r.err);
	}
	assert_int_equal(st, 0);
	th_run_release(&r);
}

/* A CA and a certificate for 127.0.0.1 signed by it, for pebble's HTTPS. */
static void acme_certs(struct acme *a)
{
	char *cakey = bg_xasprintf("%s/ca.key", a->dir);
	char *key = bg_xasprintf("%s/key.pem", a->dir);
	char *csr = bg_xasprintf("%s/csr.pem", a->dir);
	char *cert = bg_xasprintf("%s/cert.pem", a->dir);
	char *ext = bg_xasprintf("%s/ext.cnf", a->dir);
	a->ca = bg_xasprintf("%s/ca.pem", a->dir);
	th_write(a->dir, "ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
	char *ca_argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
		cakey, "-out", a->ca, "-days", "2", "-subj", "/CN=bluegreen test pebble CA", NULL};
	run_ok(ca_argv);
	char *req_argv[] = {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
		"-out", csr, "-subj", "/CN=localhost", NULL};
	run_ok(req_argv);
	char *sign_argv[] = {"openssl", "x509", "-req", "-in", csr, "-CA", a->ca, "-CAkey", cakey,
		"-set_serial", "1", "-out", cert, "-days", "2", "-extfile", ext, NULL};
	run_ok(sign_argv);
	free(cakey);
	free(key);
	free(csr);
	free(cert);
	free(ext);
}

/* GET url with curl trusting ca; status (-1: no answer), body in *body (may be NULL). */
static int https_get(const char *ca, const char *url, const char *resolve, char **body)
{
	struct th_run r;
	char *argv[16] = {"curl", "-sS", "--max-time", "5", "--cacert", (char *)ca, "-o", "-",
		"-w", "\n%{http_code}"};
	size_t n = 10;
	if (resolve) {
		argv[n++] = "--resolve";
		argv[n++] = (char *)resolve;
	}
	argv[n++] = (char *)url;
	argv[n] = NULL;
	int code = -1;
	if (th_run_argv(argv, NULL, &r) == 0) {
		char *nl = strrchr(r.out, '\n');
		code = nl ? atoi(nl + 1) : -1;
		if (nl && body) {
			*nl = '\0';
			size_t len = strlen(r.out);
			while (len && (r.out[len - 1] == '\n' || r.out[len - 1] == '\r')) {
				r.out[--len] = '\0';
			}
			*body = bg_xstrdup(r.out);
		}
	}
	th_run_release(&r);
	return code;
}

static void acme_start(struct acme *a, const char *e2e_dir, int http_port)
{
	memset(a, 0, sizeof(*a));
	acme_running = true;
	a->dir = bg_xasprintf("%s/pebble", e2e_dir);
	th_write(a->dir, ".keep", "");
	acme_certs(a);
	a->acme_port = th_free_port();
	a->mgmt_port = th_free_port();
	a->dns_port = th_free_port();
	a->cts_port = th_free_port();
	a->tls_port = th_free_port();
	char *conf = bg_xasprintf("{\"pebble\": {\"listenAddress\": \"127.0.0.1:%d\", "
			"\"managementListenAddress\": \"127.0.0.1:%d\", \"certificate\": "
			"\"%s/cert.pem\", \"privateKey\": \"%s/key.pem\", \"httpPort\": %d, "
			"\"tlsPort\": %d, \"ocspResponderURL\": \"\", "
			"\"externalAccountBindingRequired\": false}}\n", a->acme_port,
			a->mgmt_port, a->dir, a->dir, http_port, th_free_port());
	th_write(a->dir, "pebble.json", conf);
	free(conf);
	char *dns = bg_xasprintf("127.0.0.1:%d", a->dns_port);
	char *mgmt = bg_xasprintf("127.0.0.1:%d", a->cts_port);
	char *cts_log = bg_xasprintf("%s/challtestsrv.log", a->dir);
	char *cts_argv[] = {"pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dns01", dns, "-http01", "", "-tlsalpn01", "", "-https01", "", "-management", mgmt,
		NULL};
	a->cts = th_spawn_bg(cts_argv, NULL, cts_log);
	char *pconf = bg_xasprintf("%s/pebble.json", a->dir);
	char *plog = bg_xasprintf("%s/pebble.log", a->dir);
	char *p_argv[] = {"pebble", "-config", pconf, "-dnsserver", dns, NULL};
	char *p_env[] = {"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0",
		NULL};
	a->pebble = th_spawn_bg(p_argv, p_env, plog);
	/* Up when its directory answers; then its root, which signs what it issues. */
	char *dir_url = bg_xasprintf("https://127.0.0.1:%d/dir", a->acme_port);
	char *root_url = bg_xasprintf("https://127.0.0.1:%d/roots/0", a->mgmt_port);
	char *root = NULL;
	int code = -1;
	for (int i = 0; i < 100 && code != 200; i++) {
		usleep(100 * 1000);
		code = https_get(a->ca, dir_url, NULL, NULL);
	}
	if (code != 200) {
		th_print_error("pebble did not answer:\n%s\n", th_read(plog));
	}
	assert_int_equal(code, 200);
	assert_int_equal(https_get(a->ca, root_url, NULL, &root), 200);
	th_assert_contains(root, "BEGIN CERTIFICATE");
	th_write(a->dir, "root.pem", root);
	a->root = bg_xasprintf("%s/root.pem", a->dir);
	free(root);
	free(dir_url);
	free(root_url);
	free(pconf);
	free(plog);
	free(cts_log);
	free(dns);
	free(mgmt);
}

static void acme_stop(struct acme *a)
{
	pid_t pids[] = {a->pebble, a->cts};
	for (size_t i = 0; i < BG_ARRAY_SIZE(pids); i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
	free(a->dir);
	free(a->ca);
	free(a->root);
	memset(a, 0, sizeof(*a));
	acme_running = false;
}

static int teardown(void **state)
{
	if (acme_running) {
		acme_stop(&the_acme);
	}
	return e2e_teardown(state);
}

/* global.conf: the nginx edge with an HTTPS listener, and acme pointed at pebble. */
static void acme_global(struct e2e *e, const struct acme *a, unsigned renew_days)
{
	char *extra = bg_xasprintf("    listen_tls: \"127.0.0.1:%d\"\n"
			"acme:\n"
			"  email: ops@example.com\n"
			"  directory: https://127.0.0.1:%d/dir\n"
			"  ca_bundle: %s\n"
			"  dir: acme\n"
			"  renew_days: %u\n", a->tls_port, a->acme_port, a->ca, renew_days);
	e2e_global(e, extra);
	free(extra);
}

/* The site with tls auto, its domain, the extra domains, and the preview host. */
static void acme_site(struct e2e *e, const char *more_domains)
{
	char *rel = bg_xasprintf("sites/%s.conf", e->site);
	char *conf = bg_xasprintf("site: %s\n"
			"domains: [%s%s]\n"
			"preview: %s\n"
			"image: bluegreen-test/web:v1\n"
			"port: 8080\n"
			"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n"
			"stop_timeout: 2s\n"
			"tls: {mode: auto}\n", e->site, e->domain, more_domains ? more_domains : "",
			e->preview);
	th_write(e->dir, rel, conf);
	free(conf);
	free(rel);
}

static char *site_https_url(const struct e2e *e, const struct acme *a, char **resolve)
{
	*resolve = bg_xasprintf("%s:%d:127.0.0.1", e->domain, a->tls_port);
	return bg_xasprintf("https://%s:%d/", e->domain, a->tls_port);
}

/* The serial of the certificate nginx serves for the site (a new string). */
static char *served_serial(const struct e2e *e, const struct acme *a)
{
	struct th_run r;
	char *connect = bg_xasprintf("127.0.0.1:%d", a->tls_port);
	char *argv[] = {"openssl", "s_client", "-connect", connect, "-servername", e->domain,
		"-CAfile", a->root, "-verify_return_error", NULL};
	int st = th_run_argv(argv, NULL, &r);
	if (st != 0) {
		th_print_error("openssl s_client: %s\n%s\n", r.out, r.err);
	}
	assert_int_equal(st, 0);
	const char *b = strstr(r.out, "-----BEGIN CERTIFICATE-----");
	const char *end = b ? strstr(b, "-----END CERTIFICATE-----") : NULL;
	assert_non_null(end);
	char *pem = bg_xasprintf("%.*s-----END CERTIFICATE-----\n", (int)(end - b), b);
	th_write(a->dir, "served.pem", pem);
	th_run_release(&r);
	char *file = bg_xasprintf("%s/served.pem", a->dir);
	char *x_argv[] = {"openssl", "x509", "-noout", "-serial", "-in", file, NULL};
	assert_int_equal(th_run_argv(x_argv, NULL, &r), 0);
	char *serial = bg_xstrndup(r.out, strcspn(r.out, "\n"));
	th_run_release(&r);
	free(file);
	free(pem);
	free(connect);
	return serial;
}

/*
 * A child that GETs the site over HTTPS (validated) until stop_file
 * exists, then writes "OK FAILED" to result_file. Started before a renewal
 * and stopped after it: no request may fail in between.
 */
static pid_t https_loop(const struct e2e *e, const struct acme *a, const char *stop_file,
		const char *result_file)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		return pid;
	}
	char *resolve = NULL;
	char *url = site_https_url(e, a, &resolve);
	unsigned ok = 0, failed = 0;
	while (access(stop_file, F_OK) != 0) {
		char *body = NULL;
		int code = https_get(a->root, url, resolve, &body);
		if (code == 200 && body && strcmp(body, "v1") == 0) {
			ok++;
		} else {
			failed++;
		}
		free(body);
	}
	FILE *f = fopen(result_file, "w");
	if (f) {
		fprintf(f, "%u %u\n", ok, failed);
		fclose(f);
	}
	_exit(0);
}

static void plan_apply_says(struct e2e *e, const char *plan_needle, struct th_run *apply,
		int want_rc)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, plan_needle);
	char *tok = th_plan_token(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	int rc = e2e_bg(e, apply, "apply", tok, NULL);
	if (rc != want_rc) {
		th_print_error("apply exited %d:\n%s\n%s\n", rc, apply->out, apply->err);
	}
	assert_int_equal(rc, want_rc);
	free(tok);
}

/* Issue: plan, apply, HTTPS validated by pebble's root, status in days. */
static char *step_issue(struct e2e *e, const struct acme *a)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "status", NULL), 0);
	th_assert_contains(r.out, "tls: auto, no certificate yet");
	th_run_release(&r);
	char *want = bg_xasprintf("certificate requested for %s, %s via ACME http-01",
			e->preview, e->domain);
	plan_apply_says(e, want, &r, 0);
	if (!strstr(r.out, "certificate issued")) {
		th_print_error("apply:\n%s\n%s\n", r.out, r.err);
	}
	th_assert_contains(r.out, "certificate issued");
	th_run_release(&r);
	free(want);
	char *resolve = NULL, *body = NULL;
	char *url = site_https_url(e, a, &resolve);
	if (https_get(a->root, url, resolve, &body) != 200) {
		char *f = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
		th_print_error("HTTPS refused; the edge file:\n%s\n", th_read(f));
		free(f);
	}
	free(body);
	body = NULL;
	assert_int_equal(https_get(a->root, url, resolve, &body), 200);
	assert_string_equal(body, "v1");
	free(body);
	/* The same listener does not validate against another CA. */
	assert_int_equal(https_get(a->ca, url, resolve, NULL), -1);
	free(url);
	free(resolve);
	assert_int_equal(e2e_bg(e, &r, "status", NULL), 0);
	th_assert_contains(r.out, "tls: auto, certificate valid ");
	th_run_release(&r);
	assert_int_equal(e2e_bg(e, &r, "status", "--json", NULL), 0);
	th_assert_contains(r.out, "\"mode\": \"auto\"");
	th_assert_contains(r.out, "\"certificate\": true");
	th_assert_contains(r.out, "\"days_left\": ");
	th_run_release(&r);
	/* Nothing left to do: the certificate is fresh and served. */
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 0);
	th_assert_not_contains(r.out, "certificate");
	th_run_release(&r);
	return served_serial(e, a);
}

/* Renew: a new serial is served, and no request fails meanwhile. */
static void step_renew(struct e2e *e, const struct acme *a, const char *serial1)
{
	struct th_run r;
	acme_global(e, a, 3650); /* pebble's certificates last 5 years: due now */
	char *stop = bg_xasprintf("%s/loop.stop", a->dir);
	char *result = bg_xasprintf("%s/loop.result", a->dir);
	pid_t loop = https_loop(e, a, stop, result);
	usleep(300 * 1000);
	plan_apply_says(e, "renew: ", &r, 0);
	th_assert_contains(r.out, "certificate renewed");
	th_run_release(&r);
	usleep(300 * 1000);
	th_write(a->dir, "loop.stop", "");
	assert_int_equal(th_wait(loop), 0);
	char *counts = th_read(result);
	unsigned ok = 0, failed = 1;
	assert_int_equal(sscanf(counts, "%u %u", &ok, &failed), 2);
	print_message("# HTTPS during the renewal: %u ok, %u failed\n", ok, failed);
	assert_int_equal(failed, 0);
	assert_true(ok > 3);
	char *serial2 = served_serial(e, a);
	print_message("# served %s, then %s\n", serial1, serial2);
	assert_string_not_equal(serial1, serial2);
	free(serial2);
	free(counts);
	free(stop);
	free(result);
	acme_global(e, a, 30);
}

/* A domain pebble cannot reach: a clear failure, the site keeps serving. */
static void step_refused(struct e2e *e, const struct acme *a)
{
	struct th_run r;
	char *bad = bg_xasprintf("bad.%s", e->domain);
	char *more = bg_xasprintf(", %s", bad);
	char *add = bg_xasprintf("{\"host\": \"%s.\", \"addresses\": [\"127.0.0.2\"]}", bad);
	char *url = bg_xasprintf("http://127.0.0.1:%d/add-a", a->cts_port);
	char *argv[] = {"curl", "-sS", "--fail", "-d", add, url, NULL};
	run_ok(argv);
	char *serial1 = served_serial(e, a);
	acme_site(e, more);
	plan_apply_says(e, "certificate requested for ", &r, 5);
	char *said = bg_xasprintf("certificate FAILED (the site keeps serving as before): the "
			"ACME server refused %s (connection: ", bad);
	th_assert_contains(r.out, said);
	free(said);
	/* Every other step ran; the apply says what did not (exit 5 above). */
	said = bg_xasprintf("every other step was done; not done: certificate for %s", e->site);
	th_assert_contains(r.err, said);
	free(said);
	th_run_release(&r);
	/* Still served, with the certificate it had. */
	char *resolve = NULL, *body = NULL;
	char *surl = site_https_url(e, a, &resolve);
	assert_int_equal(https_get(a->root, surl, resolve, &body), 200);
	assert_string_equal(body, "v1");
	char *serial2 = served_serial(e, a);
	assert_string_equal(serial1, serial2);
	/* The journal says so, and the next plan asks again. */
	assert_int_equal(e2e_bg(e, &r, "history", NULL), 0);
	char *line = strstr(r.out, "the ACME server refused ");
	assert_non_null(line);
	line = bg_xstrndup(line, strcspn(line, "\n"));
	th_assert_contains(line, bad);
	th_assert_contains(line, "connection refused");
	free(line);
	th_run_release(&r);
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "certificate requested for ");
	th_assert_contains(r.out, bad);
	th_run_release(&r);
	free(serial1);
	free(serial2);
	free(body);
	free(surl);
	free(resolve);
	free(url);
	free(add);
	free(more);
	free(bad);
}

static void test_acme_issue_renew_refused(void **state)
{
	(void)state;
	struct e2e e;
	struct acme *a = &the_acme;
	e2e_init(&e, "acme", "nginx", "development");
	/* nginx's workers (nobody) read the challenge webroot under it. */
	assert_int_equal(chmod(e.dir, 0755), 0);
	acme_start(a, e.dir, e.port);
	acme_global(&e, a, 30);
	acme_site(&e, NULL);
	char *serial = step_issue(&e, a);
	step_renew(&e, a, serial);
	step_refused(&e, a);
	free(serial);
	acme_stop(a);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_acme_issue_renew_refused, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
