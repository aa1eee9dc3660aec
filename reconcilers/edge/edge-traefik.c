/*
 * edge-traefik: the Traefik edge. Container labels (fixed at creation)
 * declare one service per colour and a colour-pinned router on the
 * internal entrypoint; the routers that carry the public hostnames live in
 * one file per site in the file provider's directory, DYNAMIC_DIR/SITE.yml,
 * rewritten whole on every switch: SITE-live -> SITE-<colour>@docker, and
 * SITE-preview when the site has a preview domain. The file is emitted by
 * libyaml (deterministic, only the basic keys the published schema knows),
 * written through a staging directory outside the watched one and renamed
 * into place, read back, and confirmed through Traefik's API when one is
 * configured (docs/adr/0004-traefik-edge.md).
 */
#include "bg.h"
#include "edge-int.h"

#include "bg-log.h"
#include "bg-util.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#define API_BODY_MAX (1024 * 1024)
#define API_POLL_MS 100

static char *traefik_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/%s.yml", cfg->g.traefik.dynamic_dir, site);
}

/* ---- render ---- */

struct emit {
	yaml_emitter_t em;
	bool ok;
};

static int emit_write(void *data, unsigned char *buf, size_t size)
{
	return bg_buf_add(data, buf, size) == 0;
}

/* The emitter owns the event once yaml_emitter_emit has been called, even
 * when it fails; after a failure later events are only freed. */
static void emit_ev(struct emit *e, yaml_event_t *ev, int made)
{
	if (!made) {
		e->ok = false;
		return;
	}
	if (!e->ok) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&e->em, ev)) {
		e->ok = false;
	}
}

/*
 * Plain style only for words that a YAML 1.1 or 1.2 reader (Traefik uses
 * Go's) cannot take for a boolean, null or number: they start with a
 * letter and are not one of the keyword spellings. Everything else is
 * double-quoted. libyaml still quotes a plain request it finds unsafe.
 */
static yaml_scalar_style_t scalar_style(const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off",
			"true", "false", "null"};
	char c = *s;

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
		return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(words); i++) {
		if (strcasecmp(s, words[i]) == 0) {
			return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		}
	}
	return YAML_PLAIN_SCALAR_STYLE;
}

static void emit_str(struct emit *e, const char *s)
{
	yaml_event_t ev;
	int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s,
			(int)strlen(s), 1, 1, scalar_style(s));
	emit_ev(e, &ev, made);
}

static void emit_map_start(struct emit *e)
{
	yaml_event_t ev;
	emit_ev(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_MAPPING_STYLE));
}

static void emit_map_end(struct emit *e)
{
	yaml_event_t ev;
	emit_ev(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void emit_router(struct emit *e, const struct cfg *cfg, const char *name,
		const char *rule, const char *service)
{
	const struct bg_strv *eps = &cfg->g.traefik.entrypoints;
	yaml_event_t ev;

	emit_str(e, name);
	emit_map_start(e);
	if (eps->n) {
		emit_str(e, "entryPoints");
		emit_ev(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
				YAML_BLOCK_SEQUENCE_STYLE));
		for (size_t i = 0; i < eps->n; i++) {
			emit_str(e, eps->v[i]);
		}
		emit_ev(e, &ev, yaml_sequence_end_event_initialize(&ev));
	}
	emit_str(e, "rule");
	emit_str(e, rule);
	emit_str(e, "service");
	emit_str(e, service);
	if (cfg->g.traefik.certresolver) {
		emit_str(e, "tls");
		emit_map_start(e);
		emit_str(e, "certResolver");
		emit_str(e, cfg->g.traefik.certresolver);
		emit_map_end(e);
	}
	emit_map_end(e);
}

/* Host(`a`) || Host(`b`): the form both Traefik v2 and v3 accept (v3
 * dropped the multi-argument Host). Hosts are checked: no backquote. */
static char *host_rule(const char *const *hosts, size_t n)
{
	struct bg_buf b = BG_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		bg_buf_addf(&b, "%sHost(`%s`)", i ? " || " : "", hosts[i]);
	}
	return bg_buf_detach(&b, NULL);
}

/* Entrypoints and the cert resolver reach the file as names: checked too. */
static int traefik_view_check(const struct cfg *cfg, const struct edge_view *v)
{
	const struct cfg_traefik *t = &cfg->g.traefik;
	int err = edge__view_check(v);

	for (size_t i = 0; !err && i < t->entrypoints.n; i++) {
		if (!edge__ident_valid(t->entrypoints.v[i])) {
			err = BG_ECONFIG;
		}
	}
	if (!err && t->certresolver && !edge__ident_valid(t->certresolver)) {
		err = BG_ECONFIG;
	}
	return err;
}

