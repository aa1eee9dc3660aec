/*
 * t-ctlsock: the control socket, both ends. The server runs in a libuv
 * loop on this thread; the blocking client (what `bluegreen apply` uses)
 * runs in a second thread, as it would in another process. Checks the
 * framing (any byte of a confirm phrase arrives intact), the streamed
 * lines and exit code, the socket's mode, refusals of bad requests, a
 * client that hangs up before its answer (the daemon's side stays valid
 * until it finishes), a stale socket file replaced, and the "no daemon"
 * answers that make `apply` converge by itself. Then what a hostile or
 * broken local client meets (issue 9, item 7): a peer of another uid is
 * refused (a real process that setuid()s to nobody before connecting),
 * connections beyond CTLS_CONN_MAX are refused, and a client that sends
 * nothing, or half a line, is disconnected at the request deadline. A
 * server that runs as nobody (a forked process) serves root and nobody and
 * refuses uid 65533. The uid cases need root (setuid), as the unit suite
 * runs in CI.
 */
#include "bg.h"
#include "bg-buf.h"
#include "ctlsock.h"
#include "th.h"

#include <stdatomic.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A raw client gives up reading after this: a test fails rather than hangs. */
#define RAW_RECV_TIMEOUT_S 10

static char *dir, *path;
/* The forked server of t_nonroot_daemon_serves_root_and_itself, killed at teardown at the latest. */
static pid_t nobody_srv;

struct server {
	uv_loop_t loop;
	struct ctls *s;
	struct ctls_request got;
	struct ctls_conn *held; /* a connection not finished yet */
	unsigned n_requests;
	unsigned n_gone;        /* ctls_gone_cb calls */
	bool hold;              /* keep the connection instead of answering */
	bool closed;
};

static void on_request(struct ctls *s, struct ctls_conn *c, const struct ctls_request *req,
		void *arg)
{
	struct server *sv = arg;
	sv->n_requests++;
	ctls_request_release(&sv->got);
	sv->got.token = bg_xstrdup(req->token);
	sv->got.logs_site = bg_xstrdup(req->logs_site); /* issue 15 */
	sv->got.logs_tail = req->logs_tail;
	bg_strv_copy(&sv->got.confirms, &req->confirms);
	sv->got.json = req->json;
	sv->got.color = req->color;
	assert_true(ctls_conn_pid(c) == (long)getpid());
	assert_true(ctls_conn_uid(c) == (long)getuid());
	if (sv->hold) {
		sv->held = c;
		return;
	}
	ctls_conn_send(c, CTLS_STATUS, "waiting 1/3");
	ctls_conn_send(c, CTLS_OUT, "[1/2] create container x\n[2/2] start container x");
	ctls_conn_sendf(c, CTLS_ERR, "bluegreen: %s", "refused: 100% sure\r");
	ctls_conn_finish(c, 4);
}

static void on_gone(struct ctls *s, struct ctls_conn *c, void *arg)
{
	struct server *sv = arg;
	assert_ptr_equal(c, sv->held);
	assert_false(ctls_conn_alive(c));
	sv->n_gone++;
}

static void on_closed(struct ctls *s, void *arg)
{
	((struct server *)arg)->closed = true;
}

struct client {
	struct ctls_request req;
	int rc, exit_code;
	char *out, *err;
	size_t olen, elen;
	const char *raw; /* send this instead of a request */
	char *raw_answer;
	int raw_err;     /* errno of a failed connect or send (asserted by the main thread) */
	atomic_int done;
};

