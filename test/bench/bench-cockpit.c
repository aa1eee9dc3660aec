/*
 * bench-cockpit: does a loaded cockpit slow the daemon? (issue 15). The
 * daemon's event-to-plan latency with the cockpit idle and with the
 * cockpit under load, in pairs within one run. Printed, never asserted.
 *
 * In a private temporary directory it deploys 10 sites behind a private
 * nginx (as bench-watch does), starts `bluegreen watch` with its output on
 * a pipe a reader thread timestamps line by line, and `bluegreen cockpit
 * --safe` on the same configuration (so the same state directory: the
 * journal, status.json) on a free loopback port. Then, pair by pair
 * (BENCH_PAIRS, default 10; the order within a pair alternates, so a drift
 * of the host's load does not favour one side), two phases:
 *
 *   idle  the cockpit runs, nobody talks to it;
 *   load  200 streams on /events (BENCH_SSE) reading everything, and
 *         `hey -c 50 -q 20` on / (1,000 req/s asked for; BENCH_QPS,
 *         BENCH_HEY_C), started 1.5 s before the first trial.
 *
 * In each phase the same trials as bench-watch's: BENCH_EDITS (4) site
 * file edits (timed from before the write to the plan's "why:" line read)
 * and BENCH_KILLS (2) `docker kill`s of a live container sent to the
 * engine API (timed from the request to the drift plan's "why:" line, and
 * from the engine's own "die" event, seen by a second /events client
 * here, to that line: the daemon's share alone). Per side: median and
 * p90 (nearest rank) over all trials; the load's achieved req/s, non-200
 * answers and errors (hey's), the streams that opened and stayed open,
 * the CPU time the cockpit, the daemon and hey used per second of phase, and
 * the load average before and after each phase (other work on the host
 * shows there, not in the pairing).
 *
 * With BENCH_JSON=FILE the figures also go to FILE as JSON (the
 * "cockpit_load" part of build/bench/results.json, docs/benchmarks.md).
 * BENCH_NICE=N runs the cockpit and hey under `nice -n N` (what a small
 * host's operator can do so that the engine and the daemon win the CPU).
 * Environment: BG_BINARY, BENCH_KEEP=1 (keep the daemon's and the
 * cockpit's output). Needs dockerd, nginx, hey, busybox-static
 * (test/images/build.sh). Cleans up everything it made (sites and network
 * named bc<run id>-*). Run from the source root (ci/bench.sh does).
 */
#include "bg.h"
#include "bg-buf.h"
#include "dk.h"
#include "th.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_SITES 10

extern char **environ;

/* ---- the daemon's output, timestamped as it is read ---- */

struct line {
	int64_t t; /* bg_mono_ms() when read */
	char *text;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct line *v;
	size_t n, cap;
	bool eof;
	int fd;
	FILE *copy;
} rd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void rd_lines(struct bg_buf *b, int64_t now)
{
	char *start = b->data, *nl;
	pthread_mutex_lock(&rd.mu);
	while ((nl = memchr(start, '\n', b->len - (size_t)(start - b->data)))) {
		*nl = '\0';
		BG_GROW(rd.v, rd.cap, rd.n + 1);
		rd.v[rd.n].t = now;
		rd.v[rd.n].text = bg_xstrdup(start);
		rd.n++;
		if (rd.copy) {
			fprintf(rd.copy, "%s\n", start);
		}
		start = nl + 1;
	}
	pthread_cond_broadcast(&rd.cv);
	pthread_mutex_unlock(&rd.mu);
	size_t rest = b->len - (size_t)(start - b->data);
	memmove(b->data, start, rest);
	b->len = rest;
	b->data[rest] = '\0';
}

static void *reader(void *arg)
{
	struct bg_buf b = BG_BUF_INIT;
	char chunk[8192];
	(void)arg;
	for (;;) {
		ssize_t n = read(rd.fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		bg_buf_add(&b, chunk, (size_t)n);
		rd_lines(&b, bg_mono_ms());
	}
	pthread_mutex_lock(&rd.mu);
	rd.eof = true;
	pthread_cond_broadcast(&rd.cv);
	pthread_mutex_unlock(&rd.mu);
	bg_buf_release(&b);
	return NULL;
}

static size_t lines_now(void)
{
	pthread_mutex_lock(&rd.mu);
	size_t n = rd.n;
	pthread_mutex_unlock(&rd.mu);
	return n;
}

/* The time the "why:" line of a plan containing needle was read (from line *from on), or -1. */
static int64_t wait_plan(size_t *from, const char *needle, int ms)
{
	int64_t deadline = bg_mono_ms() + ms, found = -1;
	pthread_mutex_lock(&rd.mu);
	while (found < 0) {
		for (size_t i = *from; i < rd.n; i++) {
			if (i > 0 && bg_str_has_prefix(rd.v[i].text, "why: ") &&
					bg_str_has_prefix(rd.v[i - 1].text, "=== plan ") &&
					strstr(rd.v[i].text, needle)) {
				found = rd.v[i].t;
				*from = i + 1;
				break;
			}
		}
		int64_t left = deadline - bg_mono_ms();
		if (found >= 0 || rd.eof || left <= 0) {
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&rd.cv, &rd.mu, &ts);
	}
	pthread_mutex_unlock(&rd.mu);
	return found;
}

/* ---- the engine's own "die" events (the fair start of the daemon's share) ---- */

static struct {
	pthread_mutex_t mu;
	int64_t *t;
	size_t n, cap;
	char *name;
	int fd;
} dies = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static void dies_scan(struct bg_buf *b, const char *needle, int64_t now)
{
	char *nl;
	while ((nl = memchr(b->data, '\n', b->len))) {
		*nl = '\0';
		if (strstr(b->data, "\"Action\":\"die\"") && strstr(b->data, needle)) {
			pthread_mutex_lock(&dies.mu);
			BG_GROW(dies.t, dies.cap, dies.n + 1);
			dies.t[dies.n++] = now;
			pthread_mutex_unlock(&dies.mu);
		}
		size_t rest = b->len - (size_t)(nl + 1 - b->data);
		memmove(b->data, nl + 1, rest);
		b->len = rest;
		b->data[rest] = '\0';
	}
}

/* HTTP/1.0, so the engine's stream is not chunked: one JSON event a line. */
static void *die_listener(void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	struct bg_buf b = BG_BUF_INIT;
	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", th_docker_sock());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return NULL;
	}
	dies.fd = fd;
	const char *req = "GET /v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C"
			"%22event%22%3A%5B%22die%22%5D%7D HTTP/1.0\r\nHost: docker\r\n\r\n";
	if (write(fd, req, strlen(req)) < 0) {
		return NULL;
	}
	char *needle = bg_xasprintf("\"name\":\"%s\"", dies.name);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			break;
		}
		bg_buf_add(&b, buf, (size_t)n);
		dies_scan(&b, needle, bg_mono_ms());
	}
	free(needle);
	bg_buf_release(&b);
	return NULL;
}

