/*
 * t-cockpit-tls: `bluegreen cockpit` as a process, with global.conf's
 * cockpit: key (issue 15): HTTPS from cockpit.tls (a fresh self-signed
 * certificate from the openssl CLI; curl checks it against that
 * certificate), a key readable by its group refused at start with the
 * fix in the message, X-Forwarded-For believed only from
 * cockpit.trusted_proxies (the refusal log's actor shows which address
 * was taken), and --listen overriding cockpit.listen; and (issue 15) the
 * login form's CSRF token over real HTTP: curl's cookie engine logs in
 * through the page's form, while a forged POST /login (the right password
 * and a real form's field, but no form cookie, as a cross-site form
 * sends it) is 403 and logged; and (issue 15) safe mode without a
 * publish directory loads the configuration without its secrets: a site
 * whose env_file and password_file cannot be read (here: missing) does
 * not stop `cockpit --safe`, a bare `cockpit` or `cockpit user list`,
 * while admin mode (and validate) still read them and refuse. No Docker:
 * the cockpit needs only the state directory.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "th.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static pid_t ck_pid = -1;

static int setup(void **state)
{
	dir = th_tmpdir("cockpit-tls");
	return 0;
}

static int teardown(void **state)
{
	if (ck_pid > 0) {
		kill(ck_pid, SIGTERM);
		th_wait(ck_pid);
	}
	ck_pid = -1;
	th_rm_rf(dir);
	free(dir);
	return 0;
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	bg_buf_add(arg, p, sz * n);
	return sz * n;
}

/* A request; returns the HTTP status (0: no answer). */
static long fetch(const char *url, const char *method, const char *xff, const char *cacert)
{
	CURL *c = curl_easy_init();
	struct bg_buf b = BG_BUF_INIT;
	struct curl_slist *h = NULL;
	char *hdr = xff ? bg_xasprintf("X-Forwarded-For: %s", xff) : NULL;
	long code = 0;
	if (hdr) {
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (cacert) {
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	}
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	bg_buf_release(&b);
	free(hdr);
	return code;
}

static void write_global(const char *cockpit)
{
	char *g = bg_xasprintf("install_mode: development\nstate_dir: %s/state\n"
			"edge:\n  kind: nginx\n  nginx:\n    conf_dir: %s/ngx\n%s", dir, dir, cockpit);
	th_write(dir, "global.conf", g);
	th_write(dir, "ngx/.keep", "");
	free(g);
	/* The daemon makes it; here no daemon runs, and the refusal log lives there. */
	char *st = bg_xasprintf("%s/state", dir);
	assert_int_equal(bg_mkdir_p(st, 0700), 0);
	free(st);
}

/* Start the cockpit (extra: its flags); its port, or 0 when it exited (*out gets its output). */
static unsigned start(char *const extra[], char **out)
{
	char *path = bg_xasprintf("%s/cockpit.out", dir);
	char *argv[12] = {getenv("BG_BINARY"), "-c", dir, "cockpit"};
	size_t n = 4;
	for (size_t i = 0; extra && extra[i] && n < 11; i++) {
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	unlink(path);
	ck_pid = th_spawn_bg(argv, NULL, path);
	unsigned port = 0;
	for (int t = 0; t < 100 && !port; t++) {
		usleep(100 * 1000);
		free(*out);
		*out = th_read(path);
		const char *p = *out ? strstr(*out, "listening on port ") : NULL;
		if (p) {
			port = (unsigned)strtoul(p + 18, NULL, 10);
		} else if (waitpid(ck_pid, NULL, WNOHANG) == ck_pid) {
			ck_pid = -1;
			free(*out);
			*out = th_read(path);
			break;
		}
	}
	free(path);
	return port;
}

static void stop(void)
{
	kill(ck_pid, SIGTERM);
	assert_int_equal(th_wait(ck_pid), 0);
	ck_pid = -1;
}

static char *refusals(void)
{
	char *p = bg_xasprintf("%s/state/cockpit-refused.log", dir);
	char *t = th_read(p);
	unlink(p);
	free(p);
	return t ? t : bg_xstrdup("");
}

static void test_tls(void **state)
{
	char *cert = bg_xasprintf("%s/tls/cockpit.crt", dir), *key = bg_xasprintf("%s/tls/cockpit.key", dir);
	char *out = NULL;
	struct th_run r;
	th_write(dir, "tls/.keep", "");
	char *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
		"-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert, NULL};
	th_run_argv(argv, NULL, &r);
	if (r.status != 0) {
		fail_msg("openssl req failed (Debian package openssl): %s", r.err);
	}
	th_run_release(&r);
	/* Relative paths: from the config directory. */
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n  tls:\n    cert: tls/cockpit.crt\n"
			"    key: tls/cockpit.key\n  trusted_proxies: [127.0.0.2/32]\n");

	char *safe[] = {"--safe", NULL};
	chmod(key, 0640);
	assert_int_equal(start(safe, &out), 0);
	th_assert_contains(out, "readable by group or others (mode 0640)");
	th_assert_contains(out, "chmod 600");

	chmod(key, 0600);
	unsigned port = start(safe, &out);
	if (!port) {
		fail_msg("the cockpit did not start with TLS:\n%s", out ? out : "");
	}
	char *https = bg_xasprintf("https://127.0.0.1:%u/", port);
	char *http = bg_xasprintf("http://127.0.0.1:%u/", port);
	/* 503: no daemon has published a snapshot; what matters is that TLS answered. */
	assert_int_equal(fetch(https, "GET", NULL, cert), 503);
	assert_int_equal(fetch(http, "GET", NULL, NULL), 0);
	/* The peer (127.0.0.1) is not a trusted proxy: its X-Forwarded-For is ignored. */
	assert_int_equal(fetch(https, "POST", "203.0.113.7", cert), 403);
	char *log = refusals();
	th_assert_contains(log, "\"actor\": \"cockpit:127.0.0.1\"");
	th_assert_not_contains(log, "203.0.113.7");
	free(log);
	stop();
	free(https);
	free(http);

	/* Trusted: the client is X-Forwarded-For's nearest untrusted hop. --listen wins. */
	write_global("cockpit:\n  listen: \"127.0.0.1:1\"\n  trusted_proxies: [127.0.0.1/32]\n");
	char *extra[] = {"--safe", "--listen", "127.0.0.1:0", NULL};
	port = start(extra, &out);
	if (!port) {
		fail_msg("the cockpit did not start on --listen:\n%s", out ? out : "");
	}
	http = bg_xasprintf("http://127.0.0.1:%u/", port);
	assert_int_equal(fetch(http, "POST", "6.6.6.6, 203.0.113.7", NULL), 403);
	log = refusals();
	th_assert_contains(log, "\"actor\": \"cockpit:203.0.113.7\"");
	th_assert_not_contains(log, "6.6.6.6");
	free(log);
	stop();
	free(http);
	free(out);
	free(cert);
	free(key);
}

/* Without --safe or --admin, global.conf's cockpit.mode decides; cockpit.users names the file. */
static void test_mode_and_users_from_config(void **state)
{
	char *out = NULL;
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n");
	unsigned port = start(NULL, &out);
	if (!port) {
		fail_msg("a bare `bluegreen cockpit` did not start (default mode safe):\n%s",
				out ? out : "");
	}
	th_assert_contains(out, "cockpit: safe mode (read-only)");
	stop();
	/* Admin from the config needs a users file: none in the state directory. */
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n  mode: admin\n");
	assert_int_equal(start(NULL, &out), 0);
	th_assert_contains(out, "cockpit --admin needs a users file");
	/* cockpit.users is the file read (relative: from the config directory). */
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n  mode: admin\n  users: people.txt\n");
	th_write(dir, "people.txt", "");
	char *people = bg_xasprintf("%s/people.txt", dir);
	chmod(people, 0644);
	assert_int_equal(start(NULL, &out), 0);
	th_assert_contains(out, "people.txt");
	/* The flag wins over the config. */
	char *safe[] = {"--safe", NULL};
	port = start(safe, &out);
	th_assert_contains(out, "people.txt"); /* the same users file, refused at 0644 */
	assert_int_equal(port, 0);
	free(people);
	free(out);
}

/* GET (form NULL) or POST form through c (its cookie jar); the status, *body a new string. */
static long form_req(CURL *c, const char *url, const char *form, char **body)
{
	struct bg_buf b = BG_BUF_INIT;
	long code = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (form) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	}
	bg_buf_add(&b, "", 1);
	*body = bg_buf_detach(&b, NULL);
	return code;
}

