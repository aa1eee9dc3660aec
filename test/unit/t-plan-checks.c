/*
 * t-plan-checks: a site's `checks:` (issue 14), the parts without an
 * engine. The plan lists the checks under the candidate's gate (text and
 * --json), in phase order; the token covers them (a changed check, an
 * added one, a removed one each change it; a site without checks plans
 * as before, with no checks anywhere). A bad log pattern is refused with
 * its place (regcomp). The runner's report names each failure, judges
 * log lines and command output with the site's secrets redacted, and
 * connects TCP checks to a real listening socket.
 */
#include "bg.h"
#include "cfg.h"
#include "checks.h"
#include "obs.h"
#include "plan.h"
#include "plan-fx.h"
#include "th.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET "s3cr3t-checks-value"

#define CHECKS_YAML                                                            \
	"checks:\n"                                                            \
	"  no-debug:\n"                                                        \
	"    phase: security\n"                                                \
	"    forbidden: [/debug, /.git/]\n"                                    \
	"  home:\n"                                                            \
	"    phase: functional\n"                                              \
	"    http: {path: /, status: 200, body_contains: Welcome}\n"           \
	"  selftest:\n"                                                        \
	"    phase: integration\n"                                             \
	"    command: [/app/selftest, --quick]\n"

static void fx_load(struct pfx *f, const char *checks)
{
	const char *refs[] = {"bluegreen-test/web:v1"};
	char *sc = bg_xasprintf("site: shop\n"
			"domains: [shop.example.com]\n"
			"image: bluegreen-test/web:v1\n"
			"port: 8080\n"
			"env:\n"
			"  DB_PASSWORD: " SECRET "\n%s", checks ? checks : "");
	char *g0 = pfx_global_conf("development");
	/* One conf_dir for every fixture: the nginx file names its flag
	 * directory, so the route the token covers depends on where it is. */
	char *g = bg_xstrdup(g0);
	char *at = strstr(g, "conf_dir: nginx\n");
	assert_non_null(at);
	char *g1 = bg_xasprintf("%.*sconf_dir: /nonexistent/bluegreen-planchecks/nginx\n%s",
			(int)(at - g), g, at + strlen("conf_dir: nginx\n"));
	free(g);
	free(g0);
	g = g1;
	pfx_load(f, "planchecks", g, sc, refs, 1);
	free(g);
	free(sc);
	const char *nets[] = {"bgt-edge", "shop-net"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_network *n = obs_network_add(&f->obs);
		n->name = bg_xstrdup(nets[i]);
		n->id = bg_xasprintf("net%zu", i);
		obs_labels_set(&n->labels, BG_LABEL_MANAGED, "true");
	}
	obs_finish(&f->obs);
}

/* The token of a first deploy of shop with these checks. */
static char *token_of(const char *checks)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, checks);
	pfx_plan_ok(&f, NULL, &p);
	char *t = bg_xstrdup(p.token);
	plan_release(&p);
	pfx_release(&f);
	return t;
}

static void test_plan_lists_checks(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_buf b = BG_BUF_INIT;
	fx_load(&f, CHECKS_YAML);
	pfx_plan_ok(&f, NULL, &p);
	plan_render_text(&p, f.cfg, false, &b);
	/* Under the gate, in phase order (functional, integration, security). */
	const char *gate = strstr(b.data, "health  container shop-blue");
	assert_non_null(gate);
	const char *home = strstr(gate, "\n      check home (functional, http): GET / -> 200, "
			"body contains \"Welcome\"\n");
	const char *self = strstr(gate, "\n      check selftest (integration, command): exec "
			"[/app/selftest, --quick] in each candidate container exits 0\n");
	const char *sec = strstr(gate, "\n      check no-debug (security, forbidden): /debug, "
			"/.git/ must not answer 2xx\n");
	assert_non_null(home);
	assert_non_null(self);
	assert_non_null(sec);
	assert_true(home < self && self < sec);
	th_assert_not_contains(b.data, SECRET);
	bg_buf_reset(&b);
	plan_render_json(&p, f.cfg, &b);
	th_assert_contains(b.data, "\"checks\": [\n            {\n              \"name\": \"home\",\n"
			"              \"phase\": \"functional\",\n              \"kind\": \"http\",\n"
			"              \"description\": \"GET / -> 200, body contains \\\"Welcome\\\"\"\n");
	bg_buf_release(&b);
	plan_release(&p);
	pfx_release(&f);

	/* Without checks: no line, no JSON field. */
	fx_load(&f, NULL);
	pfx_plan_ok(&f, NULL, &p);
	bg_buf_init(&b, 0);
	plan_render_text(&p, f.cfg, false, &b);
	th_assert_not_contains(b.data, "check ");
	bg_buf_reset(&b);
	plan_render_json(&p, f.cfg, &b);
	th_assert_not_contains(b.data, "\"checks\"");
	bg_buf_release(&b);
	plan_release(&p);
	pfx_release(&f);
}

