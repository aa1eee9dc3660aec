/*
 * t-restore: backups as steps of the plan, against a real Docker Engine,
 * a real nginx and a real MariaDB (issue 12). A production site with a
 * volume and a MariaDB service (bluegreen-test/mariadb:v1, preset
 * mariadb): the first deploy takes no backup; a switch whose backup
 * command fails stops before the switch (exit 5, blue still live and
 * serving); with the preset back, the switch takes a backup first. Rows
 * and a file changed after that backup come back byte for byte through
 * `plan --restore SITE@ID` + apply TOKEN --confirm, the site healthy and
 * serving. A SIGKILL during a restore apply leaves the history readable
 * and the next plan says what is really there (the stopped colours), and
 * applying it serves the site again.
 *
 * Rollback across a migration: v1 live with rows and a file, v2 deployed
 * (a backup taken before the switch), then rows and the file changed (the
 * "migration"). `rollback SITE` says plainly that a backup was taken at
 * that switch and offers "rollback + restore backup ID", restoring nothing;
 * `rollback SITE --restore ID` prints that plan (the phrase refused
 * without --confirm), and with --yes --confirm brings v1 back live with
 * the rows and the file as they were, byte for byte; the history journals
 * the rollback and the restore.
 *
 * Needs: dockerd, nginx, curl, mmdebstrap (test/images/build.sh mariadb).
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#define CONFIRM "RESTORE SHOP"

/* The site: web vN on a volume, MariaDB with a dump (or a failing one). */
static void site_write(struct e2e *e, const char *image, bool failing_dump)
{
	char *extra = bg_xasprintf(
		"confirm: \"" CONFIRM "\"\n"
		"strategy: {promote: auto}\n"
		"volumes: {uploads: /app/uploads}\n"
		"services:\n"
		"  db:\n"
		"    image: bluegreen-test/mariadb:v1\n"
		"    volumes: {dbdata: /var/lib/mysql}\n"
		"%s"
		"depends_on: [db]\n",
		failing_dump ? "    backup: {command: [\"false\"], restore: [\"true\"]}\n"
			     : "    backup: {preset: mariadb}\n");
	e2e_site(e, image, extra);
	free(extra);
}

static char *cname(const struct e2e *e, const char *what)
{
	return bg_xasprintf("%s-%s", e->site, what);
}

/* `docker exec NAME ARGV...` (argv, no shell); returns its exit status. */
static int dexec(const char *name, char *const argv[], struct th_run *r)
{
	char *full[16] = {"docker", "exec", (char *)name};
	size_t n = 3;
	for (size_t i = 0; argv[i] && n < BG_ARRAY_SIZE(full) - 1; i++) {
		full[n++] = argv[i];
	}
	full[n] = NULL;
	return th_run_argv(full, NULL, r);
}

/* One SQL statement (or several) as root over the server's socket; its output. */
static char *sql(const struct e2e *e, const char *q)
{
	char *db = cname(e, "db");
	struct th_run r;
	char *argv[] = {"mariadb", "-N", "-B", "-e", (char *)q, NULL};
	int st = dexec(db, argv, &r);
	if (st != 0) {
		th_print_error("mariadb -e '%s' exited %d: %s\n", q, st, r.err);
	}
	assert_int_equal(st, 0);
	char *out = bg_xstrdup(r.out);
	th_run_release(&r);
	free(db);
	return out;
}

static void db_wait(const struct e2e *e)
{
	char *db = cname(e, "db");
	char *argv[] = {"mariadb", "-e", "SELECT 1", NULL};
	bool up = false;
	for (int i = 0; i < 240 && !up; i++) {
		struct th_run r;
		up = dexec(db, argv, &r) == 0;
		th_run_release(&r);
		if (!up) {
			usleep(250 * 1000);
		}
	}
	assert_true(up);
	free(db);
}

/* 64 KiB of bytes of every value, in a pattern seeded by `seed`. */
static void file_make(const char *path, unsigned seed)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (unsigned i = 0; i < 65536; i++) {
		fputc((int)((i * 31u + seed * 7u + (i >> 8)) & 0xff), f);
	}
	fclose(f);
}

