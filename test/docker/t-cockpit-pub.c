/*
 * t-cockpit-pub: safe mode run as an unprivileged user through the publish
 * directory (issue 15, cockpit.publish_dir), against a real daemon, Docker
 * and nginx. A site is applied twice (a first deploy and a switch); the
 * configuration says `cockpit: {publish_dir: pub, group: GID}` with a
 * numeric group no one is in; `bluegreen watch` (root) publishes pub/ (0750,
 * files 0640, that group). Then the cockpit runs under
 * `setpriv --reuid=nobody --regid=GID --clear-groups`, traced by strace:
 * its uid and gid are read from /proc and printed; a child with the same
 * credentials gets EACCES opening the state directory and its status.json,
 * and reads pub/status.json. Over HTTP the overview, the site page, the
 * API, the history and /metrics show the site with its live colour; an
 * edit of the site's file shows as pending (overview, gauge); an /events stream is open when the CLI switches the
 * site (through the daemon), and it carries the switch's journal entry and
 * the new live colour without a reload. A POST is 403. The trace shows the
 * cockpit read pub/ and never named the state directory, the Docker socket
 * or the control socket. Nothing is created outside the test's directory:
 * no user, no group.
 *
 * issue 15: the cockpit is given the daemon's own configuration directory
 * (-c, the same as `watch`), whose site has an env_file of mode 0600 owned
 * by root: the cockpit's user gets EACCES opening it, and the cockpit
 * still starts and serves, because safe mode loads the configuration
 * without its secrets (CFG_LOAD_NO_SECRETS); the trace never names it.
 *
 * Needs: dockerd, nginx, setpriv (util-linux); strace is optional outside CI.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "e2e.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534
/* An apply of a new version switches to it (the default waits for a promote).
 * The env_file holds a secret the cockpit's user cannot read (issue 15). */
#define ENV_FILE "ckpub-secret.env"
#define AUTO "strategy: {promote: auto}\nenv_file: " ENV_FILE "\n"

static struct e2e E;
static pid_t watch_pid = -1, cockpit_pid = -1, traced_pid = -1;

static int teardown(void **state)
{
	pid_t v[] = {traced_pid, cockpit_pid, watch_pid};
	for (size_t i = 0; i < BG_ARRAY_SIZE(v); i++) {
		if (v[i] > 0) {
			kill(v[i], SIGKILL);
			waitpid(v[i], NULL, 0);
		}
	}
	watch_pid = cockpit_pid = traced_pid = -1;
	return e2e_teardown(state);
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	bg_buf_add(arg, p, sz * n);
	return sz * n;
}

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
	if (strcmp(method, "POST") == 0) {
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

/* ---- an /events stream in a thread ---- */

struct stream {
	unsigned port;
	pthread_t th;
	pthread_mutex_t mu;
	struct bg_buf got;
	volatile int stop;
};

static size_t stream_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct stream *s = arg;
	pthread_mutex_lock(&s->mu);
	bg_buf_add(&s->got, p, sz * n);
	pthread_mutex_unlock(&s->mu);
	return s->stop ? 0 : sz * n;
}

static int stream_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream *s = arg;
	(void)a, (void)b, (void)c, (void)d;
	return s->stop; /* non-zero ends the transfer */
}

static void *stream_run(void *arg)
{
	struct stream *s = arg;
	char *url = bg_xasprintf("http://127.0.0.1:%u/events", s->port);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stream_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	free(url);
	return NULL;
}

/* The stream's text with ": " folded to ":" (JSON spacing aside), a new string. */
static char *stream_text(struct stream *s)
{
	struct bg_buf b = BG_BUF_INIT;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->got.len; i++) {
		if (!(s->got.data[i] == ' ' && i && s->got.data[i - 1] == ':')) {
			bg_buf_addch(&b, s->got.data[i]);
		}
	}
	pthread_mutex_unlock(&s->mu);
	bg_buf_addch(&b, '\0');
	return bg_buf_detach(&b, NULL);
}

/* Waits until the stream holds every one of want (NULL-terminated, no space
 * after a colon); the time in ms or -1. */
