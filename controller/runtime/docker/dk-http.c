/*
 * dk-http: the Docker client's transport. A request (struct dk__req, shared
 * with dkev.c through dk-int.h) is built on a curl easy handle, its answer
 * collected (or fed to a JSON stream) and its outcome mapped to bluegreen's
 * codes and messages; the blocking client performs it with curl_easy_perform
 * (dk__perform, dk__call, dk_request). URL escaping lives here too: it is
 * libcurl's.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "bg-log.h"
#include "bg-util.h"

#include <ctype.h>

/* ---- URL escaping ---- */

/*
 * libcurl's escaping: everything but the unreserved characters
 * (A-Z a-z 0-9 - . _ ~) as %XX in upper case. A new string. libcurl
 * ignores the handle since 7.82, hence NULL.
 */
static char *escape_segment(const char *s, size_t len)
{
	char *c = curl_easy_escape(NULL, s, (int)len);
	char *out;

	if (!c) {
		/* Only out of memory (or a length beyond int, never ours). */
		fprintf(stderr, "fatal: out of memory escaping a URL of %zu bytes\n", len);
		abort();
	}
	out = bg_xstrdup(c);
	curl_free(c);
	return out;
}

char *dk__url_escape(const char *s)
{
	/* Length 0 would make libcurl take strlen: "" stays "" either way. */
	return escape_segment(s, strlen(s));
}

char *dk__url_escape_path(const char *s)
{
	struct bg_buf b;
	const char *seg = s;

	/* libcurl escapes '/': escape each segment and keep the slashes. */
	bg_buf_init(&b, 0);
	for (;;) {
		const char *slash = strchr(seg, '/');
		size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
		if (len) {
			char *e = escape_segment(seg, len);
			bg_buf_adds(&b, e);
			free(e);
		}
		if (!slash) {
			break;
		}
		bg_buf_addch(&b, '/');
		seg = slash + 1;
	}
	return bg_buf_detach(&b, NULL);
}

/* ---- the request ---- */

void dk__req_init(struct dk__req *r)
{
	memset(r, 0, sizeof(*r));
	bg_buf_init(&r->resp, DK_RESPONSE_MAX);
}

void dk__req_release(struct dk__req *r)
{
	if (!r) {
		return;
	}
	free(r->socket);
	free(r->method);
	free(r->path);
	free(r->url);
	free(r->body);
	free(r->abort_msg);
	curl_slist_free_all(r->headers);
	bg_buf_release(&r->resp);
	dk__req_init(r);
}

static size_t req_header(char *buf, size_t size, size_t n, void *arg)
{
	struct dk__req *r = arg;
	size_t len = size * n;

	/* The blank line ends a header block; an interim 100 Continue has
	 * its own, so only a final status counts. */
	if (len <= 2 && (len == 0 || buf[0] == '\r' || buf[0] == '\n')) {
		long code = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) {
			r->status = code;
			r->headers_done = true;
		}
	}
	return len;
}