static void client_thread(void *arg)
{
	struct client *c = arg;
	if (c->raw) {
		/* A hand-made client: send raw bytes, read the whole answer. */
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, path, strlen(path) + 1);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct timeval tv = {.tv_sec = RAW_RECV_TIMEOUT_S};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || (*c->raw &&
				send(fd, c->raw, strlen(c->raw), MSG_NOSIGNAL) != (ssize_t)strlen(c->raw))) {
			c->raw_err = errno;
			close(fd);
			atomic_store(&c->done, 1);
			return;
		}
		struct bg_buf b = BG_BUF_INIT;
		char buf[4096];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			bg_buf_add(&b, buf, (size_t)n);
		}
		close(fd);
		c->raw_answer = bg_buf_detach(&b, NULL);
		atomic_store(&c->done, 1);
		return;
	}
	FILE *o = open_memstream(&c->out, &c->olen);
	FILE *e = open_memstream(&c->err, &c->elen);
	c->rc = ctls_client_apply(path, &c->req, o, e, &c->exit_code);
	fclose(o);
	fclose(e);
	atomic_store(&c->done, 1);
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Run the loop until the client thread is done. */
static void run_with_client(struct server *sv, struct client *c)
{
	uv_thread_t th;
	uv_timer_t tick;
	uv_timer_init(&sv->loop, &tick);
	/* The loop must notice the thread's end: wake it every 10 ms. */
	uv_timer_start(&tick, on_tick, 10, 10);
	assert_int_equal(uv_thread_create(&th, client_thread, c), 0);
	for (int i = 0; i < 1000 && !atomic_load(&c->done); i++) {
		uv_run(&sv->loop, UV_RUN_ONCE);
	}
	uv_thread_join(&th);
	if (c->raw_err) {
		th_print_error("raw client: %s (sent '%s')\n", strerror(c->raw_err), c->raw);
	}
	assert_int_equal(c->raw_err, 0);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(&sv->loop, UV_RUN_NOWAIT);
}

static void server_start(struct server *sv)
{
	struct bg_diag d;
	memset(sv, 0, sizeof(*sv));
	ctls_request_init(&sv->got);
	assert_int_equal(uv_loop_init(&sv->loop), 0);
	bg_diag_init(&d);
	assert_int_equal(ctls_listen(&sv->s, &sv->loop, path, on_request, sv, &d), 0);
	bg_diag_release(&d);
}

static void server_stop(struct server *sv)
{
	ctls_close(sv->s, on_closed);
	uv_run(&sv->loop, UV_RUN_DEFAULT);
	assert_true(sv->closed);
	assert_int_equal(access(path, F_OK), -1); /* the socket file is gone */
	assert_int_equal(uv_loop_close(&sv->loop), 0);
	ctls_request_release(&sv->got);
}

static int setup(void **state)
{
	dir = th_tmpdir("ctls");
	path = bg_xasprintf("%s/control.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	if (nobody_srv > 0) {
		kill(nobody_srv, SIGKILL);
		waitpid(nobody_srv, NULL, 0);
		nobody_srv = 0;
	}
	th_rm_rf(dir);
	free(dir);
	free(path);
	return 0;
}

static void t_encode_roundtrip(void **state)
{
	const char *cases[] = {"", "plain", "100%", "a\nb\r\nc", "%0A is not a newline",
			"DEPLOY \"SHOP\" PROD", "%", "%zz", "\xc3\xa9t\xc3\xa9"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		char *e = ctls_encode(cases[i]);
		assert_null(strchr(e, '\n'));
		assert_null(strchr(e, '\r'));
		char *d = ctls_decode(e);
		assert_string_equal(d, cases[i]);
		free(d);
		free(e);
	}
}

static void t_request_and_answer(void **state)
{
	struct server sv;
	struct client c;
	struct stat st;

	server_start(&sv);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	memset(&c, 0, sizeof(c));
	ctls_request_init(&c.req);
	c.req.token = bg_xstrdup("0123456789abcdef");
	bg_strv_push(&c.req.confirms, "DEPLOY SHOP\nPROD 100%");
	bg_strv_push(&c.req.confirms, "second");
	c.req.json = true;
	run_with_client(&sv, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.exit_code, 4);
	assert_int_equal(sv.n_requests, 1);
	assert_string_equal(sv.got.token, "0123456789abcdef");
	assert_int_equal(sv.got.confirms.n, 2);
	assert_string_equal(sv.got.confirms.v[0], "DEPLOY SHOP\nPROD 100%");
	assert_true(sv.got.json);
	assert_false(sv.got.color);
	/* stdout lines in order; status lines only on a terminal (not here). */
	assert_string_equal(c.out, "[1/2] create container x\n[2/2] start container x\n");
	assert_string_equal(c.err, "bluegreen: refused: 100% sure\r\n");
	free(c.out);
	free(c.err);
	ctls_request_release(&c.req);
	server_stop(&sv);
}

