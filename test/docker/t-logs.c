/*
 * t-logs: `bluegreen logs` against a real Docker Engine and a real nginx
 * (issue 13): a site whose containers print known lines to stdout and
 * stderr (two replicas, merged with "blue.N | " prefixes, stderr lines on
 * our stderr), --tail, --since, --timestamps, a secret variable's value
 * redacted, a TTY container (raw stream, no framing), the refusals
 * (unknown site, no such colour, no candidate), and -f on the live colour
 * across a switch made with plan/apply, ended by SIGTERM with exit 0.
 *
 * Its image (bluegreen-test/logs:d1a, test/helpers/logs-image.c) is made
 * with `docker import` from busybox-static, like test/images/build.sh: /bin/logdemo prints
 * "out start", "err start" (stderr) and the secret once, then a tick per
 * second on each stream, and serves /www with busybox httpd.
 *
 * Needs: dockerd, nginx, busybox-static, tar.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"
#include "logs-image.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE LOGS_IMAGE
#define SECRET "s3cr3t-value-42"


static void site_conf(struct e2e *e, const char *mark, unsigned replicas)
{
	char *extra = bg_xasprintf("replicas: %u\nenv:\n  MARK: %s\n  APP_SECRET: " SECRET "\n",
			replicas, mark);
	e2e_site(e, IMAGE, extra);
	free(extra);
}

static size_t lines(const char *s)
{
	return th_count(s, "\n");
}

/* Wait until file holds needle (the follow's output). */
static bool file_wait(const char *path, const char *needle, int ms)
{
	for (int64_t end = bg_mono_ms() + th_time_limit(ms); bg_mono_ms() < end;) {
		char *s = th_read(path);
		bool hit = s && strstr(s, needle);
		free(s);
		if (hit) {
			return true;
		}
		usleep(100 * 1000);
	}
	char *s = th_read(path);
	print_message("# waited for '%s' in vain; the follow printed:\n%s\n", needle, s ? s : "");
	free(s);
	return false;
}

static void test_lines_tail_since_timestamps(void **state)
{
	struct e2e e;
	struct th_run r = {0};
	(void)state;

	e2e_init(&e, "logs", "nginx", "development");
	site_conf(&e, "v1", 2);
	/* Before anything runs: the refusals. */
	assert_int_equal(e2e_bg(&e, &r, "logs", "nosuchsite", NULL), 1);
	th_assert_contains(r.err, "no site named 'nosuchsite'");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, NULL), 1);
	th_assert_contains(r.err, "has no live colour yet");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--tail", "0", NULL), 1);
	th_assert_contains(r.err, "--tail takes a number");
	th_run_release(&r);

	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);
	/* A few ticks, and the start lines well outside --since 2s below even
	 * when a loaded engine stamps them late. */
	sleep(5);

	/* Both replicas, prefixed; stderr lines on our stderr; the secret redacted. */
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, NULL), 0);
	th_assert_contains(r.out, "blue.1 | out start v1\n");
	th_assert_contains(r.out, "blue.2 | out start v1\n");
	th_assert_contains(r.out, "blue.1 | tick v1\n");
	th_assert_contains(r.err, "blue.2 | err start v1\n");
	th_assert_contains(r.err, "blue.1 | etick v1\n");
	th_assert_not_contains(r.out, "err start");
	th_assert_not_contains(r.err, "out start");
	th_assert_contains(r.out, "blue.1 | token <redacted>\n");
	th_assert_not_contains(r.out, SECRET);
	th_run_release(&r);

	/* --tail 1: one line per container, whichever stream it was on. */
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--tail", "1", NULL), 0);
	assert_int_equal(lines(r.out) + lines(r.err), 2);
	th_run_release(&r);

	/* --since 2s: the ticks, not the start lines of 5+ seconds ago. */
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--since", "2s", NULL), 0);
	th_assert_contains(r.out, "tick v1");
	th_assert_not_contains(r.out, "out start");
	th_run_release(&r);

	/* --timestamps: the engine's RFC 3339 time after the prefix. */
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--tail", "1", "--timestamps",
			"--colour", "blue", NULL), 0);
	/* Either replica's last line, on either stream (whichever it wrote last). */
	const char *t = strstr(r.out, "blue.");
	t = t ? t : strstr(r.err, "blue.");
	assert_non_null(t);
	t = strstr(t, " | ");
	assert_non_null(t);
	t += 3;
	assert_true(t[4] == '-' && t[7] == '-' && t[10] == 'T');
	assert_non_null(strchr(t, 'Z'));
	th_run_release(&r);

	/* No candidate (live runs the configured spec), no green yet. */
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--colour", "candidate", NULL), 1);
	th_assert_contains(r.err, "has no candidate");
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--colour", "green", NULL), 1);
	th_assert_contains(r.err, "has no green containers");
	th_run_release(&r);
	e2e_release(&e);
}

