/*
 * ctlsock: see ctlsock.h. The server side is a uv_pipe_t listening on the
 * socket path, one uv_pipe_t (and one uv_timer_t, the request deadline) per
 * client. A connection lives until two things have happened: its handles
 * are closed (client gone, or the answer written) and, if its request was
 * handed to the daemon, the daemon has finished it. Either may come first:
 * a client that hangs up in the middle of an apply does not stop the apply
 * (the daemon's sends then go nowhere), and an answer is never written to
 * freed memory. The server itself is freed only after its last connection.
 *
 * Who may talk to it: the socket file is 0600 in a 0700 directory, and on
 * top of that each peer's uid (SO_PEERCRED, which the kernel fills in: a
 * client cannot forge it) must be root's or the daemon's own. A mode
 * loosened by hand, or a socket path reached some other way (a container
 * given the state directory), must not let anybody else hand over applies.
 * The rest is about a client that misbehaves, on purpose or not: a bounded
 * number of connections, a deadline for the whole request, and bounded
 * lines and requests.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-log.h"
#include "ctlsock.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct ctls {
	uv_loop_t *loop;
	uv_pipe_t pipe;
	char *path;
	ctls_request_cb cb;
	void *arg;
	ctls_closed_cb closed_cb;
	ctls_gone_cb gone_cb;
	bool closing;
	unsigned refs;    /* the listening handle + every connection not yet freed */
	unsigned n_open;  /* connections whose handle is not closing (the cap counts these) */
	uint64_t request_timeout_ms;
	uid_t uid;        /* ours: peers with this uid (or root's) are served */
	struct ctls_conn *conns;
};

struct ctls_conn {
	struct ctls *s;
	uv_pipe_t h;
	uv_timer_t deadline; /* from accept to "go": a client that stalls is dropped */
	struct ctls_parser p;
	bool dispatched;    /* handed to the request callback */
	bool finished;      /* ... and given back with ctls_conn_finish */
	bool closing;       /* uv_close called on h (and the timer) */
	unsigned handles;   /* handles not closed yet (h, deadline) */
	long pid, uid;
	struct ctls_conn *prev, *next;
};

struct wreq {
	uv_write_t w;
	struct ctls_conn *c;
	bool close_after;
	size_t len;
	char data[];
};

void ctls_request_init(struct ctls_request *r)
{
	memset(r, 0, sizeof(*r));
	bg_strv_init(&r->confirms);
}

void ctls_request_release(struct ctls_request *r)
{
	if (!r) {
		return;
	}
	free(r->token);
	free(r->rollback_site);
	bg_strv_release(&r->confirms);
	free(r->actor);
	free(r->logs_site);
	ctls_request_init(r);
}

/* ---- framing ---- */

char *ctls_encode(const char *s)
{
	struct bg_buf b = BG_BUF_INIT;
	for (const char *p = s ? s : ""; *p; p++) {
		if (*p == '%' || *p == '\n' || *p == '\r') {
			bg_buf_addf(&b, "%%%02X", (unsigned char)*p);
		} else {
			bg_buf_addch(&b, *p);
		}
	}
	return bg_buf_detach(&b, NULL);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

char *ctls_decode(const char *s)
{
	struct bg_buf b = BG_BUF_INIT;
	for (const char *p = s ? s : ""; *p; p++) {
		int hi, lo;
		if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
				(hi || lo)) {
			bg_buf_addch(&b, (char)(hi * 16 + lo));
			p += 2;
		} else {
			/* A stray '%' (or an encoded NUL) is kept as written. */
			bg_buf_addch(&b, *p);
		}
	}
	return bg_buf_detach(&b, NULL);
}

/* ---- the request parser ---- */

void ctls_parser_init(struct ctls_parser *p)
{
	memset(p, 0, sizeof(*p));
	ctls_request_init(&p->req);
	bg_buf_init(&p->in, CTLS_LINE_MAX);
}

void ctls_parser_release(struct ctls_parser *p)
{
	if (!p) {
		return;
	}
	ctls_request_release(&p->req);
	bg_buf_release(&p->in);
	ctls_parser_init(p);
}

