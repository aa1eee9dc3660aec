/*
 * t-watch: `bluegreen watch` end to end, against the real engine, a real
 * private nginx, real inotify and real signals. The daemon runs as a child
 * process with its stdout and stderr in a file, and the tests drive it the
 * way an operator would: edit files, write the approval file, run
 * `bluegreen apply` (handed to the daemon over its control socket), kill a
 * container, hand-edit an edge file, send signals, restart dockerd.
 *
 * Needs: bluegreen-test/web:v1 and web:bad (th_docker_preamble builds
 * them), nginx, and root (the last test restarts dockerd). Everything is
 * named after th_run_id() (site, edge network) and removed at the end.
 * The host is shared with other engineers' tests, whose managed
 * containers appear in our plans as orphans: waits match our own "why:"
 * lines, and an apply refused as stale because of them is retried with the
 * newest plan (at most three times, so a real failure still fails).
 *
 * The dockerd restart runs last and restores dockerd whatever happens
 * (same argv, environment, working directory and log file, new session).
 */
#include "bg.h"
#include "e2e.h"
#include "th.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOKEN_LEN 16
#define PLAN_WAIT_MS 5000 /* "within a bounded time": generous for a loaded CI */
#define APPLY_WAIT_MS 60000

static struct e2e E;
static char *site_rel; /* sites/SITE.conf */
/*
 * "config changed: sites/SITE.conf", the why of a plan after an edit of
 * our site file: made once for the whole group (group_teardown frees it),
 * never per test, so a failing test cannot leak it.
 */
static char *why_site;

/* ---- the daemon under test ---- */

struct daemon {
	pid_t pid;
	char *log;
};
static struct daemon D;
static unsigned n_starts;

static const char *bin(void)
{
	const char *b = getenv("BG_BINARY");
	return b && *b ? b : "bluegreen";
}

/* Start `bluegreen -c DIR watch [extra...]` (extra NULL-terminated, may be NULL). */
static void d_start_args(const char *const extra[])
{
	free(D.log);
	/* Outside the config directory: the daemon must not watch its own output. */
	D.log = bg_xasprintf("%s-watch-%u.out", E.dir, ++n_starts);
	const char *argv[8] = {bin(), "-c", E.dir, "watch"};
	for (size_t i = 0; extra && extra[i] && i < 3; i++) {
		argv[4 + i] = extra[i];
	}
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	D.pid = th_spawn_bg((char **)argv, env, D.log);
}

static void d_start(void)
{
	d_start_args(NULL);
}

/*
 * Strings a test needs until its end, freed by the per-test teardown even
 * when the test failed halfway (cmocka longjmps past any free()).
 */
static struct bg_strv scratch;

static const char *S(const char *fmt, ...) BG_PRINTF(1, 2);

static const char *S(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = bg_xvasprintf(fmt, ap);
	va_end(ap);
	bg_strv_push_take(&scratch, s);
	return s;
}

static int t_teardown(void **state)
{
	bg_strv_release(&scratch);
	bg_strv_init(&scratch);
	return 0;
}

static char *d_text(void)
{
	char *s = NULL;
	if (bg_file_read(D.log, 64u * 1024 * 1024, &s, NULL) != 0) {
		return bg_xstrdup("");
	}
	return s;
}

static size_t d_len(void)
{
	char *t = d_text();
	size_t n = strlen(t);
	free(t);
	return n;
}

/* Offset of needle at or after `from`, waiting up to ms; -1 if it never came. */
static long d_wait(size_t from, const char *needle, int ms)
{
	int64_t t0 = bg_mono_ms();
	for (;;) {
		char *t = d_text();
		const char *p = strlen(t) > from ? strstr(t + from, needle) : NULL;
		long at = p ? (long)(p - t) : -1;
		free(t);
		if (at >= 0 || bg_mono_ms() - t0 > ms) {
			return at;
		}
		usleep(20 * 1000);
	}
}

static void d_dump(void)
{
	/* As TAP comments, line by line (print_message cuts at 1 KiB). */
	char *t = d_text();
	char *save = NULL;
	fflush(stdout);
	printf("# ---- daemon output (%s) ----\n", D.log);
	for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		printf("#   %s\n", l);
	}
	printf("# ---- end ----\n");
	fflush(stdout);
	free(t);
}

