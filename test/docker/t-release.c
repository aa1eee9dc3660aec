/*
 * t-release: release checks end to end (issue 14), against real Docker and
 * nginx. A failing health gate during a real `bluegreen apply` posts
 * gate-failed to a real local HTTP receiver (test/helpers/alert-receiver.py)
 * and the apply still exits 5; a receiver that never answers delays the
 * apply by at most the alert's timeout and changes no exit code.
 *
 * Staging before production: a staging install that deploys v1 writes an
 * attestation; `attest export` and `attest key` carry it and its public
 * key to a production install (another config and state directory) whose
 * site requires promotion: its plan refuses v2 (unattested), saying what
 * is missing, and accepts v1; a tampered copy is refused by `attest
 * verify` and by the plan.
 *
 * Needs: dockerd, nginx, python3; images from test/images/build.sh
 * (bluegreen-test/web:v1, v2 and :bad, which never passes /healthz).
 */
#include "bg.h"
#include "bg-util.h"
#include "e2e.h"

#include <json-c/json.h>
#include <signal.h>
#include <unistd.h>

struct recv {
	char *dir;
	char *log;
	pid_t pid;
	int port;
};

static void recv_start(struct recv *r, const char *statuses)
{
	r->dir = th_tmpdir("recv");
	char *portfile = bg_xasprintf("%s/port", r->dir);
	char *out = bg_xasprintf("%s/receiver.out", r->dir);
	char *script = th_src_path("test/helpers/alert-receiver.py");
	r->log = bg_xasprintf("%s/requests.jsonl", r->dir);
	char *argv[] = {"python3", script, portfile, r->log, (char *)statuses, NULL};
	r->pid = th_spawn_bg(argv, NULL, out);
	int64_t deadline = bg_mono_ms() + th_time_limit(10000);
	while (access(portfile, R_OK) != 0) {
		if (bg_mono_ms() > deadline) {
			fail_msg("alert-receiver did not start");
		}
		usleep(20 * 1000);
	}
	char *p = th_read(portfile);
	r->port = atoi(p);
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

static char *recv_requests(const struct recv *r)
{
	return access(r->log, R_OK) == 0 ? th_read(r->log) : bg_xstrdup("");
}

#define ATTEST_FORMAT_TEXT "bluegreen-attestation/1"
#define BAD_GATE "health: {path: /healthz, interval: 200ms, retries: 3}\n"

static char *alerts_yaml(const struct recv *r, const char *timeout)
{
	return bg_xasprintf("alerts:\n"
			    "  ops:\n"
			    "    webhook: \"http://127.0.0.1:%d/hook/sekrit?key=sekrit2\"\n"
			    "    events: [gate-failed, backup-failed]\n"
			    "    timeout: %s\n", r->port, timeout);
}

/* A candidate that never passes its gate: exit 5, blue serves, gate-failed posted. */
static void test_gate_failed_posts(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	struct recv rc;

	recv_start(&rc, "200");
	e2e_init(&e, "relgate", "nginx", "development");
	char *extra = alerts_yaml(&rc, "5s");
	e2e_global(&e, extra);
	free(extra);
	e2e_site(&e, "bluegreen-test/web:v1", "health: {path: /healthz, interval: 200ms}\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	char *reqs = recv_requests(&rc);
	assert_string_equal(reqs, ""); /* a good apply alerts nobody */
	free(reqs);

	e2e_site(&e, "bluegreen-test/web:bad", BAD_GATE);
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	th_assert_not_contains(r.out, "sekrit");
	th_assert_not_contains(r.err, "sekrit");
	th_run_release(&r);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 1000));

	reqs = recv_requests(&rc);
	assert_int_equal(th_count(reqs, "\n"), 1);
	struct json_object *line = json_tokener_parse(reqs);
	struct json_object *v, *d;
	assert_true(json_object_object_get_ex(line, "body", &v));
	struct json_object *body = json_tokener_parse(json_object_get_string(v));
	assert_non_null(body);
	assert_true(json_object_object_get_ex(body, "event", &v));
	assert_string_equal(json_object_get_string(v), "gate-failed");
	assert_true(json_object_object_get_ex(body, "site", &v));
	assert_string_equal(json_object_get_string(v), e.site);
	assert_true(json_object_object_get_ex(body, "details", &d));
	assert_true(json_object_object_get_ex(d, "colour", &v));
	assert_string_equal(json_object_get_string(v), "green");
	assert_true(json_object_object_get_ex(d, "message", &v));
	th_assert_contains(json_object_get_string(v), "failed (health container");
	print_message("# gate-failed body: %s\n", json_object_get_string(body));
	json_object_put(body);
	json_object_put(line);
	free(reqs);
	e2e_release(&e);
	recv_stop(&rc);
}

/* A receiver that never answers: the apply's exit code is still 5, and it
 * waits for the alert no longer than the alert's timeout. */
static void test_hanging_receiver(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	struct recv rc;

	recv_start(&rc, "hang");
	e2e_init(&e, "relhang", "nginx", "development");
	char *extra = alerts_yaml(&rc, "2s");
	e2e_global(&e, extra);
	free(extra);
	e2e_site(&e, "bluegreen-test/web:bad", BAD_GATE);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	int64_t ms = bg_mono_ms() - t0;
	th_assert_contains(r.err, "not delivered");
	th_assert_not_contains(r.err, "sekrit");
	th_run_release(&r);
	print_message("# failing apply with a hanging receiver took %" PRId64 " ms\n", ms);
	char *reqs = recv_requests(&rc);
	assert_true(th_count(reqs, "\n") >= 1);
	free(reqs);
	e2e_release(&e);
	recv_stop(&rc);
}