static int64_t die_after(int64_t t0)
{
	int64_t found = -1;
	pthread_mutex_lock(&dies.mu);
	for (size_t i = 0; i < dies.n && found < 0; i++) {
		if (dies.t[i] >= t0) {
			found = dies.t[i];
		}
	}
	pthread_mutex_unlock(&dies.mu);
	return found;
}

/* ---- the event-stream clients: one thread, poll() over every socket ---- */

struct sse {
	int n;              /* asked for */
	int *fd;
	bool *ok;           /* answered 200 */
	bool *closed;       /* the cockpit closed it while the phase ran */
	long *status_evs;   /* "event: status" frames seen (split reads may miss one: a floor) */
	int stop[2];        /* a pipe: written to end the thread */
	pthread_t thr;
};

static int sse_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -1;
	}
	const char *req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			"Accept: text/event-stream\r\n\r\n";
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
			write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void sse_read(struct sse *s, int i)
{
	char buf[16384];
	ssize_t n = read(s->fd[i], buf, sizeof(buf) - 1);
	if (n <= 0) {
		s->closed[i] = true;
		return;
	}
	buf[n] = '\0';
	if (bg_str_has_prefix(buf, "HTTP/1.1 200")) {
		s->ok[i] = true;
	}
	for (char *p = buf; (p = strstr(p, "event: status\n")); p++) {
		s->status_evs[i]++;
	}
}

static void *sse_main(void *arg)
{
	struct sse *s = arg;
	struct pollfd *pf = bg_xcalloc((size_t)s->n + 1, sizeof(*pf));
	for (;;) {
		pf[0] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
		for (int i = 0; i < s->n; i++) {
			pf[i + 1] = (struct pollfd){.fd = s->closed[i] ? -1 : s->fd[i], .events = POLLIN};
		}
		if (poll(pf, (nfds_t)s->n + 1, 1000) < 0 && errno != EINTR) {
			break;
		}
		if (pf[0].revents) {
			break;
		}
		for (int i = 0; i < s->n; i++) {
			if (pf[i + 1].revents) {
				sse_read(s, i);
			}
		}
	}
	free(pf);
	return NULL;
}

static void sse_open(struct sse *s, int n, int port)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->fd = bg_xcalloc((size_t)n, sizeof(int));
	s->ok = bg_xcalloc((size_t)n, sizeof(bool));
	s->closed = bg_xcalloc((size_t)n, sizeof(bool));
	s->status_evs = bg_xcalloc((size_t)n, sizeof(long));
	for (int i = 0; i < n; i++) {
		s->fd[i] = sse_connect(port);
		s->closed[i] = s->fd[i] < 0;
	}
	if (pipe2(s->stop, O_CLOEXEC) != 0 || pthread_create(&s->thr, NULL, sse_main, s) != 0) {
		fprintf(stderr, "bench-cockpit: cannot start the stream reader\n");
		exit(1);
	}
}

