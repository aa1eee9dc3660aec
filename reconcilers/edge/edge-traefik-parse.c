/*
 * edge-traefik-parse: reading a Traefik edge file back
 * (edge_traefik_impl.parse). The live colour is what the file says, so the
 * file is read strictly: the header and trailer, one YAML document, and
 * only the sections, routers, middlewares and keys render writes (plus the
 * router keys an operator may expect, middlewares and priority); anything
 * else is an error and the planner blocks the site (docs/edge.md, ADR
 * 0001). The HTTP routers must serve what their HTTPS twins serve.
 */
#include "bg.h"
#include "edge-int.h"
#include "edge-traefik-int.h"

#include "bg-util.h"

#include <yaml.h>

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

/* The router roles of a site's file, by name suffix: SITE-live etc. */
enum { R_LIVE, R_PREVIEW, R_LIVE_HTTP, R_PREVIEW_HTTP, N_ROUTERS };
static const char *const router_roles[N_ROUTERS] = {"live", "preview", "live-http",
		"preview-http"};

/* The middlewares a site's file may define, SITE-SUFFIX, each of one type
 * with the keys render writes (the first one required); lists: the keys
 * (by bit) whose value is a non-empty list of scalars. */
static const struct mw_kind {
	const char *suffix, *type;
	const char *keys[3];
	unsigned lists;
} mw_kinds[] = {
	{"https", "redirectScheme", {"scheme", "permanent", "port"}, 0},
	{"hsts", "headers", {"stsSeconds"}, 0},
	{"canonical", "redirectRegex", {"regex", "replacement", "permanent"}, 0},
	{"preview-auth", "basicAuth", {"users", "removeHeader", "realm"}, 1},
	{"preview-allow", "ipAllowList", {"sourceRange"}, 1},
};

static int check_middleware(struct doc *doc, const char *name, const struct mw_kind *k,
		const yaml_node_t *n)
{
	yaml_node_t *type[1], *v[3];
	size_t nkeys = 0;
	int err;

	err = map_fields(doc, n, name, &k->type, 1, type);
	if (!err && !type[0]) {
		err = edge__obs_fail(doc->e, "middleware '%s' is not a %s", name, k->type);
	}
	while (nkeys < BG_ARRAY_SIZE(k->keys) && k->keys[nkeys]) {
		nkeys++;
	}
	if (!err) {
		err = map_fields(doc, type[0], name, k->keys, nkeys, v);
	}
	if (!err && !v[0]) {
		err = edge__obs_fail(doc->e, "middleware '%s' has no %s", name, k->keys[0]);
	}
	for (size_t i = 0; !err && i < nkeys; i++) {
		bool list = k->lists & (1u << i);
		if (v[i] && (list ? !seq_of_scalars(doc, v[i]) ||
					v[i]->data.sequence.items.top == v[i]->data.sequence.items.start
				  : !scalar_ok(v[i]))) {
			err = edge__obs_fail(doc->e, "middleware '%s': %s is not %s", name,
					k->keys[i], list ? "a list of values" : "a value");
		}
	}
	return err;
}

/* http.middlewares: only the site's own, each as render writes it. */
static int check_middlewares(struct doc *doc, const char *site, const yaml_node_t *n)
{
	char *names[BG_ARRAY_SIZE(mw_kinds)];
	yaml_node_t *v[BG_ARRAY_SIZE(mw_kinds)];
	int err;

	for (size_t i = 0; i < BG_ARRAY_SIZE(mw_kinds); i++) {
		names[i] = bg_xasprintf("%s-%s", site, mw_kinds[i].suffix);
	}
	err = map_fields(doc, n, "http.middlewares", (const char *const *)names,
			BG_ARRAY_SIZE(mw_kinds), v);
	if (!err && n->data.mapping.pairs.top == n->data.mapping.pairs.start) {
		err = edge__obs_fail(doc->e, "http.middlewares is empty");
	}
	for (size_t i = 0; !err && i < BG_ARRAY_SIZE(mw_kinds); i++) {
		if (v[i]) {
			err = check_middleware(doc, names[i], &mw_kinds[i], v[i]);
		}
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(mw_kinds); i++) {
		free(names[i]);
	}
	return err;
}

/* tls: {certificates: [{certFile, keyFile}...]}: the site's own files. */
static int check_certificates(struct doc *doc, const yaml_node_t *n)
{
	static const char *const k_tls[] = {"certificates"};
	static const char *const k_cert[] = {"certFile", "keyFile"};
	yaml_node_t *certs[1], *v[2];
	int err = map_fields(doc, n, "tls", k_tls, 1, certs);

	if (!err && (!certs[0] || certs[0]->type != YAML_SEQUENCE_NODE ||
			certs[0]->data.sequence.items.top == certs[0]->data.sequence.items.start)) {
		err = edge__obs_fail(doc->e, "tls.certificates is not a list of certificates");
	}
	for (yaml_node_item_t *it = err ? NULL : certs[0]->data.sequence.items.start;
			it && it < certs[0]->data.sequence.items.top; it++) {
		err = map_fields(doc, node_at(doc, *it), "tls.certificates", k_cert, 2, v);
		if (!err && (!scalar_ok(v[0]) || !scalar_ok(v[1]))) {
			err = edge__obs_fail(doc->e, "a certificate needs certFile and keyFile");
		}
		if (err) {
			break;
		}
	}
	return err;
}

