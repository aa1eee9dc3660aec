/*
 * desired: turns the loaded configuration into the exact objects each site
 * needs (see desired.h). The canonical spec is built as a json-c object
 * with keys in a fixed order and serialised without whitespace, so the
 * same configuration always hashes the same, on any machine. Rebuilding
 * one site from a recorded version (rollback --to) is desired-pin.c's.
 */
#include "bg.h"
#include "desired.h"
#include "desired-int.h"
#include "plan.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

const char *des_other_colour(const char *colour)
{
	if (!colour) {
		return NULL;
	}
	return strcmp(colour, "blue") == 0 ? "green" : "blue";
}

char *des_colour_container_name(const char *site, const char *colour, unsigned replica)
{
	if (replica <= 1) {
		return bg_xasprintf("%s-%s", site, colour);
	}
	return bg_xasprintf("%s-%s-%u", site, colour, replica);
}

char *des_volume_name(const char *site, const char *vol)
{
	return bg_xasprintf("%s-%s", site, vol);
}

void des_base_labels(struct obs_labels *l, const char *site)
{
	obs_labels_set(l, BG_LABEL_MANAGED, "true");
	obs_labels_set(l, BG_LABEL_SITE, site);
}

/*
 * The environment as JSON. Secret values never appear: in the form that is
 * hashed they are "<secret>" (the spec then covers which keys are secret,
 * and io.bluegreen.secrets covers their values), in the stored form
 * "<redacted>".
 */
static struct json_object *env_json(const struct cfg_env *env, bool hashed)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < env->n; i++) {
		const struct cfg_env_var *v = &env->v[i];
		const char *val = !v->secret ? v->value : hashed ? "<secret>" : BG_REDACTED;
		json_object_object_add(o, v->key, json_object_new_string(val));
	}
	return o;
}

/* ---- the secrets key and hash ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parse 64 hex digits into key; BG_EPARSE if data is not that. */
static int key_parse(const char *data, uint8_t key[32])
{
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(data[2 * i]), lo = hi < 0 ? -1 : hexval(data[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return BG_EPARSE;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void des_secrets_observe(const char *state_dir, struct obs_secrets *s)
{
	char *path = bg_xasprintf("%s/%s", state_dir, DES_SECRETS_KEY_FILE);
	char *data = NULL;

	explicit_bzero(s, sizeof(*s));
	int err = bg_file_read(path, 256, &data, NULL);
	if (!err) {
		err = key_parse(data, s->key);
	}
	s->state = !err ? OBS_SECRETS_OK
		   : err == BG_ERRNO(ENOENT) ? OBS_SECRETS_ABSENT : OBS_SECRETS_UNREADABLE;
	s->err = err;
	if (err) {
		explicit_bzero(s->key, sizeof(s->key));
	}
	if (data) {
		OPENSSL_cleanse(data, strlen(data));
	}
	free(data);
	free(path);
}

int des_secrets_create(const char *state_dir)
{
	char *path = bg_xasprintf("%s/%s", state_dir, DES_SECRETS_KEY_FILE);
	char *data = NULL;
	uint8_t key[32];
	char hex[66];

	int err = bg_file_read(path, 256, &data, NULL);
	if (!err) {
		err = key_parse(data, key); /* a key we cannot use is not replaced */
		goto out;
	}
	if (err == BG_ERRNO(EACCES)) {
		/* Someone else's key: apply goes on without comparing secrets, as it
		 * always has, and its plan says so (UNREADABLE). */
		err = 0;
		goto out;
	}
	if (err != BG_ERRNO(ENOENT)) {
		goto out;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		err = BG_ERRNO(EIO);
		goto out;
	}
	for (size_t i = 0; i < sizeof(key); i++) {
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	}
	hex[64] = '\n';
	hex[65] = '\0';
	err = bg_state_dir_ensure(state_dir);
	if (!err) {
		err = bg_file_write_atomic(path, NULL, hex, 65, 0600);
	}
out:
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_cleanse(key, sizeof(key));
	if (data) {
		OPENSSL_cleanse(data, strlen(data));
	}
	free(data);
	free(path);
	return err;
}

/*
 * HMAC-SHA256 over "KEY\0VALUE\0" of every secret, in key order, with the
 * observed key; "" if none. With secrets but no key: "" and *uncompared.
 */
void des__secrets_mac(const struct cfg_env *env, const struct obs_secrets *key,
		char out[65], bool *uncompared)
{
	struct bg_buf b = BG_BUF_INIT;
	uint8_t md[32];
	unsigned int len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < env->n; i++) {
		if (env->v[i].secret) {
			bg_buf_add(&b, env->v[i].key, strlen(env->v[i].key) + 1);
			bg_buf_add(&b, env->v[i].value, strlen(env->v[i].value) + 1);
		}
	}
	if (b.len && key->state != OBS_SECRETS_OK) {
		*uncompared = true;
	} else if (b.len) {
		HMAC(EVP_sha256(), key->key, sizeof(key->key), (const unsigned char *)b.data,
				b.len, md, &len);
		for (size_t i = 0; i < 32; i++) {
			snprintf(out + 2 * i, 3, "%02x", md[i]);
		}
		OPENSSL_cleanse(md, sizeof(md));
	}
	if (b.len) {
		OPENSSL_cleanse(b.data, b.len);
	}
	bg_buf_release(&b);
}

bool des_secrets_match(const char *desired, const struct obs_labels *labels)
{
	const char *have = obs_labels_get(labels, BG_LABEL_SECRETS);
	if (!desired || !*desired || !have) {
		return true;
	}
	/*
	 * The label comes from Docker and may be any length: compare lengths
	 * first, so CRYPTO_memcmp never reads past either string. The length
	 * of a hex HMAC is no secret, only its bytes are.
	 */
	size_t n = strlen(desired);
	if (strlen(have) != n) {
		return false;
	}
	return CRYPTO_memcmp(have, desired, n) == 0;
}

static struct json_object *strv_json(const struct bg_strv *sv)
{
	if (!sv->n) {
		return NULL;
	}
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < sv->n; i++) {
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	}
	return a;
}

static int mount_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_mount *)a)->target, ((const struct cfg_mount *)b)->target);
}

