/*
 * bench-watch: the watch daemon's figures (issue 5). Printed, never
 * asserted: a benchmark measures, the docker suite (t-watch) tests.
 *
 * In a private temporary directory it deploys 10 sites (one-shot plan +
 * apply, behind a private nginx on a free loopback port), starts
 * `bluegreen watch` with its output on a pipe that a reader thread
 * timestamps line by line, and measures:
 *
 *   1. idle resident memory (VmRSS, VmHWM) with the 10 sites;
 *   2. context switches of every daemon thread over 10 idle seconds
 *      (/proc/PID/task/TID/status), next to the number of in-scope Docker
 *      events other users of the host caused meanwhile (the daemon must
 *      wake for those: they are its job);
 *   3. config edit -> plan printed: 50 trials, each an edit of one site
 *      file that changes its spec (so its token), timed from just before
 *      the write to the moment the plan's "why:" line is read;
 *   4. `docker kill` of a live container -> drift plan printed: 50
 *      trials, the kill sent to the engine API directly (no CLI start-up
 *      in the figure), timed from the request, and split in two: the
 *      engine's share (request -> its "die" event, seen by a second
 *      /events client in this program) and the daemon's (that event ->
 *      the plan's "why:" line read). The engine takes 200-300 ms to kill
 *      and announce it, whatever the daemon does. The container is started
 *      again between trials (another drift plan, not timed here).
 *
 * Goals (issue 5): RSS < 8 MB; no wake-ups while idle; p50 and p99 of 3
 * and 4 under 200 ms. Each figure says whether its goal was met.
 *
 * With BENCH_JSON=FILE, the same figures also go to FILE as JSON (the
 * "idle" and "event_latency_ms" parts of build/bench/results.json,
 * docs/benchmarks.md), with the daemon's USS (Private_Clean + Private_Dirty
 * of smaps_rollup, read with its PSS); nothing else printed.
 *
 * Environment: BG_BINARY (default: ../bluegreen next to this program),
 * BENCH_TRIALS (default 50), BENCH_IDLE_S (default 10), BENCH_JSON. Needs dockerd,
 * nginx, busybox-static (test/images/build.sh). Cleans up everything it
 * made (sites and network named bw<run id>-*). Run from the source root
 * (ci/bench.sh does), or set BG_SRCDIR.
 */
#include "bg.h"
#include "bg-buf.h"
#include "dk.h"
#include "th.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_SITES 10
#define GOAL_MS 200
#define GOAL_RSS_KB (8 * 1024)

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
	FILE *copy; /* everything, for the operator reading the bench log */
} rd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

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
		int64_t now = bg_mono_ms();
		bg_buf_add(&b, chunk, (size_t)n);
		char *start = b.data, *nl;
		pthread_mutex_lock(&rd.mu);
		while ((nl = memchr(start, '\n', b.len - (size_t)(start - b.data)))) {
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
		size_t rest = b.len - (size_t)(start - b.data);
		memmove(b.data, start, rest);
		b.len = rest;
		b.data[rest] = '\0';
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

/*
 * Wait for a plan whose "why:" line contains needle, among lines from
 * index *from; returns the time its why line was read, or -1 after ms.
 */
static int64_t wait_plan(size_t *from, const char *needle, int ms)
{
	int64_t deadline = bg_mono_ms() + ms;
	int64_t found = -1;
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
		if (found >= 0 || rd.eof) {
			break;
		}
		int64_t left = deadline - bg_mono_ms();
		if (left <= 0) {
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

/* ---- the engine's own "die" events, timestamped as they arrive ---- */

static struct {
	pthread_mutex_t mu;
	int64_t *t;
	size_t n, cap;
	char *name; /* container whose deaths are recorded */
	int fd;
} dies = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/*
 * A second /events client, beside the daemon's: the moment the engine
 * announces the death is the fair start for the daemon's share of the
 * kill figure (the engine may answer the kill before the container is
 * dead, or long after). HTTP/1.0, so the stream is not chunked.
 */
static void *die_listener(void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	struct bg_buf b = BG_BUF_INIT;
	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", th_docker_sock());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
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
		int64_t now = bg_mono_ms();
		bg_buf_add(&b, buf, (size_t)n);
		char *nl;
		while ((nl = memchr(b.data, '\n', b.len))) {
			*nl = '\0';
			if (strstr(b.data, "\"Action\":\"die\"") && strstr(b.data, needle)) {
				pthread_mutex_lock(&dies.mu);
				BG_GROW(dies.t, dies.cap, dies.n + 1);
				dies.t[dies.n++] = now;
				pthread_mutex_unlock(&dies.mu);
			}
			size_t rest = b.len - (size_t)(nl + 1 - b.data);
			memmove(b.data, nl + 1, rest);
			b.len = rest;
			b.data[rest] = '\0';
		}
	}
	free(needle);
	bg_buf_release(&b);
	return NULL;
}

/* The first death recorded at or after t0, or -1. */
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

/* ---- helpers ---- */

static char *bin;
static char *dir;
static char *names[N_SITES];
static char *edge_net;
static int port;
static pid_t daemon_pid;

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

static long status_kb(pid_t pid, const char *key)
{
	char path[64];
	char *s = NULL;
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if (bg_file_read(path, 1 << 16, &s, NULL) == 0) {
		char *p = strstr(s, key);
		if (p) {
			v = strtol(p + strlen(key), NULL, 10);
		}
	}
	free(s);
	return v;
}

/* PSS, and USS (Private_Clean + Private_Dirty), from one read of smaps_rollup; -1 if unknown. */
static long smaps_pss_kb(pid_t pid, long *uss)
{
	char path[64];
	char *s = NULL;
	long v = -1;
	*uss = -1;
	snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)pid);
	if (bg_file_read(path, 1 << 16, &s, NULL) == 0) {
		char *p = strstr(s, "\nPss:");
		if (p) {
			v = strtol(p + 5, NULL, 10);
		}
		char *pc = strstr(s, "\nPrivate_Clean:");
		char *pd = strstr(s, "\nPrivate_Dirty:");
		if (pc && pd) {
			*uss = strtol(pc + 15, NULL, 10) + strtol(pd + 15, NULL, 10);
		}
	}
	free(s);
	return v;
}