/* Wait for the daemon to exit; its exit status, or -1 after ms. */
static int d_wait_exit(int ms)
{
	int64_t t0 = bg_mono_ms();
	for (;;) {
		int st = 0;
		pid_t r = waitpid(D.pid, &st, WNOHANG);
		if (r == D.pid) {
			D.pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		if (bg_mono_ms() - t0 > ms) {
			return -1;
		}
		usleep(20 * 1000);
	}
}

static int d_stop(void)
{
	if (D.pid <= 0) {
		return -1;
	}
	kill(D.pid, SIGTERM);
	int st = d_wait_exit(30000);
	if (st < 0) {
		kill(D.pid, SIGKILL);
		d_wait_exit(5000);
	}
	return st;
}

/*
 * A plan seen in the daemon's output. No heap: a test that fails between
 * seeing a plan and releasing it (cmocka longjmps out) leaks nothing.
 */
struct seen_plan {
	char token[TOKEN_LEN + 1];
	char why[1024]; /* the "why:" line (cut at 1023 bytes) */
	size_t at;      /* offset of its header */
	size_t end;     /* offset after its why line */
};

static void seen_release(struct seen_plan *p)
{
	memset(p, 0, sizeof(*p));
}

/*
 * The first plan printed at or after *from whose "why:" contains needle
 * (NULL: any), waiting up to ms. On success *from moves past it.
 */
static bool d_plan(size_t *from, const char *needle, int ms, struct seen_plan *out)
{
	int64_t t0 = bg_mono_ms();
	memset(out, 0, sizeof(*out));
	for (;;) {
		char *t = d_text();
		size_t len = strlen(t), pos = *from;
		while (pos < len) {
			char *h = strstr(t + pos, "=== plan ");
			char *nl1 = h ? strchr(h, '\n') : NULL;
			char *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
			if (!nl2) {
				break;
			}
			pos = (size_t)(nl2 + 1 - t);
			if (!bg_str_has_prefix(nl1 + 1, "why: ")) {
				continue;
			}
			size_t wl = (size_t)(nl2 - nl1 - 6);
			char why[sizeof(out->why)];
			snprintf(why, sizeof(why), "%.*s", (int)wl, nl1 + 6);
			if (needle && !strstr(why, needle)) {
				continue;
			}
			memcpy(out->token, h + strlen("=== plan "), TOKEN_LEN);
			out->token[TOKEN_LEN] = '\0';
			memcpy(out->why, why, sizeof(why));
			out->at = (size_t)(h - t);
			out->end = pos;
			*from = pos;
			free(t);
			return true;
		}
		free(t);
		if (bg_mono_ms() - t0 > ms) {
			return false;
		}
		usleep(20 * 1000);
	}
}

/* Whether the body of plan p (up to the next plan's header) holds needle. */
static bool plan_body_has(const struct seen_plan *p, const char *needle)
{
	char *t = d_text();
	char *next = strstr(t + p->end, "=== plan ");
	if (next) {
		*next = '\0';
	}
	bool has = strstr(t + p->end, needle) != NULL;
	free(t);
	return has;
}

/* The newest plan printed so far (its token), waiting for a first one. */
static bool d_last_plan(struct seen_plan *out)
{
	size_t from = 0;
	struct seen_plan p;
	bool any = false;
	memset(out, 0, sizeof(*out));
	while (d_plan(&from, NULL, any ? 0 : PLAN_WAIT_MS, &p)) {
		seen_release(out);
		*out = p;
		any = true;
	}
	return any;
}

/* Count plans from `from` whose why contains needle. */
static size_t d_count_plans(size_t from, const char *needle)
{
	struct seen_plan p;
	size_t n = 0;
	while (d_plan(&from, needle, 0, &p)) {
		n++;
		seen_release(&p);
	}
	return n;
}

static int64_t d_cpu_ticks(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)D.pid);
	char *s = th_read(path);
	/* Fields after the command (which is in parentheses and may hold spaces). */
	char *p = strrchr(s, ')');
	unsigned long ut = 0, st = 0;
	sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	free(s);
	return (int64_t)(ut + st);
}

/* ---- the world the tests change ---- */

static void site_write(const char *image, const char *extra)
{
	e2e_site(&E, image, extra);
}

static void approve_add(const char *line)
{
	char *path = bg_xasprintf("%s/approve", E.dir);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "%s\n", line);
	fclose(f);
	free(path);
}

static char *edge_path(void)
{
	return bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", E.dir, E.site);
}

static char *colour(const char *c)
{
	return bg_xasprintf("%s-%s", E.site, c);
}

static char *history(void)
{
	struct th_run r;
	e2e_bg(&E, &r, "history", NULL);
	char *out = bg_xasprintf("%s%s", r.out, r.err);
	th_run_release(&r);
	return out;
}

/*
 * Apply the daemon's newest plan through the approval file; returns the
 * apply's exit code (from the daemon's "finished ... exit N" line).
 * A plan made stale by other engineers' containers is retried with the
 * next one, at most three times.
 */
static int apply_by_approve(char token_out[TOKEN_LEN + 1])
{
	int code = -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		struct seen_plan p;
		assert_true(d_last_plan(&p));
		size_t mark = d_len();
		approve_add(p.token);
		/* "watch: apply TOKEN (approve file line N) finished in Xms: exit N: ..." */
		char *note = bg_xasprintf("watch: apply %s (approve file line", p.token);
		long at = d_wait(mark, note, APPLY_WAIT_MS);
		if (at < 0) {
			d_dump();
			fail_msg("apply %s never finished", p.token);
		}
		assert_true(d_wait((size_t)at, "\n", 2000) >= 0);
		char *t = d_text();
		char *line = t + at;
		line[strcspn(line, "\n")] = '\0';
		char *ex = strstr(line, ": exit ");
		code = ex ? atoi(ex + strlen(": exit ")) : -1;
		bool stale = code == 3 && strstr(line, "is stale");
		free(t);
		free(note);
		memcpy(token_out, p.token, TOKEN_LEN + 1);
		seen_release(&p);
		if (!stale) {
			break;
		}
		print_message("# token %s went stale (other tests' containers?): retrying\n",
				token_out);
		usleep(300 * 1000);
	}
	return code;
}

/* `bluegreen apply` of the newest plan, handed to the daemon; same retry rule. */
static int apply_by_client(struct th_run *r, char token_out[TOKEN_LEN + 1])
{
	int code = -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		struct seen_plan p;
		assert_true(d_last_plan(&p));
		memcpy(token_out, p.token, TOKEN_LEN + 1);
		code = e2e_bg(&E, r, "apply", p.token, NULL);
		seen_release(&p);
		if (!(code == 3 && strstr(r->err, "is stale"))) {
			break;
		}
		print_message("# token %s went stale (other tests' containers?): retrying\n",
				token_out);
		th_run_release(r);
		usleep(300 * 1000);
	}
	return code;
}

static char *first_token; /* the first deploy's token (approve line 1) */
static char *stale_token; /* printed, never applied, then superseded */

/* ---- tests, in order: each leaves the daemon running for the next ---- */

static void t_first_deploy_by_approve(void **state)
{
	char tok[TOKEN_LEN + 1];
	struct seen_plan p;
	size_t from = 0;

	d_start();
	if (!d_plan(&from, "daemon started", PLAN_WAIT_MS * 2, &p)) {
		d_dump();
		fail_msg("no first plan");
	}
	assert_true(d_wait(p.at, "first deploy", 2000) >= 0);
	/* Nothing applied yet: every execution setting is new (ADR 0012). */
	assert_true(plan_body_has(&p, "execution settings"));
	assert_true(plan_body_has(&p, "(new)"));
	seen_release(&p);
	/* The daemon holds the lock and listens on its control socket, 0600. */
	char *sock = bg_xasprintf("%s/state/control.sock", E.dir);
	struct stat st;
	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	free(sock);

	int code = apply_by_approve(tok);
	if (code != 0) {
		d_dump();
	}
	assert_int_equal(code, 0);
	first_token = bg_xstrdup(tok);
	char *blue = colour("blue");
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "running");
	free(s);
	free(blue);
	char *live_now = e2e_edge_live(&E);
	assert_non_null(live_now);
	assert_string_equal(live_now, "blue");
	free(live_now);
	char *h = history();
	char *want = bg_xasprintf("approve file line 1");
	th_assert_contains(h, want);
	char *applied = bg_xasprintf("applied %s", tok);
	th_assert_contains(h, applied);
	free(applied);
	free(want);
	free(h);
	assert_true(e2e_wait_body(&E, E.domain, "v1", 5000));
	/* The convergence log has the daemon's apply, for `bluegreen log -f`. */
	char *clog = bg_xasprintf("%s/state/converge.log", E.dir);
	char *cl = th_read(clog);
	char *started = bg_xasprintf("apply %s started", tok);
	th_assert_contains(cl, started);
	free(started);
	free(cl);
	free(clog);
}

