/*
 * th: helpers shared by the test programs (unit and docker suites): temp
 * directories, writing config trees, running the real `bluegreen` binary
 * with captured output, and the docker-suite preamble that builds the test
 * images and refuses to skip under CI. Tests include <cmocka.h> through
 * this header.
 */
#ifndef BG_TEST_TH_H
#define BG_TEST_TH_H

#include "bg.h"
#include "bg-util.h"

#include <setjmp.h>
#include <cmocka.h>

/* Source tree root (BG_SRCDIR, set by meson). */
const char *th_srcdir(void);
/* A path under the source tree, a new string. */
char *th_src_path(const char *rel);

/* A fresh directory under $TMPDIR (or /tmp), removed by th_rm_rf. */
char *th_tmpdir(const char *tag);
int th_rm_rf(const char *path);
/* Write content to dir/rel, creating parent directories. Asserts on error. */
void th_write(const char *dir, const char *rel, const char *content);
/* Read a whole file (asserts it exists); a new string. */
char *th_read(const char *path);
/* Copy a directory tree (cp -a, argv). Asserts on failure. */
void th_copy_tree(const char *from, const char *to);

/* Result of running a program. */
struct th_run {
	int status;     /* exit status, 128+signal */
	char *out;      /* stdout */
	char *err;      /* stderr */
	bool timed_out; /* killed by th_run_argv_ex's deadline */
};
void th_run_release(struct th_run *r);

/*
 * Run argv (argv[0] looked up in PATH, or an absolute path) with extra
 * environment entries ("K=V", NULL-terminated, may be NULL; "K=" sets an
 * empty value), stdin from /dev/null, capturing stdout and stderr
 * separately. The child runs in its own process group. A command that
 * has not finished after th_cmd_timeout_ms() is killed with its process
 * group and the test fails, naming the command and what it printed: a
 * hung child must not eat the whole meson timeout and skip the teardown.
 */
int th_run_argv(char *const argv[], char *const env_extra[], struct th_run *r);
/* Same with an explicit deadline (ms, 0: none); never fails the test:
 * on timeout r->timed_out is set and the status is 128+SIGKILL. */
int th_run_argv_ex(char *const argv[], char *const env_extra[], int64_t timeout_ms,
		struct th_run *r);
/* BG_TEST_CMD_TIMEOUT (seconds), default 180 s. */
int64_t th_cmd_timeout_ms(void);
/*
 * Run argv under a pseudo-terminal (util-linux `script -q -e -c`), so it
 * sees a terminal on stdin, stdout and stderr; what it wrote to either
 * lands in r->out (with the terminal's \r\n). Returns its exit status.
 */
int th_run_pty(char *const argv[], char *const env_extra[], struct th_run *r);

/*
 * Diagnostics to stderr, whole: cmocka's print_error() cuts its message at
 * 1 KiB, which hides the part of a command's output that explains a failure.
 */
void th_print_error(const char *fmt, ...) BG_PRINTF(1, 2);

/* CI=true (or 1): what must never be skipped is a failure instead. */
bool th_ci(void);
/* Running under valgrind (its preload library is in LD_PRELOAD). */
bool th_under_valgrind(void);
/*
 * An upper time bound scaled for slow runs: ms, times 50 under valgrind,
 * times BG_TEST_TIME_SCALE (a positive integer) when set. Lower bounds
 * (it really waited) are never scaled.
 */
int64_t th_time_limit(int64_t ms);
/* BG_TEST_TIME_SCALE (a positive integer), 1 when unset. */
long th_time_scale(void);
/* How many times needle (not empty) occurs in hay, without overlaps. */
size_t th_count(const char *hay, const char *needle);
/*
 * Run the bluegreen binary under test (BG_BINARY) with args (NULL
 * terminated); BLUEGREEN_CONFIG is not set, NO_COLOR=1 is.
 */
int th_bg(struct th_run *r, const char *arg0, ...);
/* Same, with an argv array (without the program name). */
int th_bgv(struct th_run *r, char *const args[]);

/* Does `haystack` contain `needle`? (with a readable failure) */
#define th_assert_contains(haystack, needle)                                  \
	th__assert_contains((haystack), (needle), true, __FILE__, __LINE__)
#define th_assert_not_contains(haystack, needle)                              \
	th__assert_contains((haystack), (needle), false, __FILE__, __LINE__)
void th__assert_contains(const char *haystack, const char *needle, bool want,
		const char *file, int line);

/* ---- docker suite ---- */

