/*
 * obs-json: the observed-state snapshot as JSON (`bluegreen observe`,
 * `plan --observed`, the daemon's snapshot). The form is canonical (keys
 * in a fixed order, lists sorted), which is what makes `plan --observed`
 * give the same token as a live plan over equal facts; reading is strict
 * about types and names the offending element.
 */
#include "bg.h"
#include "obs.h"

#include <json-c/json.h>

#define OBS_JSON_MAX (256u * 1024 * 1024)

/* ---- JSON out: keys added in a fixed order; json-c keeps insertion order. ---- */

static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *labels_json(const struct obs_labels *l)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < l->n; i++) {
		json_object_object_add(o, l->v[i].key, json_object_new_string(l->v[i].value));
	}
	return o;
}

static struct json_object *strv_json(const struct bg_strv *sv)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < sv->n; i++) {
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	}
	return a;
}

static struct json_object *container_json(const struct obs_container *c)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", jstr(c->name));
	json_object_object_add(o, "id", jstr(c->id));
	json_object_object_add(o, "image", jstr(c->image));
	json_object_object_add(o, "image_id", jstr(c->image_id));
	json_object_object_add(o, "state", json_object_new_string(obs_cstate_name(c->state)));
	json_object_object_add(o, "health", json_object_new_string(obs_health_name(c->health)));
	json_object_object_add(o, "exit_code", json_object_new_int(c->exit_code));
	struct json_object *nets = json_object_new_object();
	for (size_t i = 0; i < c->n_nets; i++) {
		json_object_object_add(nets, c->nets[i].network,
				json_object_new_string(c->nets[i].ip ? c->nets[i].ip : ""));
	}
	json_object_object_add(o, "networks", nets);
	json_object_object_add(o, "labels", labels_json(&c->labels));
	return o;
}

static struct json_object *containers_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_containers; i++) {
		json_object_array_add(a, container_json(&o->containers[i]));
	}
	return a;
}

static struct json_object *networks_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_networks; i++) {
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "name", jstr(o->networks[i].name));
		json_object_object_add(n, "id", jstr(o->networks[i].id));
		json_object_object_add(n, "labels", labels_json(&o->networks[i].labels));
		json_object_array_add(a, n);
	}
	return a;
}

static struct json_object *volumes_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_volumes; i++) {
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "name", jstr(o->volumes[i].name));
		json_object_object_add(n, "labels", labels_json(&o->volumes[i].labels));
		json_object_array_add(a, n);
	}
	return a;
}

static struct json_object *images_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_images; i++) {
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "ref", jstr(o->images[i].ref));
		json_object_object_add(n, "id", jstr(o->images[i].id));
		json_object_array_add(a, n);
	}
	return a;
}

static struct json_object *edges_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_edges; i++) {
		const struct obs_edge *e = &o->edges[i];
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "site", jstr(e->site));
		json_object_object_add(n, "path", jstr(e->path));
		json_object_object_add(n, "exists", json_object_new_boolean(e->exists));
		json_object_object_add(n, "live", jstr(e->live));
		json_object_object_add(n, "preview", jstr(e->preview));
		json_object_object_add(n, "sha256", jstr(e->content_sha));
		json_object_object_add(n, "upstreams", strv_json(&e->upstreams));
		json_object_object_add(n, "tls_ready", json_object_new_boolean(e->tls_ready));
		json_object_object_add(n, "error", jstr(e->error));
		json_object_array_add(a, n);
	}
	return a;
}

static struct json_object *certs_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_certs; i++) {
		const struct obs_cert *c = &o->certs[i];
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "site", jstr(c->site));
		json_object_object_add(n, "path", jstr(c->path));
		json_object_object_add(n, "exists", json_object_new_boolean(c->exists));
		json_object_object_add(n, "names", strv_json(&c->names));
		json_object_object_add(n, "not_after", json_object_new_int64(c->not_after));
		json_object_object_add(n, "days_left", json_object_new_int64(c->days_left));
		json_object_object_add(n, "serial", jstr(c->serial));
		json_object_object_add(n, "error", jstr(c->error));
		json_object_object_add(n, "denied", json_object_new_boolean(c->denied));
		json_object_array_add(a, n);
	}
	return a;
}

static struct json_object *conflicts_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_conflicts; i++) {
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "kind", jstr(o->conflicts[i].kind));
		json_object_object_add(n, "name", jstr(o->conflicts[i].name));
		json_object_array_add(a, n);
	}
	return a;
}

