/*
 * t-dkev: the event stream and async requests under libuv, against the
 * real engine (BG_DOCKER_SOCK). Needs bluegreen-test/web:v1 (built by
 * th_docker_preamble). The reconnect test puts a small unix-socket proxy
 * of its own, running in the same loop, between dkev and the engine, then
 * cuts it: the connection is real, and really interrupted. Containers are
 * named bgt-<run id>-*, labelled bluegreen.test=<run id>, and removed in
 * teardown (managed ones by site); nothing else is touched.
 */
#include "bg.h"
#include "dkev.h"
#include "bg-log.h"
#include "th.h"

#include <unistd.h>

static uv_loop_t loop;
static char site[32];
static char *tmpdir;
static struct dk_client *dk;

/*
 * Every test callback stops the loop, so run_until() re-checks its
 * condition at once: with UV_RUN_ONCE, something done by a timer callback
 * would leave libuv blocked in its poll until the next timer.
 */
static void wake(void)
{
	uv_stop(&loop);
}

static char *tname(const char *what)
{
	return bg_xasprintf("bgt-%s-%s", th_run_id(), what);
}

/* ---- what dkev reports ---- */

struct rec {
	struct dkev *ev;
	struct bg_strv events;  /* "action name" of our containers */
	struct bg_strv foreign; /* names of events about containers not ours */
	unsigned n_connected, n_disconnected;
	int last_err;
	char *last_reason;
	bool closed;
	unsigned n_closed;
	const char *prefix;     /* our containers' name prefix */
	const char *unlabelled; /* an unmanaged container's name */
};

static void on_event(struct dkev *ev, const struct dk_event *e, void *arg)
{
	struct rec *r = arg;
	wake();
	assert_ptr_equal(ev, r->ev);
	if (e->type != DK_EVENT_CONTAINER || !e->name) {
		return;
	}
	if (r->unlabelled && strcmp(e->name, r->unlabelled) == 0) {
		bg_strv_push(&r->foreign, e->name);
	}
	if (bg_str_has_prefix(e->name, r->prefix)) {
		assert_true(e->managed);
		assert_string_equal(e->site, site);
		bg_strv_push_take(&r->events, bg_xasprintf("%s %s", e->action, e->name));
	}
}

static void on_state(struct dkev *ev, enum dkev_state st, int err, const char *reason,
		void *arg)
{
	struct rec *r = arg;
	wake();
	if (st == DKEV_CONNECTED) {
		assert_int_equal(err, 0);
		assert_null(reason);
		assert_true(dkev_connected(ev));
		r->n_connected++;
	} else {
		assert_true(err < 0);
		assert_non_null(reason);
		r->n_disconnected++;
		r->last_err = err;
		free(r->last_reason);
		r->last_reason = bg_xstrdup(reason);
	}
}

static void on_closed(struct dkev *ev, void *arg)
{
	struct rec *r = arg;
	wake();
	r->closed = true;
	r->n_closed++;
}

static void rec_init(struct rec *r, const char *prefix)
{
	memset(r, 0, sizeof(*r));
	bg_strv_init(&r->events);
	bg_strv_init(&r->foreign);
	r->prefix = prefix;
}

static void rec_release(struct rec *r)
{
	bg_strv_release(&r->events);
	bg_strv_release(&r->foreign);
	free(r->last_reason);
}

/* ---- running the loop until something happened ---- */

static bool timed_out;

static void on_deadline(uv_timer_t *t)
{
	timed_out = true;
	wake();
}

/* Run the loop until pred(arg) holds; false after ms without it. */
static bool run_until(bool (*pred)(void *), void *arg, unsigned ms)
{
	uv_timer_t t;
	timed_out = false;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_deadline, ms, 0);
	while (!pred(arg) && !timed_out) {
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	return pred(arg);
}

static bool never(void *arg)
{
	return false;
}

static bool is_connected(void *arg)
{
	struct rec *r = arg;
	return r->n_connected > 0 && dkev_connected(r->ev);
}

static bool is_closed(void *arg)
{
	return ((struct rec *)arg)->closed;
}

struct want_event {
	struct rec *r;
	char *line;
};

static bool has_event(void *arg)
{
	struct want_event *w = arg;
	return bg_strv_contains(&w->r->events, w->line);
}