static void test_tty(void **state)
{
	struct e2e e;
	struct th_run r = {0};
	(void)state;

	e2e_init(&e, "logtty", "nginx", "development");
	site_conf(&e, "tty", 1);
	char *name = bg_xasprintf("%s-green", e.site);
	char *l_site = bg_xasprintf("io.bluegreen.site=%s", e.site);
	/* A managed green replica with a terminal: the engine sends raw bytes. */
	assert_int_equal(th_docker(&r, "run", "-d", "-t", "--name", name,
			"--label", "io.bluegreen.managed=true", "--label", l_site,
			"--label", "io.bluegreen.role=colour", "--label", "io.bluegreen.colour=green",
			"--label", "io.bluegreen.replica=1", "-e", "MARK=tty", IMAGE, NULL), 0);
	th_run_release(&r);
	sleep(2);
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--colour", "green", NULL), 0);
	/* One container: no prefix; its stderr came through its terminal. */
	th_assert_contains(r.out, "out start tty\n");
	th_assert_contains(r.out, "err start tty\n");
	th_assert_contains(r.out, "etick tty\n");
	th_assert_not_contains(r.out, "\r");
	th_assert_not_contains(r.out, " | ");
	assert_string_equal(r.err, "");
	th_run_release(&r);
	free(name);
	free(l_site);
	e2e_release(&e);
}

static void test_follow_across_switch(void **state)
{
	struct e2e e;
	struct th_run r = {0};
	(void)state;

	e2e_init(&e, "logsw", "nginx", "development");
	site_conf(&e, "v1", 1);
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);

	char *out = bg_xasprintf("%s/follow.out", e.dir);
	char *argv[] = {(char *)getenv("BG_BINARY"), "-c", e.dir, "logs", e.site, "-f",
		"--tail", "1", NULL};
	pid_t pid = th_spawn_bg(argv, NULL, out);
	assert_true(file_wait(out, "blue.1 | tick v1", 20000));

	/* The first apply starts the candidate (preview), the second switches. */
	site_conf(&e, "v2", 1);
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "logs", e.site, "--colour", "candidate", NULL), 0);
	th_assert_contains(r.out, "out start v2\n");
	th_assert_not_contains(r.out, "v1");
	th_run_release(&r);
	assert_false(file_wait(out, "is live now", 1500)); /* not yet */
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);
	assert_true(file_wait(out, "green is live now (was blue): following green", 20000));
	assert_true(file_wait(out, "green.1 | tick v2", 20000));
	assert_true(th_running(pid, NULL));

	/* SIGTERM ends the follow cleanly. */
	kill(pid, SIGTERM);
	assert_int_equal(th_wait(pid), 0);
	free(out);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	logs_image_build();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lines_tail_since_timestamps, e2e_teardown),
		cmocka_unit_test_teardown(test_tty, e2e_teardown),
		cmocka_unit_test_teardown(test_follow_across_switch, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