/* The file inside the live colour's volume mount, byte for byte like path? */
static bool file_same(const struct e2e *e, const char *colour, const char *path)
{
	char *c = cname(e, colour);
	char *out = bg_xasprintf("%s.back", path);
	char *src = bg_xasprintf("%s:/app/uploads/data.bin", c);
	struct th_run r;
	char *argv[] = {"docker", "cp", src, out, NULL};
	assert_int_equal(th_run_argv(argv, NULL, &r), 0);
	th_run_release(&r);
	char *a = NULL, *b = NULL;
	size_t la = 0, lb = 0;
	assert_int_equal(bg_file_read(path, 1 << 20, &a, &la), 0);
	assert_int_equal(bg_file_read(out, 1 << 20, &b, &lb), 0);
	bool same = la == lb && memcmp(a, b, la) == 0;
	free(a);
	free(b);
	free(src);
	free(out);
	free(c);
	return same;
}

static void file_put(const struct e2e *e, const char *colour, const char *path)
{
	char *c = cname(e, colour);
	char *dst = bg_xasprintf("%s:/app/uploads/data.bin", c);
	struct th_run r;
	char *argv[] = {"docker", "cp", (char *)path, dst, NULL};
	assert_int_equal(th_run_argv(argv, NULL, &r), 0);
	th_run_release(&r);
	free(dst);
	free(c);
}

/* The complete backups of the site on disk (ids, sorted; hidden = temporary). */
static size_t backups_on_disk(const struct e2e *e, char **newest)
{
	char *dir = bg_xasprintf("%s/state/backups/%s", e->dir, e->site);
	DIR *d = opendir(dir);
	size_t n = 0;
	if (newest) {
		*newest = NULL;
	}
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.') {
			continue;
		}
		n++;
		if (newest && (!*newest || strcmp(de->d_name, *newest) > 0)) {
			free(*newest);
			*newest = bg_xstrdup(de->d_name);
		}
	}
	if (d) {
		closedir(d);
	}
	free(dir);
	return n;
}

static int apply_confirm(struct e2e *e, const char *tok, struct th_run *r)
{
	return e2e_bg(e, r, "apply", tok, "--confirm", CONFIRM, NULL);
}

/* plan --restore SITE@ID: its token (asserts it has changes and needs the phrase). */
static char *restore_plan(struct e2e *e, const char *id)
{
	struct th_run r;
	char *arg = bg_xasprintf("%s@%s", e->site, id);
	int st = e2e_bg(e, &r, "plan", "--restore", arg, NULL);
	if (st != 2) {
		th_print_error("plan --restore exited %d:\n%s\n%s\n", st, r.out, r.err);
	}
	assert_int_equal(st, 2);
	th_assert_contains(r.out, "restore");
	th_assert_contains(r.out, "replaces volumes");
	char *tok = th_plan_token(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	free(arg);
	return tok;
}

static void test_backup_switch_and_restore(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	char *tmp = th_tmpdir("restore");
	char *f1 = bg_xasprintf("%s/one.bin", tmp), *f2 = bg_xasprintf("%s/two.bin", tmp);
	file_make(f1, 1);
	file_make(f2, 2);

	e2e_init(&e, "rst", "nginx", "production");
	site_write(&e, "bluegreen-test/web:v1", false);
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(apply_confirm(&e, tok, &r), 0);
	th_run_release(&r);
	free(tok);
	assert_int_equal(backups_on_disk(&e, NULL), 0); /* a first deploy saves nothing */
	db_wait(&e);
	free(sql(&e, "CREATE DATABASE shop; CREATE TABLE shop.t (k INT PRIMARY KEY, v TEXT);"
			"INSERT INTO shop.t VALUES (1,'one'),(2,'two');"));
	file_put(&e, "blue", f1);

	/* A failing dump: apply exits 5 before the switch, blue v1 still live. */
	site_write(&e, "bluegreen-test/web:v2", true);
	tok = e2e_plan(&e, &st);
	assert_int_equal(apply_confirm(&e, tok, &r), 5);
	th_assert_contains(r.err, "backup");
	th_run_release(&r);
	free(tok);
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	assert_int_equal(backups_on_disk(&e, NULL), 0);

	/* The preset back: the switch takes a backup first. */
	site_write(&e, "bluegreen-test/web:v2", false);
	assert_int_equal(e2e_bg(&e, &r, "--json", "plan", NULL), 2);
	const char *b = strstr(r.out, "\"op\": \"backup\""), *s = strstr(r.out, "\"op\": \"switch\"");
	assert_true(b && s && b < s);
	tok = th_plan_token(r.out);
	th_run_release(&r);
	if (!tok) {
		tok = e2e_plan(&e, &st);
	}
	assert_int_equal(apply_confirm(&e, tok, &r), 0);
	th_run_release(&r);
	free(tok);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 3000));
	char *id = NULL;
	assert_int_equal(backups_on_disk(&e, &id), 1);
	print_message("# backup %s taken before the switch\n", id);

	/* Change rows and the file, then restore through the plan. */
	free(sql(&e, "UPDATE shop.t SET v='changed'; INSERT INTO shop.t VALUES (3,'three');"));
	file_put(&e, "green", f2);
	assert_false(file_same(&e, "green", f1));
	tok = restore_plan(&e, id);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 4); /* production: the phrase */
	th_run_release(&r);
	assert_int_equal(apply_confirm(&e, tok, &r), 0);
	th_run_release(&r);
	free(tok);
	char *rows = sql(&e, "SELECT k, v FROM shop.t ORDER BY k;");
	assert_string_equal(rows, "1\tone\n2\ttwo\n");
	free(rows);
	assert_true(file_same(&e, "green", f1));
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));
	free(e2e_plan(&e, &st));
	assert_int_equal(st, 0); /* nothing left to do */
	assert_int_equal(backups_on_disk(&e, NULL), 2); /* the fresh one before the restore */

