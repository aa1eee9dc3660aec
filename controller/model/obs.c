/*
 * obs: the observed-state snapshot (see obs.h). Filling is append-then-
 * finish: producers add elements in whatever order the engine returns
 * them, obs_finish() sorts every list once, and lookups are binary
 * searches. The JSON form is canonical (keys in a fixed order, lists
 * sorted), which is what makes `plan --observed` give the same token as a
 * live plan over equal facts.
 */
#include "bg.h"
#include "obs.h"

#include <json-c/json.h>

#define OBS_JSON_MAX (256u * 1024 * 1024)

void obs_init(struct obs *o)
{
	memset(o, 0, sizeof(*o));
	bg_strv_init(&o->unmanaged_networks);
}

void obs_labels_release(struct obs_labels *l)
{
	if (!l) {
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void obs_container_release(struct obs_container *c)
{
	if (!c) {
		return;
	}
	free(c->id);
	free(c->name);
	free(c->image);
	free(c->image_id);
	obs_labels_release(&c->labels);
	for (size_t i = 0; i < c->n_nets; i++) {
		free(c->nets[i].network);
		free(c->nets[i].ip);
	}
	free(c->nets);
	memset(c, 0, sizeof(*c));
}

static void edge_release(struct obs_edge *e)
{
	free(e->site);
	free(e->path);
	free(e->live);
	free(e->preview);
	free(e->content_sha);
	free(e->error);
	bg_strv_release(&e->upstreams);
}

void obs_release(struct obs *o)
{
	if (!o) {
		return;
	}
	free(o->engine_version);
	free(o->api_version);
	free(o->edge_kind);
	explicit_bzero(&o->secrets, sizeof(o->secrets));
	for (size_t i = 0; i < o->n_containers; i++) {
		obs_container_release(&o->containers[i]);
	}
	free(o->containers);
	for (size_t i = 0; i < o->n_networks; i++) {
		free(o->networks[i].id);
		free(o->networks[i].name);
		obs_labels_release(&o->networks[i].labels);
	}
	free(o->networks);
	for (size_t i = 0; i < o->n_volumes; i++) {
		free(o->volumes[i].name);
		obs_labels_release(&o->volumes[i].labels);
	}
	free(o->volumes);
	for (size_t i = 0; i < o->n_images; i++) {
		free(o->images[i].ref);
		free(o->images[i].id);
	}
	free(o->images);
	for (size_t i = 0; i < o->n_edges; i++) {
		edge_release(&o->edges[i]);
	}
	free(o->edges);
	for (size_t i = 0; i < o->n_certs; i++) {
		struct obs_cert *c = &o->certs[i];
		free(c->site);
		free(c->path);
		free(c->serial);
		free(c->error);
		bg_strv_release(&c->names);
	}
	free(o->certs);
	for (size_t i = 0; i < o->n_conflicts; i++) {
		free(o->conflicts[i].kind);
		free(o->conflicts[i].name);
	}
	free(o->conflicts);
	for (size_t i = 0; i < o->n_hist; i++) {
		free(o->hist[i].site);
		bg_strv_release(&o->hist[i].spec_versions);
		bg_strv_release(&o->hist[i].rejected);
	}
	free(o->hist);
	bg_strv_release(&o->unmanaged_networks);
	obs_init(o);
}

/* Append one zeroed element to a list; returns its address. */
#define OBS_ADD(o, arr, n, cap)                                               \
	do {                                                                  \
		BG_GROW((o)->arr, (o)->cap, (o)->n + 1);                      \
		memset(&(o)->arr[(o)->n], 0, sizeof((o)->arr[0]));            \
	} while (0)

struct obs_container *obs_container_add(struct obs *o)
{
	OBS_ADD(o, containers, n_containers, cap_containers);
	return &o->containers[o->n_containers++];
}

struct obs_network *obs_network_add(struct obs *o)
{
	OBS_ADD(o, networks, n_networks, cap_networks);
	return &o->networks[o->n_networks++];
}

struct obs_volume *obs_volume_add(struct obs *o)
{
	OBS_ADD(o, volumes, n_volumes, cap_volumes);
	return &o->volumes[o->n_volumes++];
}

struct obs_image *obs_image_add(struct obs *o)
{
	OBS_ADD(o, images, n_images, cap_images);
	return &o->images[o->n_images++];
}

struct obs_edge *obs_edge_add(struct obs *o)
{
	OBS_ADD(o, edges, n_edges, cap_edges);
	bg_strv_init(&o->edges[o->n_edges].upstreams);
	return &o->edges[o->n_edges++];
}

struct obs_cert *obs_cert_add(struct obs *o)
{
	OBS_ADD(o, certs, n_certs, cap_certs);
	bg_strv_init(&o->certs[o->n_certs].names);
	return &o->certs[o->n_certs++];
}

struct obs_hist_site *obs_hist_add(struct obs *o)
{
	OBS_ADD(o, hist, n_hist, cap_hist);
	bg_strv_init(&o->hist[o->n_hist].spec_versions);
	bg_strv_init(&o->hist[o->n_hist].rejected);
	return &o->hist[o->n_hist++];
}

void obs_conflict_add(struct obs *o, const char *kind, const char *name)
{
	OBS_ADD(o, conflicts, n_conflicts, cap_conflicts);
	o->conflicts[o->n_conflicts].kind = bg_xstrdup(kind);
	o->conflicts[o->n_conflicts].name = bg_xstrdup(name);
	o->n_conflicts++;
}

static size_t labels_index(const struct obs_labels *l, const char *key, bool *found)
{
	/*
	 * Labels are kept sorted on insert, so lookups can bisect. Not
	 * bsearch: obs_labels_set needs the insertion point (the lower bound)
	 * when the key is absent, which bsearch does not give.
	 */
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*found = false;
	return lo;
}

void obs_labels_set(struct obs_labels *l, const char *key, const char *value)
{
	bool found;
	size_t i = labels_index(l, key, &found);
	if (found) {
		free(l->v[i].value);
		l->v[i].value = bg_xstrdup(value ? value : "");
		return;
	}
	BG_GROW(l->v, l->cap, l->n + 1);
	memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof(l->v[0]));
	l->v[i].key = bg_xstrdup(key);
	l->v[i].value = bg_xstrdup(value ? value : "");
	l->n++;
}

const char *obs_labels_get(const struct obs_labels *l, const char *key)
{
	bool found;
	size_t i = labels_index(l, key, &found);
	return found ? l->v[i].value : NULL;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_label *)a)->key, ((const struct obs_label *)b)->key);
}