static struct json_object *mounts_json(const char *site, const struct cfg_mount *m, size_t n)
{
	/* Sorted by target so the order they were written in does not matter. */
	struct cfg_mount *sorted = bg_xcalloc(n ? n : 1, sizeof(*sorted));
	if (n) {
		/* m is NULL for a site without mounts: memcpy(NULL, 0) is still UB. */
		memcpy(sorted, m, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), mount_cmp);
	}
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		char *vol = des_volume_name(site, sorted[i].volume);
		json_object_object_add(o, "volume", json_object_new_string(vol));
		json_object_object_add(o, "target", json_object_new_string(sorted[i].target));
		json_object_array_add(a, o);
		free(vol);
	}
	free(sorted);
	return a;
}

static const char *image_id_of(const struct obs *obs, const char *ref)
{
	const struct obs_image *im = obs_image_find(obs, ref);
	return im ? im->id : NULL;
}

/* ---- resources (issue 13, helper D5): limits in the spec and the create ----
 *
 * "resources" joins a spec only when the site or service sets a limit, and
 * as its last key: a spec without limits serialises, and so hashes, exactly
 * as before limits existed, so existing deployments see no change. Sizes
 * are hashed as the computed numbers (512m and 536870912 are one limit). */

static void resources_spec_add(struct json_object *o, const struct cfg_resources *r)
{
	if (!r->memory_bytes && !r->nano_cpus && !r->pids) {
		return;
	}
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "memory", json_object_new_int64((int64_t)r->memory_bytes));
	json_object_object_add(j, "nano_cpus", json_object_new_int64((int64_t)r->nano_cpus));
	json_object_object_add(j, "pids", json_object_new_int64(r->pids));
	json_object_object_add(o, "resources", j);
}

static void resources_create_fill(struct dk_container_spec *sp, const struct cfg_resources *r)
{
	sp->memory_bytes = r->memory_bytes;
	sp->nano_cpus = r->nano_cpus;
	sp->pids_limit = r->pids;
}

/* ---- end of resources ---- */