/* The routers of one file: name, rule and service of each (owned). */
struct routers {
	char *live_name, *live_rule, *live_svc;
	char *pv_name, *pv_rule, *pv_svc; /* NULL without a preview */
};

static void routers_release(struct routers *r)
{
	free(r->live_name);
	free(r->live_rule);
	free(r->live_svc);
	free(r->pv_name);
	free(r->pv_rule);
	free(r->pv_svc);
}

/* The YAML document (http.routers) after the header, appended to b. */
static int emit_routers(struct bg_buf *b, const struct cfg *cfg, const struct routers *r)
{
	struct emit e = {.ok = true};
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&e.em)) {
		return BG_ERRNO(ENOMEM);
	}
	yaml_emitter_set_output(&e.em, emit_write, b);
	yaml_emitter_set_unicode(&e.em, 1);
	yaml_emitter_set_width(&e.em, -1); /* never fold a long rule */
	yaml_emitter_set_indent(&e.em, 2);
	emit_ev(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit_ev(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	emit_map_start(&e);
	emit_str(&e, "http");
	emit_map_start(&e);
	emit_str(&e, "routers");
	emit_map_start(&e);
	emit_router(&e, cfg, r->live_name, r->live_rule, r->live_svc);
	if (r->pv_name) {
		emit_router(&e, cfg, r->pv_name, r->pv_rule, r->pv_svc);
	}
	emit_map_end(&e);
	emit_map_end(&e);
	emit_map_end(&e);
	emit_ev(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit_ev(&e, &ev, yaml_stream_end_event_initialize(&ev));
	if (e.ok && !yaml_emitter_flush(&e.em)) {
		e.ok = false;
	}
	yaml_emitter_delete(&e.em);
	return e.ok ? 0 : BG_ETOO_BIG; /* the only way our output handler fails */
}

static int traefik_render(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out)
{
	struct bg_buf b = BG_BUF_INIT;
	struct routers r = {0};
	const char *preview;
	int err;

	err = traefik_view_check(cfg, v);
	if (err) {
		return err;
	}
	const struct cfg_site *s = v->site;
	preview = edge__preview_colour(v);
	r.live_name = bg_xasprintf("%s-live", s->name);
	r.live_rule = host_rule((const char *const *)s->domains.v, s->domains.n);
	r.live_svc = bg_xasprintf("%s-%s@docker", s->name, v->live);
	if (preview) {
		r.pv_name = bg_xasprintf("%s-preview", s->name);
		r.pv_rule = host_rule((const char *const *)&s->preview, 1);
		r.pv_svc = bg_xasprintf("%s-%s@docker", s->name, preview);
	}

	edge__header_render(&b, s->name, v->live, preview, v->live_version);
	err = emit_routers(&b, cfg, &r);
	if (err) {
		goto out;
	}
	edge__trailer_render(&b);
	/* The inputs were checked, so this cannot trigger; it stays as the
	 * last line of defence, since Traefik runs the file through Go
	 * templates before parsing it. */
	if (strstr(b.data, "{{")) {
		err = BG_ECONFIG;
		goto out;
	}
	err = bg_buf_add(out, b.data, b.len);
out:
	bg_buf_release(&b);
	routers_release(&r);
	return err;
}

/* ---- parse ---- */

struct doc {
	yaml_document_t d;
	bool loaded; /* d holds a document to delete */
	struct obs_edge *e;
};

static yaml_node_t *node_at(struct doc *doc, int idx)
{
	return yaml_document_get_node(&doc->d, idx);
}

static bool scalar_eq(const yaml_node_t *n, const char *s)
{
	size_t l = strlen(s);
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == l &&
			memcmp(n->data.scalar.value, s, l) == 0;
}

/* A non-empty scalar without NUL bytes. */
static bool scalar_ok(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length > 0 &&
			!memchr(n->data.scalar.value, '\0', n->data.scalar.length);
}

static bool seq_of_scalars(struct doc *doc, const yaml_node_t *n)
{
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		return false;
	}
	for (yaml_node_item_t *it = n->data.sequence.items.start;
			it < n->data.sequence.items.top; it++) {
		if (!scalar_ok(node_at(doc, *it))) {
			return false;
		}
	}
	return true;
}

/* Visit the pairs of a mapping whose keys must come from `keys` (each at
 * most once). Returns the index in keys of each value through vals. */
static int map_fields(struct doc *doc, const yaml_node_t *n, const char *what,
		const char *const *keys, size_t nkeys, yaml_node_t **vals)
{
	for (size_t i = 0; i < nkeys; i++) {
		vals[i] = NULL;
	}
	if (!n || n->type != YAML_MAPPING_NODE) {
		return edge__obs_fail(doc->e, "%s is not a mapping", what);
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
			p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(doc, p->key);
		size_t i = 0;
		while (i < nkeys && !scalar_eq(k, keys[i])) {
			i++;
		}
		if (i == nkeys) {
			if (k && k->type == YAML_SCALAR_NODE) {
				return edge__obs_fail(doc->e, "unexpected key '%.*s' in %s",
						(int)(k->data.scalar.length > 64 ? 64
							: k->data.scalar.length),
						(const char *)k->data.scalar.value, what);
			}
			return edge__obs_fail(doc->e, "unexpected key in %s", what);
		}
		if (vals[i]) {
			return edge__obs_fail(doc->e, "key '%s' repeated in %s", keys[i], what);
		}
		vals[i] = node_at(doc, p->value);
		if (!vals[i]) {
			return edge__obs_fail(doc->e, "key '%s' has no value in %s", keys[i], what);
		}
	}
	return 0;
}

/* One router: only the basic keys we write (and the few an operator may
 * expect to see); its service must be one of the site's colours. */
static int check_router(struct doc *doc, const char *site, const char *name,
		const yaml_node_t *n, char **colour)
{
	static const char *const keys[] = {"entryPoints", "rule", "service", "tls",
			"middlewares", "priority"};
	static const char *const tls_keys[] = {"certResolver"};
	yaml_node_t *v[BG_ARRAY_SIZE(keys)], *tv[1];
	int err;

	err = map_fields(doc, n, name, keys, BG_ARRAY_SIZE(keys), v);
	if (err) {
		return err;
	}
	if (!scalar_ok(v[1]) || !scalar_ok(v[2])) {
		return edge__obs_fail(doc->e, "router '%s' needs a rule and a service", name);
	}
	if ((v[0] && !seq_of_scalars(doc, v[0])) || (v[4] && !seq_of_scalars(doc, v[4]))) {
		return edge__obs_fail(doc->e, "router '%s': entryPoints and middlewares "
				"must be lists of names", name);
	}
	if (v[5]) {
		bool digits = scalar_ok(v[5]) && v[5]->data.scalar.length < 10;
		for (size_t i = 0; digits && i < v[5]->data.scalar.length; i++) {
			char c = (char)v[5]->data.scalar.value[i];
			digits = c >= '0' && c <= '9';
		}
		if (!digits) {
			return edge__obs_fail(doc->e, "router '%s': priority is not a number",
					name);
		}
	}
	if (v[3]) {
		err = map_fields(doc, v[3], "tls", tls_keys, 1, tv);
		if (err) {
			return err;
		}
		if (tv[0] && !scalar_ok(tv[0])) {
			return edge__obs_fail(doc->e, "router '%s': tls.certResolver is not a name",
					name);
		}
	}
	static const char *const colours[] = {"blue", "green"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(colours); i++) {
		char *want = bg_xasprintf("%s-%s@docker", site, colours[i]);
		bool eq = scalar_eq(v[2], want);
		free(want);
		if (eq) {
			*colour = bg_xstrdup(colours[i]);
			return 0;
		}
	}
	return edge__obs_fail(doc->e, "router '%s' points at '%.*s', not at %s-blue@docker "
			"or %s-green@docker", name,
			(int)(v[2]->data.scalar.length > 64 ? 64 : v[2]->data.scalar.length),
			(const char *)v[2]->data.scalar.value, site, site);
}

static int yaml_fail(struct obs_edge *e, const yaml_parser_t *parser)
{
	return edge__obs_fail(e, "yaml: %s at line %zu", parser->problem ?
			parser->problem : "error", parser->problem_mark.line + 1);
}

/* Load content into doc->d (doc->loaded says whether to delete it): one
 * document with a root node, as a second one would be ours no longer. */
static int doc_load(struct doc *doc, const char *content, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int err = 0;

	if (!yaml_parser_initialize(&parser)) {
		return edge__obs_fail(doc->e, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)content, len);
	if (!yaml_parser_load(&parser, &doc->d)) {
		err = yaml_fail(doc->e, &parser);
		goto out;
	}
	doc->loaded = true;
	if (!yaml_document_get_root_node(&doc->d)) {
		err = edge__obs_fail(doc->e, "no routers (empty document)");
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		err = yaml_fail(doc->e, &parser);
		goto out;
	}
	bool more = yaml_document_get_root_node(&extra) != NULL;
	yaml_document_delete(&extra);
	if (more) {
		err = edge__obs_fail(doc->e, "more than one YAML document");
	}
out:
	yaml_parser_delete(&parser);
	return err;
}

/* http.routers of the file: routers_v[0] the live router (required),
 * routers_v[1] the preview router (NULL when absent); nothing else. */
static int routers_find(struct doc *doc, const char *live_name, const char *pv_name,
		yaml_node_t **routers_v)
{
	static const char *const k_top[] = {"http"};
	static const char *const k_http[] = {"routers"};
	const char *const k_routers[] = {live_name, pv_name};
	yaml_node_t *top[1], *http[1];
	int err;

	err = map_fields(doc, yaml_document_get_root_node(&doc->d), "the file", k_top, 1, top);
	if (!err && !top[0]) {
		err = edge__obs_fail(doc->e, "no http section");
	}
	if (!err) {
		err = map_fields(doc, top[0], "http", k_http, 1, http);
	}
	if (!err && !http[0]) {
		err = edge__obs_fail(doc->e, "no http.routers section");
	}
	if (!err) {
		err = map_fields(doc, http[0], "http.routers", k_routers, 2, routers_v);
	}
	if (!err && !routers_v[0]) {
		err = edge__obs_fail(doc->e, "no router '%s'", live_name);
	}
	return err;
}

static int traefik_parse(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e)
{
	struct doc doc = {.e = e};
	struct edge__header h;
	char *live_name = NULL, *pv_name = NULL, *live = NULL, *preview = NULL;
	yaml_node_t *routers_v[2];
	int err;

	err = edge__parse_begin(site, content, len, &h, e);
	if (err) {
		return err;
	}
	err = doc_load(&doc, content, len);
	if (err) {
		goto out;
	}
	live_name = bg_xasprintf("%s-live", site);
	pv_name = bg_xasprintf("%s-preview", site);
	err = routers_find(&doc, live_name, pv_name, routers_v);
	if (!err) {
		err = check_router(&doc, site, live_name, routers_v[0], &live);
	}
	if (!err && routers_v[1]) {
		err = check_router(&doc, site, pv_name, routers_v[1], &preview);
	}
	if (err) {
		goto out;
	}
	/* The header and the routers were written together: disagreement
	 * means someone edited one of them. */
	if (!live || strcmp(live, h.live) != 0 || !preview != !h.preview ||
			(preview && strcmp(preview, h.preview) != 0)) {
		err = edge__obs_fail(e, "routers disagree with the bluegreen header "
				"(edited by hand?)");
		goto out;
	}
	e->live = live;
	e->preview = preview;
	live = preview = NULL;
out:
	if (doc.loaded) {
		yaml_document_delete(&doc.d);
	}
	edge__header_release(&h);
	free(live);
	free(preview);
	free(live_name);
	free(pv_name);
	return err;
}

/* ---- install ---- */

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
	if (traefik_parse(cfg, site, content, len, e) != 0) {
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
	int rerr = prev ? bg_file_write_atomic_why(path, staging, prev, prev_len, 0644, &why)
			: (unlink(path) < 0 ? BG_ERRNO(errno) : 0);

	if (rerr) {
		bg_diag_error(d, NULL, "cannot restore '%s': %s", path,
				why ? why : bg_strerror(rerr));
	} else {
		bg_log(BG_LOG_WARN, "traefik did not take '%s'; %s", path,
				prev ? "previous file restored" : "new file removed");
	}
}

static int traefik_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d)
{
	const struct cfg_traefik *t = &cfg->g.traefik;
	struct obs_edge e;
	char *path = NULL, *staging = NULL, *prev = NULL, *back = NULL, *want = NULL;
	size_t prev_len = 0, back_len = 0;
	const char *why = NULL;
	int err;

	memset(&e, 0, sizeof(e));
	err = install_check(cfg, site, content, len, &e, d);
	if (err) {
		goto out;
	}
	want = bg_xasprintf("%s-%s@docker", site, e.live);
	path = traefik_path(cfg, site);
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
	err = bg_file_write_atomic_why(path, staging, content, len, 0644, &why);
	if (err == BG_ERRNO(EXDEV)) {
		bg_diag_error(d, NULL, "cannot rename from '%s' into '%s': different "
				"filesystems or mounts (EXDEV)", staging, t->dynamic_dir);
		goto out;
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot write '%s': %s", path, why);
		goto out;
	}
	err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &back, &back_len, NULL, &why);
	if (err || back_len != len || memcmp(back, content, len) != 0) {
		bg_diag_error(d, NULL, "'%s' does not read back as written: %s", path,
				err ? why : "content differs (another writer?)");
		err = BG_EEDGE;
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
	free(back);
	free(prev);
	free(staging);
	free(path);
	return err;
}

