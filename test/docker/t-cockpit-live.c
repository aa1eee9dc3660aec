/*
 * t-cockpit-live: the cockpit in safe mode end to end, against real Docker
 * and nginx. A site is applied twice with the real binary (so the history
 * holds a first deploy and a switch), `bluegreen watch` runs until it has
 * published STATE_DIR/status.json (0640, no environment value), and stops.
 * Then the Docker socket setting is pointed at a FIFO nobody may read
 * (mode 000: opening it would block or fail) and `bluegreen cockpit --safe`
 * runs under strace: every route answers over HTTP (libcurl) with the site
 * and its live colour, POST/PUT/DELETE answer 403 and are logged, /metrics
 * passes `promtool check metrics`, and the trace shows the process read
 * status.json and never touched the Docker socket path nor the daemon's
 * control socket.
 *
 * Needs: dockerd, nginx, strace, promtool (Debian prometheus); under CI a
 * missing strace or promtool fails the test.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "e2e.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENV_VALUE "cockpit-env-value-4f1d"

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	bg_buf_add(arg, p, sz * n);
	return sz * n;
}

/* method path on the cockpit; returns the status, *body a new string. */
static long fetch(unsigned port, const char *method, const char *path, char **body)
{
	struct bg_buf b = BG_BUF_INIT;
	char *url = bg_xasprintf("http://127.0.0.1:%u%s", port, path);
	CURL *c = curl_easy_init();
	long code = -1;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "token=x");
	}
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	}
	curl_easy_cleanup(c);
	free(url);
	*body = bg_buf_detach(&b, NULL);
	return code;
}

/* The tool's path, or NULL; under CI a missing tool fails the test. */
static char *tool(const char *name, const char *pkg)
{
	static const char *const dirs[] = {"/usr/bin", "/usr/sbin", "/bin", "/usr/local/bin"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(dirs); i++) {
		char *p = bg_xasprintf("%s/%s", dirs[i], name);
		if (access(p, X_OK) == 0) {
			return p;
		}
		free(p);
	}
	if (th_ci()) {
		fail_msg("%s is missing (Debian package %s): CI must have it", name, pkg);
	}
	return NULL;
}