/* issue 15: "tail N", 1..CTLS_LOGS_TAIL_MAX, digits only. */
static enum ctls_parse_rc parse_tail(struct ctls_request *r, const char *v, char **why)
{
	unsigned n = 0;
	size_t k = strspn(v, "0123456789");
	if (k == 0 || k > 3 || v[k]) {
		*why = bg_xstrdup("control request with a bad tail (a number of lines)");
		return CTLS_PARSE_REFUSED;
	}
	for (size_t i = 0; i < k; i++) {
		n = n * 10 + (unsigned)(v[i] - '0');
	}
	if (n == 0 || n > CTLS_LOGS_TAIL_MAX) {
		*why = bg_xasprintf("control request with a tail of %u lines (1 to %u)", n,
				CTLS_LOGS_TAIL_MAX);
		return CTLS_PARSE_REFUSED;
	}
	r->logs_tail = n;
	return CTLS_PARSE_MORE;
}

/* One request line: MORE, DONE (after "go") or REFUSED with *why set. */
static enum ctls_parse_rc parse_line(struct ctls_parser *p, char *line, char **why)
{
	struct ctls_request *r = &p->req;
	size_t n = strlen(line);
	if (n && line[n - 1] == '\r') {
		line[--n] = '\0';
	}
	if (++p->n_lines > CTLS_REQUEST_LINES_MAX) {
		*why = bg_xstrdup("control request too long");
		return CTLS_PARSE_REFUSED;
	}
	if (!p->hello) {
		if (strcmp(line, CTLS_HELLO) != 0) {
			*why = bg_xstrdup("this watch daemon speaks the control protocol '"
					CTLS_HELLO "' (is `bluegreen apply` from another version?)");
			return CTLS_PARSE_REFUSED;
		}
		p->hello = true;
		return CTLS_PARSE_MORE;
	}
	bool verb = r->token || r->rollback_site || r->logs_site;
	if (bg_str_has_prefix(line, "apply ") && !verb) {
		r->token = ctls_decode(line + strlen("apply "));
	} else if (bg_str_has_prefix(line, "logs ") && !verb) {
		r->logs_site = ctls_decode(line + strlen("logs ")); /* issue 15 */
	} else if (bg_str_has_prefix(line, "tail ") && !r->logs_tail) {
		return parse_tail(r, line + strlen("tail "), why);
	} else if (bg_str_has_prefix(line, "rollback ") && !verb) {
		r->rollback_site = ctls_decode(line + strlen("rollback "));
	} else if (bg_str_has_prefix(line, "confirm ")) {
		bg_strv_push_take(&r->confirms, ctls_decode(line + strlen("confirm ")));
	} else if (strcmp(line, "option json") == 0) {
		r->json = true;
	} else if (strcmp(line, "option color") == 0) {
		r->color = true;
	} else if (bg_str_has_prefix(line, "actor ") && !r->actor) {
		/* issue 15: "cockpit:" and a cockpit user name, nothing else (it is journaled). */
		const char *a = line + strlen("actor ");
		size_t an = strspn(a + (bg_str_has_prefix(a, "cockpit:") ? 8 : 0),
				"abcdefghijklmnopqrstuvwxyz0123456789._-");
		if (!bg_str_has_prefix(a, "cockpit:") || an == 0 || an > 32 || a[8 + an]) {
			*why = bg_xstrdup("control request with a bad actor (cockpit:USER)");
			return CTLS_PARSE_REFUSED;
		}
		r->actor = bg_xstrdup(a);
	} else if (strcmp(line, "go") == 0) {
		if (!verb) {
			*why = bg_xstrdup("control request without a token or a rollback");
			return CTLS_PARSE_REFUSED;
		}
		if (r->logs_tail && !r->logs_site) {
			*why = bg_xstrdup("control request with a tail but no logs");
			return CTLS_PARSE_REFUSED;
		}
		return CTLS_PARSE_DONE;
	} else {
		/*
		 * Unknown lines are refused: a newer client must not believe it was
		 * heard. Only the verb is shown, made printable: the rest may be a
		 * secret typed on the wrong line.
		 */
		char shown[24];
		size_t k = 0;
		for (const char *q = line; *q && *q != ' ' && k < sizeof(shown) - 1; q++) {
			shown[k++] = (unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f ? '?' : *q;
		}
		shown[k] = '\0';
		*why = bg_xasprintf("unknown control request '%s'", shown);
		return CTLS_PARSE_REFUSED;
	}
	return CTLS_PARSE_MORE;
}

enum ctls_parse_rc ctls_parser_feed(struct ctls_parser *p, const char *data, size_t len,
		char **why)
{
	enum ctls_parse_rc rc = CTLS_PARSE_MORE;

	*why = NULL;
	if (p->rc != CTLS_PARSE_MORE) {
		/* What follows "go" (or a refusal) is not read. */
		if (p->rc == CTLS_PARSE_REFUSED) {
			*why = bg_xstrdup("control request already refused");
		}
		return p->rc;
	}
	if (bg_buf_add(&p->in, data, len) != 0) {
		*why = bg_xstrdup("control request too long");
		bg_buf_release(&p->in);
		p->rc = CTLS_PARSE_REFUSED;
		return p->rc;
	}
	char *start = p->in.data, *nl;
	while (rc == CTLS_PARSE_MORE &&
			(nl = memchr(start, '\n', p->in.len - (size_t)(start - p->in.data)))) {
		*nl = '\0';
		rc = parse_line(p, start, why);
		start = nl + 1;
	}
	if (rc != CTLS_PARSE_MORE) {
		p->rc = rc;
		bg_buf_release(&p->in);
		return rc;
	}
	size_t rest = p->in.len - (size_t)(start - p->in.data);
	memmove(p->in.data, start, rest);
	p->in.len = rest;
	p->in.data[rest] = '\0';
	return CTLS_PARSE_MORE;
}

/* ---- server ---- */

static void server_unref(struct ctls *s)
{
	if (--s->refs > 0) {
		return;
	}
	if (s->closed_cb) {
		s->closed_cb(s, s->arg);
	}
	free(s->path);
	free(s);
}

static void conn_maybe_free(struct ctls_conn *c)
{
	if (c->handles > 0 || (c->dispatched && !c->finished)) {
		return;
	}
	struct ctls *s = c->s;
	if (c->prev) {
		c->prev->next = c->next;
	} else {
		s->conns = c->next;
	}
	if (c->next) {
		c->next->prev = c->prev;
	}
	ctls_parser_release(&c->p);
	free(c);
	server_unref(s);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct ctls_conn *c = h->data;
	c->handles--;
	conn_maybe_free(c);
}

static void conn_close(struct ctls_conn *c)
{
	if (!c->closing) {
		c->closing = true;
		c->s->n_open--;
		uv_close((uv_handle_t *)&c->deadline, on_conn_handle_closed);
		uv_close((uv_handle_t *)&c->h, on_conn_handle_closed);
	}
}

static void on_write(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct ctls_conn *c = wr->c;
	if (status < 0 || wr->close_after) {
		/* EPIPE: the client left; nothing more can reach it. */
		conn_close(c);
	}
	free(wr);
}

bool ctls_conn_alive(const struct ctls_conn *c)
{
	return c && !c->closing;
}

static void conn_write(struct ctls_conn *c, const char *data, size_t len, bool close_after)
{
	if (!ctls_conn_alive(c)) {
		return;
	}
	struct wreq *wr = bg_xmalloc(sizeof(*wr) + len);
	memcpy(wr->data, data, len);
	wr->len = len;
	wr->c = c;
	wr->close_after = close_after;
	uv_buf_t buf = uv_buf_init(wr->data, (unsigned)len);
	int err = uv_write(&wr->w, (uv_stream_t *)&c->h, &buf, 1, on_write);
	if (err) {
		free(wr);
		conn_close(c);
	}
}

static const char *chan_name(enum ctls_chan chan)
{
	switch (chan) {
	case CTLS_ERR:
		return "err";
	case CTLS_STATUS:
		return "status";
	default:
		return "out";
	}
}

void ctls_conn_send(struct ctls_conn *c, enum ctls_chan chan, const char *text)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *p = text ? text : "";

