/*
 * checks: see checks.h. A fresh easy handle per request, as the health
 * probe does: a check must see a server that stopped accepting new
 * connections. Bodies are kept up to CHK_BODY_MAX so a huge page cannot
 * eat memory; a word searched beyond that limit is reported as not found
 * with the truncation said, never as a silent pass of body_not_contains.
 */
#include "bg.h"
#include "checks.h"
#include "bg-buf.h"
#include "bg-util.h"

#include <curl/curl.h>
#include <strings.h>

static const char *const phase_names[CHK_PHASE_COUNT] = {
	"infrastructure", "container", "application", "functional",
	"ui", "integration", "performance", "security",
};

const char *chk_phase_name(enum chk_phase ph)
{
	return (unsigned)ph < CHK_PHASE_COUNT ? phase_names[ph] : "?";
}

int chk_phase_from_name(const char *name)
{
	for (int i = 0; name && i < CHK_PHASE_COUNT; i++) {
		if (strcmp(phase_names[i], name) == 0) {
			return i;
		}
	}
	return -1;
}

/* ---- judging (pure) ---- */

/* The header line "Name: ..." whose value contains want (after "Name:"), or
 * any "Name:" line when want is NULL. */
static bool header_has(const char *headers, const char *name, size_t nlen, const char *want)
{
	for (const char *l = headers; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		if (len > nlen && l[nlen] == ':' && strncasecmp(l, name, nlen) == 0) {
			if (!want) {
				return true;
			}
			char *value = bg_xstrndup(l + nlen + 1, len - nlen - 1);
			bool hit = strstr(value, want) != NULL;
			free(value);
			if (hit) {
				return true;
			}
		}
		l = end ? end + 1 : NULL;
	}
	return false;
}

static char *judge_header(const char *spec, const char *headers)
{
	const char *colon = strchr(spec, ':');
	size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
	const char *want = colon ? colon + 1 : NULL;
	while (want && *want == ' ') {
		want++;
	}
	if (header_has(headers, spec, nlen, want && *want ? want : NULL)) {
		return NULL;
	}
	return bg_xasprintf("no header \"%s\" in the answer", spec);
}

static char *judge_body(const struct chk_http *c, const struct chk_answer *a)
{
	const char *body = a->body ? a->body : "";
	if (c->body_contains && !strstr(body, c->body_contains)) {
		return bg_xasprintf("the body does not contain \"%s\"%s", c->body_contains,
				a->truncated ? " (in its first 1 MiB)" : "");
	}
	if (c->body_not_contains && strstr(body, c->body_not_contains)) {
		return bg_xasprintf("the body contains \"%s\"", c->body_not_contains);
	}
	if (c->body_not_contains && a->truncated) {
		return bg_xasprintf("the body is over 1 MiB: \"%s\" cannot be ruled out",
				c->body_not_contains);
	}
	return NULL;
}

char *chk_http_judge(const struct chk_http *c, const struct chk_answer *a)
{
	bool status_ok = c->status ? a->status == (long)c->status
				   : a->status >= 200 && a->status < 300;
	if (!status_ok) {
		return c->status ? bg_xasprintf("status %ld, want %u", a->status, c->status)
				 : bg_xasprintf("status %ld, want 2xx", a->status);
	}
	char *why = judge_body(c, a);
	if (!why && c->header) {
		why = judge_header(c->header, a->headers ? a->headers : "");
	}
	if (!why && c->max_ms && a->ms > c->max_ms) {
		why = bg_xasprintf("answered in %" PRIu64 " ms, budget %" PRIu64 " ms", a->ms,
				c->max_ms);
	}
	return why;
}

char *chk_forbidden_judge(const char *path, const struct chk_answer *a)
{
	if (a->status >= 200 && a->status < 300) {
		return bg_xasprintf("%s answered %ld: it must not be served", path, a->status);
	}
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

uint64_t chk_percentile(uint64_t *ms, size_t n, unsigned pct)
{
	if (n == 0) {
		return 0;
	}
	qsort(ms, n, sizeof(*ms), cmp_u64);
	size_t rank = ((size_t)pct * n + 99) / 100; /* nearest rank, 1-based */
	return ms[rank ? rank - 1 : 0];
}

/* ---- fetching ---- */

struct sink {
	struct bg_buf buf;
	bool truncated;
};

static size_t body_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n, room = CHK_BODY_MAX - s->buf.len;
	if (len > room) {
		s->truncated = true;
		len = room;
	}
	if (len && bg_buf_add(&s->buf, ptr, len) != 0) {
		return 0;
	}
	return size * n; /* the rest is read and dropped: the answer stays whole */
}

/* Header lines of each answer; a new status line starts over (1xx). */
static size_t header_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct bg_buf *b = arg;
	size_t len = size * n;
	if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		bg_buf_reset(b);
	}
	if (b->len + len <= 64 * 1024) {
		bg_buf_add(b, ptr, len);
	}
	return len;
}

