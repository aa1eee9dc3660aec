/*
 * attest-url: see attest-url.h. One libcurl easy handle per fetch (the
 * planner runs in one thread at a time); the body is collected up to
 * ATTEST_MAX_BYTES and the transfer aborted beyond it.
 */
#include "bg.h"
#include "attest-url.h"
#include "bg-buf.h"
#include "bg-util.h"

#include <curl/curl.h>

struct body {
	struct bg_buf b;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct body *bd = arg;
	if (bd->b.len + size * n > ATTEST_MAX_BYTES) {
		bd->too_big = true;
		return 0; /* aborts the transfer */
	}
	bg_buf_add(&bd->b, ptr, size * n);
	return size * n;
}

static bool loopback_http(const char *s)
{
	static const char *const ok[] = {"http://127.0.0.1:", "http://127.0.0.1/",
		"http://localhost:", "http://localhost/", "http://[::1]:", "http://[::1]/", NULL};
	for (size_t i = 0; ok[i]; i++) {
		if (bg_str_has_prefix(s, ok[i])) {
			return true;
		}
	}
	return false;
}

bool attest_url_ok(const char *s)
{
	return s && ((bg_str_has_prefix(s, "https://") && s[8]) || loopback_http(s));
}

/* url with {image_id} replaced by the hex digits of image_id (a new string). */
static char *url_fill(const char *url, const char *image_id)
{
	const char *hex = bg_str_has_prefix(image_id, "sha256:") ? image_id + 7 : image_id;
	const char *at = strstr(url, "{image_id}");
	if (!at) {
		return bg_xstrdup(url);
	}
	return bg_xasprintf("%.*s%s%s", (int)(at - url), url, hex, at + strlen("{image_id}"));
}

/* scheme://host/... of url, for messages. */
static char *url_shown(const char *url)
{
	const char *h = strstr(url, "://");
	if (!h) {
		return bg_xstrdup("<url>");
	}
	size_t n = strcspn(h + 3, "/?#");
	return bg_xasprintf("%.*s%s", (int)(h + 3 - url + n), url, h[3 + n] ? "/..." : "");
}

static int fetch(const char *url, struct body *bd, char **why)
{
	CURL *c = curl_easy_init();
	long status = 0;
	if (!c) {
		*why = bg_xstrdup("cannot start libcurl");
		return BG_ERRNO(ENOMEM);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ATTEST_URL_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "bluegreen/" BG_VERSION_STRING);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, bd);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (bd->too_big) {
		*why = bg_xasprintf("answer larger than %d bytes", ATTEST_MAX_BYTES);
		return BG_ENOT_FOUND;
	}
	if (cc != CURLE_OK) {
		*why = bg_xstrdup(curl_easy_strerror(cc));
		return BG_ENOT_FOUND;
	}
	if (status != 200) {
		*why = bg_xasprintf("HTTP %ld%s", status, status >= 300 && status < 400
				? " (redirects are not followed)" : "");
		return BG_ENOT_FOUND;
	}
	return 0;
}

int attest_url_find(const char *url, struct attest_key *const *keys, size_t n,
		const char *image_id, struct attest_claim *out, char **why)
{
	struct body bd = {.b = BG_BUF_INIT};
	char *full = url_fill(url, image_id);
	char *shown = url_shown(full);
	char *w = NULL;
	int err;

	attest_claim_init(out);
	*why = NULL;
	if (!attest_url_ok(full)) {
		*why = bg_xasprintf("%s: only https:// (or http:// on a loopback host)", shown);
		err = BG_ENOT_FOUND;
		goto out;
	}
	err = fetch(full, &bd, &w);
	if (!err) {
		err = attest_verify(bd.b.data ? bd.b.data : "", bd.b.len, keys, n, out, &w);
		if (err) {
			err = BG_ENOT_FOUND;
		} else if (!out->image_id || strcmp(out->image_id, image_id) != 0) {
			free(w);
			w = bg_xasprintf("it attests image %.19s, not this one",
					out->image_id ? out->image_id : "?");
			attest_claim_release(out);
			attest_claim_init(out);
			err = BG_ENOT_FOUND;
		}
	}
	if (err) {
		*why = bg_xasprintf("fetched %s: %s", shown, w ? w : "refused");
	}
out:
	free(w);
	free(full);
	free(shown);
	bg_buf_release(&bd.b);
	return err;
}
