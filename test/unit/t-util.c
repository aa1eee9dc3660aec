/*
 * t-util: the helpers of controller/base (bg-util.c, bg-mem.c, bg-fs.c,
 * bg-spawn.c; bg-util.h includes them all) that everything else leans on:
 * durations, string equality, distance, constant-time compare, atomic writes, argv
 * spawning, the 0700 state dir.
 */
#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"
#include "th.h"

#include <sys/stat.h>
#include <unistd.h>

static void test_duration(void **state)
{
	uint64_t ms = 0;
	assert_int_equal(bg_duration_parse("200ms", &ms), 0);
	assert_int_equal(ms, 200);
	assert_int_equal(bg_duration_parse("1s", &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(bg_duration_parse("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(bg_duration_parse("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(bg_duration_parse("ten", &ms), BG_EPARSE);
	assert_int_equal(bg_duration_parse("10", &ms), BG_EPARSE);
	assert_int_equal(bg_duration_parse("-1s", &ms), BG_EPARSE);
	assert_int_equal(bg_duration_parse("1.5s", &ms), BG_EPARSE);
	assert_int_equal(bg_duration_parse("99999999999999999999999h", &ms), BG_EPARSE);
	char buf[32];
	bg_duration_format(2000, buf);
	assert_string_equal(buf, "2s");
	bg_duration_format(1500, buf);
	assert_string_equal(buf, "1500ms");
	bg_duration_format(120000, buf);
	assert_string_equal(buf, "2m");
}

static void test_str_eq(void **state)
{
	assert_true(bg_str_eq(NULL, NULL));
	assert_true(bg_str_eq("a", "a"));
	assert_false(bg_str_eq("a", NULL));
	assert_false(bg_str_eq(NULL, "a"));
	assert_false(bg_str_eq("a", "b"));
}

static void test_distance(void **state)
{
	assert_int_equal(bg_str_distance("imgae", "image", 3), 2);
	assert_int_equal(bg_str_distance("port", "port", 3), 0);
	assert_int_equal(bg_str_distance("domains", "x", 2), 3);
}

static void test_ct_streq(void **state)
{
	assert_true(bg_ct_streq("3f2a9c01bb7d", "3f2a9c01bb7d"));
	assert_false(bg_ct_streq("3f2a9c01bb7e", "3f2a9c01bb7d"));
	assert_false(bg_ct_streq("3f2a9c01bb7", "3f2a9c01bb7d"));
	assert_false(bg_ct_streq("", "x"));
}

static void test_sha256(void **state)
{
	char hex[65];
	bg_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	struct bg_sha256 *h = bg_sha256_new();
	bg_sha256_update(h, "a", 1);
	bg_sha256_update(h, "bc", 2);
	bg_sha256_final_hex(h, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hex(void **state)
{
	const unsigned char raw[] = {0x00, 0x7f, 0xa5, 0xff};
	unsigned char back[4];
	char hex[9];
	bg_hex_encode(raw, 4, hex);
	assert_string_equal(hex, "007fa5ff");
	assert_true(bg_hex_decode(hex, back, 4));
	assert_memory_equal(back, raw, 4);
	assert_true(bg_hex_decode("007FA5FF trailing", back, 4)); /* either case; the rest is the caller's */
	assert_memory_equal(back, raw, 4);
	assert_false(bg_hex_decode("007fa5f", back, 4)); /* short: stops at the NUL */
	assert_false(bg_hex_decode("0g7fa5ff", back, 4));
	assert_false(bg_hex_decode("", back, 1));
}

static void test_atomic_write(void **state)
{
	char *dir = th_tmpdir("util");
	char *path = bg_xasprintf("%s/f.conf", dir);
	assert_int_equal(bg_file_write_atomic(path, NULL, "one", 3, 0644), 0);
	assert_int_equal(bg_file_write_atomic(path, NULL, "two", 3, 0600), 0);
	char *data = th_read(path);
	assert_string_equal(data, "two");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A failed write (missing temp dir) leaves the old file in place. */
	char *missing = bg_xasprintf("%s/nope", dir);
	assert_true(bg_file_write_atomic(path, missing, "three", 5, 0644) < 0);
	free(data);
	data = th_read(path);
	assert_string_equal(data, "two");
	free(data);
	free(missing);
	free(path);
	th_rm_rf(dir);
	free(dir);
}

static void test_file_read_limit(void **state)
{
	char *dir = th_tmpdir("util");
	th_write(dir, "big", "0123456789");
	char *path = bg_xasprintf("%s/big", dir);
	char *data = NULL;
	assert_int_equal(bg_file_read(path, 5, &data, NULL), BG_ETOO_BIG);
	assert_null(data);
	size_t len = 0;
	assert_int_equal(bg_file_read(path, 10, &data, &len), 0);
	assert_int_equal(len, 10);
	free(data);
	free(path);
	path = bg_xasprintf("%s/none", dir);
	assert_int_equal(bg_file_read(path, 10, &data, NULL), BG_ERRNO(ENOENT));
	free(path);
	th_rm_rf(dir);
	free(dir);
}

/*
 * A FIFO, a socket, a device or a link is refused at once, with a reason
 * that names the kind and never the content; the FIFO used to block the
 * caller forever (the daemon's whole loop when it was the approve file).
 */
/* A reader that keeps the descriptor (log -f) opens like every reader. */
static void test_file_open_regular(void **state)
{
	char *dir = th_tmpdir("util");
	char *fifo = bg_xasprintf("%s/fifo", dir);
	char *link = bg_xasprintf("%s/link", dir);
	char *file = bg_xasprintf("%s/file", dir);
	const char *why = NULL;
	struct stat st;

	th_write(dir, "file", "x\n");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink(file, link), 0);
	alarm(20); /* a blocking open fails the test instead of hanging it */
	assert_int_equal(bg_file_open_regular(fifo, NULL, &why), BG_EREFUSED);
	alarm(0);
	assert_string_equal(why, "not a regular file (fifo)");
	assert_int_equal(bg_file_open_regular(link, NULL, &why), BG_EREFUSED);
	assert_string_equal(why, "not a regular file (symbolic link, not followed)");
	int fd = bg_file_open_regular(file, &st, &why);
	assert_true(fd >= 0);
	assert_int_equal(st.st_size, 2);
	close(fd);
	th_rm_rf(dir);
	free(fifo);
	free(link);
	free(file);
	free(dir);
}

static void test_file_read_special(void **state)
{
	char *dir = th_tmpdir("util");
	char *fifo = bg_xasprintf("%s/fifo", dir);
	char *link = bg_xasprintf("%s/link", dir);
	char *secret = bg_xasprintf("%s/secret", dir);
	char *data = NULL;
	const char *why = NULL;

	th_write(dir, "secret", "root-only first line\n");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(20); /* a blocking open fails the test instead of hanging it */
	assert_int_equal(bg_file_read_safe(NULL, fifo, 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	assert_string_equal(why, "not a regular file (fifo)");
	assert_int_equal(bg_file_read(fifo, 1024, &data, NULL), BG_EREFUSED);
	alarm(0);
	assert_null(data);

	assert_int_equal(symlink(secret, link), 0);
	assert_int_equal(bg_file_read_safe(NULL, link, 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	assert_string_equal(why, "not a regular file (symbolic link, not followed)");
	assert_null(data);
	assert_int_equal(bg_file_read_safe(NULL, "/dev/null", 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	assert_string_equal(why, "not a regular file (character device)");
	char *sock = bg_xasprintf("%s/sock", dir);
	int sfd = th_unix_socket_at(sock, true);
	assert_int_equal(bg_file_read_safe(NULL, sock, 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	assert_string_equal(why, "not a regular file (socket)");
	close(sfd);
	free(sock);
	assert_int_equal(bg_file_read_safe(NULL, dir, 1024, &data, NULL, NULL, &why),
			BG_ERRNO(EISDIR));
	/* The size is checked before reading: fstat, not a read to the end. */
	assert_int_equal(bg_file_read_safe(NULL, secret, 4, &data, NULL, NULL, &why),
			BG_ETOO_BIG);
	assert_string_equal(why, "file is too large");
	struct stat st;
	size_t len = 0;
	assert_int_equal(bg_file_read_safe(NULL, secret, 1024, &data, &len, &st, &why), 0);
	assert_int_equal(len, strlen("root-only first line\n"));
	assert_true(S_ISREG(st.st_mode));
	free(data);
	free(fifo);
	free(link);
	free(secret);
	th_rm_rf(dir);
	free(dir);
}

/* With a directory, the path stays beneath it: no "..", no absolute path, no link. */
static void test_file_read_beneath(void **state)
{
	char *dir = th_tmpdir("util");
	char *cfg = bg_xasprintf("%s/cfg", dir);
	char *p = NULL;
	char *data = NULL;
	const char *why = NULL;

	th_write(dir, "cfg/secrets/a.env", "A=1\n");
	th_write(dir, "other/b.env", "B=2\n");
	assert_int_equal(bg_file_read_safe(cfg, "secrets/a.env", 1024, &data, NULL, NULL, &why),
			0);
	assert_string_equal(data, "A=1\n");
	free(data);
	data = NULL;
	assert_int_equal(bg_file_read_safe(cfg, "./secrets//a.env", 1024, &data, NULL, NULL,
			&why), 0);
	free(data);
	data = NULL;

	assert_int_equal(bg_file_read_safe(cfg, "../other/b.env", 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	th_assert_contains(why, "'..'");
	assert_int_equal(bg_file_read_safe(cfg, "secrets/../../other/b.env", 1024, &data, NULL,
			NULL, &why), BG_EREFUSED);
	p = bg_xasprintf("%s/other/b.env", dir);
	assert_int_equal(bg_file_read_safe(cfg, p, 1024, &data, NULL, NULL, &why), BG_EREFUSED);
	th_assert_contains(why, "absolute path");
	free(p);
	/* A link inside the directory, to a directory or a file outside it. */
	p = bg_xasprintf("%s/cfg/out", dir);
	assert_int_equal(symlink("../other", p), 0);
	free(p);
	assert_int_equal(bg_file_read_safe(cfg, "out/b.env", 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	th_assert_contains(why, "symbolic link");
	p = bg_xasprintf("%s/cfg/secrets/b.env", dir);
	assert_int_equal(symlink("../../other/b.env", p), 0);
	free(p);
	assert_int_equal(bg_file_read_safe(cfg, "secrets/b.env", 1024, &data, NULL, NULL, &why),
			BG_EREFUSED);
	th_assert_contains(why, "symbolic link");
	assert_int_equal(bg_file_read_safe(cfg, "secrets/none.env", 1024, &data, NULL, NULL,
			&why), BG_ERRNO(ENOENT));
	assert_null(data);
	free(cfg);
	th_rm_rf(dir);
	free(dir);
}

/*
 * The temporary file is created O_EXCL under a random name: something
 * planted at the old predictable name (.NAME.PID.tmp), here a hard link
 * to another file or a symlink, is neither written through nor in the way.
 */
static void test_atomic_write_planted(void **state)
{
	char *dir = th_tmpdir("util");
	char *path = bg_xasprintf("%s/f.conf", dir);
	char *victim = bg_xasprintf("%s/victim", dir);
	char *planted = bg_xasprintf("%s/.f.conf.%ld.tmp", dir, (long)getpid());
	char *data;

	th_write(dir, "victim", "precious\n");
	assert_int_equal(link(victim, planted), 0);
	assert_int_equal(bg_file_write_atomic(path, NULL, "new", 3, 0644), 0);
	data = th_read(victim);
	assert_string_equal(data, "precious\n");
	free(data);
	data = th_read(path);
	assert_string_equal(data, "new");
	free(data);
	assert_int_equal(unlink(planted), 0);
	assert_int_equal(symlink(victim, planted), 0);
	assert_int_equal(bg_file_write_atomic(path, NULL, "newer", 5, 0644), 0);
	data = th_read(path);
	assert_string_equal(data, "newer");
	free(data);
	data = th_read(victim);
	assert_string_equal(data, "precious\n");
	free(data);
	free(planted);
	free(victim);
	free(path);
	th_rm_rf(dir);
	free(dir);
}

/* A directory others may write to, or owned by someone else, is refused. */
static void test_atomic_write_dir_owner(void **state)
{
	char *dir = th_tmpdir("util");
	char *path = bg_xasprintf("%s/f.conf", dir);
	const char *why = NULL;

	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(bg_file_write_atomic_why(path, NULL, "x", 1, 0644, &why), BG_EREFUSED);
	assert_string_equal(why, "the directory is writable by its group or others");
	assert_int_equal(chmod(dir, 01777), 0); /* sticky stops replacing, not adding */
	assert_int_equal(bg_file_write_atomic(path, NULL, "x", 1, 0644), BG_EREFUSED);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(bg_file_write_atomic(path, NULL, "x", 1, 0644), BG_EREFUSED);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(bg_file_write_atomic(path, NULL, "x", 1, 0644), 0);
	if (geteuid() == 0) {
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(bg_file_write_atomic_why(path, NULL, "y", 1, 0644, &why),
				BG_EREFUSED);
		assert_string_equal(why, "the directory is owned by another user (neither us "
				"nor root)");
		char *data = th_read(path);
		assert_string_equal(data, "x");
		free(data);
		assert_int_equal(chown(dir, 0, 0), 0);
	} else {
		print_message("# not root: the foreign-owner case needs chown\n");
	}
	free(path);
	th_rm_rf(dir);
	free(dir);
}

static void test_state_dir(void **state)
{
	char *dir = th_tmpdir("util");
	char *sd = bg_xasprintf("%s/a/b/state", dir);
	assert_int_equal(bg_state_dir_ensure(sd), 0);
	struct stat st;
	assert_int_equal(stat(sd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* An existing directory keeps the mode its owner chose: never chmod'ed. */
	chmod(sd, 0755);
	assert_int_equal(bg_state_dir_ensure(sd), 0);
	assert_int_equal(stat(sd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	/* Someone else's (not root's, not ours): refused, untouched, how to fix said. */
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(chown(sd, 65534, 65534), 0);
	assert_int_equal(bg_state_dir_prepare(sd, &d), BG_ERRNO(EPERM));
	assert_int_equal(d.n_errors, 1);
	th_assert_contains(d.items[0].msg, "is owned by uid 65534");
	th_assert_contains(d.items[0].msg, "chown");
	assert_int_equal(stat(sd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	assert_int_equal(st.st_uid, 65534);
	bg_diag_release(&d);
	assert_int_equal(chown(sd, geteuid(), getegid()), 0);

	/* Group- or world-writable: refused, untouched. */
	bg_diag_init(&d);
	chmod(sd, 0770);
	assert_int_equal(bg_state_dir_prepare(sd, &d), BG_ERRNO(EPERM));
	th_assert_contains(d.items[0].msg, "writable by its group (mode 0770)");
	th_assert_contains(d.items[0].msg, "chmod go-w");
	assert_int_equal(stat(sd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0770);
	bg_diag_release(&d);

	/* A symbolic link: refused, whatever it points to. */
	char *ln = bg_xasprintf("%s/link", dir);
	chmod(sd, 0700);
	assert_int_equal(symlink(sd, ln), 0);
	bg_diag_init(&d);
	assert_int_equal(bg_state_dir_prepare(ln, &d), BG_ERRNO(ELOOP));
	th_assert_contains(d.items[0].msg, "symbolic link");
	bg_diag_release(&d);
	assert_int_equal(bg_dir_trusted(ln, "configuration directory", false, NULL), 0);

	/* A directory made now is 0700 whatever the umask. */
	char *fresh = bg_xasprintf("%s/fresh", dir);
	mode_t old = umask(0277);
	assert_int_equal(bg_state_dir_ensure(fresh), 0);
	umask(old);
	assert_int_equal(stat(fresh, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	free(fresh);
	free(ln);
	free(sd);
	th_rm_rf(dir);
	free(dir);
}

static void test_spawn(void **state)
{
	int status = -1;
	char *out = NULL;
	/* An argument with shell metacharacters is passed verbatim. */
	char *argv[] = {"echo", "a;b $(x) `y`", NULL};
	assert_int_equal(bg_spawn_capture(argv, NULL, 5000, &status, &out), 0);
	assert_int_equal(status, 0);
	assert_string_equal(out, "a;b $(x) `y`\n");
	free(out);
	char *fails[] = {"false", NULL};
	assert_int_equal(bg_spawn_capture(fails, NULL, 5000, &status, NULL), 0);
	assert_int_equal(status, 1);
	char *slow[] = {"sleep", "5", NULL};
	int64_t t0 = bg_mono_ms();
	assert_int_equal(bg_spawn_capture(slow, NULL, 200, &status, NULL), BG_ETIMEOUT);
	assert_true(bg_mono_ms() - t0 < th_time_limit(3000));
	char *pwd[] = {"pwd", NULL};
	assert_int_equal(bg_spawn_capture(pwd, "/usr", 5000, &status, &out), 0);
	assert_string_equal(out, "/usr\n");
	free(out);
	char *missing[] = {"no-such-program-bg", NULL};
	/*
	 * A missing program is an error: glibc's posix_spawnp reports the
	 * exec failure (ENOENT) to the parent. Under valgrind it cannot: the
	 * child valgrind runs in is already a new process when the exec
	 * fails, so it exits 127, the shell's "command not found". Either
	 * form says "not run"; anything else (a 0 exit, another status) fails.
	 */
	status = -1;
	int rc = bg_spawn_capture(missing, NULL, 1000, &status, NULL);
	if (!(rc < 0 || (rc == 0 && status == 127))) {
		fail_msg("spawning a missing program: rc %d, exit status %d (want rc < 0, or "
				"exit status 127)", rc, status);
	}
}

/*
 * The two ways a reload command can leave the pipe: it exits while a child
 * it started still holds the output (a daemonising program) — we return
 * soon after it exits, with its status and what it printed; or it closes
 * its output and hangs — the deadline still applies.
 */
static void test_spawn_pipe_holders(void **state)
{
	int status = -1;
	char *out = NULL;
	char *daemonise[] = {"sh", "-c", "echo started; sleep 5 & exit 3", NULL};
	int64_t t0 = bg_mono_ms();
	assert_int_equal(bg_spawn_capture(daemonise, NULL, 10000, &status, &out), 0);
	int64_t took = bg_mono_ms() - t0;
	assert_int_equal(status, 3);
	assert_string_equal(out, "started\n");
	free(out);
	print_message("# exit with a grandchild holding the pipe: returned after %lld ms\n",
			(long long)took);
	if (took >= th_time_limit(3000)) {
		fail_msg("waited %lld ms for a grandchild holding the pipe (sleep 5)",
				(long long)took);
	}

	char *hang[] = {"sh", "-c", "exec >/dev/null 2>&1; sleep 5", NULL};
	t0 = bg_mono_ms();
	assert_int_equal(bg_spawn_capture(hang, NULL, 300, &status, NULL), BG_ETIMEOUT);
	took = bg_mono_ms() - t0;
	assert_true(took >= 300);
	if (took >= th_time_limit(3000)) {
		fail_msg("a child that closed its output and hung took %lld ms to time out "
				"(deadline 300 ms)", (long long)took);
	}
}

static void test_argv_display(void **state)
{
	char *argv[] = {"nginx", "-s", "reload", "a b", "it's", NULL};
	char *s = bg_argv_display(argv);
	assert_string_equal(s, "nginx -s reload 'a b' 'it'\\''s'");
	free(s);
}

static void test_strv(void **state)
{
	struct bg_strv a, b;
	bg_strv_init(&a);
	bg_strv_init(&b);
	bg_strv_push(&a, "z");
	bg_strv_push(&a, "a");
	bg_strv_sort(&a);
	assert_string_equal(a.v[0], "a");
	assert_null(a.v[2]);
	bg_strv_copy(&b, &a);
	assert_true(bg_strv_equal(&a, &b));
	assert_true(bg_strv_contains(&b, "z"));
	bg_strv_push(&b, "q");
	assert_false(bg_strv_equal(&a, &b));
	bg_strv_release(&a);
	bg_strv_release(&b);
}

static void test_errors(void **state)
{
	assert_string_equal(bg_strerror(BG_ETOKEN_STALE), "plan token is stale");
	assert_string_equal(bg_err_name(BG_ELOCKED), "BG_ELOCKED");
	assert_string_equal(bg_strerror(BG_ERRNO(ENOENT)), strerror(ENOENT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_str_eq),
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_ct_streq),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_atomic_write),
		cmocka_unit_test(test_file_read_limit),
		cmocka_unit_test(test_file_open_regular),
		cmocka_unit_test(test_file_read_special),
		cmocka_unit_test(test_file_read_beneath),
		cmocka_unit_test(test_atomic_write_planted),
		cmocka_unit_test(test_atomic_write_dir_owner),
		cmocka_unit_test(test_state_dir),
		cmocka_unit_test(test_spawn),
		cmocka_unit_test(test_spawn_pipe_holders),
		cmocka_unit_test(test_argv_display),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
