/*
 * dk-logs: container logs (dk-logs.h). The framing is undone here rather
 * than asked away: the engine only sends raw bytes for a TTY container, so
 * each stream first inspects its container (Config.Tty, and the managed
 * label: an unmanaged container's output is never read). The streams run
 * on one curl multi handle driven by curl_multi_poll, which wakes at least
 * every TICK_MS so a tick callback (Ctrl-C, a switch of the live colour)
 * is heard promptly without threads.
 */
#include "bg.h"
#include "dk-logs.h"
#include "dk-int.h"

#include <inttypes.h>

#define TICK_MS 200

/* ---- the framing ---- */

void dk_logs_demux_init(struct dk_logs_demux *dm, bool tty)
{
	memset(dm, 0, sizeof(*dm));
	dm->tty = tty;
}

static int header_take(struct dk_logs_demux *dm)
{
	const unsigned char *h = dm->hdr;

	if (h[0] > DK_LOG_STDERR || h[1] || h[2] || h[3]) {
		return BG_EPARSE;
	}
	dm->stream = (enum dk_log_stream)h[0];
	dm->left = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) | ((size_t)h[6] << 8) |
			(size_t)h[7];
	dm->hlen = 0;
	return 0;
}

int dk_logs_demux_feed(struct dk_logs_demux *dm, const char *data, size_t len,
		dk_logs_emit_cb emit, void *arg)
{
	if (dm->err) {
		return dm->err;
	}
	if (dm->tty) {
		if (len) {
			emit(arg, DK_LOG_STDOUT, data, len);
		}
		return 0;
	}
	while (len) {
		if (dm->left == 0) {
			/* Between frames, or inside a header cut by a read. */
			size_t want = sizeof(dm->hdr) - dm->hlen;
			size_t take = len < want ? len : want;
			memcpy(dm->hdr + dm->hlen, data, take);
			dm->hlen += take;
			data += take;
			len -= take;
			if (dm->hlen < sizeof(dm->hdr)) {
				break;
			}
			if (header_take(dm) != 0) {
				dm->err = BG_EPARSE;
				return dm->err;
			}
			continue; /* an empty frame is legal: next header */
		}
		size_t take = len < dm->left ? len : dm->left;
		emit(arg, dm->stream, data, take);
		dm->left -= take;
		data += take;
		len -= take;
	}
	return 0;
}

int dk_logs_demux_finish(const struct dk_logs_demux *dm)
{
	if (dm->err) {
		return dm->err;
	}
	return (dm->hlen || dm->left) ? BG_EPARSE : 0;
}

void dk_logs_lines_init(struct dk_logs_lines *l)
{
	bg_buf_init(&l->buf, 0);
}

void dk_logs_lines_release(struct dk_logs_lines *l)
{
	if (l) {
		bg_buf_release(&l->buf);
	}
}

/* A whole line: a terminal's "\r\n" ends it as well as "\n" does. */
static void line_end(dk_logs_line_cb cb, void *arg, size_t index, enum dk_log_stream s,
		const char *line, size_t len)
{
	if (len && line[len - 1] == '\r') {
		len--;
	}
	cb(arg, index, s, line, len);
}

void dk_logs_lines_feed(struct dk_logs_lines *l, const char *data, size_t len,
		dk_logs_line_cb cb, void *arg, size_t index, enum dk_log_stream s)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t piece = nl ? (size_t)(nl - data) : len;
		size_t room = DK_LOG_LINE_MAX - l->buf.len;

		if (piece >= room) {
			/* Too long for one line: hand over what fits as a line. */
			bg_buf_add(&l->buf, data, room);
			cb(arg, index, s, l->buf.data, l->buf.len);
			bg_buf_reset(&l->buf);
			data += room;
			len -= room;
			continue;
		}
		if (!nl) {
			bg_buf_add(&l->buf, data, len);
			return;
		}
		if (l->buf.len) {
			bg_buf_add(&l->buf, data, piece);
			line_end(cb, arg, index, s, l->buf.data, l->buf.len);
			bg_buf_reset(&l->buf);
		} else {
			line_end(cb, arg, index, s, data, piece);
		}
		data += piece + 1;
		len -= piece + 1;
	}
}

