/*
 * dkev: curl multi under libuv (dkev.h). curl tells us which sockets to
 * watch (on_socket: one uv_poll_t each) and when to wake it up (on_timer:
 * one uv_timer_t); libuv tells curl what happened (curl_multi_socket_action).
 * Nothing user-visible ever runs inside a curl callback: curl callbacks
 * only store (bytes into the request's buffer, "headers are in"), and
 * process(), which runs after each curl_multi_socket_action returns, turns
 * that into events, state changes and completions. So a user callback may
 * call dkev_request or dkev_close without re-entering curl.
 *
 * Requests live on exactly one list at a time: waiting (for the version
 * probe), active (in the multi handle) or done (completed or cancelled, not
 * yet reported). dkev_close never frees a request: it moves them all to
 * done, and the last handle's close callback reports and frees them, so a
 * callback that closes ev mid-dispatch leaves nothing dangling.
 */
#include "bg.h"
#include "dkev.h"
#include "dk-int.h"
#include "bg-log.h"
#include "bg-util.h"

enum req_kind {
	REQ_USER = 0,
	REQ_PROBE,  /* GET /version */
	REQ_STREAM, /* GET /events */
};

struct req {
	struct dk__req r;
	CURL *easy;
	enum req_kind kind;
	char *method, *path, *body; /* kept until launched */
	dkev_request_cb cb;
	void *arg;
	CURLcode rc;
	bool finished;  /* rc is curl's verdict */
	int fail;       /* or this code and message instead */
	char *fail_msg;
	struct req *prev, *next;
	struct rlist *list;
};

struct rlist {
	struct req *head, *tail;
};

struct sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct dkev *ev;
	struct sock *prev, *next;
};

struct dkev {
	uv_loop_t *loop;
	char *socket;
	CURLM *multi;
	uv_timer_t timer; /* curl's timeout */
	uv_timer_t retry; /* reconnect backoff */
	uv_timer_t kick;  /* runs process() soon when nothing else would */
	unsigned open_handles;
	struct sock *socks;

	dkev_event_cb on_event;
	dkev_state_cb on_state;
	void *arg;
	dkev_closed_cb on_closed;

	char *api, *engine;
	struct req *probe;
	struct req *stream;
	struct dk_stream parser;
	struct rlist waiting, active, done;

	bool started, closing, connected;
	enum dkev_state reported;
	bool reported_any;
	uint64_t timeout_ms;
	uint64_t backoff_initial, backoff_max, healthy_ms, backoff;
	int64_t connected_at;
	const char *query;       /* NULL: dk_events_query() (dkev_set_scope) */
	dkev_accept_fn accept;   /* NULL: dk_event_in_scope */
};

static void process(struct dkev *ev);
static void connect_attempt(struct dkev *ev);

/* ---- lists ---- */

static void rlist_push(struct rlist *l, struct req *q)
{
	q->list = l;
	q->next = NULL;
	q->prev = l->tail;
	if (l->tail) {
		l->tail->next = q;
	} else {
		l->head = q;
	}
	l->tail = q;
}

static void rlist_unlink(struct req *q)
{
	struct rlist *l = q->list;
	if (!l) {
		return;
	}
	if (q->prev) {
		q->prev->next = q->next;
	} else {
		l->head = q->next;
	}
	if (q->next) {
		q->next->prev = q->prev;
	} else {
		l->tail = q->prev;
	}
	q->prev = q->next = NULL;
	q->list = NULL;
}

static void rlist_move(struct req *q, struct rlist *to)
{
	rlist_unlink(q);
	rlist_push(to, q);
}

/* ---- requests ---- */

static struct req *req_new(enum req_kind kind, const char *method,
		const char *path, const char *body, dkev_request_cb cb, void *arg)
{
	struct req *q = bg_xcalloc(1, sizeof(*q));
	dk__req_init(&q->r);
	q->kind = kind;
	q->method = bg_xstrdup(method);
	q->path = bg_xstrdup(path);
	q->body = bg_xstrdup(body);
	q->cb = cb;
	q->arg = arg;
	return q;
}