static long stream_wait(struct stream *s, const char *const want[], int ms, size_t from)
{
	int64_t t0 = bg_now_ms();
	while (bg_now_ms() - t0 < ms) {
		bool all = true;
		char *got = stream_text(s);
		for (size_t i = 0; want[i] && all; i++) {
			all = strlen(got) >= from && strstr(got + from, want[i]) != NULL;
		}
		free(got);
		if (all) {
			return (long)(bg_now_ms() - t0);
		}
		usleep(20 * 1000);
	}
	return -1;
}

/* ---- credentials ---- */

/* /proc/PID/status's line starting with key ("Uid:"), a new string. */
static char *proc_line(pid_t pid, const char *key)
{
	char *path = bg_xasprintf("/proc/%d/status", (int)pid), *s = NULL, *line = NULL;
	if (bg_file_read(path, 1 << 16, &s, NULL) == 0) {
		char *p = strstr(s, key);
		if (p) {
			line = bg_xstrndup(p, strcspn(p, "\n"));
		}
	}
	free(s);
	free(path);
	return line;
}

/* In a child with the cockpit's credentials: open path; its errno (0: opened). */
static int open_as(gid_t gid, const char *path, int flags)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
				setresuid(NOBODY, NOBODY, NOBODY) != 0) {
			_exit(250);
		}
		int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
		_exit(fd >= 0 ? 0 : errno > 0 && errno < 250 ? errno : 251);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 252;
}

static pid_t child_of(pid_t pid)
{
	char *path = bg_xasprintf("/proc/%d/task/%d/children", (int)pid, (int)pid);
	char *s = NULL;
	pid_t child = -1;
	for (int i = 0; i < 100 && child <= 0; i++) {
		if (bg_file_read(path, 4096, &s, NULL) == 0) {
			child = (pid_t)strtol(s, NULL, 10);
		}
		free(s);
		s = NULL;
		if (child <= 0) {
			usleep(20 * 1000);
		}
	}
	free(path);
	return child;
}

static char *tool(const char *path, const char *pkg)
{
	if (access(path, X_OK) == 0) {
		return bg_xstrdup(path);
	}
	if (th_ci()) {
		fail_msg("%s is missing (Debian package %s): CI must have it", path, pkg);
	}
	return NULL;
}

static void assert_mode(const char *path, unsigned mode, gid_t gid, bool dir)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
	if ((st.st_mode & 07777) != mode || st.st_gid != gid) {
		fail_msg("%s: mode %o gid %u, want %o gid %u", path, st.st_mode & 07777,
				(unsigned)st.st_gid, mode, (unsigned)gid);
	}
}

/* The configuration readable by others (the cockpit is not root); state/ stays 0700. */
static void config_readable(void)
{
	char *sites = bg_xasprintf("%s/sites", E.dir);
	char *g = bg_xasprintf("%s/global.conf", E.dir);
	char *s = bg_xasprintf("%s/sites/%s.conf", E.dir, E.site);
	assert_int_equal(chmod(E.dir, 0755) | chmod(sites, 0755) | chmod(g, 0644) | chmod(s, 0644), 0);
	free(sites);
	free(g);
	free(s);
}

static void check_pages(unsigned port, const char *live, int applies)
{
	char *body, *path;
	char *badge = bg_xasprintf("<span class=\"%s\">%s</span>", live, live);
	char *lv = bg_xasprintf("\"live\": \"%s\"", live);
	assert_int_equal(fetch(port, "GET", "/", &body), 200);
	th_assert_contains(body, E.site);
	th_assert_contains(body, badge);
	th_assert_contains(body, "safe mode: read-only");
	free(body);
	path = bg_xasprintf("/sites/%s", E.site);
	assert_int_equal(fetch(port, "GET", path, &body), 200);
	th_assert_contains(body, badge);
	/* the journal (published window) and the versions (published too) */
	th_assert_contains(body, "<td data-h=\"Action\">switch</td>");
	th_assert_contains(body, "<td data-h=\"Version\">v2</td>");
	free(body);
	free(path);
	assert_int_equal(fetch(port, "GET", "/api/v1/sites", &body), 200);
	th_assert_contains(body, lv);
	free(body);
	path = bg_xasprintf("/api/v1/sites/%s", E.site);
	assert_int_equal(fetch(port, "GET", path, &body), 200);
	th_assert_contains(body, lv);
	th_assert_contains(body, "\"action\": \"switch\"");
	free(body);
	free(path);
	path = bg_xasprintf("/api/v1/history?site=%s&limit=3", E.site);
	assert_int_equal(fetch(port, "GET", path, &body), 200);
	assert_int_equal(th_count(body, "\"seq\""), 3);
	free(body);
	free(path);
	assert_int_equal(fetch(port, "GET", "/metrics", &body), 200);
	char *m = bg_xasprintf("bluegreen_site_live{site=\"%s\",colour=\"%s\"} 1", E.site, live);
	th_assert_contains(body, m);
	/* the daemon's whole-journal counters: two deploys, one switch at least */
	th_assert_contains(body, "bluegreen_switches_total{result=\"ok\"}");
	char *ap = bg_xasprintf("bluegreen_applies_total{result=\"ok\"} %d\n", applies);
	th_assert_contains(body, ap);
	free(ap);
	free(m);
	free(body);
	free(lv);
	free(badge);
}