/* issue 15: login CSRF. The page's form logs in; the same form posted without its cookie does not. */
static void test_login_form_csrf(void **state)
{
	char *out = NULL, *body = NULL;
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n");
	char *argv[] = {getenv("BG_BINARY"), "-c", dir, "cockpit", "user", "add", "ops", "--role",
		"admin", NULL};
	if (th_run_stdin(argv, "ops-pw-1\n", &out) != 0) {
		fail_msg("cockpit user add failed:\n%s", out);
	}
	char *safe[] = {"--safe", NULL};
	unsigned port = start(safe, &out);
	if (!port) {
		fail_msg("the cockpit did not start:\n%s", out ? out : "");
	}
	char *login = bg_xasprintf("http://127.0.0.1:%u/login", port);
	char *logout = bg_xasprintf("http://127.0.0.1:%u/logout", port);
	CURL *victim = curl_easy_init(), *browser = curl_easy_init();
	curl_easy_setopt(victim, CURLOPT_COOKIEFILE, "");
	curl_easy_setopt(browser, CURLOPT_COOKIEFILE, "");

	/* A real form, as the attacker gets one for themselves: its field, then posted by the victim. */
	assert_int_equal(form_req(browser, login, NULL, &body), 200);
	const char *at = strstr(body, "name=\"csrf\" value=\"");
	assert_non_null(at);
	at += strlen("name=\"csrf\" value=\"");
	char *field = bg_xstrndup(at, strcspn(at, "\""));
	free(body);
	char *form = bg_xasprintf("csrf=%s&user=ops&password=ops-pw-1", field);
	assert_int_equal(form_req(victim, login, form, &body), 403);
	th_assert_contains(body, "has expired or was not served by this cockpit");
	free(body);
	assert_int_equal(form_req(victim, logout, NULL, &body), 303); /* not logged in */
	free(body);
	char *log = refusals();
	th_assert_contains(log, "\"details\": \"POST /login\"");
	th_assert_contains(log, "missing or wrong CSRF token (login form)");
	free(log);

	/* The browser that got the form (its cookie in the jar) logs in with it. */
	assert_int_equal(form_req(browser, login, form, &body), 303);
	free(body);
	assert_int_equal(form_req(browser, logout, NULL, &body), 200);
	th_assert_contains(body, "Logged in as <b>ops</b>");
	free(body);
	stop();
	curl_easy_cleanup(victim);
	curl_easy_cleanup(browser);
	free(form);
	free(field);
	free(login);
	free(logout);
	free(out);
}

