/*
 * dk: the Docker Engine API client (dk.h). The file has four layers, in
 * this order: the request (struct dk__req: build on a curl easy handle,
 * collect the answer, map errors; shared with dkev.c through dk-int.h);
 * the pure parsers (inspect, lists, version, events, JSON streams), which
 * the unit tests and the fuzzer call directly; the blocking client
 * (dk_request and the typed calls built on it); and the actions. Scope is
 * enforced twice: the engine filters lists on io.bluegreen.managed=true,
 * and every parsed object is checked again here, because a filter typo
 * must never let an operator's own container into a plan.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "bg-log.h"
#include "bg-util.h"

#include <ctype.h>

struct dk_client {
	char *socket;
	CURL *easy; /* reused, so the connection to the engine is kept alive */
	uint64_t timeout_ms;
	char *engine_version;
	char *api_version;
};

/* {"label":["io.bluegreen.managed=true"]}, URL-encoded. */
#define FILTER_MANAGED                                                        \
	"%7B%22label%22%3A%5B%22io.bluegreen.managed%3Dtrue%22%5D%7D"

void dk__error(struct bg_diag *d, const char *fmt, ...)
{
	va_list ap;
	if (!d) {
		return;
	}
	va_start(ap, fmt);
	bg_diag_vadd(d, BG_SEV_ERROR, NULL, fmt, ap);
	va_end(ap);
}

/* ---- small JSON helpers (all results borrowed from o) ---- */

static struct json_object *jget(struct json_object *o, const char *key,
		enum json_type t)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		return NULL;
	}
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t)) {
		return NULL;
	}
	return v;
}

/* json_object_get_string() would serialise a non-string: check the type. */
static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key, json_type_string);
	return v ? json_object_get_string(v) : NULL;
}