static void req_free(struct req *q)
{
	if (!q) {
		return;
	}
	dk__req_release(&q->r);
	if (q->easy) {
		curl_easy_cleanup(q->easy);
	}
	free(q->method);
	free(q->path);
	free(q->body);
	free(q->fail_msg);
	free(q);
}

static void on_kick(uv_timer_t *t)
{
	process(t->data);
}

/* Mark q as completed with our own verdict and queue it for reporting,
 * from the loop: no socket or curl timer may be there to wake us. */
static void req_fail(struct dkev *ev, struct req *q, int err, const char *msg)
{
	if (q->list == &ev->active && ev->multi) {
		curl_multi_remove_handle(ev->multi, q->easy);
	}
	q->fail = err;
	free(q->fail_msg);
	q->fail_msg = bg_xstrdup(msg);
	rlist_move(q, &ev->done);
	if (!ev->closing) {
		uv_timer_start(&ev->kick, on_kick, 0, 0);
	}
}

/* Put q on the wire; on failure it is queued as done with the reason. */
static void req_launch(struct dkev *ev, struct req *q)
{
	uint64_t timeout = q->kind == REQ_STREAM ? 0 : ev->timeout_ms;
	const char *api = q->kind == REQ_PROBE ? NULL : ev->api;

	if (!q->easy) {
		q->easy = curl_easy_init();
	}
	if (!q->easy || dk__req_prepare(&q->r, q->easy, ev->socket, api, q->method,
			q->path, q->body, timeout) != 0) {
		req_fail(ev, q, BG_EDOCKER, "libcurl cannot talk to a unix socket");
		return;
	}
	q->r.owner = q;
	rlist_move(q, &ev->active);
	CURLMcode mc = curl_multi_add_handle(ev->multi, q->easy);
	if (mc != CURLM_OK) {
		rlist_unlink(q);
		req_fail(ev, q, BG_EDOCKER, curl_multi_strerror(mc));
	}
}

/* ---- libuv <-> curl ---- */

static void on_sock_closed(uv_handle_t *h)
{
	struct sock *sk = h->data;
	struct dkev *ev = sk->ev;
	free(sk);
	ev->open_handles--;
	process(ev); /* finishes a close once the last handle is gone */
}

static void sock_close(struct dkev *ev, struct sock *sk)
{
	if (sk->prev) {
		sk->prev->next = sk->next;
	} else {
		ev->socks = sk->next;
	}
	if (sk->next) {
		sk->next->prev = sk->prev;
	}
	/* Stop now: curl closes the descriptor right after telling us. */
	uv_poll_stop(&sk->poll);
	uv_close((uv_handle_t *)&sk->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *sk = h->data;
	struct dkev *ev = sk->ev;
	int flags = 0, running = 0;

	if (!ev->multi) {
		return;
	}
	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	} else {
		if (events & UV_READABLE) {
			flags |= CURL_CSELECT_IN;
		}
		if (events & UV_WRITABLE) {
			flags |= CURL_CSELECT_OUT;
		}
	}
	curl_multi_socket_action(ev->multi, sk->fd, flags, &running);
	process(ev);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		void *socketp)
{
	struct dkev *ev = userp;
	struct sock *sk = socketp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (sk) {
			if (!ev->closing) {
				curl_multi_assign(ev->multi, fd, NULL);
			}
			sock_close(ev, sk);
		}
		return 0;
	}
	if (!sk) {
		sk = bg_xcalloc(1, sizeof(*sk));
		sk->fd = fd;
		sk->ev = ev;
		if (uv_poll_init_socket(ev->loop, &sk->poll, fd) != 0) {
			free(sk);
			return -1;
		}
		sk->poll.data = sk;
		ev->open_handles++;
		sk->next = ev->socks;
		if (ev->socks) {
			ev->socks->prev = sk;
		}
		ev->socks = sk;
		curl_multi_assign(ev->multi, fd, sk);
	}
	if (what & CURL_POLL_IN) {
		events |= UV_READABLE;
	}
	if (what & CURL_POLL_OUT) {
		events |= UV_WRITABLE;
	}
	uv_poll_start(&sk->poll, events, on_poll);
	return 0;
}

