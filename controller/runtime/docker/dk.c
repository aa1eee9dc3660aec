/*
 * dk: the Docker Engine API client (dk.h): the client itself (create,
 * version negotiation) and observation (inspect, lists, images, names).
 * The transport is dk-http.c, the parsers dk-parse.c, the actions dk-act.c.
 * Scope is enforced twice: the engine filters lists on
 * io.bluegreen.managed=true, and every parsed object is checked again,
 * because a filter typo must never let an operator's own container into a
 * plan.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "bg-log.h"
#include "bg-util.h"

#include <ctype.h>

/* {"label":["io.bluegreen.managed=true"]}, URL-encoded. */
#define FILTER_MANAGED                                                        \
	"%7B%22label%22%3A%5B%22io.bluegreen.managed%3Dtrue%22%5D%7D"

/* ---- the blocking client ---- */

int dk_client_create(struct dk_client **out, const char *socket_path)
{
	struct dk_client *dk = bg_xcalloc(1, sizeof(*dk));

	dk->easy = curl_easy_init();
	if (!dk->easy) {
		free(dk);
		return BG_ERRNO(ENOMEM);
	}
	dk->socket = bg_xstrdup(socket_path && *socket_path ? socket_path
							    : DK_DEFAULT_SOCKET);
	dk->timeout_ms = DK_DEFAULT_TIMEOUT_MS;
	*out = dk;
	return 0;
}

void dk_client_destroy(struct dk_client *dk)
{
	if (!dk) {
		return;
	}
	if (dk->easy) {
		curl_easy_cleanup(dk->easy);
	}
	free(dk->socket);
	free(dk->engine_version);
	free(dk->api_version);
	free(dk);
}

const char *dk_client_socket(const struct dk_client *dk)
{
	return dk->socket;
}

void dk_client_set_timeout(struct dk_client *dk, uint64_t ms)
{
	dk->timeout_ms = ms ? ms : DK_DEFAULT_TIMEOUT_MS;
}

const char *dk_client_engine_version(const struct dk_client *dk)
{
	return dk->engine_version;
}

const char *dk_client_api_version(const struct dk_client *dk)
{
	return dk->api_version;
}

/*
 * What /_ping says in its headers (Api-Version, and the engine's version
 * in "Server: Docker/20.10.24+dfsg1 (linux)") as the /version document
 * dk_parse_version checks, or NULL when a header is missing. /_ping costs
 * the engine under a millisecond where /version takes about 20 (it asks
 * containerd and the runtimes for theirs), on every command's path.
 */
static struct json_object *ping_version(struct dk_client *dk)
{
	struct curl_header *h = NULL;
	/* A header's struct lives until the next curl_easy_header call: copy. */
	if (curl_easy_header(dk->easy, "Api-Version", 0, CURLH_HEADER, -1, &h) != CURLHE_OK) {
		return NULL;
	}
	struct json_object *api = json_object_new_string(h->value);
	if (curl_easy_header(dk->easy, "Server", 0, CURLH_HEADER, -1, &h) != CURLHE_OK ||
			strncmp(h->value, "Docker/", 7) != 0) {
		json_object_put(api);
		return NULL;
	}
	const char *ver = h->value + 7;
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "Version", json_object_new_string_len(ver,
			(int)strcspn(ver, " ")));
	json_object_object_add(j, "ApiVersion", api);
	return j;
}

int dk_client_negotiate(struct dk_client *dk, struct bg_diag *d)
{
	struct json_object *j = NULL;
	char *engine = NULL, *api = NULL;
	int err;

	err = dk__perform(dk, NULL, "GET", "/_ping", NULL, dk->timeout_ms, NULL, NULL, NULL, d);
	if (!err) {
		j = ping_version(dk);
	}
	if (!err && !j) { /* a proxy in between, or an engine without the headers */
		err = dk__perform(dk, NULL, "GET", "/version", NULL, dk->timeout_ms, NULL,
				NULL, &j, d);
	}
	if (err) {
		goto out;
	}
	err = dk_parse_version(j, &engine, &api, d);
	if (err) {
		goto out;
	}
	free(dk->engine_version);
	free(dk->api_version);
	dk->engine_version = engine;
	dk->api_version = api;
	bg_trace(DK, "engine %s at %s, speaking API %s", engine, dk->socket, api);
out:
	json_object_put(j);
	return err;
}

