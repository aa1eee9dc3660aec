/*
 * t-approve: the approval file against a real daemon and engine (issue 9
 * item 8, docs/watch.md "Approving"). An approval the daemon refuses
 * before it starts (install_mode removed from global.conf, exit 4) is
 * recorded in approve.seen and is not tried again when the file changes;
 * the same token on a line whose --confirm phrases differ is new input,
 * tried once. The daemon used to re-queue a refused approval at every
 * change of the file.
 */
#include "bg.h"
#include "bg-util.h"
#include "e2e.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#define WAIT_MS (60 * 1000)

static struct e2e E;
static char *out_path;
static pid_t pid = -1;

static char *d_text(void)
{
	char *t = th_read(out_path);
	return t ? t : bg_xstrdup("");
}

/* Position of needle in the daemon's output at or after from, or -1 after ms. */
static long d_wait(size_t from, const char *needle, int ms)
{
	int64_t end = bg_mono_ms() + ms * th_time_scale();
	for (;;) {
		char *t = d_text();
		const char *at = strlen(t) >= from ? strstr(t + from, needle) : NULL;
		long pos = at ? (long)(at - t) : -1;
		free(t);
		if (pos >= 0 || bg_mono_ms() > end) {
			return pos;
		}
		usleep(50 * 1000);
	}
}

static size_t d_len(void)
{
	char *t = d_text();
	size_t n = strlen(t);
	free(t);
	return n;
}

static void d_fail(const char *what)
{
	char *t = d_text();
	th_print_error("the daemon printed:\n%s", t); /* whole: fail_msg cuts at 1 KiB */
	free(t);
	fail_msg("%s", what);
}

static void approve_append(const char *line)
{
	char *path = bg_xasprintf("%s/approve", E.dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	free(path);
}

static void t_refused_approval_not_retried(void **state)
{
	e2e_init(&E, "approve", "nginx", "development");
	e2e_site(&E, "bluegreen-test/web:v1", NULL);
	out_path = bg_xasprintf("%s-daemon.out", E.dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", E.dir, "watch", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	pid = th_spawn_bg(argv, env, out_path);

	if (d_wait(0, "bluegreen apply ", WAIT_MS) < 0) {
		d_fail("no plan from the daemon");
	}
	char *t = d_text();
	char *tok = th_plan_token(t);
	free(t);
	assert_non_null(tok);

	/* A refusal before the apply starts: install_mode gone. */
	size_t mark = d_len();
	free(E.mode);
	E.mode = NULL;
	e2e_global(&E, NULL);
	if (d_wait(mark, "configuration reload failed", WAIT_MS) < 0) {
		d_fail("the configuration without install_mode was not reported");
	}
	char *line = bg_xasprintf("%s\n", tok);
	approve_append(line);
	free(line);
	char *refused = bg_xasprintf("apply %s not started (approve file line 1): exit 4", tok);
	if (d_wait(mark, refused, WAIT_MS) < 0) {
		d_fail("the approved token was not refused with exit 4");
	}

	/* install_mode back, then the file changes elsewhere: not tried again. */
	E.mode = bg_xstrdup("development");
	e2e_global(&E, NULL);
	usleep(1000 * 1000);
	mark = d_len();
	approve_append("# a comment: the file changed, this approval did not\n");
	char *requested = bg_xasprintf("apply %s requested", tok);
	long again = d_wait(mark, requested, 3000);
	if (again >= 0) {
		d_fail("a refused approval was tried again after the file changed");
	}

	/* The same token with a phrase: a new approval, tried once. */
	mark = d_len();
	line = bg_xasprintf("%s --confirm=yes-please\n", tok);
	approve_append(line);
	free(line);
	char *line3 = bg_xasprintf("apply %s requested (approve file line 3)", tok);
	if (d_wait(mark, line3, WAIT_MS) < 0) {
		d_fail("the changed approval line was not taken as new input");
	}
	char *done = bg_xasprintf("apply %s (approve file line 3) finished", tok);
	char *not_started = bg_xasprintf("apply %s not started (approve file line 3)", tok);
	int64_t end = bg_mono_ms() + WAIT_MS * th_time_scale();
	while (d_wait(mark, done, 100) < 0 && d_wait(mark, not_started, 100) < 0 &&
			bg_mono_ms() < end) {
	}
	t = d_text();
	assert_int_equal(th_count(t + mark, requested), 1);
	free(t);

	/* What approve.seen keeps: two approvals of the token, no phrase. */
	char *seen_path = bg_xasprintf("%s/state/approve.seen", E.dir);
	char *seen = th_read(seen_path);
	assert_non_null(seen);
	assert_int_equal(th_count(seen, tok), 2);
	th_assert_not_contains(seen, "yes-please");

	kill(pid, SIGTERM);
	assert_int_equal(th_wait(pid), 0);
	pid = -1;
	free(seen);
	free(seen_path);
	free(done);
	free(not_started);
	free(line3);
	free(requested);
	free(refused);
	free(tok);
}

static int teardown(void **state)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		th_wait(pid);
		pid = -1;
	}
	if (out_path) {
		unlink(out_path);
		free(out_path);
		out_path = NULL;
	}
	return e2e_teardown(state);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(t_refused_approval_not_retried, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