struct json_object *des__colour_spec(const struct desired *des, const struct cfg_site *s,
		const char *image_id, const char *network, bool hashed)
{
	const struct cfg *cfg = des->cfg;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string("colour"));
	json_object_object_add(o, "image", json_object_new_string(s->image));
	json_object_object_add(o, "image_id", image_id ? json_object_new_string(image_id) : NULL);
	json_object_object_add(o, "command", strv_json(&s->command));
	json_object_object_add(o, "env", env_json(&s->env, hashed));
	json_object_object_add(o, "port", json_object_new_int((int)s->port));
	json_object_object_add(o, "replicas", json_object_new_int((int)s->replicas));
	json_object_object_add(o, "mounts", mounts_json(s->name, s->mounts, s->n_mounts));
	struct json_object *nets = json_object_new_array();
	json_object_array_add(nets, json_object_new_string(network));
	json_object_array_add(nets, json_object_new_string(des->edge_network));
	json_object_object_add(o, "networks", nets);
	const struct edge_impl *edge = edge_for(cfg);
	json_object_object_add(o, "edge", json_object_new_string(edge->kind));
	edge->spec_add(cfg, s, o); /* nginx: "upstream", here so the spec hash keeps its bytes */
	json_object_object_add(o, "stop_signal", json_object_new_string(
			s->stop_signal ? s->stop_signal : "SIGTERM"));
	json_object_object_add(o, "stop_timeout_ms", json_object_new_int64((int64_t)s->stop_timeout_ms));
	resources_spec_add(o, &s->resources); /* last, and only when set */
	des__secrets_spec_add(o, &s->secrets); /* issue 17: only with secrets.as files */
	return o;
}

static struct json_object *service_spec(const struct cfg_site *s, const struct cfg_service *svc,
		const char *image_id, const char *network, bool hashed)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string("service"));
	json_object_object_add(o, "image", json_object_new_string(svc->image));
	json_object_object_add(o, "image_id", image_id ? json_object_new_string(image_id) : NULL);
	json_object_object_add(o, "command", strv_json(&svc->command));
	json_object_object_add(o, "env", env_json(&svc->env, hashed));
	json_object_object_add(o, "mounts", mounts_json(s->name, svc->mounts, svc->n_mounts));
	json_object_object_add(o, "network", json_object_new_string(network));
	resources_spec_add(o, &svc->resources); /* last, and only when set */
	des__secrets_spec_add(o, &s->secrets); /* issue 17: only with secrets.as files */
	return o;
}

static const int json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

/* Hash the hashed form, keep the redacted form. */
void des__spec_finish(struct json_object *hashed, struct json_object *redacted,
		char spec[65], char **spec_json)
{
	const char *h = json_object_to_json_string_ext(hashed, json_flags);
	bg_sha256_hex(h, strlen(h), spec);
	*spec_json = bg_xstrdup(json_object_to_json_string_ext(redacted, json_flags));
	json_object_put(hashed);
	json_object_put(redacted);
}

void des_colour_spec_base(const struct desired *des, const struct des_site *s, char out[65])
{
	struct json_object *o = des__colour_spec(des, s->cfg, s->image_id, s->network, true);
	/* Everything the spec hash covers but the count: what a scale keeps. */
	json_object_object_del(o, "replicas");
	const char *h = json_object_to_json_string_ext(o, json_flags);
	bg_sha256_hex(h, strlen(h), out);
	json_object_put(o);
}

bool des_spec_base_matches(const struct des_site *s, const char *base,
		const struct obs_labels *labels)
{
	const char *have = obs_labels_get(labels, DES_LABEL_SPEC_BASE);
	return have && base && strcmp(have, base) == 0 && des_secrets_match(s->secrets, labels);
}

unsigned des__version_of(const struct obs *obs, const char *site, const char *spec,
		bool *is_new, bool *rejected)
{
	const struct obs_hist_site *h = obs_hist_find(obs, site);
	size_t sl = strlen(spec);
	*is_new = true;
	*rejected = false;
	if (!h) {
		return 1;
	}
	*rejected = bg_strv_contains(&h->rejected, spec);
	for (size_t i = 0; i < h->spec_versions.n; i++) {
		const char *e = h->spec_versions.v[i];
		if (strncmp(e, spec, sl) == 0 && e[sl] == '=') {
			*is_new = false;
			return (unsigned)strtoul(e + sl + 1, NULL, 10);
		}
	}
	return h->last_version + 1;
}

void des__add_unique(struct bg_strv *sv, char *s)
{
	if (bg_strv_contains(sv, s)) {
		free(s);
	} else {
		bg_strv_push_take(sv, s);
	}
}

struct gen_name {
	const char *kind; /* "container" | "network" | "volume" */
	char *name;
	const struct cfg_site *site;
	char *what;       /* "colour blue", "service 'db'", "volume 'uploads'" */
	struct bg_loc loc;
};

