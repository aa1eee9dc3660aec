/*
 * t-edge-nginx-run: when the nginx edge may leave out its separate `test`
 * step because the `reload` argv is nginx's own `-s reload` on the same
 * configuration, which parses (and refuses) everything `nginx -t` would
 * (edge-nginx-run.c, edge__nginx_reload_tests). Only an exact match
 * counts: any other program, option or order keeps the test. That the
 * real `nginx -s reload` refuses a broken file with nginx's own words and
 * the previous file comes back is t-edge-nginx's test_failing_reload_restores.
 */
#include "bg.h"
#include "bg-util.h"
#include "edge-nginx-run.h"
#include "th.h"

/* Split a space-separated argv into sv (test data only). */
static void argv_of(struct bg_strv *sv, const char *words)
{
	char *copy = bg_xstrdup(words), *save = NULL;
	bg_strv_init(sv);
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		bg_strv_push(sv, w);
	}
	free(copy);
}

static bool tests(const char *test, const char *reload)
{
	struct bg_strv t, r;
	argv_of(&t, test);
	argv_of(&r, reload);
	bool yes = edge__nginx_reload_tests(&t, &r);
	bg_strv_release(&t);
	bg_strv_release(&r);
	return yes;
}

static void test_same_configuration(void **state)
{
	(void)state;
	/* The defaults (edge.nginx.test / reload). */
	assert_true(tests("nginx -t", "nginx -s reload"));
	/* The bench's private nginx: -t -q anywhere, the same ARGS in order. */
	assert_true(tests("nginx -p nginx/ -c nginx.conf -t -q",
			"nginx -p nginx/ -c nginx.conf -s reload"));
	assert_true(tests("/usr/sbin/nginx -t -q -c /etc/nginx/nginx.conf",
			"/usr/sbin/nginx -c /etc/nginx/nginx.conf -s reload"));
}

static void test_anything_else_keeps_the_test(void **state)
{
	(void)state;
	/* Another program reloads: it parses nothing. */
	assert_false(tests("nginx -t", "systemctl reload nginx"));
	assert_false(tests("nginx -t", "sudo nginx -s reload"));
	assert_false(tests("nginx -t", "/usr/local/bin/nginx-wrapper -s reload"));
	/* Another binary, or other options: another configuration. */
	assert_false(tests("/usr/sbin/nginx -t", "nginx -s reload"));
	assert_false(tests("nginx -t -c a.conf", "nginx -c b.conf -s reload"));
	assert_false(tests("nginx -t -c a.conf", "nginx -s reload"));
	assert_false(tests("nginx -t", "nginx -c a.conf -s reload"));
	assert_false(tests("nginx -t -p . -c n.conf", "nginx -c n.conf -p . -s reload"));
	assert_false(tests("nginx -t -p . -c n.conf", "nginx -p . -c n.conf -e e.log -s reload"));
	/* Not a test at all, or -T (test and dump), or not a reload. */
	assert_false(tests("nginx -q", "nginx -s reload"));
	assert_false(tests("nginx -T", "nginx -s reload"));
	assert_false(tests("true", "nginx -s reload"));
	assert_false(tests("nginx -t", "nginx -s reopen"));
	assert_false(tests("nginx -t", "nginx reload"));
	assert_false(tests("nginx -t", "nginx -s"));
	/* No test configured: nothing to leave out (the caller runs none). */
	assert_false(tests("", "nginx -s reload"));
}

int main(void)
{
	const struct CMUnitTest tests_[] = {
		cmocka_unit_test(test_same_configuration),
		cmocka_unit_test(test_anything_else_keeps_the_test),
	};
	return cmocka_run_group_tests(tests_, NULL, NULL);
}