/*
 * What the same binary costs with nothing to do: `bluegreen log -f` loads
 * the same libraries and initialises libcurl and OpenSSL (main.c) and
 * then waits on inotify. The difference is the daemon's own.
 */
static long baseline_rss_kb(void)
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	char *argv[] = {bin, "-c", dir, "log", "-f", NULL};
	long v = -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0) {
		sleep(1);
		v = status_kb(pid, "VmRSS:");
		kill(pid, SIGTERM);
		th_wait(pid);
	}
	posix_spawn_file_actions_destroy(&fa);
	return v;
}

/* Context switches (voluntary + involuntary) of every thread, and of the main one. */
static void ctx_switches(pid_t pid, long *all, long *main_thread, long *threads)
{
	char path[64];
	*all = *main_thread = 0;
	*threads = 0;
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.') {
			continue;
		}
		char *p = bg_xasprintf("/proc/%ld/task/%s/status", (long)pid, de->d_name);
		char *s = NULL;
		if (bg_file_read(p, 1 << 16, &s, NULL) == 0) {
			char *v = strstr(s, "voluntary_ctxt_switches:");
			char *nv = strstr(s, "nonvoluntary_ctxt_switches:");
			long n = (v ? strtol(v + 24, NULL, 10) : 0) + (nv ? strtol(nv + 27, NULL, 10) : 0);
			*all += n;
			(*threads)++;
			if (atol(de->d_name) == (long)pid) {
				*main_thread = n;
			}
		}
		free(s);
		free(p);
	}
	if (d) {
		closedir(d);
	}
}

