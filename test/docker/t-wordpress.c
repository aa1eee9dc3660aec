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
 * plan -> apply deploys WordPress + MariaDB and runs the install itself
 * (wordpress.install: auto, the default): the plan names it with the
 * title, admin and e-mail, the admin password is on apply's output once
 * (and in the 0600 SITE.admin file), logging in with it works, a second
 * plan installs nothing; a post is visible. v2 is deployed as a
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
#include "wp-e2e.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* The short site file; only the images are the stand-ins (rev: the wordpress one's tag). */
static void site_file(struct e2e *e, const char *rev)
{
	wp_e2e_site_write(e, rev, ", title: \"BG WordPress\", admin_email: admin@example.com", "2s");
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

/* The first deploy: the plan names the install, apply runs it and shows the password once. */
static char *first_deploy(struct e2e *e)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 2);
	keep(&r);
	th_assert_contains(r.out, "install WordPress: title BG WordPress, admin admin "
			"<admin@example.com>");
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	int rc = e2e_bg(e, &r, "apply", tok, NULL);
	keep(&r);
	if (rc != 0) {
		fail_msg("first deploy: apply exited %d:\n%s\n%s", rc, r.out, r.err);
	}
	const char *tag = "WordPress admin password for admin: ";
	const char *p = strstr(r.out, tag);
	if (!p) {
		fail_msg("no admin password on apply's output:\n%s", r.out);
	}
	p += strlen(tag);
	char *pw = bg_xstrndup(p, strcspn(p, " \n"));
	assert_int_equal(strlen(pw), 24);
	th_run_release(&r);
	free(tok);
	/* Kept in STATE_DIR/modules/wordpress/SITE.admin, mode 0600. */
	char *path = bg_xasprintf("%s/state/modules/wordpress/%s.admin", e->dir, e->site);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	char *data = th_read(path);
	th_assert_contains(data, pw);
	free(data);
	free(path);
	/* Installed now: a second plan installs nothing. */
	assert_int_equal(e2e_bg(e, &r, "plan", NULL), 0);
	keep(&r);
	th_assert_not_contains(r.out, "install WordPress");
	th_run_release(&r);
	return pw;
}

/* Log in as the admin: WordPress answers 302 to wp-admin with the right password only. */
static int login(struct e2e *e, const char *pw)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/wp-login.php", e->port);
	char *hdr = bg_xasprintf("Host: %s", e->domain);
	char *pwe = bg_xasprintf("log=admin&pwd=%s&testcookie=1", pw);
	char *args[] = {"-H", hdr, "-b", "wordpress_test_cookie=WP%20Cookie%20check", "--data",
		pwe, url, NULL};
	char *body = NULL, *loc = NULL;
	int st = e2e_curl(args, &body, &loc);
	if (st == 302 && (!loc || !strstr(loc, "/wp-admin/"))) {
		st = -st;
	}
	free(body);
	free(loc);
	free(pwe);
	free(hdr);
	free(url);
	return st;
}

