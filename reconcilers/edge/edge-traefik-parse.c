/*
 * edge-traefik-parse: reading a Traefik edge file back
 * (edge_traefik_impl.parse). The live colour is what the file says, so the
 * file is read strictly: the header and trailer, one YAML document, and
 * only the sections, routers and keys render writes (plus the router keys
 * an operator may expect, middlewares and priority); anything else is an
 * error and the planner blocks the site (docs/edge.md, ADR 0001).
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

int edge__traefik_parse(const struct cfg *cfg, const char *site, const char *content,
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
