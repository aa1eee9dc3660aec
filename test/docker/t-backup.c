/*
 * t-backup: backups against a real engine, nginx and MariaDB
 * (bluegreen-test/mariadb:v1, test/images/mariadb/). A site with a volume
 * and a MariaDB service: rows and files written, `bluegreen backup`,
 * changed, then put back with bk_restore_volume / bk_restore_dump (the
 * plan that stops writers first is issue 12's other half) and compared:
 * rows by SELECT, files by sha256. `backup verify` catches one changed
 * byte and names the part; retention keeps N; a failing dump command
 * fails the backup and lists nothing, so does too little room; a SIGKILLed
 * backup leaves nothing listed, a readable history, and the next backup
 * sweeps its remains. The `mysql` preset (mysqldump, mysql) runs against
 * the same MariaDB server (Debian 12 has no MySQL server; MariaDB's client
 * package provides mysqldump and mysql): rows changed after a backup come
 * back through the restore plan (plan --restore SITE@ID, apply TOKEN).
 *
 * Needs: dockerd, nginx, curl, mmdebstrap (the MariaDB image, built once
 * and cached by test/images/build.sh mariadb).
 */
#include "bg.h"
#include "bg-buf.h"
#include "bk.h"
#include "e2e.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const db_site =
	"volumes: {uploads: /data}\n"
	"services:\n"
	"  db:\n"
	"    image: bluegreen-test/mariadb:v1\n"
	"    volumes: {dbdata: /var/lib/mysql}\n"
	"    backup: {preset: mariadb}\n";

/* `docker exec CONTAINER ARGV...`; asserts exit 0; returns stdout (new). */
static char *dexec(const char *c, const char *arg0, ...)
{
	char *argv[32];
	size_t n = 0;
	va_list ap;
	struct th_run r;

	argv[n++] = "docker";
	argv[n++] = "exec";
	argv[n++] = (char *)c;
	va_start(ap, arg0);
	for (const char *a = arg0; a && n < 31; a = va_arg(ap, const char *)) {
		argv[n++] = (char *)a;
	}
	va_end(ap);
	argv[n] = NULL;
	th_run_argv(argv, NULL, &r);
	if (r.status != 0) {
		fail_msg("docker exec %s %s: exit %d: %s", c, arg0, r.status, r.err);
	}
	char *out = bg_xstrdup(r.out);
	th_run_release(&r);
	return out;
}

static char *sql(const char *db, const char *q)
{
	return dexec(db, "mariadb", "-N", "-B", "-e", q, NULL);
}

static void db_wait(const char *db)
{
	for (int i = 0; i < 600; i++) {
		struct th_run r;
		th_docker(&r, "exec", db, "mariadb", "-e", "select 1", NULL);
		int st = r.status;
		th_run_release(&r);
		if (st == 0) {
			return;
		}
		usleep(100 * 1000);
	}
	fail_msg("MariaDB in %s did not answer within 60 s", db);
}

/* The id printed by `bluegreen backup` ("backup ID of SITE: ..."). */
static char *backup_now(struct e2e *e)
{
	char *id = e2e_backup_now(e);
	assert_true(bk_id_valid(id));
	return id;
}

/* How many backups `backups SITE --json` lists. */
static size_t listed(struct e2e *e, struct json_object **out)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "--json", "backups", e->site, NULL), 0);
	struct json_object *a = json_tokener_parse(r.out);
	assert_non_null(a);
	assert_true(json_object_is_type(a, json_type_array));
	size_t n = json_object_array_length(a);
	th_run_release(&r);
	if (out) {
		*out = a;
	} else {
		json_object_put(a);
	}
	return n;
}