static void t_second_converger_refused(void **state)
{
	struct th_run r;
	int st = e2e_bg(&E, &r, "watch", NULL);
	assert_int_equal(st, 1);
	char *pid = bg_xasprintf("locked by pid %ld (watch", (long)D.pid);
	th_assert_contains(r.err, pid);
	th_assert_contains(r.err, "watch not started");
	free(pid);
	th_run_release(&r);
}

static void t_edit_replans(void **state)
{
	struct seen_plan p;
	size_t from = d_len();
	int64_t t0 = bg_mono_ms();

	site_write("bluegreen-test/web:v1", "env: {FOO: \"1\"}\n");
	if (!d_plan(&from, why_site, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after an edit");
	}
	print_message("# edit -> plan printed in %" PRId64 " ms\n", bg_mono_ms() - t0);
	/* Compared with the apply before: unchanged settings are not listed. */
	if (plan_body_has(&p, "execution settings")) {
		d_dump();
		fail_msg("the daemon's plan lists execution settings unchanged since the apply");
	}
	stale_token = bg_xstrdup(p.token);
	seen_release(&p);

	/* Save by rename, as editors do: write a temporary file, rename it over. */
	char *tmp = bg_xasprintf("%s/sites/.%s.conf.swp", E.dir, E.site);
	char *dst = bg_xasprintf("%s/%s", E.dir, site_rel);
	char *body = th_read(dst);
	char *foo = strstr(body, "FOO: \"1\"");
	assert_non_null(foo);
	foo[strlen("FOO: \"")] = '2';
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	assert_int_equal(rename(tmp, dst), 0);
	if (!d_plan(&from, why_site, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after a save-by-rename");
	}
	assert_string_not_equal(p.token, stale_token);
	seen_release(&p);
	free(body);
	free(dst);
	free(tmp);
}

static void t_new_and_removed_site(void **state)
{
	struct seen_plan p;
	size_t from = d_len();
	char *name = bg_xasprintf("%s-extra", E.site);
	char *rel = bg_xasprintf("sites/%s.conf", name);
	char *conf = bg_xasprintf("site: %s\ndomains: [%s.localhost]\nimage: "
			"bluegreen-test/web:v1\nport: 8080\n", name, name);

	th_write(E.dir, rel, conf);
	char *why = bg_xasprintf("config changed: %s", rel);
	if (!d_plan(&from, why, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan for a new site file");
	}
	char *header = bg_xasprintf("%s (%s)", name, rel);
	assert_true(d_wait(p.end, header, 2000) >= 0);
	seen_release(&p);

	char *path = bg_xasprintf("%s/%s", E.dir, rel);
	assert_int_equal(unlink(path), 0);
	if (!d_plan(&from, why, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after removing a site file");
	}
	/* The plan is printed whole, then flushed: its end is there once "why" is. */
	usleep(200 * 1000);
	char *t = d_text();
	char *next = strstr(t + p.end, "\n=== ");
	if (next) {
		*next = '\0';
	}
	th_assert_not_contains(t + p.end, header);
	free(t);
	seen_release(&p);
	free(path);
	free(header);
	free(why);
	free(conf);
	free(rel);
	free(name);
}

static void t_bad_config_keeps_last_good(void **state)
{
	struct seen_plan p;
	size_t from = d_len();

	th_write(E.dir, site_rel, "site: [not, a, name\n");
	char *loc = bg_xasprintf("%s:", site_rel);
	assert_true(d_wait(from, "configuration reload failed", PLAN_WAIT_MS) >= 0);
	assert_true(d_wait(from, loc, 0) >= 0);
	assert_true(d_wait(from, "stays in use", 0) >= 0);
	/* No plan from a configuration that did not load. */
	usleep(300 * 1000);
	assert_int_equal(d_count_plans(from, "config changed"), 0);
	/* Fixed: the next plan comes from the new, good file. */
	site_write("bluegreen-test/web:v1", "env: {FOO: \"3\"}\n");
	if (!d_plan(&from, why_site, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after fixing the file");
	}
	seen_release(&p);
	free(loc);
}

static void t_burst_of_edits(void **state)
{
	struct seen_plan p;
	size_t from = d_len();

	/*
	 * 100 edits, each changing the site's spec (so each would be a new
	 * token if planned alone), 20 ms apart: a 2 s burst with no quiet
	 * 100 ms in it. The debounce holds at most 1 s (max wait), so the
	 * bound is one plan per started second of burst, plus the final one.
	 */
	int64_t t0 = bg_mono_ms();
	for (int i = 1; i <= 100; i++) {
		char *extra = bg_xasprintf("env: {BURST: \"%d\"}\n", i);
		site_write("bluegreen-test/web:v1", extra);
		free(extra);
		usleep(20 * 1000);
	}
	int64_t burst_ms = bg_mono_ms() - t0;
	/* The last edit's plan: wait for quiet, then count. */
	usleep(1500 * 1000);
	size_t n = d_count_plans(from, why_site);
	size_t bound = 2 + (size_t)(burst_ms / 1000);
	print_message("# burst of 100 edits over %" PRId64 " ms: %zu plans printed (bound %zu)\n",
			burst_ms, n, bound);
	assert_true(n >= 1);
	assert_true(n <= bound);

	/* The last plan printed is the plan of the final files (BURST=100). */
	bool same = false;
	for (int attempt = 0; attempt < 3 && !same; attempt++) {
		struct th_run r;
		char *tok = NULL;
		assert_true(d_last_plan(&p));
		e2e_bg(&E, &r, "plan", NULL);
		tok = th_plan_token(r.out);
		same = tok && strcmp(tok, p.token) == 0;
		if (!same) {
			print_message("# daemon %s vs one-shot %s: retrying\n%s%s\n", p.token,
					tok ? tok : "-", r.out, r.err);
			usleep(500 * 1000);
		}
		free(tok);
		th_run_release(&r);
		seen_release(&p);
	}
	assert_true(same);
}

static void t_handoff_stale_and_ok(void **state)
{
	struct th_run r;
	char tok[TOKEN_LEN + 1];

	/* Not a token at all: refused like a one-shot apply would, exit 3. */
	int bad = e2e_bg(&E, &r, "apply", "not-a-token", NULL);
	assert_int_equal(bad, 3);
	th_assert_contains(r.err, "'not-a-token' is not a plan token");
	th_run_release(&r);

	/* A token printed earlier and superseded by edits: exit 3, stale, plan shown. */
	int st = e2e_bg(&E, &r, "apply", stale_token, NULL);
	assert_int_equal(st, 3);
	th_assert_contains(r.err, "is stale");
	th_assert_contains(r.out, "To apply exactly this plan");
	th_run_release(&r);

	/* The current plan: converged by the daemon, streamed back, exit 0. */
	size_t mark = d_len();
	st = apply_by_client(&r, tok);
	if (st != 0) {
		print_message("# client out:\n%s\n# client err:\n%s\n", r.out, r.err);
		d_dump();
	}
	assert_int_equal(st, 0);
	th_assert_contains(r.out, "[1/");
	th_assert_contains(r.out, "health container");
	char *done = bg_xasprintf("applied %s", tok);
	th_assert_contains(r.out, done);
	free(done);
	/* The daemon did it (its log says who asked), not the client. */
	char *req = bg_xasprintf("apply %s requested (control socket: pid", tok);
	assert_true(d_wait(mark, req, 2000) >= 0);
	free(req);
	th_run_release(&r);
	/* A token is applied at most once: the same one again is refused, exit 3. */
	st = e2e_bg(&E, &r, "apply", tok, NULL);
	assert_int_equal(st, 3);
	th_assert_contains(r.err, "already used");
	th_run_release(&r);
}

static void t_handoff_health_gate_fails(void **state)
{
	struct th_run r;
	struct seen_plan p;
	char tok[TOKEN_LEN + 1];
	size_t from = d_len();

	site_write("bluegreen-test/web:bad", "env: {BURST: \"100\"}\n");
	assert_true(d_plan(&from, why_site, PLAN_WAIT_MS, &p));
	seen_release(&p);
	int st = apply_by_client(&r, tok);
	if (st != 5) {
		print_message("# client out:\n%s\n# client err:\n%s\n", r.out, r.err);
	}
	assert_int_equal(st, 5);
	th_assert_contains(r.out, "health container");
	th_assert_contains(r.err, "failed");
	th_run_release(&r);
	/* The live colour was never touched. */
	assert_true(e2e_wait_body(&E, E.domain, "v1", 3000));
	char *live_now = e2e_edge_live(&E);
	assert_non_null(live_now);
	assert_string_equal(live_now, "blue");
	free(live_now);
}

/*
 * rollback --yes while the daemon holds the lock: handed over the control
 * socket like apply, done by the daemon at once (not after a lock wait),
 * same output and exit code. First a version to roll back from: v2 as a
 * candidate, then the switch, both handed to the daemon.
 */
static void t_rollback_handoff(void **state)
{
	struct th_run r;
	struct seen_plan p;
	char tok[TOKEN_LEN + 1];
	size_t from = d_len();

	site_write("bluegreen-test/web:v2", NULL);
	assert_true(d_plan(&from, why_site, PLAN_WAIT_MS, &p));
	seen_release(&p);
	/*
	 * The daemon may print the plan that follows the apply before the
	 * client has returned: look for it from before the apply, by token.
	 */
	from = d_len();
	assert_int_equal(apply_by_client(&r, tok), 0); /* candidate */
	th_run_release(&r);
	if (!d_plan(&from, S("after apply %s", tok), PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after the candidate apply %s", tok);
	}
	seen_release(&p);
	assert_int_equal(apply_by_client(&r, tok), 0); /* switch */
	th_run_release(&r);
	assert_true(e2e_wait_body(&E, E.domain, "v2", 3000));

	size_t mark = d_len();
	int64_t t0 = bg_mono_ms();
	int st = e2e_bg(&E, &r, "rollback", E.site, "--yes", NULL);
	int64_t ms = bg_mono_ms() - t0;
	if (st != 0) {
		print_message("# client out:\n%s\n# client err:\n%s\n", r.out, r.err);
		d_dump();
	}
	assert_int_equal(st, 0);
	th_assert_contains(r.out, "through the watch daemon");
	th_assert_contains(r.out, "switch edge");
	th_run_release(&r);
	char *req = bg_xasprintf("rollback %s requested (control socket: pid", E.site);
	assert_true(d_wait(mark, req, 2000) >= 0);
	free(req);
	print_message("# rollback --yes through the daemon: %" PRId64 " ms\n", ms);
	assert_true(ms < 5000); /* not the 10 s lock wait */
	assert_true(e2e_wait_body(&E, E.domain, "v1", 3000));
}

static void t_kill_live_gives_drift(void **state)
{
	struct seen_plan p;
	struct th_run r;
	char tok[TOKEN_LEN + 1];
	size_t from;

	/* Back to a good image, and let that plan come out first. */
	from = d_len();
	site_write("bluegreen-test/web:v1", "env: {BURST: \"100\"}\n");
	assert_true(d_plan(&from, why_site, PLAN_WAIT_MS, &p));
	seen_release(&p);

	char *blue = colour("blue");
	char *drift = bg_xasprintf("drift: %s stopped outside bluegreen", blue);
	from = d_len();
	int64_t t0 = bg_mono_ms();
	assert_int_equal(th_docker(&r, "kill", blue, NULL), 0);
	th_run_release(&r);
	if (!d_plan(&from, drift, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no drift plan after docker kill");
	}
	print_message("# docker kill -> drift plan printed in %" PRId64 " ms (docker CLI "
			"included)\n", bg_mono_ms() - t0);
	assert_true(d_wait(p.end, "start   container", 2000) >= 0);
	/*
	 * That plan came from the die event alone; the inspect that follows
	 * (the engine answers it once the kill has completed) must find the
	 * same facts: the same token, so no second plan.
	 */
	size_t after = p.end;
	usleep(1500 * 1000);
	size_t more = d_count_plans(after, NULL);
	if (more) {
		d_dump();
		fail_msg("%zu more plan(s) after the drift plan: the inspect did not confirm what "
				"the die event said", more);
	}
	seen_release(&p);
	/* Journaled as drift. */
	char *h = history();
	th_assert_contains(h, "drift");
	free(h);

	/* Repair through the approval file (line 2). */
	int code = apply_by_approve(tok);
	assert_int_equal(code, 0);
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "running");
	free(s);
	assert_true(e2e_wait_body(&E, E.domain, "v1", 5000));
	free(drift);
	free(blue);
}

static void t_edge_hand_edit_is_drift(void **state)
{
	struct seen_plan p;
	/*
	 * Let the re-observation after the last apply finish first: an edit
	 * it catches is reported as part of "after apply", not as drift.
	 */
	usleep(500 * 1000);
	size_t from = d_len();
	char *ep = edge_path();
	char *orig = th_read(ep);
	char *edited = bg_xasprintf("%s# a hand edit\n", orig);
	char *name = bg_xasprintf("bluegreen-%s.conf", E.site);
	char *why = bg_xasprintf("drift: edge file %s changed outside bluegreen", name);

	FILE *f = fopen(ep, "w");
	assert_non_null(f);
	fputs(edited, f);
	fclose(f);
	if (!d_plan(&from, why, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no drift plan after a hand edit of the edge file");
	}
	seen_release(&p);
	/* Put it back: the site is planned normally again (another plan). */
	f = fopen(ep, "w");
	assert_non_null(f);
	fputs(orig, f);
	fclose(f);
	assert_true(d_plan(&from, why, PLAN_WAIT_MS, &p));
	seen_release(&p);
	free(why);
	free(name);
	free(edited);
	free(orig);
	free(ep);
}

/* The token `bluegreen plan` prints now (one-shot), into tok; false if none. */
static bool oneshot_token(char tok[TOKEN_LEN + 1])
{
	struct th_run r;
	e2e_bg(&E, &r, "plan", NULL);
	char *t = th_plan_token(r.out);
	bool ok = t && strlen(t) == TOKEN_LEN;
	if (ok) {
		memcpy(tok, t, TOKEN_LEN + 1);
	}
	free(t);
	th_run_release(&r);
	return ok;
}

/*
 * Is the daemon's newest plan the plan of the files as they are now? (As
 * in t_burst_of_edits: another test's containers may move the world in
 * between, so up to three looks.)
 */
static bool newest_is_current(void)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		struct seen_plan p;
		char tok[TOKEN_LEN + 1];
		if (d_last_plan(&p) && oneshot_token(tok) && strcmp(tok, p.token) == 0) {
			return true;
		}
		usleep(500 * 1000);
	}
	return false;
}

/*
 * SIGHUP reloads now. A daemon whose debounce holds file events for a
 * minute cannot have reloaded the edit by itself: the plan that follows
 * the signal is the signal's, and says so.
 */
static void t_sighup_reloads(void **state)
{
	struct seen_plan p;
	size_t from = 0;

	assert_int_equal(d_stop(), 0);
	const char *slow[] = {"--debounce", "60000", NULL};
	d_start_args(slow);
	if (!d_plan(&from, "daemon started", PLAN_WAIT_MS * 2, &p)) {
		d_dump();
		fail_msg("no first plan");
	}
	char before[TOKEN_LEN + 1];
	memcpy(before, p.token, sizeof(before));
	site_write("bluegreen-test/web:v1", "env: {BURST: \"100\", HUP: \"1\"}\n");
	usleep(1500 * 1000);
	/* Held by the debounce: no reload, no plan of the edit yet. */
	assert_int_equal(d_count_plans(from, "config"), 0);
	size_t mark = d_len();
	assert_int_equal(kill(D.pid, SIGHUP), 0);
	if (d_wait(mark, "watch: SIGHUP: reloading the configuration", PLAN_WAIT_MS) < 0 ||
			!d_plan(&from, "configuration reloaded (SIGHUP)", PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after SIGHUP");
	}
	print_message("# SIGHUP -> plan %s (why: %s)\n", p.token, p.why);
	assert_string_not_equal(p.token, before);
	/* The plan of the edited file, which the one-shot plan agrees with. */
	assert_true(newest_is_current());
	/* The normal daemon back for what follows. */
	assert_int_equal(d_stop(), 0);
	d_start();
	from = 0;
	if (!d_plan(&from, "daemon started", PLAN_WAIT_MS * 2, &p)) {
		d_dump();
		fail_msg("no first plan after the restart");
	}
}

/*
 * A plan is printed when its token changes, and only then: the same bytes
 * written again, a touch, a comment-only edit reload the configuration and
 * print nothing. Then a real edit prints exactly one plan: the daemon was
 * listening all along.
 */
static void t_only_when_token_changes(void **state)
{
	struct seen_plan p;
	usleep(500 * 1000); /* anything pending is out first */
	size_t from = d_len();
	const char *path = S("%s/%s", E.dir, site_rel);
	char *body0 = th_read(path);
	const char *body = S("%s", body0);
	free(body0);

	th_write(E.dir, site_rel, body); /* the same bytes, written again */
	usleep(800 * 1000);
	assert_int_equal(utimensat(AT_FDCWD, path, NULL, 0), 0); /* touch */
	usleep(800 * 1000);
	th_write(E.dir, site_rel, S("# a comment only\n%s# and another\n", body));
	usleep(1500 * 1000);
	size_t n = d_count_plans(from, "config changed");
	if (n != 0) {
		d_dump();
		fail_msg("%zu plan(s) printed for edits that change no token", n);
	}
	/* A real edit: one plan, the plan of the files. */
	site_write("bluegreen-test/web:v1", "env: {BURST: \"100\", HUP: \"2\"}\n");
	if (!d_plan(&from, why_site, PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after a real edit");
	}
	usleep(1000 * 1000);
	assert_int_equal(d_count_plans(p.end, "config changed"), 0);
	assert_true(newest_is_current());
}

/*
 * A `git pull`: global.conf and several site files (one changed, two new)
 * land within milliseconds, by rename as git does: one batch, one plan,
 * naming them. Then the new sites go again (one more plan).
 */
static void t_git_pull_burst(void **state)
{
	struct seen_plan p;
	usleep(500 * 1000);
	size_t from = d_len();
	const char *stage = S("%s-pull", E.dir);
	const char *x1 = S("%s-pull1", E.site), *x2 = S("%s-pull2", E.site);
	const char *r1 = S("sites/%s.conf", x1), *r2 = S("sites/%s.conf", x2);
	char *g0 = th_read(S("%s/global.conf", E.dir));
	th_write(stage, "global.conf", S("%s# pulled\n", g0));
	free(g0);
	th_write(stage, r1, S("site: %s\ndomains: [%s.localhost]\nimage: bluegreen-test/web:v1\n"
			"port: 8080\n", x1, x1));
	th_write(stage, r2, S("site: %s\ndomains: [%s.localhost]\nimage: bluegreen-test/web:v1\n"
			"port: 8080\n", x2, x2));
	/* Our site, changed: e2e_site writes under E.dir, so point it at the stage. */
	char *dir = E.dir;
	E.dir = (char *)stage;
	e2e_site(&E, "bluegreen-test/web:v1", "env: {BURST: \"100\", HUP: \"2\", PULL: \"1\"}\n");
	E.dir = dir;
	const char *moves[][2] = {{"global.conf", "global.conf"}, {r1, r1}, {r2, r2},
			{site_rel, site_rel}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(moves); i++) {
		assert_int_equal(rename(S("%s/%s", stage, moves[i][0]),
				S("%s/%s", E.dir, moves[i][1])), 0);
	}
	if (!d_plan(&from, "config changed", PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after a pull");
	}
	usleep(1500 * 1000);
	size_t more = d_count_plans(from, "config changed");
	print_message("# pull of 4 files: %zu plan(s) after the first (why: %s)\n", more, p.why);
	assert_int_equal(more, 0);
	/* Four files, one batch: three named, "and 1 more". */
	th_assert_contains(p.why, "and 1 more");
	assert_true(d_wait(p.end, S("%s (%s)", x1, r1), 2000) >= 0);
	assert_true(d_wait(p.end, S("%s (%s)", x2, r2), 2000) >= 0);
	assert_true(newest_is_current());

	/* The pulled sites go again, never applied. */
	from = d_len();
	assert_int_equal(unlink(S("%s/%s", E.dir, r1)), 0);
	assert_int_equal(unlink(S("%s/%s", E.dir, r2)), 0);
	e2e_global(&E, NULL);
	if (!d_plan(&from, "config changed", PLAN_WAIT_MS, &p)) {
		d_dump();
		fail_msg("no plan after removing the pulled sites");
	}
	usleep(300 * 1000);
	char *t = d_text();
	char *next = strstr(t + p.end, "\n=== ");
	if (next) {
		*next = '\0';
	}
	bool gone = !strstr(t + p.end, S("%s (%s)", x1, r1));
	free(t);
	assert_true(gone);
	th_rm_rf(stage);
}

/*
 * install_mode removed while the daemon runs: `bluegreen apply TOKEN`
 * exits 4, and a token approved through the approval file is refused by
 * the daemon itself with the same exit code; nothing runs. Then it comes
 * back and the daemon carries on.
 */
static void t_install_mode_removed_exit_4(void **state)
{
	struct seen_plan p;
	struct th_run r;
	assert_true(d_last_plan(&p));
	size_t mark = d_len();
	free(E.mode);
	E.mode = NULL;
	e2e_global(&E, NULL);
	if (d_wait(mark, "configuration reload failed", PLAN_WAIT_MS) < 0) {
		d_dump();
		fail_msg("the daemon did not report the configuration without install_mode");
	}
	int st = e2e_bg(&E, &r, "apply", p.token, NULL);
	if (st != 4) {
		print_message("# client out:\n%s\n# client err:\n%s\n", r.out, r.err);
	}
	assert_int_equal(st, 4);
	th_assert_contains(r.err, "install_mode is not set");
	th_run_release(&r);
	/* The approval file goes to the daemon: it refuses, exit 4, names why. */
	mark = d_len();
	approve_add(p.token);
	long at = d_wait(mark, S("apply %s not started (approve file line", p.token), APPLY_WAIT_MS);
	if (at < 0) {
		d_dump();
		fail_msg("the daemon did not refuse the approved token");
	}
	assert_true(d_wait((size_t)at, "\n", 2000) >= 0);
	char *t = d_text();
	char *line = t + at;
	line[strcspn(line, "\n")] = '\0';
	bool exit4 = strstr(line, ": exit 4: ") && strstr(line, "install_mode is not set");
	if (!exit4) {
		print_message("# daemon: %s\n", line);
	}
	free(t);
	assert_true(exit4);
	/* Nothing ran: no apply of that token in the history. */
	char *h = history();
	bool applied = strstr(h, S("applied %s", p.token)) != NULL;
	free(h);
	assert_false(applied);
	/* Back: the daemon loads it again, no error. */
	E.mode = bg_xstrdup("development");
	mark = d_len();
	e2e_global(&E, NULL);
	usleep(1000 * 1000);
	t = d_text();
	bool failed = strstr(t + mark, "configuration reload failed") != NULL;
	free(t);
	assert_false(failed);
	assert_true(newest_is_current());
}

static void t_restart_never_reapplies(void **state)
{
	struct th_run r;
	char *h0 = history();
	size_t applies0 = th_count(h0, " apply-end ");
	char *apath = bg_xasprintf("%s/approve", E.dir);
	char *adata = th_read(apath);
	size_t old_lines = th_count(adata, "\n");
	assert_true(old_lines >= 2);

	assert_int_equal(d_stop(), 0);
	/* While it is down: a new approval, from the plan a one-shot prints now. */
	e2e_bg(&E, &r, "plan", NULL);
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	assert_non_null(tok);
	approve_add(tok);

	d_start();
	char *want = bg_xasprintf("apply %s requested (approve file line %zu)", tok,
			old_lines + 1);
	if (d_wait(0, want, PLAN_WAIT_MS * 2) < 0) {
		d_dump();
		fail_msg("the approval added while stopped was not picked up");
	}
	char *note = bg_xasprintf("watch: apply %s (approve file line", tok);
	long at = d_wait(0, note, APPLY_WAIT_MS);
	assert_true(at >= 0);
	assert_true(d_wait((size_t)at, "\n", 2000) >= 0);
	usleep(500 * 1000);
	char *t = d_text();
	bool ok = strstr(t + at, ": exit 0:") != NULL;
	if (!ok) {
		/* Only acceptable reason: another test's containers changed the world. */
		th_assert_contains(t + at, "is stale");
		print_message("# the approval went stale before the daemon applied it\n");
	}
	/* Every older line was acted on before: never again. */
	for (size_t k = 1; k <= old_lines; k++) {
		char *line = bg_xasprintf("(approve file line %zu)", k);
		th_assert_not_contains(t, line);
		free(line);
	}
	free(t);
	char *h1 = history();
	assert_int_equal(th_count(h1, " apply-end "), applies0 + (ok ? 1 : 0));
	free(h1);
	free(h0);
	free(note);
	free(want);
	free(tok);
	free(adata);
	free(apath);
}

static void t_sigterm_during_apply(void **state)
{
	struct seen_plan p;
	size_t from = d_len();

	site_write("bluegreen-test/web:bad", "env: {BURST: \"101\"}\n");
	assert_true(d_plan(&from, why_site, PLAN_WAIT_MS, &p));
	/* A client waits for this apply (its health gate can only fail, slowly). */
	char *cout = bg_xasprintf("%s-client.out", E.dir);
	char *argv[] = {(char *)bin(), "-c", E.dir, "apply", p.token, NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	pid_t client = th_spawn_bg(argv, env, cout);
	if (d_wait(from, "health container", 20000) < 0) {
		d_dump();
		fail_msg("the apply never reached its health gate");
	}
	usleep(300 * 1000);
	int64_t t0 = bg_mono_ms();
	kill(D.pid, SIGTERM);
	int st = d_wait_exit(15000);
	int64_t stop_ms = bg_mono_ms() - t0;
	print_message("# SIGTERM during a health gate: daemon exited %d after %" PRId64 " ms\n",
			st, stop_ms);
	assert_int_equal(st, 0);
	/* The gate would have taken 25 x 200 ms and more: it stopped at a safe point. */
	assert_true(stop_ms < 4500);
	int cst = th_wait(client);
	char *co = th_read(cout);
	if (cst != 5) {
		print_message("# client:\n%s\n", co);
	}
	assert_int_equal(cst, 5);
	th_assert_contains(co, "cancelled");
	free(co);
	char *t = d_text();
	th_assert_contains(t, "stops at its next safe point");
	th_assert_contains(t, "watch: stopped");
	free(t);
	/* Nothing is left interrupted: the apply ended and was journaled. */
	char *h = history();
	th_assert_contains(h, "cancelled");
	free(h);
	/* Good image back, daemon back, for what follows. */
	site_write("bluegreen-test/web:v1", "env: {BURST: \"101\"}\n");
	d_start();
	from = 0;
	struct seen_plan q;
	assert_true(d_plan(&from, "daemon started", PLAN_WAIT_MS * 2, &q));
	seen_release(&q);
	unlink(cout);
	free(cout);
	seen_release(&p);
}

/* ---- dockerd, really restarted ---- */

struct proc_snap {
	pid_t pid;
	struct bg_strv argv, env;
	char *cwd, *log;
};
static struct proc_snap dockerd;
static bool dockerd_killed;

static pid_t find_proc(const char *comm)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	while (d && (de = readdir(d)) && !found) {
		char path[300];
		char *c = NULL;
		if (de->d_name[0] < '0' || de->d_name[0] > '9') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if (bg_file_read(path, 4096, &c, NULL) == 0) {
			c[strcspn(c, "\n")] = '\0';
			if (strcmp(c, comm) == 0) {
				found = (pid_t)atol(de->d_name);
			}
		}
		free(c);
	}
	if (d) {
		closedir(d);
	}
	return found;
}

static void split_nul(const char *path, struct bg_strv *out)
{
	char *data = NULL;
	size_t len = 0;
	bg_strv_init(out);
	if (bg_file_read(path, 1u << 20, &data, &len) != 0) {
		return;
	}
	for (size_t i = 0; i < len; i += strlen(data + i) + 1) {
		bg_strv_push(out, data + i);
	}
	free(data);
}

static char *readlink_str(const char *path)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0) {
		return NULL;
	}
	buf[n] = '\0';
	return bg_xstrdup(buf);
}

static bool snap_dockerd(struct proc_snap *s)
{
	char path[64];
	memset(s, 0, sizeof(*s));
	s->pid = find_proc("dockerd");
	if (!s->pid) {
		return false;
	}
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)s->pid);
	split_nul(path, &s->argv);
	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)s->pid);
	split_nul(path, &s->env);
	snprintf(path, sizeof(path), "/proc/%ld/cwd", (long)s->pid);
	s->cwd = readlink_str(path);
	snprintf(path, sizeof(path), "/proc/%ld/fd/1", (long)s->pid);
	s->log = readlink_str(path);
	return s->argv.n > 0;
}

static bool docker_answers(void)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "2", "--unix-socket",
			(char *)th_docker_sock(), "http://localhost/_ping", NULL};
	th_run_argv(argv, NULL, &r);
	bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
	th_run_release(&r);
	return up;
}

