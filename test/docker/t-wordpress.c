/*
 * t-wordpress: issue 16's wordpress module end to end, with real Docker,
 * real nginx, real WordPress and real MariaDB. The site file is the short
 * one (kind: wordpress); only the two images are overridden, because the
 * module's defaults (the official wordpress and mariadb images) cannot be
 * pulled here. bluegreen-test/wordpress and bluegreen-test/wp-mariadb
 * (test/images/wordpress/) are stand-ins for that interface, built from
 * Debian 12's packages and honouring the official images' variables
 * (WORDPRESS_DB_*, WORDPRESS_CONFIG_EXTRA, MARIADB_*): WordPress and
 * MariaDB themselves are real.
 *
 * plan -> apply deploys WordPress + MariaDB; the install runs over HTTP
 * (POST wp-admin/install.php); a post is visible. v2 is deployed as a
 * candidate: the preview host renders it (WordPress does not redirect it
 * to the live domain: the module's WP_HOME from the request host) while
 * the live domain stays v1; a file in the uploads volume is served by
 * both colours. The switch runs under load (hey) with 0 failed requests,
 * then the rollback. The generated database password never appears in
 * any output of bluegreen.
 *
 * Needs: dockerd, nginx, hey, mmdebstrap and the Debian mirror (images).
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <signal.h>
#include <unistd.h>

/* GET path on host through nginx; *body (may be NULL) the body. */
static int get(struct e2e *e, const char *host, const char *path, char **body)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d%s", e->port, path);
	char *hdr = bg_xasprintf("Host: %s", host);
	char *args[] = {"-H", hdr, url, NULL};
	char *b = NULL, *loc = NULL;
	int st = e2e_curl(args, &b, &loc);
	if (body) {
		*body = b;
	} else {
		free(b);
	}
	free(loc);
	free(hdr);
	free(url);
	return st;
}

static void site_file(struct e2e *e, const char *rev)
{
	char *path = bg_xasprintf("sites/%s.conf", e->site);
	char *text = bg_xasprintf("site: %s\n"
			"kind: wordpress\n"
			"domains: [%s]\n"
			"preview: %s\n"
			"wordpress: {version: \"6.1\", image: \"bluegreen-test/wordpress:%s\", "
			"db_image: \"bluegreen-test/wp-mariadb:v1\"}\n"
			"strategy: {drain: 2s}\n", e->site, e->domain, e->preview, rev);
	th_write(e->dir, path, text);
	free(text);
	free(path);
}

/* Every output of bluegreen so far, to search for the password at the end. */
static struct bg_buf seen = BG_BUF_INIT;

static void keep(const struct th_run *r)
{
	bg_buf_adds(&seen, r->out ? r->out : "");
	bg_buf_adds(&seen, r->err ? r->err : "");
}

static void plan_apply(struct e2e *e, const char *what)
{
	struct th_run r;
	int rc = e2e_plan_apply(e, &r);
	keep(&r);
	if (rc != 0) {
		fail_msg("%s: apply exited %d:\n%s\n%s", what, rc, r.out, r.err);
	}
	th_run_release(&r);
}

static void install(struct e2e *e)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/wp-admin/install.php?step=2", e->port);
	char *hdr = bg_xasprintf("Host: %s", e->domain);
	char *args[] = {"-H", hdr, "--data", "weblog_title=BG+WordPress&user_name=admin"
		"&admin_password=bg-Test-pass-42&admin_password2=bg-Test-pass-42&pw_weak=1"
		"&admin_email=admin%40example.com&blog_public=0&language=", url, NULL};
	char *body = NULL;
	int st = e2e_curl(args, &body, NULL);
	if (st != 200 || !strstr(body, "Success!")) {
		/* WordPress's error page: its message is at the end. */
		size_t n = strlen(body);
		fail_msg("install.php answered %d:\n%s", st, n > 600 ? body + n - 600 : body);
	}
	free(body);
	free(hdr);
	free(url);
}

static char *dexec(const char *container, const char *a1, const char *a2, const char *a3,
		const char *a4)
{
	struct th_run r;
	assert_int_equal(th_docker(&r, "exec", container, a1, a2, a3, a4, NULL), 0);
	char *out = bg_xstrdup(r.out);
	th_run_release(&r);
	return out;
}

static char *password_of(struct e2e *e)
{
	char *path = bg_xasprintf("%s/state/modules/wordpress/%s.env", e->dir, e->site);
	char *data = th_read(path);
	char *p = strstr(data, "db_password=");
	assert_non_null(p);
	p += strlen("db_password=");
	char *pw = bg_xstrndup(p, strcspn(p, "\n"));
	free(data);
	free(path);
	return pw;
}

