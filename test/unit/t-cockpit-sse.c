/*
 * t-cockpit-sse: the cockpit's live side without a server (issue 15):
 * the SSE framing (a newline in data never forges a field), the hub and
 * its streams on a real history (a new journal entry reaches an open
 * stream as event "journal" whose id is its seq; a changed status.json
 * as event "status"; a reconnect with Last-Event-ID is sent exactly what
 * it missed; the stream limit; a stopped hub ends a waiting stream at
 * once; over a real server on 127.0.0.1, a client that hangs up frees its
 * slot within a second, not at the next keep-alive), the scope a viewer's
 * stream is cut to, the reverse-proxy rules
 * (X-Forwarded-For believed only through trusted proxies, CIDRs compared
 * as bytes) and the TLS key's permission check.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cockpit-int.h"
#include "cockpit-net.h"
#include "cockpit-sse.h"
#include "hist.h"
#include "th.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

static char *dir, *snap_path;
static struct hist *H;
static struct cockpit *CK;
static struct ck_sse_hub *HUB;

static const char snap1[] = "{\"format\": 1, \"written_at_ms\": 1765000000000, \"sites\": ["
	"{\"site\": \"shop\", \"live\": \"blue\"}, {\"site\": \"blog\", \"live\": \"green\"}]}";
static const char snap2[] = "{\"format\": 1, \"written_at_ms\": 1765000001000, \"sites\": ["
	"{\"site\": \"shop\", \"live\": \"green\"}, {\"site\": \"blog\", \"live\": \"green\"}]}";

static uint64_t add(const char *action, const char *site, const char *result)
{
	struct hist_entry e = {.action = (char *)action, .site = (char *)site,
		.result = (char *)result, .details = (char *)"d"};
	uint64_t seq = 0;
	assert_int_equal(hist_append(H, &e, &seq), 0);
	return seq;
}

static int setup(void **state)
{
	dir = th_tmpdir("cockpit-sse");
	snap_path = bg_xasprintf("%s/status.json", dir);
	assert_int_equal(hist_open(&H, dir, 0, NULL), 0);
	add("switch", "shop", "ok");
	add("apply-end", NULL, "ok");
	th_write(dir, "status.json", snap1);
	struct cockpit_opts o = {.snapshot_path = snap_path, .hist = H};
	CK = cockpit_new(&o);
	HUB = ck_sse_hub_start(CK);
	CK->sse = HUB; /* as cockpit_serve does: /metrics counts its streams */
	return 0;
}

static int teardown(void **state)
{
	ck_sse_hub_free(HUB);
	cockpit_free(CK);
	hist_close(H);
	th_rm_rf(dir);
	free(dir);
	free(snap_path);
	return 0;
}

/* Read from s until the text holds want (or 5 s pass); returns what was read. */
static char *read_until(struct ck_sse_stream *s, const char *want)
{
	struct bg_buf b = BG_BUF_INIT;
	char buf[512];
	int64_t end = bg_now_ms() + 5000;
	bg_buf_adds(&b, "");
	while (!strstr(b.data, want) && bg_now_ms() < end) {
		ssize_t n = ck_sse_stream_read(s, buf, sizeof(buf));
		if (n < 0) {
			break;
		}
		bg_buf_add(&b, buf, (size_t)n);
	}
	if (!strstr(b.data, want)) {
		fail_msg("stream never said '%s'; it said:\n%s", want, b.data);
	}
	return bg_buf_detach(&b, NULL);
}

static void test_frame(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	ck_sse_frame(&b, true, 42, "journal", "{\"a\": 1}");
	assert_string_equal(b.data, "id: 42\nevent: journal\ndata: {\"a\": 1}\n\n");
	bg_buf_reset(&b);
	/* A line break in data starts another data line: it cannot forge "event:" or "id:". */
	ck_sse_frame(&b, false, 0, NULL, "x\nevent: evil\r\nid: 9\ry");
	assert_string_equal(b.data, "data: x\ndata: event: evil\ndata: id: 9\ndata: y\n\n");
	bg_buf_reset(&b);
	ck_sse_frame(&b, true, 0, "status", "");
	assert_string_equal(b.data, "id: 0\nevent: status\ndata: \n\n");
	bg_buf_release(&b);
}