void dk_logs_lines_flush(struct dk_logs_lines *l, dk_logs_line_cb cb, void *arg,
		size_t index, enum dk_log_stream s)
{
	if (l->buf.len) {
		cb(arg, index, s, l->buf.data, l->buf.len);
		bg_buf_reset(&l->buf);
	}
}

/* ---- the requests ---- */

struct one {
	struct dk__req req;
	CURL *easy;
	size_t index;
	struct dk_logs_demux dm;
	struct dk_logs_lines lines[3]; /* by stream */
	dk_logs_line_cb on_line;
	void *arg;
	bool done;
	int err;
};

static void one_emit(void *arg, enum dk_log_stream s, const char *data, size_t len)
{
	struct one *o = arg;
	dk_logs_lines_feed(&o->lines[s], data, len, o->on_line, o->arg, o->index, s);
}

static size_t one_write(char *buf, size_t size, size_t n, void *arg)
{
	struct one *o = arg;
	size_t len = size * n;

	if (o->req.status < 200 || o->req.status >= 300) {
		/* An error's JSON body: kept for dk__req_result's message. */
		if (bg_buf_add(&o->req.resp, buf, len) != 0) {
			o->req.too_big = true;
			return 0;
		}
		return len;
	}
	if (dk_logs_demux_feed(&o->dm, buf, len, one_emit, o) != 0) {
		o->req.abort_err = BG_EPARSE;
		free(o->req.abort_msg);
		o->req.abort_msg = bg_xasprintf("the log stream of container %s has "
				"a frame header that is not the engine's framing", o->req.path);
		return 0;
	}
	return len;
}

static void one_release(struct one *o)
{
	if (!o) {
		return;
	}
	dk__req_release(&o->req);
	if (o->easy) {
		curl_easy_cleanup(o->easy);
	}
	for (size_t i = 0; i < 3; i++) {
		dk_logs_lines_release(&o->lines[i]);
	}
}

/* Inspect first: the managed label (else not found, as dk_container_inspect)
 * and whether the container has a TTY. */
static int container_tty(struct dk_client *dk, const char *id, bool *tty,
		struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = dk__inspect_ours(dk, id, &j, d);

	if (!err) {
		struct json_object *t = dk__jget(dk__jget(j, "Config", json_type_object),
				"Tty", json_type_boolean);
		*tty = t && json_object_get_boolean(t);
	}
	json_object_put(j);
	return err;
}

static char *logs_path(const char *id, const struct dk_logs_opts *opts)
{
	char *esc = dk__url_escape(id);
	char tail[32] = "all";
	char *path;

	if (opts->tail) {
		snprintf(tail, sizeof(tail), "%zu", opts->tail);
	}
	path = bg_xasprintf("/containers/%s/logs?stdout=1&stderr=1&follow=%d&tail=%s"
			"&timestamps=%d&since=%" PRId64, esc, opts->follow ? 1 : 0, tail,
			opts->timestamps ? 1 : 0, opts->since > 0 ? opts->since : 0);
	free(esc);
	return path;
}

static int one_start(struct dk_client *dk, CURLM *multi, struct one *o, const char *id,
		const struct dk_logs_opts *opts, struct bg_diag *d)
{
	bool tty = false;
	int err = container_tty(dk, id, &tty, d);
	char *path = NULL;

	if (err) {
		return err;
	}
	dk_logs_demux_init(&o->dm, tty);
	o->easy = curl_easy_init();
	if (!o->easy) {
		dk__error(d, "libcurl cannot make a handle for the logs of %s", id);
		return BG_EDOCKER;
	}
	path = logs_path(id, opts);
	/* A follow has no end of its own; a plain read gets the usual limit. */
	err = dk__req_prepare(&o->req, o->easy, dk->socket, dk->api_version, "GET", path,
			NULL, opts->follow ? 0 : dk->timeout_ms);
	free(path);
	if (err || curl_easy_setopt(o->easy, CURLOPT_WRITEFUNCTION, one_write) != CURLE_OK ||
			curl_easy_setopt(o->easy, CURLOPT_WRITEDATA, o) != CURLE_OK) {
		dk__error(d, "libcurl cannot talk to a unix socket (%s)", o->req.errbuf);
		return BG_EDOCKER;
	}
	if (curl_multi_add_handle(multi, o->easy) != CURLM_OK) {
		dk__error(d, "libcurl cannot add the logs of %s to its multi handle", id);
		return BG_EDOCKER;
	}
	return 0;
}

