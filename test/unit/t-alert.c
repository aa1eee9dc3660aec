/*
 * t-alert: alert delivery (issue 14) against a REAL local HTTP receiver
 * (test/helpers/alert-receiver.py, python3's http.server on 127.0.0.1 and
 * a free port): the JSON body, retries after a 500, no retry after a 404,
 * the timeout with a receiver that never answers, asynchronous delivery
 * that returns at once, the webhook URL's secrets absent from logs and
 * body, and a command target (argv, the event in its environment).
 */
#include "bg.h"
#include "alert.h"
#include "bg-log.h"
#include "bg-util.h"
#include "cfg.h"
#include "th.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

struct recv {
	char *dir;
	char *log;
	pid_t pid;
	int port;
};

static struct bg_buf logs = BG_BUF_INIT;

static void log_sink(enum bg_log_level lvl, const char *subsys, const char *file, int line,
		const char *msg, void *arg)
{
	(void)lvl;
	(void)subsys;
	(void)file;
	(void)line;
	(void)arg;
	bg_buf_addf(&logs, "%s\n", msg);
}

/* Start the receiver answering statuses ("500,200", "hang") in order. */
static void recv_start(struct recv *r, const char *statuses)
{
	r->dir = th_tmpdir("alert");
	char *portfile = bg_xasprintf("%s/port", r->dir);
	char *out = bg_xasprintf("%s/receiver.out", r->dir);
	char *script = th_src_path("test/helpers/alert-receiver.py");
	r->log = bg_xasprintf("%s/requests.jsonl", r->dir);
	char *argv[] = {"python3", script, portfile, r->log, (char *)statuses, NULL};
	r->pid = th_spawn_bg(argv, NULL, out);
	int64_t deadline = bg_mono_ms() + th_time_limit(10000);
	while (access(portfile, R_OK) != 0) {
		if (bg_mono_ms() > deadline) {
			fail_msg("alert-receiver did not start: %s", th_read(out));
		}
		usleep(20 * 1000);
	}
	char *p = th_read(portfile);
	r->port = atoi(p);
	assert_true(r->port > 0);
	free(p);
	free(portfile);
	free(out);
	free(script);
}

static void recv_stop(struct recv *r)
{
	kill(r->pid, SIGTERM);
	th_wait(r->pid);
	th_rm_rf(r->dir);
	free(r->dir);
	free(r->log);
}

/* The requests the receiver logged, one JSON line each ("" when none). */
static char *recv_requests(const struct recv *r)
{
	if (access(r->log, R_OK) != 0) {
		return bg_xstrdup("");
	}
	return th_read(r->log);
}

/* A config whose alerts: block is alerts_yaml (already indented). */
static struct cfg *cfg_with(const char *alerts_yaml, char **dir)
{
	struct bg_diag d;
	struct cfg *c = NULL;