	if (!ctls_conn_alive(c)) {
		return;
	}
	/* One protocol line per text line; a final newline ends the last one. */
	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = bg_xstrndup(p, n);
		char *enc = ctls_encode(line);
		bg_buf_addf(&b, "%s %s\n", chan_name(chan), enc);
		free(enc);
		free(line);
		p = nl ? nl + 1 : p + n;
	} while (*p);
	conn_write(c, b.data, b.len, false);
	bg_buf_release(&b);
}

void ctls_conn_sendf(struct ctls_conn *c, enum ctls_chan chan, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = bg_xvasprintf(fmt, ap);
	va_end(ap);
	ctls_conn_send(c, chan, text);
	free(text);
}

/* Answer and close; a connection never dispatched is freed once closed. */
static void conn_end(struct ctls_conn *c, int exit_code)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "exit %d\n", exit_code);
	if (ctls_conn_alive(c)) {
		uv_timer_stop(&c->deadline);
		uv_read_stop((uv_stream_t *)&c->h);
		conn_write(c, line, (size_t)n, true);
	}
}

void ctls_conn_finish(struct ctls_conn *c, int exit_code)
{
	if (!c) {
		return;
	}
	if (!c->dispatched || c->finished) {
		BG_BUG("ctls_conn_finish on a connection that is not the caller's");
	}
	conn_end(c, exit_code);
	c->finished = true;
	conn_maybe_free(c);
}

