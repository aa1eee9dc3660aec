/*
 * t-edge-nginx-hup: the nginx edge reloads by signalling the master named
 * by nginx's pid file, as `nginx -s reload` does, instead of starting an
 * nginx to do it (edge-nginx-run.c, reload_by_signal; ADR 0015 "Reload by signal"). The
 * pid file's path comes from the reload argv and the main configuration
 * (edge__nginx_reload_pid_file). Against a real nginx: a switch works with
 * an argv that would fail if it ran (so the signal did the reload); a pid
 * file naming anything but the master of the workers on the listen
 * address is not believed (the argv runs); a file the master refuses is
 * still refused, with nginx's own words, and the previous one served.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg.h"
#include "edge-int.h"
#include "edge-nginx-run.h"
#include "th.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the pid file's path ---- */

static char *pid_file(const char *cwd, const char *words)
{
	struct bg_strv r;
	char *copy = bg_xstrdup(words), *save = NULL;
	bg_strv_init(&r);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		bg_strv_push(&r, w);
	}
	char *f = edge__nginx_reload_pid_file(cwd, &r);
	bg_strv_release(&r);
	free(copy);
	return f;
}

static void expect_pid_file(const char *dir, const char *conf, const char *argv,
		const char *want)
{
	th_write(dir, "p/nginx.conf", conf);
	char *got = pid_file(dir, argv);
	if (!want) {
		if (got) {
			fail_msg("'%s' with %s: expected no pid file, got %s", conf, argv, got);
		}
		return;
	}
	char *full = want[0] == '/' ? bg_xstrdup(want) : bg_xasprintf("%s/%s", dir, want);
	if (!got || strcmp(got, full) != 0) {
		fail_msg("'%s' with %s: expected %s, got %s", conf, argv, full, got ? got : "NULL");
	}
	free(full);
	free(got);
}

static void test_pid_file_path(void **state)
{
	(void)state;
	char *dir = th_tmpdir("nginx-hup-path");
	const char *pc = "nginx -p p/ -c nginx.conf -s reload";
	expect_pid_file(dir, "pid run/x.pid;\n", pc, "p/run/x.pid");
	expect_pid_file(dir, "pid /run/abs.pid;\n", pc, "/run/abs.pid");
	expect_pid_file(dir, "# pid commented.pid;\nworker_processes 1;\npid  \"q.pid\" ;\n", pc,
			"p/q.pid");
	/* Only the main context: a `pid` word inside a block or a value is not it. */
	expect_pid_file(dir, "http { pid inner.pid; }\nenv pid;\npid main.pid;\n", pc,
			"p/main.pid");
	expect_pid_file(dir, "http { server { return 200 'pid x;'; } }\n", pc, NULL);
	expect_pid_file(dir, "worker_processes 1;\n", pc, NULL); /* compiled-in default */
	expect_pid_file(dir, "pid $x.pid;\n", pc, NULL);
	/* -e is the error log only; -g may set the pid: nginx must say. */
	expect_pid_file(dir, "pid a.pid;\n", "nginx -p p/ -c nginx.conf -e e.log -s reload",
			"p/a.pid");
	expect_pid_file(dir, "pid a.pid;\n", "nginx -p p/ -c nginx.conf -g daemon_off; -s reload",
			NULL);
	expect_pid_file(dir, "pid a.pid;\n", "nginx -p p/ -c -s reload", NULL);
	/* No prefix: a relative pid would be the compiled-in prefix's. */
	char *abs = bg_xasprintf("nginx -c %s/p/nginx.conf -s reload", dir);
	expect_pid_file(dir, "pid /run/a.pid;\n", abs, "/run/a.pid");
	expect_pid_file(dir, "pid a.pid;\n", abs, NULL);
	free(abs);
	th_rm_rf(dir);
	free(dir);
}

/* ---- against a real nginx ---- */

static struct {
	char *dir;
	int port;
	int serial;
	struct cfg cfg;
	struct cfg_site site;
} E;

static void set_words(struct bg_strv *sv, const char *nginx, const char *words)
{
	char *copy = bg_xstrdup(words), *save = NULL;
	bg_strv_release(sv);
	bg_strv_push(sv, nginx);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		bg_strv_push(sv, w);
	}
	free(copy);
}