/* Ends the streams; *ok: those that answered 200, *held: of those, still open. */
static void sse_close(struct sse *s, int *ok, int *held, long *evs_min)
{
	*ok = *held = 0;
	*evs_min = -1;
	if (write(s->stop[1], "x", 1) != 1) {
		fprintf(stderr, "bench-cockpit: cannot stop the stream reader\n");
	}
	pthread_join(s->thr, NULL);
	for (int i = 0; i < s->n; i++) {
		*ok += s->ok[i];
		*held += s->ok[i] && !s->closed[i];
		if (s->ok[i] && (*evs_min < 0 || s->status_evs[i] < *evs_min)) {
			*evs_min = s->status_evs[i];
		}
		if (s->fd[i] >= 0) {
			/* A reset, not a FIN: the cockpit's next look at the socket sees it gone. */
			struct linger lg = {1, 0};
			setsockopt(s->fd[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(s->fd[i]);
		}
	}
	close(s->stop[0]);
	close(s->stop[1]);
	free(s->fd);
	free(s->ok);
	free(s->closed);
	free(s->status_evs);
}

/* ---- hey: spawned with its output in a file, stopped by SIGINT (it then reports) ---- */

/* BENCH_NICE=N: the cockpit and hey run under `nice -n N` (the daemon and the engine win the CPU). */
static char *nice_n;

static pid_t hey_start(const char *url, int conc, int qps, const char *out)
{
	char c[16], q[16];
	int per = qps / conc > 0 ? qps / conc : 1;
	snprintf(c, sizeof(c), "%d", conc);
	snprintf(q, sizeof(q), "%d", per);
	char *hargv[] = {"nice", "-n", nice_n, "hey", "-z", "3600s", "-c", c, "-q", q,
		(char *)url, NULL};
	char **argv = nice_n ? hargv : hargv + 3;
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

struct hey_fig {
	double rps;
	long ok, non200, errors;
};

/* Stops hey and reads its summary: Requests/sec, [code] N responses, [N] errors. */
static struct hey_fig hey_stop(pid_t pid, const char *out)
{
	struct hey_fig h = {-1, 0, 0, 0};
	char *s = NULL;
	kill(pid, SIGINT);
	th_wait(pid);
	if (bg_file_read(out, 1 << 22, &s, NULL) != 0) {
		return h;
	}
	char *p = strstr(s, "Requests/sec:");
	if (p) {
		h.rps = strtod(p + 13, NULL);
	}
	char *codes = strstr(s, "Status code distribution:");
	char *errs = strstr(s, "Error distribution:");
	for (p = codes; p && (p = strchr(p, '[')) && (!errs || p < errs); p++) {
		long code = strtol(p + 1, NULL, 10);
		char *e = strchr(p, ']');
		long n = e ? strtol(e + 1, NULL, 10) : 0;
		*(code == 200 ? &h.ok : &h.non200) += n;
	}
	for (p = errs; p && (p = strchr(p, '[')); p++) {
		h.errors += strtol(p + 1, NULL, 10);
	}
	free(s);
	return h;
}

/* ---- small measurements ---- */

static long cpu_ticks(pid_t pid)
{
	char path[64];
	char *s = NULL;
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (bg_file_read(path, 1 << 16, &s, NULL) == 0) {
		char *p = strrchr(s, ')');
		unsigned long ut = 0, st = 0;
		/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				 &ut, &st) == 2) {
			v = (long)(ut + st);
		}
	}
	free(s);
	return v;
}

static double load1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1) {
			l = -1;
		}
		fclose(f);
	}
	return l;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile q (0-100) of v (sorted here), -1 when empty. */