static size_t req_write(char *buf, size_t size, size_t n, void *arg)
{
	struct dk__req *r = arg;
	size_t len = size * n;

	if (r->stream && r->status >= 200 && r->status < 300) {
		struct bg_diag d;
		bg_diag_init(&d);
		int err = dk_stream_feed(r->stream, buf, len, &d);
		if (err) {
			r->abort_err = err;
			free(r->abort_msg);
			r->abort_msg = bg_xstrdup(d.n ? d.items[0].msg : bg_strerror(err));
			bg_diag_release(&d);
			return 0;
		}
		bg_diag_release(&d);
		return len;
	}
	if (bg_buf_add(&r->resp, buf, len) != 0) {
		r->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	return len;
}

#define SETOPT(opt, val)                                                      \
	do {                                                                  \
		if (curl_easy_setopt(easy, (opt), (val)) != CURLE_OK) {       \
			goto fail;                                            \
		}                                                             \
	} while (0)

static int setup_easy(CURL *easy, const char *socket, uint64_t timeout_ms)
{
	uint64_t connect_ms = DK_CONNECT_TIMEOUT_MS;

	if (timeout_ms && timeout_ms < connect_ms) {
		connect_ms = timeout_ms;
	}
	SETOPT(CURLOPT_UNIX_SOCKET_PATH, socket);
	/* http_proxy and friends in the environment must not reroute us. */
	SETOPT(CURLOPT_PROXY, "");
	SETOPT(CURLOPT_NOPROXY, "*");
	SETOPT(CURLOPT_PROTOCOLS_STR, "http");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
	SETOPT(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	return 0;
fail:
	return BG_EDOCKER;
}

int dk__req_prepare(struct dk__req *r, CURL *easy, const char *socket,
		const char *api, const char *method, const char *path,
		const char *body, uint64_t timeout_ms)
{
	dk__req_release(r);
	r->easy = easy;
	r->socket = bg_xstrdup(socket);
	r->method = bg_xstrdup(method);
	/* Messages show the path, but a URL-encoded filter is noise there. */
	const char *f = strstr(path, "filters=");
	if (f) {
		r->path = bg_xasprintf("%.*sfilters=...", (int)(f - path), path);
	} else {
		r->path = bg_xstrdup(path);
	}
	r->body = bg_xstrdup(body);
	r->timeout_ms = timeout_ms;
	if (api) {
		r->url = bg_xasprintf("http://localhost/v%s%s", api, path);
	} else {
		r->url = bg_xasprintf("http://localhost%s", path);
	}
	r->start_ms = bg_mono_ms();

	curl_easy_reset(easy);
	if (setup_easy(easy, r->socket, timeout_ms) != 0) {
		goto fail;
	}
	SETOPT(CURLOPT_URL, r->url);
	SETOPT(CURLOPT_ERRORBUFFER, r->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, req_write);
	SETOPT(CURLOPT_WRITEDATA, r);
	SETOPT(CURLOPT_HEADERFUNCTION, req_header);
	SETOPT(CURLOPT_HEADERDATA, r);
	SETOPT(CURLOPT_PRIVATE, r);
	/* curl would wait up to a second for "100 Continue" on big bodies. */
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (r->body) {
		r->headers = curl_slist_append(r->headers,
				"Content-Type: application/json");
	}
	if (!r->headers) {
		goto fail;
	}
	SETOPT(CURLOPT_HTTPHEADER, r->headers);
	if (strcmp(method, "GET") == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		SETOPT(CURLOPT_POST, 1L);
		SETOPT(CURLOPT_POSTFIELDS, r->body ? r->body : "");
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)(r->body ? strlen(r->body) : 0));
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, r->method);
		if (r->body) {
			SETOPT(CURLOPT_POSTFIELDS, r->body);
			SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
		}
	}
	return 0;
fail:
	return BG_EDOCKER;
}

#undef SETOPT

/* "Connection refused" -> "connection refused", as messages go. */
static char *lower_first(const char *s)
{
	char *c = bg_xstrdup(s);
	c[0] = (char)tolower((unsigned char)c[0]);
	return c;
}

static int transport_error(struct dk__req *r, CURLcode rc, struct bg_diag *d)
{
	long os = 0;
	const char *why = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);

	curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os);
	bg_trace(DK, "%s %s: curl error %d (%s), errno %ld", r->method, r->path,
			(int)rc, why, os);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		if (os == EACCES || os == EPERM) {
			dk__error(d, "permission denied on %s (is this user in the "
					"docker group?)", r->socket);
		} else if (os == ENOENT) {
			dk__error(d, "cannot reach the Docker engine at %s: no such "
					"socket (is dockerd running?)", r->socket);
		} else if (os) {
			char *e = lower_first(strerror((int)os));
			dk__error(d, "cannot reach the Docker engine at %s: %s "
					"(is dockerd running?)", r->socket, e);
			free(e);
		} else {
			dk__error(d, "cannot reach the Docker engine at %s: %s "
					"(is dockerd running?)", r->socket, why);
		}
		return BG_EDOCKER_UNREACHABLE;
	case CURLE_OPERATION_TIMEDOUT:
		dk__error(d, "the Docker engine at %s did not answer %s %s within "
				"%" PRIu64 " ms", r->socket, r->method, r->path,
				r->timeout_ms);
		return BG_ETIMEOUT;
	case CURLE_WRITE_ERROR:
		if (r->too_big) {
			dk__error(d, "the Docker engine's answer to %s %s exceeds "
					"%u bytes", r->method, r->path, DK_RESPONSE_MAX);
			return BG_ETOO_BIG;
		}
		if (r->abort_err) {
			dk__error(d, "%s", r->abort_msg ? r->abort_msg
							: bg_strerror(r->abort_err));
			return r->abort_err;
		}
		break;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		dk__error(d, "the Docker engine at %s closed the connection during "
				"%s %s: %s", r->socket, r->method, r->path, why);
		return BG_EDOCKER_UNREACHABLE;
	default:
		break;
	}
	dk__error(d, "%s %s on %s: %s", r->method, r->path, r->socket, why);
	return BG_EDOCKER;
}

