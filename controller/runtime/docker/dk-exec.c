/*
 * dk-exec: streamed exec and archives, and the backup helper container
 * (dk-exec.h). The exec start request is written by hand on its own
 * connection to the engine's socket, because its answer is a hijacked
 * stream that carries stdin one way and stdout/stderr the other, which
 * libcurl's request/response model cannot drive; everything else goes
 * through the client's libcurl handle like the rest of dk.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "dk-exec.h"
#include "dk-exec-rt.h"
#include "bg-log.h"
#include "bg-util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK 65536
#define HEAD_MAX 8192

/* ---- exec ---- */

static struct json_object *argv_json(char *const *v)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++) {
		json_object_array_add(a, json_object_new_string(v[i]));
	}
	return a;
}

static int exec_create(struct dk_client *dk, const char *id, const struct dk_exec *x,
		char **exec_id, struct bg_diag *d)
{
	struct json_object *o = json_object_new_object(), *ans = NULL;
	char *esc = dk__url_escape(id);
	char *path = bg_xasprintf("/containers/%s/exec", esc);
	int err;

	json_object_object_add(o, "AttachStdin", json_object_new_boolean(x->in != NULL));
	json_object_object_add(o, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(o, "AttachStderr", json_object_new_boolean(1));
	json_object_object_add(o, "Tty", json_object_new_boolean(0));
	json_object_object_add(o, "Cmd", argv_json(x->argv));
	err = dk__call(dk, "POST", path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			dk->timeout_ms, NULL, &ans, d);
	if (!err) {
		const char *eid = dk__jstr(ans, "Id");
		if (!eid || !*eid) {
			dk__error(d, "the Docker engine's answer to POST %s has no Id", path);
			err = BG_EPARSE;
		} else {
			*exec_id = bg_xstrdup(eid);
		}
	}
	json_object_put(ans);
	json_object_put(o);
	free(path);
	free(esc);
	return err;
}

static int sock_connect(const char *path, struct bg_diag *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		dk__error(d, "the Docker socket path %s is too long", path);
		return BG_ERRNO(ENAMETOOLONG);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		dk__error(d, "cannot reach the Docker engine at %s: %s", path, strerror(e));
		close(fd);
		return BG_EDOCKER_UNREACHABLE;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		/* MSG_NOSIGNAL: an engine that hung up is an error, not SIGPIPE. */
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			if (poll(&pf, 1, DK_STREAM_STALL_S * 1000) <= 0) {
				return BG_ETIMEOUT;
			}
			continue;
		}
		if (w <= 0) {
			return BG_ERRNO(w < 0 ? errno : EIO);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The multiplexed stream: 8-byte headers [stream, 0, 0, 0, size BE32]. */
struct demux {
	unsigned char head[8];
	size_t have;     /* bytes of head read */
	uint32_t left;   /* payload bytes left in the current frame */
	unsigned stream;
	struct dk_exec *x;
	int err;
};

static int demux_feed(struct demux *m, const unsigned char *p, size_t n)
{
	while (n) {
		if (!m->left) {
			size_t take = 8 - m->have < n ? 8 - m->have : n;
			memcpy(m->head + m->have, p, take);
			m->have += take;
			p += take;
			n -= take;
			if (m->have == 8) {
				m->stream = m->head[0];
				m->left = (uint32_t)m->head[4] << 24 | (uint32_t)m->head[5] << 16 |
					(uint32_t)m->head[6] << 8 | m->head[7];
				m->have = 0;
			}
			continue;
		}
		size_t take = m->left < n ? m->left : n;
		if (m->stream == 1 && m->x->out) {
			int err = m->x->out(m->x->out_arg, p, take);
			if (err) {
				return err;
			}
		} else if (m->stream == 2 && m->x->err &&
				m->x->err->len + take <= DK_EXEC_STDERR_MAX) {
			bg_buf_add(m->x->err, p, take);
		}
		m->left -= (uint32_t)take;
		p += take;
		n -= take;
	}
	return 0;
}

/* Read the status line and headers; leftover stream bytes go to m. */
static int start_headers(int fd, struct demux *m, struct bg_diag *d)
{
	char buf[HEAD_MAX + 1];
	size_t len = 0;

	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, DK_STREAM_STALL_S * 1000) <= 0) {
			dk__error(d, "the Docker engine did not answer an exec start");
			return BG_ETIMEOUT;
		}
		ssize_t r = read(fd, buf + len, HEAD_MAX - len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (r <= 0) {
			dk__error(d, "the Docker engine closed the connection of an exec start");
			return BG_EDOCKER_UNREACHABLE;
		}
		len += (size_t)r;
		buf[len] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (!end) {
			if (len == HEAD_MAX) {
				return BG_ETOO_BIG;
			}
			continue;
		}
		int status = 0;
		if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 ||
				(status != 101 && status != 200)) {
			char *eol = strstr(buf, "\r\n");
			dk__error(d, "the Docker engine refused an exec start: %.*s",
					(int)(eol ? eol - buf : 0), buf);
			return BG_EDOCKER;
		}
		end += 4;
		return demux_feed(m, (unsigned char *)end, len - (size_t)(end - buf));
	}
}

