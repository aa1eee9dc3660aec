/*
 * health: see health.h. A fresh easy handle per probe: probes are seconds
 * apart, and a reused connection would hide a server that stopped
 * accepting new ones.
 */
#include "bg.h"
#include "health.h"
#include "bg-util.h"

#include <curl/curl.h>

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n;
}

int health_http_check(const char *url, uint64_t timeout_ms, unsigned want_status,
		char **detail)
{
	CURL *h = curl_easy_init();
	long status = 0;
	int err = 0;

	if (detail) {
		*detail = NULL;
	}
	if (!h) {
		return BG_ERRNO(ENOMEM);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 2000));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms ? timeout_ms : 2000));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "bluegreen-health/" BG_VERSION_STRING);
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		if (detail) {
			*detail = rc == CURLE_OPERATION_TIMEDOUT
					  ? bg_xasprintf("timed out after %" PRIu64 "ms", timeout_ms)
					  : bg_xstrdup(curl_easy_strerror(rc));
		}
		err = BG_EHEALTH;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if ((unsigned long)status != want_status) {
		if (detail) {
			*detail = bg_xasprintf("status %ld, want %u", status, want_status);
		}
		err = BG_EHEALTH;
	} else if (detail) {
		*detail = bg_xasprintf("status %ld", status);
	}
out:
	curl_easy_cleanup(h);
	return err;
}