/* test and reload as th_nginx_edge_yaml's, run through the program nginx. */
static void use_nginx(const char *nginx)
{
	set_words(&E.cfg.g.nginx.test, nginx, "-p nginx/ -c nginx.conf -t -q");
	set_words(&E.cfg.g.nginx.reload, nginx, "-p nginx/ -c nginx.conf -s reload");
}

static int group_setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	E.dir = th_tmpdir("nginx-hup");
	chmod(E.dir, 0755); /* nginx's workers run as nobody */
	E.port = th_nginx_start_free(E.dir);
	/* A program named nginx that fails: the argv must not be what reloads. */
	char *bin = bg_xasprintf("%s/bin", E.dir), *fake = bg_xasprintf("%s/bin/nginx", E.dir);
	bg_mkdir_p(bin, 0755);
	assert_int_equal(symlink("/bin/false", fake), 0);
	free(bin);
	free(fake);
	E.cfg.dir = bg_xstrdup(E.dir);
	E.cfg.g.edge_kind = CFG_EDGE_NGINX;
	E.cfg.g.nginx.conf_dir = bg_xasprintf("%s/nginx/conf.d", E.dir);
	E.cfg.g.nginx.listen = bg_xasprintf("127.0.0.1:%d", E.port);
	E.cfg.g.nginx.probe = true;
	use_nginx("nginx");
	E.site.name = bg_xstrdup("shop");
	bg_strv_push(&E.site.domains, "shop.example.com");
	E.cfg.sites = &E.site;
	E.cfg.n_sites = 1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	th_nginx_stop(E.dir);
	th_rm_rf(E.dir);
	free(E.dir);
	free(E.cfg.dir);
	free(E.cfg.g.nginx.conf_dir);
	free(E.cfg.g.nginx.listen);
	bg_strv_release(&E.cfg.g.nginx.test);
	bg_strv_release(&E.cfg.g.nginx.reload);
	free(E.site.name);
	bg_strv_release(&E.site.domains);
	return 0;
}

/* The site's file answering body at / (a new probe serial each time). */
static int install(const char *body, struct bg_diag *d)
{
	char *c = bg_xasprintf("server {\n\tlisten 127.0.0.1:%d;\n\tserver_name shop.example.com;\n"
			       "\tlocation = " EDGE_NGINX_PROBE_PATH " { return 200 \"s%d\\n\"; }\n"
			       "\tlocation / { return 200 \"%s\\n\"; }\n}\n",
			E.port, ++E.serial, body);
	int err = edge_nginx_impl.install(&E.cfg, "shop", c, strlen(c), d);
	free(c);
	return err;
}

static size_t keep(char *p, size_t size, size_t n, void *arg)
{
	bg_buf_add(arg, p, size * n);
	return size * n;
}

/* What nginx answers for the site at / right now ("" on failure). */
static char *served(void)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "Host: shop.example.com");
	struct bg_buf b = BG_BUF_INIT;
	char *url = bg_xasprintf("http://127.0.0.1:%d/", E.port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(h) != CURLE_OK) {
		bg_buf_reset(&b);
	}
	bg_buf_add(&b, "", 1);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	free(url);
	return bg_buf_detach(&b, NULL);
}

static void expect_served(const char *want)
{
	char *got = served();
	char *w = bg_xasprintf("%s\n", want);
	assert_string_equal(got, w);
	free(w);
	free(got);
}

/*
 * The master is pinned by a pidfd before it is signalled. Where there is
 * no pidfd_open (kernels before 5.3; valgrind 3.19, which the CI's unit
 * run uses) bluegreen never signals and runs the argv: the tests below
 * check that instead of the signal.
 */
static bool pidfd_works(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (fd < 0) {
		return false;
	}
	close(fd);
	return true;
}