static void t_bad_requests(void **state)
{
	struct server sv;
	const char *bad[] = {
		"hello 2\napply x\ngo\n",                       /* wrong protocol */
		CTLS_HELLO "\ngo\n",                            /* no token */
		CTLS_HELLO "\napply 0123456789abcdef\nfrobnicate\ngo\n", /* unknown line */
	};
	server_start(&sv);
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
		struct client c;
		memset(&c, 0, sizeof(c));
		c.raw = bad[i];
		run_with_client(&sv, &c);
		assert_non_null(c.raw_answer);
		th_assert_contains(c.raw_answer, "err bluegreen: error:");
		th_assert_contains(c.raw_answer, "exit 1\n");
		free(c.raw_answer);
	}
	assert_int_equal(sv.n_requests, 0);
	server_stop(&sv);
}

/* issue 15: "logs SITE" and "tail N" (logsreq.h): framing and bounds, parser only. */
static void t_logs_request_framing(void **state)
{
	struct {
		const char *text;
		enum ctls_parse_rc rc;
		const char *site;
		unsigned tail;
	} cases[] = {
		{CTLS_HELLO "\nlogs shop\ngo\n", CTLS_PARSE_DONE, "shop", 0},
		{CTLS_HELLO "\nlogs shop\ntail 200\ngo\n", CTLS_PARSE_DONE, "shop", 200},
		{CTLS_HELLO "\ntail 7\r\nlogs a%25b\r\ngo\r\n", CTLS_PARSE_DONE, "a%b", 7},
		{CTLS_HELLO "\nlogs shop\ntail 0\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs shop\ntail 201\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs shop\ntail 1000\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs shop\ntail -5\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs shop\ntail 5x\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs shop\ntail 5\ntail 6\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\ntail 5\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},     /* a tail of nothing */
		{CTLS_HELLO "\napply 0123456789abcdef\ntail 5\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\napply 0123456789abcdef\nlogs shop\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs shop\nrollback shop\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
		{CTLS_HELLO "\nlogs a\nlogs b\ngo\n", CTLS_PARSE_REFUSED, NULL, 0},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		struct ctls_parser p;
		char *why = NULL;
		ctls_parser_init(&p);
		enum ctls_parse_rc rc = ctls_parser_feed(&p, cases[i].text, strlen(cases[i].text),
				&why);
		if (rc != cases[i].rc) {
			fail_msg("case %zu: rc %d, not %d (%s)", i, rc, cases[i].rc, why ? why : "");
		}
		if (rc == CTLS_PARSE_DONE) {
			assert_null(why);
			assert_string_equal(p.req.logs_site, cases[i].site);
			assert_int_equal(p.req.logs_tail, cases[i].tail);
			assert_null(p.req.token);
			assert_null(p.req.rollback_site);
		} else {
			assert_non_null(why);
		}
		free(why);
		ctls_parser_release(&p);
	}
}

/* issue 15: the client sends "logs SITE" and "tail N"; the answer comes back as for an apply. */
static void t_logs_round_trip(void **state)
{
	struct server sv;
	struct client c;

	server_start(&sv);
	memset(&c, 0, sizeof(c));
	ctls_request_init(&c.req);
	c.req.logs_site = bg_xstrdup("shop");
	c.req.logs_tail = 12;
	run_with_client(&sv, &c);
	assert_int_equal(c.rc, 0);
	assert_int_equal(sv.n_requests, 1);
	assert_null(sv.got.token);
	assert_string_equal(sv.got.logs_site, "shop");
	assert_int_equal(sv.got.logs_tail, 12);
	free(c.out);
	free(c.err);
	ctls_request_release(&c.req);
	server_stop(&sv);
}

static void t_answer_later(void **state)
{
	struct server sv;
	struct client c;
	server_start(&sv);
	sv.hold = true;
	memset(&c, 0, sizeof(c));
	/* The client waits while the daemon holds its request (an apply running). */
	c.raw = CTLS_HELLO "\napply 0123456789abcdef\ngo\n";
	uv_thread_t th;
	assert_int_equal(uv_thread_create(&th, client_thread, &c), 0);
	while (!sv.held) {
		uv_run(&sv.loop, UV_RUN_ONCE);
	}
	for (int i = 0; i < 5; i++) {
		uv_run(&sv.loop, UV_RUN_NOWAIT);
	}
	assert_true(ctls_conn_alive(sv.held));
	ctls_conn_send(sv.held, CTLS_OUT, "late line");
	ctls_conn_finish(sv.held, 0);
	sv.held = NULL;
	for (int i = 0; i < 500 && !atomic_load(&c.done); i++) {
		uv_run(&sv.loop, UV_RUN_NOWAIT);
		usleep(2000);
	}
	uv_thread_join(&th);
	assert_int_equal(c.raw_err, 0);
	th_assert_contains(c.raw_answer, "out late line\nexit 0\n");
	free(c.raw_answer);
	server_stop(&sv);
}

static void t_held_conn_survives_close_order(void **state)
{
	struct server sv;
	server_start(&sv);
	sv.hold = true;
	ctls_set_gone_cb(sv.s, on_gone);
	/* A real client that gives up: connect, send, close at once. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	const char *req = CTLS_HELLO "\napply 0123456789abcdef\ngo\n";
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	while (!sv.held) {
		uv_run(&sv.loop, UV_RUN_ONCE);
	}
	close(fd);
	for (int i = 0; i < 20; i++) {
		uv_run(&sv.loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	assert_false(ctls_conn_alive(sv.held));
	assert_int_equal(sv.n_gone, 1); /* the daemon is told, so it can drop a queued request */
	/* Sends to a gone client are dropped; finishing frees it (valgrind). */
	ctls_conn_send(sv.held, CTLS_OUT, "nobody reads this");
	ctls_conn_finish(sv.held, 5);
	sv.held = NULL;
	server_stop(&sv);
}

static void t_no_daemon_and_stale_socket(void **state)
{
	struct ctls_request req;
	int code = -1;
	ctls_request_init(&req);
	req.token = bg_xstrdup("0123456789abcdef");
	/* Nothing there: apply converges by itself. */
	assert_int_equal(ctls_client_apply(path, &req, stdout, stderr, &code),
			BG_ERRNO(ENOENT));
	/* A dead daemon's socket file: refused, and a new daemon replaces it. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(ctls_client_apply(path, &req, stdout, stderr, &code),
			BG_ERRNO(ECONNREFUSED));
	struct server sv;
	server_start(&sv);
	server_stop(&sv);
	/* A path a unix socket cannot hold is refused, never truncated. */
	char *longp = bg_xasprintf("%s/%0200d.sock", dir, 0);
	struct bg_diag d;
	struct ctls *s = NULL;
	uv_loop_t loop;
	uv_loop_init(&loop);
	bg_diag_init(&d);
	assert_int_equal(ctls_listen(&s, &loop, longp, on_request, NULL, &d),
			BG_ERRNO(ENAMETOOLONG));
	th_assert_contains(d.items[0].msg, "too long");
	assert_int_equal(ctls_client_apply(longp, &req, stdout, stderr, &code),
			BG_ERRNO(ENAMETOOLONG));
	bg_diag_release(&d);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(longp);
	ctls_request_release(&req);
}

/* ---- hostile or broken clients ---- */

/* Connect without sending anything; the caller runs the loop. */
static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void t_peer_of_another_uid_refused(void **state)
{
	struct server sv;
	int pfd[2];
	server_start(&sv);
	/* Reachable by anybody, as if an operator had loosened the modes by hand. */
	assert_int_equal(chmod(dir, 0711), 0);
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child: nobody, with a real request; the answer goes to the pipe. */
		close(pfd[0]);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
			_exit(2);
		}
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, path, strlen(path) + 1);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct timeval tv = {.tv_sec = RAW_RECV_TIMEOUT_S};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		const char *req = CTLS_HELLO "\napply 0123456789abcdef\ngo\n";
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			_exit(3);
		}
		if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
			_exit(4);
		}
		char buf[4096];
		ssize_t n;
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			if (write(pfd[1], buf, (size_t)n) != n) {
				_exit(5);
			}
		}
		_exit(0);
	}
	close(pfd[1]);
	int status = -1;
	for (int i = 0; i < 5000; i++) {
		uv_run(&sv.loop, UV_RUN_NOWAIT);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			break;
		}
		usleep(2000);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	struct bg_buf b = BG_BUF_INIT;
	char buf[4096];
	ssize_t n;
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0) {
		bg_buf_add(&b, buf, (size_t)n);
	}
	close(pfd[0]);
	th_assert_contains(b.data, "err bluegreen: error: the watch daemon accepts control "
			"requests only from root and uid 0 (you are uid 65534)");
	th_assert_contains(b.data, "exit 1\n");
	assert_int_equal(sv.n_requests, 0);
	bg_buf_release(&b);
	assert_int_equal(chmod(dir, 0700), 0);
	server_stop(&sv);
}