static int64_t pct(int64_t *v, size_t n, int q)
{
	if (!n) {
		return -1;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t k = ((size_t)q * n + 99) / 100;
	return v[k ? k - 1 : 0];
}

static double median_d(double *v, size_t n)
{
	if (!n) {
		return -1;
	}
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the host: sites, nginx, daemon, cockpit ---- */

static char *bin;
static char *dir;
static char *names[N_SITES];
static char *edge_net;
static int nginx_port;
static pid_t daemon_pid, cockpit_pid;
static struct dk_client *dk;

static char *default_binary(const char *argv0)
{
	const char *env = getenv("BG_BINARY");
	if (env && *env) {
		return bg_xstrdup(env);
	}
	char *d = bg_xstrdup(argv0);
	char *slash = strrchr(d, '/');
	char *p = slash ? (*slash = '\0', bg_xasprintf("%s/../bluegreen", d))
			: bg_xstrdup("../bluegreen");
	free(d);
	char real[PATH_MAX];
	if (realpath(p, real)) {
		free(p);
		return bg_xstrdup(real);
	}
	return p;
}

static int env_int(const char *name, int dflt, int min)
{
	const char *v = getenv(name);
	int n = v && *v ? atoi(v) : dflt;
	return n < min ? min : n;
}

static int run_bg(struct th_run *r, const char *a1, const char *a2)
{
	char *argv[] = {bin, "-c", dir, (char *)a1, (char *)a2, NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	return th_run_argv(argv, env, r);
}

static void write_site(size_t i, const char *extra)
{
	char *rel = bg_xasprintf("sites/%s.conf", names[i]);
	char *conf = bg_xasprintf(
		"site: %s\n"
		"domains: [%s.localhost]\n"
		"image: bluegreen-test/web:v1\n"
		"port: 8080\n"
		"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n"
		"stop_timeout: 2s\n"
		"%s", names[i], names[i], extra ? extra : "");
	th_write(dir, rel, conf);
	free(conf);
	free(rel);
}

/* 10 sites behind a private nginx, deployed by a one-shot apply; 0 or -1. */
static int deploy(void)
{
	struct th_run r;
	dir = th_tmpdir("bench-cockpit");
	nginx_port = th_nginx_start_free(dir);
	edge_net = bg_xasprintf("bc%s-edge", th_run_id());
	for (size_t i = 0; i < N_SITES; i++) {
		names[i] = bg_xasprintf("bc%s-s%02zu", th_run_id(), i + 1);
		write_site(i, NULL);
	}
	char *ny = th_nginx_edge_yaml(nginx_port);
	char *g = bg_xasprintf("install_mode: development\nstate_dir: state\nedge:\n  kind: nginx\n"
			"  network: %s\n%scockpit:\n  listen: \"127.0.0.1:0\"\n", edge_net, ny);
	th_write(dir, "global.conf", g);
	free(g);
	free(ny);
	run_bg(&r, "plan", NULL);
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	int rc = tok && run_bg(&r, "apply", tok) == 0 ? 0 : -1;
	if (rc) {
		printf("bench-cockpit: deploying the 10 sites failed:\n%s%s\n", tok ? r.out : "",
				tok ? r.err : "no token");
	}
	if (tok) {
		th_run_release(&r);
	}
	free(tok);
	return rc;
}

/* bluegreen -c DIR VERB..., stdout+stderr to fd_out (or a file), its pid; -1 on failure. */
static pid_t spawn_bg(char *const *args, int fd_out, const char *file_out, bool niced)
{
	posix_spawn_file_actions_t fa;
	struct bg_strv env, argv;
	pid_t pid = -1;
	bg_strv_init(&env);
	bg_strv_init(&argv);
	for (char **e = environ; *e; e++) {
		if (!bg_str_has_prefix(*e, "BLUEGREEN_CONFIG=") && !bg_str_has_prefix(*e, "NO_COLOR=")) {
			bg_strv_push(&env, *e);
		}
	}
	bg_strv_push(&env, "NO_COLOR=1");
	if (niced && nice_n) {
		bg_strv_push(&argv, "nice");
		bg_strv_push(&argv, "-n");
		bg_strv_push(&argv, nice_n);
	}
	bg_strv_push(&argv, bin);
	bg_strv_push(&argv, "-c");
	bg_strv_push(&argv, dir);
	for (char *const *a = args; *a; a++) {
		bg_strv_push(&argv, *a);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (file_out) {
		posix_spawn_file_actions_addopen(&fa, 1, file_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	} else {
		posix_spawn_file_actions_adddup2(&fa, fd_out, 1);
	}
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv.v[0], &fa, NULL, argv.v, env.v) != 0) {
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	bg_strv_release(&env);
	bg_strv_release(&argv);
	return pid;
}

/* The cockpit's port from its first line ("listening on port N"), or -1 after 20 s. */
static int cockpit_port(const char *log)
{
	for (int i = 0; i < 200; i++) {
		char *s = NULL;
		if (bg_file_read(log, 1 << 20, &s, NULL) == 0) {
			char *p = strstr(s, "listening on port ");
			int port = p ? atoi(p + 18) : 0;
			free(s);
			if (port > 0) {
				return port;
			}
		}
		usleep(100 * 1000);
	}
	return -1;
}

/* The cockpit's own count of open streams (/metrics), -1 if unknown. */
static long cockpit_streams_open(int port)
{
	struct th_run r;
	char *url = bg_xasprintf("http://127.0.0.1:%d/metrics", port);
	char *argv[] = {"curl", "-sS", "--max-time", "5", url, NULL};
	th_run_argv(argv, NULL, &r);
	const char *key = "\nbluegreen_cockpit_event_streams ";
	char *p = r.status == 0 ? strstr(r.out, key) : NULL;
	long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
	th_run_release(&r);
	free(url);
	return v;
}

static void cleanup(void)
{
	if (cockpit_pid > 0) {
		kill(cockpit_pid, SIGTERM);
		th_wait(cockpit_pid);
		cockpit_pid = 0;
	}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		th_wait(daemon_pid);
		daemon_pid = 0;
	}
	for (size_t i = 0; i < N_SITES; i++) {
		if (names[i]) {
			th_docker_cleanup_site(names[i]);
		}
	}
	if (edge_net) {
		th_docker_rm_network(edge_net);
	}
	if (dir) {
		if (nginx_port) {
			th_nginx_stop(dir);
		}
		th_rm_rf(dir);
	}
}

/* ---- the phases ---- */

enum { IDLE, LOAD };
static const char *side_name[] = {"idle", "load"};

struct side {
	int64_t *edit, *kreq, *kdie, *keng;
	size_t ne, nk, nd;
	double *rps, *ck_cpu, *dm_cpu, *hey_cpu, *pair_edit;
	size_t nph;
	long ok, non200, errors;
	int sse_ok_min, sse_held_min;
	long sse_evs_min;
};

struct cfg {
	int pairs, edits, kills, sse, qps, conc, port;
	long hz;
	char *edit_why, *died, *started, *kill_path, *start_path, *hey_out, *url;
};

static int edit_no;

static void side_init(struct side *s, const struct cfg *c)
{
	memset(s, 0, sizeof(*s));
	s->edit = bg_xcalloc((size_t)(c->pairs * c->edits) + 1, sizeof(int64_t));
	s->kreq = bg_xcalloc((size_t)(c->pairs * c->kills) + 1, sizeof(int64_t));
	s->kdie = bg_xcalloc((size_t)(c->pairs * c->kills) + 1, sizeof(int64_t));
	s->keng = bg_xcalloc((size_t)(c->pairs * c->kills) + 1, sizeof(int64_t));
	s->rps = bg_xcalloc((size_t)c->pairs, sizeof(double));
	s->ck_cpu = bg_xcalloc((size_t)c->pairs, sizeof(double));
	s->dm_cpu = bg_xcalloc((size_t)c->pairs, sizeof(double));
	s->hey_cpu = bg_xcalloc((size_t)c->pairs, sizeof(double));
	s->pair_edit = bg_xcalloc((size_t)c->pairs, sizeof(double));
	s->sse_ok_min = s->sse_held_min = -1;
	s->sse_evs_min = -1;
}

static void side_release(struct side *s)
{
	free(s->edit);
	free(s->kreq);
	free(s->kdie);
	free(s->keng);
	free(s->rps);
	free(s->ck_cpu);
	free(s->dm_cpu);
	free(s->hey_cpu);
	free(s->pair_edit);
}

/* The edit and kill trials of one phase, into s; the phase's edit median printed. */
static void trials(const struct cfg *c, struct side *s)
{
	struct bg_diag d;
	size_t e0 = s->ne;
	bg_diag_init(&d);
	for (int i = 0; i < c->edits; i++) {
		char *extra = bg_xasprintf("env: {BENCH: \"%d\"}\n", ++edit_no);
		size_t from = lines_now();
		int64_t t0 = bg_mono_ms();
		write_site(0, extra);
		int64_t t1 = wait_plan(&from, c->edit_why, 10000);
		free(extra);
		if (t1 >= 0) {
			s->edit[s->ne++] = t1 - t0;
			printf(" e%" PRId64, t1 - t0);
		} else {
			printf(" e-");
		}
		usleep(300 * 1000); /* the debounce window closes: trials never fold */
	}
	for (int i = 0; i < c->kills; i++) {
		long status = 0;
		size_t from = lines_now();
		int64_t t0 = bg_mono_ms();
		if (dk_request(dk, "POST", c->kill_path, NULL, &status, NULL, &d) != 0) {
			printf(" k!");
			break;
		}
		int64_t t1 = wait_plan(&from, c->died, 10000);
		int64_t dt = t1 >= 0 ? die_after(t0) : -1;
		if (t1 >= 0) {
			s->kreq[s->nk++] = t1 - t0;
			printf(" k%" PRId64, t1 - t0);
		}
		if (dt >= 0) {
			s->keng[s->nd] = dt - t0;
			s->kdie[s->nd++] = t1 > dt ? t1 - dt : 0;
			printf("/%" PRId64, t1 > dt ? t1 - dt : 0);
		}
		dk_request(dk, "POST", c->start_path, NULL, &status, NULL, &d);
		wait_plan(&from, c->started, 10000);
		usleep(300 * 1000);
	}
	/* A pair's own figure: the median edit of each side, for the paired difference. */
	int64_t *tmp = bg_xcalloc(s->ne - e0 + 1, sizeof(int64_t));
	memcpy(tmp, s->edit + e0, (s->ne - e0) * sizeof(int64_t));
	s->pair_edit[s->nph] = (double)pct(tmp, s->ne - e0, 50);
	free(tmp);
	bg_diag_release(&d);
}

static void phase_load_end(const struct cfg *c, struct side *s, pid_t hey, struct sse *ss)
{
	struct hey_fig h = hey_stop(hey, c->hey_out);
	int ok, held;
	long evs;
	sse_close(ss, &ok, &held, &evs);
	s->rps[s->nph] = h.rps;
	s->ok += h.ok;
	s->non200 += h.non200;
	s->errors += h.errors;
	if (s->sse_ok_min < 0 || ok < s->sse_ok_min) {
		s->sse_ok_min = ok;
	}
	if (s->sse_held_min < 0 || held < s->sse_held_min) {
		s->sse_held_min = held;
	}
	if (s->sse_evs_min < 0 || evs < s->sse_evs_min) {
		s->sse_evs_min = evs;
	}
	printf("  | %.0f req/s, %ld non-200, %ld errors; streams %d ok, %d held", h.rps,
			h.non200, h.errors, ok, held);
	/* Closed streams leave the cockpit at its next write: wait (keep-alive 15 s). */
	int64_t t0 = bg_mono_ms();
	long open_now;
	while ((open_now = cockpit_streams_open(c->port)) > 0 && bg_mono_ms() - t0 < 40000) {
		usleep(250 * 1000);
	}
	printf("; %ld still open after %" PRId64 " ms", open_now, bg_mono_ms() - t0);
}

/* One phase of one side: load (or not), trials, CPU of both processes, load average. */
static void phase(const struct cfg *c, int which, struct side *s)
{
	struct sse ss;
	pid_t hey = -1;
	double l0 = load1();
	printf("  %s (load %.2f):", side_name[which], l0);
	if (which == LOAD) {
		sse_open(&ss, c->sse, c->port);
		hey = hey_start(c->url, c->conc, c->qps, c->hey_out);
	}
	usleep(1500 * 1000);
	int64_t t0 = bg_mono_ms();
	long ck0 = cpu_ticks(cockpit_pid), dm0 = cpu_ticks(daemon_pid);
	long hy0 = hey > 0 ? cpu_ticks(hey) : 0;
	trials(c, s);
	long ck1 = cpu_ticks(cockpit_pid), dm1 = cpu_ticks(daemon_pid);
	long hy1 = hey > 0 ? cpu_ticks(hey) : 0;
	double secs = (double)(bg_mono_ms() - t0) / 1000.0;
	/* The load generator's own CPU: on 2 cores it competes with the engine too. */
	s->hey_cpu[s->nph] = secs > 0 ? 100.0 * (double)(hy1 - hy0) / (double)c->hz / secs : -1;
	s->ck_cpu[s->nph] = secs > 0 ? 100.0 * (double)(ck1 - ck0) / (double)c->hz / secs : -1;
	s->dm_cpu[s->nph] = secs > 0 ? 100.0 * (double)(dm1 - dm0) / (double)c->hz / secs : -1;
	if (which == LOAD) {
		if (hey > 0) {
			phase_load_end(c, s, hey, &ss);
		} else {
			printf("  | hey did not start");
			int ok, held;
			long evs;
			sse_close(&ss, &ok, &held, &evs);
		}
	}
	printf("  | CPU cockpit %.0f%%, daemon %.1f%%", s->ck_cpu[s->nph], s->dm_cpu[s->nph]);
	printf(which == LOAD ? ", hey %.0f%%\n" : "\n", s->hey_cpu[s->nph]);
	s->nph++;
	usleep(1000 * 1000);
}

/* ---- figures ---- */

struct dist {
	int64_t p50, p90, min, max;
	size_t n;
};

static struct dist dist_of(int64_t *v, size_t n)
{
	struct dist d = {-1, -1, -1, -1, n};
	if (n) {
		d.p50 = pct(v, n, 50); /* sorts v */
		d.p90 = pct(v, n, 90);
		d.min = v[0];
		d.max = v[n - 1];
	}
	return d;
}

static struct json_object *j_dist(struct dist d)
{
	if (!d.n) {
		return NULL;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "p50", json_object_new_int64(d.p50));
	json_object_object_add(o, "p90", json_object_new_int64(d.p90));
	json_object_object_add(o, "min", json_object_new_int64(d.min));
	json_object_object_add(o, "max", json_object_new_int64(d.max));
	json_object_object_add(o, "trials", json_object_new_int64((int64_t)d.n));
	return o;
}

static struct json_object *j_num(double v, int prec)
{
	char num[32];
	if (v < 0) {
		return NULL;
	}
	snprintf(num, sizeof(num), "%.*f", prec, v);
	return json_object_new_double_s(v, num);
}

struct summary {
	struct dist edit, kreq, kdie, keng;
	double rps_med, rps_min, ck_cpu, dm_cpu, hey_cpu;
};

static struct summary summarize(struct side *s)
{
	struct summary m = {dist_of(s->edit, s->ne), dist_of(s->kreq, s->nk),
		dist_of(s->kdie, s->nd), dist_of(s->keng, s->nd), -1, -1, -1, -1, -1};
	double *r = bg_xcalloc(s->nph + 1, sizeof(double));
	memcpy(r, s->rps, s->nph * sizeof(double));
	m.rps_med = median_d(r, s->nph);
	m.rps_min = s->nph ? r[0] : -1;
	free(r);
	m.ck_cpu = median_d(s->ck_cpu, s->nph);
	m.dm_cpu = median_d(s->dm_cpu, s->nph);
	m.hey_cpu = median_d(s->hey_cpu, s->nph);
	return m;
}

static struct json_object *j_side(const struct summary *m, const struct side *s, bool load)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "edit_ms", j_dist(m->edit));
	json_object_object_add(o, "kill_ms", j_dist(m->kreq));
	json_object_object_add(o, "kill_die_to_plan_ms", j_dist(m->kdie));
	json_object_object_add(o, "kill_engine_ms", j_dist(m->keng));
	json_object_object_add(o, "cockpit_cpu_pct", j_num(m->ck_cpu, 1));
	json_object_object_add(o, "daemon_cpu_pct", j_num(m->dm_cpu, 1));
	if (load) {
		json_object_object_add(o, "hey_cpu_pct", j_num(m->hey_cpu, 1));
		json_object_object_add(o, "req_per_s", j_num(m->rps_med, 1));
		json_object_object_add(o, "req_per_s_min", j_num(m->rps_min, 1));
		json_object_object_add(o, "requests_ok", json_object_new_int64(s->ok));
		json_object_object_add(o, "non_200", json_object_new_int64(s->non200));
		json_object_object_add(o, "errors", json_object_new_int64(s->errors));
		json_object_object_add(o, "streams_ok_min", json_object_new_int(s->sse_ok_min));
		json_object_object_add(o, "streams_held_min", json_object_new_int(s->sse_held_min));
		json_object_object_add(o, "status_events_min", json_object_new_int64(s->sse_evs_min));
	}
	return o;
}

static void write_json(const char *path, const struct cfg *c, struct side sd[2],
		const struct summary m[2], double diff, const char *la0, const char *la1)
{
	struct json_object *root = json_object_new_object(), *o = json_object_new_object();
	json_object_object_add(o, "binary", json_object_new_string(bin));
	json_object_object_add(o, "pairs", json_object_new_int(c->pairs));
	json_object_object_add(o, "edits_per_phase", json_object_new_int(c->edits));
	json_object_object_add(o, "kills_per_phase", json_object_new_int(c->kills));
	json_object_object_add(o, "sse_streams", json_object_new_int(c->sse));
	json_object_object_add(o, "qps_asked", json_object_new_int(c->qps));
	json_object_object_add(o, "hey_conc", json_object_new_int(c->conc));
	json_object_object_add(o, "route", json_object_new_string("/"));
	json_object_object_add(o, "nice", nice_n ? json_object_new_int(atoi(nice_n)) : NULL);
	json_object_object_add(o, "idle", j_side(&m[IDLE], &sd[IDLE], false));
	json_object_object_add(o, "load", j_side(&m[LOAD], &sd[LOAD], true));
	json_object_object_add(o, "paired_edit_diff_ms", diff > -1e9 ? json_object_new_double(diff)
			: NULL);
	json_object_object_add(o, "load_average_start", json_object_new_string(la0));
	json_object_object_add(o, "load_average_end", json_object_new_string(la1));
	json_object_object_add(root, "cockpit_load", o);
	char *tmp = bg_xasprintf("%s.tmp", path);
	if (json_object_to_file_ext(tmp, root,
			    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) != 0 ||
			rename(tmp, path) != 0) {
		fprintf(stderr, "bench-cockpit: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	json_object_put(root);
}

static void print_row(const char *what, struct dist a, struct dist b)
{
	printf("%-38s %5" PRId64 " %5" PRId64 " %5zu   %5" PRId64 " %5" PRId64 " %5zu\n", what,
			a.p50, a.p90, a.n, b.p50, b.p90, b.n);
}

/* Loaded minus idle, each pair's median edit: the median of those differences. */
static double paired_diff(struct side sd[2])
{
	size_t n = sd[IDLE].nph < sd[LOAD].nph ? sd[IDLE].nph : sd[LOAD].nph;
	double *d = bg_xcalloc(n + 1, sizeof(double));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (sd[IDLE].pair_edit[i] >= 0 && sd[LOAD].pair_edit[i] >= 0) {
			d[k++] = sd[LOAD].pair_edit[i] - sd[IDLE].pair_edit[i];
		}
	}
	qsort(d, k, sizeof(*d), cmp_dbl);
	double v = k ? (k % 2 ? d[k / 2] : (d[k / 2 - 1] + d[k / 2]) / 2) : -1e10;
	free(d);
	return v;
}

static void report(const struct cfg *c, struct side sd[2], const char *la0, const char *la1)
{
	struct summary m[2] = {summarize(&sd[IDLE]), summarize(&sd[LOAD])};
	double diff = paired_diff(sd);
	printf("\nthe daemon's event-to-plan latency, %d pairs (ms; p50 = median, nearest rank)\n"
			"%-38s %5s %5s %5s   %5s %5s %5s\n", c->pairs, "", "idle", "p90", "n",
			"load", "p90", "n");
	print_row("site file edit -> plan printed", m[IDLE].edit, m[LOAD].edit);
	print_row("docker kill -> drift plan printed", m[IDLE].kreq, m[LOAD].kreq);
	print_row("  the engine: kill request -> die event", m[IDLE].keng, m[LOAD].keng);
	print_row("  the daemon: die event -> drift plan", m[IDLE].kdie, m[LOAD].kdie);
	printf("paired difference of the edit medians (load - idle), median over pairs: %.1f ms\n",
			diff);
	printf("the load: %d streams on /events (fewest that opened %d, stayed open %d, fewest "
			"status events %ld);\n  hey -c %d -q %d on / : %.0f req/s median (lowest "
			"%.0f), %ld answered 200, %ld other, %ld errors\n", c->sse, sd[LOAD].sse_ok_min,
			sd[LOAD].sse_held_min, sd[LOAD].sse_evs_min, c->conc, c->qps / c->conc,
			m[LOAD].rps_med, m[LOAD].rps_min, sd[LOAD].ok, sd[LOAD].non200, sd[LOAD].errors);
	printf("CPU per phase (median): cockpit %.0f%% idle, %.0f%% loaded; daemon %.1f%% idle, "
			"%.1f%% loaded; hey %.0f%%\n", m[IDLE].ck_cpu, m[LOAD].ck_cpu, m[IDLE].dm_cpu,
			m[LOAD].dm_cpu, m[LOAD].hey_cpu);
	printf("load average: %s at start, %s at end (%ld cores)\n", la0, la1,
			sysconf(_SC_NPROCESSORS_ONLN));
	if (getenv("BENCH_JSON") && *getenv("BENCH_JSON")) {
		write_json(getenv("BENCH_JSON"), c, sd, m, diff, la0, la1);
	}
}

static char *loadavg_text(void)
{
	char *s = NULL;
	if (bg_file_read("/proc/loadavg", 4096, &s, NULL) != 0) {
		return bg_xstrdup("?");
	}
	char *p = s;
	for (int i = 0; i < 3 && p; i++) {
		p = strchr(p + 1, ' ');
	}
	if (p) {
		*p = '\0';
	}
	return s;
}

/* ---- main ---- */

static bool tools_ok(void)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "--unix-socket",
			(char *)th_docker_sock(), "http://localhost/_ping", NULL};
	th_run_argv(argv, NULL, &r);
	bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
	th_run_release(&r);
	if (!up) {
		printf("bench-cockpit: no Docker engine at %s: nothing measured\n", th_docker_sock());
		return false;
	}
	char *hargv[] = {"hey", NULL};
	th_run_argv(hargv, NULL, &r);
	bool hey = strstr(r.err, "Usage") || strstr(r.out, "Usage");
	th_run_release(&r);
	if (!hey) {
		printf("bench-cockpit: hey not found (apt install hey): nothing measured\n");
		return false;
	}
	char *script = th_src_path("test/images/build.sh");
	char *bargv[] = {script, NULL};
	th_run_argv(bargv, NULL, &r);
	free(script);
	bool ok = r.status == 0;
	if (!ok) {
		printf("bench-cockpit: test/images/build.sh failed: %s%s\n", r.out, r.err);
	}
	th_run_release(&r);
	return ok;
}