/* How often needle occurs in hay. */
static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
		n++;
	}
	return n;
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
	char *admin_pw = first_deploy(&e);
	assert_int_equal(login(&e, admin_pw), 302);
	assert_int_equal(login(&e, "not-the-password"), 200);

	/* A post of our own. */
	char *db = bg_xasprintf("%s-db", e.site);
	free(wp_e2e_exec(db, "mariadb", "wordpress", "-e",
			"UPDATE wp_posts SET post_title='Post from bluegreen' WHERE ID=1"));
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "Post from bluegreen");
	free(body);

	/* A file in the uploads volume, written through the live colour. */
	char *blue = bg_xasprintf("%s-blue", e.site);
	free(wp_e2e_exec(blue, "cp", "/var/www/html/bg-revision.txt",
			"/var/www/html/wp-content/uploads/bg-shared.txt", NULL));

	/* v2 as a candidate: preview renders it, live stays v1. */
	site_file(&e, "v2");
	plan_apply(&e, "candidate v2");
	assert_int_equal(wp_e2e_get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v1");
	free(body);
	assert_int_equal(wp_e2e_get(&e, e.preview, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v2");
	free(body);
	/* WordPress itself on the preview host: no redirect to the live domain,
	 * its links name the preview host, the post is there. */
	assert_int_equal(wp_e2e_get(&e, e.preview, "/", &body), 200);
	th_assert_contains(body, "Post from bluegreen");
	char *plink = bg_xasprintf("http://%s/", e.preview);
	th_assert_contains(body, plink);
	free(plink);
	free(body);
	assert_int_equal(wp_e2e_get(&e, e.preview, "/wp-content/uploads/bg-shared.txt", &body), 200);
	assert_string_equal(body, "v1");
	free(body);

	/* Switch and rollback under load: no request fails. */
	switch_under_load(&e, "switch");
	assert_int_equal(wp_e2e_get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v2");
	free(body);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "Post from bluegreen");
	free(body);
	switch_under_load(&e, "rollback");
	assert_int_equal(wp_e2e_get(&e, e.domain, "/bg-revision.txt", &body), 200);
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
	/* The admin password: once on apply's output, in no other output, not
	 * in the convergence log. */
	assert_int_equal(count_of(seen.data, admin_pw), 1);
	char *clog = bg_xasprintf("%s/state/converge.log", e.dir);
	char *clog_text = th_read(clog);
	assert_null(strstr(clog_text, admin_pw));
	th_assert_contains(clog_text, "WordPress installed");
	free(clog_text);
	free(clog);
	free(admin_pw);
	bg_buf_release(&seen);
	free(blue);
	free(db);
	e2e_release(&e);
}

/* A db_version: the database's (mariadb in SITE-db) or a colour's version.php. */
static unsigned long db_version_db(const char *db)
{
	char *out = wp_e2e_exec(db, "mariadb", "-N", "-e",
			"SELECT option_value FROM wordpress.wp_options WHERE option_name='db_version'");
	unsigned long v = strtoul(out, NULL, 10);
	free(out);
	return v;
}

static unsigned long db_version_code(const char *colour)
{
	char *out = wp_e2e_exec(colour, "cat", "/var/www/html/wp-includes/version.php", NULL, NULL);
	const char *p = strstr(out, "$wp_db_version = ");
	assert_non_null(p);
	unsigned long v = strtoul(p + strlen("$wp_db_version = "), NULL, 10);
	free(out);
	return v;
}

/*
 * Issue 16's database upgrade: v1 (WordPress 6.1, bookworm) live, v3
 * (trixie's newer WordPress, a higher db_version) as the candidate. The
 * plan of the switch names the one-way upgrade and backs up first; after
 * it the database has v3's db_version. The rollback to v1 says the
 * database is newer and names the restore of that backup; running it
 * brings back v1 with v1's db_version and the post.
 */
static void test_wordpress_upgrade(void **state)
{
	struct e2e e;
	struct th_run r;
	char *body = NULL;
	(void)state;
	e2e_init(&e, "wpu", "nginx", "development");
	e2e_global(&e, "modules: [wordpress]\n");
	site_file(&e, "v1");
	char *pw = first_deploy(&e);
	free(pw);
	char *db = bg_xasprintf("%s-db", e.site);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *green = bg_xasprintf("%s-green", e.site);
	free(wp_e2e_exec(db, "mariadb", "wordpress", "-e",
			"UPDATE wp_posts SET post_title='Post before the upgrade' WHERE ID=1"));
	unsigned long v1_db = db_version_db(db);
	assert_int_equal(v1_db, db_version_code(blue));

	/* v3 as a candidate (promote: manual): nothing is upgraded yet. */
	site_file(&e, "v3");
	plan_apply(&e, "candidate v3");
	unsigned long v3_db = db_version_code(green);
	print_message("# db_version: v1 %lu, v3 %lu\n", v1_db, v3_db);
	assert_true(v3_db > v1_db);
	assert_int_equal(db_version_db(db), v1_db);

	/* The switch: the plan names the upgrade and a backup before it. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	char *want = bg_xasprintf("one-way: database upgrade %lu -> %lu", v1_db, v3_db);
	th_assert_contains(r.out, want);
	free(want);
	th_assert_contains(r.out, "backup");
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	free(tok);
	/* In this order: the backup, the upgrade, the switch. */
	const char *bk = strstr(r.out, "backup backup");
	const char *up = strstr(r.out, "upgrade wordpress");
	const char *sw = strstr(r.out, "switch edge");
	if (!bk || !up || !sw || !(bk < up && up < sw)) {
		fail_msg("backup, upgrade, switch not in that order:\n%s", r.out);
	}
	th_run_release(&r);
	assert_int_equal(db_version_db(db), v3_db);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v3");
	free(body);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "Post before the upgrade");
	free(body);
	assert_int_equal(e2e_bg(&e, &r, "backups", e.site, NULL), 0);
	char *listing = bg_xstrdup(r.out);
	th_run_release(&r);

	/* The rollback plan says the database is newer and offers the restore. */
	assert_int_equal(e2e_bg(&e, &r, "rollback", e.site, NULL), 2);
	th_assert_contains(r.out, "the database is newer than the code rolled back to");
	char *offer = bg_xasprintf("bluegreen rollback %s --restore ", e.site);
	const char *p = strstr(r.out, offer);
	if (!p) {
		fail_msg("no restore offered:\n%s", r.out);
	}
	p += strlen(offer);
	char *id = bg_xstrndup(p, strcspn(p, " \n)"));
	free(offer);
	/* The backup offered is the one the switch took. */
	th_assert_contains(listing, id);
	free(listing);
	th_run_release(&r);

	/* Taking the offer: v1 again, with v1's db_version and the post. */
	int rc = e2e_bg(&e, &r, "rollback", e.site, "--restore", id, "--yes", NULL);
	if (rc != 0) {
		fail_msg("rollback --restore %s exited %d:\n%s\n%s", id, rc, r.out, r.err);
	}
	th_run_release(&r);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/bg-revision.txt", &body), 200);
	assert_string_equal(body, "v1");
	free(body);
	assert_int_equal(db_version_db(db), v1_db);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "Post before the upgrade");
	free(body);
	free(id);
	free(green);
	free(blue);
	free(db);
	bg_buf_release(&seen);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	if (wp_e2e_images_build("wpimg", true) != 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_wordpress, e2e_teardown),
		cmocka_unit_test_teardown(test_wordpress_upgrade, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