void obs_labels_sort(struct obs_labels *l)
{
	if (l->n > 1) {
		qsort(l->v, l->n, sizeof(l->v[0]), label_cmp);
	}
}

static unsigned parse_small_uint(const char *s)
{
	/* Labels come from the engine: anything odd is treated as absent. */
	if (!s || !*s || strlen(s) > 9) {
		return 0;
	}
	unsigned v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			return 0;
		}
		v = v * 10 + (unsigned)(*p - '0');
	}
	return v;
}

void obs_container_derive(struct obs_container *c)
{
	obs_labels_sort(&c->labels);
	c->site = obs_labels_get(&c->labels, BG_LABEL_SITE);
	c->colour = obs_labels_get(&c->labels, BG_LABEL_COLOUR);
	if (c->colour && strcmp(c->colour, "blue") != 0 && strcmp(c->colour, "green") != 0) {
		c->colour = NULL;
	}
	c->role = obs_labels_get(&c->labels, BG_LABEL_ROLE);
	c->service = obs_labels_get(&c->labels, BG_LABEL_SERVICE);
	c->spec = obs_labels_get(&c->labels, BG_LABEL_SPEC);
	c->version = parse_small_uint(obs_labels_get(&c->labels, BG_LABEL_VERSION));
	c->replica = parse_small_uint(obs_labels_get(&c->labels, BG_LABEL_REPLICA));
}