/* ---- observation ---- */

int dk__inspect_json(struct dk_client *dk, const char *id_or_name,
		struct json_object **out, struct bg_diag *d)
{
	char *esc = dk__url_escape(id_or_name);
	char *path = bg_xasprintf("/containers/%s/json", esc);
	int err = dk__get_json(dk, path, json_type_object, out, d);
	free(path);
	free(esc);
	return err;
}

bool dk__inspect_managed(struct json_object *j)
{
	struct json_object *labels = NULL;
	json_object_object_get_ex(dk__jget(j, "Config", json_type_object), "Labels",
			&labels);
	return dk_labels_managed(labels);
}

int dk__inspect_ours(struct dk_client *dk, const char *id_or_name,
		struct json_object **out, struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = dk__inspect_json(dk, id_or_name, &j, d);

	if (!err && !dk__inspect_managed(j)) {
		dk__error(d, "container '%s' is not managed by bluegreen (no label "
				BG_LABEL_MANAGED "=true)", id_or_name);
		err = BG_ENOT_FOUND;
	}
	if (err || !out) {
		json_object_put(j);
		j = NULL;
	}
	if (out) {
		*out = j;
	}
	return err;
}

int dk__guard_managed(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = dk__inspect_json(dk, id, &j, d);

	if (!err && !dk__inspect_managed(j)) {
		dk__error(d, "container '%s' is not managed by bluegreen (no label "
				BG_LABEL_MANAGED "=true); not touching it", id);
		err = BG_ECONFLICT;
	}
	json_object_put(j);
	return err;
}

int dk_container_inspect(struct dk_client *dk, const char *id_or_name,
		struct obs_container *c, struct bg_diag *d)
{
	struct json_object *j = NULL;
	/* Checked before parsing: an unmanaged container's details are
	 * never copied anywhere (SPEC §4). */
	int err = dk__inspect_ours(dk, id_or_name, &j, d);

	if (!err) {
		err = dk_parse_container_inspect(j, c, d);
	}
	json_object_put(j);
	return err;
}

/* One inspect's answer (j, err, its message in dd) into o; a vanished one is skipped. */
static int inspect_take(const char *path, struct json_object *j, int err, struct bg_diag *dd,
		struct obs *o, struct bg_diag *d)
{
	struct obs_container c;
	memset(&c, 0, sizeof(c));
	if (!err && !json_object_is_type(j, json_type_object)) {
		dk__error(dd, "the Docker engine's answer to GET %s is not the JSON object "
				"expected", path);
		err = BG_EPARSE;
	}
	/* Checked before parsing: an unmanaged container's details are never
	 * copied anywhere (SPEC §4); one relabelled since the list is not ours. */
	if (!err && !dk__inspect_managed(j)) {
		err = BG_ENOT_FOUND;
	}
	if (err == BG_ENOT_FOUND) {
		/* Removed since the list (or relabelled): not there. */
		bg_trace(DK, "%s vanished during observation", path);
		return 0;
	}
	err = err ? err : dk_parse_container_inspect(j, &c, dd);
	if (d) {
		bg_diag_merge(d, dd);
	}
	if (!err) {
		*obs_container_add(o) = c;
	}
	return err;
}

static int inspect_all(struct dk_client *dk, char *const *paths, size_t n, struct obs *o,
		struct bg_diag *d)
{
	struct json_object **js = bg_xcalloc(n ? n : 1, sizeof(*js));
	int *errs = bg_xcalloc(n ? n : 1, sizeof(*errs));
	struct bg_diag *ds = bg_xcalloc(n ? n : 1, sizeof(*ds));
	for (size_t i = 0; i < n; i++) {
		bg_diag_init(&ds[i]);
	}
	int err = dk__get_many(dk, paths, n, js, errs, ds, d);
	for (size_t i = 0; i < n; i++) {
		if (!err) {
			err = inspect_take(paths[i], js[i], errs[i], &ds[i], o, d);
		}
		json_object_put(js[i]);
		bg_diag_release(&ds[i]);
	}
	free(ds);
	free(errs);
	free(js);
	return err;
}