#ifdef BG_FAULT_INJECTION
	/* SIGKILL during the restore's first volume step (4: backup, 2 stops, restore). */
	tok = restore_plan(&e, id);
	char *argv[] = {getenv("BG_BINARY"), "-c", e.dir, "apply", tok, "--confirm", CONFIRM,
			NULL};
	char *env[] = {"BLUEGREEN_FAULT=kill-during:4", "NO_COLOR=1", NULL};
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 128 + SIGKILL);
	th_run_release(&r);
	free(e2e_assert_interrupted(&e));
	assert_int_equal(e2e_bg(&e, &r, "history", NULL), 0);
	th_assert_contains(r.out, tok);
	th_run_release(&r);
	/* The colours were stopped: the next plan says so and starts them again. */
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "start");
	th_run_release(&r);
	char *tok2 = e2e_plan(&e, &st);
	assert_int_equal(apply_confirm(&e, tok2, &r), 0);
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));
	free(tok2);
	free(tok);
#endif
	free(id);
	free(f1);
	free(f2);
	th_rm_rf(tmp);
	free(tmp);
	e2e_release(&e);
}

/* The rows of shop.t, every column (a migration that adds one shows). */
static char *rows_all(const struct e2e *e)
{
	return sql(e, "SELECT * FROM shop.t ORDER BY k;");
}

/* `rollback SITE [ARGS...]` run by the test's binary; its exit status. */
static int rollback(struct e2e *e, struct th_run *r, const char *a1, const char *a2,
		const char *a3, const char *a4, const char *a5)
{
	int st = e2e_bg(e, r, "rollback", e->site, a1, a2, a3, a4, a5, NULL);
	th_print_error("rollback %s %s %s %s %s: exit %d\n%s%s", e->site, a1 ? a1 : "",
			a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "", st, r->out, r->err);
	return st;
}

static void deploy(struct e2e *e, const char *image)
{
	struct th_run r;
	int st;
	site_write(e, image, false);
	char *tok = e2e_plan(e, &st);
	assert_int_equal(st, 2);
	st = apply_confirm(e, tok, &r);
	if (st != 0) {
		th_print_error("apply exited %d:\n%s\n%s\n", st, r.out, r.err);
	}
	assert_int_equal(st, 0);
	th_run_release(&r);
	free(tok);
}