static void cfg_init(struct cfg *c)
{
	c->pairs = env_int("BENCH_PAIRS", 10, 1);
	c->edits = env_int("BENCH_EDITS", 4, 1);
	c->kills = env_int("BENCH_KILLS", 2, 0);
	c->sse = env_int("BENCH_SSE", 200, 0);
	c->qps = env_int("BENCH_QPS", 1000, 1);
	c->conc = env_int("BENCH_HEY_C", 50, 1);
	c->hz = sysconf(_SC_CLK_TCK);
	nice_n = getenv("BENCH_NICE") && *getenv("BENCH_NICE") ? getenv("BENCH_NICE") : NULL;
	c->edit_why = bg_xasprintf("config changed: sites/%s.conf", names[0]);
	char *cname = bg_xasprintf("%s-blue", names[1]);
	c->died = bg_xasprintf("drift: %s stopped outside bluegreen", cname);
	c->started = bg_xasprintf("drift: %s started outside bluegreen", cname);
	c->kill_path = bg_xasprintf("/containers/%s/kill", cname);
	c->start_path = bg_xasprintf("/containers/%s/start", cname);
	c->hey_out = bg_xasprintf("%s-hey.out", dir);
	dies.name = cname;
}

static void cfg_release(struct cfg *c)
{
	free(c->edit_why);
	free(c->died);
	free(c->started);
	free(c->kill_path);
	free(c->start_path);
	if (c->hey_out) {
		unlink(c->hey_out);
	}
	free(c->hey_out);
	free(c->url);
	free(dies.name);
}