/* Pump stdin into fd and fd into the demuxer until the engine closes. */
static int exec_pump(int fd, struct dk_exec *x, struct demux *m, struct bg_diag *d)
{
	char *in = bg_xmalloc(IO_CHUNK), *out = bg_xmalloc(IO_CHUNK);
	size_t in_len = 0, in_off = 0;
	bool in_open = x->in != NULL;
	int err = 0;

	for (;;) {
		if (in_open && in_off == in_len) {
			ssize_t r = x->in(x->in_arg, in, IO_CHUNK);
			if (r < 0) {
				err = (int)r;
				break;
			}
			if (r == 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
			}
			in_len = (size_t)(r > 0 ? r : 0);
			in_off = 0;
		}
		struct pollfd pf = {.fd = fd, .events = POLLIN | (in_off < in_len ? POLLOUT : 0)};
		int pr = poll(&pf, 1, DK_STREAM_STALL_S * 1000);
		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			dk__error(d, "an exec moved no byte for %d s", DK_STREAM_STALL_S);
			err = BG_ETIMEOUT;
			break;
		}
		if (pf.revents & POLLOUT) {
			ssize_t w = send(fd, in + in_off, in_len - in_off, MSG_NOSIGNAL);
			if (w < 0 && errno == EPIPE) {
				/* The process stopped reading (it ended): its exit
				 * code and stderr, read below, say why. */
				in_open = false;
				in_off = in_len = 0;
				w = 0;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				dk__error(d, "writing to an exec's stdin: %s", strerror(errno));
				err = BG_ERRNO(errno);
				break;
			}
			in_off += (size_t)(w > 0 ? w : 0);
		}
		if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(fd, out, IO_CHUNK);
			if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
				continue;
			}
			if (r <= 0) {
				break; /* the process ended and the engine closed */
			}
			err = demux_feed(m, (unsigned char *)out, (size_t)r);
			if (err) {
				break;
			}
		}
	}
	free(in);
	free(out);
	return err;
}

/* The exit code once the engine says the exec is no longer running. */
static int exec_exit(struct dk_client *dk, const char *eid, int *code, struct bg_diag *d)
{
	char *path = bg_xasprintf("/exec/%s/json", eid);
	int err = 0;

	for (int i = 0; i < 200; i++) {
		struct json_object *j = NULL;
		int64_t v = -1;
		err = dk__get_json(dk, path, json_type_object, &j, d);
		if (err) {
			break;
		}
		bool running = json_object_get_boolean(dk__jget(j, "Running", json_type_boolean));
		dk__jint(j, "ExitCode", &v);
		json_object_put(j);
		if (!running) {
			*code = (int)v;
			break;
		}
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
		err = BG_ETIMEOUT;
	}
	free(path);
	return err;
}

int dk_exec_run(struct dk_client *dk, const char *id, struct dk_exec *x, struct bg_diag *d)
{
	struct demux m = {.x = x};
	char *eid = NULL, *req = NULL;
	const char *body = "{\"Detach\":false,\"Tty\":false}";
	int fd = -1, err;

	err = dk__guard_managed(dk, id, d);
	if (!err) {
		err = exec_create(dk, id, x, &eid, d);
	}
	if (err) {
		goto out;
	}
	fd = sock_connect(dk->socket, d);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	req = bg_xasprintf("POST /v%s/exec/%s/start HTTP/1.1\r\nHost: localhost\r\n"
			"Content-Type: application/json\r\nConnection: Upgrade\r\n"
			"Upgrade: tcp\r\nContent-Length: %zu\r\n\r\n%s",
			dk->api_version, eid, strlen(body), body);
	err = write_all(fd, req, strlen(req));
	if (!err) {
		err = start_headers(fd, &m, d);
	}
	if (!err) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		err = exec_pump(fd, x, &m, d);
	}
	if (!err) {
		err = exec_exit(dk, eid, &x->exit_code, d);
	}
	bg_trace(DK, "exec %s in %s -> %d (exit %d)", x->argv[0], id, err, x->exit_code);
out:
	if (fd >= 0) {
		close(fd);
	}
	free(req);
	free(eid);
	return err;
}

/* ---- archives ---- */

struct xfer {
	struct dk__req *r;
	dk_sink_fn sink;
	dk_source_fn source;
	void *arg;
};