/* What the steps of the test share. */
struct run {
	gid_t gid;
	char *bin, *pub, *pub_status, *pub_journal, *sdir, *live, *env_file;
	char *wout, *cout, *trace;
	unsigned port;
	pid_t served; /* the cockpit process itself (strace's child when traced) */
};

/* Two deploys (v1, then v2 switched to), the configuration readable, the daemon publishing. */
static void deploy_and_publish(struct run *x)
{
	e2e_init(&E, "ckpub", "nginx", "development");
	char *extra = bg_xasprintf("cockpit:\n  publish_dir: pub\n  group: \"%u\"\n", (unsigned)x->gid);
	e2e_global(&E, extra);
	free(extra);
	/* The secret: root's alone (0600), in the configuration directory the cockpit is given. */
	th_write(E.dir, ENV_FILE, "APP_SECRET=ckpub-not-for-the-cockpit\n");
	x->env_file = bg_xasprintf("%s/%s", E.dir, ENV_FILE);
	assert_int_equal(chmod(x->env_file, 0600), 0);
	e2e_site(&E, "bluegreen-test/web:v1", AUTO);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	e2e_site(&E, "bluegreen-test/web:v2", AUTO);
	assert_int_equal(e2e_plan_apply(&E, NULL), 0);
	x->live = e2e_edge_live(&E);
	assert_non_null(x->live);
	config_readable();
	x->wout = bg_xasprintf("%s-watch.out", E.dir);
	char *env[] = {"NO_COLOR=1", NULL};
	char *wargv[] = {x->bin, "-c", E.dir, "watch", NULL};
	watch_pid = th_spawn_bg(wargv, env, x->wout);
	x->pub = bg_xasprintf("%s/pub", E.dir);
	x->pub_status = bg_xasprintf("%s/status.json", x->pub);
	x->pub_journal = bg_xasprintf("%s/journal.json", x->pub);
	x->sdir = bg_xasprintf("%s/state", E.dir);
	char *lv = bg_xasprintf("\"live\": \"%s\"", x->live);
	char *text = th_wait_file(x->pub_status, lv, 60000);
	if (!text) {
		char *o = th_read(x->wout);
		fail_msg("the daemon published no pub/status.json with %s:\n%s", lv, o ? o : "");
	}
	free(text);
	free(lv);
	text = th_wait_file(x->pub_journal, "\"action\":\"switch\"", 10000);
	assert_non_null(text);
	free(text);
	assert_mode(x->pub, 0750, x->gid, true);
	assert_mode(x->pub_status, 0640, x->gid, false);
	assert_mode(x->pub_journal, 0640, x->gid, false);
}

/* Those credentials cannot open the state directory, and can read pub/. */
static void check_access(const struct run *x)
{
	char *state_status = bg_xasprintf("%s/status.json", x->sdir);
	int e1 = open_as(x->gid, x->sdir, O_RDONLY | O_DIRECTORY);
	int e2 = open_as(x->gid, state_status, O_RDONLY);
	int e3 = open_as(x->gid, x->pub_journal, O_RDONLY);
	int e4 = open_as(x->gid, x->env_file, O_RDONLY);
	printf("# uid %d gid %u: open %s: %s; open %s: %s; open %s: %s; open %s: %s\n", NOBODY,
			(unsigned)x->gid, x->sdir, strerror(e1), state_status, strerror(e2),
			x->pub_journal, e3 ? strerror(e3) : "ok", x->env_file, strerror(e4));
	assert_int_equal(e1, EACCES);
	assert_int_equal(e2, EACCES);
	assert_int_equal(e3, 0);
	assert_int_equal(e4, EACCES); /* the site's secret: not the cockpit's to read */
	free(state_status);
}