static void test_stream_live(void **state)
{
	struct ck_sse_stream *s = ck_sse_stream_open(HUB, NULL, NULL);
	assert_non_null(s);
	/* A first connection: the retry delay and the current status, no replay. */
	char *t = read_until(s, "event: status");
	th_assert_contains(t, "retry: 2000\n\n");
	th_assert_contains(t, "id: 2\nevent: status\ndata: {\"written_at_ms\":1765000000000");
	th_assert_not_contains(t, "event: journal");
	free(t);
	/* A new entry reaches the open stream, its seq as the id. */
	uint64_t seq = add("switch", "shop", "ok");
	assert_int_equal(seq, 3);
	t = read_until(s, "event: journal");
	th_assert_contains(t, "id: 3\nevent: journal\ndata: {\"seq\":3");
	th_assert_contains(t, "\"action\":\"switch\"");
	free(t);
	/* status.json renamed over (as pubsnap does): a status event. */
	th_write(dir, "status.json.new", snap2);
	char *tmp = bg_xasprintf("%s/status.json.new", dir);
	assert_int_equal(rename(tmp, snap_path), 0);
	free(tmp);
	t = read_until(s, "1765000001000");
	th_assert_contains(t, "event: status");
	th_assert_contains(t, "{\"site\":\"shop\",\"live\":\"green\"}");
	free(t);
	ck_sse_stream_close(s);
	struct ck_sse_counts c;
	ck_sse_counts_get(HUB, &c);
	assert_int_equal(c.open, 0);
	assert_int_equal(c.opened, 1);
	assert_int_equal(c.reconnects, 0);
}

static void test_reconnect_replays(void **state)
{
	add("gate", "shop", "failed");   /* 3 */
	add("switch", "blog", "ok");     /* 4 */
	add("rollback", "shop", "ok");   /* 5 */
	/* Give the hub a poll. */
	struct timespec ts = {0, 3 * CK_SSE_POLL_MS * 1000000L};
	nanosleep(&ts, NULL);
	struct ck_sse_stream *s = ck_sse_stream_open(HUB, "3", NULL);
	char *t = read_until(s, "event: status");
	/* Exactly what came after 3, in order, then the status at 5. */
	th_assert_not_contains(t, "id: 3\n");
	char *a = strstr(t, "id: 4\nevent: journal"), *b = strstr(t, "id: 5\nevent: journal");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	th_assert_contains(t, "id: 5\nevent: status");
	free(t);
	ck_sse_stream_close(s);
	/* An id the journal never reached (another store) replays nothing. */
	s = ck_sse_stream_open(HUB, "999", NULL);
	t = read_until(s, "event: status");
	th_assert_not_contains(t, "event: journal");
	th_assert_contains(t, "id: 5\nevent: status");
	free(t);
	ck_sse_stream_close(s);
	struct ck_sse_counts c;
	ck_sse_counts_get(HUB, &c);
	assert_int_equal(c.reconnects, 2);
}

static bool only_blog(const char *site, void *arg)
{
	return site && strcmp(site, "blog") == 0;
}

static void test_scope(void **state)
{
	add("switch", "shop", "ok");  /* 3 */
	add("switch", "blog", "ok");  /* 4 */
	add("plan", NULL, "ok");      /* 5 */
	struct timespec ts = {0, 3 * CK_SSE_POLL_MS * 1000000L};
	nanosleep(&ts, NULL);
	struct ck_sse_scope sc = {only_blog, NULL};
	struct ck_sse_stream *s = ck_sse_stream_open(HUB, "2", &sc);
	char *t = read_until(s, "event: status");
	th_assert_contains(t, "id: 4\nevent: journal");
	th_assert_not_contains(t, "shop");
	th_assert_not_contains(t, "id: 3\n");
	th_assert_not_contains(t, "\"action\":\"plan\"");
	th_assert_contains(t, "\"sites\":[{\"site\":\"blog\"");
	free(t);
	ck_sse_stream_close(s);
}