static bool jint(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = jget(o, key, json_type_int);
	if (!v) {
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

bool dk_labels_managed(struct json_object *labels)
{
	const char *v = jstr(labels, BG_LABEL_MANAGED);
	return v && strcmp(v, "true") == 0;
}

int dk__json_parse(const char *data, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	*out = NULL;
	if (len > INT32_MAX - 1) {
		return BG_ETOO_BIG;
	}
	tok = json_tokener_new();
	if (!tok) {
		return BG_ERRNO(ENOMEM);
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	/* Passing the NUL too tells json-c the input ends there, so a bare
	 * number or literal is complete rather than "continue". */
	o = json_tokener_parse_ex(tok, data, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (!o && json_tokener_get_error(tok) == json_tokener_success) {
		/* A JSON null: valid, but never a useful answer. */
		json_tokener_free(tok);
		return BG_EPARSE;
	}
	json_tokener_free(tok);
	if (!o) {
		return BG_EPARSE;
	}
	for (size_t i = end; i < len; i++) {
		if (!isspace((unsigned char)data[i])) {
			json_object_put(o);
			return BG_EPARSE;
		}
	}
	*out = o;
	return 0;
}

char *dk_url_escape(const char *s, bool path)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = bg_xmalloc(3 * n + 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
				(path && c == '/')) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
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
		msg = jstr(j, "message");
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

/* ---- JSON streams ---- */

void dk_stream_init(struct dk_stream *s, size_t max_value, dk_stream_cb cb, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->max_value = max_value;
	s->cb = cb;
	s->arg = arg;
	s->tok = json_tokener_new();
	if (!s->tok) {
		s->err = BG_ERRNO(ENOMEM);
		return;
	}
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT |
			JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
}

void dk_stream_release(struct dk_stream *s)
{
	if (!s) {
		return;
	}
	if (s->tok) {
		json_tokener_free(s->tok);
	}
	s->tok = NULL;
}

static int stream_fail(struct dk_stream *s, int err, struct bg_diag *d,
		const char *what)
{
	s->err = err;
	if (err == BG_ETOO_BIG) {
		dk__error(d, "a JSON value from the Docker engine exceeds %zu bytes",
				s->max_value);
	} else {
		dk__error(d, "malformed JSON from the Docker engine: %s", what);
	}
	return err;
}

int dk_stream_feed(struct dk_stream *s, const char *data, size_t len,
		struct bg_diag *d)
{
	if (s->err) {
		return s->err;
	}
	while (len > 0) {
		if (s->cur == 0) {
			/* Between values: skip the newlines the engine puts after
			 * each one, so "cur" only ever counts a real value. */
			while (len > 0 && isspace((unsigned char)*data)) {
				data++;
				len--;
			}
			if (len == 0) {
				break;
			}
		}
		size_t chunk = len > (1u << 30) ? (1u << 30) : len;
		struct json_object *o = json_tokener_parse_ex(s->tok, data, (int)chunk);
		enum json_tokener_error jerr = json_tokener_get_error(s->tok);
		if (jerr == json_tokener_continue) {
			s->cur += chunk;
			data += chunk;
			len -= chunk;
			if (s->cur > s->max_value) {
				return stream_fail(s, BG_ETOO_BIG, d, NULL);
			}
			continue;
		}
		if (jerr != json_tokener_success) {
			return stream_fail(s, BG_EPARSE, d, json_tokener_error_desc(jerr));
		}
		size_t used = json_tokener_get_parse_end(s->tok);
		json_tokener_reset(s->tok);
		if (used == 0 || used > chunk) {
			json_object_put(o);
			return stream_fail(s, BG_EPARSE, d, "no progress");
		}
		if (s->cur + used > s->max_value) {
			json_object_put(o);
			return stream_fail(s, BG_ETOO_BIG, d, NULL);
		}
		data += used;
		len -= used;
		s->cur = 0;
		int rc = 0;
		if (o && s->cb) {
			rc = s->cb(o, s->arg);
		}
		json_object_put(o);
		if (rc < 0) {
			s->err = rc;
			return rc;
		}
	}
	return 0;
}

int dk_stream_finish(struct dk_stream *s, struct bg_diag *d)
{
	if (s->err) {
		return s->err;
	}
	if (s->cur) {
		return stream_fail(s, BG_EPARSE, d, "the stream ends inside a value");
	}
	return 0;
}

/* ---- pure parsers ---- */

static int labels_parse(struct json_object *j, struct obs_labels *l,
		const char *what, struct bg_diag *d)
{
	if (!j || json_object_is_type(j, json_type_null)) {
		return 0;
	}
	if (!json_object_is_type(j, json_type_object)) {
		dk__error(d, "%s: Labels is not an object", what);
		return BG_EPARSE;
	}
	json_object_object_foreach(j, key, val) {
		if (!json_object_is_type(val, json_type_string)) {
			dk__error(d, "%s: label '%s' is not a string", what, key);
			return BG_EPARSE;
		}
		obs_labels_set(l, key, json_object_get_string(val));
	}
	obs_labels_sort(l);
	return 0;
}

static int netaddr_cmp(const void *a, const void *b)
{
	const struct obs_netaddr *x = a, *y = b;
	return strcmp(x->network, y->network);
}

static int nets_parse(struct json_object *j, struct obs_container *c,
		struct bg_diag *d)
{
	struct json_object *nets = jget(jget(j, "NetworkSettings", json_type_object),
			"Networks", json_type_object);
	size_t n;

	if (!nets) {
		return 0; /* "none" networking, or an older engine's shape */
	}
	n = (size_t)json_object_object_length(nets);
	if (n == 0) {
		return 0;
	}
	c->nets = bg_xcalloc(n, sizeof(*c->nets));
	json_object_object_foreach(nets, name, ep) {
		if (!json_object_is_type(ep, json_type_object)) {
			dk__error(d, "container inspect: network '%s' is not an object", name);
			return BG_EPARSE;
		}
		const char *ip = jstr(ep, "IPAddress");
		c->nets[c->n_nets].network = bg_xstrdup(name);
		c->nets[c->n_nets].ip = bg_xstrdup(ip ? ip : "");
		c->n_nets++;
	}
	qsort(c->nets, c->n_nets, sizeof(*c->nets), netaddr_cmp);
	return 0;
}

int dk_parse_container_inspect(struct json_object *j, struct obs_container *c,
		struct bg_diag *d)
{
	struct obs_container t;
	struct json_object *config, *state, *health;
	const char *id, *name, *image, *image_id, *status, *hs;
	int64_t code = 0;
	int err = BG_EPARSE;

	memset(&t, 0, sizeof(t));
	if (!j || !json_object_is_type(j, json_type_object)) {
		dk__error(d, "container inspect: not a JSON object");
		goto out;
	}
	id = jstr(j, "Id");
	name = jstr(j, "Name");
	image_id = jstr(j, "Image");
	config = jget(j, "Config", json_type_object);
	state = jget(j, "State", json_type_object);
	image = jstr(config, "Image");
	status = jstr(state, "Status");
	if (!id || !*id || !name || !image_id || !config || !image || !state || !status) {
		dk__error(d, "container inspect: missing %s",
				!id || !*id ? "Id" : !name ? "Name" : !image_id ? "Image"
				: !config ? "Config" : !image ? "Config.Image"
				: !state ? "State" : "State.Status");
		goto out;
	}
	t.id = bg_xstrdup(id);
	t.name = bg_xstrdup(name[0] == '/' ? name + 1 : name);
	t.image = bg_xstrdup(image);
	t.image_id = bg_xstrdup(image_id);
	t.state = obs_cstate_parse(status);
	health = jget(state, "Health", json_type_object);
	hs = jstr(health, "Status");
	t.health = hs ? obs_health_parse(hs) : OBS_HEALTH_NONE;
	if (jint(state, "ExitCode", &code)) {
		t.exit_code = code > INT32_MAX ? INT32_MAX : code < INT32_MIN ? INT32_MIN
				: (int)code;
	}
	struct json_object *labels = NULL;
	json_object_object_get_ex(config, "Labels", &labels);
	err = labels_parse(labels, &t.labels, "container inspect", d);
	if (err) {
		goto out;
	}
	err = nets_parse(j, &t, d);
	if (err) {
		goto out;
	}
	obs_container_derive(&t);
	*c = t;
	memset(&t, 0, sizeof(t)); /* ownership moved to *c */
out:
	obs_container_release(&t);
	return err;
}

int dk_parse_networks(struct json_object *j, struct obs *o, struct bg_diag *d)
{
	if (!j || !json_object_is_type(j, json_type_array)) {
		dk__error(d, "network list: not a JSON array");
		return BG_EPARSE;
	}
	size_t n = json_object_array_length(j);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(j, i);
		struct json_object *labels = NULL;
		const char *id = jstr(e, "Id"), *name = jstr(e, "Name");
		if (!id || !name) {
			dk__error(d, "network list: entry %zu has no Id or Name", i);
			return BG_EPARSE;
		}
		json_object_object_get_ex(e, "Labels", &labels);
		if (!dk_labels_managed(labels)) {
			continue;
		}
		struct obs_labels l = {0};
		int err = labels_parse(labels, &l, "network list", d);
		if (err) {
			obs_labels_release(&l);
			return err;
		}
		struct obs_network *net = obs_network_add(o);
		net->id = bg_xstrdup(id);
		net->name = bg_xstrdup(name);
		net->labels = l;
	}
	return 0;
}

int dk_parse_volumes(struct json_object *j, struct obs *o, struct bg_diag *d)
{
	struct json_object *vols = NULL;

	if (!j || !json_object_is_type(j, json_type_object) ||
			!json_object_object_get_ex(j, "Volumes", &vols)) {
		dk__error(d, "volume list: no Volumes");
		return BG_EPARSE;
	}
	if (json_object_is_type(vols, json_type_null)) {
		return 0; /* the engine says null, not [], when there are none */
	}
	if (!json_object_is_type(vols, json_type_array)) {
		dk__error(d, "volume list: Volumes is not an array");
		return BG_EPARSE;
	}
	size_t n = json_object_array_length(vols);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(vols, i);
		struct json_object *labels = NULL;
		const char *name = jstr(e, "Name");
		if (!name) {
			dk__error(d, "volume list: entry %zu has no Name", i);
			return BG_EPARSE;
		}
		json_object_object_get_ex(e, "Labels", &labels);
		if (!dk_labels_managed(labels)) {
			continue;
		}
		struct obs_labels l = {0};
		int err = labels_parse(labels, &l, "volume list", d);
		if (err) {
			obs_labels_release(&l);
			return err;
		}
		struct obs_volume *v = obs_volume_add(o);
		v->name = bg_xstrdup(name);
		v->labels = l;
	}
	return 0;
}

/* "1.41" -> 1041; false if it is not MAJOR.MINOR. */
static bool api_num(const char *s, unsigned long *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)s[0])) {
		return false;
	}
	unsigned long major = strtoul(s, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]) || major > 1000) {
		return false;
	}
	unsigned long minor = strtoul(end + 1, &end, 10);
	if (*end || minor > 999) {
		return false;
	}
	*out = major * 1000 + minor;
	return true;
}