long ctls_conn_pid(const struct ctls_conn *c)
{
	return c ? c->pid : -1;
}

long ctls_conn_uid(const struct ctls_conn *c)
{
	return c ? c->uid : -1;
}

static void conn_refuse(struct ctls_conn *c, const char *msg)
{
	ctls_conn_sendf(c, CTLS_ERR, "bluegreen: error: %s", msg);
	conn_end(c, BG_EXIT_ERROR);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	size_t n = suggested < 65536 ? suggested : 65536;
	buf->base = bg_xmalloc(n);
	buf->len = n;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct ctls_conn *c = st->data;
	char *why = NULL;

	if (nread < 0) {
		/*
		 * EOF or error: the client is gone (or done talking, and we do not
		 * care). The daemon is told about a request it still holds
		 * (ctls_gone_cb), so a queued one can be dropped at once.
		 */
		free(buf->base);
		bool waiting = c->dispatched && !c->finished && !c->closing;
		conn_close(c);
		if (waiting && c->s->gone_cb) {
			/* c stays allocated until the daemon finishes it. */
			c->s->gone_cb(c->s, c, c->s->arg);
		}
		return;
	}
	if (nread == 0 || c->dispatched || c->closing || c->s->closing) {
		/*
		 * Dispatched: reading goes on (and anything sent is dropped) only to
		 * learn at once when the client hangs up, so the apply's output stops
		 * going anywhere and a queued request can be dropped.
		 */
		free(buf->base);
		return;
	}
	enum ctls_parse_rc rc = ctls_parser_feed(&c->p, buf->base, (size_t)nread, &why);
	free(buf->base);
	if (rc == CTLS_PARSE_REFUSED) {
		conn_refuse(c, why);
	} else if (rc == CTLS_PARSE_DONE) {
		uv_timer_stop(&c->deadline);
		c->dispatched = true;
		c->s->cb(c->s, c, &c->p.req, c->s->arg);
	}
	free(why);
}

static void on_deadline(uv_timer_t *t)
{
	struct ctls_conn *c = t->data;
	if (c->dispatched || !ctls_conn_alive(c)) {
		return;
	}
	bg_log(BG_LOG_WARN, "control socket: pid %ld, uid %ld sent no complete request in "
			"%" PRIu64 " ms: disconnected", c->pid, c->uid, c->s->request_timeout_ms);
	conn_refuse(c, "no complete control request in time: disconnected");
}