static struct json_object *hist_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < o->n_hist; i++) {
		const struct obs_hist_site *h = &o->hist[i];
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "site", jstr(h->site));
		json_object_object_add(n, "last_version", json_object_new_int((int)h->last_version));
		json_object_object_add(n, "spec_versions", strv_json(&h->spec_versions));
		json_object_object_add(n, "rejected", strv_json(&h->rejected));
		if (h->confirm_kept) { /* only when true: older snapshots stay as they are */
			json_object_object_add(n, "confirm_kept", json_object_new_boolean(1));
		}
		if (h->live_known) { /* likewise: only when the history was read for it */
			json_object_object_add(n, "went_live", strv_json(&h->went_live));
		}
		json_object_array_add(a, n);
	}
	return a;
}

int obs_to_json(const struct obs *o, struct bg_buf *out)
{
	struct json_object *root = json_object_new_object();

	json_object_object_add(root, "bluegreen_observe", json_object_new_int(OBS_SNAPSHOT_FORMAT));
	struct json_object *engine = json_object_new_object();
	json_object_object_add(engine, "version", jstr(o->engine_version));
	json_object_object_add(engine, "api_version", jstr(o->api_version));
	json_object_object_add(root, "engine", engine);
	json_object_object_add(root, "edge_kind", jstr(o->edge_kind));
	json_object_object_add(root, "containers", containers_json(o));
	json_object_object_add(root, "networks", networks_json(o));
	json_object_object_add(root, "unmanaged_networks", strv_json(&o->unmanaged_networks));
	if (o->module_facts.n) {
		json_object_object_add(root, "module_facts", strv_json(&o->module_facts));
	}
	json_object_object_add(root, "volumes", volumes_json(o));
	json_object_object_add(root, "images", images_json(o));
	json_object_object_add(root, "edges", edges_json(o));
	if (o->n_certs) { /* absent without tls auto sites: snapshots as before */
		json_object_object_add(root, "certificates", certs_json(o));
	}
	json_object_object_add(root, "conflicts", conflicts_json(o));
	json_object_object_add(root, "history", hist_json(o));
	json_object_object_add(root, "history_tokens_used",
			json_object_new_int64((int64_t)o->hist_tokens_used));

	const char *s = json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE);
	int err = bg_buf_adds(out, s);
	if (!err) {
		err = bg_buf_addch(out, '\n');
	}
	json_object_put(root);
	return err;
}

/* ---- JSON in: strict about types, lenient about nothing. ---- */

struct jctx {
	struct bg_diag *d;
	int err;
};

static void jfail(struct jctx *c, const char *where, const char *what)
{
	if (!c->err) {
		bg_diag_error(c->d, NULL, "snapshot: %s: %s", where, what);
	}
	c->err = BG_EPARSE;
}

static struct json_object *jget(struct jctx *c, struct json_object *o, const char *key,
		enum json_type type, bool required, const char *where)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required) {
			char *m = bg_xasprintf("missing '%s'", key);
			jfail(c, where, m);
			free(m);
		}
		return NULL;
	}
	if (!json_object_is_type(v, type)) {
		char *m = bg_xasprintf("'%s' has the wrong type", key);
		jfail(c, where, m);
		free(m);
		return NULL;
	}
	return v;
}

static char *jdup(struct jctx *c, struct json_object *o, const char *key, bool required,
		const char *where)
{
	struct json_object *v = jget(c, o, key, json_type_string, required, where);
	return v ? bg_xstrdup(json_object_get_string(v)) : NULL;
}

static void jlabels(struct jctx *c, struct json_object *o, struct obs_labels *l,
		const char *where)
{
	struct json_object *lo = jget(c, o, "labels", json_type_object, false, where);
	if (!lo) {
		return;
	}
	json_object_object_foreach(lo, k, v) {
		if (!json_object_is_type(v, json_type_string)) {
			jfail(c, where, "label values must be strings");
			return;
		}
		obs_labels_set(l, k, json_object_get_string(v));
	}
}

static void jstrv(struct jctx *c, struct json_object *o, const char *key,
		struct bg_strv *sv, const char *where)
{
	struct json_object *a = jget(c, o, key, json_type_array, false, where);
	if (!a) {
		return;
	}
	size_t n = json_object_array_length(a);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string)) {
			char *m = bg_xasprintf("'%s' must hold strings", key);
			jfail(c, where, m);
			free(m);
			return;
		}
		bg_strv_push(sv, json_object_get_string(v));
	}
}

static struct json_object *jarray(struct jctx *c, struct json_object *root, const char *key)
{
	return jget(c, root, key, json_type_array, false, key);
}