int dk_parse_version(struct json_object *j, char **engine, char **api,
		struct bg_diag *d)
{
	const char *ver = jstr(j, "Version");
	const char *eapi = jstr(j, "ApiVersion");
	const char *emin = jstr(j, "MinAPIVersion");
	unsigned long have = 0, lo = 0, hi = 0, min = 0;

	*engine = NULL;
	*api = NULL;
	if (!api_num(eapi, &have)) {
		dk__error(d, "the Docker engine's /version has no usable ApiVersion");
		return BG_EPARSE;
	}
	api_num(DK_API_MIN, &lo);
	api_num(DK_API_MAX, &hi);
	if (have < lo) {
		dk__error(d, "the Docker engine (%s) speaks API %s; bluegreen needs "
				"API %s or newer (Docker 20.10 or later)",
				ver ? ver : "unknown version", eapi, DK_API_MIN);
		return BG_EDOCKER;
	}
	if (emin && api_num(emin, &min) && min > hi) {
		dk__error(d, "the Docker engine (%s) no longer speaks API %s or "
				"older (its minimum is %s); this bluegreen is too old for it",
				ver ? ver : "unknown version", DK_API_MAX, emin);
		return BG_EDOCKER;
	}
	*engine = bg_xstrdup(ver ? ver : "unknown");
	*api = bg_xstrdup(have > hi ? DK_API_MAX : eapi);
	return 0;
}

struct pull_state {
	char *error;
};

static int pull_value(struct json_object *v, void *arg)
{
	struct pull_state *ps = arg;
	const char *e = jstr(jget(v, "errorDetail", json_type_object), "message");

	if (!e) {
		e = jstr(v, "error");
	}
	if (e && !ps->error) {
		ps->error = bg_xstrdup(e);
	}
	return 0;
}

int dk_parse_pull_stream(const char *data, size_t len, struct bg_diag *d)
{
	struct pull_state ps = {0};
	struct dk_stream s;
	int err;

	dk_stream_init(&s, DK_STREAM_VALUE_MAX, pull_value, &ps);
	err = dk_stream_feed(&s, data, len, d);
	if (!err) {
		err = dk_stream_finish(&s, d);
	}
	dk_stream_release(&s);
	if (!err && ps.error) {
		dk__error(d, "%s", ps.error);
		err = BG_EDOCKER;
	}
	free(ps.error);
	return err;
}

int dk_parse_event(struct json_object *j, struct dk_event *e, struct bg_diag *d)
{
	const char *type = jstr(j, "Type");
	const char *action = jstr(j, "Action");
	struct json_object *actor = jget(j, "Actor", json_type_object);
	struct json_object *attrs = jget(actor, "Attributes", json_type_object);
	int64_t t = 0;

	memset(e, 0, sizeof(*e));
	e->exit_code = -1;
	if (!type || !action) {
		dk__error(d, "event: missing Type or Action");
		return BG_EPARSE;
	}
	if (strcmp(type, "container") == 0) {
		e->type = DK_EVENT_CONTAINER;
	} else if (strcmp(type, "network") == 0) {
		e->type = DK_EVENT_NETWORK;
	} else if (strcmp(type, "volume") == 0) {
		e->type = DK_EVENT_VOLUME;
	} else {
		e->type = DK_EVENT_OTHER;
	}
	/* "health_status: healthy", "exec_start: sh -c ...": the word before
	 * ": " is the action, the rest its detail. */
	const char *colon = strstr(action, ": ");
	size_t alen = colon ? (size_t)(colon - action) : strlen(action);
	if (alen >= sizeof(e->action)) {
		alen = sizeof(e->action) - 1;
	}
	memcpy(e->action, action, alen);
	e->action[alen] = '\0';
	e->detail = colon ? colon + 2 : NULL;
	e->id = jstr(actor, "ID");
	e->name = jstr(attrs, "name");
	if (e->type == DK_EVENT_VOLUME && !e->name) {
		e->name = e->id; /* a volume's ID is its name */
	}
	if (e->type == DK_EVENT_CONTAINER) {
		e->managed = dk_labels_managed(attrs);
		e->site = jstr(attrs, BG_LABEL_SITE);
		e->colour = jstr(attrs, BG_LABEL_COLOUR);
		e->role = jstr(attrs, BG_LABEL_ROLE);
		const char *ec = jstr(attrs, "exitCode");
		if (ec && strcmp(e->action, "die") == 0) {
			char *end;
			long v = strtol(ec, &end, 10);
			if (*ec && !*end && v >= 0 && v < 1000) {
				e->exit_code = (int)v;
			}
		}
	} else if (e->type == DK_EVENT_NETWORK) {
		e->container = jstr(attrs, "container");
	}
	if (jint(j, "timeNano", &t) && t > 0) {
		e->time_ms = t / 1000000;
	} else if (jint(j, "time", &t) && t > 0 && t < INT64_MAX / 1000) {
		e->time_ms = t * 1000;
	}
	return 0;
}

