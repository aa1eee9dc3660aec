/*
 * bg-spawn: running an argv (posix_spawn, never a shell) with its output
 * captured and a deadline, and showing an argv to a human. The capture is
 * three steps: start the child on a pipe, pump its output until it has
 * exited and the pipe is drained (or the deadline kills it), reap it.
 */
#include "bg.h"
#include "bg-spawn.h"
#include "bg-err.h"
#include "bg-mem.h"
#include "bg-util.h"

#include <ctype.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;


#define SPAWN_OUTPUT_MAX (64 * 1024)

static void capture_add(char **buf, size_t *n, size_t *cap, const char *chunk, size_t len)
{
	if (*n >= SPAWN_OUTPUT_MAX) {
		return;
	}
	if (*n + len > SPAWN_OUTPUT_MAX) {
		len = SPAWN_OUTPUT_MAX - *n;
	}
	BG_GROW(*buf, *cap, *n + len + 1);
	memcpy(*buf + *n, chunk, len);
	*n += len;
}

/* One captured child: its pid, the read end of its output pipe, what it
 * wrote so far and how far the wait has come. */
struct spawn_run {
	pid_t pid;
	int fd;
	int pidfd; /* readable once the child exited; -1 where the kernel has none */
	char *buf;
	size_t n, cap;
	int wst;
	bool exited, eof;
	int64_t deadline, linger_until;
};

/* Start argv on the write end of pipefd (closed here, whatever happens). */
static int spawn_setup(char *const argv[], char *const envp[], const char *cwd,
		int pipefd[2], struct spawn_run *s)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (cwd) {
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	}
	/* Its own process group, so a timeout kills what it started too. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	int rc = posix_spawnp(&s->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (rc != 0) {
		return BG_ERRNO(rc);
	}
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
	/* The child's exit as an event to poll, next to its output. */
	s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
#endif
	return 0;
}

/* Read what is there now (the pipe is non-blocking). */
static void spawn_drain(struct spawn_run *s)
{
	char chunk[4096];
	for (;;) {
		ssize_t r = read(s->fd, chunk, sizeof(chunk));
		if (r > 0) {
			capture_add(&s->buf, &s->n, &s->cap, chunk, (size_t)r);
			continue;
		}
		if (r == 0) {
			s->eof = true;
		}
		break;
	}
}

/*
 * Read until the child has exited and its output is drained. A child
 * that exits while something it started keeps the pipe open (a
 * daemonising reload) is not waited for beyond a short linger; a child
 * that closes its output and hangs is still bounded by the deadline.
 */
static int spawn_pump(struct spawn_run *s)
{
	while (!(s->exited && (s->eof || bg_mono_ms() >= s->linger_until))) {
		int64_t now = bg_mono_ms();
		if (s->deadline && now >= s->deadline) {
			kill(-s->pid, SIGKILL);
			kill(s->pid, SIGKILL);
			return BG_ETIMEOUT;
		}
		if (!s->exited) {
			pid_t w = waitpid(s->pid, &s->wst, WNOHANG);
			if (w == s->pid) {
				s->exited = true;
				s->linger_until = bg_mono_ms() + 100;
			} else if (w < 0 && errno != EINTR) {
				return BG_ERRNO(errno);
			}
		}
		if (s->exited && s->eof) {
			break;
		}
		/* Wait for output or for the exit (its pidfd), whichever comes. */
		struct pollfd pfd[2];
		nfds_t n = 0;
		if (!s->eof) {
			pfd[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		}
		if (!s->exited && s->pidfd >= 0) {
			pfd[n++] = (struct pollfd){.fd = s->pidfd, .events = POLLIN};
		}
		/* Nothing to poll (no pidfd, output closed): look again soon. */
		int wait_ms = n ? 50 : 10;
		if (s->deadline && s->deadline - now < wait_ms) {
			wait_ms = (int)(s->deadline - now);
		}
		if (n == 0) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = wait_ms * 1000000L};
			nanosleep(&ts, NULL);
		} else if (poll(pfd, n, wait_ms) < 0 && errno != EINTR) {
			int err = BG_ERRNO(errno);
			kill(-s->pid, SIGKILL);
			return err;
		}
		if (!s->eof) {
			spawn_drain(s);
		}
	}
	return 0;
}