/* Root, or the user the daemon runs as: nobody else hands over an apply. */
static bool peer_allowed(const struct ctls *s, long uid)
{
	return uid == 0 || (uid >= 0 && (uid_t)uid == s->uid);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct ctls *s = server->data;
	struct ctls_conn *c;

	if (status < 0 || s->closing) {
		return;
	}
	c = bg_xcalloc(1, sizeof(*c));
	c->s = s;
	c->pid = c->uid = -1;
	ctls_parser_init(&c->p);
	uv_pipe_init(s->loop, &c->h, 0);
	uv_timer_init(s->loop, &c->deadline);
	c->h.data = c->deadline.data = c;
	c->handles = 2;
	c->next = s->conns;
	if (s->conns) {
		s->conns->prev = c;
	}
	s->conns = c;
	s->refs++;
	s->n_open++;
	if (uv_accept(server, (uv_stream_t *)&c->h) != 0) {
		conn_close(c);
		return;
	}
	uv_os_fd_t fd;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (uv_fileno((uv_handle_t *)&c->h, &fd) == 0 &&
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0) {
		c->pid = (long)cr.pid;
		c->uid = (long)cr.uid;
	}
	if (!peer_allowed(s, c->uid)) {
		bg_log(BG_LOG_WARN, "control socket: refused pid %ld, uid %ld: only root and "
				"uid %ld may use it", c->pid, c->uid, (long)s->uid);
		char *msg = bg_xasprintf("the watch daemon accepts control requests only from "
				"root and uid %ld (you are uid %ld): run `bluegreen apply` as one of "
				"them; nothing was changed", (long)s->uid, c->uid);
		conn_refuse(c, msg);
		free(msg);
		return;
	}
	if (s->n_open > CTLS_CONN_MAX) {
		bg_log(BG_LOG_WARN, "control socket: %u connections open: refused pid %ld, uid %ld",
				s->n_open - 1, c->pid, c->uid);
		conn_refuse(c, "the watch daemon has too many control connections open; "
				"try again later: nothing was changed");
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read) != 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->deadline, on_deadline, s->request_timeout_ms, 0);
}

static void on_listener_closed(uv_handle_t *h)
{
	server_unref(h->data);
}

int ctls_listen(struct ctls **out, uv_loop_t *loop, const char *path,
		ctls_request_cb cb, void *arg, struct bg_diag *d)
{
	struct sockaddr_un sa;
	struct stat st;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		/* libuv would silently truncate it, and clients would never find it. */
		bg_diag_error(d, NULL, "control socket path %s is too long for a unix socket "
				"(%zu bytes, at most %zu): use a shorter state_dir", path, strlen(path),
				sizeof(sa.sun_path) - 1);
		return BG_ERRNO(ENAMETOOLONG);
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			bg_diag_error(d, NULL, "%s exists and is not a socket: remove it", path);
			return BG_ERRNO(EEXIST);
		}
		/* A dead daemon's socket: we hold the state lock, so nobody owns it. */
		unlink(path);
	}
	struct ctls *s = bg_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->path = bg_xstrdup(path);
	s->cb = cb;
	s->arg = arg;
	s->uid = geteuid();
	s->request_timeout_ms = CTLS_REQUEST_TIMEOUT_MS;
	uv_pipe_init(loop, &s->pipe, 0);
	s->pipe.data = s;
	s->refs = 1;
	/*
	 * The socket is created with the process umask: make it 0600 from the
	 * start, so there is no moment at which it is reachable by others
	 * (the state directory is 0700 too). No other thread runs yet.
	 */
	mode_t old = umask(0177);
	err = uv_pipe_bind(&s->pipe, path);
	umask(old);
	if (!err && chmod(path, 0600) != 0) {
		err = BG_ERRNO(errno);
	}
	if (!err) {
		err = uv_listen((uv_stream_t *)&s->pipe, CTLS_BACKLOG, on_connection);
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot listen on the control socket %s: %s", path,
				uv_strerror(err));
		unlink(path);
		s->closing = true;
		uv_close((uv_handle_t *)&s->pipe, on_listener_closed);
		return err;
	}
	*out = s;
	return 0;
}

void ctls_set_gone_cb(struct ctls *s, ctls_gone_cb cb)
{
	if (s) {
		s->gone_cb = cb;
	}
}

void ctls_set_request_timeout(struct ctls *s, uint64_t ms)
{
	if (s) {
		s->request_timeout_ms = ms ? ms : CTLS_REQUEST_TIMEOUT_MS;
	}
}

void ctls_close(struct ctls *s, ctls_closed_cb closed_cb)
{
	if (!s || s->closing) {
		return;
	}
	s->closing = true;
	s->closed_cb = closed_cb;
	unlink(s->path);
	uv_close((uv_handle_t *)&s->pipe, on_listener_closed);
	for (struct ctls_conn *c = s->conns; c; c = c->next) {
		if (!c->dispatched) {
			conn_close(c);
		}
	}
}

/* ---- client ---- */

static int send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return BG_ERRNO(errno);
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