	*dir = th_tmpdir("alertcfg");
	char *g = bg_xasprintf("install_mode: staging\n"
			       "edge: {kind: nginx, nginx: {conf_dir: /etc/nginx/conf.d}}\n"
			       "alerts:\n%s", alerts_yaml);
	th_write(*dir, "global.conf", g);
	free(g);
	bg_diag_init(&d);
	int err = cfg_load(&c, *dir, 0, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
	return c;
}

static void cfg_done(struct cfg *c, char *dir)
{
	cfg_destroy(c);
	th_rm_rf(dir);
	free(dir);
}

static struct cfg *webhook_cfg(const struct recv *r, const char *extra, char **dir)
{
	char *y = bg_xasprintf("  ops:\n"
			       "    webhook: \"http://user:pw-secret-1@127.0.0.1:%d/hook/T0/sekrit-path"
			       "?token=sekrit-query\"\n%s", r->port, extra);
	struct cfg *c = cfg_with(y, dir);
	free(y);
	return c;
}

static void test_body(void **state)
{
	(void)state;
	struct recv r;
	char *dir;
	recv_start(&r, "200");
	struct cfg *c = webhook_cfg(&r, "    events: [gate-failed, backup-failed]\n", &dir);

	/* An event the target does not want: nothing sent. */
	assert_int_equal(alert_emit_text(c, CFG_ALERT_DRIFT, NULL, NULL, "x", 0), 0);
	char *reqs = recv_requests(&r);
	assert_string_equal(reqs, "");
	free(reqs);

	assert_int_equal(alert_emit_text(c, CFG_ALERT_GATE_FAILED, "shop", "0123456789abcdef",
			"step 3/7 failed (health container shop-green-1)", 0), 0);
	reqs = recv_requests(&r);
	assert_int_equal(th_count(reqs, "\n"), 1);
	struct json_object *line = json_tokener_parse(reqs);
	assert_non_null(line);
	struct json_object *v;
	assert_true(json_object_object_get_ex(line, "path", &v));
	assert_string_equal(json_object_get_string(v), "/hook/T0/sekrit-path?token=sekrit-query");
	assert_true(json_object_object_get_ex(line, "content_type", &v));
	assert_string_equal(json_object_get_string(v), "application/json");
	assert_true(json_object_object_get_ex(line, "body", &v));
	struct json_object *body = json_tokener_parse(json_object_get_string(v));
	assert_non_null(body);
	const char *bs = json_object_get_string(body);
	th_assert_not_contains(bs, "sekrit");
	th_assert_not_contains(bs, "pw-secret");
	assert_true(json_object_object_get_ex(body, "event", &v));
	assert_string_equal(json_object_get_string(v), "gate-failed");
	assert_true(json_object_object_get_ex(body, "site", &v));
	assert_string_equal(json_object_get_string(v), "shop");
	assert_true(json_object_object_get_ex(body, "time", &v));
	assert_int_equal(strlen(json_object_get_string(v)), 24); /* 2026-12-07T01:27:17.123Z */
	assert_true(json_object_object_get_ex(body, "install", &v));
	struct json_object *m;
	assert_true(json_object_object_get_ex(v, "mode", &m));
	assert_string_equal(json_object_get_string(m), "staging");
	assert_true(json_object_object_get_ex(v, "host", &m));
	assert_true(json_object_object_get_ex(body, "details", &v));
	assert_true(json_object_object_get_ex(v, "token", &m));
	assert_string_equal(json_object_get_string(m), "0123456789abcdef");
	assert_true(json_object_object_get_ex(v, "message", &m));
	th_assert_contains(json_object_get_string(m), "health container shop-green-1");
	json_object_put(body);
	json_object_put(line);
	free(reqs);
	cfg_done(c, dir);
	recv_stop(&r);
}

static void test_retry_after_500(void **state)
{
	(void)state;
	struct recv r;
	char *dir;
	recv_start(&r, "500,503,200");
	struct cfg *c = webhook_cfg(&r, "    retries: 3\n    timeout: 20s\n", &dir);

	int64_t t0 = bg_mono_ms();
	assert_int_equal(alert_emit_text(c, CFG_ALERT_DRIFT, "shop", NULL, "drift", 0), 0);
	/* two backoff pauses: 250 ms then 500 ms */
	assert_true(bg_mono_ms() - t0 >= 700);
	char *reqs = recv_requests(&r);
	assert_int_equal(th_count(reqs, "\n"), 3);
	th_assert_contains(reqs, "\"status\": \"200\"");
	free(reqs);
	cfg_done(c, dir);
	recv_stop(&r);
}

static void test_gives_up(void **state)
{
	(void)state;
	struct recv r;
	char *dir;
	/* Always 500, one retry: two attempts, then one target counted as failed. */
	recv_start(&r, "500");
	struct cfg *c = webhook_cfg(&r, "    retries: 1\n", &dir);
	assert_int_equal(alert_emit_text(c, CFG_ALERT_DRIFT, NULL, NULL, "drift", 0), 1);
	char *reqs = recv_requests(&r);
	assert_int_equal(th_count(reqs, "\n"), 2);
	free(reqs);
	cfg_done(c, dir);
	recv_stop(&r);
	/* A 404 will not get better: no retry. */
	recv_start(&r, "404,200");
	c = webhook_cfg(&r, "    retries: 3\n", &dir);
	assert_int_equal(alert_emit_text(c, CFG_ALERT_DRIFT, NULL, NULL, "drift", 0), 1);
	reqs = recv_requests(&r);
	assert_int_equal(th_count(reqs, "\n"), 1);
	free(reqs);
	cfg_done(c, dir);
	recv_stop(&r);
}

/* A receiver that never answers: the timeout bounds the whole delivery,
 * retries included, and the logs never show the URL's secrets. */
static void test_timeout_and_redaction(void **state)
{
	(void)state;
	struct recv r;
	char *dir;
	recv_start(&r, "hang");
	struct cfg *c = webhook_cfg(&r, "    timeout: 1s\n    retries: 5\n", &dir);
	bg_buf_reset(&logs);
	bg_log_init(BG_LOG_INFO, log_sink, NULL);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(alert_emit_text(c, CFG_ALERT_BACKUP_FAILED, "shop", NULL, "dump", 0), 1);
	int64_t took = bg_mono_ms() - t0;
	bg_log_init(BG_LOG_WARN, NULL, NULL);
	assert_true(took >= 900);
	assert_true(took < th_time_limit(3000));
	char *want = bg_xasprintf("alert 'ops' (http://127.0.0.1:%d/...): backup-failed not "
			"delivered after 1 attempt", r.port);
	th_assert_contains(logs.data, want);
	free(want);
	th_assert_not_contains(logs.data, "sekrit");
	th_assert_not_contains(logs.data, "pw-secret");
	th_assert_not_contains(logs.data, "user");
	cfg_done(c, dir);
	recv_stop(&r);
}

/* ALERT_ASYNC: the caller (the daemon's loop) does not wait for a slow receiver. */
static void test_async(void **state)
{
	(void)state;
	struct recv r;
	char *dir;
	recv_start(&r, "hang,200");
	struct cfg *c = webhook_cfg(&r, "    timeout: 1s\n    retries: 0\n", &dir);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(alert_emit_text(c, CFG_ALERT_DRIFT, "shop", NULL, "drift",
			ALERT_ASYNC), 0);
	assert_true(bg_mono_ms() - t0 < 200);
	cfg_done(c, dir); /* the thread owns copies: freeing the config is fine */
	assert_int_equal(alert_wait_idle(th_time_limit(10000)), 0);
	char *reqs = recv_requests(&r);
	assert_int_equal(th_count(reqs, "\n"), 1);
	free(reqs);
	recv_stop(&r);
}

/* A command target: argv, never a shell; the event JSON in $BLUEGREEN_ALERT. */
static void test_command(void **state)
{
	(void)state;
	char *out = th_tmpdir("alertcmd");
	char *file = bg_xasprintf("%s/event.json", out);
	char *y = bg_xasprintf("  pager:\n"
			       "    command: [python3, -c, \"import os,sys; open(sys.argv[1], 'w')"
			       ".write(os.environ['BLUEGREEN_EVENT'] + ' ' + "
			       "os.environ['BLUEGREEN_ALERT'])\", \"%s\"]\n"
			       "    events: [auto-revert]\n"
			       "  failing:\n"
			       "    command: [\"false\"]\n"
			       "    retries: 1\n"
			       "    events: [auto-revert]\n", file);
	char *dir;
	struct cfg *c = cfg_with(y, &dir);
	assert_int_equal(alert_emit_text(c, CFG_ALERT_AUTO_REVERT, "shop", NULL,
			"reverted to blue", 0), 1); /* `false` failed, twice */
	char *got = th_read(file);
	th_assert_contains(got, "auto-revert {\"event\":\"auto-revert\",\"site\":\"shop\"");
	th_assert_contains(got, "\"message\":\"reverted to blue\"");
	free(got);
	cfg_done(c, dir);
	free(y);
	free(file);
	th_rm_rf(out);
	free(out);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_retry_after_500),
		cmocka_unit_test(test_gives_up),
		cmocka_unit_test(test_timeout_and_redaction),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_command),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	bg_buf_release(&logs);
	curl_global_cleanup();
	return rc;
}