/* Start dockerd exactly as it was: argv, environment, directory, log; own session. */
static void dockerd_start(const struct proc_snap *s)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	const char *log = s->log && s->log[0] == '/' ? s->log : "/tmp/dockerd.log";

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (s->cwd) {
		posix_spawn_file_actions_addchdir_np(&fa, s->cwd);
	}
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	int rc = posix_spawnp(&pid, s->argv.v[0], &fa, &at, s->argv.v, s->env.v);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		print_message("# cannot start dockerd: %s\n", strerror(rc));
		return;
	}
	for (int i = 0; i < 600 && !docker_answers(); i++) {
		usleep(100 * 1000);
	}
}

static void dockerd_restore(void)
{
	if (dockerd_killed && !docker_answers()) {
		print_message("# restoring dockerd\n");
		dockerd_start(&dockerd);
	}
	dockerd_killed = false;
}

static void t_dockerd_restart(void **state)
{
	struct seen_plan p;

	assert_true(snap_dockerd(&dockerd));
	/* Let the daemon settle: anything pending is planned before the restart. */
	usleep(500 * 1000);
	size_t from = d_len();
	dockerd_killed = true;
	assert_int_equal(kill(dockerd.pid, SIGTERM), 0);
	for (int i = 0; i < 600 && kill(dockerd.pid, 0) == 0; i++) {
		usleep(100 * 1000);
	}
	assert_true(kill(dockerd.pid, 0) != 0);
	if (d_wait(from, "docker disconnected", 10000) < 0) {
		d_dump();
		fail_msg("the daemon did not notice dockerd going away");
	}
	/* Down: never spin (backoff), never exit, and no plan without the engine. */
	size_t down = d_len();
	site_write("bluegreen-test/web:v1", "env: {BURST: \"102\"}\n");
	int64_t cpu0 = d_cpu_ticks();
	usleep(3000 * 1000);
	int64_t cpu = d_cpu_ticks() - cpu0;
	print_message("# CPU while dockerd was down for 3 s: %" PRId64 " ticks\n", cpu);
	assert_true(cpu < 30);
	assert_int_equal(kill(D.pid, 0), 0);
	assert_int_equal(d_count_plans(down, NULL), 0);

	dockerd_start(&dockerd);
	assert_true(docker_answers());
	dockerd_killed = false;
	if (d_wait(down, "docker connected", 30000) < 0) {
		d_dump();
		fail_msg("no reconnection");
	}
	assert_true(d_wait(down, "re-listed after the reconnection", 30000) >= 0);
	/* The edit made while the engine was away is planned now, and says so. */
	if (!d_plan(&down, "docker reconnected", 30000, &p)) {
		d_dump();
		fail_msg("no plan after the reconnection");
	}
	th_assert_contains(p.why, why_site);
	seen_release(&p);
}