static void on_timeout(uv_timer_t *t)
{
	struct dkev *ev = t->data;
	int running = 0;

	if (!ev->multi) {
		return;
	}
	curl_multi_socket_action(ev->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	process(ev);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct dkev *ev = userp;

	if (timeout_ms < 0) {
		uv_timer_stop(&ev->timer);
	} else {
		/* 0 means "now": the next loop iteration, never from here. */
		uv_timer_start(&ev->timer, on_timeout, (uint64_t)timeout_ms, 0);
	}
	return 0;
}

/* ---- state, backoff, the stream ---- */

static void report_state(struct dkev *ev, enum dkev_state st, int err,
		const char *reason)
{
	if (ev->reported_any && ev->reported == st) {
		bg_trace(DK, "events: still disconnected: %s", reason ? reason : "");
		return;
	}
	ev->reported_any = true;
	ev->reported = st;
	if (st == DKEV_CONNECTED) {
		bg_trace(DK, "events: connected to %s (API %s)", ev->socket, ev->api);
	} else {
		bg_trace(DK, "events: disconnected: %s", reason ? reason : "");
	}
	if (ev->on_state) {
		ev->on_state(ev, st, err, reason, ev->arg);
	}
}

static void on_retry(uv_timer_t *t)
{
	struct dkev *ev = t->data;
	connect_attempt(ev);
	process(ev);
}

static void schedule_retry(struct dkev *ev)
{
	uint64_t delay;

	if (ev->closing || !ev->started || uv_is_active((uv_handle_t *)&ev->retry)) {
		return;
	}
	if (ev->connected_at && bg_mono_ms() - ev->connected_at >= (int64_t)ev->healthy_ms) {
		ev->backoff = ev->backoff_initial;
	}
	ev->connected_at = 0;
	delay = ev->backoff;
	ev->backoff = ev->backoff * 2 > ev->backoff_max ? ev->backoff_max
							 : ev->backoff * 2;
	bg_trace(DK, "events: reconnecting in %" PRIu64 " ms", delay);
	uv_timer_start(&ev->retry, on_retry, delay, 0);
}

static void probe_ensure(struct dkev *ev)
{
	if (ev->probe || ev->closing) {
		return;
	}
	ev->probe = req_new(REQ_PROBE, "GET", "/version", NULL, NULL, NULL);
	req_launch(ev, ev->probe);
}

static void stream_launch(struct dkev *ev)
{
	char *path = bg_xasprintf("/events%s", ev->query ? ev->query : dk_events_query());

	dk_stream_release(&ev->parser);
	ev->stream = req_new(REQ_STREAM, "GET", path, NULL, NULL, NULL);
	free(path);
	req_launch(ev, ev->stream);
}

static void connect_attempt(struct dkev *ev)
{
	if (ev->closing || !ev->started || ev->stream) {
		return;
	}
	if (ev->api) {
		stream_launch(ev);
	} else {
		probe_ensure(ev);
	}
}

static int on_value(struct json_object *v, void *arg)
{
	struct dkev *ev = arg;
	struct dk_event e;
	char buf[512];

	if (ev->closing) {
		return BG_ECANCELLED;
	}
	if (dk_parse_event(v, &e, NULL) != 0) {
		bg_trace(DK, "events: skipping a value that is not an event");
		return 0;
	}
	if (ev->accept ? !ev->accept(v, &e, buf, sizeof(buf)) : !dk_event_in_scope(&e)) {
		return 0;
	}
	bg_trace(DK, "event: %d %s %.12s %s", (int)e.type, e.action,
			e.id ? e.id : "", e.name ? e.name : "");
	if (ev->on_event) {
		ev->on_event(ev, &e, ev->arg);
	}
	return ev->closing ? BG_ECANCELLED : 0;
}

/* The stream's new bytes and its "connected" moment, outside curl. */
static void stream_pump(struct dkev *ev)
{
	struct req *q = ev->stream;
	struct bg_diag d;
	int err;

	if (!q || q->list != &ev->active || !q->r.headers_done || q->r.status != 200) {
		return;
	}
	if (!ev->connected) {
		ev->connected = true;
		ev->connected_at = bg_mono_ms();
		dk_stream_init(&ev->parser, DK_STREAM_VALUE_MAX, on_value, ev);
		report_state(ev, DKEV_CONNECTED, 0, NULL);
		if (ev->closing) {
			return;
		}
	}
	if (!q->r.resp.len) {
		return;
	}
	bg_diag_init(&d);
	err = dk_stream_feed(&ev->parser, q->r.resp.data, q->r.resp.len, &d);
	bg_buf_reset(&q->r.resp);
	if (err && !ev->closing) {
		/* Garbage on the stream: drop the connection and start over. */
		req_fail(ev, q, err, d.n ? d.items[0].msg : bg_strerror(err));
	}
	bg_diag_release(&d);
}

static void stream_done(struct dkev *ev, struct req *q)
{
	struct bg_diag d;
	int err;

	bg_diag_init(&d);
	if (q->fail) {
		err = q->fail;
		dk__error(&d, "%s", q->fail_msg);
	} else {
		err = dk__req_result(&q->r, q->rc, NULL, NULL, &d);
		if (!err) {
			err = BG_EDOCKER_UNREACHABLE;
			dk__error(&d, "the Docker engine at %s ended the event stream",
					ev->socket);
		}
	}
	ev->stream = NULL;
	ev->connected = false;
	/* Re-negotiate: whatever answers next may be another engine. */
	free(ev->api);
	ev->api = NULL;
	report_state(ev, DKEV_DISCONNECTED, err, d.n ? d.items[0].msg : NULL);
	bg_diag_release(&d);
	schedule_retry(ev);
}

static void probe_done(struct dkev *ev, struct req *q)
{
	struct json_object *j = NULL;
	struct bg_diag d;
	char *engine = NULL, *api = NULL;
	int err;

	ev->probe = NULL;
	bg_diag_init(&d);
	if (q->fail) {
		err = q->fail;
		dk__error(&d, "%s", q->fail_msg);
	} else {
		err = dk__req_result(&q->r, q->rc, NULL, &j, &d);
		if (!err) {
			err = dk_parse_version(j, &engine, &api, &d);
		}
	}
	json_object_put(j);
	if (!err) {
		free(ev->api);
		free(ev->engine);
		ev->api = api;
		ev->engine = engine;
		while (ev->waiting.head) {
			req_launch(ev, ev->waiting.head);
		}
		connect_attempt(ev);
	} else {
		const char *msg = d.n ? d.items[0].msg : bg_strerror(err);
		while (ev->waiting.head) {
			req_fail(ev, ev->waiting.head, err, msg);
		}
		if (ev->started && !ev->stream) {
			report_state(ev, DKEV_DISCONNECTED, err, msg);
			schedule_retry(ev);
		}
	}
	bg_diag_release(&d);
}

static void user_done(struct dkev *ev, struct req *q, bool cancelled)
{
	struct json_object *j = NULL;
	struct bg_diag d;
	long status = 0;
	int err;

	bg_diag_init(&d);
	if (cancelled && !q->finished && !q->fail) {
		err = BG_ECANCELLED;
		dk__error(&d, "%s %s: cancelled (the Docker client was closed)",
				q->method, q->path);
	} else if (q->fail) {
		err = q->fail;
		dk__error(&d, "%s", q->fail_msg);
	} else {
		err = dk__req_result(&q->r, q->rc, &status, &j, &d);
	}
	if (q->cb) {
		q->cb(ev, status, j, err, err && d.n ? d.items[0].msg : NULL, q->arg);
	}
	json_object_put(j);
	bg_diag_release(&d);
}

/* Report one completed request and free it. */
static void dispatch(struct dkev *ev, struct req *q)
{
	rlist_unlink(q);
	switch (q->kind) {
	case REQ_PROBE:
		if (!ev->closing) {
			probe_done(ev, q);
		}
		break;
	case REQ_STREAM:
		if (!ev->closing) {
			stream_done(ev, q);
		}
		break;
	case REQ_USER:
		user_done(ev, q, ev->closing);
		break;
	}
	req_free(q);
}

static void finish_close(struct dkev *ev)
{
	dkev_closed_cb cb = ev->on_closed;

	/* Every callback owed is paid before "closed". */
	while (ev->done.head) {
		dispatch(ev, ev->done.head);
	}
	dk_stream_release(&ev->parser);
	free(ev->api);
	free(ev->engine);
	free(ev->socket);
	if (cb) {
		cb(ev, ev->arg);
	}
	free(ev);
}

static void process(struct dkev *ev)
{
	CURLMsg *m;
	int left = 0;

	if (ev->closing) {
		if (ev->open_handles == 0) {
			finish_close(ev);
		}
		return;
	}
	stream_pump(ev);
	while (!ev->closing && ev->multi &&
			(m = curl_multi_info_read(ev->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE) {
			continue;
		}
		char *priv = NULL;
		CURL *easy = m->easy_handle;
		CURLcode rc = m->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(ev->multi, easy);
		if (!priv) {
			continue;
		}
		struct req *q = ((struct dk__req *)(void *)priv)->owner;
		if (q == ev->stream) {
			/* The last bytes may have come with the end. */
			stream_pump(ev);
			if (q->list != &ev->active) {
				continue; /* pump failed it already */
			}
		}
		q->rc = rc;
		q->finished = true;
		rlist_move(q, &ev->done);
	}
	while (!ev->closing && ev->done.head) {
		dispatch(ev, ev->done.head);
	}
}

/* ---- public ---- */

static void on_handle_closed(uv_handle_t *h)
{
	struct dkev *ev = h->data;
	ev->open_handles--;
	process(ev);
}

int dkev_create(struct dkev **out, uv_loop_t *loop, const char *socket,
		dkev_event_cb on_event, dkev_state_cb on_state, void *arg)
{
	struct dkev *ev;

	assert(out && loop);
	ev = bg_xcalloc(1, sizeof(*ev));
	ev->multi = curl_multi_init();
	if (!ev->multi) {
		free(ev);
		return BG_ERRNO(ENOMEM);
	}
	ev->loop = loop;
	ev->socket = bg_xstrdup(socket && *socket ? socket : DK_DEFAULT_SOCKET);
	ev->on_event = on_event;
	ev->on_state = on_state;
	ev->arg = arg;
	ev->timeout_ms = DK_DEFAULT_TIMEOUT_MS;
	ev->backoff_initial = ev->backoff = DKEV_BACKOFF_INITIAL_MS;
	ev->backoff_max = DKEV_BACKOFF_MAX_MS;
	ev->healthy_ms = DKEV_HEALTHY_MS;
	memset(&ev->parser, 0, sizeof(ev->parser));
	curl_multi_setopt(ev->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ev->multi, CURLMOPT_SOCKETDATA, ev);
	curl_multi_setopt(ev->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(ev->multi, CURLMOPT_TIMERDATA, ev);
	uv_timer_init(loop, &ev->timer);
	uv_timer_init(loop, &ev->retry);
	uv_timer_init(loop, &ev->kick);
	ev->timer.data = ev;
	ev->retry.data = ev;
	ev->kick.data = ev;
	ev->open_handles = 3;
	*out = ev;
	return 0;
}

int dkev_start(struct dkev *ev)
{
	if (ev->closing || ev->started) {
		return ev->closing ? BG_ECANCELLED : BG_EUSAGE;
	}
	ev->started = true;
	connect_attempt(ev);
	return 0;
}

int dkev_request(struct dkev *ev, const char *method, const char *path,
		const char *body, dkev_request_cb cb, void *arg)
{
	struct req *q;

	assert(ev && method && path && cb);
	if (ev->closing) {
		return BG_ECANCELLED;
	}
	q = req_new(REQ_USER, method, path, body, cb, arg);
	if (ev->api) {
		req_launch(ev, q);
		if (q->list == &ev->done) {
			/* Not on the wire: nothing happened, say so now. */
			int err = q->fail;
			rlist_unlink(q);
			req_free(q);
			return err;
		}
	} else {
		rlist_push(&ev->waiting, q);
		probe_ensure(ev);
	}
	return 0;
}

struct inspect {
	dkev_inspect_cb cb;
	void *arg;
};

static void on_inspect_done(struct dkev *ev, long status, struct json_object *body, int err,
		const char *msg, void *arg)
{
	struct inspect *in = arg;
	struct obs_container oc;
	struct bg_diag d;

	(void)status;
	memset(&oc, 0, sizeof(oc));
	bg_diag_init(&d);
	if (err) {
		in->cb(ev, NULL, err, msg, in->arg);
	} else if (dk_parse_container_inspect(body, &oc, &d) != 0) {
		/* The daemon only traces it: the next event or re-list corrects it. */
		in->cb(ev, NULL, BG_EPARSE, "unreadable answer", in->arg);
	} else {
		in->cb(ev, &oc, 0, NULL, in->arg);
	}
	obs_container_release(&oc);
	bg_diag_release(&d);
	free(in);
}

int dkev_container_inspect(struct dkev *ev, const char *id, dkev_inspect_cb cb, void *arg)
{
	char *esc = dk__url_escape(id); /* the client's escaping (dk-http.c) */
	char *path = bg_xasprintf("/containers/%s/json", esc);
	struct inspect *in = bg_xcalloc(1, sizeof(*in));
	int err;

	free(esc);
	assert(cb);
	in->cb = cb;
	in->arg = arg;
	err = dkev_request(ev, "GET", path, NULL, on_inspect_done, in);
	if (err) {
		free(in);
	}
	free(path);
	return err;
}

void dkev_close(struct dkev *ev, dkev_closed_cb closed_cb)
{
	if (!ev || ev->closing) {
		return;
	}
	ev->closing = true;
	ev->on_closed = closed_cb;
	ev->probe = NULL;
	ev->stream = NULL;
	while (ev->active.head) {
		struct req *q = ev->active.head;
		curl_multi_remove_handle(ev->multi, q->easy);
		rlist_move(q, &ev->done);
	}
	while (ev->waiting.head) {
		rlist_move(ev->waiting.head, &ev->done);
	}
	/* Closes the cached connections, telling on_socket to drop them. */
	curl_multi_cleanup(ev->multi);
	ev->multi = NULL;
	while (ev->socks) {
		sock_close(ev, ev->socks);
	}
	uv_close((uv_handle_t *)&ev->timer, on_handle_closed);
	uv_close((uv_handle_t *)&ev->retry, on_handle_closed);
	uv_close((uv_handle_t *)&ev->kick, on_handle_closed);
}

void dkev_set_scope(struct dkev *ev, const char *query, dkev_accept_fn accept)
{
	ev->query = query;
	ev->accept = accept;
}

void dkev_set_timeout(struct dkev *ev, uint64_t ms)
{
	ev->timeout_ms = ms ? ms : DK_DEFAULT_TIMEOUT_MS;
}

void dkev_set_backoff(struct dkev *ev, uint64_t initial_ms, uint64_t max_ms,
		uint64_t healthy_ms)
{
	if (initial_ms) {
		ev->backoff_initial = ev->backoff = initial_ms;
	}
	if (max_ms) {
		ev->backoff_max = max_ms;
	}
	if (healthy_ms) {
		ev->healthy_ms = healthy_ms;
	}
}

bool dkev_connected(const struct dkev *ev)
{
	return ev->connected;
}

const char *dkev_api_version(const struct dkev *ev)
{
	return ev->api;
}

const char *dkev_engine_version(const struct dkev *ev)
{
	return ev->engine;
}

const char *dkev_socket(const struct dkev *ev)
{
	return ev->socket;
}