static int container_cmp(const void *a, const void *b)
{
	const struct obs_container *x = a, *y = b;
	int c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
	return c ? c : strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static int network_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_network *)a)->name, ((const struct obs_network *)b)->name);
}

static int volume_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_volume *)a)->name, ((const struct obs_volume *)b)->name);
}

static int image_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_image *)a)->ref, ((const struct obs_image *)b)->ref);
}

static int edge_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_edge *)a)->site, ((const struct obs_edge *)b)->site);
}

static int cert_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_cert *)a)->site, ((const struct obs_cert *)b)->site);
}

static int conflict_cmp(const void *a, const void *b)
{
	const struct obs_conflict *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->name, y->name);
}

static int hist_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_hist_site *)a)->site, ((const struct obs_hist_site *)b)->site);
}

static int netaddr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_netaddr *)a)->network,
			((const struct obs_netaddr *)b)->network);
}

static void sort(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	if (n > 1) {
		qsort(base, n, sz, cmp);
	}
}

void obs_finish(struct obs *o)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		struct obs_container *c = &o->containers[i];
		sort(c->nets, c->n_nets, sizeof(c->nets[0]), netaddr_cmp);
		obs_container_derive(c);
	}
	for (size_t i = 0; i < o->n_networks; i++) {
		obs_labels_sort(&o->networks[i].labels);
	}
	for (size_t i = 0; i < o->n_volumes; i++) {
		obs_labels_sort(&o->volumes[i].labels);
	}
	sort(o->containers, o->n_containers, sizeof(o->containers[0]), container_cmp);
	sort(o->networks, o->n_networks, sizeof(o->networks[0]), network_cmp);
	sort(o->volumes, o->n_volumes, sizeof(o->volumes[0]), volume_cmp);
	sort(o->images, o->n_images, sizeof(o->images[0]), image_cmp);
	sort(o->edges, o->n_edges, sizeof(o->edges[0]), edge_cmp);
	sort(o->certs, o->n_certs, sizeof(o->certs[0]), cert_cmp);
	for (size_t i = 0; i < o->n_certs; i++) {
		bg_strv_sort(&o->certs[i].names);
	}
	sort(o->conflicts, o->n_conflicts, sizeof(o->conflicts[0]), conflict_cmp);
	sort(o->hist, o->n_hist, sizeof(o->hist[0]), hist_cmp);
	for (size_t i = 0; i < o->n_hist; i++) {
		bg_strv_sort(&o->hist[i].spec_versions);
		bg_strv_sort(&o->hist[i].rejected);
	}
	/* Edge upstreams keep the file's order: it is part of the content. */
	bg_strv_sort(&o->unmanaged_networks);
}

/*
 * Lookups by name go through libc bsearch over the arrays obs_finish
 * sorted. The key is the string looked for; an element compares by its key
 * field, NULL as "" (the order obs_finish's comparators gave it).
 */
static int key_cmp(const char *key, const char *k)
{
	return strcmp(key, k ? k : "");
}

#define KEY_CMP(fn, type, field)                                              \
	static int fn(const void *key, const void *e)                         \
	{                                                                     \
		return key_cmp(key, ((const type *)e)->field);                \
	}
KEY_CMP(container_key_cmp, struct obs_container, name)
KEY_CMP(network_key_cmp, struct obs_network, name)
KEY_CMP(volume_key_cmp, struct obs_volume, name)
KEY_CMP(image_key_cmp, struct obs_image, ref)
KEY_CMP(edge_key_cmp, struct obs_edge, site)
KEY_CMP(hist_key_cmp, struct obs_hist_site, site)
KEY_CMP(cert_key_cmp, struct obs_cert, site)
#undef KEY_CMP

/* bsearch wants a valid base even for n == 0 (C11 7.22.5), and an empty
 * list's pointer is NULL here: never search one. */