static bool wait_event(struct rec *r, const char *action, const char *name, unsigned ms)
{
	struct want_event w = {r, bg_xasprintf("%s %s", action, name)};
	bool ok = run_until(has_event, &w, ms);
	if (!ok) {
		th_print_error("no '%s' event within %u ms\n", w.line, ms);
	}
	free(w.line);
	return ok;
}

/* ---- a managed container, through the blocking client ---- */

static char *container_new(const char *name)
{
	struct obs_labels l = {0};
	struct bg_diag d;
	char *id = NULL;
	char *cmd[] = {"/bin/busybox", "sh", "-c", "sleep 30", NULL};

	bg_diag_init(&d);
	obs_labels_set(&l, BG_LABEL_MANAGED, "true");
	obs_labels_set(&l, BG_LABEL_SITE, site);
	obs_labels_set(&l, "bluegreen.test", th_run_id());
	struct dk_container_spec spec = {.name = name, .image = "bluegreen-test/web:v1",
		.cmd = cmd, .labels = &l, .stop_signal = "SIGKILL"};
	if (dk_container_create(dk, &spec, &id, &d) != 0) {
		fail_msg("create %s: %s", name, d.n ? d.items[0].msg : "");
	}
	obs_labels_release(&l);
	bg_diag_release(&d);
	return id;
}

static int group_setup(void **state)
{
	snprintf(site, sizeof(site), "ev%s", th_run_id());
	tmpdir = th_tmpdir("dkev");
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(dk_client_create(&dk, th_docker_sock()), 0);
	return 0;
}

static int group_teardown(void **state)
{
	struct th_run r;
	char *n = tname("rogue");
	th_docker(&r, "rm", "-f", n, NULL);
	th_run_release(&r);
	free(n);
	th_docker_cleanup_site(site);
	dk_client_destroy(dk);
	/* Every handle of every test was closed: the loop closes cleanly. */
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	th_rm_rf(tmpdir);
	free(tmpdir);
	assert_int_equal(rc, 0);
	return 0;
}

static void close_and_wait(struct rec *r)
{
	dkev_close(r->ev, on_closed);
	assert_false(r->closed); /* never from inside dkev_close */
	assert_true(run_until(is_closed, r, 5000));
	assert_int_equal(r->n_closed, 1);
}

/* ---- events ---- */

static void test_events(void **state)
{
	char *prefix = tname("ev-");
	char *name = tname("ev-one");
	char *rogue = tname("rogue");
	char *label = bg_xasprintf("bluegreen.test=%s", th_run_id());
	struct bg_diag d;
	struct th_run run;
	struct rec r;

	bg_diag_init(&d);
	rec_init(&r, prefix);
	r.unlabelled = rogue;
	assert_int_equal(dkev_create(&r.ev, &loop, th_docker_sock(), on_event, on_state, &r), 0);
	assert_int_equal(dkev_start(r.ev), 0);
	assert_true(dkev_start(r.ev) < 0); /* once */
	assert_true(run_until(is_connected, &r, 5000));
	assert_non_null(dkev_api_version(r.ev));
	assert_non_null(dkev_engine_version(r.ev));

	/* First an unmanaged container (the CLI, no io.bluegreen labels),
	 * then ours: by the time ours is destroyed, the stream has carried
	 * the other's events too, and dkev must have dropped them. */
	th_docker(&run, "run", "--rm", "--name", rogue, "--label", label,
			"bluegreen-test/web:v1", "/bin/busybox", "true", NULL);
	assert_int_equal(run.status, 0);
	th_run_release(&run);

	int64_t t0 = bg_mono_ms();
	char *id = container_new(name);
	assert_int_equal(dk_container_start(dk, id, &d), 0);
	assert_true(wait_event(&r, "create", name, 5000));
	assert_true(wait_event(&r, "start", name, 5000));
	assert_int_equal(dk_container_stop(dk, id, 1, &d), 0);
	assert_true(wait_event(&r, "die", name, 5000));
	assert_int_equal(dk_container_remove(dk, id, &d), 0);
	assert_true(wait_event(&r, "destroy", name, 5000));
	assert_true(bg_mono_ms() - t0 < 15000);
	assert_int_equal(d.n, 0);
	assert_int_equal(r.foreign.n, 0);
	/* In order, and nothing in between but what the engine does on the
	 * way (kill, stop are filtered out engine-side). */
	size_t i_create = SIZE_MAX, i_destroy = 0;
	for (size_t i = 0; i < r.events.n; i++) {
		if (bg_str_has_prefix(r.events.v[i], "create ")) {
			i_create = i;
		}
		if (bg_str_has_prefix(r.events.v[i], "destroy ")) {
			i_destroy = i;
		}
		th_assert_not_contains(r.events.v[i], "exec_");
		th_assert_not_contains(r.events.v[i], "kill ");
	}
	assert_true(i_create < i_destroy);
	assert_int_equal(r.n_disconnected, 0);
	close_and_wait(&r);
	rec_release(&r);
	bg_diag_release(&d);
	free(id);
	free(label);
	free(rogue);
	free(name);
	free(prefix);
}