/* `promtool check metrics` with the text on stdin; returns its exit status. */
static int promtool_check(const char *promtool, const char *dir, const char *text)
{
	th_write(dir, "metrics.txt", text);
	char *path = bg_xasprintf("%s/metrics.txt", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDONLY);
		dup2(fd, 0);
		execl(promtool, "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	free(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static struct e2e E;
/* Started by the test, stopped by the teardown when an assertion failed first. */
static pid_t bg_pid = -1, traced_pid = -1;

static int teardown(void **state)
{
	if (traced_pid > 0) {
		kill(traced_pid, SIGKILL);
	}
	if (bg_pid > 0) {
		kill(bg_pid, SIGKILL);
		waitpid(bg_pid, NULL, 0);
	}
	bg_pid = traced_pid = -1;
	return e2e_teardown(state);
}

/* The one child of pid (strace's tracee), from /proc. */
static pid_t traced_child(pid_t pid)
{
	char *path = bg_xasprintf("/proc/%d/task/%d/children", (int)pid, (int)pid);
	char *s = NULL;
	assert_int_equal(bg_file_read(path, 4096, &s, NULL), 0);
	pid_t child = (pid_t)strtol(s, NULL, 10);
	assert_true(child > 0);
	free(s);
	free(path);
	return child;
}

/* Apply v1 then v2 (a first deploy and a switch); the watch daemon publishes. */
static char *make_state(void)
{
	e2e_init(&E, "cockpit", "nginx", "development");
	e2e_site(&E, "bluegreen-test/web:v1", "env: {BGTEST_MARK: \"" ENV_VALUE "\"}\n");
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	e2e_site(&E, "bluegreen-test/web:v2", "env: {BGTEST_MARK: \"" ENV_VALUE "\"}\n");
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	char *live = e2e_edge_live(&E);
	assert_non_null(live);

	char *out = bg_xasprintf("%s-watch.out", E.dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", E.dir, "watch", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	pid_t pid = bg_pid = th_spawn_bg(argv, env, out);
	char *snap = bg_xasprintf("%s/state/status.json", E.dir);
	char *want = bg_xasprintf("\"site\": \"%s\"", E.site);
	char *text = th_wait_file(snap, want, 60000);
	kill(pid, SIGTERM);
	th_wait(pid);
	bg_pid = -1;
	if (!text) {
		char *o = th_read(out);
		fail_msg("the daemon published no status.json with the site:\n%s", o ? o : "");
	}
	struct stat st;
	assert_int_equal(lstat(snap, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	char *lv = bg_xasprintf("\"live\": \"%s\"", live);
	if (!strstr(text, lv)) {
		fail_msg("status.json does not say %s:\n%s", lv, text);
	}
	/* No environment value, ever. */
	assert_null(strstr(text, ENV_VALUE));
	assert_null(strstr(text, "BGTEST_MARK"));
	free(lv);
	free(text);
	free(want);
	free(snap);
	free(out);
	return live;
}

/* The cockpit's port from its first line, waiting for it. */
static unsigned cockpit_port(const char *out, pid_t pid)
{
	char *t = th_wait_file(out, "listening on port ", 30000);
	const char *p = t ? strstr(t, "listening on port ") : NULL;
	if (!p) {
		char *o = th_read(out);
		kill(pid, SIGTERM);
		fail_msg("the cockpit did not start:\n%s", o ? o : "");
	}
	unsigned port = (unsigned)strtoul(p + strlen("listening on port "), NULL, 10);
	free(t);
	return port;
}

static void check_routes(unsigned port, const char *live)
{
	char *body, *path;
	char *badge = bg_xasprintf("<span class=\"%s\">%s</span>", live, live);
	assert_int_equal(fetch(port, "GET", "/", &body), 200);
	assert_non_null(strstr(body, E.site));
	assert_non_null(strstr(body, badge));
	free(body);
	path = bg_xasprintf("/sites/%s", E.site);
	assert_int_equal(fetch(port, "GET", path, &body), 200);
	assert_non_null(strstr(body, badge));
	assert_non_null(strstr(body, "<td data-h=\"Action\">switch</td>"));
	assert_non_null(strstr(body, "v2"));
	free(body);
	free(path);
	char *lv = bg_xasprintf("\"live\": \"%s\"", live);
	assert_int_equal(fetch(port, "GET", "/api/v1/sites", &body), 200);
	assert_non_null(strstr(body, E.site));
	assert_non_null(strstr(body, lv));
	free(body);
	path = bg_xasprintf("/api/v1/sites/%s", E.site);
	assert_int_equal(fetch(port, "GET", path, &body), 200);
	assert_non_null(strstr(body, lv));
	assert_non_null(strstr(body, "\"action\": \"switch\""));
	free(body);
	free(path);
	path = bg_xasprintf("/api/v1/history?site=%s&limit=5", E.site);
	assert_int_equal(fetch(port, "GET", path, &body), 200);
	assert_true(th_count(body, "\"seq\"") == 5);
	free(body);
	free(path);
	free(lv);
	free(badge);
}

static void test_safe_mode_live(void **state)
{
	char *strace = tool("strace", "strace"), *promtool = tool("promtool", "prometheus");
	char *live = make_state();

	/* The Docker socket: a FIFO no one may read (opening it would block). */
	char *fifo = bg_xasprintf("%s/docker-fifo.sock", E.dir);
	assert_int_equal(mkfifo(fifo, 0), 0);
	char *extra = bg_xasprintf("docker:\n  socket: %s\n", fifo);
	e2e_global(&E, extra);

	char *out = bg_xasprintf("%s-cockpit.out", E.dir);
	char *trace = bg_xasprintf("%s-cockpit.trace", E.dir);
	char *bin = getenv("BG_BINARY");
	char *plain[] = {bin, "-c", E.dir, "cockpit", "--safe", "--listen", "127.0.0.1:0", NULL};
	char *traced[] = {strace, "-f", "-qq", "-o", trace, "-e",
		"trace=%file,%network", bin, "-c",
		E.dir, "cockpit", "--safe", "--listen", "127.0.0.1:0", NULL};
	/* LeakSanitizer cannot run under ptrace (it exits 1 with a fatal error),
	 * so a sanitizer build traced here checks no leaks; t-cockpit (unit,
	 * untraced) does. */
	const char *asan = getenv("ASAN_OPTIONS");
	char *no_lsan = bg_xasprintf("ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
			asan && *asan ? ":" : "");
	char *env[] = {no_lsan, NULL};
	pid_t pid = bg_pid = th_spawn_bg(strace ? traced : plain, strace ? env : NULL, out);
	unsigned port = cockpit_port(out, pid);
	traced_pid = strace ? traced_child(pid) : -1;

	check_routes(port, live);
	static const char *const mutating[] = {"POST", "PUT", "DELETE"};
	char *body;
	for (size_t i = 0; i < BG_ARRAY_SIZE(mutating); i++) {
		char *path = bg_xasprintf("/api/v1/sites/%s", E.site);
		assert_int_equal(fetch(port, mutating[i], i ? path : "/", &body), 403);
		free(body);
		free(path);
	}
	char *refused = bg_xasprintf("%s/state/cockpit-refused.log", E.dir);
	char *log = th_read(refused);
	assert_non_null(log);
	assert_int_equal(th_count(log, "\"result\": \"refused\""), 3);
	assert_non_null(strstr(log, "POST /"));
	free(log);

	assert_int_equal(fetch(port, "GET", "/metrics", &body), 200);
	char *m = bg_xasprintf("bluegreen_site_live{site=\"%s\",colour=\"%s\"} 1", E.site, live);
	assert_non_null(strstr(body, m));
	assert_non_null(strstr(body, "bluegreen_switches_total{result=\"ok\"}"));
	if (promtool) {
		assert_int_equal(promtool_check(promtool, E.dir, body), 0);
	}
	free(m);
	free(body);

	/* SIGTERM to the cockpit itself (strace's child when traced): it stops, exit 0. */
	kill(strace ? traced_pid : pid, SIGTERM);
	int rc = th_wait(pid);
	bg_pid = traced_pid = -1;
	assert_int_equal(rc, 0);
	if (strace) {
		char *t = th_read(trace);
		assert_non_null(t);
		/* It read the snapshot (the trace works) ... */
		assert_non_null(strstr(t, "status.json"));
		/* ... and never went near the engine or the daemon. */
		if (strstr(t, fifo) || strstr(t, "control.sock") || strstr(t, "docker.sock")) {
			fail_msg("the cockpit touched the Docker or control socket:\n%s", t);
		}
		free(t);
	}
	free(refused);
	free(no_lsan);
	free(out);
	free(trace);
	free(extra);
	free(fifo);
	free(live);
	free(strace);
	free(promtool);
}

int main(void)
{
	th_docker_preamble();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_safe_mode_live, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
