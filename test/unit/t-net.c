/*
 * t-net: bg_tcp_connect (controller/base/bg-net.c), the connect behind
 * backing services' `health.tcp` and release checks' `tcp:`. Against a real
 * listening socket: accepted, then refused once it is closed. From another
 * network namespace (a real one, made by util-linux's `unshare -n`, whose
 * loopback is down): the same address must NOT be reached, which proves
 * the socket was made there; and the next connect from ours reaches it
 * again, which proves the thread came back home. Not root: entering any
 * namespace is refused with a message that says why.
 */
#include "bg.h"
#include "bg-err.h"
#include "bg-net.h"
#include "bg-util.h"
#include "th.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A listening socket on 127.0.0.1, its port in *port. */
static int listener(unsigned *port)
{
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	assert_true(ls >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return ls;
}

static ino_t ns_ino(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void test_connect_here(void **state)
{
	(void)state;
	unsigned port = 0;
	char *why = NULL;
	int ls = listener(&port);
	assert_int_equal(bg_tcp_connect("127.0.0.1", port, 1000, -1, &why), 0);
	assert_null(why);
	close(ls);
	assert_int_equal(bg_tcp_connect("127.0.0.1", port, 1000, -1, &why), BG_EHEALTH);
	th_assert_contains(why, "Connection refused");
	free(why);
	assert_int_equal(bg_tcp_connect("not-an-address", 80, 1000, -1, &why), BG_EHEALTH);
	th_assert_contains(why, "no address to connect to port 80");
	free(why);
}

/* From a fresh network namespace, then from ours again. */
static void test_connect_from_netns(void **state)
{
	(void)state;
	unsigned port = 0;
	char *why = NULL;
	int ls = listener(&port);

	if (geteuid() != 0) { /* no namespace can be entered: the refusal says why */
		int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		assert_int_equal(bg_tcp_connect("127.0.0.1", port, 1000, self, &why),
				BG_ERRNO(EPERM));
		th_assert_contains(why, "needs root");
		free(why);
		close(self);
		close(ls);
		return;
	}
	char *argv[] = {"unshare", "-n", "sleep", "60", NULL};
	pid_t pid = th_spawn_bg(argv, NULL, "/dev/null");
	char *path = bg_xasprintf("/proc/%d/ns/net", (int)pid);
	ino_t ours = ns_ino("/proc/self/ns/net");
	for (int i = 0; i < 200 && ns_ino(path) == ours; i++) {
		usleep(10 * 1000); /* until unshare made its namespace */
	}
	assert_int_not_equal(ns_ino(path), ours);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ns >= 0);

	int err = bg_tcp_connect("127.0.0.1", port, 1000, ns, &why);
	print_message("# from a fresh namespace: %d %s\n", err, why ? why : "");
	assert_int_equal(err, BG_EHEALTH); /* its loopback is down: unreachable there */
	th_assert_contains(why, "127.0.0.1:");
	free(why);
	assert_int_equal(ns_ino("/proc/thread-self/ns/net"), ours);
	assert_int_equal(bg_tcp_connect("127.0.0.1", port, 1000, -1, &why), 0);

	close(ns);
	kill(pid, SIGKILL);
	th_wait(pid);
	free(path);
	close(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_here),
		cmocka_unit_test(test_connect_from_netns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