int dk_containers_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	struct json_object *list = NULL;
	int err = dk__get_json(dk, "/containers/json?all=1&filters=" FILTER_MANAGED,
			json_type_array, &list, d);
	if (err) {
		return err;
	}
	size_t n = json_object_array_length(list), k = 0;
	char **paths = bg_xcalloc(n ? n : 1, sizeof(*paths));
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *labels = NULL;
		const char *id = dk__jstr(e, "Id");
		if (!id) {
			dk__error(d, "container list: entry %zu has no Id", i);
			err = BG_EPARSE;
			goto out;
		}
		json_object_object_get_ex(e, "Labels", &labels);
		if (dk_labels_managed(labels)) {
			char *esc = dk__url_escape(id);
			paths[k++] = bg_xasprintf("/containers/%s/json", esc);
			free(esc);
		}
	}
	/* The inspects at once: one round trip for all, not one each (issue 11). */
	err = inspect_all(dk, paths, k, o, d);
out:
	for (size_t i = 0; i < k; i++) {
		free(paths[i]);
	}
	free(paths);
	json_object_put(list);
	return err;
}

/* GET a managed-only list (an answer of JSON type t) and parse it into o. */
static int observe_list(struct dk_client *dk, const char *path, enum json_type t,
		int (*parse)(struct json_object *, struct obs *, struct bg_diag *),
		struct obs *o, struct bg_diag *d)
{
	struct json_object *list = NULL;
	int err = dk__get_json(dk, path, t, &list, d);
	if (!err) {
		err = parse(list, o, d);
	}
	json_object_put(list);
	return err;
}

int dk_networks_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	return observe_list(dk, "/networks?filters=" FILTER_MANAGED, json_type_array,
			dk_parse_networks, o, d);
}

int dk_volumes_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	return observe_list(dk, "/volumes?filters=" FILTER_MANAGED, json_type_object,
			dk_parse_volumes, o, d);
}

int dk_engine_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d)
{
	int err = dk_client_negotiate(dk, d);
	if (err) {
		return err;
	}
	free(o->engine_version);
	free(o->api_version);
	o->engine_version = bg_xstrdup(dk->engine_version);
	o->api_version = bg_xstrdup(dk->api_version);
	return 0;
}

int dk_image_id(struct dk_client *dk, const char *ref, char **id, struct bg_diag *d)
{
	struct json_object *j = NULL;
	struct bg_diag tmp;
	char *esc = dk__url_escape_path(ref);
	char *path = bg_xasprintf("/images/%s/json", esc);
	int err;

	*id = NULL;
	bg_diag_init(&tmp);
	err = dk__get_json(dk, path, json_type_object, &j, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0; /* absent is an answer, not a failure */
		goto out;
	}
	if (err) {
		goto out;
	}
	const char *s = dk__jstr(j, "Id");
	if (!s) {
		dk__error(&tmp, "image '%s': the engine's answer has no Id", ref);
		err = BG_EPARSE;
		goto out;
	}
	*id = bg_xstrdup(s);
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	json_object_put(j);
	free(path);
	free(esc);
	return err;
}

/* Docker's own name rules; anything else cannot be a filter value safely
 * (the engine treats it as a regular expression). */
static bool plain_name(const char *s)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-') {
			return false;
		}
	}
	return true;
}

/* The unfiltered list of kind ("container", "network", "volume"). */
static const char *kind_path(const char *kind, const char *who)
{
	if (strcmp(kind, "container") == 0) {
		return "/containers/json?all=1";
	} else if (strcmp(kind, "network") == 0) {
		return "/networks";
	} else if (strcmp(kind, "volume") == 0) {
		return "/volumes";
	}
	BG_BUG("%s: unknown kind '%s'", who, kind);
}