/* Daemon (output on a pipe read by the reader thread) and cockpit; 0 or -1. */
static int start_both(struct cfg *c, int pfd[2], char **dlog, char **clog, pthread_t *th)
{
	char *dargs[] = {"watch", NULL};
	char *cargs[] = {"cockpit", "--safe", NULL};
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		return -1;
	}
	daemon_pid = spawn_bg(dargs, pfd[1], NULL, false);
	close(pfd[1]);
	*dlog = bg_xasprintf("%s-daemon.log", dir);
	rd.copy = fopen(*dlog, "w");
	rd.fd = pfd[0];
	if (pthread_create(th, NULL, reader, NULL) != 0) {
		return -1;
	}
	size_t from = 0;
	if (daemon_pid < 0 || wait_plan(&from, "daemon started", 30000) < 0) {
		printf("bench-cockpit: the daemon printed no first plan\n");
		return -1;
	}
	*clog = bg_xasprintf("%s-cockpit.log", dir);
	cockpit_pid = spawn_bg(cargs, -1, *clog, true);
	c->port = cockpit_pid > 0 ? cockpit_port(*clog) : -1;
	if (c->port < 0) {
		printf("bench-cockpit: the cockpit did not say its port (%s)\n", *clog);
		return -1;
	}
	c->url = bg_xasprintf("http://127.0.0.1:%d/", c->port);
	printf("bench-cockpit: daemon pid %ld, cockpit --safe pid %ld on 127.0.0.1:%d "
			"(outputs: %s, %s)\n", (long)daemon_pid, (long)cockpit_pid, c->port, *dlog, *clog);
	return 0;
}

