/*
 * t-lock: the state-directory lock between real processes. A forked child
 * holds the lock while the parent tries, waits, asks who holds it, and
 * kills the child with SIGKILL to prove that nothing stale is left. Times
 * are measured, so a lock that never waits or never gives up fails here.
 */
#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"
#include "lock.h"
#include "th.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *diag_first(const struct bg_diag *d)
{
	return d->n ? d->items[0].msg : "";
}

static char *state_path(const char *tmp)
{
	return bg_xasprintf("%s/state", tmp);
}

/*
 * Fork a child that takes the lock as `what`, says so on a pipe, then
 * either holds it until killed (hold_ms 0) or releases it after hold_ms
 * and lingers, alive, so that only the explicit release frees it.
 */
static pid_t child_hold(const char *state, const char *what, unsigned hold_ms)
{
	int p[2];
	char c = 0;
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct bg_lock *l = NULL;
		close(p[0]);
		if (lock_acquire(&l, state, what, 0, NULL) != 0) {
			_exit(3);
		}
		c = 'L';
		if (write(p[1], &c, 1) != 1) {
			_exit(4);
		}
		if (hold_ms == 0) {
			for (;;) {
				pause();
			}
		}
		usleep(hold_ms * 1000);
		lock_release(l);
		sleep(30);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'L');
	close(p[0]);
	return pid;
}

static void child_kill(pid_t pid)
{
	int st = 0;
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
}