/* One transfer ended: its last partial lines, then its outcome. */
static void one_finish(struct one *o, CURLcode rc, struct bg_diag *d)
{
	o->done = true;
	for (size_t s = 0; s < 3; s++) {
		dk_logs_lines_flush(&o->lines[s], o->on_line, o->arg, o->index,
				(enum dk_log_stream)s);
	}
	o->err = dk__req_result(&o->req, rc, NULL, NULL, d);
	if (!o->err && dk_logs_demux_finish(&o->dm) != 0) {
		dk__error(d, "the log stream of %s ended inside a frame", o->req.path);
		o->err = BG_EPARSE;
	}
}

static int run_multi(CURLM *multi, struct one *v, size_t n, const struct dk_logs_opts *opts,
		struct bg_diag *d)
{
	size_t left = n;
	int err = 0;

	while (left) {
		int running = 0;
		CURLMsg *m;
		int q;

		if (curl_multi_perform(multi, &running) != CURLM_OK) {
			dk__error(d, "libcurl's multi handle failed while reading logs");
			return BG_EDOCKER;
		}
		while ((m = curl_multi_info_read(multi, &q)) != NULL) {
			if (m->msg != CURLMSG_DONE) {
				continue;
			}
			for (size_t i = 0; i < n; i++) {
				if (v[i].easy == m->easy_handle && !v[i].done) {
					one_finish(&v[i], m->data.result, d);
					err = err ? err : v[i].err;
					left--;
				}
			}
		}
		if (!left || (opts->tick && opts->tick(opts->tick_arg))) {
			break;
		}
		curl_multi_poll(multi, NULL, 0, TICK_MS, NULL);
	}
	return err;
}

int dk_container_logs_stream(struct dk_client *dk, char *const *ids, size_t n,
		const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
		struct bg_diag *d)
{
	struct one *v = calloc(n ? n : 1, sizeof(*v));
	CURLM *multi = curl_multi_init();
	int err = dk__ensure_api(dk, d);

	if (!v || !multi) {
		fprintf(stderr, "fatal: out of memory starting %zu log streams\n", n);
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		dk__req_init(&v[i].req);
		v[i].index = i;
		v[i].on_line = on_line;
		v[i].arg = arg;
		for (size_t s = 0; s < 3; s++) {
			dk_logs_lines_init(&v[i].lines[s]);
		}
	}
	for (size_t i = 0; !err && i < n; i++) {
		err = one_start(dk, multi, &v[i], ids[i], opts, d);
	}
	if (!err) {
		err = run_multi(multi, v, n, opts, d);
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].easy) {
			curl_multi_remove_handle(multi, v[i].easy);
		}
		one_release(&v[i]);
	}
	curl_multi_cleanup(multi);
	free(v);
	return err;
}

static void collect_line(void *arg, size_t index, enum dk_log_stream s, const char *line,
		size_t len)
{
	struct bg_buf *out = arg;
	(void)index;
	(void)s;
	bg_buf_add(out, line, len);
	bg_buf_addch(out, '\n');
}

int dk_container_logs(struct dk_client *dk, const char *id, size_t tail,
		struct bg_buf *out, struct bg_diag *d)
{
	struct dk_logs_opts opts = {.tail = tail};
	char *ids[1] = {(char *)id};

	return dk_container_logs_stream(dk, ids, 1, &opts, collect_line, out, d);
}
