/*
 * t-cli: the command line as an operator meets it, against a real engine
 * and nginx: `history --limit N` and `history --json` (every line a JSON
 * object with seq, time, actor, action, site, token, result, details),
 * `log -f` showing an apply while it happens and ending with exit 0 on
 * SIGINT, colour only on a terminal and never with NO_COLOR, and the
 * engine's "permission denied" reaching the user with the socket named
 * when `bluegreen plan` runs as a user the socket refuses (nobody, through
 * runuser, with a configuration directory it can read).
 *
 * Needs: dockerd, nginx, curl, util-linux (script, runuser); images from
 * test/images/build.sh.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <json-c/json.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void test_history_limit_and_json(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "chist", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	e2e_site(&e, "bluegreen-test/web:v2", NULL);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);

	assert_int_equal(e2e_bg(&e, &r, "history", NULL), 0);
	char *all = bg_xstrdup(r.out);
	size_t n_all = th_count(all, "\n");
	th_run_release(&r);
	assert_true(n_all > 5);
	/* --limit N: the newest N, newest last: the tail of the whole journal. */
	assert_int_equal(e2e_bg(&e, &r, "history", "--limit", "3", NULL), 0);
	assert_int_equal(th_count(r.out, "\n"), 3);
	assert_true(bg_str_has_suffix(all, r.out));
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "history", "--limit", "0", NULL), 1);
	th_run_release(&r);

	/* --json: one object per line, every field, seq increasing. */
	assert_int_equal(e2e_bg(&e, &r, "--json", "history", NULL), 0);
	assert_int_equal(th_count(r.out, "\n"), n_all);
	static const char *const keys[] = {"seq", "time", "actor", "action", "site", "token",
			"result", "details"};
	char *save = NULL;
	int64_t last = -1;
	size_t n = 0, with_site = 0;
	for (char *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *j = json_tokener_parse(l);
		if (!j || !json_object_is_type(j, json_type_object)) {
			fail_msg("history --json line %zu is not a JSON object: %s", n + 1, l);
		}
		for (size_t k = 0; k < BG_ARRAY_SIZE(keys); k++) {
			struct json_object *v = NULL;
			if (!json_object_object_get_ex(j, keys[k], &v)) {
				fail_msg("history --json line %zu has no \"%s\": %s", n + 1, keys[k], l);
			}
		}
		assert_true(json_object_is_type(jget(j, "seq"), json_type_int));
		int64_t seq = json_object_get_int64(jget(j, "seq"));
		assert_true(seq > last);
		last = seq;
		const char *t = json_object_get_string(jget(j, "time"));
		assert_non_null(t);
		/* UTC, milliseconds: 2026-11-23T17:22:42.971Z */
		assert_int_equal(strlen(t), 24);
		assert_true(t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
		assert_true(json_object_is_type(jget(j, "actor"), json_type_string));
		assert_non_null(strchr(json_object_get_string(jget(j, "actor")), '@'));
		assert_true(json_object_is_type(jget(j, "action"), json_type_string));
		if (json_object_is_type(jget(j, "site"), json_type_string)) {
			with_site++;
		}
		json_object_put(j);
		n++;
	}
	assert_int_equal(n, n_all);
	assert_true(with_site > 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "--json", "history", "--limit", "2", NULL), 0);
	assert_int_equal(th_count(r.out, "\n"), 2);
	th_run_release(&r);
	/* history SITE: that site's entries only. */
	assert_int_equal(e2e_bg(&e, &r, "--json", "history", e.site, NULL), 0);
	assert_true(th_count(r.out, "\n") >= 2);
	save = NULL;
	for (char *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *j = json_tokener_parse(l);
		assert_non_null(j);
		const char *s = json_object_get_string(jget(j, "site"));
		if (!s || strcmp(s, e.site) != 0) {
			fail_msg("history %s printed another site's entry: %s", e.site, l);
		}
		json_object_put(j);
	}
	th_run_release(&r);
	free(all);
	e2e_release(&e);
}

/*
 * `log -f` started before an apply shows its lines as they are written:
 * the health gate's line is there while the apply still runs (a gate on
 * an image that never becomes healthy keeps it running for seconds).
 */
