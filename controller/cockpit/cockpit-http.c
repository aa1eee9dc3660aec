/*
 * cockpit-http: the HTTP side, all of it libmicrohttpd's (no HTTP parsing
 * here): it hands method, path, query and peer to cockpit_handle and sends
 * back what it answers, with headers that keep a page inert in a browser
 * (no script, no framing, no sniffing). The listen address is numeric
 * only; a non-loopback one needs allow_remote, because safe mode has no
 * login yet (docs/cockpit.md).
 */
#include "cockpit-int.h"

#include "bg-log.h"
#include "cfg.h"
#include "cockpit-net.h"
#include "cockpit-sse.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

static bool ck_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
	return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
}

int cockpit_listen_parse(const char *s, bool allow_remote, struct sockaddr_storage *ss,
		unsigned *len, const char **why)
{
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;
	char *end = NULL;
	*why = "not ADDR:PORT (a numeric address, 127.0.0.1:8077 or [::1]:8077)";
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host)) {
		return BG_EUSAGE;
	}
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535) {
		return BG_EUSAGE;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']') {
			return BG_EUSAGE;
		}
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char portbuf[8];
	snprintf(portbuf, sizeof(portbuf), "%lu", port);
	if (getaddrinfo(host, portbuf, &hints, &ai) != 0 || !ai) {
		return BG_EUSAGE;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = (unsigned)ai->ai_addrlen;
	freeaddrinfo(ai);
	if (!allow_remote && !ck_loopback(ss)) {
		*why = "not a loopback address: safe mode has no login yet, so serving other "
		       "hosts needs --allow-remote (or a reverse proxy that authenticates)";
		return BG_EREFUSED;
	}
	*why = NULL;
	return 0;
}

/* GET arguments back into "k=v&k=v" (values as MHD decoded them). */
static enum MHD_Result ck_arg(void *cls, enum MHD_ValueKind kind, const char *key,
		const char *value)
{
	struct bg_buf *q = cls;
	if (q->len) {
		bg_buf_addch(q, '&');
	}
	bg_buf_addf(q, "%s=%s", key, value ? value : "");
	return MHD_YES;
}

/* ---- issue 15 (E): /events, the client behind a proxy, TLS ---- */

/* A stream and whom it is for (NULL: no login in use), freed together. */
struct ck_events_ctx {
	struct ck_sse_stream *st;
	struct ck_scope *sc;
};

static ssize_t ck_sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	ssize_t n = ck_sse_stream_read(((struct ck_events_ctx *)cls)->st, buf, max);
	if (n == CK_SSE_READ_GONE) {
		return MHD_CONTENT_READER_END_WITH_ERROR; /* nobody to end the chunks for: close */
	}
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void ck_sse_free(void *cls)
{
	struct ck_events_ctx *x = cls;
	ck_sse_stream_close(x->st);
	ck_scope_free(x->sc);
	free(x);
}

/* A viewer's stream carries its sites' events only, never plan-wide ones (site NULL). */
static bool ck_events_allow(const char *site, void *arg)
{
	const struct ck_scope *sc = arg;
	return site ? ck_scope_sees(sc, site) : !ck_scope_limited(sc);
}

