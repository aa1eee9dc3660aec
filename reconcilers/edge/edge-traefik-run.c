/*
 * edge-traefik-run: installing a Traefik edge file (edge_traefik_impl.install).
 * The file is refused when our own strict reader rejects it (one bad file
 * blocks Traefik's file provider for every site), written through a
 * staging directory on the same filesystem outside the watched one and
 * renamed into place, read back, and confirmed through Traefik's API when
 * one is configured; when Traefik answers but does not take it in time,
 * the previous file is put back (docs/adr/0004-traefik-edge.md).
 */
#include "bg.h"
#include "edge-int.h"
#include "edge-traefik-int.h"

#include "bg-log.h"
#include "bg-util.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define API_BODY_MAX (1024 * 1024)
#define API_POLL_MS 100

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

static size_t curl_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;
	return bg_buf_add(arg, ptr, n) == 0 ? n : 0;
}

/* The API base without any user:password@ part, for messages. */
static char *url_display(const char *url)
{
	const char *s = strstr(url, "://");
	const char *start = s ? s + 3 : url;
	const char *slash = strchr(start, '/');
	const char *at = memchr(start, '@', slash ? (size_t)(slash - start) : strlen(start));

	if (!at) {
		return bg_xstrdup(url);
	}
	return bg_xasprintf("%.*s%s", (int)(start - url), url, at + 1);
}

/* Does the API's router object say `want`, enabled? *seen describes what
 * it said, for the message if it never does. */
static bool router_answer(const struct bg_buf *body, const char *want, char **seen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *j, *svc = NULL, *st = NULL;
	bool ok = false;

	if (!tok) {
		return false;
	}
	j = json_tokener_parse_ex(tok, body->data, (int)body->len);
	json_tokener_free(tok);
	free(*seen);
	if (j && json_object_object_get_ex(j, "service", &svc) &&
			json_object_object_get_ex(j, "status", &st) &&
			json_object_is_type(svc, json_type_string) &&
			json_object_is_type(st, json_type_string)) {
		const char *sv = json_object_get_string(svc);
		const char *ss = json_object_get_string(st);
		*seen = bg_xasprintf("service '%.100s', status '%.20s'", sv, ss);
		ok = strcmp(sv, want) == 0 && strcmp(ss, "enabled") == 0;
	} else {
		*seen = bg_xstrdup("an answer without service and status");
	}
	json_object_put(j); /* NULL-safe */
	return ok;
}

enum api_result {
	API_CONFIRMED,
	API_UNREACHABLE, /* nothing answered, or not the API: fall back to the file */
	API_TIMEOUT,     /* the API answered, but not with the new service in time */
};

/* GET url into body, bounded, errors in errbuf. */
static void api_setopt(CURL *c, const char *url, char *errbuf, struct bg_buf *body)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* A proxy set in the environment (for registry pulls, say) must not
	 * stand between bluegreen and its own edge. */
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 500L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
}

/*
 * Poll GET API/api/http/routers/SITE-live@file until it reports the
 * expected service with status "enabled", for at most
 * edge_confirm_timeout_ms. Traefik applies file changes after its
 * provider throttle, so the first answers may still show the old service
 * or a 404 (first deploy).
 */
static enum api_result api_confirm(const char *api, const char *site, const char *want,
		struct bg_diag *d)
{
	struct bg_buf url = BG_BUF_INIT, body;
	char *shown = url_display(api), *seen = NULL;
	char errbuf[CURL_ERROR_SIZE];
	enum api_result res = API_TIMEOUT;
	bool answered = false;
	long code = 0;
	int64_t deadline = bg_mono_ms() + (int64_t)edge_confirm_timeout_ms;
	CURL *c = curl_easy_init();

	if (!c) {
		res = API_UNREACHABLE;
		goto out;
	}
	bg_buf_adds(&url, api);
	while (url.len && url.data[url.len - 1] == '/') {
		url.data[--url.len] = '\0';
	}
	bg_buf_addf(&url, "/api/http/routers/%s-live@file", site);
	bg_buf_init(&body, API_BODY_MAX);
	api_setopt(c, url.data, errbuf, &body);
	for (;;) {
		bg_buf_reset(&body);
		errbuf[0] = '\0';
		CURLcode cc = curl_easy_perform(c);
		if (cc != CURLE_OK) {
			if (!answered) {
				bg_diag_warn(d, NULL, "traefik API %s unreachable (%s): confirmed "
						"by reading the file back only", shown,
						errbuf[0] ? errbuf : curl_easy_strerror(cc));
				res = API_UNREACHABLE;
				break;
			}
		} else {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
			answered = true;
			if (code == 200) {
				if (router_answer(&body, want, &seen)) {
					res = API_CONFIRMED;
					break;
				}
			} else if (code != 404) {
				bg_diag_warn(d, NULL, "traefik API %s answered HTTP %ld: confirmed "
						"by reading the file back only", shown, code);
				res = API_UNREACHABLE;
				break;
			}
		}
		if (bg_mono_ms() + API_POLL_MS > deadline) {
			bg_diag_error(d, NULL, "traefik did not take router '%s-live@file' -> '%s' "
					"within %" PRIu64 " ms (last seen: %s)", site, want,
					edge_confirm_timeout_ms, seen ? seen : "no such router");
			res = API_TIMEOUT;
			break;
		}
		sleep_ms(API_POLL_MS);
	}
	bg_buf_release(&body);
out:
	if (c) {
		curl_easy_cleanup(c);
	}
	bg_buf_release(&url);
	free(shown);
	free(seen);
	return res;
}