static void test_basic(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	char *file = bg_xasprintf("%s/%s", st, LOCK_FILE_NAME);
	struct bg_lock *l = NULL;
	struct stat sb;
	char *holder = NULL;
	long pid = -1;

	/* Asking creates nothing. */
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_null(holder);
	assert_int_equal(pid, 0);
	assert_int_equal(stat(st, &sb), -1);

	assert_int_equal(lock_acquire(&l, st, "apply 3f2a9c01bb7d", 0, NULL), 0);
	assert_non_null(l);
	assert_int_equal(stat(st, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	/* A second description of the same file conflicts even in-process. */
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_non_null(holder);
	assert_int_equal(pid, (long)getpid());
	char *want = bg_xasprintf("pid %ld (apply 3f2a9c01bb7d, %s, since ", (long)getpid(),
			bg_actor());
	th_assert_contains(holder, want);
	free(want);
	free(holder);

	char *text = th_read(file);
	th_assert_contains(text, "what: apply 3f2a9c01bb7d\n");
	free(text);

	lock_release(l);
	/* The file stays (never unlinked) and is empty; nobody holds it. */
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_null(holder);
	assert_int_equal(pid, 0);

	/* Re-acquiring works; NULL-safe release. */
	assert_int_equal(lock_acquire(&l, st, "watch", 0, NULL), 0);
	lock_release(l);
	lock_release(NULL);

	free(file);
	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

static void test_cloexec(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	char *file = bg_xasprintf("%s/%s", st, LOCK_FILE_NAME);
	struct bg_lock *l = NULL;
	int found = 0;

	assert_int_equal(lock_acquire(&l, st, "watch", 0, NULL), 0);
	DIR *dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	for (struct dirent *de = readdir(dir); de; de = readdir(dir)) {
		char link[4096];
		char *p = bg_xasprintf("/proc/self/fd/%s", de->d_name);
		ssize_t n = readlink(p, link, sizeof(link) - 1);
		free(p);
		if (n <= 0) {
			continue;
		}
		link[n] = '\0';
		if (strcmp(link, file) == 0) {
			int flags = fcntl(atoi(de->d_name), F_GETFD);
			assert_true(flags >= 0);
			assert_true(flags & FD_CLOEXEC);
			found++;
		}
	}
	closedir(dir);
	assert_int_equal(found, 1);
	lock_release(l);
	free(file);
	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

static void test_refused_then_killed(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	struct bg_lock *l = NULL;
	struct bg_diag d;
	char *holder = NULL;
	long pid = 0;

	pid_t child = child_hold(st, "apply 3f2a9c01bb7d", 0);

	/* Waiting 300 ms, then refusing, naming the holder. */
	bg_diag_init(&d);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(lock_acquire(&l, st, "apply other", 300, &d), BG_ELOCKED);
	int64_t took = bg_mono_ms() - t0;
	assert_null(l);
	assert_true(took >= 300);
	assert_true(took < th_time_limit(600));
	char *want = bg_xasprintf("state directory %s is locked by pid %ld "
			"(apply 3f2a9c01bb7d, %s, since ", st, (long)child, bg_actor());
	th_assert_contains(diag_first(&d), want);
	free(want);
	bg_diag_release(&d);

	/* Trying once refuses at once. */
	bg_diag_init(&d);
	t0 = bg_mono_ms();
	assert_int_equal(lock_acquire(&l, st, "plan", 0, &d), BG_ELOCKED);
	assert_true(bg_mono_ms() - t0 < th_time_limit(200));
	bg_diag_release(&d);

	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_int_equal(pid, (long)child);
	th_assert_contains(holder, "apply 3f2a9c01bb7d");
	free(holder);

	/* kill -9: the kernel drops the lock; nothing stale remains. */
	child_kill(child);
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_null(holder);
	assert_int_equal(pid, 0);
	t0 = bg_mono_ms();
	assert_int_equal(lock_acquire(&l, st, "apply next", 0, NULL), 0);
	assert_true(bg_mono_ms() - t0 < th_time_limit(100));
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_int_equal(pid, (long)getpid());
	th_assert_contains(holder, "apply next");
	free(holder);
	lock_release(l);

	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

static void test_wait_succeeds(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	struct bg_lock *l = NULL;
	struct bg_diag d;

	pid_t child = child_hold(st, "apply short", 250);
	bg_diag_init(&d);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(lock_acquire(&l, st, "apply waiting", 3000, &d), 0);
	int64_t took = bg_mono_ms() - t0;
	/* It really waited for the release, and got the lock soon after it. */
	assert_true(took >= 150);
	assert_true(took < th_time_limit(1500));
	assert_int_equal(d.n, 0);
	bg_diag_release(&d);

	long pid = 0;
	char *holder = NULL;
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_int_equal(pid, (long)getpid());
	free(holder);
	lock_release(l);
	child_kill(child); /* it is lingering, still alive: proof the release freed it */

	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

static void test_what_is_one_line(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	struct bg_lock *l = NULL;
	char *holder = NULL;
	long pid = 0;

	assert_int_equal(lock_acquire(&l, st, "apply x\npid: 1\r\nactor: forged", 0, NULL), 0);
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_int_equal(pid, (long)getpid());
	th_assert_contains(holder, "apply x pid: 1  actor: forged");
	th_assert_not_contains(holder, "\n");
	free(holder);
	lock_release(l);
	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

/* A holder that died without a word, and a file someone else truncated. */
static void test_stale_description(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	struct bg_lock *l = NULL;
	char *holder = NULL;
	long pid = 0;

	assert_int_equal(bg_state_dir_ensure(st), 0);
	th_write(st, LOCK_FILE_NAME, "pid: 999999999\nwhat: ghost\n");
	/* Not held: the stale text is not believed. */
	assert_int_equal(lock_holder(st, &holder, &pid), 0);
	assert_null(holder);
	assert_int_equal(lock_acquire(&l, st, "apply real", 0, NULL), 0);
	char *file = bg_xasprintf("%s/%s", st, LOCK_FILE_NAME);
	char *text = th_read(file);
	th_assert_not_contains(text, "ghost");
	free(text);
	free(file);
	lock_release(l);
	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

/*
 * Someone else's state directory, or a lock file of another user in ours:
 * refused with how to fix it, and neither is chmod'ed (a converger as root
 * used to tighten whatever it found). Needs root to chown.
 */
static void test_foreign_owner_refused(void **state)
{
	char *tmp = th_tmpdir("lock");
	char *st = state_path(tmp);
	char *file = bg_xasprintf("%s/%s", st, LOCK_FILE_NAME);
	struct bg_lock *l = NULL;
	struct bg_diag d;
	struct stat sb;

	assert_int_equal(geteuid(), 0);
	assert_int_equal(mkdir(st, 0750), 0);
	assert_int_equal(chmod(st, 0750), 0);
	assert_int_equal(chown(st, 65534, 65534), 0);
	bg_diag_init(&d);
	assert_int_equal(lock_acquire(&l, st, "apply x", 0, &d), BG_ERRNO(EPERM));
	assert_null(l);
	th_assert_contains(d.items[0].msg, "is owned by uid 65534");
	bg_diag_release(&d);
	assert_int_equal(stat(st, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(access(file, F_OK), -1); /* nothing created in it */

	assert_int_equal(chown(st, 0, 0), 0);
	th_write(st, LOCK_FILE_NAME, "");
	assert_int_equal(chmod(file, 0644), 0);
	assert_int_equal(chown(file, 65534, 65534), 0);
	bg_diag_init(&d);
	assert_int_equal(lock_acquire(&l, st, "apply x", 0, &d), BG_ERRNO(EPERM));
	assert_null(l);
	th_assert_contains(d.items[0].msg, "belongs to uid 65534");
	bg_diag_release(&d);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	free(file);
	free(st);
	th_rm_rf(tmp);
	free(tmp);
}

/* A FIFO planted as the lock file is refused at once, never waited on. */
static void test_fifo_lock_refused(void **state)
{
	char *dir = th_tmpdir("lock");
	char *path = bg_xasprintf("%s/lock", dir);
	char *holder = NULL;
	long pid = 0;

	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(20);
	assert_int_equal(lock_holder(dir, &holder, &pid), BG_ERRNO(EINVAL));
	alarm(0);
	assert_null(holder);
	th_rm_rf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_cloexec),
		cmocka_unit_test(test_refused_then_killed),
		cmocka_unit_test(test_wait_succeeds),
		cmocka_unit_test(test_what_is_one_line),
		cmocka_unit_test(test_stale_description),
		cmocka_unit_test(test_foreign_owner_refused),
		cmocka_unit_test(test_fifo_lock_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