/* ---- async requests ---- */

struct answer {
	unsigned calls;
	long status;
	int err;
	char *msg;
	char *id; /* "Id" of the body */
	bool returned;
};

static void on_answer(struct dkev *ev, long status, struct json_object *body, int err,
		const char *msg, void *arg)
{
	struct answer *a = arg;
	struct json_object *id = NULL;
	wake();
	/* Never from inside dkev_request itself. */
	assert_true(a->returned);
	a->calls++;
	a->status = status;
	a->err = err;
	a->msg = bg_xstrdup(msg);
	if (body && json_object_object_get_ex(body, "Id", &id)) {
		a->id = bg_xstrdup(json_object_get_string(id));
	}
}

static bool answered(void *arg)
{
	return ((struct answer *)arg)->calls > 0;
}

static void test_request(void **state)
{
	char *name = tname("req-one");
	char *id = container_new(name);
	struct answer a = {0}, b = {0}, c = {0};
	struct rec r;

	rec_init(&r, "-");
	/* A client for requests only: the version is negotiated on demand. */
	assert_int_equal(dkev_create(&r.ev, &loop, th_docker_sock(), NULL, NULL, &r), 0);
	assert_null(dkev_api_version(r.ev));
	char *path = bg_xasprintf("/containers/%s/json", name);
	assert_int_equal(dkev_request(r.ev, "GET", path, NULL, on_answer, &a), 0);
	a.returned = true;
	assert_int_equal(a.calls, 0);
	assert_true(run_until(answered, &a, 10000));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.status, 200);
	assert_null(a.msg);
	assert_string_equal(a.id, id);
	assert_non_null(dkev_api_version(r.ev));

	/* The engine's error, mapped as dk_request maps it. */
	char *missing = bg_xasprintf("/containers/%s-missing/json", name);
	assert_int_equal(dkev_request(r.ev, "GET", missing, NULL, on_answer, &b), 0);
	b.returned = true;
	assert_true(run_until(answered, &b, 10000));
	assert_int_equal(b.err, BG_ENOT_FOUND);
	assert_int_equal(b.status, 404);
	assert_non_null(b.msg);
	th_assert_contains(b.msg, "No such container");

	/* A POST with a body. */
	assert_int_equal(dkev_request(r.ev, "POST", "/containers/create?name=x%20y",
			"{\"Image\":\"bluegreen-test/web:v1\","
			"\"Labels\":{\"io.bluegreen.managed\":\"true\"}}",
			on_answer, &c), 0);
	c.returned = true;
	assert_true(run_until(answered, &c, 10000));
	assert_int_equal(c.err, BG_EDOCKER); /* an invalid name: 400 */
	assert_int_equal(c.status, 400);
	th_assert_contains(c.msg, "Invalid container name");

	/* Exactly once: nothing more comes. */
	run_until(never, NULL, 300);
	assert_int_equal(a.calls + b.calls + c.calls, 3);
	close_and_wait(&r);
	rec_release(&r);
	free(a.msg);
	free(a.id);
	free(b.msg);
	free(b.id);
	free(c.msg);
	free(c.id);
	free(missing);
	free(path);
	free(id);
	free(name);
}

/* ---- container inspect (the daemon's per-event inspect) ---- */

struct insp_answer {
	unsigned calls;
	int err;
	char *msg;
	char *id, *name, *managed;
	bool returned;
};