/* GET /events: a stream from the hub, or 503 when too many are open. */
static enum MHD_Result ck_events(struct cockpit *ck, struct MHD_Connection *c,
		struct ck_scope *sc)
{
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	struct ck_sse_scope scope = {ck_events_allow, sc};
	struct ck_sse_stream *st = ck->sse ? ck_sse_stream_open(ck->sse, last, &scope) : NULL;
	struct MHD_Response *resp;
	unsigned status = MHD_HTTP_OK;
	if (st) {
		struct ck_events_ctx *x = bg_xcalloc(1, sizeof(*x));
		/* MHD looks at the socket only between reads: the stream watches it while it waits. */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
				MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci) {
			ck_sse_stream_watch_peer(st, ci->connect_fd);
		}
		x->st = st;
		x->sc = sc;
		sc = NULL;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, ck_sse_reader,
				x, ck_sse_free);
		if (!resp) {
			ck_sse_free(x);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
		/* nginx buffers a proxied response unless told not to. */
		MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	} else {
		static const char busy[] = "too many event streams are open; retry later\n";
		resp = MHD_create_response_from_buffer(strlen(busy), (void *)busy,
				MHD_RESPMEM_PERSISTENT);
		if (!resp) {
			ck_scope_free(sc);
			return MHD_NO;
		}
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
		MHD_add_response_header(resp, "Retry-After", "5");
	}
	ck_scope_free(sc); /* NULL when the stream took it */
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- issue 15: POST forms (libmicrohttpd's post processor) and cookies ---- */

/* The most a form may hold: a login or an approval is a few hundred bytes. */
#define CK_FORM_MAX (16u * 1024)

struct ck_post {
	struct MHD_PostProcessor *pp;
	struct bg_strv keys, vals;
	size_t bytes;
	bool too_big;
};

static enum MHD_Result ck_post_field(void *cls, enum MHD_ValueKind kind, const char *key,
		const char *filename, const char *content_type, const char *transfer_encoding,
		const char *data, uint64_t off, size_t size)
{
	struct ck_post *p = cls;
	p->bytes += size + strlen(key);
	if (p->too_big || p->bytes > CK_FORM_MAX) {
		p->too_big = true;
		return MHD_NO;
	}
	/* A value may come in pieces: the pieces of one key follow each other. */
	if (off > 0 && p->keys.n && strcmp(p->keys.v[p->keys.n - 1], key) == 0) {
		char *v = p->vals.v[p->vals.n - 1];
		char *nv = bg_xasprintf("%s%.*s", v, (int)size, data);
		free(v);
		p->vals.v[p->vals.n - 1] = nv;
		return MHD_YES;
	}
	bg_strv_push(&p->keys, key);
	bg_strv_push_take(&p->vals, bg_xstrndup(data ? data : "", size));
	return MHD_YES;
}

static void ck_post_free(struct ck_post *p)
{
	if (!p) {
		return;
	}
	if (p->pp) {
		MHD_destroy_post_processor(p->pp);
	}
	for (size_t i = 0; i < p->vals.n; i++) {
		explicit_bzero(p->vals.v[i], strlen(p->vals.v[i])); /* passwords */
	}
	bg_strv_release(&p->keys);
	bg_strv_release(&p->vals);
	free(p);
}

static void ck_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		enum MHD_RequestTerminationCode toe)
{
	ck_post_free(*con_cls);
	*con_cls = NULL;
}

/*
 * With a users file, a POST's form is read first (MHD calls us once per
 * piece, then with nothing left): true while more is to come. Without
 * one, safe mode answers at once and never reads a body, as before.
 */
static bool ck_post_collect(struct cockpit *ck, struct MHD_Connection *c, const char *method,
		const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	if (!ck->auth || strcmp(method, "POST") != 0) {
		return false;
	}
	struct ck_post *p = *con_cls;
	if (!p) {
		p = bg_xcalloc(1, sizeof(*p));
		bg_strv_init(&p->keys);
		bg_strv_init(&p->vals);
		/* NULL for a body that is not a form: then there is no field, and no CSRF token. */
		p->pp = MHD_create_post_processor(c, 4096, ck_post_field, p);
		*con_cls = p;
		return true;
	}
	if (*upload_data_size) {
		if (p->pp && !p->too_big) {
			MHD_post_process(p->pp, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return true;
	}
	return false;
}

static enum MHD_Result ck_answer(void *cls, struct MHD_Connection *c, const char *url,
		const char *method, const char *version, const char *upload_data,
		size_t *upload_data_size, void **con_cls)
{
	struct cockpit *ck = cls;
	struct cockpit_reply r;
	struct bg_buf q = BG_BUF_INIT;
	struct ck_client cl;
	if (ck_post_collect(ck, c, method, upload_data, upload_data_size, con_cls)) {
		return MHD_YES;
	}
	struct ck_post *post = *con_cls;
	ck_client_get(ck->o.conf ? &ck->o.conf->trusted_proxies : NULL, ck->tls, c, &cl);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, ck_arg, &q);
	cockpit_reply_init(&r);
	struct cockpit_req rq = {.method = method, .path = url, .query = q.data, .peer = cl.addr,
		.cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, CK_COOKIE_NAME),
		.login_cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, CK_LOGIN_COOKIE),
		.login_cookie_host = MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
				CK_LOGIN_COOKIE_HOST),
		.form_keys = post && !post->too_big ? &post->keys : NULL,
		.form_vals = post && !post->too_big ? &post->vals : NULL, .secure = cl.secure};
	if (strcmp(url, "/events") == 0 && strcmp(method, "GET") == 0) {
		/* Behind the same login as the pages; a viewer's stream sees its sites only. */
		if (!ck_auth_gate(ck, &rq, &r)) {
			struct ck_scope *sc = r.scope;
			r.scope = NULL;
			bg_buf_release(&q);
			cockpit_reply_release(&r);
			return ck_events(ck, c, sc);
		}
	} else {
		cockpit_handle_req(ck, &rq, &r);
	}
	/* A refused body is never read: the reply goes out on the first call. */
	if (upload_data_size) {
		*upload_data_size = 0;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(r.body.len, r.body.data,
			MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_NO;
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", r.ctype);
		MHD_add_response_header(resp, "Cache-Control", "no-store");
		MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
				"connect-src 'self'; frame-ancestors 'none'; form-action 'self'");
		if (r.status == 403 && !ck->auth) {
			MHD_add_response_header(resp, "Allow", "GET, HEAD");
		}
		if (r.set_cookie) {
			MHD_add_response_header(resp, "Set-Cookie", r.set_cookie);
		}
		if (r.set_cookie2) {
			MHD_add_response_header(resp, "Set-Cookie", r.set_cookie2);
		}
		if (r.location) {
			MHD_add_response_header(resp, "Location", r.location);
		}
		ret = MHD_queue_response(c, r.status, resp);
		MHD_destroy_response(resp);
	}
	cockpit_reply_release(&r);
	bg_buf_release(&q);
	return ret;
}