static void test_log_follow(void **state)
{
	struct e2e e;
	int st;
	e2e_init(&e, "clog", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:bad",
			"health: {path: /healthz, interval: 250ms, retries: 16}\n");
	char *fout = bg_xasprintf("%s-follow.out", e.dir);
	char *aout = bg_xasprintf("%s-apply.out", e.dir);
	char *fargv[] = {getenv("BG_BINARY"), "-c", e.dir, "log", "-f", NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	pid_t follow = th_spawn_bg(fargv, env, fout);
	usleep(500 * 1000);
	assert_true(th_running(follow, NULL));

	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	char *aargv[] = {getenv("BG_BINARY"), "-c", e.dir, "apply", tok, NULL};
	pid_t apply = th_spawn_bg(aargv, env, aout);
	char *started = bg_xasprintf("apply %s started", tok);
	bool seen_started = false, seen_health = false;
	int64_t t0 = bg_mono_ms();
	while (bg_mono_ms() - t0 < 30000 && th_running(apply, &st)) {
		char *f = NULL;
		if (bg_file_read(fout, 1 << 20, &f, NULL) == 0) {
			seen_started |= strstr(f, started) != NULL;
			seen_health |= strstr(f, "health container") != NULL;
			free(f);
		}
		if (seen_started && seen_health) {
			break;
		}
		usleep(50 * 1000);
	}
	/* Both lines arrived while the apply was still at work. */
	bool live = th_running(apply, NULL);
	if (!(seen_started && seen_health && live)) {
		char *f = th_read(fout);
		th_print_error("log -f output:\n%s\n", f);
		free(f);
	}
	assert_true(seen_started);
	assert_true(seen_health);
	assert_true(live);
	assert_int_equal(th_wait(apply), 5);
	/* Its end arrives too. */
	bool seen_end = false;
	char *failed = bg_xasprintf("apply %s failed", tok);
	for (int i = 0; i < 100 && !seen_end; i++) {
		char *f = th_read(fout);
		seen_end = strstr(f, failed) != NULL;
		free(f);
		usleep(50 * 1000);
	}
	if (!seen_end) {
		char *f = th_read(fout);
		th_print_error("log -f output:\n%s\n", f);
		free(f);
	}
	assert_true(seen_end);
	assert_true(th_running(follow, NULL));
	assert_int_equal(kill(follow, SIGINT), 0);
	assert_int_equal(th_wait(follow), 0);
	unlink(fout);
	unlink(aout);
	free(failed);
	free(started);
	free(tok);
	free(aout);
	free(fout);
	e2e_release(&e);
}

/* Colour on a terminal only; NO_COLOR (any non-empty value) turns it off. */
static void test_colour_only_on_a_terminal(void **state)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "ccolour", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	char *argv[] = {getenv("BG_BINARY"), "-c", e.dir, "plan", NULL};
	char *colour[] = {"NO_COLOR=", "BLUEGREEN_CONFIG=", "TERM=xterm", NULL};
	char *nocolour[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", "TERM=xterm", NULL};

	assert_int_equal(th_run_pty(argv, colour, &r), 2);
	th_assert_contains(r.out, "bluegreen apply ");
	th_assert_contains(r.out, "\033[");
	th_run_release(&r);
	assert_int_equal(th_run_pty(argv, nocolour, &r), 2);
	th_assert_contains(r.out, "bluegreen apply ");
	th_assert_not_contains(r.out, "\033[");
	th_run_release(&r);
	/* Through a pipe, NO_COLOR unset: none either. */
	assert_int_equal(th_run_argv(argv, colour, &r), 2);
	th_assert_contains(r.out, "bluegreen apply ");
	th_assert_not_contains(r.out, "\033[");
	th_assert_not_contains(r.err, "\033[");
	th_run_release(&r);
	e2e_release(&e);
}

/*
 * `bluegreen plan` as a user the engine's socket refuses: exit 1, and the
 * message says "permission denied" and names the socket. As root the user
 * is nobody (runuser), against the real socket when it refuses others,
 * and always against a 0600 socket of ours; otherwise ourselves against a
 * socket of ours with mode 0 (which refuses its owner).
 */
static void plan_refused(struct e2e *e, const char *sock, bool as_nobody)
{
	struct th_run r;
	char *extra = bg_xasprintf("docker: {socket: %s}\n", sock);
	e2e_global(e, extra);
	free(extra);
	char *bin = getenv("BG_BINARY");
	if (as_nobody) {
		char *argv[] = {"runuser", "-u", "nobody", "--", "env", "NO_COLOR=1", bin, "-c",
				e->dir, "plan", NULL};
		th_run_argv(argv, NULL, &r);
	} else {
		char *argv[] = {bin, "-c", e->dir, "plan", NULL};
		th_run_argv(argv, NULL, &r);
	}
	if (r.status != 1) {
		th_print_error("plan as %s against %s exited %d:\n%s%s\n", as_nobody ? "nobody" : "us",
				sock, r.status, r.out, r.err);
	}
	assert_int_equal(r.status, 1);
	char *want = bg_xasprintf("permission denied on %s", sock);
	th_assert_contains(r.err, want);
	free(want);
	th_run_release(&r);
}

static void test_permission_denied_names_the_socket(void **state)
{
	struct e2e e;
	e2e_init(&e, "cperm", "traefik", "development");
	e2e_site(&e, "bluegreen-test/web:v1", NULL);
	bool root = geteuid() == 0;
	/* nobody must read the configuration (and reach the binary). */
	if (root) {
		assert_int_equal(chmod(e.dir, 0755), 0);
		assert_true(getpwnam("nobody") != NULL);
		struct th_run r;
		char *argv[] = {"chmod", "-R", "a+rX", e.dir, NULL};
		assert_int_equal(th_run_argv(argv, NULL, &r), 0);
		th_run_release(&r);
		char *bargv[] = {"runuser", "-u", "nobody", "--", getenv("BG_BINARY"), "--version",
				NULL};
		th_run_argv(bargv, NULL, &r);
		if (r.status != 0) {
			fail_msg("nobody cannot run %s (%d): %s%s", getenv("BG_BINARY"), r.status,
					r.out, r.err);
		}
		th_run_release(&r);
	}
	char *sock = bg_xasprintf("%s/sock/docker.sock", e.dir);
	char *sdir = bg_xasprintf("%s/sock", e.dir);
	assert_int_equal(bg_mkdir_p(sdir, 0755), 0);
	int fd = th_unix_socket_at(sock, true);
	assert_int_equal(chmod(sock, root ? 0600 : 0), 0);
	plan_refused(&e, sock, root);
	close(fd);
	struct stat st;
	if (root && stat(th_docker_sock(), &st) == 0 && !(st.st_mode & S_IWOTH)) {
		plan_refused(&e, th_docker_sock(), true);
	} else {
		print_message("# %s accepts anyone (or we are not root): only our own socket\n",
				th_docker_sock());
	}
	free(sdir);
	free(sock);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_history_limit_and_json, e2e_teardown),
		cmocka_unit_test_teardown(test_log_follow, e2e_teardown),
		cmocka_unit_test_teardown(test_colour_only_on_a_terminal, e2e_teardown),
		cmocka_unit_test_teardown(test_permission_denied_names_the_socket, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