/* ---- labels ---- */

static void traefik_container_labels(const struct cfg *cfg, const struct cfg_site *site,
		const char *colour, struct obs_labels *labels)
{
	char *k, *v;
	char port[16];

	if (!edge__site_name_valid(site->name) || !edge__colour_valid(colour)) {
		bg_log(BG_LOG_ERROR, "no traefik labels for site '%s' colour '%s': invalid name",
				site->name ? site->name : "", colour ? colour : "");
		return;
	}
	obs_labels_set(labels, "traefik.enable", "true");
	obs_labels_set(labels, "traefik.docker.network",
			cfg->g.edge_network ? cfg->g.edge_network : "bluegreen-edge");
	snprintf(port, sizeof(port), "%u", site->port);
	k = bg_xasprintf("traefik.http.services.%s-%s.loadbalancer.server.port", site->name,
			colour);
	obs_labels_set(labels, k, port);
	free(k);
	/*
	 * A colour-pinned router on the internal entrypoint: with a router of
	 * its own, Traefik creates no default router for the container, and
	 * the colour can be reached for checks without any public hostname.
	 * Labels never change after creation, so they must never carry the
	 * live or preview hostnames.
	 */
	k = bg_xasprintf("traefik.http.routers.%s-%s.rule", site->name, colour);
	v = bg_xasprintf("Host(`%s-%s.internal`)", site->name, colour);
	obs_labels_set(labels, k, v);
	free(k);
	free(v);
	k = bg_xasprintf("traefik.http.routers.%s-%s.entrypoints", site->name, colour);
	obs_labels_set(labels, k, "internal");
	free(k);
	k = bg_xasprintf("traefik.http.routers.%s-%s.service", site->name, colour);
	v = bg_xasprintf("%s-%s", site->name, colour);
	obs_labels_set(labels, k, v);
	free(k);
	free(v);
}