struct client_out {
	FILE *out, *err;
	bool tty, pending;
};

static void client_clear_status(struct client_out *co)
{
	if (co->pending) {
		fputs("\r\033[K", co->err);
		co->pending = false;
	}
}

/* Returns true when the line was "exit N". */
static bool client_line(struct client_out *co, const char *line, int *exit_code)
{
	if (bg_str_has_prefix(line, "exit ")) {
		client_clear_status(co);
		*exit_code = atoi(line + 5);
		return true;
	}
	const char *sp = strchr(line, ' ');
	char *text = ctls_decode(sp ? sp + 1 : "");
	if (bg_str_has_prefix(line, "status ")) {
		if (co->tty) {
			fprintf(co->err, "\r\033[K  %s", text);
			fflush(co->err);
			co->pending = true;
		}
	} else if (bg_str_has_prefix(line, "err ")) {
		client_clear_status(co);
		fflush(co->out);
		fprintf(co->err, "%s\n", text);
		fflush(co->err);
	} else if (bg_str_has_prefix(line, "out ")) {
		client_clear_status(co);
		fprintf(co->out, "%s\n", text);
		fflush(co->out);
	}
	/* Other lines are from a newer daemon: skipped, the exit code still counts. */
	free(text);
	return false;
}

/* The request's lines, "go" last. */
static void client_request_text(const struct ctls_request *req, struct bg_buf *b)
{
	char *tok = ctls_encode(req->token ? req->token : req->rollback_site ?
			req->rollback_site : req->logs_site);
	bg_buf_addf(b, "%s\n%s %s\n", CTLS_HELLO, req->token ? "apply" : req->rollback_site ?
			"rollback" : "logs", tok);
	free(tok);
	if (req->logs_site && req->logs_tail) { /* issue 15 */
		bg_buf_addf(b, "tail %u\n", req->logs_tail);
	}
	for (size_t i = 0; i < req->confirms.n; i++) {
		char *enc = ctls_encode(req->confirms.v[i]);
		bg_buf_addf(b, "confirm %s\n", enc);
		free(enc);
	}
	if (req->actor) { /* issue 15: checked by the daemon's parser */
		bg_buf_addf(b, "actor %s\n", req->actor);
	}
	bg_buf_addf(b, "%s%sgo\n", req->json ? "option json\n" : "",
			req->color ? "option color\n" : "");
}

int ctls_client_apply(const char *path, const struct ctls_request *req, FILE *out,
		FILE *err, int *exit_code)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct bg_buf b = BG_BUF_INIT;
	struct client_out co = {.out = out, .err = err, .tty = isatty(fileno(err)) == 1};
	char buf[8192];
	int fd, rc = 0;
	bool done = false;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		return BG_ERRNO(ENAMETOOLONG);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = BG_ERRNO(errno);
		close(fd);
		return rc;
	}
	client_request_text(req, &b);
	rc = send_all(fd, b.data, b.len);
	bg_buf_release(&b);
	if (rc && rc != BG_ERRNO(EPIPE) && rc != BG_ERRNO(ECONNRESET)) {
		close(fd);
		return rc;
	}
	/*
	 * EPIPE: the daemon closed before reading everything, which it does
	 * when it refuses a client outright (another uid, too many
	 * connections): its answer is already waiting to be read.
	 */

	/* From here on the request was handed over: the answer decides. */
	bg_buf_init(&b, 0);
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		bg_buf_add(&b, buf, (size_t)n);
		char *start = b.data, *nl;
		while (!done && (nl = memchr(start, '\n', b.len - (size_t)(start - b.data)))) {
			*nl = '\0';
			done = client_line(&co, start, exit_code);
			start = nl + 1;
		}
		size_t rest = b.len - (size_t)(start - b.data);
		memmove(b.data, start, rest);
		b.len = rest;
		b.data[rest] = '\0';
	}
	close(fd);
	bg_buf_release(&b);
	if (!done) {
		client_clear_status(&co);
		fprintf(err, "bluegreen: error: the watch daemon closed the control connection "
				"before reporting the outcome (it may have been stopped): see "
				"`bluegreen log` and `bluegreen history`\n");
		*exit_code = BG_EXIT_ERROR;
	}
	return 0;
}
