/*
 * t-edge-nginx-run: when the nginx edge may leave out its separate `test`
 * step because the `reload` argv is nginx's own `-s reload` on the same
 * configuration, which parses (and refuses) everything `nginx -t` would
 * (edge-nginx-run.c, edge__nginx_reload_tests). Only an exact match
 * counts: any other program, option or order keeps the test. That the
 * real `nginx -s reload` refuses a broken file with nginx's own words and
 * the previous file comes back is t-edge-nginx's test_failing_reload_restores.
 *
 * And which sockets listen where a listen value binds: the kernel's socket
 * diagnostics and /proc/net/tcp (the fallback) must name the same real
 * listening sockets, and only those at that address and port.
 */
#include "bg.h"
#include "bg-util.h"
#include "edge-nginx-run.h"
#include "th.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A TCP socket listening on addr (IPv4 or IPv6 text) at a free port; *port, *inode set. */
static int listener(const char *addr, int *port, char inode[32])
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int v6 = strchr(addr, ':') != NULL;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v6 && fd < 0) {
		return -1; /* no IPv6 here */
	}
	assert_true(fd >= 0);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
		len = sizeof(*a);
	}
	if (v6 && bind(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return -1; /* no ::1 here */
	}
	assert_true(v6 || bind(fd, (struct sockaddr *)&ss, len) == 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
			 : ((struct sockaddr_in *)&ss)->sin_port);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(inode, 32, "socket:[%lu]", (unsigned long)st.st_ino);
	return fd;
}

/* Both sources name exactly want (NULL: nothing) for listen. */
static void both_say(const char *listen, const char *want)
{
	for (int from_proc = 0; from_proc <= 1; from_proc++) {
		struct bg_strv got;
		bg_strv_init(&got);
		edge__nginx_listen_sockets(listen, from_proc, &got);
		if (want) {
			assert_int_equal(got.n, 1);
			assert_string_equal(got.v[0], want);
		} else {
			assert_int_equal(got.n, 0);
		}
		bg_strv_release(&got);
	}
}

static void test_listening_sockets(void **state)
{
	(void)state;
	char lo[32], any[32], v6[32];
	int p_lo, p_any, p_v6;
	int f_lo = listener("127.0.0.1", &p_lo, lo);
	int f_any = listener("0.0.0.0", &p_any, any);
	int f_v6 = listener("::1", &p_v6, v6);
	char buf[96];

	snprintf(buf, sizeof(buf), "127.0.0.1:%d", p_lo);
	both_say(buf, lo);
	snprintf(buf, sizeof(buf), "127.0.0.2:%d", p_lo); /* another address, same port */
	both_say(buf, NULL);
	snprintf(buf, sizeof(buf), "%d", p_lo); /* "PORT" is 0.0.0.0:PORT */
	both_say(buf, NULL);
	snprintf(buf, sizeof(buf), "%d", p_any);
	both_say(buf, any);
	snprintf(buf, sizeof(buf), "*:%d default_server", p_any);
	both_say(buf, any);
	snprintf(buf, sizeof(buf), "127.0.0.1:%d", p_any);
	both_say(buf, NULL);
	if (f_v6 >= 0) {
		snprintf(buf, sizeof(buf), "[::1]:%d", p_v6); /* IPv6: any address, tcp and tcp6 */
		both_say(buf, v6);
		close(f_v6);
	}
	both_say("unix:/run/nginx.sock", NULL);
	close(f_lo);
	close(f_any);
	snprintf(buf, sizeof(buf), "127.0.0.1:%d", p_lo); /* closed: nothing listens */
	both_say(buf, NULL);
}

int main(void)
{
	const struct CMUnitTest tests_[] = {
		cmocka_unit_test(test_same_configuration),
		cmocka_unit_test(test_anything_else_keeps_the_test),
		cmocka_unit_test(test_listening_sockets),
	};
	return cmocka_run_group_tests(tests_, NULL, NULL);
}
