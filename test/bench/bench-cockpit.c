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
#include "bench-daemon.h"
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


static struct bd_host host;

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

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
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

static pid_t cockpit_pid;
static struct dk_client *dk;

static int env_int(const char *name, int dflt, int min)
{
	const char *v = getenv(name);
	int n = v && *v ? atoi(v) : dflt;
	return n < min ? min : n;
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
	bd_host_cleanup(&host);
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
	char *edit_why, *hey_out, *url;
	struct bd_victim v; /* site 2's blue container, killed */
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
	size_t e0 = s->ne;
	for (int i = 0; i < c->edits; i++) {
		int64_t ms = bd_edit_time(&host, ++edit_no, c->edit_why);
		if (ms >= 0) {
			s->edit[s->ne++] = ms;
			printf(" e%" PRId64, ms);
		} else {
			printf(" e-");
		}
	}
	for (int i = 0; i < c->kills; i++) {
		struct bd_kill k;
		if (bd_kill_time(dk, &c->v, &k) != 0) {
			printf(" k!");
			break;
		}
		if (k.req >= 0) {
			s->kreq[s->nk++] = k.req;
			printf(" k%" PRId64, k.req);
		}
		if (k.eng >= 0) {
			s->keng[s->nd] = k.eng;
			s->kdie[s->nd++] = k.die;
			printf("/%" PRId64, k.die);
		}
	}
	/* A pair's own figure: the median edit of each side, for the paired difference. */
	int64_t *tmp = bg_xcalloc(s->ne - e0 + 1, sizeof(int64_t));
	memcpy(tmp, s->edit + e0, (s->ne - e0) * sizeof(int64_t));
	s->pair_edit[s->nph] = (double)bd_pct(tmp, s->ne - e0, 50);
	free(tmp);
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
	long ck0 = cpu_ticks(cockpit_pid), dm0 = cpu_ticks(host.daemon_pid);
	long hy0 = hey > 0 ? cpu_ticks(hey) : 0;
	trials(c, s);
	long ck1 = cpu_ticks(cockpit_pid), dm1 = cpu_ticks(host.daemon_pid);
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
	struct bd_dist edit, kreq, kdie, keng;
	double rps_med, rps_min, ck_cpu, dm_cpu, hey_cpu;
};

static struct summary summarize(struct side *s)
{
	struct summary m = {bd_dist_of(s->edit, s->ne, 90), bd_dist_of(s->kreq, s->nk, 90),
		bd_dist_of(s->kdie, s->nd, 90), bd_dist_of(s->keng, s->nd, 90), -1, -1, -1, -1, -1};
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
	json_object_object_add(o, "edit_ms", bd_dist_json(&m->edit));
	json_object_object_add(o, "kill_ms", bd_dist_json(&m->kreq));
	json_object_object_add(o, "kill_die_to_plan_ms", bd_dist_json(&m->kdie));
	json_object_object_add(o, "kill_engine_ms", bd_dist_json(&m->keng));
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
	json_object_object_add(o, "binary", json_object_new_string(host.bin));
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
	bd_json_write("bench-cockpit", path, root);
}

static void print_row(const char *what, struct bd_dist a, struct bd_dist b)
{
	printf("%-38s %5" PRId64 " %5" PRId64 " %5zu   %5" PRId64 " %5" PRId64 " %5zu\n", what,
			a.p50, a.top, a.n, b.p50, b.top, b.n);
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
	if (!bd_docker_up()) {
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
	c->edit_why = bg_xasprintf("config changed: sites/%s.conf", host.names[0]);
	bd_victim_init(&c->v, &host, 1);
	c->hey_out = bg_xasprintf("%s-hey.out", host.dir);
}

static void cfg_release(struct cfg *c)
{
	free(c->edit_why);
	bd_victim_release(&c->v);
	if (c->hey_out) {
		unlink(c->hey_out);
	}
	free(c->hey_out);
	free(c->url);
}

/* Daemon (output on a pipe read by the reader thread) and cockpit; 0 or -1. */
static int start_both(struct cfg *c, char **clog)
{
	char *cargs[] = {"cockpit", "--safe", NULL};
	if (bd_daemon_start(&host) != 0) {
		return -1;
	}
	*clog = bg_xasprintf("%s-cockpit.log", host.dir);
	cockpit_pid = bd_host_spawn(&host, cargs, -1, *clog, nice_n);
	c->port = cockpit_pid > 0 ? cockpit_port(*clog) : -1;
	if (c->port < 0) {
		printf("bench-cockpit: the cockpit did not say its port (%s)\n", *clog);
		return -1;
	}
	c->url = bg_xasprintf("http://127.0.0.1:%d/", c->port);
	printf("bench-cockpit: daemon pid %ld, cockpit --safe pid %ld on 127.0.0.1:%d "
			"(outputs: %s, %s)\n", (long)host.daemon_pid, (long)cockpit_pid, c->port, host.log,
			*clog);
	return 0;
}

/* Stops the cockpit and the daemon, joins the threads, keeps or removes the outputs. */
static void stop_all(char *clog)
{
	if (cockpit_pid > 0) {
		kill(cockpit_pid, SIGTERM);
		th_wait(cockpit_pid);
		cockpit_pid = 0;
	}
	bd_daemon_stop(&host);
	bd_dies_stop(&host);
	bool keep = getenv("BENCH_KEEP") && *getenv("BENCH_KEEP");
	if (host.log && clog) {
		printf("bench-cockpit: outputs %s: %s, %s\n", keep ? "kept" : "removed", host.log, clog);
	}
	if (!keep) {
		if (host.log) {
			unlink(host.log);
		}
		if (clog) {
			unlink(clog);
		}
	}
	free(clog);
	dk_client_destroy(dk);
	dk = NULL;
}

int main(int argc, char **argv)
{
	struct cfg c = {0};
	struct side sd[2];
	int rc = 1;
	int64_t apply_ms;
	char *clog = NULL, *la0 = loadavg_text();
	(void)argc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	bd_host_init(&host, "bench-cockpit", argv[0]);
	if (access(host.bin, X_OK) != 0 || !tools_ok()) {
		printf("bench-cockpit: cannot run (binary %s; set BG_BINARY)\n", host.bin);
		bd_host_cleanup(&host);
		free(la0);
		return 1;
	}
	if (bd_host_deploy(&host, "bc", "cockpit:\n  listen: \"127.0.0.1:0\"\n", &apply_ms) != 0) {
		goto out;
	}
	cfg_init(&c);
	dk_client_create(&dk, th_docker_sock());
	if (start_both(&c, &clog) != 0) {
		goto out;
	}
	bd_dies_start(&host, c.v.cname);
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
	stop_all(clog);
	cfg_release(&c);
	cleanup();
	free(la0);
	return rc;
}