static size_t xfer_write(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	long code = 0;

	curl_easy_getinfo(x->r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code >= 300 || !x->sink) {
		/* An error body: kept (bounded) for the engine's message. */
		if (bg_buf_add(&x->r->resp, buf, len) != 0) {
			x->r->too_big = true;
			return 0;
		}
		return len;
	}
	int err = x->sink(x->arg, buf, len);
	if (err) {
		x->r->abort_err = err;
		x->r->abort_msg = bg_xasprintf("writing an archive: %s", bg_strerror(err));
		return 0;
	}
	return len;
}

static size_t xfer_read(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	ssize_t r = x->source(x->arg, buf, size * n);

	if (r < 0) {
		x->r->abort_err = (int)r;
		x->r->abort_msg = bg_xasprintf("reading an archive: %s", bg_strerror((int)r));
		return CURL_READFUNC_ABORT;
	}
	return (size_t)r;
}

static int archive_xfer(struct dk_client *dk, const char *method, const char *id,
		const char *dir, struct xfer *x, struct bg_diag *d)
{
	struct dk__req r;
	char *eid = dk__url_escape(id), *epath = dk__url_escape(dir);
	char *path = bg_xasprintf("/containers/%s/archive?path=%s", eid, epath);
	int err = dk__guard_managed(dk, id, d);

	dk__req_init(&r);
	if (err) {
		goto out;
	}
	x->r = &r;
	/* No total limit: a volume may take long; a stalled one is cut. */
	err = dk__req_prepare(&r, dk->easy, dk->socket, dk->api_version, method, path,
			NULL, 0);
	if (!err && x->source) {
		r.headers = curl_slist_append(r.headers, "Content-Type: application/x-tar");
		if (curl_easy_setopt(dk->easy, CURLOPT_HTTPHEADER, r.headers) ||
				curl_easy_setopt(dk->easy, CURLOPT_UPLOAD, 1L) ||
				curl_easy_setopt(dk->easy, CURLOPT_READFUNCTION, xfer_read) ||
				curl_easy_setopt(dk->easy, CURLOPT_READDATA, x)) {
			err = BG_EDOCKER;
		}
	}
	if (!err && (curl_easy_setopt(dk->easy, CURLOPT_WRITEFUNCTION, xfer_write) ||
			curl_easy_setopt(dk->easy, CURLOPT_WRITEDATA, x) ||
			curl_easy_setopt(dk->easy, CURLOPT_LOW_SPEED_LIMIT, 1L) ||
			curl_easy_setopt(dk->easy, CURLOPT_LOW_SPEED_TIME, (long)DK_STREAM_STALL_S))) {
		err = BG_EDOCKER;
	}
	if (err) {
		dk__error(d, "libcurl cannot stream an archive (%s)", r.errbuf);
		goto out;
	}
	err = dk__req_result(&r, curl_easy_perform(dk->easy), NULL, NULL, d);
out:
	dk__req_release(&r);
	free(path);
	free(eid);
	free(epath);
	return err;
}

int dk_archive_get(struct dk_client *dk, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d)
{
	struct xfer x = {.sink = sink, .arg = arg};
	int err = dk__ensure_api(dk, d);
	return err ? err : archive_xfer(dk, "GET", id, path, &x, d);
}

int dk_archive_put(struct dk_client *dk, const char *id, const char *path,
		dk_source_fn source, void *arg, struct bg_diag *d)
{
	struct xfer x = {.source = source, .arg = arg};
	int err = dk__ensure_api(dk, d);
	return err ? err : archive_xfer(dk, "PUT", id, path, &x, d);
}

/* ---- the helper container ---- */

int dk_helper_create(struct dk_client *dk, const struct dk_helper *h, char **id,
		struct bg_diag *d)
{
	struct json_object *o = json_object_new_object(), *host = json_object_new_object();
	struct json_object *labels = json_object_new_object(), *binds = json_object_new_array();
	struct json_object *ans = NULL;
	const char *m = h->labels ? obs_labels_get(h->labels, BG_LABEL_MANAGED) : NULL;
	char *esc = dk__url_escape(h->name);
	char *path = bg_xasprintf("/containers/create?name=%s", esc);
	int err = 0;