static void test_limit_and_stop(void **state)
{
	struct ck_sse_stream **v = bg_xcalloc(CK_SSE_MAX_STREAMS, sizeof(*v));
	for (size_t i = 0; i < CK_SSE_MAX_STREAMS; i++) {
		v[i] = ck_sse_stream_open(HUB, NULL, NULL);
		assert_non_null(v[i]);
	}
	assert_null(ck_sse_stream_open(HUB, NULL, NULL));
	struct ck_sse_counts c;
	ck_sse_counts_get(HUB, &c);
	assert_int_equal(c.open, CK_SSE_MAX_STREAMS);
	assert_int_equal(c.refused, 1);
	for (size_t i = 1; i < CK_SSE_MAX_STREAMS; i++) {
		ck_sse_stream_close(v[i]);
	}
	/* Drain what a new stream gets, then a read waits: a stop ends it at once. */
	free(read_until(v[0], "event: status"));
	ck_sse_hub_shutdown(HUB);
	char buf[64];
	int64_t t0 = bg_now_ms();
	assert_int_equal(ck_sse_stream_read(v[0], buf, sizeof(buf)), -1);
	assert_true(bg_now_ms() - t0 < 1500);
	ck_sse_stream_close(v[0]);
	free(v);
}

/* ---- a real server: hung-up clients free their slots (issue 15 follow-up) ---- */

struct srv {
	pthread_t thr;
	volatile int stop;
	unsigned port; /* set by on_listen */
	int err;
};

static void srv_on_listen(unsigned port, void *arg)
{
	__atomic_store_n(&((struct srv *)arg)->port, port, __ATOMIC_SEQ_CST);
}

static void *srv_main(void *arg)
{
	struct srv *sv = arg;
	struct bg_diag d;
	struct cockpit_opts o = {.snapshot_path = snap_path, .hist = H, .listen = "127.0.0.1:0",
		.stop = &sv->stop, .on_listen = srv_on_listen, .on_listen_arg = sv};
	bg_diag_init(&d);
	sv->err = cockpit_serve(&o, &d);
	bg_diag_release(&d);
	return NULL;
}

/* A connected socket to the server, the request sent; -1 on failure. */
static int srv_send(unsigned port, const char *req)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
			send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	return fd;
}

/* GET /events: the open socket and its status (200 or 503) in *status. */
static int sse_open(unsigned port, int *status)
{
	char buf[256];
	size_t got = 0;
	*status = 0;
	int fd = srv_send(port, "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
	assert_true(fd >= 0);
	while (got < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n")) {
			break;
		}
	}
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", status) != 1) {
		fail_msg("GET /events answered: '%s'", buf);
	}
	return fd;
}

/* bluegreen_cockpit_event_streams from GET /metrics. */
static int srv_streams(unsigned port)
{
	struct bg_buf b = BG_BUF_INIT;
	char buf[4096];
	ssize_t n;
	int fd = srv_send(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
	assert_true(fd >= 0);
	bg_buf_adds(&b, "");
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		bg_buf_add(&b, buf, (size_t)n);
	}
	close(fd);
	const char *p = strstr(b.data, "\nbluegreen_cockpit_event_streams ");
	int v = p ? atoi(p + strlen("\nbluegreen_cockpit_event_streams ")) : -1;
	if (v < 0) {
		fail_msg("no stream count in /metrics:\n%s", b.data);
	}
	bg_buf_release(&b);
	return v;
}

/* Every stream open (half end with RST: SO_LINGER 0; half with a plain close). */
static void sse_hang_up(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0) {
			struct linger lg = {1, 0};
			setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		close(fds[i]);
		fds[i] = -1;
	}
}

/* ms until the server counts no stream (gives up after limit_ms). */
static int64_t srv_wait_drained(unsigned port, int64_t limit_ms)
{
	int64_t t0 = bg_now_ms();
	while (srv_streams(port) != 0 && bg_now_ms() - t0 < limit_ms) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return bg_now_ms() - t0;
}

/* The server's thread, listening on 127.0.0.1:0; returns the port. */
static unsigned srv_start(struct srv *sv)
{
	assert_int_equal(pthread_create(&sv->thr, NULL, srv_main, sv), 0);
	for (int i = 0; i < 500 && !__atomic_load_n(&sv->port, __ATOMIC_SEQ_CST); i++) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return __atomic_load_n(&sv->port, __ATOMIC_SEQ_CST);
}

/*
 * The bench's case: a full house of streams whose clients go while nothing
 * happens (so no write notices before the 15 s keep-alive), then a second
 * full batch. The figures are taken first and checked after the server
 * stopped, so a failure never leaves it running over the freed history.
 */