/* In-scope docker events on the host between two UTC seconds (other users). */
static long docker_events_between(long since, long until)
{
	char s1[32], s2[32];
	struct th_run r;
	snprintf(s1, sizeof(s1), "%ld", since);
	snprintf(s2, sizeof(s2), "%ld", until);
	char *argv[] = {"docker", "events", "--since", s1, "--until", s2,
			"--filter", "type=container", "--filter", "type=network", "--filter",
			"type=volume", "--format",
			"{{.Type}} {{.Action}} {{index .Actor.Attributes \"io.bluegreen.managed\"}}",
			NULL};
	th_run_argv(argv, NULL, &r);
	long n = 0;
	char *save = NULL;
	for (char *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		/* The daemon's scope: managed containers, every network and volume event. */
		if (bg_str_has_prefix(l, "container ") && !strstr(l, " true")) {
			continue;
		}
		if (strstr(l, " exec_") || strstr(l, " kill") || strstr(l, " stop ") ||
				strstr(l, " attach") || strstr(l, " mount") || strstr(l, " unmount")) {
			continue;
		}
		n++;
	}
	th_run_release(&r);
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

struct stats {
	int64_t p50, p99, min, max;
	size_t n;
};

static struct stats stats_of(int64_t *v, size_t n)
{
	struct stats s = {0};
	if (!n) {
		return s;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	s.n = n;
	s.min = v[0];
	s.max = v[n - 1];
	s.p50 = v[(n - 1) / 2];
	size_t k = (99 * n + 99) / 100; /* ceil(0.99 n): nearest-rank percentile */
	s.p99 = v[k ? k - 1 : 0];
	return s;
}

static void print_stats(const char *what, struct stats s, int64_t goal)
{
	printf("%-44s p50 %4" PRId64 " ms  p99 %4" PRId64 " ms  (min %" PRId64 ", max %" PRId64
			", %zu trials)", what, s.p50, s.p99, s.min, s.max, s.n);
	if (goal > 0) {
		printf("  goal < %" PRId64 " ms: %s", goal,
				s.n && s.p50 < goal && s.p99 < goal ? "met" : "MISSED");
	}
	printf("\n");
}

/* ---- the figures as JSON (BENCH_JSON) ---- */

struct idle_figures {
	long rss_kb, hwm_kb, anon_kb, pss_kb, uss_kb, baseline_rss_kb;
	int idle_s;
	long ctx, ctx_main, threads, lines, foreign;
};

static struct json_object *j_kb(long kb)
{
	return kb >= 0 ? json_object_new_int64(kb) : NULL;
}

/* {p50, p99, min, max, trials} in ms, or null when no trial gave a figure. */
static struct json_object *j_stats(struct stats s)
{
	if (!s.n) {
		return NULL;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "p50", json_object_new_int64(s.p50));
	json_object_object_add(o, "p99", json_object_new_int64(s.p99));
	json_object_object_add(o, "min", json_object_new_int64(s.min));
	json_object_object_add(o, "max", json_object_new_int64(s.max));
	json_object_object_add(o, "trials", json_object_new_int64((int64_t)s.n));
	return o;
}

/*
 * {"idle": {...}, "event_latency_ms": {...}, "watch": {...}}. The headline
 * latency is the kill's, from the request (a Docker event to the printed
 * plan, as a user sees it); the edit's and the kill's two shares beside it.
 * Written to PATH.tmp, then renamed.
 */
static void write_json(const char *path, const struct idle_figures *f, int trials,
		struct stats edit, struct stats kill_req, struct stats engine, struct stats die)
{
	struct json_object *root = json_object_new_object();
	struct json_object *idle = json_object_new_object();
	char num[32];
	json_object_object_add(idle, "rss_kb", j_kb(f->rss_kb));
	json_object_object_add(idle, "pss_kb", j_kb(f->pss_kb));
	json_object_object_add(idle, "uss_kb", j_kb(f->uss_kb));
	double wpm = f->idle_s > 0 ? (double)f->ctx * 60.0 / f->idle_s : 0;
	snprintf(num, sizeof(num), "%.1f", wpm);
	json_object_object_add(idle, "wakeups_per_min",
			f->idle_s > 0 ? json_object_new_double_s(wpm, num) : NULL);
	json_object_object_add(idle, "hwm_kb", j_kb(f->hwm_kb));
	json_object_object_add(idle, "anon_kb", j_kb(f->anon_kb));
	json_object_object_add(idle, "baseline_rss_kb", j_kb(f->baseline_rss_kb));
	json_object_object_add(idle, "sites", json_object_new_int(N_SITES));
	json_object_object_add(idle, "idle_s", json_object_new_int(f->idle_s));
	json_object_object_add(idle, "context_switches", json_object_new_int64(f->ctx));
	json_object_object_add(idle, "main_thread_switches", json_object_new_int64(f->ctx_main));
	json_object_object_add(idle, "threads", json_object_new_int64(f->threads));
	json_object_object_add(idle, "lines_printed", json_object_new_int64(f->lines));
	json_object_object_add(idle, "foreign_events", json_object_new_int64(f->foreign));
	json_object_object_add(root, "idle", idle);

	struct json_object *lat = j_stats(kill_req);
	if (!lat) { /* no kill trial gave a figure: the keys stay, null */
		lat = json_object_new_object();
		json_object_object_add(lat, "p50", NULL);
		json_object_object_add(lat, "p99", NULL);
	}
	json_object_object_add(lat, "what", json_object_new_string(
			"docker kill -> drift plan printed, from the kill request"));
	json_object_object_add(lat, "edit", j_stats(edit));
	json_object_object_add(lat, "kill_engine", j_stats(engine));
	json_object_object_add(lat, "kill_die_to_plan", j_stats(die));
	json_object_object_add(root, "event_latency_ms", lat);

	struct json_object *w = json_object_new_object();
	json_object_object_add(w, "binary", json_object_new_string(bin));
	json_object_object_add(w, "trials", json_object_new_int(trials));
	json_object_object_add(root, "watch", w);

	char *tmp = bg_xasprintf("%s.tmp", path);
	if (json_object_to_file_ext(tmp, root,
			    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) != 0 ||
			rename(tmp, path) != 0) {
		fprintf(stderr, "bench-watch: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	json_object_put(root);
}

static bool docker_up(void)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "--unix-socket",
			(char *)th_docker_sock(), "http://localhost/_ping", NULL};
	th_run_argv(argv, NULL, &r);
	bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
	th_run_release(&r);
	return up;
}

static void cleanup(void)
{
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
		if (port) {
			th_nginx_stop(dir);
		}
		th_rm_rf(dir);
	}
}

int main(int argc, char **argv)
{
	int trials = getenv("BENCH_TRIALS") ? atoi(getenv("BENCH_TRIALS")) : 50;
	int idle_s = getenv("BENCH_IDLE_S") ? atoi(getenv("BENCH_IDLE_S")) : 10;
	struct th_run r;
	int rc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bin = default_binary(argv[0]);
	if (access(bin, X_OK) != 0) {
		printf("bench-watch: cannot run %s (set BG_BINARY)\n", bin);
		return 1;
	}
	if (!docker_up()) {
		printf("bench-watch: no Docker engine at %s: nothing measured\n", th_docker_sock());
		return 1;
	}
	char *script = th_src_path("test/images/build.sh");
	char *bargv[] = {script, NULL};
	th_run_argv(bargv, NULL, &r);
	if (r.status != 0) {
		printf("bench-watch: test/images/build.sh failed: %s%s\n", r.out, r.err);
		return 1;
	}
	th_run_release(&r);
	free(script);
	if (trials < 1) {
		trials = 1;
	}

	/* ---- a host with 10 deployed sites ---- */
	dir = th_tmpdir("bench-watch");
	port = th_nginx_start_free(dir);
	edge_net = bg_xasprintf("bw%s-edge", th_run_id());
	for (size_t i = 0; i < N_SITES; i++) {
		names[i] = bg_xasprintf("bw%s-s%02zu", th_run_id(), i + 1);
		write_site(i, NULL);
	}
	char *ny = th_nginx_edge_yaml(port);
	char *g = bg_xasprintf("install_mode: development\nstate_dir: state\nedge:\n  kind: nginx\n"
			"  network: %s\n%s", edge_net, ny);
	th_write(dir, "global.conf", g);
	free(g);
	free(ny);
	run_bg(&r, "plan", NULL);
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	int64_t t0 = bg_mono_ms();
	if (!tok || run_bg(&r, "apply", tok) != 0) {
		printf("bench-watch: deploying the 10 sites failed:\n%s%s\n", tok ? r.out : "",
				tok ? r.err : "no token");
		free(tok);
		goto out;
	}
	printf("bench-watch: %d sites deployed (one-shot apply, %" PRId64 " ms) behind nginx on "
			"127.0.0.1:%d, in %s\n", N_SITES, bg_mono_ms() - t0, port, dir);
	th_run_release(&r);
	free(tok);

	/* ---- the daemon, its output on a pipe ---- */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		goto out;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	struct bg_strv env;
	bg_strv_init(&env);
	for (char **e = environ; *e; e++) {
		if (!bg_str_has_prefix(*e, "BLUEGREEN_CONFIG=") && !bg_str_has_prefix(*e, "NO_COLOR=")) {
			bg_strv_push(&env, *e);
		}
	}
	bg_strv_push(&env, "NO_COLOR=1");
	char *dargv[] = {bin, "-c", dir, "watch", NULL};
	int sp = posix_spawn(&daemon_pid, bin, &fa, NULL, dargv, env.v);
	posix_spawn_file_actions_destroy(&fa);
	bg_strv_release(&env);
	close(pfd[1]);
	if (sp != 0) {
		printf("bench-watch: cannot start the daemon: %s\n", strerror(sp));
		goto out;
	}
	char *copy = bg_xasprintf("%s-daemon.log", dir);
	rd.copy = fopen(copy, "w");
	rd.fd = pfd[0];
	pthread_t th;
	pthread_create(&th, NULL, reader, NULL);
	size_t from = 0;
	if (wait_plan(&from, "daemon started", 30000) < 0) {
		printf("bench-watch: the daemon printed no first plan\n");
		goto out_daemon;
	}
	printf("bench-watch: daemon pid %ld up (its output: %s)\n\n", (long)daemon_pid, copy);

	/* ---- 1 and 2: idle ---- */
	/* Let the start-up observation and any late event settle first. */
	sleep(5);
	long rss = status_kb(daemon_pid, "VmRSS:");
	long hwm = status_kb(daemon_pid, "VmHWM:");
	long anon = status_kb(daemon_pid, "RssAnon:");
	long uss;
	long pss = smaps_pss_kb(daemon_pid, &uss);
	long base = baseline_rss_kb();
	long all0, main0, thr0, all1, main1, thr1;
	size_t lines0 = lines_now();
	long since = (long)time(NULL);
	ctx_switches(daemon_pid, &all0, &main0, &thr0);
	sleep((unsigned)idle_s);
	ctx_switches(daemon_pid, &all1, &main1, &thr1);
	long until = (long)time(NULL);
	size_t lines1 = lines_now();
	long foreign = docker_events_between(since, until);
	printf("idle resident memory, %d sites:              VmRSS %.1f MB (peak VmHWM %.1f MB)"
			"  goal < 8 MB: %s\n", N_SITES, rss / 1024.0, hwm / 1024.0,
			rss >= 0 && rss < GOAL_RSS_KB ? "met" : "MISSED");
	printf("  of which its own (anonymous) memory:       %.1f MB; PSS %.1f MB; the same binary "
			"idle in `log -f` (same libraries loaded, no daemon): VmRSS %.1f MB\n",
			anon / 1024.0, pss / 1024.0, base / 1024.0);
	printf("idle %2d s: context switches                 all %ld threads: %ld (main thread %ld)"
			"; lines printed %zu; in-scope docker events on the host meanwhile: %ld",
			idle_s, thr1, all1 - all0, main1 - main0, lines1 - lines0, foreign);
	if (all1 - all0 == 0) {
		printf("  goal no wake-ups: met\n");
	} else if (foreign > 0) {
		printf("  goal no wake-ups: not measurable (other users' events wake it, as they "
				"must)\n");
	} else {
		printf("  goal no wake-ups: MISSED\n");
	}

	/* ---- 3: config edit -> plan ---- */
	int64_t *lat = bg_xcalloc((size_t)trials, sizeof(*lat));
	size_t nl = 0;
	char *why = bg_xasprintf("config changed: sites/%s.conf", names[0]);
	for (int i = 0; i < trials; i++) {
		char *extra = bg_xasprintf("env: {BENCH: \"%d\"}\n", i);
		from = lines_now();
		int64_t s = bg_mono_ms();
		write_site(0, extra);
		int64_t e = wait_plan(&from, why, 10000);
		free(extra);
		if (e >= 0) {
			lat[nl++] = e - s;
		}
		/* Let the debounce window close: trials must not fold into one. */
		usleep(300 * 1000);
	}
	struct stats st_edit = stats_of(lat, nl);
	print_stats("config edit -> plan printed:", st_edit, GOAL_MS);
	write_site(0, NULL);
	usleep(500 * 1000);

	/* ---- 4: docker kill -> drift plan ---- */
	struct dk_client *dk = NULL;
	struct bg_diag d;
	bg_diag_init(&d);
	dk_client_create(&dk, th_docker_sock());
	char *cname = bg_xasprintf("%s-blue", names[1]);
	char *kill_path = bg_xasprintf("/containers/%s/kill", cname);
	char *start_path = bg_xasprintf("/containers/%s/start", cname);
	char *died = bg_xasprintf("drift: %s stopped outside bluegreen", cname);
	char *started = bg_xasprintf("drift: %s started outside bluegreen", cname);
	int64_t *from_req = bg_xcalloc((size_t)trials, sizeof(int64_t));
	int64_t *from_die = bg_xcalloc((size_t)trials, sizeof(int64_t));
	int64_t *engine = bg_xcalloc((size_t)trials, sizeof(int64_t));
	size_t nk = 0, nd = 0;
	dies.name = cname;
	pthread_t dth;
	pthread_create(&dth, NULL, die_listener, NULL);
	usleep(300 * 1000); /* let the listener's stream start */
	for (int i = 0; i < trials; i++) {
		long status = 0;
		from = lines_now();
		int64_t s = bg_mono_ms();
		int err = dk_request(dk, "POST", kill_path, NULL, &status, NULL, &d);
		int64_t a = bg_mono_ms();
		if (err) {
			printf("bench-watch: kill %s: %s\n", cname, bg_strerror(err));
			break;
		}
		int64_t e = wait_plan(&from, died, 10000);
		(void)a;
		if (e >= 0) {
			from_req[nk++] = e - s;
			int64_t dt = die_after(s);
			if (dt >= 0) {
				from_die[nd] = e > dt ? e - dt : 0;
				engine[nd] = dt - s;
				nd++;
			}
		}
		dk_request(dk, "POST", start_path, NULL, &status, NULL, &d);
		wait_plan(&from, started, 10000);
		usleep(300 * 1000);
	}
	struct stats st_req = stats_of(from_req, nk);
	struct stats st_die = stats_of(from_die, nd);
	struct stats st_eng = stats_of(engine, nd);
	print_stats("docker kill -> drift plan, from the request:", st_req, GOAL_MS);
	print_stats("  the engine: kill request -> its die event:", st_eng, 0);
	print_stats("  then: die event -> drift plan printed:", st_die, GOAL_MS);
	printf("  (the drift plan comes from the die event itself: the engine holds a dying "
			"container until its kill completes,\n   so the inspect that confirms it "
			"answers later, 250-300 ms with published ports on Docker 20.10)\n");
	if (dies.fd >= 0) {
		shutdown(dies.fd, SHUT_RDWR);
	}
	pthread_join(dth, NULL);
	if (dies.fd >= 0) {
		close(dies.fd);
	}
	free(dies.t);
	dk_client_destroy(dk);
	bg_diag_release(&d);
	free(from_req);
	free(from_die);
	free(engine);
	free(died);
	free(started);
	free(kill_path);
	free(start_path);
	free(cname);
	free(why);
	free(lat);
	if (getenv("BENCH_JSON") && *getenv("BENCH_JSON")) {
		struct idle_figures idle = {rss, hwm, anon, pss, uss, base, idle_s, all1 - all0,
				main1 - main0, thr1, (long)(lines1 - lines0), foreign};
		write_json(getenv("BENCH_JSON"), &idle, trials, st_edit, st_req, st_eng, st_die);
	}
	rc = 0;

out_daemon:
	kill(daemon_pid, SIGTERM);
	int dst = th_wait(daemon_pid);
	daemon_pid = 0;
	pthread_join(th, NULL);
	close(pfd[0]);
	if (rd.copy) {
		fclose(rd.copy);
	}
	printf("\nbench-watch: daemon stopped by SIGTERM, exit %d\n", dst);
	/* BENCH_KEEP=1 keeps the daemon's output (with BLUEGREEN_TRACE: where time goes). */
	if (getenv("BENCH_KEEP") && *getenv("BENCH_KEEP")) {
		printf("bench-watch: the daemon's output is kept in %s\n", copy);
	} else {
		unlink(copy);
	}
	free(copy);
out:
	cleanup();
	for (size_t i = 0; i < rd.n; i++) {
		free(rd.v[i].text);
	}
	free(rd.v);
	for (size_t i = 0; i < N_SITES; i++) {
		free(names[i]);
	}
	free(edge_net);
	free(dir);
	free(bin);
	return rc;
}