/* ---- what the rest of bluegreen asks of this edge ---- */

static const char *traefik_watch_dir(const struct cfg *cfg)
{
	return cfg->g.traefik.dynamic_dir;
}

/* Traefik reaches containers on the edge network by their labels: it
 * needs no published port, no range and no addresses in the file. */
static bool traefik_publishes_ports(const struct cfg *cfg)
{
	(void)cfg;
	return false;
}

static bool traefik_port_range(const struct cfg *cfg, struct edge_port_range *r)
{
	(void)cfg;
	*r = (struct edge_port_range){0};
	return false;
}

static bool traefik_needs_upstreams(const struct cfg *cfg)
{
	(void)cfg;
	return false;
}

static void traefik_spec_add(const struct cfg *cfg, const struct cfg_site *site,
		struct json_object *spec)
{
	/* The labels follow from the site, which the spec already holds. */
	(void)cfg;
	(void)site;
	(void)spec;
}

static void x_dynamic_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.dynamic_dir;
	out->rel = cfg->g.traefik.dynamic_dir_rel;
}

static void x_staging_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.staging_dir;
	out->rel = cfg->g.traefik.staging_dir_rel;
}

static void x_api(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.api; /* a URL, never "<config>/..." */
}

static const struct edge_exec_row traefik_exec_rows[] = {
	{"edge.traefik.dynamic_dir", "traefik dynamic directory", x_dynamic_dir},
	{"edge.traefik.staging_dir", "traefik staging directory", x_staging_dir},
	{"edge.traefik.api", "traefik API", x_api},
};

const struct edge_impl edge_traefik_impl = {
	.kind = "traefik",
	.path = traefik_path,
	.render = traefik_render,
	.parse = traefik_parse,
	.install = traefik_install,
	.container_labels = traefik_container_labels,
	.watch_dir = traefik_watch_dir,
	.publishes_ports = traefik_publishes_ports,
	.port_range = traefik_port_range,
	.needs_upstreams = traefik_needs_upstreams,
	.spec_add = traefik_spec_add,
	.exec_rows = traefik_exec_rows,
	.n_exec_rows = BG_ARRAY_SIZE(traefik_exec_rows),
	.issues_certificates = false,
};
