/*
 * t-loop: the pure part of the daemon, the approval file's grammar
 * (docs/watch.md): one `TOKEN [--confirm TEXT]...` per line, comments and
 * blank lines skipped, quoting, and a located error for each bad line
 * while the good lines still count, never quoting it; what approve.seen
 * keeps of an approval. The daemon, run without an engine, with a FIFO or
 * a link as its approve file (refused; it keeps answering). The daemon
 * itself is tested end to end in test/docker/t-watch.c.
 */
#include "bg.h"
#include "approve.h"
#include "th.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOK_A "0123456789abcdef"
#define TOK_B "fedcba9876543210"

static void t_good_lines(void **state)
{
	const char *f =
		"# approvals for prod\n"
		"\n"
		TOK_A "\n"
		"  " TOK_B " --confirm \"DEPLOY SHOP PROD\" --confirm=blog   # alice, v1.4.2\r\n"
		TOK_A " --confirm \"say \\\"hi\\\" \\\\ now\"\n"
		TOK_B " --confirm=\"two words\"";  /* no final newline */
	struct approve_list a;
	struct bg_diag d;
	approve_list_init(&a);
	bg_diag_init(&d);
	assert_int_equal(approve_parse("approve", f, strlen(f), &a, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(a.n, 4);
	assert_string_equal(a.v[0].token, TOK_A);
	assert_int_equal(a.v[0].line, 3);
	assert_int_equal(a.v[0].confirms.n, 0);
	assert_string_equal(a.v[1].token, TOK_B);
	assert_int_equal(a.v[1].line, 4);
	assert_int_equal(a.v[1].confirms.n, 2);
	assert_string_equal(a.v[1].confirms.v[0], "DEPLOY SHOP PROD");
	assert_string_equal(a.v[1].confirms.v[1], "blog");
	assert_string_equal(a.v[2].confirms.v[0], "say \"hi\" \\ now");
	assert_string_equal(a.v[3].confirms.v[0], "two words");
	assert_int_equal(a.v[3].line, 6);
	approve_list_release(&a);
	bg_diag_release(&d);
}

static void t_bad_lines_are_located(void **state)
{
	const char *f =
		"not-a-token\n"
		TOK_A "\n"
		"0123456789ABCDEF\n"
		TOK_B " --confirm\n"
		TOK_B " --yes\n"
		TOK_B " --confirm \"unterminated\n"
		TOK_B "\n";
	struct approve_list a;
	struct bg_diag d;
	char buf[512];
	approve_list_init(&a);
	bg_diag_init(&d);
	assert_int_equal(approve_parse("approve", f, strlen(f), &a, &d), 5);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.v[0].line, 2);
	assert_int_equal(a.v[1].line, 7);
	assert_int_equal(d.n, 5);
	bg_diag_item_format(&d.items[0], buf, sizeof(buf));
	assert_string_equal(buf, "approve:1:1: error: not a plan token (16 lowercase hex "
			"characters, as printed by `bluegreen plan`)");
	bg_diag_item_format(&d.items[1], buf, sizeof(buf));
	th_assert_contains(buf, "approve:3:1: error:"); /* upper case is not a token */
	bg_diag_item_format(&d.items[2], buf, sizeof(buf));
	th_assert_contains(buf, "approve:4:18: error: --confirm needs the phrase");
	bg_diag_item_format(&d.items[3], buf, sizeof(buf));
	th_assert_contains(buf, "approve:5:18: error: unexpected word");
	bg_diag_item_format(&d.items[4], buf, sizeof(buf));
	th_assert_contains(buf, "approve:6:");
	th_assert_contains(buf, "unterminated quote");
	approve_list_release(&a);
	bg_diag_release(&d);
}

static void t_empty_and_binary(void **state)
{
	struct approve_list a;
	struct bg_diag d;
	approve_list_init(&a);
	bg_diag_init(&d);
	assert_int_equal(approve_parse("approve", "", 0, &a, &d), 0);
	assert_int_equal(a.n, 0);
	/* A NUL ends its line's text; nothing crashes, the next line still counts. */
	const char f[] = TOK_A "\0junk\n" TOK_B "\n";
	assert_int_equal(approve_parse("approve", f, sizeof(f) - 1, &a, &d), 0);
	assert_int_equal(a.n, 2);
	approve_list_release(&a);
	bg_diag_release(&d);
}

/*
 * No error quotes the file: a line may be anything (the approve file was
 * once a link to a root-only file, and its first line ended up in the
 * journal). Messages carry line:col and a description only.
 */
static void t_errors_never_quote_the_line(void **state)
{
	const char *f =
		"root:$6$s3cr3tHASH:19000:0:99999:7:::\n"
		TOK_A " s3cr3t-word\n"
		TOK_A " --confirm=x s3cr3t-after\n"
		"\"s3cr3t unterminated\n"
		TOK_A " --confirm \"s3cr3t unterminated\n";
	struct approve_list a;
	struct bg_diag d;
	char buf[512];
	approve_list_init(&a);
	bg_diag_init(&d);
	assert_int_equal(approve_parse("approve", f, strlen(f), &a, &d), 5);
	assert_int_equal(d.n, 5);
	for (size_t i = 0; i < d.n; i++) {
		bg_diag_item_format(&d.items[i], buf, sizeof(buf));
		th_assert_not_contains(buf, "s3cr3t");
		th_assert_not_contains(buf, "root");
		th_assert_contains(buf, "approve:");
	}
	bg_diag_item_format(&d.items[1], buf, sizeof(buf));
	assert_string_equal(buf, "approve:2:18: error: unexpected word (an approval is: TOKEN "
			"[--confirm TEXT]...)");
	approve_list_release(&a);
	bg_diag_release(&d);
}

/*
 * What approve.seen keeps of an approval: the same token and phrases
 * (in any order) are seen, whatever line they are on; other phrases are a
 * new approval; a bare token line (older daemons) covers them all; the
 * phrases themselves are not in the key.
 */
static void t_approval_key(void **state)
{
	struct bg_strv none, ab, ba, other, seen;
	bg_strv_init(&none);
	bg_strv_init(&ab);
	bg_strv_init(&ba);
	bg_strv_init(&other);
	bg_strv_init(&seen);
	bg_strv_push(&ab, "DEPLOY SHOP PROD");
	bg_strv_push(&ab, "blog");
	bg_strv_push(&ba, "blog");
	bg_strv_push(&ba, "DEPLOY SHOP PROD");
	bg_strv_push(&other, "DEPLOY SHOP PROD");

	char *k_none = approve_key(TOK_A, &none);
	char *k_ab = approve_key(TOK_A, &ab);
	char *k_ba = approve_key(TOK_A, &ba);
	char *k_b = approve_key(TOK_B, &ab);
	assert_int_equal(strlen(k_ab), 16 + 1 + 16);
	assert_true(bg_str_has_prefix(k_ab, TOK_A " "));
	assert_string_equal(k_ab, k_ba);
	assert_string_not_equal(k_ab, k_none);
	assert_string_equal(k_ab + 17, k_b + 17); /* the hash is the phrases' */
	th_assert_not_contains(k_ab, "DEPLOY");

	/* A refused approval (recorded before the refusal) is not retried... */
	bg_strv_push(&seen, k_none);
	assert_true(approve_seen(&seen, TOK_A, &none));
	/* ...but the same token with a phrase added is new input. */
	assert_false(approve_seen(&seen, TOK_A, &other));
	bg_strv_push(&seen, k_ab);
	assert_true(approve_seen(&seen, TOK_A, &ba));
	assert_false(approve_seen(&seen, TOK_B, &ab));
	/* approve.seen of an older daemon: the bare token. */
	bg_strv_push(&seen, TOK_B);
	assert_true(approve_seen(&seen, TOK_B, &other));
	free(k_none);
	free(k_ab);
	free(k_ba);
	free(k_b);
	bg_strv_release(&none);
	bg_strv_release(&ab);
	bg_strv_release(&ba);
	bg_strv_release(&other);
	bg_strv_release(&seen);
}

/* ---- the daemon with a special approve file (no engine needed) ---- */

/*
 * A configuration whose engine is absent: the daemon still starts, reads
 * the approval file and answers signals (it waits for the engine with a
 * backoff), which is all these tests need.
 */
static char *daemon_dir(void)
{
	char *dir = th_tmpdir("loop");
	char *g = bg_xasprintf("install_mode: staging\nstate_dir: %s/state\n"
			"docker:\n  socket: %s/no-docker.sock\n"
			"edge:\n  traefik:\n    dynamic_dir: %s/dyn\n", dir, dir, dir);
	th_write(dir, "cfg/global.conf", g);
	th_write(dir, "cfg/sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\n"
			"port: 80\n");
	th_write(dir, "dyn/.keep", "");
	free(g);
	return dir;
}

/* Start the daemon, wait for `want` in its output, SIGTERM it: its output. */
static char *daemon_run(const char *dir, const char *want)
{
	char *cfg = bg_xasprintf("%s/cfg", dir);
	char *out = bg_xasprintf("%s/daemon.out", dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", cfg, "watch", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	pid_t pid = th_spawn_bg(argv, env, out);
	char *text = NULL;
	int64_t deadline = bg_mono_ms() + 15000 * th_time_scale();
	int status = -1;

	while (bg_mono_ms() < deadline) {
		free(text);
		text = th_read(out);
		if (text && strstr(text, want)) {
			break;
		}
		usleep(50 * 1000);
	}
	/* The loop answers SIGTERM: it was not stuck in an open() or read(). */
	kill(pid, SIGTERM);
	deadline = bg_mono_ms() + 10000 * th_time_scale();
	bool running = true;
	while ((running = th_running(pid, &status)) && bg_mono_ms() < deadline) {
		usleep(50 * 1000);
	}
	if (running) {
		kill(pid, SIGKILL);
		th_wait(pid);
	}
	free(text);
	text = th_read(out);
	if (running) {
		fail_msg("the daemon did not stop within 10 s of SIGTERM; it printed:\n%s", text);
	}
	assert_int_equal(status, 0);
	free(out);
	free(cfg);
	return text;
}

static void t_daemon_fifo_approve(void **state)
{
	char *dir = daemon_dir();
	char *fifo = bg_xasprintf("%s/cfg/approve", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	char *text = daemon_run(dir, "approvals ignored");
	th_assert_contains(text, "watch: error: ");
	th_assert_contains(text, "/cfg/approve: not a regular file (fifo): approvals ignored");
	th_assert_contains(text, "watch: stopped");
	free(text);
	free(fifo);
	th_rm_rf(dir);
	free(dir);
}

static void t_daemon_symlink_approve(void **state)
{
	char *dir = daemon_dir();
	char *secret = bg_xasprintf("%s/root-only", dir);
	char *link = bg_xasprintf("%s/cfg/approve", dir);
	th_write(dir, "root-only", "s3cr3t-first-line of a root-only file\n");
	chmod(secret, 0600);
	assert_int_equal(symlink(secret, link), 0);
	char *text = daemon_run(dir, "approvals ignored");
	th_assert_contains(text, "/cfg/approve: not a regular file (symbolic link, not "
			"followed): approvals ignored");
	th_assert_not_contains(text, "s3cr3t");
	free(text);
	free(link);
	free(secret);
	th_rm_rf(dir);
	free(dir);
}

/*
 * docker.mode: swarm (issue 17): the daemon starts (it follows a Swarm
 * through the runtime's event rule; this one has no engine and waits for
 * it), and a reload that changes the mode is refused: the runtime is
 * fixed for the daemon's life, as the socket. It used to refuse to start.
 */
static void t_daemon_swarm_mode_fixed(void **state)
{
	char *dir = daemon_dir();
	char *g = bg_xasprintf("install_mode: staging\nstate_dir: %s/state\n"
			"docker:\n  socket: %s/no-docker.sock\n  mode: swarm\n"
			"edge:\n  traefik:\n    dynamic_dir: %s/dyn\n", dir, dir, dir);
	th_write(dir, "cfg/global.conf", g);
	char *cfg = bg_xasprintf("%s/cfg", dir);
	char *out = bg_xasprintf("%s/daemon.out", dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", cfg, "watch", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	pid_t pid = th_spawn_bg(argv, env, out);
	char *seen = th_wait_file(out, "docker disconnected", 15000);
	assert_non_null(seen);
	free(seen);
	/* Back to the engine: refused while running, the swarm stays. */
	free(g);
	g = bg_xasprintf("install_mode: staging\nstate_dir: %s/state\n"
			"docker:\n  socket: %s/no-docker.sock\n"
			"edge:\n  traefik:\n    dynamic_dir: %s/dyn\n", dir, dir, dir);
	th_write(dir, "cfg/global.conf", g);
	kill(pid, SIGHUP);
	char *refused = th_wait_file(out, "docker.mode changed in the configuration: the "
			"running daemon keeps swarm", 15000);
	kill(pid, SIGTERM);
	assert_int_equal(th_wait(pid), 0);
	char *text = th_read(out);
	if (!refused) {
		fail_msg("no refusal of the mode change; the daemon printed:\n%s", text);
	}
	th_assert_not_contains(text, "watch not started");
	free(refused);
	free(text);
	free(out);
	free(cfg);
	free(g);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_good_lines),
		cmocka_unit_test(t_bad_lines_are_located),
		cmocka_unit_test(t_empty_and_binary),
		cmocka_unit_test(t_errors_never_quote_the_line),
		cmocka_unit_test(t_approval_key),
		cmocka_unit_test(t_daemon_fifo_approve),
		cmocka_unit_test(t_daemon_symlink_approve),
		cmocka_unit_test(t_daemon_swarm_mode_fixed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