/* The cockpit as nobody with that group only (traced when strace is there); its ids shown. */
static void start_cockpit(struct run *x, const char *setpriv, const char *strace)
{
	x->cout = bg_xasprintf("%s-cockpit.out", E.dir);
	x->trace = bg_xasprintf("%s-cockpit.trace", E.dir);
	char *ruid = bg_xasprintf("--reuid=%d", NOBODY), *rgid = bg_xasprintf("--regid=%u", x->gid);
	char *plain[] = {(char *)setpriv, ruid, rgid, "--clear-groups", "--", x->bin, "-c", E.dir,
		"cockpit", "--safe", "--listen", "127.0.0.1:0", "--publish-dir", x->pub, NULL};
	char *traced[] = {(char *)strace, "-f", "-qq", "-o", x->trace, "-e", "trace=%file,%network",
		(char *)setpriv, ruid, rgid, "--clear-groups", "--", x->bin, "-c", E.dir, "cockpit",
		"--safe", "--listen", "127.0.0.1:0", "--publish-dir", x->pub, NULL};
	/* LeakSanitizer cannot run under ptrace (see t-cockpit-live). */
	const char *asan = getenv("ASAN_OPTIONS");
	char *no_lsan = bg_xasprintf("ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
			asan && *asan ? ":" : "");
	char *env[] = {"NO_COLOR=1", strace ? no_lsan : NULL, NULL};
	cockpit_pid = th_spawn_bg(strace ? traced : plain, env, x->cout);
	char *t = th_wait_file(x->cout, "listening on port ", 30000);
	if (!t) {
		char *o = th_read(x->cout);
		fail_msg("the cockpit did not start:\n%s", o ? o : "");
	}
	x->port = (unsigned)strtoul(strstr(t, "listening on port ") + 18, NULL, 10);
	th_assert_not_contains(t, ENV_FILE); /* not even a warning about it */
	free(t);
	x->served = strace ? (traced_pid = child_of(cockpit_pid)) : cockpit_pid;
	char *uid_line = proc_line(x->served, "Uid:"), *gid_line = proc_line(x->served, "Gid:");
	char *groups = proc_line(x->served, "Groups:");
	printf("# cockpit pid %d: %s; %s; %s\n", (int)x->served, uid_line, gid_line, groups);
	char *want_uid = bg_xasprintf("Uid:\t%d\t%d\t%d", NOBODY, NOBODY, NOBODY);
	char *want_gid = bg_xasprintf("Gid:\t%u\t%u\t%u", x->gid, x->gid, x->gid);
	th_assert_contains(uid_line, want_uid);
	th_assert_contains(gid_line, want_gid);
	free(want_uid);
	free(want_gid);
	free(uid_line);
	free(gid_line);
	free(groups);
	free(no_lsan);
	free(ruid);
	free(rgid);
}

/* An edit of the site: the daemon plans it, publishes, the overview and the gauge say pending. */
static void check_pending(const struct run *x)
{
	char *body;
	bool pending = false;
	for (int i = 0; i < 150 && !pending; i++) {
		assert_int_equal(fetch(x->port, "GET", "/", &body), 200);
		pending = strstr(body, "<td data-h=\"Pending\" class=\"bad\">") && strstr(body, " change");
		free(body);
		if (!pending) {
			usleep(100 * 1000);
		}
	}
	assert_true(pending);
	assert_int_equal(fetch(x->port, "GET", "/metrics", &body), 200);
	char *gauge = bg_xasprintf("bluegreen_site_pending_changes{site=\"%s\"} ", E.site);
	const char *g = strstr(body, gauge);
	assert_non_null(g);
	assert_true(strtol(g + strlen(gauge), NULL, 10) > 0);
	free(gauge);
	free(body);
}

