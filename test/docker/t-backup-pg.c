/*
 * t-backup-pg: the `postgres` backup preset against a real PostgreSQL
 * server (bluegreen-test/postgres:v1, test/images/postgres/: Debian 12's
 * postgresql, PostgreSQL 15). A site with a postgres service: a database,
 * a table and rows made, `bluegreen backup` (pg_dumpall through exec),
 * rows changed, then the restore plan (plan --restore SITE@ID, apply
 * TOKEN: psql fed the dump through exec) and the rows are back as they
 * were. Its own test program (not a case of t-backup) so that building the
 * image on a fresh machine has the docker suite's whole time budget.
 *
 * Needs: dockerd, nginx, curl, mmdebstrap (test/images/build.sh postgres).
 */
#include "bg.h"
#include "e2e.h"

#include <unistd.h>

/* `docker exec DB psql -U postgres -tA [-d DBNAME] -c Q`: its exit status, *out its stdout. */
static int psql(const char *db, const char *dbname, const char *q, char **out)
{
	struct th_run r;
	int st = th_docker(&r, "exec", db, "psql", "-U", "postgres", "-tA", "-v",
			"ON_ERROR_STOP=1", "-d", dbname, "-c", q, NULL);
	if (out) {
		*out = bg_xstrdup(r.out);
	}
	if (st != 0 && out) {
		print_message("# psql -d %s -c '%s': exit %d: %s\n", dbname, q, st, r.err);
	}
	th_run_release(&r);
	return st;
}

static char *sql(const char *db, const char *dbname, const char *q)
{
	char *out = NULL;
	int st = psql(db, dbname, q, &out);
	if (st != 0) {
		fail_msg("psql -d %s -c '%s' exited %d", dbname, q, st);
	}
	return out;
}

static void db_wait(const char *db)
{
	for (int i = 0; i < 600; i++) {
		if (psql(db, "postgres", "select 1", NULL) == 0) {
			return;
		}
		usleep(100 * 1000);
	}
	fail_msg("PostgreSQL in %s did not answer within 60 s", db);
}

static void test_postgres_preset(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "bkpg", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1",
			"services:\n"
			"  db:\n"
			"    image: bluegreen-test/postgres:v1\n"
			"    volumes: {pgdata: /var/lib/postgresql/data}\n"
			"    backup: {preset: postgres}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *db = bg_xasprintf("%s-db", e.site);
	db_wait(db);
	free(sql(db, "postgres", "CREATE DATABASE shop"));
	free(sql(db, "shop", "CREATE TABLE t (i int PRIMARY KEY, s text); "
			"INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'thr''ee');"));
	char *rows = sql(db, "shop", "SELECT i, s FROM t ORDER BY i");
	assert_string_equal(rows, "1|one\n2|two\n3|thr'ee\n");

	char *id = e2e_backup_now(&e);
	/* pg_dumpall's SQL, readable by hand. */
	char *dump = bg_xasprintf("%s/state/backups/%s/%s/dump-db.gz", e.dir, e.site, id);
	char *zargv[] = {"zcat", dump, NULL};
	th_run_argv(zargv, NULL, &r);
	th_assert_contains(r.out, "PostgreSQL database cluster dump");
	th_assert_contains(r.out, "CREATE TABLE public.t");
	th_run_release(&r);

	/* Change rows and the schema, then restore through the plan. */
	free(sql(db, "shop", "UPDATE t SET s = 'changed'; ALTER TABLE t ADD COLUMN n int; "
			"INSERT INTO t VALUES (4, 'four', 4);"));
	free(sql(db, "postgres", "CREATE DATABASE extra"));
	char *changed = sql(db, "shop", "SELECT * FROM t ORDER BY i");
	assert_string_not_equal(changed, rows);
	e2e_restore_through_plan(&e, id);
	char *rows2 = sql(db, "shop", "SELECT * FROM t ORDER BY i");
	assert_string_equal(rows2, rows);
	/* The history has the backup and the restore. */
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	char *from = bg_xasprintf("from backup %s", id);
	th_assert_contains(r.out, from);
	th_run_release(&r);

	free(from);
	free(rows2);
	free(changed);
	free(dump);
	free(id);
	free(rows);
	free(db);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	struct th_run r;
	char *script = th_src_path("test/images/build.sh");
	char *bargv[] = {script, "postgres", NULL};
	th_run_argv_ex(bargv, NULL, 1800000, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build.sh postgres failed%s: %s%s\n",
				r.timed_out ? " (timed out)" : "", r.out, r.err);
		return 1;
	}
	th_run_release(&r);
	free(script);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_postgres_preset, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
