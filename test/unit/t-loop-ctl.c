/*
 * t-loop-ctl: the daemon's apply queue as control-socket clients meet it
 * (issue 9, item 7), through the real `bluegreen watch` and its real
 * socket. The daemon is given a Docker socket that does not exist, so
 * nothing ever starts: every request stays queued ("waiting for the Docker
 * engine"), which is exactly the state these rules are about:
 *
 * - the same token twice runs once: the second client is refused at once,
 *   told that it is already queued;
 * - a queued request whose client has gone is dropped at once (and says
 *   so), so its token can be asked for again;
 * - at most CTL_QUEUE_MAX (16) requests wait; the next client is refused;
 * - SIGTERM answers every waiting client and the daemon exits 0.
 *
 * What runs once an apply has started (the client leaving does not stop
 * it) is t-ctlsock's t_held_conn_survives_close_order and t-watch's.
 *
 * The stop flag the loop thread sets for the apply running in the thread
 * pool (issue 9, item 9) must be a C11 atomic, not a volatile int: checked
 * at compile time below, for apply_opts and for the reconcilers' context.
 */
#include "bg.h"
#include "bg-buf.h"
#include "apply.h"
#include "rec.h"
#include "th.h"

#include <stdatomic.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

_Static_assert(_Generic(((struct apply_opts *)0)->cancel, atomic_int *: 1, default: 0),
		"apply_opts.cancel is shared between threads: it must be an atomic_int *");
_Static_assert(_Generic(((struct rec_apply_ctx *)0)->cancel, atomic_int *: 1, default: 0),
		"rec_apply_ctx.cancel is shared between threads: it must be an atomic_int *");

#define QUEUE_MAX 16 /* CTL_QUEUE_MAX in controller/loop.c */
#define HELLO "bluegreen-control 1"
#define WAITING "waiting for the Docker engine"

static char *root, *cfg, *sock, *log_path;
static pid_t daemon_pid;

static const char *bin(void)
{
	const char *b = getenv("BG_BINARY");
	return b && *b ? b : "bluegreen";
}

static char *tok(unsigned i)
{
	return bg_xasprintf("%016x", 0xa0000000u + i);
}

/* Everything the daemon printed so far. */
static char *daemon_log(void)
{
	char *data = NULL;
	if (bg_file_read(log_path, 16u * 1024 * 1024, &data, NULL) != 0) {
		return bg_xstrdup("");
	}
	return data;
}

static bool wait_log(const char *want, int64_t ms)
{
	int64_t end = bg_mono_ms() + th_time_limit(ms);
	while (bg_mono_ms() < end) {
		char *l = daemon_log();
		bool found = strstr(l, want) != NULL;
		free(l);
		if (found) {
			return true;
		}
		usleep(20000);
	}
	return false;
}

/*
 * Connect and send a request for token; read until the answer holds
 * `until` or ends (EOF, or nothing for a few seconds). Returns the socket,
 * still open; *answer gets what was read.
 */
static int request(const char *token, const char *until, char **answer)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct timeval tv = {.tv_sec = 3 * th_time_scale()};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	char *req = bg_xasprintf(HELLO "\napply %s\ngo\n", token);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	free(req);
	struct bg_buf b = BG_BUF_INIT;
	char buf[4096];
	ssize_t n;
	while (!strstr(b.data, until) && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		bg_buf_add(&b, buf, (size_t)n);
	}
	*answer = bg_buf_detach(&b, NULL);
	return fd;
}

static int setup(void **state)
{
	root = th_tmpdir("loopctl");
	cfg = bg_xasprintf("%s/cfg", root);
	sock = bg_xasprintf("%s/state/control.sock", root);
	log_path = bg_xasprintf("%s/watch.out", root);
	char *g = bg_xasprintf("install_mode: development\nstate_dir: %s/state\ndocker:\n  "
			"socket: %s/no-docker.sock\nedge:\n  traefik:\n    dynamic_dir: %s/dynamic\n",
			root, root, root);
	th_write(cfg, "global.conf", g);
	free(g);
	char *argv[] = {(char *)bin(), "-c", cfg, "watch", NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	daemon_pid = th_spawn_bg(argv, env, log_path);
	if (!wait_log("watch: started", 10000) || !wait_log("docker disconnected", 10000)) {
		char *l = daemon_log();
		th_print_error("the daemon did not start:\n%s\n", l);
		free(l);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	if (daemon_pid > 0 && th_running(daemon_pid, NULL)) {
		kill(daemon_pid, SIGKILL);
		th_wait(daemon_pid);
	}
	th_rm_rf(root);
	free(root);
	free(cfg);
	free(sock);
	free(log_path);
	return 0;
}

static void t_queue_rules(void **state)
{
	char *a0 = tok(0), *ans = NULL;
	int fds[QUEUE_MAX];
	size_t n_fds = 0;

	/* Queued: told it waits for the engine. */
	int first = request(a0, WAITING, &ans);
	th_assert_contains(ans, WAITING);
	free(ans);

	/* The same token again: refused at once, the first one untouched. */
	int dup = request(a0, "exit ", &ans);
	th_assert_contains(ans, "err bluegreen: error: apply ");
	th_assert_contains(ans, " is already queued in the watch daemon (control socket: pid ");
	th_assert_contains(ans, "it runs once");
	th_assert_contains(ans, "exit 1\n");
	th_assert_not_contains(ans, WAITING);
	free(ans);
	close(dup);
	assert_true(wait_log("requested again", 5000));

	/*
	 * Its client goes: dropped at once (nothing else happens meanwhile),
	 * and the same token can be asked for again.
	 */
	close(first);
	char *want = bg_xasprintf("apply %s not started (control socket: pid", a0);
	assert_true(wait_log(want, 5000));
	assert_true(wait_log("dropped: its client went away before it started", 5000));
	free(want);
	fds[n_fds++] = request(a0, WAITING, &ans);
	th_assert_contains(ans, WAITING);
	th_assert_not_contains(ans, "already queued");
	free(ans);

	/* Up to QUEUE_MAX wait; the next is refused. */
	for (unsigned i = 1; i < QUEUE_MAX; i++) {
		char *t = tok(i);
		fds[n_fds++] = request(t, WAITING, &ans);
		th_assert_contains(ans, WAITING);
		free(ans);
		free(t);
	}
	char *over = tok(QUEUE_MAX);
	int o = request(over, "exit ", &ans);
	th_assert_contains(ans, "err bluegreen: error: the watch daemon has 16 applies queued "
			"already");
	th_assert_contains(ans, "exit 1\n");
	free(ans);
	close(o);
	free(over);

	/* Stopping answers every waiting client. */
	assert_int_equal(kill(daemon_pid, SIGTERM), 0);
	for (size_t i = 0; i < n_fds; i++) {
		char buf[4096];
		struct bg_buf b = BG_BUF_INIT;
		ssize_t n;
		while ((n = recv(fds[i], buf, sizeof(buf), 0)) > 0) {
			bg_buf_add(&b, buf, (size_t)n);
		}
		th_assert_contains(b.data, "exit 1\n");
		bg_buf_release(&b);
		close(fds[i]);
	}
	assert_int_equal(th_wait(daemon_pid), 0);
	daemon_pid = 0;
	free(a0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_queue_rules),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
