/*
 * obs: the observed-state snapshot (see obs.h). Filling is append-then-
 * finish: producers add elements in whatever order the engine returns
 * them, obs_finish() sorts every list once, and lookups are binary
 * searches. The JSON form is obs-json.c.
 */
#include "bg.h"
#include "obs.h"


void obs_init(struct obs *o)
{
	memset(o, 0, sizeof(*o));
	bg_strv_init(&o->unmanaged_networks);
	bg_strv_init(&o->module_facts);
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
		bg_strv_release(&o->hist[i].went_live);
	}
	free(o->hist);
	bg_strv_release(&o->unmanaged_networks);
	bg_strv_release(&o->module_facts);
	for (size_t i = 0; i < o->n_backups; i++) {
		struct obs_backup *b = &o->backups[i];
		free(b->id);
		free(b->site);
		free(b->why);
		free(b->live_colour);
		bg_strv_release(&b->parts);
	}
	free(o->backups);
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
	bg_strv_init(&o->hist[o->n_hist].went_live);
	return &o->hist[o->n_hist++];
}

int obs_hist_went_live(const struct obs *o, const char *site, unsigned version)
{
	const struct obs_hist_site *hs = site ? obs_hist_find(o, site) : NULL;
	char num[16];
	if (!hs || !hs->live_known || !version) {
		return -1;
	}
	snprintf(num, sizeof(num), "%u", version);
	return bg_strv_contains(&hs->went_live, num) ? 1 : 0;
}

struct obs_backup *obs_backup_add(struct obs *o)
{
	OBS_ADD(o, backups, n_backups, cap_backups);
	bg_strv_init(&o->backups[o->n_backups].parts);
	return &o->backups[o->n_backups++];
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

static int backup_cmp(const void *a, const void *b)
{
	return strcmp(((const struct obs_backup *)a)->id, ((const struct obs_backup *)b)->id);
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
		bg_strv_sort(&o->hist[i].went_live);
	}
	sort(o->backups, o->n_backups, sizeof(o->backups[0]), backup_cmp);
	for (size_t i = 0; i < o->n_backups; i++) {
		bg_strv_sort(&o->backups[i].parts);
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
KEY_CMP(backup_key_cmp, struct obs_backup, id)
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

const struct obs_backup *obs_backup_find(const struct obs *o, const char *id)
{
	return find(o->backups, o->n_backups, sizeof(o->backups[0]), id, backup_key_cmp);
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