/* Write text to dir/rel. */
static void put(const char *dir, const char *rel, const char *text)
{
	th_write(dir, rel, text);
}

static void test_staging_promotion(void **state)
{
	(void)state;
	struct e2e st, pr;
	struct th_run r;

	/* Staging: v1 goes live after its gate, and is attested. */
	e2e_init(&st, "relstage", "nginx", "staging");
	e2e_site(&st, "bluegreen-test/web:v1", "health: {path: /healthz, interval: 200ms}\n"
			"checks:\n  home: {phase: functional, http: {path: /, body_contains: v1}}\n");
	assert_int_equal(e2e_plan_apply(&st, NULL), 0);
	assert_true(e2e_wait_body(&st, st.domain, "v1", 3000));
	assert_int_equal(e2e_bg(&st, &r, "attest", "key", NULL), 0);
	th_assert_contains(r.out, "-----BEGIN PUBLIC KEY-----");
	th_assert_not_contains(r.out, "PRIVATE");
	char *pub = bg_xstrdup(r.out);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&st, &r, "attest", "export", st.site, NULL), 0);
	th_assert_contains(r.out, ATTEST_FORMAT_TEXT);
	char *att = bg_xstrdup(r.out);
	th_run_release(&r);
	/* Its own install verifies it. */
	char *file = bg_xasprintf("%s/exported.json", st.dir);
	put(st.dir, "exported.json", att);
	assert_int_equal(e2e_bg(&st, &r, "attest", "verify", file, NULL), 0);
	th_assert_contains(r.out, "valid: site ");
	th_assert_contains(r.out, "checks passed: health, home"); /* the gate ran both */
	th_run_release(&r);

	/* Production, another state directory, trusting staging's key. */
	e2e_init(&pr, "relprod", "nginx", "production");
	put(pr.dir, "keys/staging.pub", pub);
	const char *promo = "health: {path: /healthz, interval: 200ms}\n"
			    "promotion: {require: staging, trust: [keys/staging.pub]}\n";
	e2e_site(&pr, "bluegreen-test/web:v2", promo);
	assert_int_equal(e2e_bg(&pr, &r, "plan", NULL), 1);
	th_assert_contains(r.out, "promotion.require: staging: no attestation signed by a "
			"trusted key");
	th_assert_contains(r.out, "bluegreen-test/web:v2");
	print_message("# production plan of an unattested image:\n");
	for (char *l = r.out, *nl; l && *l; l = nl ? nl + 1 : NULL) {
		nl = strchr(l, '\n');
		print_message("#   %.*s\n", nl ? (int)(nl - l) : (int)strlen(l), l);
	}
	th_run_release(&r);

	/* A tampered copy (one byte of the signed claim) is refused. */
	char *bad = bg_xstrdup(att);
	char *p = strstr(bad, "\\\"checks\\\":[\\\"health");
	assert_non_null(p);
	p[strlen("\\\"checks\\\":[\\\"")] = 'w';
	put(pr.dir, "attestations/tampered.json", bad);
	char *badf = bg_xasprintf("%s/attestations/tampered.json", pr.dir);
	char *pubf = bg_xasprintf("%s/keys/staging.pub", pr.dir);
	assert_int_equal(e2e_bg(&pr, &r, "attest", "verify", badf, "--trust", pubf, NULL), 1);
	th_assert_contains(r.err, "refused");
	th_run_release(&r);
	e2e_site(&pr, "bluegreen-test/web:v1", promo);
	assert_int_equal(e2e_bg(&pr, &r, "plan", NULL), 1);
	th_assert_contains(r.out, "1 not verified by a trusted key");
	th_run_release(&r);

	/* The genuine one: v1 is planned, with a note saying who attested it. */
	put(pr.dir, "attestations/v1.json", att);
	char *goodf = bg_xasprintf("%s/attestations/v1.json", pr.dir);
	assert_int_equal(e2e_bg(&pr, &r, "attest", "verify", goodf, "--trust", pubf, NULL), 0);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&pr, &r, "plan", NULL), 2);
	th_assert_contains(r.out, "promotion: image sha256:");
	th_assert_contains(r.out, "(staging)");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&pr, NULL), 0);
	assert_true(e2e_wait_body(&pr, pr.domain, "v1", 3000));
	/* v2 still refused in production. */
	e2e_site(&pr, "bluegreen-test/web:v2", promo);
	assert_int_equal(e2e_bg(&pr, &r, "plan", NULL), 1);
	th_assert_contains(r.out, "no attestation signed by a trusted key");
	th_run_release(&r);

	free(goodf);
	free(badf);
	free(pubf);
	free(bad);
	free(file);
	free(att);
	free(pub);
	e2e_release(&pr);
	e2e_release(&st);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_gate_failed_posts, e2e_teardown),
		cmocka_unit_test_teardown(test_hanging_receiver, e2e_teardown),
		cmocka_unit_test_teardown(test_staging_promotion, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
