/*
 * e2e-load: see e2e-load.h. Plain sockets rather than curl or hey: the
 * body check needs the answer itself, and one connection per request is
 * what makes a request that reached a stopped colour show up as a failure.
 */
#include "bg.h"
#include "e2e-load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct e2e_load {
	int port;
	const char *host;
	const char *const *bodies;
	atomic_int stop;
	pthread_t thread;
	struct e2e_load_result res;
};

static bool load_body_ok(const struct e2e_load *l, const char *body)
{
	for (const char *const *b = l->bodies; *b; b++) {
		if (strncmp(body, *b, strlen(*b)) == 0) {
			return true;
		}
	}
	return false;
}

static bool load_one(const struct e2e_load *l, char *why, size_t whyn)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)l->port)};
	struct timeval tv = {.tv_sec = 5};
	char req[256], buf[1024];
	size_t got = 0;
	bool ok = false;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0) {
		snprintf(why, whyn, "socket: %s", strerror(errno));
		return false;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			l->host);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || write(fd, req, (size_t)n) != n) {
		snprintf(why, whyn, "connect/write: %s", strerror(errno));
		goto out;
	}
	for (ssize_t r; got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0;) {
		got += (size_t)r;
	}
	buf[got] = '\0';
	const char *body = strstr(buf, "\r\n\r\n");
	ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 && body && load_body_ok(l, body + 4);
	if (!ok) {
		snprintf(why, whyn, "%.120s", got ? buf : "(no answer)");
	}
out:
	close(fd);
	return ok;
}

static void *load_run(void *arg)
{
	struct e2e_load *l = arg;
	char why[160];
	while (!atomic_load(&l->stop)) {
		if (load_one(l, why, sizeof(why))) {
			l->res.ok++;
		} else {
			l->res.failed++;
			snprintf(l->res.last_fail, sizeof(l->res.last_fail), "%s", why);
		}
	}
	return NULL;
}

struct e2e_load *e2e_load_start(const struct e2e *e, const char *host,
		const char *const *bodies)
{
	struct e2e_load *l = calloc(1, sizeof(*l));
	assert_non_null(l);
	l->port = e->port;
	l->host = host;
	l->bodies = bodies;
	assert_int_equal(pthread_create(&l->thread, NULL, load_run, l), 0);
	return l;
}

struct e2e_load_result e2e_load_stop(struct e2e_load *l)
{
	atomic_store(&l->stop, 1);
	pthread_join(l->thread, NULL);
	struct e2e_load_result r = l->res;
	free(l);
	return r;
}

void e2e_load_assert(const struct e2e_load_result *r, const char *what)
{
	printf("# load during %s: %u ok, %u failed%s%s\n", what, r->ok, r->failed,
			r->failed ? ", last: " : "", r->last_fail);
	assert_true(r->ok > 10);
	assert_int_equal(r->failed, 0);
}
