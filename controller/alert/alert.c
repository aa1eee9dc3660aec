/*
 * alert: see alert.h. An event becomes a delivery: the body, and a copy of
 * the targets that want it (so a thread never reads a config that a
 * reload may free). A delivery runs its targets one after the other, each
 * within its own timeout: a webhook through one libcurl easy handle per attempt
 * (CURLOPT_NOSIGNAL, as threads need; no redirects followed, http(s)
 * only), a command through bg_spawn_capture_env with the event in its
 * environment. Failures are logged with the target's name and the
 * redacted URL, never the URL itself.
 */
#include "bg.h"
#include "alert.h"
#include "bg-log.h"
#include "bg-mem.h"
#include "bg-spawn.h"
#include "bg-util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* First pause between attempts; it doubles after each failure. */
#define BACKOFF_FIRST_MS 250

struct target {
	char *name;
	char *webhook;     /* NULL for a command */
	char *shown;       /* the webhook as logs show it */
	struct bg_strv argv;
	uint64_t timeout_ms;
	unsigned retries;
};

struct delivery {
	enum cfg_alert_event ev;
	char *body;
	struct target *t;
	size_t n;
};

static atomic_int in_flight;

static void delivery_free(struct delivery *j)
{
	if (!j) {
		return;
	}
	for (size_t i = 0; i < j->n; i++) {
		free(j->t[i].name);
		if (j->t[i].webhook) {
			explicit_bzero(j->t[i].webhook, strlen(j->t[i].webhook));
			free(j->t[i].webhook);
		}
		free(j->t[i].shown);
		bg_strv_release(&j->t[i].argv);
	}
	free(j->t);
	free(j->body);
	free(j);
}

/* The targets of cfg that want ev, copied; NULL when none does. */
static struct delivery *delivery_build(const struct cfg *cfg, enum cfg_alert_event ev)
{
	const char *name = cfg_alert_event_name(ev);
	struct delivery *j = NULL;

	for (size_t i = 0; i < cfg->g.n_alerts; i++) {
		const struct cfg_alert *a = &cfg->g.alerts[i];
		if (!bg_strv_contains(&a->events, name) || (!a->webhook && !a->command.n)) {
			continue;
		}
		if (!j) {
			j = bg_xcalloc(1, sizeof(*j));
			j->t = bg_xcalloc(cfg->g.n_alerts, sizeof(*j->t));
			j->ev = ev;
		}
		struct target *t = &j->t[j->n++];
		t->name = bg_xstrdup(a->name);
		t->webhook = a->webhook ? bg_xstrdup(a->webhook) : NULL;
		t->shown = a->webhook ? cfg_url_redact(a->webhook) : NULL;
		bg_strv_init(&t->argv);
		bg_strv_copy(&t->argv, &a->command);
		t->timeout_ms = a->timeout_ms ? a->timeout_ms : 5000;
		t->retries = a->retries;
	}
	return j;
}

char *alert_body(const struct cfg *cfg, enum cfg_alert_event ev, const char *site,
		struct json_object *details)
{
	struct json_object *o = json_object_new_object();
	struct json_object *inst = json_object_new_object();
	char when[32], host[256] = "";

	bg_time_format_utc(bg_now_ms(), when);
	if (gethostname(host, sizeof(host) - 1) != 0) {
		host[0] = '\0';
	}
	json_object_object_add(o, "event", json_object_new_string(cfg_alert_event_name(ev)));
	json_object_object_add(o, "site", site ? json_object_new_string(site) : NULL);
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(inst, "mode",
			json_object_new_string(cfg_install_mode_name(cfg->g.install_mode)));
	json_object_object_add(inst, "host", json_object_new_string(host));
	json_object_object_add(o, "install", inst);
	json_object_object_add(o, "details", details ? json_object_get(details)
			: json_object_new_object());
	json_object_object_add(o, "bluegreen", json_object_new_string(BG_VERSION_STRING));
	char *s = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n;
}

/*
 * One POST within budget_ms. Returns 0 on a 2xx; 1 when trying again may
 * help (no connection, timeout, 5xx, 408, 429); -1 when it cannot (other
 * statuses). buf gets the reason.
 */