/* Restore every volume but the database's, and the dump, like a plan would. */
static void restore(struct e2e *e, const char *id, const char *blue)
{
	struct cfg *cfg = NULL;
	struct rt *rt = NULL;
	struct hist *h = NULL;
	struct bk_manifest m;
	struct obs o;
	struct bg_diag d;
	struct th_run r;

	bg_diag_init(&d);
	obs_init(&o);
	assert_int_equal(cfg_load(&cfg, e->dir, 0, &d), 0);
	assert_int_equal(rt_docker_create(&rt, cfg->g.docker_socket), 0);
	assert_int_equal(hist_open(&h, cfg->g.state_dir, HIST_RDONLY, &d), 0);
	assert_int_equal(bk_get(h, id, &m, &d), 0);
	/* Writers stopped first: the plan's job, done by hand here. */
	th_docker(&r, "stop", blue, NULL);
	th_run_release(&r);
	int err = bk_restore_volume(rt, cfg, &m, "uploads", &d);
	for (size_t i = 0; i < d.n; i++) {
		printf("# %s\n", d.items[i].msg);
	}
	assert_int_equal(err, 0);
	th_docker(&r, "start", blue, NULL);
	th_run_release(&r);
	assert_int_equal(rt_observe(rt, &o, RT_OBSERVE_ALL, &d), 0);
	err = bk_restore_dump(rt, cfg, cfg_site_find(cfg, e->site), &o, &m, "db", &d);
	for (size_t i = 0; i < d.n; i++) {
		printf("# %s\n", d.items[i].msg);
	}
	assert_int_equal(err, 0);
	bk_manifest_release(&m);
	obs_release(&o);
	hist_close(h);
	rt_destroy(rt);
	cfg_destroy(cfg);
	bg_diag_release(&d);
}

static void test_backup_restore_verify(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "bkup", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", db_site);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *db = bg_xasprintf("%s-db", e.site);
	char *blue = bg_xasprintf("%s-blue", e.site);
	db_wait(db);
	free(sql(db, "create database shop; create table shop.t (i int primary key, s text);"
			"insert into shop.t values (1, 'one'), (2, 'two'), (3, 'three');"));
	free(dexec(blue, "/bin/busybox", "mkdir", "-p", "/data/sub", NULL));
	free(dexec(blue, "/bin/busybox", "dd", "if=/dev/urandom", "of=/data/sub/rand",
			"bs=1024", "count=700", NULL));
	free(dexec(blue, "/bin/busybox", "cp", "/www/index.html", "/data/page", NULL));
	char *sums = dexec(blue, "/bin/busybox", "sha256sum", "/data/sub/rand", "/data/page",
			NULL);
	char *rows = sql(db, "select i, s from shop.t order by i");

	char *id = backup_now(&e);
	struct json_object *a = NULL;
	assert_int_equal(listed(&e, &a), 1);
	struct json_object *m = json_object_array_get_idx(a, 0), *parts = NULL;
	json_object_object_get_ex(m, "parts", &parts);
	/* uploads, dbdata, the dump of db, config.json */
	assert_int_equal(json_object_array_length(parts), 4);
	json_object_put(a);
	char *dir = bg_xasprintf("%s/state/backups/%s/%s", e.dir, e.site, id);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* The dump is the server's own SQL, readable by hand. */
	char *dump = bg_xasprintf("%s/dump-db.gz", dir);
	char *zargv[] = {"zcat", dump, NULL};
	th_run_argv(zargv, NULL, &r);
	th_assert_contains(r.out, "INSERT INTO `t` VALUES");
	th_assert_contains(r.out, "(1,'one')");
	th_run_release(&r);

	/* Change everything, then put the backup back. */
	free(sql(db, "delete from shop.t where i = 2; insert into shop.t values (9, 'nine');"));
	free(dexec(blue, "/bin/busybox", "dd", "if=/dev/zero", "of=/data/sub/rand", "bs=1024",
			"count=3", NULL));
	free(dexec(blue, "/bin/busybox", "touch", "/data/new-file", NULL));
	restore(&e, id, blue);
	char *rows2 = sql(db, "select i, s from shop.t order by i");
	assert_string_equal(rows2, rows);
	char *sums2 = dexec(blue, "/bin/busybox", "sha256sum", "/data/sub/rand", "/data/page",
			NULL);
	assert_string_equal(sums2, sums);
	th_docker(&r, "exec", blue, "/bin/busybox", "ls", "/data/new-file", NULL);
	assert_int_not_equal(r.status, 0); /* emptied before extracting */
	th_run_release(&r);

	/* verify: good, then one byte changed is caught and named. */
	assert_int_equal(e2e_bg(&e, &r, "backup", "verify", id, NULL), 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "backups", e.site, NULL), 0);
	th_assert_contains(r.out, "verified");
	th_run_release(&r);
	char *part = bg_xasprintf("%s/volume-uploads.tar.gz", dir);
	int fd = open(part, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c;
	assert_int_equal(pread(fd, &c, 1, 100), 1);
	c ^= 0x01;
	assert_int_equal(pwrite(fd, &c, 1, 100), 1);
	close(fd);
	assert_int_equal(e2e_bg(&e, &r, "backup", "verify", id, NULL), 1);
	th_assert_contains(r.err, "volume-uploads.tar.gz");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "backups", e.site, NULL), 0);
	th_assert_contains(r.out, "FAILED");
	th_run_release(&r);
	/* The journal has the backup. */
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "backup");
	th_assert_contains(r.out, id);
	th_run_release(&r);

	free(part);
	free(dump);
	free(dir);
	free(id);
	free(rows);
	free(rows2);
	free(sums);
	free(sums2);
	free(db);
	free(blue);
	e2e_release(&e);
}