/* Stops the cockpit and the daemon, joins the threads, keeps or removes the outputs. */
static void stop_all(pthread_t *th, int rfd, pthread_t *dth, char *dlog, char *clog)
{
	if (cockpit_pid > 0) {
		kill(cockpit_pid, SIGTERM);
		th_wait(cockpit_pid);
		cockpit_pid = 0;
	}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		th_wait(daemon_pid);
		daemon_pid = 0;
	}
	if (th) {
		pthread_join(*th, NULL);
		close(rfd);
	}
	if (dth) {
		if (dies.fd >= 0) {
			shutdown(dies.fd, SHUT_RDWR);
		}
		pthread_join(*dth, NULL);
		if (dies.fd >= 0) {
			close(dies.fd);
		}
	}
	if (rd.copy) {
		fclose(rd.copy);
	}
	bool keep = getenv("BENCH_KEEP") && *getenv("BENCH_KEEP");
	if (dlog && clog) {
		printf("bench-cockpit: outputs %s: %s, %s\n", keep ? "kept" : "removed", dlog, clog);
	}
	if (!keep) {
		if (dlog) {
			unlink(dlog);
		}
		if (clog) {
			unlink(clog);
		}
	}
	free(dlog);
	free(clog);
	dk_client_destroy(dk);
}