static void test_token_covers_checks(void **state)
{
	(void)state;
	char *base = token_of(CHECKS_YAML);
	char *same = token_of(CHECKS_YAML);
	assert_string_equal(base, same);
	/* One value of one check. */
	char *changed = token_of("checks:\n"
			"  no-debug:\n    phase: security\n    forbidden: [/debug, /.git/]\n"
			"  home:\n    phase: functional\n"
			"    http: {path: /, status: 201, body_contains: Welcome}\n"
			"  selftest:\n    phase: integration\n    command: [/app/selftest, --quick]\n");
	assert_string_not_equal(base, changed);
	/* A phase only. */
	char *phase = token_of("checks:\n"
			"  no-debug:\n    phase: ui\n    forbidden: [/debug, /.git/]\n"
			"  home:\n    phase: functional\n"
			"    http: {path: /, status: 200, body_contains: Welcome}\n"
			"  selftest:\n    phase: integration\n    command: [/app/selftest, --quick]\n");
	assert_string_not_equal(base, phase);
	/* No checks at all. */
	char *none = token_of(NULL);
	assert_string_not_equal(base, none);
	free(base);
	free(same);
	free(changed);
	free(phase);
	free(none);
}

static void test_bad_regex_refused(void **state)
{
	(void)state;
	const char *y = "site: shop\ndomains: [shop.example.com]\nimage: nginx:1.27\n"
			"checks:\n  no-fatal:\n    phase: application\n    log: \"(FATAL\"\n";
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(cfg_check_buffer("site", "shop.conf", y, strlen(y), &d), BG_ECONFIG);
	char line[512];
	bg_diag_item_format(&d.items[0], line, sizeof(line));
	assert_string_equal(line, "shop.conf:7:10: error: checks.no-fatal.log must be a POSIX "
			"extended regular expression such as \"FATAL|panic\" (got \"(FATAL\")");
	bg_diag_release(&d);
}

/* ---- the runner, with the engine's two calls given as functions ---- */

static int exec_fn(void *arg, const char *name, char *const *argv, uint64_t timeout_ms,
		int *code, struct bg_buf *out, char **why)
{
	(void)arg;
	(void)name;
	(void)timeout_ms;
	(void)why;
	*code = strcmp(argv[0], "/bin/true") == 0 ? 0 : 3;
	bg_buf_adds(out, "connecting with password " SECRET "\nrefused\n");
	return 0;
}

static int logs_fn(void *arg, const char *name, int64_t since, struct bg_buf *out, char **why)
{
	(void)arg;
	(void)name;
	(void)since;
	(void)why;
	bg_buf_adds(out, "starting\nFATAL: db login " SECRET " refused\nlater\n");
	return 0;
}

static void test_runner_report(void **state)
{
	(void)state;
	struct pfx f;
	fx_load(&f, "checks:\n"
			"  self-ok:\n    phase: integration\n    command: [/bin/true]\n"
			"  self-bad:\n    phase: integration\n    command: [/app/selftest]\n"
			"  no-fatal:\n    phase: application\n    log: \"FATAL|panic\"\n"
			"  quiet:\n    phase: application\n    log: \"^never$\"\n"
			"  port:\n    phase: container\n    tcp: {port: 9}\n");
	const struct cfg_site *cs = cfg_site_find(f.cfg, "shop");
	assert_int_equal(cs->n_checks, 5);

	/* A real listening socket for the tcp check. */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	char *why = NULL;
	assert_int_equal(chk_tcp_run("127.0.0.1", ntohs(sa.sin_port), 1000, &why), 0);
	close(ls);
	assert_int_equal(chk_tcp_run("127.0.0.1", ntohs(sa.sin_port), 1000, &why), BG_EHEALTH);
	th_assert_contains(why, "Connection refused");
	free(why);

	const char *names[] = {"shop-green"};
	const char *addrs[] = {"127.0.0.1"};
	struct chk_target t = {.n = 1, .names = names, .addrs = addrs, .port = 8080,
		.env = &cs->env, .exec = exec_fn, .logs = logs_fn};
	struct chk_report rep;
	assert_int_equal(chk_site_run(cs, -1, &t, &rep), BG_EHEALTH);
	assert_int_equal(rep.n_run, 5);
	assert_int_equal(rep.n_fail, 3); /* port 9 refuses, self-bad exits 3, no-fatal matches */
	char *text = chk_report_failures(&rep, "");
	print_message("%s\n", text);
	th_assert_contains(text, "check port (phase container, tcp): expected candidate port 9 "
			"accepts a connection; seen shop-green: 127.0.0.1:9: Connection refused");
	th_assert_contains(text, "check self-bad (phase integration, command): expected exec "
			"[/app/selftest] in each candidate container exits 0; seen shop-green: exit "
			"3, output: connecting with password <redacted>|refused");
	th_assert_contains(text, "check no-fatal (phase application, log): expected no candidate "
			"log line matches \"FATAL|panic\"; seen shop-green logged: FATAL: db login <redacted> "
			"refused");
	th_assert_not_contains(text, SECRET);
	assert_true(bg_strv_contains(&rep.passed, "self-ok"));
	assert_true(bg_strv_contains(&rep.passed, "quiet"));
	free(text);
	chk_report_release(&rep);

	/* One phase only. */
	assert_int_equal(chk_site_run(cs, CHK_PHASE_INTEGRATION, &t, &rep), BG_EHEALTH);
	assert_int_equal(rep.n_run, 2);
	assert_int_equal(rep.n_fail, 1);
	chk_report_release(&rep);
	pfx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_lists_checks),
		cmocka_unit_test(test_token_covers_checks),
		cmocka_unit_test(test_bad_regex_refused),
		cmocka_unit_test(test_runner_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
