/*
 * health: see health.h. A fresh easy handle per probe: probes are seconds
 * apart, and a reused connection would hide a server that stopped
 * accepting new ones. The crash verdict and the log tail are pure, so the
 * unit tests check them without an engine.
 */
#include "bg.h"
#include "health.h"
#include "bg-buf.h"
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

static char *restarts_words(unsigned n)
{
	return n ? bg_xasprintf(" (restarted %u time%s)", n, n == 1 ? "" : "s") : bg_xstrdup("");
}

char *health_crash_reason(const char *who, enum obs_cstate state, int exit_code,
		unsigned restarts, unsigned restarts_seen, bool oom_killed)
{
	const char *oom = oom_killed ? ", killed for lack of memory (OOM)" : "";
	char *rw = restarts_words(restarts);
	char *r = NULL;

	if (state == OBS_CSTATE_EXITED || state == OBS_CSTATE_DEAD) {
		r = bg_xasprintf("%s %s with code %d%s%s", who,
				state == OBS_CSTATE_DEAD ? "is dead, last exit" : "exited", exit_code,
				rw, oom);
	} else if (state == OBS_CSTATE_RESTARTING) {
		r = bg_xasprintf("%s keeps restarting: exited with code %d%s%s", who, exit_code,
				rw, oom);
	} else if (restarts >= restarts_seen + HEALTH_RESTARTS_MAX) {
		r = bg_xasprintf("%s keeps restarting: restarted %u times while the gate ran "
				"(%u in all)%s", who, restarts - restarts_seen, restarts, oom);
	}
	free(rw);
	return r;
}

/* text with env's secret values redacted and control characters but tab
 * and newline shown as '?', into b (CRLF line ends become newlines). */
static void redact(struct bg_buf *b, const char *text, size_t len, const struct cfg_env *env)
{
	const char **sec = bg_xcalloc(env ? env->n + 1 : 1, sizeof(*sec));
	size_t n = 0;
	for (size_t i = 0; env && i < env->n; i++) {
		if (env->v[i].secret && env->v[i].value && *env->v[i].value) {
			sec[n++] = env->v[i].value;
		}
	}
	struct bg_buf r = BG_BUF_INIT;
	bg_buf_add_redacted(&r, text, len, sec, n);
	for (size_t i = 0; i < r.len;) {
		unsigned char c = (unsigned char)r.data[i++];
		if (c == '\r' && i < r.len && r.data[i] == '\n') {
			continue; /* CRLF line ends: the newline alone */
		}
		bool shown = c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f);
		bg_buf_addch(b, shown ? (char)c : '?');
	}
	bg_buf_release(&r);
	free(sec);
}

char *health_log_tail(const char *text, size_t len, const struct cfg_env *env,
		size_t max_lines)
{
	struct bg_buf b = BG_BUF_INIT;
	redact(&b, text ? text : "", text ? len : 0, env);
	char *all = bg_buf_detach(&b, NULL);
	size_t n = strlen(all);
	while (n && (all[n - 1] == '\n' || all[n - 1] == '\r')) {
		all[--n] = '\0';
	}
	/* Back from the end over max_lines newlines: the start of the tail. */
	size_t start = n, lines = 0;
	while (start > 0 && lines < max_lines) {
		start--;
		if (all[start] == '\n' && ++lines == max_lines) {
			start++;
			break;
		}
	}
	char *tail = bg_xstrdup(all + start);
	free(all);
	return tail;
}