static size_t dir_entries(const char *path)
{
	DIR *dp = opendir(path);
	struct dirent *de;
	size_t n = 0;
	while (dp && (de = readdir(dp))) {
		n += de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
	}
	if (dp) {
		closedir(dp);
	}
	return n;
}

static void test_retention_keeps_n(void **state)
{
	struct e2e e;
	e2e_init(&e, "bkret", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", "volumes: {uploads: /data}\nbackup: {keep: 2}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *ids[4];
	for (int i = 0; i < 4; i++) {
		ids[i] = backup_now(&e);
		assert_int_equal(listed(&e, NULL), i < 2 ? (size_t)i + 1 : 2);
	}
	struct json_object *a = NULL;
	listed(&e, &a);
	/* The two newest, newest first. */
	const char *first = json_object_get_string(json_object_object_get(
				json_object_array_get_idx(a, 0), "id"));
	const char *second = json_object_get_string(json_object_object_get(
				json_object_array_get_idx(a, 1), "id"));
	assert_string_equal(first, ids[3]);
	assert_string_equal(second, ids[2]);
	json_object_put(a);
	char *sdir = bg_xasprintf("%s/state/backups/%s", e.dir, e.site);
	assert_int_equal(dir_entries(sdir), 2);
	free(sdir);
	for (int i = 0; i < 4; i++) {
		free(ids[i]);
	}
	e2e_release(&e);
}

static void test_failing_dump_lists_nothing(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "bkfail", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1",
			"volumes: {uploads: /data}\n"
			"services:\n  db:\n    image: bluegreen-test/db:1\n"
			"    backup: {command: [/bin/busybox, \"false\"], restore: [/bin/busybox, cat]}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_int_equal(e2e_bg(&e, &r, "backup", e.site, NULL), 1);
	th_assert_contains(r.err, "exited with 1");
	th_run_release(&r);
	assert_int_equal(listed(&e, NULL), 0);
	char *sdir = bg_xasprintf("%s/state/backups/%s", e.dir, e.site);
	assert_int_equal(dir_entries(sdir), 0);
	free(sdir);
	assert_int_equal(e2e_bg(&e, &r, "history", e.site, NULL), 0);
	th_assert_contains(r.out, "failed");
	th_run_release(&r);
	/* Too little room (pretended: BLUEGREEN_FAULT_BACKUP_NEED is the estimate)
	 * is refused before anything is written. */
	char *bargv[] = {getenv("BG_BINARY"), "-c", e.dir, "backup", e.site, NULL};
	char *benv[] = {"BLUEGREEN_FAULT_BACKUP_NEED=1000000000000000000", "BLUEGREEN_CONFIG=", NULL};
	th_run_argv(bargv, benv, &r);
	assert_int_equal(r.status, 1);
	th_assert_contains(r.err, "not enough room for a backup of");
	th_run_release(&r);
	assert_int_equal(listed(&e, NULL), 0);
	/* No helper container left behind. */
	char *f = bg_xasprintf("label=io.bluegreen.backup-site=%s", e.site);
	th_docker(&r, "ps", "-aq", "--filter", f, NULL);
	assert_string_equal(r.out, "");
	th_run_release(&r);
	free(f);
	e2e_release(&e);
}

static void test_sigkill_leaves_no_half_backup(void **state)
{
	struct e2e e;
	struct th_run r;
	const char *slow =
		"volumes: {uploads: /data}\n"
		"services:\n  db:\n    image: bluegreen-test/db:1\n"
		"    backup: {command: [/bin/busybox, sleep, \"30\"], restore: [/bin/busybox, cat]}\n";
	e2e_init(&e, "bkkill", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", slow);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *sdir = bg_xasprintf("%s/state/backups/%s", e.dir, e.site);
	char *out = bg_xasprintf("%s-backup.out", e.dir);
	char *argv[] = {getenv("BG_BINARY"), "-c", e.dir, "backup", e.site, NULL};
	char *env[] = {"BLUEGREEN_CONFIG=", NULL};
	pid_t pid = th_spawn_bg(argv, env, out);
	bool seen = false;
	for (int i = 0; i < 300 && !seen; i++) {
		DIR *dp = opendir(sdir);
		struct dirent *de;
		while (dp && (de = readdir(dp))) {
			size_t n = strlen(de->d_name);
			seen |= n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0;
		}
		if (dp) {
			closedir(dp);
		}
		usleep(100 * 1000);
	}
	assert_true(seen);
	usleep(500 * 1000); /* inside the dump */
	kill(pid, SIGKILL);
	th_wait(pid);
	assert_int_equal(listed(&e, NULL), 0);
	assert_int_equal(e2e_bg(&e, &r, "history", NULL), 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", "--verify", NULL), 0);
	th_run_release(&r);
	/* The next backup sweeps the remains and is the only one listed. */
	e2e_site(&e, "bluegreen-test/web:v1",
			"volumes: {uploads: /data}\n"
			"services:\n  db:\n    image: bluegreen-test/db:1\n"
			"    backup: {command: [/bin/busybox, echo, dumped], restore: [/bin/busybox, cat]}\n");
	char *id = backup_now(&e);
	assert_int_equal(listed(&e, NULL), 1);
	assert_int_equal(dir_entries(sdir), 1);
	/* The helper of the killed run is ours and labelled: the next
	 * backup never trips on it, and the test removes it. */
	char *f = bg_xasprintf("label=io.bluegreen.backup-site=%s", e.site);
	th_docker(&r, "ps", "-aq", "--filter", f, NULL);
	char *save = NULL;
	for (char *c = strtok_r(r.out, "\n", &save); c; c = strtok_r(NULL, "\n", &save)) {
		struct th_run r2;
		th_docker(&r2, "rm", "-f", c, NULL);
		th_run_release(&r2);
	}
	th_run_release(&r);
	free(f);
	free(id);
	free(out);
	free(sdir);
	e2e_release(&e);
}

static void test_mysql_preset_on_mariadb(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "bkmy", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1",
			"services:\n"
			"  db:\n"
			"    image: bluegreen-test/mariadb:v1\n"
			"    volumes: {dbdata: /var/lib/mysql}\n"
			"    backup: {preset: mysql}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *db = bg_xasprintf("%s-db", e.site);
	db_wait(db);
	free(sql(db, "create database shop; create table shop.t (i int primary key, s text);"
			"insert into shop.t values (1, 'one'), (2, 'two');"));
	char *rows = sql(db, "select i, s from shop.t order by i");
	char *id = backup_now(&e);
	/* mysqldump's SQL, readable by hand. */
	char *dump = bg_xasprintf("%s/state/backups/%s/%s/dump-db.gz", e.dir, e.site, id);
	char *zargv[] = {"zcat", dump, NULL};
	th_run_argv(zargv, NULL, &r);
	th_assert_contains(r.out, "(1,'one')");
	th_run_release(&r);
	/* The preset's own argv ran: MariaDB's mysqldump and mysql client names. */
	char *conf = bg_xasprintf("%s/state/backups/%s/%s/config.json", e.dir, e.site, id);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(bg_file_read(conf, 1 << 20, &text, &len), 0);
	th_assert_contains(text, "mysqldump");
	free(text);
	free(conf);
	free(sql(db, "update shop.t set s = 'changed'; insert into shop.t values (3, 'three');"));
	char *changed = sql(db, "select i, s from shop.t order by i");
	assert_string_not_equal(changed, rows);
	e2e_restore_through_plan(&e, id);
	char *rows2 = sql(db, "select i, s from shop.t order by i");
	assert_string_equal(rows2, rows);
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
	char *bargv[] = {script, "mariadb", NULL};
	th_run_argv_ex(bargv, NULL, 1800000, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build.sh mariadb failed: %s%s\n", r.out, r.err);
		return 1;
	}
	th_run_release(&r);
	free(script);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_backup_restore_verify, e2e_teardown),
		cmocka_unit_test_teardown(test_retention_keeps_n, e2e_teardown),
		cmocka_unit_test_teardown(test_failing_dump_lists_nothing, e2e_teardown),
		cmocka_unit_test_teardown(test_sigkill_leaves_no_half_backup, e2e_teardown),
		cmocka_unit_test_teardown(test_mysql_preset_on_mariadb, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