static void on_insp(struct dkev *ev, struct obs_container *oc, int err, const char *msg,
		void *arg)
{
	struct insp_answer *a = arg;
	wake();
	/* Never from inside dkev_container_inspect itself. */
	assert_true(a->returned);
	a->calls++;
	a->err = err;
	a->msg = bg_xstrdup(msg);
	if (oc) {
		assert_int_equal(err, 0);
		/* Its contents are the callback's to take: dkev releases what is left. */
		a->id = oc->id;
		oc->id = NULL;
		a->name = bg_xstrdup(oc->name);
		a->managed = bg_xstrdup(obs_labels_get(&oc->labels, BG_LABEL_MANAGED));
	}
}

static bool insp_answered(void *arg)
{
	return ((struct insp_answer *)arg)->calls > 0;
}

static void insp_release(struct insp_answer *a)
{
	free(a->msg);
	free(a->id);
	free(a->name);
	free(a->managed);
}

static void test_container_inspect(void **state)
{
	char *name = tname("insp-one");
	char *id = container_new(name);
	char *missing = bg_xasprintf("%s-missing", name);
	struct insp_answer a = {0}, b = {0}, c = {0};
	struct rec r;

	rec_init(&r, "-");
	assert_int_equal(dkev_create(&r.ev, &loop, th_docker_sock(), NULL, NULL, &r), 0);
	/* By id: parsed as dk_parse_container_inspect parses it. */
	assert_int_equal(dkev_container_inspect(r.ev, id, on_insp, &a), 0);
	a.returned = true;
	assert_int_equal(a.calls, 0);
	assert_true(run_until(insp_answered, &a, 10000));
	assert_int_equal(a.err, 0);
	assert_null(a.msg);
	assert_string_equal(a.id, id);
	assert_non_null(a.name);
	th_assert_contains(a.name, name);
	assert_string_equal(a.managed, "true");

	/* Gone: BG_ENOT_FOUND with the engine's words, no container. */
	assert_int_equal(dkev_container_inspect(r.ev, missing, on_insp, &b), 0);
	b.returned = true;
	assert_true(run_until(insp_answered, &b, 10000));
	assert_int_equal(b.err, BG_ENOT_FOUND);
	assert_null(b.id);
	assert_non_null(b.msg);
	th_assert_contains(b.msg, "No such container");

	/* A name that needs escaping reaches the engine whole (and is not found). */
	char *odd = bg_xasprintf("%s missing?x=1", name);
	assert_int_equal(dkev_container_inspect(r.ev, odd, on_insp, &c), 0);
	c.returned = true;
	assert_true(run_until(insp_answered, &c, 10000));
	assert_int_equal(c.err, BG_ENOT_FOUND);
	th_assert_contains(c.msg, "missing?x=1");

	run_until(never, NULL, 300);
	assert_int_equal(a.calls + b.calls + c.calls, 3);
	close_and_wait(&r);
	rec_release(&r);
	insp_release(&a);
	insp_release(&b);
	insp_release(&c);
	free(odd);
	free(missing);
	free(id);
	free(name);
}

static void test_request_unreachable(void **state)
{
	char *sock = bg_xasprintf("%s/nobody.sock", tmpdir);
	struct answer a = {0};
	struct rec r;

	rec_init(&r, "-");
	assert_int_equal(dkev_create(&r.ev, &loop, sock, NULL, on_state, &r), 0);
	assert_int_equal(dkev_request(r.ev, "GET", "/info", NULL, on_answer, &a), 0);
	a.returned = true;
	assert_true(run_until(answered, &a, 5000));
	assert_int_equal(a.err, BG_EDOCKER_UNREACHABLE);
	assert_int_equal(a.status, 0);
	char *want = bg_xasprintf("cannot reach the Docker engine at %s: no such socket "
			"(is dockerd running?)", sock);
	assert_string_equal(a.msg, want);
	/* Not started: no stream, so no state changes either. */
	assert_int_equal(r.n_disconnected, 0);
	close_and_wait(&r);
	rec_release(&r);
	free(want);
	free(a.msg);
	free(sock);
}