static int gen_name_cmp(const void *a, const void *b)
{
	const struct gen_name *x = a, *y = b;
	int c = strcmp(x->kind, y->kind);
	if (!c) {
		c = strcmp(x->name, y->name);
	}
	if (!c) {
		c = strcmp(x->site ? x->site->name : "", y->site ? y->site->name : "");
	}
	return c;
}

static void gen_add(struct gen_name **v, size_t *n, size_t *cap, const char *kind, char *name,
		const struct cfg_site *site, char *what, struct bg_loc loc)
{
	BG_GROW(*v, *cap, *n + 1);
	(*v)[(*n)++] = (struct gen_name){kind, name, site, what, loc};
}

int des_check_names(const struct cfg *cfg, struct bg_diag *d)
{
	static const char *const colours[] = {"blue", "green"};
	struct gen_name *v = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *s = &cfg->sites[i];
		gen_add(&v, &n, &cap, "network", bg_xasprintf("%s-net", s->name), s,
				bg_xstrdup("the site network"), s->loc);
		for (size_t c = 0; c < 2; c++) {
			for (unsigned r = 1; r <= s->replicas; r++) {
				gen_add(&v, &n, &cap, "container",
						des_colour_container_name(s->name, colours[c], r), s,
						bg_xasprintf("colour %s", colours[c]), s->loc);
			}
		}
		for (size_t k = 0; k < s->n_services; k++) {
			const struct cfg_service *sv = &s->services[k];
			gen_add(&v, &n, &cap, "container", bg_xasprintf("%s-%s", s->name, sv->name), s,
					bg_xasprintf("service '%s'", sv->name), sv->loc);
			for (size_t m = 0; m < sv->n_mounts; m++) {
				gen_add(&v, &n, &cap, "volume",
						des_volume_name(s->name, sv->mounts[m].volume), s,
						bg_xasprintf("volume '%s'", sv->mounts[m].volume),
						sv->mounts[m].loc);
			}
		}
		for (size_t m = 0; m < s->n_mounts; m++) {
			gen_add(&v, &n, &cap, "volume", des_volume_name(s->name, s->mounts[m].volume), s,
					bg_xasprintf("volume '%s'", s->mounts[m].volume), s->mounts[m].loc);
		}
	}
	gen_add(&v, &n, &cap, "network", bg_xstrdup(cfg->g.edge_network), NULL,
			bg_xstrdup("edge.network"), (struct bg_loc){0});
	if (n > 1) {
		qsort(v, n, sizeof(*v), gen_name_cmp);
	}
	/* Equal names from different sites (or a site and the edge) collide;
	 * within one site a volume name used twice is the same volume, on purpose. */
	for (size_t i = 1; i < n; i++) {
		const struct gen_name *a = &v[i - 1], *b = &v[i];
		if (strcmp(a->kind, b->kind) != 0 || strcmp(a->name, b->name) != 0 ||
				a->site == b->site) {
			continue;
		}
		const struct gen_name *first = a->site ? a : b, *second = a->site ? b : a;
		if (!second->site) {
			bg_diag_error(d, &first->loc, "%s name '%s' of %s is also edge.network's: "
					"rename one of them", first->kind, first->name, first->what);
		} else {
			bg_diag_error(d, &second->loc, "%s name '%s' of %s is also the name of %s "
					"in %s: two sites would share one Docker object; rename one of "
					"them", second->kind, second->name, second->what, first->what,
					first->site->path);
		}
		err = BG_ECONFIG;
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].what);
	}
	free(v);
	return err;
}

int des_cfg_load(struct cfg **out, const char *dir, unsigned flags, struct bg_diag *d)
{
	int err = cfg_load(out, dir, flags, d);
	if (*out && des_check_names(*out, d) != 0) {
		bg_diag_sort(d);
		if (!(flags & CFG_LOAD_PARTIAL)) {
			cfg_destroy(*out);
			*out = NULL;
		}
		err = BG_ECONFIG;
	}
	return err;
}