int dk_name_taken(struct dk_client *dk, const char *kind, const char *name,
		bool *exists, bool *managed, struct bg_diag *d)
{
	struct json_object *j = NULL, *list;
	char *path, *filter = NULL;
	bool is_container = strcmp(kind, "container") == 0;
	int err;

	*exists = *managed = false;
	if (plain_name(name)) {
		/* {"name":["NAME"]}: a substring/regex match ('.' matches
		 * anything), so it only narrows the list; compare below. */
		char *json = bg_xasprintf("{\"name\":[\"%s\"]}", name);
		filter = dk__url_escape(json);
		free(json);
	}
	/* The container list already has a query (all=1). */
	path = bg_xasprintf("%s%s%s", kind_path(kind, "dk_name_taken"),
			!filter ? "" : is_container ? "&filters=" : "?filters=",
			filter ? filter : "");
	free(filter);
	err = dk__call(dk, "GET", path, NULL, dk->timeout_ms, NULL, &j, d);
	free(path);
	if (err) {
		goto out;
	}
	err = dk_parse_kind_list(j, kind, &list, d);
	if (err) {
		err = err < 0 ? err : 0;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(list) && !*exists; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *labels = NULL;
		bool match = false;
		if (is_container) {
			struct json_object *names = dk__jget(e, "Names", json_type_array);
			for (size_t k = 0; names && k < json_object_array_length(names); k++) {
				struct json_object *nv = json_object_array_get_idx(names, k);
				const char *s = json_object_is_type(nv, json_type_string)
						? json_object_get_string(nv) : NULL;
				if (s && s[0] == '/' && strcmp(s + 1, name) == 0) {
					match = true;
				}
			}
		} else {
			const char *s = dk__jstr(e, "Name");
			match = s && strcmp(s, name) == 0;
		}
		if (match) {
			json_object_object_get_ex(e, "Labels", &labels);
			*exists = true;
			*managed = dk_labels_managed(labels);
		}
	}
out:
	json_object_put(j);
	return err;
}

int dk_names_unmanaged(struct dk_client *dk, const char *kind, struct bg_strv *out,
		struct bg_diag *d)
{
	struct json_object *j = NULL, *list;
	bool is_container = strcmp(kind, "container") == 0;
	const char *path = kind_path(kind, "dk_names_unmanaged");
	int err;

	err = dk__call(dk, "GET", path, NULL, dk->timeout_ms, NULL, &j, d);
	if (err) {
		goto out;
	}
	err = dk_parse_kind_list(j, kind, &list, d);
	if (err) {
		err = err < 0 ? err : 0;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		struct json_object *labels = NULL;
		json_object_object_get_ex(e, "Labels", &labels);
		if (dk_labels_managed(labels)) {
			continue;
		}
		if (!is_container) {
			const char *n = dk__jstr(e, "Name");
			if (n) {
				bg_strv_push(out, n);
			}
			continue;
		}
		struct json_object *names = dk__jget(e, "Names", json_type_array);
		for (size_t k = 0; names && k < json_object_array_length(names); k++) {
			struct json_object *nv = json_object_array_get_idx(names, k);
			const char *n = json_object_is_type(nv, json_type_string)
					? json_object_get_string(nv) : NULL;
			if (n && n[0] == '/') {
				bg_strv_push(out, n + 1);
			}
		}
	}
	bg_strv_sort(out);
out:
	json_object_put(j);
	return err;
}

int dk_image_tags(struct dk_client *dk, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = dk__call(dk, "GET", "/images/json", NULL, dk->timeout_ms, NULL, &j, d);
	if (err) {
		return err;
	}
	if (!j || !json_object_is_type(j, json_type_array)) {
		dk__error(d, "the Docker engine's image list is not a JSON array");
		json_object_put(j);
		return BG_EPARSE;
	}
	for (size_t i = 0; i < json_object_array_length(j); i++) {
		struct json_object *e = json_object_array_get_idx(j, i);
		const char *id = dk__jstr(e, "Id");
		struct json_object *rt = dk__jget(e, "RepoTags", json_type_array);
		for (size_t k = 0; id && rt && k < json_object_array_length(rt); k++) {
			struct json_object *tv = json_object_array_get_idx(rt, k);
			const char *t = json_object_is_type(tv, json_type_string)
					? json_object_get_string(tv) : NULL;
			if (t && strcmp(t, "<none>:<none>") != 0) {
				bg_strv_push(tags, t);
				bg_strv_push(ids, id);
			}
		}
	}
	json_object_put(j);
	return 0;
}