	*id = NULL;
	if (!m || strcmp(m, "true") != 0 || !h->argv || !h->argv[0]) {
		dk__error(d, "refusing to create helper '%s' without our label", h->name);
		err = BG_EREFUSED;
		goto out;
	}
	json_object_object_add(o, "Image", json_object_new_string(h->image));
	json_object_object_add(o, "Entrypoint", argv_json((char *const[]){h->argv[0], NULL}));
	json_object_object_add(o, "Cmd", argv_json(h->argv + 1));
	for (size_t i = 0; i < h->labels->n; i++) {
		json_object_object_add(labels, h->labels->v[i].key,
				json_object_new_string(h->labels->v[i].value));
	}
	json_object_object_add(o, "Labels", labels);
	labels = NULL;
	json_object_object_add(o, "NetworkDisabled", json_object_new_boolean(1));
	for (size_t i = 0; h->binds && h->binds[i]; i++) {
		json_object_array_add(binds, json_object_new_string(h->binds[i]));
	}
	json_object_object_add(host, "Binds", binds);
	binds = NULL;
	json_object_object_add(o, "HostConfig", host);
	host = NULL;
	err = dk__call(dk, "POST", path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			dk->timeout_ms, NULL, &ans, d);
	if (!err) {
		const char *cid = dk__jstr(ans, "Id");
		if (!cid) {
			dk__error(d, "the Docker engine's answer to POST %s has no Id", path);
			err = BG_EPARSE;
		} else {
			*id = bg_xstrdup(cid);
		}
	}
out:
	json_object_put(ans);
	json_object_put(o);
	json_object_put(host);
	json_object_put(labels);
	json_object_put(binds);
	free(path);
	free(esc);
	return err;
}

int dk_helper_remove(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	char *esc = dk__url_escape(id);
	char *path = bg_xasprintf("/containers/%s?force=1&v=1", esc);
	int err = dk__guard_managed(dk, id, d);

	if (err == BG_ENOT_FOUND) {
		err = 0; /* gone already */
	} else if (!err) {
		err = dk__call(dk, "DELETE", path, NULL, dk->timeout_ms, NULL, NULL, d);
		if (err == BG_ENOT_FOUND) {
			err = 0;
		}
	}
	free(path);
	free(esc);
	return err;
}

int dk_container_wait(struct dk_client *dk, const char *id, int *exit_code,
		struct bg_diag *d)
{
	char *esc = dk__url_escape(id);
	char *path = bg_xasprintf("/containers/%s/wait", esc);
	struct json_object *j = NULL;
	int64_t v = -1;
	int err = dk__guard_managed(dk, id, d);

	if (!err) {
		err = dk__call(dk, "POST", path, NULL, (uint64_t)DK_STREAM_STALL_S * 1000, NULL,
				&j, d);
	}
	if (!err && !dk__jint(j, "StatusCode", &v)) {
		dk__error(d, "the Docker engine's answer to POST %s has no StatusCode", path);
		err = BG_EPARSE;
	}
	*exit_code = (int)v;
	json_object_put(j);
	free(path);
	free(esc);
	return err;
}

int dk_volume_usage(struct dk_client *dk, const char *name, int64_t *bytes,
		struct bg_diag *d)
{
	struct json_object *j = NULL, *vols;
	int err = dk__get_json(dk, "/system/df", json_type_object, &j, d);

	*bytes = -1;
	if (err) {
		return err;
	}
	vols = dk__jget(j, "Volumes", json_type_array);
	for (size_t i = 0; vols && i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		const char *n = dk__jstr(v, "Name");
		if (n && strcmp(n, name) == 0) {
			dk__jint(dk__jget(v, "UsageData", json_type_object), "Size", bytes);
			break;
		}
	}
	json_object_put(j);
	return 0;
}

/* ---- the runtime's members (dk-exec-rt.h) ---- */

int dk__rt_exec(struct rt *rt, const char *id, struct dk_exec *x, struct bg_diag *d)
{
	return dk_exec_run(rt__docker_client(rt), id, x, d);
}

int dk__rt_archive_get(struct rt *rt, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d)
{
	return dk_archive_get(rt__docker_client(rt), id, path, sink, arg, d);
}

int dk__rt_archive_put(struct rt *rt, const char *id, const char *path,
		dk_source_fn source, void *arg, struct bg_diag *d)
{
	return dk_archive_put(rt__docker_client(rt), id, path, source, arg, d);
}

int dk__rt_helper_create(struct rt *rt, const struct dk_helper *h, char **id,
		struct bg_diag *d)
{
	return dk_helper_create(rt__docker_client(rt), h, id, d);
}

int dk__rt_helper_remove(struct rt *rt, const char *id, struct bg_diag *d)
{
	return dk_helper_remove(rt__docker_client(rt), id, d);
}

int dk__rt_wait(struct rt *rt, const char *id, int *exit_code, struct bg_diag *d)
{
	return dk_container_wait(rt__docker_client(rt), id, exit_code, d);
}

int dk__rt_volume_usage(struct rt *rt, const char *name, int64_t *bytes,
		struct bg_diag *d)
{
	return dk_volume_usage(rt__docker_client(rt), name, bytes, d);
}