int des_build(struct desired *out, const struct cfg *cfg, const struct obs *obs,
		struct bg_diag *d)
{
	memset(out, 0, sizeof(*out));
	out->cfg = cfg;
	out->edge_network = bg_xstrdup(cfg->g.edge_network);
	out->n_sites = cfg->n_sites;
	out->sites = bg_xcalloc(cfg->n_sites ? cfg->n_sites : 1, sizeof(*out->sites));
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *cs = &cfg->sites[i];
		struct des_site *s = &out->sites[i];
		s->cfg = cs;
		s->name = cs->name;
		s->network = bg_xasprintf("%s-net", cs->name);
		s->image_id = image_id_of(obs, cs->image);
		bg_strv_init(&s->volumes);
		for (size_t k = 0; k < cs->n_mounts; k++) {
			des__add_unique(&s->volumes,
					des_volume_name(cs->name, cs->mounts[k].volume));
		}
		des__spec_finish(des__colour_spec(out, cs, s->image_id, s->network, true),
				des__colour_spec(out, cs, s->image_id, s->network, false),
				s->spec, &s->spec_json);
		des__secrets_mac(&cs->env, &obs->secrets, s->secrets, &out->secrets_uncompared);
		s->version = des__version_of(obs, cs->name, s->spec, &s->version_new, &s->rejected);
		s->n_services = cs->n_services;
		s->services = bg_xcalloc(cs->n_services ? cs->n_services : 1, sizeof(*s->services));
		for (size_t k = 0; k < cs->n_services; k++) {
			const struct cfg_service *cv = &cs->services[k];
			struct des_service *sv = &s->services[k];
			const char *iid = image_id_of(obs, cv->image);
			sv->cfg = cv;
			sv->container = bg_xasprintf("%s-%s", cs->name, cv->name);
			bg_strv_init(&sv->volumes);
			for (size_t m = 0; m < cv->n_mounts; m++) {
				char *v = des_volume_name(cs->name, cv->mounts[m].volume);
				des__add_unique(&s->volumes, bg_xstrdup(v));
				des__add_unique(&sv->volumes, v);
			}
			des__spec_finish(service_spec(cs, cv, iid, s->network, true),
					service_spec(cs, cv, iid, s->network, false),
					sv->spec, &sv->spec_json);
			des__secrets_mac(&cv->env, &obs->secrets, sv->secrets,
					&out->secrets_uncompared);
		}
		bg_strv_sort(&s->volumes);
	}
	out->secrets_state = obs->secrets.state;
	out->secrets_err = obs->secrets.err;
	out->secrets_key = obs->secrets;
	(void)d;
	return 0;
}

void des_release(struct desired *des)
{
	if (!des) {
		return;
	}
	for (size_t i = 0; i < des->n_sites; i++) {
		struct des_site *s = &des->sites[i];
		free(s->network);
		free(s->spec_json);
		des__pin_free(s);
		bg_strv_release(&s->volumes);
		for (size_t k = 0; k < s->n_services; k++) {
			free(s->services[k].container);
			free(s->services[k].spec_json);
			bg_strv_release(&s->services[k].volumes);
		}
		free(s->services);
	}
	free(des->sites);
	free(des->edge_network);
	OPENSSL_cleanse(&des->secrets_key, sizeof(des->secrets_key));
	memset(des, 0, sizeof(*des));
}

static int site_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct des_site *)elem)->name);
}

const struct des_site *des_site_find(const struct desired *des, const char *name)
{
	/* Sites come from cfg, sorted by name: bisect (planning calls this per container). */
	if (des->n_sites == 0) {
		return NULL; /* des->sites may be NULL: bsearch(NULL, 0) is still UB */
	}
	return bsearch(name, des->sites, des->n_sites, sizeof(*des->sites), site_name_cmp);
}

void des_create_release(struct des_create *c)
{
	if (!c) {
		return;
	}
	obs_labels_release(&c->labels);
	bg_strv_release(&c->cmd);
	bg_strv_release(&c->env);
	bg_strv_release(&c->aliases);
	bg_strv_release(&c->mount_names);
	bg_strv_release(&c->secret_keys);
	bg_strv_release(&c->secret_names);
	free(c->secrets);
	free(c->mounts);
	free(c->name);
	free(c->extra_network);
	memset(c, 0, sizeof(*c));
}

static void fill_mounts(struct des_create *c, const char *site, const struct cfg_mount *m,
		size_t n)
{
	c->n_mounts = n;
	c->mounts = bg_xcalloc(n ? n : 1, sizeof(*c->mounts));
	for (size_t i = 0; i < n; i++) {
		bg_strv_push_take(&c->mount_names, des_volume_name(site, m[i].volume));
	}
	for (size_t i = 0; i < n; i++) {
		c->mounts[i].volume = c->mount_names.v[i];
		c->mounts[i].target = m[i].target;
	}
}

int des_stop_timeout_s(uint64_t ms)
{
	uint64_t s = (ms + 999) / 1000;
	return s > 3600 ? 3600 : (int)s;
}