static CURL *fetch_handle(const char *url, const char *method, uint64_t timeout_ms,
		struct curl_slist *hdrs)
{
	CURL *h = curl_easy_init();
	if (!h) {
		return NULL;
	}
	long t = (long)(timeout_ms ? timeout_ms : 5000);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "bluegreen-checks/" BG_VERSION_STRING);
	if (method && strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		if (strcmp(method, "HEAD") == 0) {
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		}
	}
	if (hdrs) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	return h;
}

int chk_fetch(const char *base_url, const char *host, const char *method, const char *path,
		uint64_t timeout_ms, struct chk_answer *a, char **why)
{
	struct sink body = {.buf = BG_BUF_INIT};
	struct bg_buf heads = BG_BUF_INIT;
	struct curl_slist *hdrs = NULL;
	char *url = bg_xasprintf("%s%s", base_url, path);
	char *host_line = host ? bg_xasprintf("Host: %s", host) : NULL;
	int err = 0;

	memset(a, 0, sizeof(*a));
	*why = NULL;
	if (host_line) {
		hdrs = curl_slist_append(NULL, host_line);
	}
	CURL *h = fetch_handle(url, method, timeout_ms, hdrs);
	if (!h) {
		err = BG_ERRNO(ENOMEM);
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &heads);
	int64_t t0 = bg_mono_ms();
	CURLcode rc = curl_easy_perform(h);
	curl_off_t us = 0;
	a->ms = curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK && us > 0
			? (uint64_t)(us / 1000)
			: (uint64_t)(bg_mono_ms() - t0);
	if (rc != CURLE_OK) {
		*why = rc == CURLE_OPERATION_TIMEDOUT
			       ? bg_xasprintf("%s timed out after %" PRIu64 " ms", path, a->ms)
			       : bg_xasprintf("%s: %s", path, curl_easy_strerror(rc));
		err = BG_EHEALTH;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	a->body = bg_buf_detach(&body.buf, &a->body_len);
	a->truncated = body.truncated;
	a->headers = bg_buf_detach(&heads, NULL);
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	bg_buf_release(&body.buf);
	bg_buf_release(&heads);
	free(host_line);
	free(url);
	return err;
}

void chk_answer_release(struct chk_answer *a)
{
	if (a) {
		free(a->body);
		free(a->headers);
		memset(a, 0, sizeof(*a));
	}
}

int chk_http_run(const struct chk_http *c, const char *base_url, const char *host,
		uint64_t timeout_ms, char **why)
{
	struct chk_answer a;
	int err = chk_fetch(base_url, host, c->method, c->path, timeout_ms, &a, why);
	if (err) {
		return err;
	}
	char *bad = chk_http_judge(c, &a);
	chk_answer_release(&a);
	if (bad) {
		*why = bg_xasprintf("%s %s: %s", c->method ? c->method : "GET", c->path, bad);
		free(bad);
		return BG_EHEALTH;
	}
	return 0;
}

int chk_forbidden_run(const char *path, const char *base_url, const char *host,
		uint64_t timeout_ms, char **why)
{
	struct chk_answer a;
	int err = chk_fetch(base_url, host, NULL, path, timeout_ms, &a, why);
	if (err) { /* no answer at all is not serving it; say why nonetheless */
		free(*why);
		*why = NULL;
		return 0;
	}
	*why = chk_forbidden_judge(path, &a);
	chk_answer_release(&a);
	return *why ? BG_EHEALTH : 0;
}

int chk_latency_run(const char *path, unsigned n, uint64_t p95_ms, const char *base_url,
		const char *host, uint64_t timeout_ms, uint64_t *p95, char **why)
{
	uint64_t *ms = bg_xcalloc(n ? n : 1, sizeof(*ms));
	struct chk_http ok = {.path = path};
	int err = 0;

	*why = NULL;
	for (unsigned i = 0; i < n && !err; i++) {
		struct chk_answer a;
		err = chk_fetch(base_url, host, NULL, path, timeout_ms, &a, why);
		if (!err) {
			char *bad = chk_http_judge(&ok, &a);
			if (bad) {
				*why = bg_xasprintf("GET %s: %s", path, bad);
				free(bad);
				err = BG_EHEALTH;
			}
			ms[i] = a.ms;
			chk_answer_release(&a);
		}
	}
	uint64_t got = err ? 0 : chk_percentile(ms, n, 95);
	if (p95) {
		*p95 = got;
	}
	if (!err && got > p95_ms) {
		*why = bg_xasprintf("%s: p95 %" PRIu64 " ms over %u requests, budget %" PRIu64
				    " ms", path, got, n, p95_ms);
		err = BG_EHEALTH;
	}
	free(ms);
	return err;
}