static void test_rollback_across_migration(void **state)
{
	struct e2e e;
	struct th_run r;
	int st;
	char *tmp = th_tmpdir("rbm");
	char *f1 = bg_xasprintf("%s/one.bin", tmp), *f2 = bg_xasprintf("%s/two.bin", tmp);
	file_make(f1, 3);
	file_make(f2, 4);

	e2e_init(&e, "rbm", "nginx", "production");
	deploy(&e, "bluegreen-test/web:v1");
	db_wait(&e);
	free(sql(&e, "CREATE DATABASE shop; CREATE TABLE shop.t (k INT PRIMARY KEY, v TEXT);"
			"INSERT INTO shop.t VALUES (1,'one'),(2,'two');"));
	file_put(&e, "blue", f1);
	char *before = rows_all(&e);
	assert_string_equal(before, "1\tone\n2\ttwo\n");

	/* v2: the switch takes a backup first, while v1 is live. */
	deploy(&e, "bluegreen-test/web:v2");
	assert_true(e2e_wait_body(&e, e.domain, "v2", 5000));
	char *id = NULL;
	assert_int_equal(backups_on_disk(&e, &id), 1);

	/* v2's "migration": a new column, rows rewritten, the file replaced. */
	free(sql(&e, "ALTER TABLE shop.t ADD COLUMN n INT NOT NULL DEFAULT 7;"
			"UPDATE shop.t SET v=CONCAT(v,'-migrated'); INSERT INTO shop.t "
			"VALUES (3,'three',9);"));
	file_put(&e, "green", f2);
	char *migrated = rows_all(&e);
	assert_string_not_equal(migrated, before);

	/* A plain rollback plan says it plainly, offers the choice, restores nothing. */
	assert_int_equal(rollback(&e, &r, NULL, NULL, NULL, NULL, NULL), 2);
	th_assert_contains(r.out, "the database may have been migrated by v2");
	char *taken = bg_xasprintf("backup %s was taken while v1 was live", id);
	th_assert_contains(r.out, taken);
	th_assert_contains(r.out, "restores no data");
	char *offer = bg_xasprintf("rollback + restore backup %s: bluegreen rollback %s "
			"--restore %s", id, e.site, id);
	th_assert_contains(r.out, offer);
	th_run_release(&r);
	char *now = rows_all(&e);
	assert_string_equal(now, migrated);
	free(now);

	/* rollback --restore ID: the plan (switch and restore), its token needs the phrase. */
	assert_int_equal(rollback(&e, &r, "--restore", id, NULL, NULL, NULL), 2);
	th_assert_contains(r.out, "restore");
	th_assert_contains(r.out, "switch");
	char *tok = th_plan_token(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 4); /* production: the phrase */
	th_run_release(&r);
	assert_int_equal(rollback(&e, &r, "--restore", id, "--yes", NULL, NULL), 4);
	th_run_release(&r);
	char *live = e2e_edge_live(&e);
	assert_string_equal(live, "green"); /* refused: nothing changed */
	free(live);
	now = rows_all(&e);
	assert_string_equal(now, migrated);
	free(now);

	/* With the phrase: v1 live again, the rows and the file as they were. */
	assert_int_equal(rollback(&e, &r, "--restore", id, "--yes", "--confirm", CONFIRM), 0);
	th_run_release(&r);
	live = e2e_edge_live(&e);
	assert_string_equal(live, "blue");
	free(live);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 5000));
	now = rows_all(&e);
	assert_string_equal(now, before);
	free(now);
	assert_true(file_same(&e, "blue", f1));

	/* The history journals the rollback (its switch) and the restore. */
	assert_int_equal(e2e_bg(&e, &r, "history", NULL), 0);
	th_print_error("history:\n%s", r.out);
	th_assert_contains(r.out, "rollback");
	char *restored = bg_xasprintf("from backup %s", id);
	th_assert_contains(r.out, restored);
	th_run_release(&r);
	free(e2e_plan(&e, &st));
	assert_int_equal(st, 0); /* v2 rejected: the rollback stays */

	free(restored);
	free(tok);
	free(offer);
	free(taken);
	free(migrated);
	free(before);
	free(id);
	free(f1);
	free(f2);
	th_rm_rf(tmp);
	free(tmp);
	e2e_release(&e);
}

static void build_mariadb_image(void)
{
	struct th_run r;
	char *script = th_src_path("test/images/build.sh");
	char *argv[] = {script, "mariadb", NULL};
	th_run_argv_ex(argv, NULL, 900000, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build.sh mariadb failed%s: %s%s\n",
				r.timed_out ? " (timed out after 900 s)" : "", r.out, r.err);
		exit(1);
	}
	th_run_release(&r);
	free(script);
}

int main(void)
{
	th_docker_preamble();
	build_mariadb_image();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_backup_switch_and_restore, e2e_teardown),
		cmocka_unit_test_teardown(test_rollback_across_migration, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