static void load_containers(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "containers");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "containers", "entries must be objects");
			return;
		}
		struct obs_container *ct = obs_container_add(o);
		ct->name = jdup(c, j, "name", true, "containers");
		ct->id = jdup(c, j, "id", true, "containers");
		ct->image = jdup(c, j, "image", false, "containers");
		ct->image_id = jdup(c, j, "image_id", false, "containers");
		struct json_object *v = jget(c, j, "state", json_type_string, false, "containers");
		ct->state = obs_cstate_parse(v ? json_object_get_string(v) : NULL);
		v = jget(c, j, "health", json_type_string, false, "containers");
		ct->health = obs_health_parse(v ? json_object_get_string(v) : NULL);
		v = jget(c, j, "exit_code", json_type_int, false, "containers");
		ct->exit_code = v ? json_object_get_int(v) : 0;
		struct json_object *nets = jget(c, j, "networks", json_type_object, false, "containers");
		if (nets) {
			json_object_object_foreach(nets, k, ip) {
				if (!json_object_is_type(ip, json_type_string)) {
					jfail(c, "containers", "network addresses must be strings");
					break;
				}
				ct->nets = bg_xreallocarray(ct->nets, ct->n_nets + 1, sizeof(ct->nets[0]));
				ct->nets[ct->n_nets].network = bg_xstrdup(k);
				ct->nets[ct->n_nets].ip = bg_xstrdup(json_object_get_string(ip));
				ct->n_nets++;
			}
		}
		jlabels(c, j, &ct->labels, "containers");
		if (!ct->name) {
			ct->name = bg_xstrdup("");
		}
	}
}

static void load_networks(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "networks");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "networks", "entries must be objects");
			return;
		}
		struct obs_network *nw = obs_network_add(o);
		nw->name = jdup(c, j, "name", true, "networks");
		nw->id = jdup(c, j, "id", false, "networks");
		jlabels(c, j, &nw->labels, "networks");
		if (!nw->name) {
			nw->name = bg_xstrdup("");
		}
	}
	jstrv(c, root, "unmanaged_networks", &o->unmanaged_networks, "unmanaged_networks");
	/* Optional (issue 16): a snapshot without it plans as if no module saw anything. */
	jstrv(c, root, "module_facts", &o->module_facts, "module_facts");
	bg_strv_sort(&o->module_facts);
}

static void load_volumes(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "volumes");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "volumes", "entries must be objects");
			return;
		}
		struct obs_volume *v = obs_volume_add(o);
		v->name = jdup(c, j, "name", true, "volumes");
		jlabels(c, j, &v->labels, "volumes");
		if (!v->name) {
			v->name = bg_xstrdup("");
		}
	}
}

static void load_images(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "images");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "images", "entries must be objects");
			return;
		}
		struct obs_image *im = obs_image_add(o);
		im->ref = jdup(c, j, "ref", true, "images");
		im->id = jdup(c, j, "id", false, "images");
		if (!im->ref) {
			im->ref = bg_xstrdup("");
		}
	}
}

static void load_edges(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "edges");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "edges", "entries must be objects");
			return;
		}
		struct obs_edge *e = obs_edge_add(o);
		e->site = jdup(c, j, "site", true, "edges");
		e->path = jdup(c, j, "path", false, "edges");
		struct json_object *v = jget(c, j, "exists", json_type_boolean, false, "edges");
		e->exists = v ? json_object_get_boolean(v) : false;
		e->live = jdup(c, j, "live", false, "edges");
		e->preview = jdup(c, j, "preview", false, "edges");
		e->content_sha = jdup(c, j, "sha256", false, "edges");
		e->error = jdup(c, j, "error", false, "edges");
		jstrv(c, j, "upstreams", &e->upstreams, "edges");
		v = jget(c, j, "tls_ready", json_type_boolean, false, "edges");
		e->tls_ready = v && json_object_get_boolean(v);
		if (!e->site) {
			e->site = bg_xstrdup("");
		}
	}
}

static int64_t jint(struct jctx *c, struct json_object *o, const char *key, const char *where)
{
	struct json_object *v = jget(c, o, key, json_type_int, false, where);
	return v ? json_object_get_int64(v) : 0;
}

static void load_certs(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "certificates");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "certificates", "entries must be objects");
			return;
		}
		struct obs_cert *ce = obs_cert_add(o);
		ce->site = jdup(c, j, "site", true, "certificates");
		ce->path = jdup(c, j, "path", false, "certificates");
		struct json_object *v = jget(c, j, "exists", json_type_boolean, false,
				"certificates");
		ce->exists = v && json_object_get_boolean(v);
		jstrv(c, j, "names", &ce->names, "certificates");
		ce->not_after = jint(c, j, "not_after", "certificates");
		ce->days_left = jint(c, j, "days_left", "certificates");
		ce->serial = jdup(c, j, "serial", false, "certificates");
		ce->error = jdup(c, j, "error", false, "certificates");
		v = jget(c, j, "denied", json_type_boolean, false, "certificates");
		ce->denied = v && json_object_get_boolean(v);
		if (!ce->site) {
			ce->site = bg_xstrdup("");
		}
	}
}