/* ---- a daemon that is not root: who it serves ---- */

static void on_request_plain(struct ctls *s, struct ctls_conn *c, const struct ctls_request *req,
		void *arg)
{
	ctls_conn_sendf(c, CTLS_OUT, "served uid %ld", ctls_conn_uid(c));
	ctls_conn_finish(c, 4);
}

/* The server process: uid 65534, its socket reachable by anyone. Never returns. */
static void nobody_server(const char *sdir, const char *spath)
{
	uv_loop_t loop;
	struct ctls *s = NULL;
	if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
		_exit(2);
	}
	if (uv_loop_init(&loop) != 0 || ctls_listen(&s, &loop, spath, on_request_plain, NULL,
			NULL) != 0 || chmod(spath, 0666) != 0) {
		_exit(3);
	}
	(void)sdir;
	uv_run(&loop, UV_RUN_DEFAULT); /* until the test kills it */
	_exit(4);
}

/* Run a client as uid (fork + setuid unless 0); returns what the daemon answered. */
static char *answer_as(const char *spath, uid_t uid)
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (uid != 0 && (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) {
			_exit(2);
		}
		struct ctls_request req;
		int code = -1;
		ctls_request_init(&req);
		req.token = bg_xstrdup("0123456789abcdef");
		FILE *o = fdopen(pfd[1], "w");
		int rc = ctls_client_apply(spath, &req, o, o, &code);
		fprintf(o, "rc %d code %d\n", rc, code);
		fclose(o);
		ctls_request_release(&req); /* valgrind checks the child's leaks too */
		_exit(0);
	}
	close(pfd[1]);
	struct bg_buf b = BG_BUF_INIT;
	char buf[4096];
	ssize_t n;
	while ((n = read(pfd[0], buf, sizeof(buf))) > 0) {
		bg_buf_add(&b, buf, (size_t)n);
	}
	close(pfd[0]);
	int st = -1;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return bg_buf_detach(&b, NULL);
}

