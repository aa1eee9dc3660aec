/*
 * bg-net: a TCP connect with a time limit, from our network namespace or
 * a container's. Entering the container's namespace is setns(2) on the
 * calling thread for one socket(2) call only: a socket stays in the
 * namespace it was made in, so the connect itself runs back home. Failing
 * to come back would leave this thread in a container's network, where
 * every later request to 127.0.0.1 (the edge, the cockpit) would go to the
 * container instead: that aborts, as an assertion would.
 */
#include "bg.h"
#include "bg-net.h"
#include "bg-mem.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket of family made in netns_fd's network (-1: ours); -errno-style
 * BG_ERRNO code on failure, *why set. */
static int socket_in(int family, int netns_fd, char **why)
{
	if (netns_fd < 0) {
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		int e = errno;
		if (fd < 0) {
			*why = bg_xasprintf("socket: %s", strerror(e));
			return BG_ERRNO(e);
		}
		return fd;
	}
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) {
		int e = errno;
		*why = bg_xasprintf("/proc/thread-self/ns/net: %s", strerror(e));
		return BG_ERRNO(e);
	}
	if (setns(netns_fd, CLONE_NEWNET) != 0) {
		int e = errno;
		*why = bg_xasprintf("entering the container's network namespace: %s%s",
				strerror(e), e == EPERM ? " (it needs root)" : "");
		close(home);
		return BG_ERRNO(e);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int e = errno;
	if (setns(home, CLONE_NEWNET) != 0) {
		fprintf(stderr, "fatal: cannot return to our network namespace: %s\n",
				strerror(errno));
		abort();
	}
	close(home);
	if (fd < 0) {
		*why = bg_xasprintf("socket: %s", strerror(e));
		return BG_ERRNO(e);
	}
	return fd;
}

int bg_tcp_connect(const char *addr, unsigned port, uint64_t timeout_ms, int netns_fd,
		char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
			.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char ps[16];
	int fd = -1, err = BG_EHEALTH;

	*why = NULL;
	snprintf(ps, sizeof(ps), "%u", port);
	if (!addr || !*addr || getaddrinfo(addr, ps, &hints, &ai) != 0) {
		*why = bg_xasprintf("no address to connect to port %u", port);
		return BG_EHEALTH;
	}
	fd = socket_in(ai->ai_family, netns_fd, why);
	if (fd < 0) {
		err = fd;
		fd = -1;
		goto out;
	}
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc != 0 && errno == EINPROGRESS) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		uint64_t t = timeout_ms ? timeout_ms : 5000;
		rc = poll(&pfd, 1, t > INT32_MAX ? INT32_MAX : (int)t);
		if (rc == 0) {
			*why = bg_xasprintf("%s:%u did not accept a connection within %" PRIu64
					" ms", addr, port, t);
			goto out;
		}
		int so = 0;
		socklen_t sl = sizeof(so);
		rc = rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 ? -1 : 0;
		errno = rc ? errno : so;
		rc = so ? -1 : rc;
	}
	if (rc != 0) {
		*why = bg_xasprintf("%s:%u: %s", addr, port, strerror(errno));
		goto out;
	}
	err = 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	freeaddrinfo(ai);
	return err;
}