/* The parts of a create request that colours and services share. */
static void fill_spec(struct des_create *out, const char *image, const char *network,
		const char *stop_signal, int stop_timeout)
{
	struct dk_container_spec *sp = &out->spec;
	sp->name = out->name;
	sp->image = image;
	sp->cmd = out->cmd.n ? out->cmd.v : NULL;
	sp->env = out->env.v;
	sp->labels = &out->labels;
	sp->network = network;
	sp->aliases = out->aliases.v;
	sp->mounts = out->mounts;
	sp->n_mounts = out->n_mounts;
	sp->restart_policy = "unless-stopped";
	sp->stop_signal = stop_signal;
	sp->stop_timeout_s = stop_timeout;
}

int des_colour_create(const struct desired *des, const struct des_site *s,
		const char *colour, unsigned replica, const char *token,
		struct des_create *out)
{
	const struct cfg_site *cs = s->cfg;
	char buf[32];

	memset(out, 0, sizeof(*out));
	out->name = des_colour_container_name(s->name, colour, replica);
	des_base_labels(&out->labels, s->name);
	obs_labels_set(&out->labels, BG_LABEL_ROLE, "colour");
	obs_labels_set(&out->labels, BG_LABEL_COLOUR, colour);
	snprintf(buf, sizeof(buf), "%u", replica);
	obs_labels_set(&out->labels, BG_LABEL_REPLICA, buf);
	snprintf(buf, sizeof(buf), "%u", s->version);
	obs_labels_set(&out->labels, BG_LABEL_VERSION, buf);
	obs_labels_set(&out->labels, BG_LABEL_SPEC, s->spec);
	char base[65];
	des_colour_spec_base(des, s, base);
	obs_labels_set(&out->labels, DES_LABEL_SPEC_BASE, base);
	obs_labels_set(&out->labels, BG_LABEL_IMAGE, cs->image);
	if (s->secrets[0]) {
		obs_labels_set(&out->labels, BG_LABEL_SECRETS, s->secrets);
	}
	if (token) {
		obs_labels_set(&out->labels, BG_LABEL_PLAN, token);
	}
	edge_for(des->cfg)->container_labels(des->cfg, cs, colour, &out->labels);
	bg_strv_copy(&out->cmd, &cs->command);
	des__secrets_fill(out, s->name, &cs->env, &cs->secrets, &des->secrets_key);
	bg_strv_push_take(&out->aliases, bg_xasprintf("%s-%s", s->name, colour));
	fill_mounts(out, s->name, cs->mounts, cs->n_mounts);
	out->extra_network = bg_xstrdup(des->edge_network);

	fill_spec(out, s->create_image ? s->create_image : cs->image, s->network,
			cs->stop_signal ? cs->stop_signal : "SIGTERM",
			des_stop_timeout_s(cs->stop_timeout_ms));
	out->spec.expose_port = cs->port;
	resources_create_fill(&out->spec, &cs->resources);
	return 0;
}

int des_service_create(const struct desired *des, const struct des_site *s,
		const struct des_service *svc, const char *token, struct des_create *out)
{
	const struct cfg_service *cv = svc->cfg;

	memset(out, 0, sizeof(*out));
	out->name = bg_xstrdup(svc->container);
	des_base_labels(&out->labels, s->name);
	obs_labels_set(&out->labels, BG_LABEL_ROLE, "service");
	obs_labels_set(&out->labels, BG_LABEL_SERVICE, cv->name);
	obs_labels_set(&out->labels, BG_LABEL_SPEC, svc->spec);
	obs_labels_set(&out->labels, BG_LABEL_IMAGE, cv->image);
	if (svc->secrets[0]) {
		obs_labels_set(&out->labels, BG_LABEL_SECRETS, svc->secrets);
	}
	if (token) {
		obs_labels_set(&out->labels, BG_LABEL_PLAN, token);
	}
	bg_strv_copy(&out->cmd, &cv->command);
	des__secrets_fill(out, s->name, &cv->env, &s->cfg->secrets, &des->secrets_key);
	/* Colours reach the service by its short name on the site network. */
	bg_strv_push(&out->aliases, cv->name);
	fill_mounts(out, s->name, cv->mounts, cv->n_mounts);

	fill_spec(out, cv->image, s->network, "SIGTERM", 30);
	resources_create_fill(&out->spec, &cv->resources);
	(void)des;
	return 0;
}