bool dk_event_in_scope(const struct dk_event *e)
{
	switch (e->type) {
	case DK_EVENT_CONTAINER:
		return e->managed;
	case DK_EVENT_NETWORK:
	case DK_EVENT_VOLUME:
		return true;
	default:
		return false;
	}
}

const char *dk_events_query(void)
{
	/* {"type":["container","network","volume"],"event":["create","start",
	 * "restart","die","destroy","pause","unpause","rename","health_status",
	 * "oom","update","connect","disconnect"]}. No label filter: the
	 * engine ANDs it over all types and network/volume events carry no
	 * labels, so it would hide them (filtered here instead). Docker
	 * matches "health_status" as a prefix of "health_status: healthy". */
	return "?filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%2C"
	       "%22volume%22%5D%2C%22event%22%3A%5B%22create%22%2C%22start%22%2C"
	       "%22restart%22%2C%22die%22%2C%22destroy%22%2C%22pause%22%2C"
	       "%22unpause%22%2C%22rename%22%2C%22health_status%22%2C%22oom%22%2C"
	       "%22update%22%2C%22connect%22%2C%22disconnect%22%5D%7D";
}

/* ---- the blocking client ---- */

int dk_client_create(struct dk_client **out, const char *socket_path)
{
	struct dk_client *dk = bg_xcalloc(1, sizeof(*dk));

	dk->easy = curl_easy_init();
	if (!dk->easy) {
		free(dk);
		return BG_ERRNO(ENOMEM);
	}
	dk->socket = bg_xstrdup(socket_path && *socket_path ? socket_path
							    : DK_DEFAULT_SOCKET);
	dk->timeout_ms = DK_DEFAULT_TIMEOUT_MS;
	*out = dk;
	return 0;
}

void dk_client_destroy(struct dk_client *dk)
{
	if (!dk) {
		return;
	}
	if (dk->easy) {
		curl_easy_cleanup(dk->easy);
	}
	free(dk->socket);
	free(dk->engine_version);
	free(dk->api_version);
	free(dk);
}

const char *dk_client_socket(const struct dk_client *dk)
{
	return dk->socket;
}

void dk_client_set_timeout(struct dk_client *dk, uint64_t ms)
{
	dk->timeout_ms = ms ? ms : DK_DEFAULT_TIMEOUT_MS;
}

const char *dk_client_engine_version(const struct dk_client *dk)
{
	return dk->engine_version;
}

const char *dk_client_api_version(const struct dk_client *dk)
{
	return dk->api_version;
}

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
static int perform(struct dk_client *dk, const char *api, const char *method,
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

int dk_client_negotiate(struct dk_client *dk, struct bg_diag *d)
{
	struct json_object *j = NULL;
	char *engine = NULL, *api = NULL;
	int err;

	err = perform(dk, NULL, "GET", "/version", NULL, dk->timeout_ms, NULL,
			NULL, &j, d);
	if (err) {
		goto out;
	}
	err = dk_parse_version(j, &engine, &api, d);
	if (err) {
		goto out;
	}
	free(dk->engine_version);
	free(dk->api_version);
	dk->engine_version = engine;
	dk->api_version = api;
	bg_trace(DK, "engine %s at %s, speaking API %s", engine, dk->socket, api);
out:
	json_object_put(j);
	return err;
}

static int ensure_api(struct dk_client *dk, struct bg_diag *d)
{
	return dk->api_version ? 0 : dk_client_negotiate(dk, d);
}

static int call(struct dk_client *dk, const char *method, const char *path,
		const char *body, uint64_t timeout_ms, long *status,
		struct json_object **out, struct bg_diag *d)
{
	int err = ensure_api(dk, d);
	if (err) {
		if (out) {
			*out = NULL;
		}
		if (status) {
			*status = 0;
		}
		return err;
	}
	return perform(dk, dk->api_version, method, path, body, timeout_ms, NULL,
			status, out, d);
}

int dk_request(struct dk_client *dk, const char *method, const char *path,
		const char *body, long *status, struct json_object **out,
		struct bg_diag *d)
{
	return call(dk, method, path, body, dk->timeout_ms, status, out, d);
}

/* GET path and insist on a JSON body of the given type. */
static int get_json(struct dk_client *dk, const char *path, enum json_type t,
		struct json_object **out, struct bg_diag *d)
{
	int err = call(dk, "GET", path, NULL, dk->timeout_ms, NULL, out, d);
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

/* ---- observation ---- */

static int inspect_json(struct dk_client *dk, const char *id_or_name,
		struct json_object **out, struct bg_diag *d)
{
	char *esc = dk_url_escape(id_or_name, false);
	char *path = bg_xasprintf("/containers/%s/json", esc);
	int err = get_json(dk, path, json_type_object, out, d);
	free(path);
	free(esc);
	return err;
}

static bool inspect_managed(struct json_object *j)
{
	struct json_object *labels = NULL;
	json_object_object_get_ex(jget(j, "Config", json_type_object), "Labels",
			&labels);
	return dk_labels_managed(labels);
}

int dk_container_inspect(struct dk_client *dk, const char *id_or_name,
		struct obs_container *c, struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = inspect_json(dk, id_or_name, &j, d);

	if (err) {
		goto out;
	}
	/* Checked before parsing: an unmanaged container's details are
	 * never copied anywhere (SPEC §4). Same answer as a missing one. */
	if (!inspect_managed(j)) {
		dk__error(d, "container '%s' is not managed by bluegreen (no label "
				BG_LABEL_MANAGED "=true)", id_or_name);
		err = BG_ENOT_FOUND;
		goto out;
	}
	err = dk_parse_container_inspect(j, c, d);
out:
	json_object_put(j);
	return err;
}

int dk_containers_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	struct json_object *list = NULL;
	int err = get_json(dk, "/containers/json?all=1&filters=" FILTER_MANAGED,
			json_type_array, &list, d);
	if (err) {
		return err;
	}
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *labels = NULL;
		const char *id = jstr(e, "Id");
		if (!id) {
			dk__error(d, "container list: entry %zu has no Id", i);
			err = BG_EPARSE;
			goto out;
		}
		json_object_object_get_ex(e, "Labels", &labels);
		if (!dk_labels_managed(labels)) {
			continue;
		}
		struct obs_container c;
		struct bg_diag tmp;
		memset(&c, 0, sizeof(c));
		bg_diag_init(&tmp);
		err = dk_container_inspect(dk, id, &c, &tmp);
		if (err == BG_ENOT_FOUND) {
			/* Removed since the list (or relabelled): not there. */
			bg_trace(DK, "container %.12s vanished during observation", id);
			bg_diag_release(&tmp);
			err = 0;
			continue;
		}
		if (d) {
			bg_diag_merge(d, &tmp);
		}
		bg_diag_release(&tmp);
		if (err) {
			goto out;
		}
		*obs_container_add(o) = c;
	}
out:
	json_object_put(list);
	return err;
}