static int http_error(struct dk__req *r, struct bg_diag *d)
{
	struct json_object *j = NULL;
	const char *msg = NULL;
	int err;

	if (dk__json_parse(r->resp.data, r->resp.len, &j) == 0) {
		msg = dk__jstr(j, "message");
	}
	switch (r->status) {
	case 404:
		err = BG_ENOT_FOUND;
		break;
	case 409:
		err = BG_ECONFLICT;
		break;
	default:
		err = BG_EDOCKER;
		break;
	}
	if (msg && *msg) {
		dk__error(d, "%s", msg);
	} else {
		dk__error(d, "the Docker engine answered %s %s with HTTP %ld",
				r->method, r->path, r->status);
	}
	json_object_put(j);
	return err;
}

int dk__req_result(struct dk__req *r, CURLcode rc, long *status,
		struct json_object **out, struct bg_diag *d)
{
	long code = 0;

	if (out) {
		*out = NULL;
	}
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	r->status = code;
	if (status) {
		*status = code;
	}
	bg_trace(DK, "%s %s -> %ld (%" PRId64 " ms)", r->method, r->path, code,
			bg_mono_ms() - r->start_ms);
	if (rc != CURLE_OK) {
		return transport_error(r, rc, d);
	}
	if (code >= 400) {
		return http_error(r, d);
	}
	if (out && r->resp.len) {
		/* Not JSON (e.g. the "OK" of /_ping) is not an error here: the
		 * typed callers say what they expected. */
		dk__json_parse(r->resp.data, r->resp.len, out);
	}
	return 0;
}

/* ---- the blocking exchange ---- */

char *dk_client_url(const struct dk_client *dk, const char *path)
{
	return bg_xasprintf("http://localhost/v%s%s",
			dk->api_version ? dk->api_version : DK_API_MIN, path);
}

void dk_client_setup_easy(const struct dk_client *dk, void *curl_easy)
{
	setup_easy(curl_easy, dk->socket, dk->timeout_ms);
}

/* One blocking exchange; api NULL for the unversioned /version. */
int dk__perform(struct dk_client *dk, const char *api, const char *method,
		const char *path, const char *body, uint64_t timeout_ms,
		struct dk_stream *stream, long *status, struct json_object **out,
		struct bg_diag *d)
{
	struct dk__req r;
	int err;

	dk__req_init(&r);
	err = dk__req_prepare(&r, dk->easy, dk->socket, api, method, path, body,
			timeout_ms);
	if (err) {
		dk__error(d, "libcurl cannot talk to a unix socket (%s)", r.errbuf);
		goto out;
	}
	r.stream = stream;
	err = dk__req_result(&r, curl_easy_perform(dk->easy), status, out, d);
out:
	dk__req_release(&r);
	return err;
}

int dk__ensure_api(struct dk_client *dk, struct bg_diag *d)
{
	return dk->api_version ? 0 : dk_client_negotiate(dk, d);
}

