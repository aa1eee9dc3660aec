/*
 * t-services: backing services and limits against a real Docker Engine
 * and a real nginx (issue 13): resource limits reach HostConfig (docker
 * inspect) and `bluegreen status` shows usage against them; depends_on
 * makes the site's container wait for a service that becomes healthy
 * after 3 s (health command in the ports upstream mode, tcp in the
 * addresses mode); a service that never becomes healthy fails the apply
 * with a message naming it, within its timeout, and no colour is created;
 * a service image change is planned as a recreate with its downtime and
 * applied.
 *
 * Needs: dockerd, nginx; images from test/images/build.sh and
 * test/images/build-svc.sh (bluegreen-test/svc:1 and :2).
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-util.h"
#include "e2e.h"

#include <time.h>

/* Print a command's output as TAP comments, one "# " per line. */
static void print_lines(const char *out)
{
	const char *p = out;
	while (*p) {
		size_t n = strcspn(p, "\n");
		print_message("# %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

static char *inspect(const char *fmt, const char *name)
{
	struct th_run r;
	th_docker(&r, "inspect", "-f", fmt, name, NULL);
	assert_int_equal(r.status, 0);
	char *s = bg_xstrdup(r.out);
	s[strcspn(s, "\n")] = '\0';
	th_run_release(&r);
	return s;
}

/* An engine timestamp ("2026-12-06T22:40:01.123456789Z") in ms since the epoch. */
static int64_t ts_ms(const char *s)
{
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(rest);
	int64_t ms = (int64_t)timegm(&tm) * 1000;
	if (*rest == '.') {
		char frac[4] = "000";
		for (int i = 0; i < 3 && rest[1 + i] >= '0' && rest[1 + i] <= '9'; i++) {
			frac[i] = rest[1 + i];
		}
		ms += strtol(frac, NULL, 10);
	}
	return ms;
}

static void test_limits(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "svclim", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1",
			"resources: {memory: 64m, cpus: \"0.5\", pids: 100}\n"
			"services:\n"
			"  db:\n"
			"    image: bluegreen-test/svc:1\n"
			"    env: {DELAY: \"0\"}\n"
			"    resources: {memory: 32m}\n"
			"depends_on: [db]\n");
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *blue = bg_xasprintf("%s-blue", e.site), *db = bg_xasprintf("%s-db", e.site);
	char *v = inspect("{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
			blue);
	assert_string_equal(v, "67108864 500000000 100");
	free(v);
	v = inspect("{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", db);
	assert_string_equal(v, "33554432 0");
	free(v);
	assert_int_equal(e2e_bg(&e, &r, "status", NULL), 0);
	print_lines(r.out);
	char *want = bg_xasprintf("limits: %s: memory ", blue);
	th_assert_contains(r.out, want);
	th_assert_contains(r.out, " / 64 MiB, cpu ");
	th_assert_contains(r.out, " / 0.5 CPUs, pids ");
	th_assert_contains(r.out, " / 100\n");
	free(want);
	want = bg_xasprintf("limits: %s: memory ", db);
	th_assert_contains(r.out, want);
	th_assert_contains(r.out, " / 32 MiB\n");
	free(want);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "--json", "status", NULL), 0);
	th_assert_contains(r.out, "\"memory_limit_bytes\": 67108864");
	th_assert_contains(r.out, "\"memory_limit_bytes\": 33554432");
	th_assert_contains(r.out, "\"pids_limit\": 100");
	th_run_release(&r);
	free(blue);
	free(db);
	e2e_release(&e);
}

/* The site's container is created only once db answered its check (3 s after start). */
static void depends_on_waits(const char *tag, const char *nginx_extra, const char *health)
{
	struct e2e e;
	struct th_run r;
	e2e_init(&e, tag, "nginx", "development");
	if (nginx_extra) {
		e2e_global_nginx(&e, nginx_extra, NULL);
	}
	char *extra = bg_xasprintf("services:\n"
			"  db:\n"
			"    image: bluegreen-test/svc:1\n"
			"    health: %s\n"
			"depends_on: [db]\n", health);
	e2e_site(&e, "bluegreen-test/web:v1", extra);
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);
	char *blue = bg_xasprintf("%s-blue", e.site), *db = bg_xasprintf("%s-db", e.site);
	char *started = inspect("{{.State.StartedAt}}", db), *created = inspect("{{.Created}}", blue);
	int64_t waited = ts_ms(created) - ts_ms(started);
	print_message("# %s: %s created %" PRId64 " ms after %s started\n", tag, blue, waited, db);
	assert_true(waited >= 3000);
	assert_true(waited < 20000);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 5000));
	free(started);
	free(created);
	free(blue);
	free(db);
	free(extra);
	e2e_release(&e);
}