static void test_close_cancels(void **state)
{
	struct answer a = {0}, b = {0};
	struct rec r;

	rec_init(&r, "-");
	assert_int_equal(dkev_create(&r.ev, &loop, th_docker_sock(), NULL, NULL, &r), 0);
	/* In flight (queued behind the version probe) when closed. */
	assert_int_equal(dkev_request(r.ev, "GET", "/info", NULL, on_answer, &a), 0);
	a.returned = true;
	dkev_close(r.ev, on_closed);
	/* Closing: refused now, and its callback never runs. */
	assert_int_equal(dkev_request(r.ev, "GET", "/info", NULL, on_answer, &b),
			BG_ECANCELLED);
	assert_int_equal(a.calls, 0);
	assert_true(run_until(is_closed, &r, 5000));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, BG_ECANCELLED);
	assert_int_equal(b.calls, 0);
	assert_int_equal(r.n_closed, 1);
	dkev_close(NULL, NULL);
	rec_release(&r);
	free(a.msg);
}

/* Closing from inside a callback, while the stream is up. */
static void close_on_event(struct dkev *ev, const struct dk_event *e, void *arg)
{
	struct rec *r = arg;
	on_event(ev, e, arg);
	if (r->events.n) {
		dkev_close(ev, on_closed);
		dkev_close(ev, on_closed); /* twice: harmless */
	}
}

static void test_close_from_callback(void **state)
{
	char *prefix = tname("cb-");
	char *name = tname("cb-one");
	struct rec r;

	rec_init(&r, prefix);
	assert_int_equal(dkev_create(&r.ev, &loop, th_docker_sock(), close_on_event,
			on_state, &r), 0);
	assert_int_equal(dkev_start(r.ev), 0);
	assert_true(run_until(is_connected, &r, 5000));
	char *id = container_new(name);
	assert_true(run_until(is_closed, &r, 5000));
	assert_int_equal(r.events.n, 1);
	assert_int_equal(r.n_closed, 1);
	rec_release(&r);
	free(id);
	free(name);
	free(prefix);
}

/* ---- a unix-socket proxy to the engine, in the test's own loop ---- */

struct proxy;

struct link {
	struct proxy *p;
	uv_pipe_t a; /* from dkev */
	uv_pipe_t b; /* to the engine */
	uv_connect_t conn;
	int open;
	bool closing;
	struct link *next;
};

struct proxy {
	char *path;
	const char *target;
	uv_pipe_t *server;
	struct link *links;
	unsigned accepts;
	bool refuse; /* accept, then hang up at once */
};

struct wreq {
	uv_write_t w;
	char *data;
};

static void link_closed(uv_handle_t *h)
{
	struct link *l = h->data;
	if (--l->open == 0) {
		free(l);
	}
}