int dk_networks_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	struct json_object *list = NULL;
	int err = get_json(dk, "/networks?filters=" FILTER_MANAGED, json_type_array,
			&list, d);
	if (!err) {
		err = dk_parse_networks(list, o, d);
	}
	json_object_put(list);
	return err;
}

int dk_volumes_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	struct json_object *list = NULL;
	int err = get_json(dk, "/volumes?filters=" FILTER_MANAGED, json_type_object,
			&list, d);
	if (!err) {
		err = dk_parse_volumes(list, o, d);
	}
	json_object_put(list);
	return err;
}

int dk_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	int err = dk_client_negotiate(dk, d);
	if (err) {
		return err;
	}
	free(o->engine_version);
	free(o->api_version);
	o->engine_version = bg_xstrdup(dk->engine_version);
	o->api_version = bg_xstrdup(dk->api_version);
	err = dk_containers_observe(dk, o, d);
	if (!err) {
		err = dk_networks_observe(dk, o, d);
	}
	if (!err) {
		err = dk_volumes_observe(dk, o, d);
	}
	return err;
}

int dk_image_id(struct dk_client *dk, const char *ref, char **id, struct bg_diag *d)
{
	struct json_object *j = NULL;
	struct bg_diag tmp;
	char *esc = dk_url_escape(ref, true);
	char *path = bg_xasprintf("/images/%s/json", esc);
	int err;

	*id = NULL;
	bg_diag_init(&tmp);
	err = get_json(dk, path, json_type_object, &j, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0; /* absent is an answer, not a failure */
		goto out;
	}
	if (err) {
		goto out;
	}
	const char *s = jstr(j, "Id");
	if (!s) {
		dk__error(&tmp, "image '%s': the engine's answer has no Id", ref);
		err = BG_EPARSE;
		goto out;
	}
	*id = bg_xstrdup(s);
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	json_object_put(j);
	free(path);
	free(esc);
	return err;
}

/* Docker's own name rules; anything else cannot be a filter value safely
 * (the engine treats it as a regular expression). */
static bool plain_name(const char *s)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-') {
			return false;
		}
	}
	return true;
}

int dk_name_taken(struct dk_client *dk, const char *kind, const char *name,
		bool *exists, bool *managed, struct bg_diag *d)
{
	struct json_object *j = NULL, *list;
	char *path, *filter = NULL;
	bool is_container = strcmp(kind, "container") == 0;
	int err;

	*exists = *managed = false;
	if (plain_name(name)) {
		/* {"name":["NAME"]}: a substring/regex match ('.' matches
		 * anything), so it only narrows the list; compare below. */
		char *json = bg_xasprintf("{\"name\":[\"%s\"]}", name);
		filter = dk_url_escape(json, false);
		free(json);
	}
	if (is_container) {
		path = bg_xasprintf("/containers/json?all=1%s%s",
				filter ? "&filters=" : "", filter ? filter : "");
	} else if (strcmp(kind, "network") == 0) {
		path = bg_xasprintf("/networks%s%s", filter ? "?filters=" : "",
				filter ? filter : "");
	} else if (strcmp(kind, "volume") == 0) {
		path = bg_xasprintf("/volumes%s%s", filter ? "?filters=" : "",
				filter ? filter : "");
	} else {
		BG_BUG("dk_name_taken: unknown kind '%s'", kind);
	}
	free(filter);
	err = call(dk, "GET", path, NULL, dk->timeout_ms, NULL, &j, d);
	free(path);
	if (err) {
		goto out;
	}
	list = strcmp(kind, "volume") == 0 ? jget(j, "Volumes", json_type_array) : j;
	if (!list || !json_object_is_type(list, json_type_array)) {
		if (strcmp(kind, "volume") == 0 && jget(j, "Volumes", json_type_null)) {
			goto out; /* no volumes at all */
		}
		dk__error(d, "the Docker engine's %s list is not a JSON array", kind);
		err = BG_EPARSE;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(list) && !*exists; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *labels = NULL;
		bool match = false;
		if (is_container) {
			struct json_object *names = jget(e, "Names", json_type_array);
			for (size_t k = 0; names && k < json_object_array_length(names); k++) {
				struct json_object *nv = json_object_array_get_idx(names, k);
				const char *s = json_object_is_type(nv, json_type_string)
						? json_object_get_string(nv) : NULL;
				if (s && s[0] == '/' && strcmp(s + 1, name) == 0) {
					match = true;
				}
			}
		} else {
			const char *s = jstr(e, "Name");
			match = s && strcmp(s, name) == 0;
		}
		if (match) {
			json_object_object_get_ex(e, "Labels", &labels);
			*exists = true;
			*managed = dk_labels_managed(labels);
		}
	}
out:
	json_object_put(j);
	return err;
}

int dk_names_unmanaged(struct dk_client *dk, const char *kind, struct bg_strv *out,
		struct bg_diag *d)
{
	struct json_object *j = NULL, *list;
	bool is_container = strcmp(kind, "container") == 0;
	const char *path;
	int err;