static const void *find(const void *base, size_t n, size_t sz, const char *key,
		int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, sz, cmp) : NULL;
}

const struct obs_container *obs_container_find(const struct obs *o, const char *name)
{
	return find(o->containers, o->n_containers, sizeof(o->containers[0]), name,
			container_key_cmp);
}

const struct obs_network *obs_network_find(const struct obs *o, const char *name)
{
	return find(o->networks, o->n_networks, sizeof(o->networks[0]), name,
			network_key_cmp);
}

const struct obs_volume *obs_volume_find(const struct obs *o, const char *name)
{
	return find(o->volumes, o->n_volumes, sizeof(o->volumes[0]), name, volume_key_cmp);
}

const struct obs_image *obs_image_find(const struct obs *o, const char *ref)
{
	return find(o->images, o->n_images, sizeof(o->images[0]), ref, image_key_cmp);
}

const struct obs_edge *obs_edge_find(const struct obs *o, const char *site)
{
	return find(o->edges, o->n_edges, sizeof(o->edges[0]), site, edge_key_cmp);
}

const struct obs_cert *obs_cert_find(const struct obs *o, const char *site)
{
	return find(o->certs, o->n_certs, sizeof(o->certs[0]), site, cert_key_cmp);
}

const struct obs_hist_site *obs_hist_find(const struct obs *o, const char *site)
{
	return find(o->hist, o->n_hist, sizeof(o->hist[0]), site, hist_key_cmp);
}

bool obs_conflict_has(const struct obs *o, const char *kind, const char *name)
{
	for (size_t i = 0; i < o->n_conflicts; i++) {
		if (strcmp(o->conflicts[i].kind, kind) == 0 &&
				strcmp(o->conflicts[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

const char *obs_container_ip(const struct obs_container *c, const char *network)
{
	for (size_t i = 0; i < c->n_nets; i++) {
		if (strcmp(c->nets[i].network, network) == 0) {
			return c->nets[i].ip;
		}
	}
	return NULL;
}

static const char *const cstate_names[] = {
	[OBS_CSTATE_UNKNOWN] = "unknown",
	[OBS_CSTATE_CREATED] = "created",
	[OBS_CSTATE_RUNNING] = "running",
	[OBS_CSTATE_PAUSED] = "paused",
	[OBS_CSTATE_RESTARTING] = "restarting",
	[OBS_CSTATE_REMOVING] = "removing",
	[OBS_CSTATE_EXITED] = "exited",
	[OBS_CSTATE_DEAD] = "dead",
};

const char *obs_cstate_name(enum obs_cstate s)
{
	if ((size_t)s < BG_ARRAY_SIZE(cstate_names) && cstate_names[s]) {
		return cstate_names[s];
	}
	return "unknown";
}

enum obs_cstate obs_cstate_parse(const char *s)
{
	for (size_t i = 0; s && i < BG_ARRAY_SIZE(cstate_names); i++) {
		if (strcmp(s, cstate_names[i]) == 0) {
			return (enum obs_cstate)i;
		}
	}
	return OBS_CSTATE_UNKNOWN;
}

static const char *const health_names[] = {
	[OBS_HEALTH_NONE] = "none",
	[OBS_HEALTH_STARTING] = "starting",
	[OBS_HEALTH_HEALTHY] = "healthy",
	[OBS_HEALTH_UNHEALTHY] = "unhealthy",
};

const char *obs_health_name(enum obs_health h)
{
	if ((size_t)h < BG_ARRAY_SIZE(health_names)) {
		return health_names[h];
	}
	return "none";
}

enum obs_health obs_health_parse(const char *s)
{
	for (size_t i = 0; s && i < BG_ARRAY_SIZE(health_names); i++) {
		if (strcmp(s, health_names[i]) == 0) {
			return (enum obs_health)i;
		}
	}
	return OBS_HEALTH_NONE;
}

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