/* v3 applied by the CLI (through the daemon) while /events is open: the switch arrives. */
static void switch_on_events(const struct run *x, const char *other)
{
	struct stream s = {.port = x->port};
	pthread_mutex_init(&s.mu, NULL);
	pthread_create(&s.th, NULL, stream_run, &s);
	char *lv_sse = bg_xasprintf("\"live\":\"%s\"", x->live);
	const char *const opened[] = {"event:status", lv_sse, NULL};
	assert_true(stream_wait(&s, opened, 10000, 0) >= 0);
	e2e_site(&E, "bluegreen-test/web:v3", AUTO);
	config_readable();
	check_pending(x);
	int st = 0;
	char *tok = e2e_plan(&E, &st);
	assert_int_equal(st, 2);
	struct th_run r;
	char *before = stream_text(&s);
	size_t mark = strlen(before); /* only what comes after the apply counts */
	free(before);
	int64_t t0 = bg_now_ms();
	assert_int_equal(e2e_bg(&E, &r, "apply", tok, NULL), 0);
	int64_t applied = bg_now_ms();
	th_run_release(&r);
	char *olv = bg_xasprintf("\"live\":\"%s\"", other);
	const char *const switched[] = {"\"action\":\"switch\"", olv, NULL};
	long waited = stream_wait(&s, switched, 30000, mark);
	if (waited < 0) {
		pthread_mutex_lock(&s.mu);
		fail_msg("no switch to %s on /events (apply took %lld ms):\n%s", other,
				(long long)(applied - t0), s.got.data ? s.got.data : "");
	}
	printf("# /events of the unprivileged cockpit: the switch to %s arrived %ld ms after "
			"`apply` returned (apply took %lld ms)\n", other, waited, (long long)(applied - t0));
	s.stop = 1;
	pthread_join(s.th, NULL);
	pthread_mutex_destroy(&s.mu);
	bg_buf_release(&s.got);
	free(olv);
	free(lv_sse);
	free(tok);
}

/* The trace: it read pub/, never named the state directory nor a socket. */
static void check_trace(const struct run *x)
{
	char *tr = th_read(x->trace);
	assert_non_null(tr);
	th_assert_contains(tr, x->pub_status);
	th_assert_contains(tr, x->pub_journal);
	if (strstr(tr, x->sdir) || strstr(tr, "control.sock") || strstr(tr, "docker.sock")) {
		fail_msg("the cockpit named the state directory or a socket:\n%s", tr);
	}
	if (strstr(tr, ENV_FILE)) {
		fail_msg("the cockpit looked at the site's env_file:\n%s", tr);
	}
	free(tr);
}

static void test_unprivileged_safe_mode(void **state)
{
	char *setpriv = tool("/usr/bin/setpriv", "util-linux");
	if (!setpriv) {
		skip();
	}
	char *strace = tool("/usr/bin/strace", "strace");
	struct run x = {.gid = (gid_t)(47000 + getpid() % 1000), .bin = getenv("BG_BINARY")};
	deploy_and_publish(&x);
	check_access(&x);
	start_cockpit(&x, setpriv, strace);
	check_pages(x.port, x.live, 2);
	char *body;
	assert_int_equal(fetch(x.port, "POST", "/", &body), 403);
	free(body);
	const char *other = strcmp(x.live, "blue") == 0 ? "green" : "blue";
	switch_on_events(&x, other);
	check_pages(x.port, other, 3);
	assert_int_equal(fetch(x.port, "GET", "/", &body), 200);
	th_assert_contains(body, "<td data-h=\"Pending\">none</td>");
	free(body);

	/* SIGTERM to the cockpit itself: exit 0; then what it touched. */
	kill(x.served, SIGTERM);
	int rc = th_wait(cockpit_pid);
	cockpit_pid = traced_pid = -1;
	assert_int_equal(rc, 0);
	if (strace) {
		check_trace(&x);
	}
	kill(watch_pid, SIGTERM);
	th_wait(watch_pid);
	watch_pid = -1;
	/* The outputs beside the test's directory: nothing left behind. */
	unlink(x.wout);
	unlink(x.cout);
	unlink(x.trace);
	char *v[] = {x.pub, x.pub_status, x.pub_journal, x.sdir, x.live, x.wout, x.cout, x.trace,
		strace, setpriv, x.env_file};
	for (size_t i = 0; i < BG_ARRAY_SIZE(v); i++) {
		free(v[i]);
	}
}

int main(void)
{
	th_docker_preamble();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_unprivileged_safe_mode, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