static void test_hangup_frees_slot(void **state)
{
	struct srv sv = {0};
	int st, refused = 0, *fds = bg_xcalloc(CK_SSE_MAX_STREAMS, sizeof(*fds));
	unsigned port = srv_start(&sv);
	assert_true(port > 0);
	for (size_t i = 0; i < CK_SSE_MAX_STREAMS; i++) {
		fds[i] = sse_open(port, &st);
		assert_int_equal(st, 200);
	}
	close(sse_open(port, &st));
	assert_int_equal(st, 503); /* every slot taken */
	assert_int_equal(srv_streams(port), CK_SSE_MAX_STREAMS);
	sse_hang_up(fds, CK_SSE_MAX_STREAMS);
	int64_t drained = srv_wait_drained(port, 1500);
	/* A second batch at once: each one refused is a slot a gone client still holds. */
	for (size_t i = 0; i < CK_SSE_MAX_STREAMS; i++) {
		fds[i] = sse_open(port, &st);
		refused += st != 200;
	}
	sse_hang_up(fds, CK_SSE_MAX_STREAMS);
	int64_t drained2 = srv_wait_drained(port, 20000); /* (the keep-alive's 15 s at worst) */
	sv.stop = 1;
	pthread_join(sv.thr, NULL);
	free(fds);
	print_message("# streams drained %" PRId64 " ms, then %" PRId64 " ms after the clients "
			"hung up; second batch: %d of %d refused\n", drained, drained2, refused,
			CK_SSE_MAX_STREAMS);
	assert_int_equal(sv.err, 0);
	assert_true(drained < 1500);
	assert_int_equal(refused, 0);
	assert_true(drained2 < 1500);
}

static void test_proxy_rules(void **state)
{
	struct bg_strv tr;
	char out[64];
	bg_strv_init(&tr);
	bg_strv_push(&tr, "10.0.0.0/8");
	bg_strv_push(&tr, "127.0.0.1/32");
	bg_strv_push(&tr, "fd00::/8");
	assert_true(ck_addr_trusted(&tr, "10.1.2.3"));
	assert_true(ck_addr_trusted(&tr, "127.0.0.1"));
	assert_false(ck_addr_trusted(&tr, "127.0.0.2"));
	assert_false(ck_addr_trusted(&tr, "11.0.0.1"));
	assert_true(ck_addr_trusted(&tr, "fd12::1"));
	assert_false(ck_addr_trusted(&tr, "fe80::1"));
	assert_false(ck_addr_trusted(&tr, "not-an-address"));
	assert_false(ck_addr_trusted(NULL, "10.1.2.3"));
	/* The nearest untrusted hop is the client; a forged left part is not believed. */
	assert_true(ck_xff_client(&tr, "6.6.6.6, 203.0.113.7, 10.0.0.5", out));
	assert_string_equal(out, "203.0.113.7");
	assert_true(ck_xff_client(&tr, "203.0.113.9", out));
	assert_string_equal(out, "203.0.113.9");
	/* Every hop trusted: the leftmost. */
	assert_true(ck_xff_client(&tr, "10.0.0.9,10.0.0.5", out));
	assert_string_equal(out, "10.0.0.9");
	/* Garbage stops the walk at the last readable address. */
	assert_true(ck_xff_client(&tr, "<script>, 203.0.113.7", out));
	assert_string_equal(out, "203.0.113.7");
	assert_false(ck_xff_client(&tr, "bogus", out));
	bg_strv_release(&tr);
}

static void test_tls_key_mode(void **state)
{
	struct ck_tls_files t;
	struct bg_diag d;
	char *cert = bg_xasprintf("%s/c.pem", dir), *key = bg_xasprintf("%s/k.pem", dir);
	char *link = bg_xasprintf("%s/k-link.pem", dir);
	th_write(dir, "c.pem", "-----BEGIN CERTIFICATE-----\n");
	th_write(dir, "k.pem", "-----BEGIN PRIVATE KEY-----\n");
	chmod(key, 0640);
	bg_diag_init(&d);
	assert_int_equal(ck_tls_files_read(cert, key, &t, &d), BG_EREFUSED);
	assert_int_equal(d.n, 1);
	th_assert_contains(d.items[0].msg, "readable by group or others (mode 0640)");
	bg_diag_release(&d);
	assert_null(t.key);
	chmod(key, 0600);
	assert_int_equal(symlink(key, link), 0);
	bg_diag_init(&d);
	assert_true(ck_tls_files_read(cert, link, &t, &d) != 0); /* a link is not followed */
	bg_diag_release(&d);
	bg_diag_init(&d);
	assert_int_equal(ck_tls_files_read(cert, key, &t, &d), 0);
	th_assert_contains(t.key, "PRIVATE KEY");
	ck_tls_files_release(&t);
	bg_diag_release(&d);
	free(cert);
	free(key);
	free(link);
}

