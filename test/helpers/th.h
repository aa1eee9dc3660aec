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
	int status; /* exit status, 128+signal */
	char *out;  /* stdout */
	char *err;  /* stderr */
};
void th_run_release(struct th_run *r);

/*
 * Run argv (argv[0] looked up in PATH, or an absolute path) with extra
 * environment entries ("K=V", NULL-terminated, may be NULL), stdin from
 * /dev/null, capturing stdout and stderr separately.
 */
int th_run_argv(char *const argv[], char *const env_extra[], struct th_run *r);
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
 * (CI=true), where it prints "Bail out!" and exits 1. Then builds the test
 * images (test/images/build.sh, idempotent).
 */
void th_docker_preamble(void);
const char *th_docker_sock(void);
/* A short unique id for this test run ("t" + 6 hex chars). */
const char *th_run_id(void);
/* Remove every container, network and volume labelled
 * io.bluegreen.site=SITE (through the docker CLI). */
void th_docker_cleanup_site(const char *site);
void th_docker_rm_network(const char *name);
/* `docker` CLI with args, output captured; returns exit status. */
int th_docker(struct th_run *r, const char *arg0, ...);
/* HTTP GET http://host:port/path with curl's CLI; returns status or -1. */
int th_http_get(const char *url, char **body);

/* ---- background processes ---- */

#include <sys/types.h>
/* Start argv in the background, stdout and stderr to out_path; returns its pid. */
pid_t th_spawn_bg(char *const argv[], char *const env_extra[], const char *out_path);
/* Wait for it; returns the exit status (128+signal when killed). */
int th_wait(pid_t pid);

/* ---- local servers ---- */

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int th_free_port(void);

/*
 * A private nginx master for end-to-end tests: DIR/nginx/nginx.conf with its
 * own pid file, logs and temp paths, listening on 127.0.0.1:port (a default
 * server answering 404) and including DIR/nginx/conf.d/ *.conf. Start it with
 * the prefix DIR/nginx/; the product's test/reload argv use the same flags
 * (see th_nginx_argv_yaml). Asserts that it answers.
 */
void th_nginx_start(const char *dir, int port);
void th_nginx_stop(const char *dir);
/* The YAML lines for global.conf's edge.nginx: conf_dir, listen, test, reload. */
char *th_nginx_edge_yaml(int port);

/* The token printed by `bluegreen plan` ("bluegreen apply TOKEN"), NULL if none. */
char *th_plan_token(const char *plan_output);

#endif /* BG_TEST_TH_H */