int dk__call(struct dk_client *dk, const char *method, const char *path,
		const char *body, uint64_t timeout_ms, long *status,
		struct json_object **out, struct bg_diag *d)
{
	int err = dk__ensure_api(dk, d);
	if (err) {
		if (out) {
			*out = NULL;
		}
		if (status) {
			*status = 0;
		}
		return err;
	}
	return dk__perform(dk, dk->api_version, method, path, body, timeout_ms, NULL,
			status, out, d);
}

int dk_request(struct dk_client *dk, const char *method, const char *path,
		const char *body, long *status, struct json_object **out,
		struct bg_diag *d)
{
	return dk__call(dk, method, path, body, dk->timeout_ms, status, out, d);
}

/* GET path and insist on a JSON body of the given type. */
int dk__get_json(struct dk_client *dk, const char *path, enum json_type t,
		struct json_object **out, struct bg_diag *d)
{
	int err = dk__call(dk, "GET", path, NULL, dk->timeout_ms, NULL, out, d);
	if (err) {
		return err;
	}
	if (!*out || !json_object_is_type(*out, t)) {
		dk__error(d, "the Docker engine's answer to GET %s is not the "
				"JSON %s expected", path, json_type_to_name(t));
		json_object_put(*out);
		*out = NULL;
		return BG_EPARSE;
	}
	return 0;
}

/* Run m until every transfer ended; false if curl itself failed. */
static bool multi_run(CURLM *m)
{
	int running = 1;
	CURLMcode mc = CURLM_OK;
	while (running && mc == CURLM_OK) {
		mc = curl_multi_perform(m, &running);
		if (mc == CURLM_OK && running) {
			mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
		}
	}
	return mc == CURLM_OK;
}

int dk__get_many(struct dk_client *dk, char *const *paths, size_t n,
		struct json_object **out, int *errs, struct bg_diag *ds, struct bg_diag *d)
{
	int err = dk__ensure_api(dk, d);
	if (err || !n) {
		return err;
	}
	CURLM *m = curl_multi_init();
	struct dk__req *r = bg_xcalloc(n, sizeof(*r));
	CURL **easy = bg_xcalloc(n, sizeof(*easy));
	for (size_t i = 0; i < n; i++) {
		out[i] = NULL;
		errs[i] = BG_EDOCKER;
		dk__req_init(&r[i]);
		easy[i] = m ? curl_easy_init() : NULL;
		if (easy[i] && dk__req_prepare(&r[i], easy[i], dk->socket, dk->api_version, "GET",
				paths[i], NULL, dk->timeout_ms) == 0 &&
				curl_multi_add_handle(m, easy[i]) == CURLM_OK) {
			errs[i] = 1; /* under way */
		} else {
			dk__error(&ds[i], "libcurl cannot talk to a unix socket (%s)", r[i].errbuf);
		}
	}
	if (!m || !multi_run(m)) {
		dk__error(d, "libcurl could not run %zu requests to the Docker engine", n);
		err = BG_EDOCKER;
	}
	CURLMsg *msg;
	int left;
	while (m && (msg = curl_multi_info_read(m, &left))) {
		struct dk__req *q = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		if (msg->msg == CURLMSG_DONE && q && q >= r && q < r + n) {
			size_t i = (size_t)(q - r);
			errs[i] = dk__req_result(q, msg->data.result, NULL, &out[i], &ds[i]);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (errs[i] > 0) {
			dk__error(&ds[i], "GET %s: no answer from the Docker engine", paths[i]);
			errs[i] = BG_EDOCKER;
		}
		if (easy[i]) {
			curl_multi_remove_handle(m, easy[i]);
			curl_easy_cleanup(easy[i]);
		}
		dk__req_release(&r[i]);
	}
	curl_multi_cleanup(m);
	free(easy);
	free(r);
	return err;
}

int dk__req_stream(struct dk__req *r, CURL *easy, struct dk_stream *s, struct bg_diag *d)
{
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, (long)DK_PULL_STALL_S);
	r->stream = s;
	int err = dk__req_result(r, curl_easy_perform(easy), NULL, NULL, d);
	return err ? err : dk_stream_finish(s, d);
}