static void link_close(struct link *l)
{
	if (l->closing) {
		return;
	}
	l->closing = true;
	for (struct link **pp = &l->p->links; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&l->a, link_closed);
	uv_close((uv_handle_t *)&l->b, link_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	buf->base = bg_xmalloc(65536);
	buf->len = 65536;
}

static void on_written(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	free(wr->data);
	free(wr);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct link *l = s->data;
	uv_stream_t *to = s == (uv_stream_t *)&l->a ? (uv_stream_t *)&l->b
						    : (uv_stream_t *)&l->a;
	if (n < 0) {
		free(buf->base);
		link_close(l);
		return;
	}
	if (n == 0 || l->closing) {
		free(buf->base);
		return;
	}
	struct wreq *wr = bg_xcalloc(1, sizeof(*wr));
	wr->data = buf->base;
	uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
	if (uv_write(&wr->w, to, &out, 1, on_written) != 0) {
		free(wr->data);
		free(wr);
		link_close(l);
	}
}

static void on_upstream(uv_connect_t *c, int status)
{
	struct link *l = c->data;
	if (l->closing) {
		return;
	}
	if (status < 0) {
		link_close(l);
		return;
	}
	uv_read_start((uv_stream_t *)&l->a, on_alloc, on_read);
	uv_read_start((uv_stream_t *)&l->b, on_alloc, on_read);
}

static void on_conn(uv_stream_t *server, int status)
{
	struct proxy *p = server->data;
	struct link *l;

	if (status < 0) {
		return;
	}
	l = bg_xcalloc(1, sizeof(*l));
	l->p = p;
	uv_pipe_init(&loop, &l->a, 0);
	uv_pipe_init(&loop, &l->b, 0);
	l->a.data = l->b.data = l->conn.data = l;
	l->open = 2;
	l->next = p->links;
	p->links = l;
	if (uv_accept(server, (uv_stream_t *)&l->a) != 0) {
		link_close(l);
		return;
	}
	p->accepts++;
	if (p->refuse) {
		link_close(l);
		return;
	}
	uv_pipe_connect(&l->conn, &l->b, p->target, on_upstream);
}

static void proxy_listen(struct proxy *p)
{
	unlink(p->path);
	p->server = bg_xcalloc(1, sizeof(*p->server));
	assert_int_equal(uv_pipe_init(&loop, p->server, 0), 0);
	p->server->data = p;
	assert_int_equal(uv_pipe_bind(p->server, p->path), 0);
	assert_int_equal(uv_listen((uv_stream_t *)p->server, 16, on_conn), 0);
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/* Cut: every connection dropped, and nobody listening any more. */
static void proxy_cut(struct proxy *p)
{
	while (p->links) {
		link_close(p->links);
	}
	if (p->server) {
		uv_close((uv_handle_t *)p->server, free_handle);
		p->server = NULL;
	}
	unlink(p->path);
}

static bool is_disconnected(void *arg)
{
	struct rec *r = arg;
	return r->n_disconnected > 0 && !dkev_connected(r->ev);
}

static bool reconnected(void *arg)
{
	struct rec *r = arg;
	return r->n_connected >= 2 && dkev_connected(r->ev);
}

static void test_reconnect(void **state)
{
	char *prefix = tname("rc-");
	char *before = tname("rc-before"), *after = tname("rc-after");
	struct proxy p = {.path = bg_xasprintf("%s/proxy.sock", tmpdir),
		.target = th_docker_sock()};
	struct rec r;

	rec_init(&r, prefix);
	proxy_listen(&p);
	assert_int_equal(dkev_create(&r.ev, &loop, p.path, on_event, on_state, &r), 0);
	assert_int_equal(dkev_start(r.ev), 0);
	assert_true(run_until(is_connected, &r, 5000));
	assert_int_equal(r.n_connected, 1);
	/* Events flow through the proxy. */
	char *id1 = container_new(before);
	assert_true(wait_event(&r, "create", before, 5000));

	/* Cut it: one "disconnected", with the reason. */
	proxy_cut(&p);
	assert_true(run_until(is_disconnected, &r, 3000));
	assert_int_equal(r.n_disconnected, 1);
	th_assert_contains(r.last_reason, "Docker engine");
	/* While it stays down, retries fail quietly: no second report. */
	run_until(never, NULL, 1000);
	assert_int_equal(r.n_disconnected, 1);
	assert_int_equal(r.n_connected, 1);

	/* An engine that hangs up on every connection: backoff, no spinning.
	 * 1.5 s of 100, 200, 400, 800 ms waits is at most 5 attempts, each
	 * one connection (the version probe fails first). */
	p.refuse = true;
	proxy_listen(&p);
	unsigned a0 = p.accepts;
	run_until(never, NULL, 1500);
	unsigned attempts = p.accepts - a0;
	assert_true(attempts >= 1);
	assert_true(attempts <= 6);
	assert_int_equal(r.n_disconnected, 1);

	/* Back: connected again, and events flow again. */
	p.refuse = false;
	assert_true(run_until(reconnected, &r, 8000));
	assert_int_equal(r.n_connected, 2);
	char *id2 = container_new(after);
	assert_true(wait_event(&r, "create", after, 5000));

	close_and_wait(&r);
	proxy_cut(&p);
	run_until(never, NULL, 50);
	rec_release(&r);
	free(id1);
	free(id2);
	free(p.path);
	free(before);
	free(after);
	free(prefix);
}

int main(void)
{
	const char *trace = getenv("BLUEGREEN_TRACE");
	if (trace) {
		bg_log_init(BG_LOG_DEBUG, NULL, NULL);
		bg_log_trace_parse(trace);
	}
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_container_inspect),
		cmocka_unit_test(test_request_unreachable),
		cmocka_unit_test(test_close_cancels),
		cmocka_unit_test(test_close_from_callback),
		cmocka_unit_test(test_reconnect),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