static void t_sigterm_exits_0(void **state)
{
	assert_int_equal(d_stop(), 0);
	char *t = d_text();
	th_assert_contains(t, "watch: SIGTERM: stopping");
	th_assert_contains(t, "watch: stopped");
	free(t);
	char *sock = bg_xasprintf("%s/state/control.sock", E.dir);
	assert_int_equal(access(sock, F_OK), -1);
	free(sock);
}

static int group_setup(void **state)
{
	bg_strv_init(&scratch);
	e2e_init(&E, "watch", "nginx", "development");
	site_rel = bg_xasprintf("sites/%s.conf", E.site);
	why_site = bg_xasprintf("config changed: %s", site_rel);
	site_write("bluegreen-test/web:v1", NULL);
	return 0;
}

static int group_teardown(void **state)
{
	dockerd_restore();
	if (D.pid > 0) {
		d_stop();
	}
	for (unsigned i = 1; i <= n_starts; i++) {
		char *l = bg_xasprintf("%s-watch-%u.out", E.dir, i);
		unlink(l);
		free(l);
	}
	if (E.dir) {
		char *extra = bg_xasprintf("%s-extra", E.site);
		th_docker_cleanup_site(extra);
		free(extra);
	}
	e2e_release(&E);
	free(site_rel);
	free(why_site);
	bg_strv_release(&scratch);
	free(D.log);
	free(first_token);
	free(stale_token);
	bg_strv_release(&dockerd.argv);
	bg_strv_release(&dockerd.env);
	free(dockerd.cwd);
	free(dockerd.log);
	return 0;
}