	if (is_container) {
		path = "/containers/json?all=1";
	} else if (strcmp(kind, "network") == 0) {
		path = "/networks";
	} else if (strcmp(kind, "volume") == 0) {
		path = "/volumes";
	} else {
		BG_BUG("dk_names_unmanaged: unknown kind '%s'", kind);
	}
	err = call(dk, "GET", path, NULL, dk->timeout_ms, NULL, &j, d);
	if (err) {
		goto out;
	}
	list = strcmp(kind, "volume") == 0 ? jget(j, "Volumes", json_type_array) : j;
	if (!list || !json_object_is_type(list, json_type_array)) {
		if (strcmp(kind, "volume") == 0 && jget(j, "Volumes", json_type_null)) {
			goto out; /* no volumes at all */
		}
		dk__error(d, "the Docker engine's %s list is not a JSON array", kind);
		err = BG_EPARSE;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *labels = NULL;
		json_object_object_get_ex(e, "Labels", &labels);
		if (dk_labels_managed(labels)) {
			continue;
		}
		if (!is_container) {
			const char *n = jstr(e, "Name");
			if (n) {
				bg_strv_push(out, n);
			}
			continue;
		}
		struct json_object *names = jget(e, "Names", json_type_array);
		for (size_t k = 0; names && k < json_object_array_length(names); k++) {
			struct json_object *nv = json_object_array_get_idx(names, k);
			const char *n = json_object_is_type(nv, json_type_string)
					? json_object_get_string(nv) : NULL;
			if (n && n[0] == '/') {
				bg_strv_push(out, n + 1);
			}
		}
	}
	bg_strv_sort(out);
out:
	json_object_put(j);
	return err;
}

int dk_image_tags(struct dk_client *dk, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = call(dk, "GET", "/images/json", NULL, dk->timeout_ms, NULL, &j, d);
	if (err) {
		return err;
	}
	if (!j || !json_object_is_type(j, json_type_array)) {
		dk__error(d, "the Docker engine's image list is not a JSON array");
		json_object_put(j);
		return BG_EPARSE;
	}
	for (size_t i = 0; i < json_object_array_length(j); i++) {
		struct json_object *e = json_object_array_get_idx(j, i);
		const char *id = jstr(e, "Id");
		struct json_object *rt = jget(e, "RepoTags", json_type_array);
		for (size_t k = 0; id && rt && k < json_object_array_length(rt); k++) {
			struct json_object *tv = json_object_array_get_idx(rt, k);
			const char *t = json_object_is_type(tv, json_type_string)
					? json_object_get_string(tv) : NULL;
			if (t && strcmp(t, "<none>:<none>") != 0) {
				bg_strv_push(tags, t);
				bg_strv_push(ids, id);
			}
		}
	}
	json_object_put(j);
	return 0;
}

/* ---- actions ---- */

static bool labels_have_managed(const struct obs_labels *l)
{
	const char *v = l ? obs_labels_get(l, BG_LABEL_MANAGED) : NULL;
	return v && strcmp(v, "true") == 0;
}

static struct json_object *labels_json(const struct obs_labels *l)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; l && i < l->n; i++) {
		json_object_object_add(o, l->v[i].key,
				json_object_new_string(l->v[i].value));
	}
	return o;
}

static struct json_object *strv_json(char *const *v)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++) {
		json_object_array_add(a, json_object_new_string(v[i]));
	}
	return a;
}

