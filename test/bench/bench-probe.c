/*
 * bench-probe: a version timeline for bench-switch.sh. Every INTERVAL ms it
 * sends one `GET PATH` (new connection, Connection: close) to HOST:PORT with
 * the given Host header and prints one line per request:
 *
 *   <start, ms since the epoch> <HTTP status, 0 = socket error> <first word
 *   of the body, "-" if none> <latency ms>
 *
 * The load itself comes from hey (the peer tool); this only says *which*
 * version answered *when*, so the script can tell when the new version
 * started serving and when requests failed. Stops on SIGINT/SIGTERM or
 * after DURATION ms. Requests time out after 2 s (status 0).
 *
 * usage: bench-probe HOST PORT HOSTHEADER PATH INTERVAL_MS DURATION_MS
 */
#include "bg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 2000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t epoch_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One request; returns the status (0 on any socket error), body word in word. */
static int probe(const struct sockaddr_in *sa, const char *req, size_t req_len, char *word,
		size_t wlen)
{
	char buf[4096];
	size_t got = 0;
	int status = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000, .tv_usec = (TIMEOUT_MS % 1000) * 1000};

	snprintf(word, wlen, "-");
	if (fd < 0) {
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 ||
			write(fd, req, req_len) != (ssize_t)req_len) {
		close(fd);
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0) {
			got = 0; /* timeout or reset: an error, whatever came before */
			break;
		}
		if (n == 0 || got + (size_t)n >= sizeof(buf) - 1) {
			got += (size_t)n;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (got == 0 || sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		return 0;
	}
	const char *body = strstr(buf, "\r\n\r\n");
	if (body) {
		body += 4;
		/* Chunked (nginx to an HTTP/1.0 CGI answer): skip the size line. */
		const char *crlf = strstr(body, "\r\n");
		if (crlf && crlf > body && strcasestr(buf, "transfer-encoding: chunked") &&
				strspn(body, "0123456789abcdefABCDEF") == (size_t)(crlf - body)) {
			body = crlf + 2;
		}
		size_t k = 0;
		while (body[k] && body[k] != '\n' && body[k] != '\r' && body[k] != ' ' &&
				k + 1 < wlen) {
			word[k] = body[k];
			k++;
		}
		word[k] = '\0';
		if (k == 0) {
			snprintf(word, wlen, "-");
		}
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: bench-probe HOST PORT HOSTHEADER PATH INTERVAL_MS "
				"DURATION_MS\n");
		return 1;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "bench-probe: %s: not an IPv4 address\n", argv[1]);
		return 1;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[2]));
	double interval = atof(argv[5]);
	double duration = atof(argv[6]);
	char *req = NULL;
	size_t req_len = 0;
	FILE *m = open_memstream(&req, &req_len);
	if (!m) {
		return 1;
	}
	fprintf(m, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bluegreen-bench-probe\r\n"
		   "Connection: close\r\n\r\n", argv[4], argv[3]);
	fclose(m);

	struct sigaction act = {.sa_handler = on_signal};
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	double t0 = mono_ms();
	double next = t0;
	while (!stop && mono_ms() - t0 < duration) {
		char word[64];
		int64_t start = epoch_ms();
		double s = mono_ms();
		int status = probe(&sa, req, req_len, word, sizeof(word));
		if (stop) {
			break; /* interrupted by the signal: not the server's doing */
		}
		printf("%" PRId64 " %d %s %.1f\n", start, status, word, mono_ms() - s);
		next += interval;
		double now = mono_ms();
		if (next > now) {
			poll(NULL, 0, (int)(next - now));
		} else {
			next = now;
		}
	}
	free(req);
	return 0;
}