/* Staging must be a sibling on the same filesystem: rename(2) is only
 * atomic there, and a temp file inside the watched directory would be
 * loaded by Traefik half-written. */
static int staging_ready(const char *staging, const char *dyn, struct bg_diag *d)
{
	struct stat s1, s2;
	int err;

	/* dynamic_dir is Traefik's (its static configuration names it): a
	 * missing one is a configuration error, not something to create. */
	if (stat(dyn, &s2) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "traefik dynamic_dir '%s': %s", dyn, bg_strerror(err));
		return err;
	}
	err = bg_mkdir_p(staging, 0755);
	if (err) {
		bg_diag_error(d, NULL, "cannot create staging directory '%s': %s", staging,
				bg_strerror(err));
		return err;
	}
	if (stat(staging, &s1) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "staging directory '%s': %s", staging, bg_strerror(err));
		return err;
	}
	if (s1.st_dev != s2.st_dev) {
		bg_diag_error(d, NULL, "staging directory '%s' and dynamic_dir '%s' are on "
				"different filesystems: the rename would not be atomic (EXDEV); "
				"set edge.traefik.staging_dir next to dynamic_dir", staging, dyn);
		return BG_ERRNO(EXDEV);
	}
	return 0;
}

/* One unparsable file blocks Traefik's whole file provider, for every
 * site: refuse anything our own strict reader would not accept. On
 * success e holds what the file says (the caller resets it). */
static int install_check(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e, struct bg_diag *d)
{
	if (!edge__site_name_valid(site) || !cfg->g.traefik.dynamic_dir) {
		bg_diag_error(d, NULL, "traefik edge: invalid site name or no dynamic_dir");
		return BG_ECONFIG;
	}
	if (memmem(content, len, "{{", 2)) {
		bg_diag_error(d, NULL, "refusing to install an edge file containing '{{'");
		return BG_EEDGE;
	}
	if (edge__traefik_parse(cfg, site, content, len, e) != 0) {
		bg_diag_error(d, NULL, "refusing to install an edge file for '%s': %s", site,
				e->error);
		return BG_EEDGE;
	}
	return 0;
}

/* Traefik still serves the old routers: make the file say so again, since
 * the observed live colour is read from it. prev NULL: there was none. */
static void install_undo(const char *path, const char *staging, const char *prev,
		size_t prev_len, struct bg_diag *d)
{
	const char *why = NULL;
	int rerr = prev ? bg_file_write_atomic_why(path, staging, prev, prev_len,
					  edge__file_mode(prev, prev_len), &why)
			: (unlink(path) < 0 ? BG_ERRNO(errno) : 0);

	if (rerr) {
		bg_diag_error(d, NULL, "cannot restore '%s': %s", path,
				why ? why : bg_strerror(rerr));
	} else {
		bg_log(BG_LOG_WARN, "traefik did not take '%s'; %s", path,
				prev ? "previous file restored" : "new file removed");
	}
}

int edge__traefik_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d)
{
	const struct cfg_traefik *t = &cfg->g.traefik;
	struct obs_edge e;
	char *path = NULL, *staging = NULL, *prev = NULL, *want = NULL;
	size_t prev_len = 0;
	const char *why = NULL;
	int err;

	memset(&e, 0, sizeof(e));
	err = install_check(cfg, site, content, len, &e, d);
	if (err) {
		goto out;
	}
	want = bg_xasprintf("%s-%s@docker", site, e.live);
	path = edge__traefik_path(cfg, site);
	staging = t->staging_dir ? bg_xstrdup(t->staging_dir)
				 : bg_xasprintf("%s.staging", t->dynamic_dir);
	err = staging_ready(staging, t->dynamic_dir, d);
	if (err) {
		goto out;
	}
	/* prev is set only on success: NULL means undo removes the new file. */
	err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &prev, &prev_len, NULL, &why);
	if (err && err != BG_ERRNO(ENOENT)) {
		/* Not fatal: we only lose the ability to put it back. */
		bg_diag_warn(d, NULL, "cannot read the current '%s': %s", path, why);
	}
	err = bg_file_write_atomic_why(path, staging, content, len, edge__file_mode(content, len),
			&why);
	if (err == BG_ERRNO(EXDEV)) {
		bg_diag_error(d, NULL, "cannot rename from '%s' into '%s': different "
				"filesystems or mounts (EXDEV)", staging, t->dynamic_dir);
		goto out;
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot write '%s': %s", path, why);
		goto out;
	}
	err = edge__read_back(path, content, len, d);
	if (err) {
		goto out;
	}
	if (t->api && *t->api && api_confirm(t->api, site, want, d) == API_TIMEOUT) {
		install_undo(path, staging, prev, prev_len, d);
		err = BG_EEDGE;
		goto out;
	}
	bg_trace(EDGE, "installed '%s' (%zu bytes, live %s)", path, len, e.live);
out:
	edge__obs_reset(&e);
	free(want);
	free(prev);
	free(staging);
	free(path);
	return err;
}