/* Wait for a child the pump left running, then say how it ended: err is
 * the pump's outcome, kept unless it was 0 and the wait itself fails (then
 * *status is not set). */
static int spawn_reap(struct spawn_run *s, int err, int *status)
{
	if (!s->exited) {
		while (waitpid(s->pid, &s->wst, 0) < 0) {
			if (errno != EINTR) {
				return err ? err : BG_ERRNO(errno);
			}
		}
	}
	if (status && err != BG_ETIMEOUT) {
		if (WIFEXITED(s->wst)) {
			*status = WEXITSTATUS(s->wst);
		} else if (WIFSIGNALED(s->wst)) {
			*status = 128 + WTERMSIG(s->wst);
		} else {
			*status = 255;
		}
	}
	return err;
}

static int spawn_capture(char *const argv[], char *const envp[], const char *cwd,
		uint64_t timeout_ms, int *status, char **output)
{
	struct spawn_run s = {.pid = -1, .fd = -1, .pidfd = -1};
	int pipefd[2] = {-1, -1};
	int err;

	s.deadline = timeout_ms ? bg_mono_ms() + (int64_t)timeout_ms : 0;
	if (!argv || !argv[0]) {
		return BG_EUSAGE;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		return BG_ERRNO(errno);
	}
	s.fd = pipefd[0];
	err = spawn_setup(argv, envp, cwd, pipefd, &s);
	if (!err) {
		err = spawn_pump(&s);
		err = spawn_reap(&s, err, status);
	}
	if (s.fd >= 0) {
		close(s.fd);
	}
	if (s.pidfd >= 0) {
		close(s.pidfd);
	}
	if (output) {
		if (!s.buf) {
			s.buf = bg_xstrdup("");
		} else {
			s.buf[s.n] = '\0';
		}
		*output = s.buf;
		s.buf = NULL;
	}
	free(s.buf);
	return err;
}

int bg_spawn_capture(char *const argv[], const char *cwd, uint64_t timeout_ms,
		int *status, char **output)
{
	return spawn_capture(argv, environ, cwd, timeout_ms, status, output);
}

/* Is environment entry e ("KEY=VALUE") one of set's keys? */
static bool env_overridden(const char *e, char *const set[])
{
	size_t kl = strcspn(e, "=");
	for (size_t i = 0; set[i]; i++) {
		if (strncmp(set[i], e, kl) == 0 && set[i][kl] == '=') {
			return true;
		}
	}
	return false;
}

int bg_spawn_capture_env(char *const argv[], char *const set[], const char *cwd,
		uint64_t timeout_ms, int *status, char **output)
{
	size_t n = 0, m = 0, k = 0;
	while (environ[n]) {
		n++;
	}
	while (set && set[m]) {
		m++;
	}
	char **envp = bg_xcalloc(n + m + 1, sizeof(*envp));
	for (size_t i = 0; i < n; i++) {
		if (!set || !env_overridden(environ[i], set)) {
			envp[k++] = environ[i];
		}
	}
	for (size_t i = 0; i < m; i++) {
		envp[k++] = set[i];
	}
	int err = spawn_capture(argv, envp, cwd, timeout_ms, status, output);
	free(envp); /* the strings are borrowed */
	return err;
}

static bool needs_quote(const char *s)
{
	if (!*s) {
		return true;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_./=:,@+%", *s)) {
			return true;
		}
	}
	return false;
}

char *bg_argv_display(char *const argv[])
{
	size_t cap = 1;
	for (size_t i = 0; argv && argv[i]; i++) {
		cap += 4 * strlen(argv[i]) + 3;
	}
	char *out = bg_xmalloc(cap);
	char *p = out;
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i) {
			*p++ = ' ';
		}
		if (!needs_quote(argv[i])) {
			size_t l = strlen(argv[i]);
			memcpy(p, argv[i], l);
			p += l;
			continue;
		}
		*p++ = '\'';
		for (const char *s = argv[i]; *s; s++) {
			if (*s == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *s;
			}
		}
		*p++ = '\'';
	}
	*p = '\0';
	return out;
}