/* The file's sections: http.routers (the site's routers by role, in
 * routers_v; the live one required), http.middlewares and tls (checked
 * here); nothing else. */
static int file_find(struct doc *doc, const char *site, char *const *names,
		yaml_node_t **routers_v)
{
	static const char *const k_top[] = {"http", "tls"};
	static const char *const k_http[] = {"routers", "middlewares"};
	yaml_node_t *top[2], *http[2];
	int err;

	err = map_fields(doc, yaml_document_get_root_node(&doc->d), "the file", k_top, 2, top);
	if (!err && !top[0]) {
		err = edge__obs_fail(doc->e, "no http section");
	}
	if (!err) {
		err = map_fields(doc, top[0], "http", k_http, 2, http);
	}
	if (!err && !http[0]) {
		err = edge__obs_fail(doc->e, "no http.routers section");
	}
	if (!err) {
		err = map_fields(doc, http[0], "http.routers", (const char *const *)names,
				N_ROUTERS, routers_v);
	}
	if (!err && !routers_v[R_LIVE]) {
		err = edge__obs_fail(doc->e, "no router '%s'", names[R_LIVE]);
	}
	if (!err && routers_v[R_PREVIEW_HTTP] && !routers_v[R_PREVIEW]) {
		err = edge__obs_fail(doc->e, "router '%s' without '%s'", names[R_PREVIEW_HTTP],
				names[R_PREVIEW]);
	}
	if (!err && http[1]) {
		err = check_middlewares(doc, site, http[1]);
	}
	if (!err && top[1]) {
		err = check_certificates(doc, top[1]);
	}
	return err;
}

/* Each router's colour (NULL when the router is absent); the HTTP routers
 * serve what their HTTPS twins serve, or the file was edited. */
static int check_routers(struct doc *doc, const char *site, char *const *names,
		yaml_node_t *const *routers_v, char **colours)
{
	int err = 0;

	for (size_t i = 0; !err && i < N_ROUTERS; i++) {
		if (routers_v[i]) {
			err = check_router(doc, site, names[i], routers_v[i], &colours[i]);
		}
	}
	if (!err && ((colours[R_LIVE_HTTP] && strcmp(colours[R_LIVE_HTTP], colours[R_LIVE])) ||
			(colours[R_PREVIEW_HTTP] &&
			 strcmp(colours[R_PREVIEW_HTTP], colours[R_PREVIEW])))) {
		err = edge__obs_fail(doc->e, "an HTTP router serves another colour than its "
				"HTTPS router (edited by hand?)");
	}
	return err;
}

int edge__traefik_parse(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e)
{
	struct doc doc = {.e = e};
	struct edge__header h;
	char *names[N_ROUTERS] = {0}, *colours[N_ROUTERS] = {0};
	yaml_node_t *routers_v[N_ROUTERS];
	int err;

	err = edge__parse_begin(site, content, len, &h, e);
	if (err) {
		return err;
	}
	err = doc_load(&doc, content, len);
	if (err) {
		goto out;
	}
	for (size_t i = 0; i < N_ROUTERS; i++) {
		names[i] = bg_xasprintf("%s-%s", site, router_roles[i]);
	}
	err = file_find(&doc, site, names, routers_v);
	if (!err) {
		err = check_routers(&doc, site, names, routers_v, colours);
	}
	if (err) {
		goto out;
	}
	/* The header and the routers were written together: disagreement
	 * means someone edited one of them. */
	const char *live = colours[R_LIVE], *preview = colours[R_PREVIEW];
	if (!live || strcmp(live, h.live) != 0 || !preview != !h.preview ||
			(preview && strcmp(preview, h.preview) != 0)) {
		err = edge__obs_fail(e, "routers disagree with the bluegreen header "
				"(edited by hand?)");
		goto out;
	}
	e->live = colours[R_LIVE];
	e->preview = colours[R_PREVIEW];
	colours[R_LIVE] = colours[R_PREVIEW] = NULL;
out:
	if (doc.loaded) {
		yaml_document_delete(&doc.d);
	}
	edge__header_release(&h);
	for (size_t i = 0; i < N_ROUTERS; i++) {
		free(names[i]);
		free(colours[i]);
	}
	return err;
}