static void test_depends_on_command(void **state)
{
	(void)state;
	depends_on_waits("svccmd", NULL,
			"{command: [/bin/busybox, test, -f, /tmp/ready], interval: 500ms}");
}

static void test_depends_on_tcp_addresses(void **state)
{
	(void)state;
	depends_on_waits("svctcp", "    upstream: addresses\n", "{tcp: 5432, interval: 500ms}");
}

static void test_never_healthy(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "svcbad", "nginx", "development");
	e2e_site(&e, "bluegreen-test/web:v1",
			"services:\n"
			"  db:\n"
			"    image: bluegreen-test/svc:1\n"
			"    env: {DELAY: \"100000\"}\n"
			"    health: {command: [/bin/busybox, test, -f, /tmp/ready], interval: 500ms, "
			"retries: 4}\n"
			"depends_on: [db]\n");
	int64_t t0 = bg_mono_ms();
	assert_int_equal(e2e_plan_apply(&e, &r), 5);
	int64_t took = bg_mono_ms() - t0;
	char *want = bg_xasprintf("service db of site %s is not healthy after 2 s: /bin/busybox exited "
			"with 1", e.site);
	th_assert_contains(r.err, want);
	print_message("# failed after %" PRId64 " ms\n", took);
	assert_true(took < 30000);
	th_run_release(&r);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *s = e2e_container_state(blue);
	assert_string_equal(s, ""); /* never created */
	free(s);
	free(blue);
	free(want);
	e2e_release(&e);
}

static void test_image_change_recreates(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "svcimg", "nginx", "development");
	const char *fmt = "services:\n"
			  "  db:\n"
			  "    image: bluegreen-test/svc:%d\n"
			  "    env: {DELAY: \"1\"}\n"
			  "    volumes: {dbdata: /data}\n"
			  "    health: {tcp: 5432, interval: 500ms}\n"
			  "depends_on: [db]\n";
	char *extra = bg_xasprintf(fmt, 1);
	e2e_site(&e, "bluegreen-test/web:v1", extra);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	char *db = bg_xasprintf("%s-db", e.site);
	char *old_id = inspect("{{.Id}}", db);
	free(extra);
	extra = bg_xasprintf(fmt, 2);
	e2e_site(&e, "bluegreen-test/web:v1", extra);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 2);
	print_lines(r.out);
	th_assert_contains(r.out, "recreate backing service 'db' (image bluegreen-test/svc:1 -> "
			"bluegreen-test/svc:2): db will be stopped for about 32 s");
	th_assert_contains(r.out, "service 'db' will be recreated");
	th_run_release(&r);
	assert_int_equal(e2e_plan_apply(&e, &r), 0);
	th_run_release(&r);
	char *new_id = inspect("{{.Id}}", db);
	assert_string_not_equal(old_id, new_id);
	char *img = inspect("{{.Config.Image}} {{.State.Status}}", db);
	assert_string_equal(img, "bluegreen-test/svc:2 running");
	/* The data volume stays, and the next plan has nothing to do. */
	char *vol = bg_xasprintf("%s-dbdata", e.site);
	th_docker(&r, "volume", "inspect", "-f", "{{.Name}}", vol, NULL);
	assert_int_equal(r.status, 0);
	th_run_release(&r);
	free(vol);
	assert_int_equal(e2e_bg(&e, &r, "plan", NULL), 0);
	th_run_release(&r);
	free(img);
	free(new_id);
	free(old_id);
	free(db);
	free(extra);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	th_images_svc_build();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_limits, e2e_teardown),
		cmocka_unit_test_teardown(test_depends_on_command, e2e_teardown),
		cmocka_unit_test_teardown(test_depends_on_tcp_addresses, e2e_teardown),
		cmocka_unit_test_teardown(test_never_healthy, e2e_teardown),
		cmocka_unit_test_teardown(test_image_change_recreates, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