static void t_nonroot_daemon_serves_root_and_itself(void **state)
{
	/* Not on the heap: the forked children exit under valgrind's leak check. */
	static char sdir[256], spath[300];
	snprintf(sdir, sizeof(sdir), "%s/nobody", dir);
	snprintf(spath, sizeof(spath), "%s/control.sock", sdir);
	assert_int_equal(mkdir(sdir, 0755), 0);
	assert_int_equal(chown(sdir, 65534, 65534), 0);
	assert_int_equal(chmod(dir, 0711), 0);
	pid_t srv = fork();
	assert_true(srv >= 0);
	if (srv == 0) {
		nobody_server(sdir, spath);
	}
	nobody_srv = srv;
	struct stat st;
	for (int i = 0; i < 500 && stat(spath, &st) != 0; i++) {
		usleep(10000);
	}
	assert_int_equal(stat(spath, &st), 0);
	usleep(50000); /* chmod 0666 right after the bind */

	char *a = answer_as(spath, 0);
	th_assert_contains(a, "served uid 0\nrc 0 code 4\n");
	free(a);
	a = answer_as(spath, 65534);
	th_assert_contains(a, "served uid 65534\nrc 0 code 4\n");
	free(a);
	a = answer_as(spath, 65533);
	th_assert_contains(a, "bluegreen: error: the watch daemon accepts control requests only "
			"from root and uid 65534 (you are uid 65533)");
	th_assert_contains(a, "rc 0 code 1\n");
	th_assert_not_contains(a, "served");
	free(a);

	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	nobody_srv = 0;
	assert_int_equal(chmod(dir, 0700), 0);
}