int main(void)
{
	/*
	 * Local iteration only (cmocka globs: BG_WATCH_TESTS='t_edit*',
	 * BG_WATCH_SKIP='t_dockerd*'); CI sets neither and runs them all.
	 */
	const char *only = getenv("BG_WATCH_TESTS");
	const char *skip = getenv("BG_WATCH_SKIP");
	/* A filter would drop tests silently: never in CI. */
	if (th_ci() && ((only && *only) || (skip && *skip))) {
		printf("Bail out! BG_WATCH_TESTS/BG_WATCH_SKIP set under CI=true (%s%s%s): every "
				"test must run\n", only && *only ? "BG_WATCH_TESTS=" : "",
				only && *only ? only : "", skip && *skip ? " BG_WATCH_SKIP=set" : "");
		return 1;
	}
	if (only && *only) {
		cmocka_set_test_filter(only);
	}
	if (skip && *skip) {
		cmocka_set_skip_filter(skip);
	}
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(t_first_deploy_by_approve, t_teardown),
		cmocka_unit_test_teardown(t_second_converger_refused, t_teardown),
		cmocka_unit_test_teardown(t_edit_replans, t_teardown),
		cmocka_unit_test_teardown(t_new_and_removed_site, t_teardown),
		cmocka_unit_test_teardown(t_bad_config_keeps_last_good, t_teardown),
		cmocka_unit_test_teardown(t_burst_of_edits, t_teardown),
		cmocka_unit_test_teardown(t_handoff_stale_and_ok, t_teardown),
		cmocka_unit_test_teardown(t_handoff_health_gate_fails, t_teardown),
		cmocka_unit_test_teardown(t_rollback_handoff, t_teardown),
		cmocka_unit_test_teardown(t_kill_live_gives_drift, t_teardown),
		cmocka_unit_test_teardown(t_edge_hand_edit_is_drift, t_teardown),
		cmocka_unit_test_teardown(t_sighup_reloads, t_teardown),
		cmocka_unit_test_teardown(t_only_when_token_changes, t_teardown),
		cmocka_unit_test_teardown(t_git_pull_burst, t_teardown),
		cmocka_unit_test_teardown(t_restart_never_reapplies, t_teardown),
		cmocka_unit_test_teardown(t_install_mode_removed_exit_4, t_teardown),
		cmocka_unit_test_teardown(t_sigterm_during_apply, t_teardown),
		/* Last: it stops the engine every docker test needs. */
		cmocka_unit_test_teardown(t_dockerd_restart, t_teardown),
		cmocka_unit_test_teardown(t_sigterm_exits_0, t_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