static void load_conflicts(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "conflicts");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "conflicts", "entries must be objects");
			return;
		}
		char *kind = jdup(c, j, "kind", true, "conflicts");
		char *name = jdup(c, j, "name", true, "conflicts");
		if (kind && name) {
			obs_conflict_add(o, kind, name);
		}
		free(kind);
		free(name);
	}
}

static void load_hist(struct jctx *c, struct obs *o, struct json_object *root)
{
	struct json_object *a = jarray(c, root, "history");
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		if (!json_object_is_type(j, json_type_object)) {
			jfail(c, "history", "entries must be objects");
			return;
		}
		struct obs_hist_site *h = obs_hist_add(o);
		h->site = jdup(c, j, "site", true, "history");
		struct json_object *v = jget(c, j, "last_version", json_type_int, false, "history");
		int64_t lv = v ? json_object_get_int64(v) : 0;
		if (lv < 0 || lv > 1000000000) {
			jfail(c, "history", "last_version out of range");
			lv = 0;
		}
		h->last_version = (unsigned)lv;
		jstrv(c, j, "spec_versions", &h->spec_versions, "history");
		jstrv(c, j, "rejected", &h->rejected, "history");
		struct json_object *ck = jget(c, j, "confirm_kept", json_type_boolean, false,
				"history");
		h->confirm_kept = ck && json_object_get_boolean(ck);
		h->live_known = json_object_object_get_ex(j, "went_live", NULL);
		jstrv(c, j, "went_live", &h->went_live, "history");
		if (!h->site) {
			h->site = bg_xstrdup("");
		}
	}
}

int obs_from_json(struct obs *o, const char *json, size_t len, struct bg_diag *d)
{
	struct jctx c = {.d = d};
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;

	if (len > OBS_JSON_MAX) {
		bg_diag_error(d, NULL, "snapshot: larger than %u bytes", OBS_JSON_MAX);
		return BG_ETOO_BIG;
	}
	tok = json_tokener_new_ex(64);
	if (!tok) {
		BG_BUG("json_tokener_new_ex");
	}
	root = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	if (!root || jerr != json_tokener_success) {
		bg_diag_error(d, NULL, "snapshot: not valid JSON: %s",
				json_tokener_error_desc(jerr == json_tokener_success
								? json_tokener_error_parse_eof
								: jerr));
		c.err = BG_EPARSE;
		goto out;
	}
	if (json_tokener_get_parse_end(tok) < len) {
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
			if (!strchr(" \t\r\n", json[i])) {
				jfail(&c, "document", "trailing data after the JSON object");
				goto out;
			}
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		jfail(&c, "document", "expected a JSON object");
		goto out;
	}
	struct json_object *fmt = jget(&c, root, "bluegreen_observe", json_type_int, true, "document");
	if (c.err) {
		goto out;
	}
	if (json_object_get_int(fmt) != OBS_SNAPSHOT_FORMAT) {
		char *m = bg_xasprintf("format %d is not supported (this bluegreen reads %d)",
				json_object_get_int(fmt), OBS_SNAPSHOT_FORMAT);
		jfail(&c, "document", m);
		free(m);
		goto out;
	}
	struct json_object *engine = jget(&c, root, "engine", json_type_object, false, "document");
	if (engine) {
		o->engine_version = jdup(&c, engine, "version", false, "engine");
		o->api_version = jdup(&c, engine, "api_version", false, "engine");
	}
	o->edge_kind = jdup(&c, root, "edge_kind", false, "document");
	load_containers(&c, o, root);
	load_networks(&c, o, root);
	load_volumes(&c, o, root);
	load_images(&c, o, root);
	load_edges(&c, o, root);
	load_certs(&c, o, root);
	load_conflicts(&c, o, root);
	load_hist(&c, o, root);
	struct json_object *tu = jget(&c, root, "history_tokens_used", json_type_int, false, "document");
	if (tu) {
		int64_t v = json_object_get_int64(tu);
		if (v < 0) {
			jfail(&c, "document", "history_tokens_used out of range");
		} else {
			o->hist_tokens_used = (uint64_t)v;
		}
	}
	obs_finish(o);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return c.err;
}