/*
 * Call first in main() of every docker test: when the engine socket
 * (BG_DOCKER_SOCK, default /var/run/docker.sock) does not answer, prints
 * "1..0 # SKIP no docker daemon socket" and exits 0, except under CI
 * (CI=true), where it prints "Bail out!" and exits 1. Then it marks this
 * run alive (an flock held on /tmp/bluegreen-test-runs/RUNID.lock for the
 * life of the process), sweeps what earlier, killed runs left behind
 * (see th_docker_sweep) and builds the test images (test/images/build.sh,
 * idempotent).
 */
void th_docker_preamble(void);
const char *th_docker_sock(void);
/* A short unique id for this test run ("t" + 6 hex chars). */
const char *th_run_id(void);
/*
 * Remove the leftovers of test runs that are gone (killed before their
 * teardown): managed containers, networks and volumes whose
 * io.bluegreen.site starts with another run's id ("tXXXXXX-"), objects
 * labelled bluegreen.test=<another run id>, and networks named
 * "tXXXXXX-*-edge". A run is gone when its lock file is no longer held;
 * a run without a lock file (older helpers) is gone when its objects are
 * older than BG_TEST_SWEEP_AGE minutes (default 30: longer than any
 * docker test program may run). Never touches the current run, a run
 * that is alive, or anything else. Prints what it removed as TAP comments.
 */
void th_docker_sweep(void);
/* Remove every container, network and volume labelled
 * io.bluegreen.site=SITE (through the docker CLI). */
void th_docker_cleanup_site(const char *site);
/* The backing-service images of test/images/build-svc.sh (bluegreen-test/svc:1
 * and :2), cached by their inputs; a failure bails out of the test program. */
void th_images_svc_build(void);
void th_docker_rm_network(const char *name);
/* `docker` CLI with args, output captured; returns exit status. */
int th_docker(struct th_run *r, const char *arg0, ...);
/* HTTP GET http://host:port/path with curl's CLI; returns status or -1. */
int th_http_get(const char *url, char **body);

/* ---- background processes ---- */

#include <sys/types.h>
/* Start argv in the background, stdout and stderr to out_path; returns its pid. */
pid_t th_spawn_bg(char *const argv[], char *const env_extra[], const char *out_path);
/* Wait for it; returns the exit status (128+signal when killed). A child
 * still running after th_cmd_timeout_ms() is killed and the test fails. */
int th_wait(pid_t pid);
/* Is it still running? (waitpid WNOHANG; reaps it when it exited, then
 * *status, if not NULL, gets its exit status.) */
bool th_running(pid_t pid, int *status);

/* ---- local servers ---- */

/* A unix socket bound at path (mode left to the caller), listening when
 * do_listen; its fd. */
int th_unix_socket_at(const char *path, bool do_listen);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int th_free_port(void);

/*
 * A private nginx master for end-to-end tests: DIR/nginx/nginx.conf with its
 * own pid file, logs and temp paths, listening on 127.0.0.1:PORT (a default
 * server answering 404 "no site") and including DIR/nginx/conf.d/ *.conf.
 * Started with the prefix DIR/nginx/; the product's test/reload argv use the
 * same flags (see th_nginx_edge_yaml). PORT is one it picks: th_free_port()
 * can race with another process binding the port before nginx does, so a
 * start that fails with "Address already in use" is retried on a new port.
 * Asserts that it answers; returns the port.
 */
int th_nginx_start_free(const char *dir);
/* Asks the master to quit; one that has not gone after 5 s is killed
 * (SIGKILL, its workers too), so no nginx outlives its test. */
void th_nginx_stop(const char *dir);
/* The YAML lines for global.conf's edge.nginx: conf_dir, listen, test, reload. */
char *th_nginx_edge_yaml(int port);

/* The token printed by `bluegreen plan` ("bluegreen apply TOKEN"), NULL if none. */
char *th_plan_token(const char *plan_output);

/* Run argv with input on its stdin; returns its exit status, *out its stdout. */
int th_run_stdin(char *const argv[], const char *input, char **out);
/* Wait up to ms (times the time scale) for the file at path to contain
 * want; returns its text (a new string) or NULL. */
char *th_wait_file(const char *path, const char *want, int ms);

/* hey's report: responses answered 2xx/3xx into *ok; other statuses and
 * errors (timeouts, refused connections) into *failures. */
void th_hey_result(const char *out, long *ok, long *failures);

#endif /* BG_TEST_TH_H */