/* Serialise and drop the object: a new string. */
static char *json_take_string(struct json_object *o)
{
	char *s = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static char *container_body(const struct dk_container_spec *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *host = json_object_new_object();

	json_object_object_add(o, "Image", json_object_new_string(s->image));
	if (s->cmd) {
		json_object_object_add(o, "Cmd", strv_json(s->cmd));
	}
	if (s->env) {
		json_object_object_add(o, "Env", strv_json(s->env));
	}
	json_object_object_add(o, "Labels", labels_json(s->labels));
	if (s->expose_port) {
		struct json_object *ports = json_object_new_object();
		char key[32];
		snprintf(key, sizeof(key), "%u/tcp", s->expose_port);
		json_object_object_add(ports, key, json_object_new_object());
		json_object_object_add(o, "ExposedPorts", ports);
	}
	if (s->stop_signal) {
		json_object_object_add(o, "StopSignal", json_object_new_string(s->stop_signal));
	}
	if (s->stop_timeout_s > 0) {
		json_object_object_add(o, "StopTimeout", json_object_new_int(s->stop_timeout_s));
	}
	if (s->expose_port && s->publish_port) {
		struct json_object *pb = json_object_new_object();
		struct json_object *list = json_object_new_array();
		struct json_object *bind = json_object_new_object();
		char key[32], port[16];
		snprintf(key, sizeof(key), "%u/tcp", s->expose_port);
		snprintf(port, sizeof(port), "%u", s->publish_port);
		json_object_object_add(bind, "HostIp", json_object_new_string(
				s->publish_ip ? s->publish_ip : "127.0.0.1"));
		json_object_object_add(bind, "HostPort", json_object_new_string(port));
		json_object_array_add(list, bind);
		json_object_object_add(pb, key, list);
		json_object_object_add(host, "PortBindings", pb);
	}
	if (s->restart_policy) {
		struct json_object *rp = json_object_new_object();
		json_object_object_add(rp, "Name", json_object_new_string(s->restart_policy));
		json_object_object_add(host, "RestartPolicy", rp);
	}
	if (s->n_mounts) {
		struct json_object *mounts = json_object_new_array();
		for (size_t i = 0; i < s->n_mounts; i++) {
			struct json_object *m = json_object_new_object();
			json_object_object_add(m, "Type", json_object_new_string("volume"));
			json_object_object_add(m, "Source",
					json_object_new_string(s->mounts[i].volume));
			json_object_object_add(m, "Target",
					json_object_new_string(s->mounts[i].target));
			json_object_array_add(mounts, m);
		}
		json_object_object_add(host, "Mounts", mounts);
	}
	if (s->network) {
		/* API 1.41 attaches at create to one network only, and only if
		 * NetworkMode names it too (what the docker CLI sends). */
		struct json_object *nc = json_object_new_object();
		struct json_object *eps = json_object_new_object();
		struct json_object *ep = json_object_new_object();
		json_object_object_add(host, "NetworkMode", json_object_new_string(s->network));
		if (s->aliases) {
			json_object_object_add(ep, "Aliases", strv_json(s->aliases));
		}
		json_object_object_add(eps, s->network, ep);
		json_object_object_add(nc, "EndpointsConfig", eps);
		json_object_object_add(o, "NetworkingConfig", nc);
	}
	json_object_object_add(o, "HostConfig", host);
	return json_take_string(o);
}

int dk_container_create(struct dk_client *dk, const struct dk_container_spec *spec,
		char **id, struct bg_diag *d)
{
	struct json_object *j = NULL;
	char *body = NULL, *esc, *path;
	const char *s;
	int err;

	*id = NULL;
	if (!labels_have_managed(spec->labels)) {
		dk__error(d, "refusing to create container '%s' without the label "
				BG_LABEL_MANAGED "=true", spec->name);
		return BG_EREFUSED;
	}
	esc = dk_url_escape(spec->name, false);
	path = bg_xasprintf("/containers/create?name=%s", esc);
	body = container_body(spec);
	err = call(dk, "POST", path, body, dk->timeout_ms, NULL, &j, d);
	if (err) {
		goto out;
	}
	s = jstr(j, "Id");
	if (!s) {
		dk__error(d, "container '%s': the engine's answer has no Id", spec->name);
		err = BG_EPARSE;
		goto out;
	}
	*id = bg_xstrdup(s);
	struct json_object *warn = jget(j, "Warnings", json_type_array);
	for (size_t i = 0; warn && i < json_object_array_length(warn); i++) {
		struct json_object *w = json_object_array_get_idx(warn, i);
		if (json_object_is_type(w, json_type_string)) {
			bg_log(BG_LOG_WARN, "container '%s': %s", spec->name,
					json_object_get_string(w));
		}
	}
out:
	json_object_put(j);
	free(body);
	free(path);
	free(esc);
	return err;
}

/*
 * The scope guard of destructive calls: BG_ENOT_FOUND if the container is
 * not there, BG_ECONFLICT if it is not ours. Its id never changes, so the
 * answer stays true for the call that follows.
 */
static int container_guard(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = inspect_json(dk, id, &j, d);

	if (!err && !inspect_managed(j)) {
		dk__error(d, "container '%s' is not managed by bluegreen (no label "
				BG_LABEL_MANAGED "=true); not touching it", id);
		err = BG_ECONFLICT;
	}
	json_object_put(j);
	return err;
}

static int container_post(struct dk_client *dk, const char *id, const char *what,
		const char *query, uint64_t timeout_ms, struct bg_diag *d)
{
	char *esc = dk_url_escape(id, false);
	char *path = bg_xasprintf("/containers/%s/%s%s", esc, what, query ? query : "");
	long status = 0;
	int err = container_guard(dk, id, d);

	if (!err) {
		/* 304: already in that state, which is what we wanted. */
		err = call(dk, "POST", path, NULL, timeout_ms, &status, NULL, d);
	}
	free(path);
	free(esc);
	return err;
}

int dk_container_start(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	return container_post(dk, id, "start", NULL, dk->timeout_ms, d);
}

int dk_container_stop(struct dk_client *dk, const char *id, int timeout_s,
		struct bg_diag *d)
{
	char query[32];
	if (timeout_s < 0) {
		timeout_s = 0;
	}
	snprintf(query, sizeof(query), "?t=%d", timeout_s);
	return container_post(dk, id, "stop", query,
			(uint64_t)timeout_s * 1000 + DK_STOP_MARGIN_MS, d);
}

int dk_container_remove(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	struct bg_diag tmp;
	char *esc, *path;
	int err;

	bg_diag_init(&tmp);
	err = container_guard(dk, id, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0; /* already gone */
		goto out;
	}
	if (err) {
		goto out;
	}
	esc = dk_url_escape(id, false);
	/* v=0: anonymous volumes may hold data; never dropped implicitly. */
	path = bg_xasprintf("/containers/%s?force=1&v=0", esc);
	err = call(dk, "DELETE", path, NULL, dk->timeout_ms + DK_STOP_MARGIN_MS,
			NULL, NULL, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
	}
	free(path);
	free(esc);
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	return err;
}

/* Is container id attached to network (by name or id)? */
static bool container_on_network(struct dk_client *dk, const char *id,
		const char *network)
{
	struct json_object *j = NULL;
	bool on = false;

	if (inspect_json(dk, id, &j, NULL) == 0) {
		struct json_object *nets = jget(jget(j, "NetworkSettings",
				json_type_object), "Networks", json_type_object);
		if (nets) {
			json_object_object_foreach(nets, name, ep) {
				const char *nid = jstr(ep, "NetworkID");
				if (strcmp(name, network) == 0 ||
						(nid && strcmp(nid, network) == 0)) {
					on = true;
				}
			}
		}
	}
	json_object_put(j);
	return on;
}

int dk_network_connect(struct dk_client *dk, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ep = json_object_new_object();
	struct bg_diag tmp;
	char *esc = dk_url_escape(network, false);
	char *path = bg_xasprintf("/networks/%s/connect", esc);
	char *body;
	int err;

	json_object_object_add(o, "Container", json_object_new_string(id));
	if (aliases) {
		json_object_object_add(ep, "Aliases", strv_json(aliases));
	}
	json_object_object_add(o, "EndpointConfig", ep);
	body = json_take_string(o);
	bg_diag_init(&tmp);
	err = call(dk, "POST", path, body, dk->timeout_ms, NULL, NULL, &tmp);
	/* 20.10 answers 403 "endpoint with name ... already exists in
	 * network ...": already connected is what we asked for. */
	if (err == BG_EDOCKER && container_on_network(dk, id, network)) {
		err = 0;
	}
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	free(body);
	free(path);
	free(esc);
	return err;
}

int dk_network_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, bool internal, struct bg_diag *d)
{
	struct json_object *o;
	struct bg_diag tmp;
	char *body;
	int err;

	if (!labels_have_managed(labels)) {
		dk__error(d, "refusing to create network '%s' without the label "
				BG_LABEL_MANAGED "=true", name);
		return BG_EREFUSED;
	}
	o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string(name));
	json_object_object_add(o, "CheckDuplicate", json_object_new_boolean(1));
	json_object_object_add(o, "Driver", json_object_new_string("bridge"));
	json_object_object_add(o, "Internal", json_object_new_boolean(internal));
	json_object_object_add(o, "Labels", labels_json(labels));
	body = json_take_string(o);
	bg_diag_init(&tmp);
	err = call(dk, "POST", "/networks/create", body, dk->timeout_ms, NULL, NULL,
			&tmp);
	if (err == BG_ECONFLICT) {
		/* "network with name x already exists": ours or not? */
		bool exists = false, managed = false;
		bg_diag_release(&tmp);
		err = dk_name_taken(dk, "network", name, &exists, &managed, &tmp);
		if (!err && exists && managed) {
			goto out; /* ours already: nothing to do */
		}
		if (!err && exists) {
			dk__error(&tmp, "network '%s' already exists and is not managed "
					"by bluegreen (no label " BG_LABEL_MANAGED "=true); "
					"rename or remove it", name);
		} else if (!err) {
			dk__error(&tmp, "network '%s': the engine reports a conflict, "
					"but lists no network of that name", name);
		}
		if (!err) {
			err = BG_ECONFLICT;
		}
	}
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	free(body);
	return err;
}