int main(int argc, char **argv)
{
	struct cfg c = {0};
	struct side sd[2];
	int pfd[2] = {-1, -1}, rc = 1;
	char *dlog = NULL, *clog = NULL, *la0 = loadavg_text();
	pthread_t th, dth;
	bool reading = false, listening = false;
	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	bin = default_binary(argv[0]);
	if (access(bin, X_OK) != 0 || !tools_ok()) {
		printf("bench-cockpit: cannot run (binary %s; set BG_BINARY)\n", bin);
		return 1;
	}
	if (deploy() != 0) {
		goto out;
	}
	cfg_init(&c);
	dk_client_create(&dk, th_docker_sock());
	int sb = start_both(&c, pfd, &dlog, &clog, &th);
	reading = pfd[0] >= 0;
	if (sb != 0) {
		goto out;
	}
	pthread_create(&dth, NULL, die_listener, NULL);
	listening = true;
	sleep(3); /* the start-up observation and late events settle */
	side_init(&sd[IDLE], &c);
	side_init(&sd[LOAD], &c);
	printf("%d pairs; per phase %d edits (e, ms) and %d kills (k, ms from the request/from "
			"the die event)%s%s\n", c.pairs, c.edits, c.kills,
			nice_n ? "; cockpit and hey under nice -n " : "", nice_n ? nice_n : "");
	for (int p = 0; p < c.pairs; p++) {
		int first = p % 2 ? LOAD : IDLE;
		printf("pair %d\n", p + 1);
		phase(&c, first, &sd[first]);
		phase(&c, !first, &sd[!first]);
	}
	char *la1 = loadavg_text();
	report(&c, sd, la0, la1);
	free(la1);
	side_release(&sd[IDLE]);
	side_release(&sd[LOAD]);
	rc = 0;
out:
	stop_all(reading ? &th : NULL, pfd[0], listening ? &dth : NULL, dlog, clog);
	cfg_release(&c);
	cleanup();
	for (size_t i = 0; i < rd.n; i++) {
		free(rd.v[i].text);
	}
	free(rd.v);
	for (size_t i = 0; i < N_SITES; i++) {
		free(names[i]);
	}
	free(dies.t);
	free(edge_net);
	free(dir);
	free(bin);
	free(la0);
	return rc;
}
