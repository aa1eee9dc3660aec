/*
 * bench-daemon: what the daemon benchmarks (bench-watch, bench-cockpit)
 * share, so each carries only its own figures: a private host of
 * BD_SITES sites behind a private nginx deployed by a one-shot apply, the
 * `bluegreen watch` daemon with its output on a pipe that a reader thread
 * timestamps line by line, a second /events client that timestamps the
 * engine's own "die" events (the fair start of the daemon's share of a
 * kill), and the two timed trials (site file edit -> plan, docker kill ->
 * drift plan). One daemon per process: the reader and the die listener
 * keep their state here.
 */
#ifndef BG_BENCH_DAEMON_H
#define BG_BENCH_DAEMON_H

#include "bg.h"
#include "dk.h"
#include "th.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BD_SITES 10

/* The benchmark's host: the binary, its config dir, the sites and the daemon. */
struct bd_host {
	const char *tag; /* the bench's name, for its messages */
	char *bin;
	char *dir;
	char *names[BD_SITES];
	char *edge_net;
	int nginx_port;
	pid_t daemon_pid;
	int rfd;        /* the read end of the daemon's output pipe, -1 */
	char *log;      /* the copy of the daemon's output (dir-daemon.log) */
	bool reading;   /* the reader thread runs */
	bool listening; /* the die listener runs */
};

/* The container the kill trials kill, and the plans' "why:" texts. */
struct bd_victim {
	char *cname, *kill_path, *start_path, *died, *started;
};

/* One kill trial, in ms; -1 where not seen. */
struct bd_kill {
	int64_t req; /* kill request -> drift plan's why line */
	int64_t eng; /* kill request -> the engine's die event */
	int64_t die; /* die event -> drift plan's why line */
};

/* BG_BINARY, else ../bluegreen next to argv0 (made absolute). */
char *bd_binary_default(const char *argv0);

/* Whether the engine answers /_ping. */
bool bd_docker_up(void);

void bd_host_init(struct bd_host *h, const char *tag, const char *argv0);

/* bluegreen -c DIR a1 a2 (NO_COLOR, no BLUEGREEN_CONFIG); its exit status. */
int bd_host_run(struct bd_host *h, struct th_run *r, const char *a1, const char *a2);

/* sites/NAME.conf for site i, with extra YAML lines appended (or none). */
void bd_site_write(struct bd_host *h, size_t i, const char *extra);

/*
 * The temporary dir, nginx, BD_SITES sites named PREFIX<run id>-sNN on
 * network PREFIX<run id>-edge, global.conf (plus global_extra), one-shot
 * plan + apply. *apply_ms: the apply's time. 0, or -1 (said on stdout).
 */
int bd_host_deploy(struct bd_host *h, const char *prefix, const char *global_extra,
		int64_t *apply_ms);

/*
 * bluegreen -c DIR ARGS... (under nice -n NICE when not NULL), stdin
 * /dev/null, stdout and stderr to fd_out or to file_out; its pid or -1.
 */
pid_t bd_host_spawn(struct bd_host *h, char *const *args, int fd_out, const char *file_out,
		const char *nice);

/* `watch` on a pipe, the reader thread, the first plan awaited (30 s); 0 or -1. */
int bd_daemon_start(struct bd_host *h);

/* SIGTERM to the daemon, the reader joined, the pipe closed; its exit status (or -1). */
int bd_daemon_stop(struct bd_host *h);

/* The lines read from the daemon so far. */
size_t bd_lines_now(void);

/*
 * The time the "why:" line of a plan containing needle was read (among
 * lines from *from on, which moves past it), or -1 after ms.
 */
int64_t bd_plan_wait(size_t *from, const char *needle, int ms);

/* The second /events client, recording the deaths of container cname. */
void bd_dies_start(struct bd_host *h, const char *cname);

/* The first death recorded at or after t0, or -1. */
int64_t bd_dies_after(int64_t t0);

void bd_dies_stop(struct bd_host *h);

/* Site i's blue container and the texts of its drift plans. */
void bd_victim_init(struct bd_victim *v, const struct bd_host *h, size_t i);
void bd_victim_release(struct bd_victim *v);

/*
 * One edit of site 0 (env BENCH: n) timed from before the write to the
 * plan's why line containing why; then 300 ms for the debounce window to
 * close (trials never fold). ms, or -1.
 */
int64_t bd_edit_time(struct bd_host *h, int n, const char *why);

/*
 * One kill of the victim sent to the engine API, timed; then it is
 * started again and its drift plan awaited (not timed). 0, or the
 * request's negative error code.
 */
int bd_kill_time(struct dk_client *dk, const struct bd_victim *v, struct bd_kill *k);

/* Stops the daemon, removes the sites, network, nginx and dir; frees h. */
void bd_host_cleanup(struct bd_host *h);

/* Nearest-rank percentile q (0-100) of v (sorted here), -1 when empty. */
int64_t bd_pct(int64_t *v, size_t n, int q);

/* A set of trials in ms: median, the q-th percentile (top), extremes; all -1 when n is 0. */
struct bd_dist {
	int64_t p50, top, min, max;
	size_t n;
	int q;
};

/* The distribution of v (sorted here), its top percentile the q-th. */
struct bd_dist bd_dist_of(int64_t *v, size_t n, int q);

/* {p50, p<q>, min, max, trials}, or NULL (JSON null) when no trial gave a figure. */
struct json_object *bd_dist_json(const struct bd_dist *d);

/* root to PATH.tmp, renamed to path (a failure said on stderr, as TAG: ...); root put. */
void bd_json_write(const char *tag, const char *path, struct json_object *root);

#endif