static void add_at(const char *action, const char *site, const char *token,
		const char *result, int64_t ms)
{
	struct hist_entry e = {.action = (char *)action, .site = (char *)site,
		.token = (char *)token, .result = (char *)result, .time_ms = ms};
	assert_int_equal(hist_append(H, &e, NULL), 0);
}

/* `promtool check metrics` on text (stdin); its exit status. CI must have it. */
static int promtool_check(const char *text)
{
	const char *promtool = "/usr/bin/promtool";
	if (access(promtool, X_OK) != 0) {
		fail_msg("promtool is missing (Debian package prometheus)");
	}
	th_write(dir, "metrics.txt", text);
	char *path = bg_xasprintf("%s/metrics.txt", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDONLY);
		dup2(fd, 0);
		execl(promtool, "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	free(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Durations from the journal: apply start -> switch -> apply-end, per token. */
static void test_metrics_durations(void **state)
{
	int64_t t = 1765000000000;
	add_at("plan", NULL, "tok1", "ok", t - 5000);
	add_at("apply", NULL, "tok1", "started", t);
	add_at("switch", "shop", "tok1", "ok", t + 300);      /* 0.3 s: le 0.5 */
	add_at("apply-end", NULL, "tok1", "ok", t + 2000);    /* 2 s: le 2.5 */
	add_at("apply", NULL, "tok2", "started", t + 10000);
	add_at("rollback", "shop", "tok2", "ok", t + 10040);  /* 0.04 s: le 0.05 */
	add_at("apply-end", NULL, "tok2", "failed", t + 50000); /* 40 s: le 60 */
	add_at("switch", "blog", "tok-unknown", "ok", t + 60000); /* no start: not counted */
	struct ck_sse_stream *s = ck_sse_stream_open(HUB, "1", NULL);
	struct cockpit_reply r;
	cockpit_reply_init(&r);
	cockpit_handle(CK, "GET", "/metrics", NULL, "127.0.0.1", &r);
	const char *m = r.body.data;
	th_assert_contains(m, "# TYPE bluegreen_apply_duration_seconds histogram\n");
	th_assert_contains(m, "bluegreen_apply_duration_seconds_bucket{le=\"1\"} 0\n");
	th_assert_contains(m, "bluegreen_apply_duration_seconds_bucket{le=\"2.5\"} 1\n");
	th_assert_contains(m, "bluegreen_apply_duration_seconds_bucket{le=\"30\"} 1\n");
	th_assert_contains(m, "bluegreen_apply_duration_seconds_bucket{le=\"60\"} 2\n");
	th_assert_contains(m, "bluegreen_apply_duration_seconds_bucket{le=\"+Inf\"} 2\n");
	th_assert_contains(m, "bluegreen_apply_duration_seconds_sum 42.000\n");
	th_assert_contains(m, "bluegreen_switch_duration_seconds_bucket{le=\"0.05\"} 1\n");
	th_assert_contains(m, "bluegreen_switch_duration_seconds_bucket{le=\"0.5\"} 2\n");
	th_assert_contains(m, "bluegreen_switch_duration_seconds_count 2\n");
	th_assert_contains(m, "bluegreen_last_plan_timestamp_seconds 1764999995.000\n");
	th_assert_contains(m, "bluegreen_cockpit_event_streams 1\n");
	th_assert_contains(m, "bluegreen_cockpit_event_stream_reconnects_total 1\n");
	th_assert_contains(m, "bluegreen_applies_total{result=\"failed\"} 1\n");
	assert_int_equal(promtool_check(m), 0);
	cockpit_reply_release(&r);
	ck_sse_stream_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),
		cmocka_unit_test_setup_teardown(test_stream_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_replays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hangup_frees_slot, setup, teardown),
		cmocka_unit_test(test_proxy_rules),
		cmocka_unit_test_setup_teardown(test_metrics_durations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_key_mode, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