/* The argv is a program that always fails: only the signal can have reloaded. */
static void test_switch_by_signal(void **state)
{
	(void)state;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(install("blue", &d), 0); /* first install: the real argv */
	expect_served("blue");
	char *fake = bg_xasprintf("%s/bin/nginx", E.dir);
	use_nginx(fake);
	if (!pidfd_works()) {
		/* No pidfd: no signal; the failing argv runs and the old file stays. */
		int err = install("green", &d);
		use_nginx("nginx");
		free(fake);
		assert_int_equal(err, BG_EEDGE);
		th_assert_contains(d.items[0].msg, "nginx reload");
		expect_served("blue");
		bg_diag_release(&d);
		return;
	}
	for (int i = 0; i < 4; i++) {
		const char *want = i % 2 ? "blue" : "green";
		if (install(want, &d) != 0) {
			fail_msg("install %d by signal failed: %s", i, d.n ? d.items[d.n - 1].msg : "");
		}
		expect_served(want);
	}
	assert_int_equal(d.n_errors, 0);
	use_nginx("nginx");
	free(fake);
	bg_diag_release(&d);
}

/* A pid file naming another process: nothing is signalled, the argv runs. */
static void test_pid_file_not_believed(void **state)
{
	(void)state;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(install("blue", &d), 0);
	char *pidf = bg_xasprintf("%s/nginx/nginx.pid", E.dir);
	char *real = th_read(pidf);
	char *fake = bg_xasprintf("%s/bin/nginx", E.dir);
	char mine[32];
	snprintf(mine, sizeof(mine), "%ld\n", (long)getpid());
	const char *lies[] = {mine, "1\n", "garbage\n", "0\n"};
	use_nginx(fake);
	for (size_t i = 0; i < BG_ARRAY_SIZE(lies); i++) {
		th_write(E.dir, "nginx/nginx.pid", lies[i]);
		assert_int_equal(install("green", &d), BG_EEDGE);
		th_assert_contains(d.items[0].msg, "nginx reload");
		th_assert_contains(d.items[0].msg, "failed (exit 1)");
		expect_served("blue");
		bg_diag_release(&d);
		bg_diag_init(&d);
	}
	th_write(E.dir, "nginx/nginx.pid", real);
	use_nginx("nginx");
	free(real);
	free(pidf);
	free(fake);
	bg_diag_release(&d);
}

/* The master refuses the file: the probe never sees it, nginx -t says why,
 * the previous file is back and served. */
static void test_refused_by_master(void **state)
{
	(void)state;
	struct bg_diag d;
	bg_diag_init(&d);
	if (install("blue", &d) != 0) {
		fail_msg("install: %s", d.n ? d.items[d.n - 1].msg : "?");
	}
	uint64_t saved = edge_confirm_timeout_ms;
	edge_confirm_timeout_ms = 800;
	/* With a probe location: the signal path (without one, the argv: below). */
	char *broken = bg_xasprintf("server {\n\tlisten 127.0.0.1:%d;\n"
				    "\tserver_name shop.example.com;\n\tlocation = "
				    EDGE_NGINX_PROBE_PATH " { return 200 \"s%d\\n\"; }\n"
				    "\tbogus_directive on;\n}\n", E.port, ++E.serial);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "shop", broken, strlen(broken), &d),
			BG_EEDGE);
	if (pidfd_works()) {
		/* the probe waited: no nginx -s reload refused at once */
		assert_true(bg_mono_ms() - t0 >= 700);
	}
	free(broken);
	bool words = false;
	for (size_t i = 0; i < d.n; i++) {
		words |= strstr(d.items[i].msg, "unknown directive \"bogus_directive\"") != NULL;
	}
	assert_true(words);
	expect_served("blue");
	bg_diag_release(&d);
	bg_diag_init(&d);
	/* Without a probe location nothing would see the master refuse: the
	 * argv runs, and `nginx -s reload` refuses at once. */
	const char *bare = "server { bogus_directive on; }\n";
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "shop", bare, strlen(bare), &d),
			BG_EEDGE);
	th_assert_contains(d.items[0].msg, "nginx reload");
	th_assert_contains(d.items[0].msg, "unknown directive \"bogus_directive\"");
	expect_served("blue");
	edge_confirm_timeout_ms = saved;
	bg_diag_release(&d);
	bg_diag_init(&d);
	assert_int_equal(install("green", &d), 0);
	expect_served("green");
	bg_diag_release(&d);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pid_file_path),
		cmocka_unit_test(test_switch_by_signal),
		cmocka_unit_test(test_pid_file_not_believed),
		cmocka_unit_test(test_refused_by_master),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	curl_global_cleanup();
	return rc;
}