static int post_once(const struct target *t, const char *body, uint64_t budget_ms,
		char *buf, size_t cap)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	long status = 0;
	int rc;

	if (!c) {
		snprintf(buf, cap, "cannot start libcurl");
		return -1;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, t->webhook);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "bluegreen/" BG_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(budget_ms ? budget_ms : 1));
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	if (cc != CURLE_OK) {
		/* curl's message names the host at most, never the path or query. */
		snprintf(buf, cap, "%s", curl_easy_strerror(cc));
		rc = 1;
	} else if (status >= 200 && status < 300) {
		rc = 0;
	} else {
		snprintf(buf, cap, "HTTP %ld", status);
		rc = status >= 500 || status == 408 || status == 429 ? 1 : -1;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* The command with the event in its environment, within budget_ms. */
static int run_once(const struct target *t, enum cfg_alert_event ev, const char *body,
		uint64_t budget_ms, char *buf, size_t cap)
{
	char *ev_var = bg_xasprintf("BLUEGREEN_EVENT=%s", cfg_alert_event_name(ev));
	char *body_var = bg_xasprintf("BLUEGREEN_ALERT=%s", body);
	char *set[] = {ev_var, body_var, NULL};
	int status = 0;
	char *out = NULL;

	int err = bg_spawn_capture_env(t->argv.v, set, NULL, budget_ms ? budget_ms : 1, &status,
			&out);
	free(ev_var);
	free(body_var);
	free(out); /* its output is its own business; it could echo secrets of its own */
	if (err) {
		snprintf(buf, cap, "%s", bg_strerror(err));
		return 1;
	}
	if (status != 0) {
		snprintf(buf, cap, "exit status %d", status);
		return 1;
	}
	return 0;
}

static void pause_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/* Deliver to one target: attempts with backoff until its deadline. 0 or -1. */
static int deliver(const struct target *t, enum cfg_alert_event ev, const char *body)
{
	int64_t deadline = bg_mono_ms() + (int64_t)t->timeout_ms;
	uint64_t backoff = BACKOFF_FIRST_MS;
	char why[160] = "";
	unsigned attempt = 0;
	const char *what = t->webhook ? t->shown : "command";

	for (;;) {
		int64_t left = deadline - bg_mono_ms();
		if (left <= 0) {
			snprintf(why, sizeof(why), "no answer within %llu ms",
					(unsigned long long)t->timeout_ms);
			break;
		}
		attempt++;
		int rc = t->webhook ? post_once(t, body, (uint64_t)left, why, sizeof(why))
				: run_once(t, ev, body, (uint64_t)left, why, sizeof(why));
		if (rc == 0) {
			bg_log(BG_LOG_INFO, "alert '%s' (%s): %s sent (attempt %u)", t->name, what,
					cfg_alert_event_name(ev), attempt);
			return 0;
		}
		if (rc < 0 || attempt > t->retries) {
			break;
		}
		left = deadline - bg_mono_ms();
		if (left <= (int64_t)backoff) {
			break;
		}
		pause_ms(backoff);
		backoff *= 2;
	}
	bg_log(BG_LOG_WARN, "alert '%s' (%s): %s not delivered after %u attempt%s: %s", t->name,
			what, cfg_alert_event_name(ev), attempt, attempt == 1 ? "" : "s", why);
	return -1;
}

static int delivery_run(const struct delivery *j)
{
	int failed = 0;
	for (size_t i = 0; i < j->n; i++) {
		if (deliver(&j->t[i], j->ev, j->body) != 0) {
			failed++;
		}
	}
	return failed;
}

static void *delivery_thread(void *arg)
{
	struct delivery *j = arg;
	delivery_run(j);
	delivery_free(j);
	atomic_fetch_sub(&in_flight, 1);
	return NULL;
}

static int delivery_start(struct delivery *j)
{
	pthread_attr_t attr;
	pthread_t th;

	if (atomic_fetch_add(&in_flight, 1) >= ALERT_MAX_IN_FLIGHT) {
		atomic_fetch_sub(&in_flight, 1);
		bg_log(BG_LOG_WARN, "alert: %s dropped: %d deliveries are still running",
				cfg_alert_event_name(j->ev), ALERT_MAX_IN_FLIGHT);
		delivery_free(j);
		return BG_EREFUSED;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &attr, delivery_thread, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		atomic_fetch_sub(&in_flight, 1);
		bg_log(BG_LOG_WARN, "alert: %s dropped: cannot start a thread (%s)",
				cfg_alert_event_name(j->ev), strerror(rc));
		delivery_free(j);
		return BG_ERRNO(rc);
	}
	return 0;
}

int alert_emit(const struct cfg *cfg, enum cfg_alert_event ev, const char *site,
		struct json_object *details, unsigned flags)
{
	if (!cfg || (unsigned)ev >= CFG_ALERT_N_EVENTS) {
		json_object_put(details);
		return BG_ERRNO(EINVAL);
	}
	struct delivery *j = delivery_build(cfg, ev);
	if (!j) {
		json_object_put(details);
		return 0;
	}
	j->body = alert_body(cfg, ev, site, details);
	json_object_put(details);
	if (flags & ALERT_ASYNC) {
		return delivery_start(j);
	}
	int failed = delivery_run(j);
	delivery_free(j);
	return failed;
}

int alert_emit_text(const struct cfg *cfg, enum cfg_alert_event ev, const char *site,
		const char *token, const char *message, unsigned flags)
{
	struct json_object *d = json_object_new_object();
	if (token) {
		json_object_object_add(d, "token", json_object_new_string(token));
	}
	if (message) {
		json_object_object_add(d, "message", json_object_new_string(message));
	}
	return alert_emit(cfg, ev, site, d, flags);
}

int alert_wait_idle(uint64_t timeout_ms)
{
	int64_t deadline = bg_mono_ms() + (int64_t)timeout_ms;
	while (atomic_load(&in_flight) > 0) {
		if (bg_mono_ms() >= deadline) {
			return BG_ETIMEOUT;
		}
		pause_ms(10);
	}
	return 0;
}