int dk_volume_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, struct bg_diag *d)
{
	struct json_object *o, *j = NULL, *got = NULL;
	char *body;
	int err;

	if (!labels_have_managed(labels)) {
		dk__error(d, "refusing to create volume '%s' without the label "
				BG_LABEL_MANAGED "=true", name);
		return BG_EREFUSED;
	}
	o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string(name));
	json_object_object_add(o, "Labels", labels_json(labels));
	body = json_take_string(o);
	/* The engine answers 201 with the existing volume, labels and all,
	 * when the name is taken: that answer is the check. */
	err = call(dk, "POST", "/volumes/create", body, dk->timeout_ms, NULL, &j, d);
	if (err) {
		goto out;
	}
	json_object_object_get_ex(j, "Labels", &got);
	if (!dk_labels_managed(got)) {
		dk__error(d, "volume '%s' already exists and is not managed by "
				"bluegreen (no label " BG_LABEL_MANAGED "=true); rename or "
				"remove it", name);
		err = BG_ECONFLICT;
	}
out:
	json_object_put(j);
	free(body);
	return err;
}

int dk_volume_remove(struct dk_client *dk, const char *name, struct bg_diag *d)
{
	struct json_object *j = NULL, *labels = NULL;
	struct bg_diag tmp;
	char *esc = dk_url_escape(name, false);
	char *path = bg_xasprintf("/volumes/%s", esc);
	int err;

	bg_diag_init(&tmp);
	err = get_json(dk, path, json_type_object, &j, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
		goto out;
	}
	if (err) {
		goto out;
	}
	json_object_object_get_ex(j, "Labels", &labels);
	if (!dk_labels_managed(labels)) {
		dk__error(&tmp, "volume '%s' is not managed by bluegreen (no label "
				BG_LABEL_MANAGED "=true); not touching it", name);
		err = BG_ECONFLICT;
		goto out;
	}
	err = call(dk, "DELETE", path, NULL, dk->timeout_ms, NULL, NULL, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
	}
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	json_object_put(j);
	free(path);
	free(esc);
	return err;
}

/*
 * "registry:5000/a/b:tag" -> ("registry:5000/a/b", "tag"); a digest
 * ("name@sha256:...") goes in tag too; no tag means "latest", because an
 * empty tag would make the engine pull every tag of the repository.
 */
static void ref_split(const char *ref, char **name, char **tag)
{
	const char *at = strchr(ref, '@');
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');

	if (at) {
		*name = bg_xstrndup(ref, (size_t)(at - ref));
		*tag = bg_xstrdup(at + 1);
	} else if (colon && (!slash || colon > slash)) {
		*name = bg_xstrndup(ref, (size_t)(colon - ref));
		*tag = bg_xstrdup(colon + 1);
	} else {
		*name = bg_xstrdup(ref);
		*tag = bg_xstrdup("latest");
	}
}

int dk_image_pull(struct dk_client *dk, const char *ref, struct bg_diag *d)
{
	struct pull_state ps = {0};
	struct dk_stream s;
	struct dk__req r;
	char *name, *tag, *ename, *etag, *path;
	int err;

	err = ensure_api(dk, d);
	if (err) {
		return err;
	}
	ref_split(ref, &name, &tag);
	ename = dk_url_escape(name, false);
	etag = dk_url_escape(tag, false);
	path = bg_xasprintf("/images/create?fromImage=%s&tag=%s", ename, etag);
	dk_stream_init(&s, DK_STREAM_VALUE_MAX, pull_value, &ps);
	dk__req_init(&r);
	err = dk__req_prepare(&r, dk->easy, dk->socket, dk->api_version, "POST",
			path, NULL, DK_PULL_TIMEOUT_MS);
	if (err) {
		dk__error(d, "libcurl cannot talk to a unix socket (%s)", r.errbuf);
		goto out;
	}
	/* Progress flows while layers download; silence this long means a
	 * stuck registry, whatever the total budget says. */
	curl_easy_setopt(dk->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(dk->easy, CURLOPT_LOW_SPEED_TIME, (long)DK_PULL_STALL_S);
	r.stream = &s;
	err = dk__req_result(&r, curl_easy_perform(dk->easy), NULL, NULL, d);
	if (!err) {
		err = dk_stream_finish(&s, d);
	}
	if (!err && ps.error) {
		/* The failure came inside a 200 progress stream. */
		dk__error(d, "%s", ps.error);
		err = BG_EDOCKER;
	}
out:
	dk__req_release(&r);
	dk_stream_release(&s);
	free(ps.error);
	free(path);
	free(etag);
	free(ename);
	free(tag);
	free(name);
	return err;
}