/* issue 15: safe mode reads no secret file, with or without a flag naming the mode. */
static void test_safe_reads_no_secret(void **state)
{
	char *out = NULL;
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n");
	th_write(dir, "sites/shop.conf", "site: shop\nimage: registry.example.com/shop:1\n"
			"port: 8080\ndomains: [shop.example.com]\npreview: preview.shop.example.com\n"
			"env_file: shop.env\npreview_auth: {user: ops, password_file: preview.pw}\n");
	char *validate[] = {getenv("BG_BINARY"), "-c", dir, "validate", NULL};
	struct th_run r;
	th_run_argv(validate, NULL, &r);
	assert_int_not_equal(r.status, 0); /* the files are needed by everything else */
	th_assert_contains(r.err, "env_file 'shop.env' not found");
	th_run_release(&r);
	char *safe[] = {"--safe", NULL};
	unsigned port = start(safe, &out);
	if (!port) {
		fail_msg("cockpit --safe did not start without the secret files:\n%s", out ? out : "");
	}
	th_assert_not_contains(out, "env_file");
	stop();
	port = start(NULL, &out); /* the mode from the config: safe */
	if (!port) {
		fail_msg("a bare `bluegreen cockpit` did not start without the secret files:\n%s",
				out ? out : "");
	}
	stop();
	char *list[] = {getenv("BG_BINARY"), "-c", dir, "cockpit", "user", "list", NULL};
	th_run_argv(list, NULL, &r);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	/* Admin mode from the config loads the configuration as every command does. */
	write_global("cockpit:\n  listen: \"127.0.0.1:0\"\n  mode: admin\n");
	assert_int_equal(start(NULL, &out), 0);
	th_assert_contains(out, "env_file 'shop.env' not found");
	free(out);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_and_users_from_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_form_csrf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safe_reads_no_secret, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