static void t_connection_cap(void **state)
{
	struct server sv;
	int fds[CTLS_CONN_MAX];
	server_start(&sv);
	/* CTLS_CONN_MAX idle clients, each accepted before the next connects. */
	for (size_t i = 0; i < CTLS_CONN_MAX; i++) {
		fds[i] = raw_connect();
		for (int k = 0; k < 3; k++) {
			uv_run(&sv.loop, UV_RUN_NOWAIT);
		}
	}
	struct client c;
	memset(&c, 0, sizeof(c));
	/*
	 * Nothing sent: the daemon may refuse before the client's send, which
	 * then fails (EPIPE); ctls_client_apply reads the answer anyway, a raw
	 * client here would only report the failed send.
	 */
	c.raw = "";
	run_with_client(&sv, &c);
	assert_non_null(c.raw_answer);
	th_assert_contains(c.raw_answer, "err bluegreen: error: the watch daemon has too many "
			"control connections open");
	th_assert_contains(c.raw_answer, "exit 1\n");
	assert_int_equal(sv.n_requests, 0);
	free(c.raw_answer);
	/* `bluegreen apply`'s client prints the refusal, whenever its send fails. */
	for (int k = 0; k < 5; k++) {
		memset(&c, 0, sizeof(c));
		ctls_request_init(&c.req);
		c.req.token = bg_xstrdup("0123456789abcdef");
		run_with_client(&sv, &c);
		assert_int_equal(c.rc, 0);
		assert_int_equal(c.exit_code, 1);
		th_assert_contains(c.err, "too many control connections open");
		assert_int_equal(sv.n_requests, 0);
		free(c.out);
		free(c.err);
		ctls_request_release(&c.req);
	}
	/* One leaves: the next client is served. */
	close(fds[0]);
	for (int k = 0; k < 20; k++) {
		uv_run(&sv.loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	memset(&c, 0, sizeof(c));
	c.raw = CTLS_HELLO "\napply 0123456789abcdef\ngo\n";
	run_with_client(&sv, &c);
	th_assert_contains(c.raw_answer, "exit 4\n");
	assert_int_equal(sv.n_requests, 1);
	free(c.raw_answer);
	for (size_t i = 1; i < CTLS_CONN_MAX; i++) {
		close(fds[i]);
	}
	server_stop(&sv);
}

static void t_idle_clients_disconnected(void **state)
{
	/* Nothing at all, half a line, a request without "go". */
	const char *stalls[] = {"", CTLS_HELLO "\napply 0123", CTLS_HELLO "\napply "
			"0123456789abcdef\n"};
	struct server sv;
	server_start(&sv);
	ctls_set_request_timeout(sv.s, 200);
	for (size_t i = 0; i < BG_ARRAY_SIZE(stalls); i++) {
		struct client c;
		memset(&c, 0, sizeof(c));
		c.raw = stalls[i];
		int64_t t0 = bg_mono_ms();
		run_with_client(&sv, &c);
		int64_t took = bg_mono_ms() - t0;
		assert_non_null(c.raw_answer);
		th_assert_contains(c.raw_answer, "err bluegreen: error: no complete control request "
				"in time: disconnected\n");
		th_assert_contains(c.raw_answer, "exit 1\n");
		assert_true(took >= 200);
		assert_true(took < th_time_limit(5000));
		free(c.raw_answer);
	}
	assert_int_equal(sv.n_requests, 0);
	server_stop(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_encode_roundtrip),
		cmocka_unit_test(t_request_and_answer),
		cmocka_unit_test(t_bad_requests),
		cmocka_unit_test(t_logs_request_framing),
		cmocka_unit_test(t_logs_round_trip),
		cmocka_unit_test(t_answer_later),
		cmocka_unit_test(t_held_conn_survives_close_order),
		cmocka_unit_test(t_no_daemon_and_stale_socket),
		cmocka_unit_test(t_peer_of_another_uid_refused),
		cmocka_unit_test(t_nonroot_daemon_serves_root_and_itself),
		cmocka_unit_test(t_connection_cap),
		cmocka_unit_test(t_idle_clients_disconnected),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