/* The listen address: the flag, else global.conf's cockpit.listen, else the default. */
static const char *ck_listen_of(const struct cockpit_opts *o)
{
	if (o->listen) {
		return o->listen;
	}
	return o->conf && o->conf->listen ? o->conf->listen : COCKPIT_LISTEN_DEFAULT;
}

static struct MHD_Daemon *ck_mhd_start(struct cockpit *ck, struct sockaddr_storage *ss,
		const struct ck_tls_files *tls)
{
	/*
	 * A thread per connection: an event stream's reader waits (bounded) in
	 * its own thread, never in a thread other requests need.
	 */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			MHD_USE_ERROR_LOG | (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
			(tls->cert ? MHD_USE_TLS : 0);
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key},
		{MHD_OPTION_END, 0, NULL},
	};
	return MHD_start_daemon(flags, 0, NULL, NULL, ck_answer, ck,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
			/* Event streams stay open: room for CK_SSE_MAX_STREAMS and requests. */
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)(CK_SSE_MAX_STREAMS + 256),
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(CK_SSE_MAX_STREAMS + 64),
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
			MHD_OPTION_NOTIFY_COMPLETED, ck_completed, NULL,
			tls->cert ? MHD_OPTION_ARRAY : MHD_OPTION_END, tls_opts,
			MHD_OPTION_END);
}

int cockpit_serve(const struct cockpit_opts *o, struct bg_diag *d)
{
	struct sockaddr_storage ss;
	struct ck_tls_files tls = {0};
	unsigned len = 0;
	const char *why = NULL;
	const char *listen = ck_listen_of(o);
	int err = cockpit_listen_parse(listen, o->allow_remote, &ss, &len, &why);
	if (err) {
		bg_diag_error(d, NULL, "cockpit: %s %s: %s", o->listen ? "--listen" :
				"cockpit.listen", listen, why);
		return err;
	}
	if (o->conf && o->conf->tls_cert && o->conf->tls_key) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			bg_diag_error(d, NULL, "cockpit: cockpit.tls is set but this libmicrohttpd "
					"was built without TLS");
			return BG_EUSAGE;
		}
		err = ck_tls_files_read(o->conf->tls_cert, o->conf->tls_key, &tls, d);
		if (err) {
			return err;
		}
	}
	struct cockpit *ck = cockpit_new(o);
	ck->tls = tls.cert != NULL;
	ck->sse = ck_sse_hub_start(ck);
	struct MHD_Daemon *mhd = ck_mhd_start(ck, &ss, &tls);
	/* libmicrohttpd keeps its own copy of the key: ours goes now. */
	ck_tls_files_release(&tls);
	if (!mhd) {
		bg_diag_error(d, NULL, "cockpit: cannot listen on %s%s: %s", listen,
				ck->tls ? " with TLS (are cert and key a matching PEM pair?)" : "",
				strerror(errno));
		ck_sse_hub_free(ck->sse);
		cockpit_free(ck);
		return BG_ERRNO(errno ? errno : EADDRINUSE);
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (o->on_listen) {
		o->on_listen(di ? di->port : 0, o->on_listen_arg);
	}
	while (!*o->stop) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* Streams end first (within a second), so MHD can join their threads. */
	ck_sse_hub_stop(ck->sse);
	MHD_stop_daemon(mhd);
	ck_sse_hub_free(ck->sse);
	cockpit_free(ck);
	return 0;
}