static void switch_under_load(struct e2e *e, const char *verb)
{
	char *out = bg_xasprintf("%s/hey-%s.txt", e->dir, verb);
	char *url = bg_xasprintf("http://127.0.0.1:%d/", e->port);
	char *argv[] = {"hey", "-z", "120s", "-c", "4", "-t", "10", "-host", e->domain, url, NULL};
	pid_t pid = th_spawn_bg(argv, NULL, out);
	struct th_run r;
	usleep(1500 * 1000);
	int rc;
	if (strcmp(verb, "switch") == 0) {
		rc = e2e_plan_apply(e, &r);
	} else {
		rc = e2e_bg(e, &r, "rollback", e->site, "--yes", NULL);
	}
	keep(&r);
	usleep(1500 * 1000);
	kill(pid, SIGINT);
	assert_int_equal(th_wait(pid), 0);
	if (rc != 0) {
		fail_msg("%s exited %d:\n%s\n%s", verb, rc, r.out, r.err);
	}
	th_run_release(&r);
	char *report = th_read(out);
	long ok = 0, failed = 0;
	th_hey_result(report, &ok, &failed);
	print_message("# %s under load (WordPress front page): %ld ok, %ld failed\n", verb, ok,
			failed);
	if (ok < 10 || failed != 0) {
		fail_msg("%s: %ld ok, %ld failed:\n%s", verb, ok, failed, report);
	}
	free(report);
	free(url);
	free(out);
}

static void test_wordpress(void **state)
{
	struct e2e e;
	struct th_run r;
	char *body = NULL;
	(void)state;
	e2e_init(&e, "wp", "nginx", "development");
	e2e_global(&e, "modules: [wordpress]\n");
	site_file(&e, "v1");

	/* The expansion, shown with its origins; the password redacted. */
	assert_int_equal(e2e_bg(&e, &r, "validate", "--explain", NULL), 0);
	keep(&r);
	th_assert_contains(r.out, "services.db.env.MARIADB_PASSWORD = <redacted>");
	th_run_release(&r);
	plan_apply(&e, "first deploy");

	/* Install over HTTP, then a post of our own. */
	install(&e);
	char *db = bg_xasprintf("%s-db", e.site);
	free(dexec(db, "mariadb", "wordpress", "-e",
			"UPDATE wp_posts SET post_title='Post from bluegreen' WHERE ID=1"));
	assert_int_equal(get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "Post from bluegreen");
	free(body);

	/* A file in the uploads volume, written through the live colour. */
	char *blue = bg_xasprintf("%s-blue", e.site);
	free(dexec(blue, "cp", "/var/www/html/bg-revision.txt",
			"/var/www/html/wp-content/uploads/bg-shared.txt", NULL));

	/* v2 as a candidate: preview renders it, live stays v1. */
	site_file(&e, "v2");
	plan_apply(&e, "candidate v2");
	assert_int_equal(get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v1");
	free(body);
	assert_int_equal(get(&e, e.preview, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v2");
	free(body);
	/* WordPress itself on the preview host: no redirect to the live domain,
	 * its links name the preview host, the post is there. */
	assert_int_equal(get(&e, e.preview, "/", &body), 200);
	th_assert_contains(body, "Post from bluegreen");
	char *plink = bg_xasprintf("http://%s/", e.preview);
	th_assert_contains(body, plink);
	free(plink);
	free(body);
	assert_int_equal(get(&e, e.preview, "/wp-content/uploads/bg-shared.txt", &body), 200);
	assert_string_equal(body, "v1");
	free(body);

	/* Switch and rollback under load: no request fails. */
	switch_under_load(&e, "switch");
	assert_int_equal(get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v2");
	free(body);
	assert_int_equal(get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "Post from bluegreen");
	free(body);
	switch_under_load(&e, "rollback");
	assert_int_equal(get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v1");
	free(body);

	/* The password: in the secrets file only, never in bluegreen's output. */
	const char *const verbs[][3] = {{"status", NULL, NULL}, {"history", e.site, NULL},
		{"plan", "--json", NULL}, {"versions", e.site, NULL}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(verbs); i++) {
		e2e_bg(&e, &r, verbs[i][0], verbs[i][1], verbs[i][2], NULL);
		keep(&r);
		th_run_release(&r);
	}
	char *pw = password_of(&e);
	assert_int_equal(strlen(pw), 43);
	assert_null(strstr(seen.data, pw));
	free(pw);
	bg_buf_release(&seen);
	free(blue);
	free(db);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	struct th_run r;
	char *script = th_src_path("test/images/wordpress/build-wordpress.sh");
	char *work = th_tmpdir("wpimg");
	char *bargv[] = {"sh", script, work, NULL};
	th_run_argv_ex(bargv, NULL, 1800000, &r);
	if (r.status != 0) {
		printf("Bail out! %s failed: %s%s\n", script, r.out, r.err);
		return 1;
	}
	th_run_release(&r);
	th_rm_rf(work);
	free(work);
	free(script);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_wordpress, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
