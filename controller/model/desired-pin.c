/*
 * desired-pin: `bluegreen rollback SITE --to VERSION` (des_build_args in
 * desired.h). The record is the redacted canonical spec that
 * des__colour_spec wrote when the version was first created; it is read
 * back into a copy of the site's configuration, and the spec is then
 * computed the usual way (desired-int.h), so a site whose edge and secret
 * keys did not change gets its old hash back.
 */
#include "bg.h"
#include "desired.h"
#include "desired-int.h"
#include "plan.h"

#include <json-c/json.h>
#include <openssl/crypto.h>

struct des_pin {
	struct cfg_site site;     /* the configuration's, with the recorded fields */
	struct bg_strv strs;      /* every string the pinned fields point to */
	struct cfg_env_var *env;
	struct cfg_mount *mounts;
	char *image_id;
	char *pull_ref; /* "repo@sha256:...": the image id is gone, pull it by this */
};

void des__pin_free(struct des_site *s)
{
	struct des_pin *p = s->pin;
	if (p) {
		/* strs holds today's secret values of the recorded secret keys. */
		for (size_t i = 0; i < p->strs.n; i++) {
			OPENSSL_cleanse(p->strs.v[i], strlen(p->strs.v[i]));
		}
		bg_strv_release(&p->strs);
		bg_strv_release(&p->site.command);
		free(p->env);
		free(p->mounts);
		free(p->image_id);
		free(p->pull_ref);
		free(p);
	}
	free(s->pin_secret_keys);
	s->pin = NULL;
	s->pin_secret_keys = NULL;
}

static const char *pin_str(struct des_pin *p, const char *v)
{
	bg_strv_push(&p->strs, v);
	return p->strs.v[p->strs.n - 1];
}

/* A member of the record checked for its type; NULL when absent or null. */
static struct json_object *rec_get(struct json_object *o, const char *key, json_type t,
		bool *bad)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v) {
		return NULL;
	}
	if (!json_object_is_type(v, t)) {
		*bad = true;
		return NULL;
	}
	return v;
}

static int env_var_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_env_var *)a)->key, ((const struct cfg_env_var *)b)->key);
}

static const struct cfg_env_var *env_find(const struct cfg_env *env, const char *key)
{
	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->v[i].key, key) == 0) {
			return &env->v[i];
		}
	}
	return NULL;
}

/* The recorded env: clear values as recorded, redacted ones today's. */
static int pin_env(struct des_pin *p, struct json_object *env, const struct cfg_site *cur,
		struct des_site *s, unsigned version, struct bg_diag *d)
{
	size_t n = env ? (size_t)json_object_object_length(env) : 0, i = 0;
	struct bg_buf keys = BG_BUF_INIT;
	int err = 0;

	p->env = bg_xcalloc(n ? n : 1, sizeof(*p->env));
	if (!env) {
		goto out;
	}
	json_object_object_foreach(env, key, val) {
		if (err || i >= n) {
			break;
		}
		if (!val || !json_object_is_type(val, json_type_string)) {
			err = BG_EPARSE;
			break;
		}
		struct cfg_env_var *e = &p->env[i++];
		const char *v = json_object_get_string(val);
		e->key = (char *)pin_str(p, key);
		if (strcmp(v, BG_REDACTED) != 0) {
			e->value = (char *)pin_str(p, v);
			continue;
		}
		const struct cfg_env_var *now = env_find(&cur->env, key);
		if (!now || !now->secret) {
			bg_diag_error(d, &cur->loc, "v%u of '%s' had the secret %s: secret values "
					"are never stored in the history, and %s no longer sets it as a "
					"secret (env_file or a redacted key): set it again to go back "
					"to v%u", version, cur->name, key, cur->path, version);
			err = BG_ECONFIG;
			break;
		}
		e->value = (char *)pin_str(p, now->value);
		e->secret = true;
		bg_buf_addf(&keys, "%s%s", keys.len ? ", " : "", key);
	}
out:
	p->site.env.v = p->env;
	p->site.env.n = i;
	if (i > 1) {
		qsort(p->env, i, sizeof(*p->env), env_var_cmp);
	}
	if (keys.len) {
		s->pin_secret_keys = bg_xstrdup(keys.data);
	}
	bg_buf_release(&keys);
	return err;
}

/* The recorded mounts hold full volume names ("SITE-VOL"): back to short ones. */
static int pin_mounts(struct des_pin *p, struct json_object *arr, const char *site)
{
	size_t n = arr ? json_object_array_length(arr) : 0, sl = strlen(site);
	bool bad = false;

	p->mounts = bg_xcalloc(n ? n : 1, sizeof(*p->mounts));
	for (size_t i = 0; i < n && !bad; i++) {
		struct json_object *m = json_object_array_get_idx(arr, i);
		if (!m || !json_object_is_type(m, json_type_object)) {
			return BG_EPARSE;
		}
		struct json_object *vol = rec_get(m, "volume", json_type_string, &bad);
		struct json_object *tgt = rec_get(m, "target", json_type_string, &bad);
		const char *vs = vol ? json_object_get_string(vol) : "";
		if (!vol || !tgt || strncmp(vs, site, sl) != 0 || vs[sl] != '-' || !vs[sl + 1]) {
			return BG_EPARSE;
		}
		p->mounts[i].volume = (char *)pin_str(p, vs + sl + 1);
		p->mounts[i].target = (char *)pin_str(p, json_object_get_string(tgt));
	}
	p->site.mounts = p->mounts;
	p->site.n_mounts = n;
	return bad ? BG_EPARSE : 0;
}

/*
 * The recorded limits (the "resources" member des__colour_spec writes only
 * when a limit is set) into p->site.resources; a record without it had no
 * limits, whatever the configuration says today. The strings "as written"
 * are rebuilt from the numbers, for whoever shows them.
 */
static int pin_resources(struct des_pin *p, struct json_object *r)
{
	bool bad = false;
	struct json_object *mem = rec_get(r, "memory", json_type_int, &bad);
	struct json_object *cpu = rec_get(r, "nano_cpus", json_type_int, &bad);
	struct json_object *pids = rec_get(r, "pids", json_type_int, &bad);
	int64_t mv = mem ? json_object_get_int64(mem) : 0;
	int64_t cv = cpu ? json_object_get_int64(cpu) : 0;
	int64_t pv = pids ? json_object_get_int64(pids) : 0;
	char buf[48];

	if (bad || mv < 0 || cv < 0 || pv < 0 || pv > (int64_t)UINT_MAX) {
		return BG_EPARSE;
	}
	p->site.resources.memory_bytes = (uint64_t)mv;
	p->site.resources.nano_cpus = (uint64_t)cv;
	p->site.resources.pids = (unsigned)pv;
	if (mv) {
		snprintf(buf, sizeof(buf), "%" PRId64, mv);
		p->site.resources.memory = (char *)pin_str(p, buf);
	}
	if (cv) {
		/* 1500000000 -> "1.5": whole CPUs, then the fraction without trailing zeros. */
		snprintf(buf, sizeof(buf), "%" PRId64 ".%09" PRId64, cv / 1000000000, cv % 1000000000);
		size_t n = strlen(buf);
		while (buf[n - 1] == '0') {
			buf[--n] = '\0';
		}
		if (buf[n - 1] == '.') {
			buf[n - 1] = '\0';
		}
		p->site.resources.cpus = (char *)pin_str(p, buf);
	}
	return 0;
}

/* The recorded scalars and lists of a colour spec into p->site. */
static int pin_fields(struct des_pin *p, struct json_object *o)
{
	bool bad = false;
	struct json_object *kind = rec_get(o, "kind", json_type_string, &bad);
	struct json_object *image = rec_get(o, "image", json_type_string, &bad);
	struct json_object *id = rec_get(o, "image_id", json_type_string, &bad);
	struct json_object *cmd = rec_get(o, "command", json_type_array, &bad);
	struct json_object *port = rec_get(o, "port", json_type_int, &bad);
	struct json_object *repl = rec_get(o, "replicas", json_type_int, &bad);
	struct json_object *sig = rec_get(o, "stop_signal", json_type_string, &bad);
	struct json_object *stop = rec_get(o, "stop_timeout_ms", json_type_int, &bad);
	struct json_object *res = rec_get(o, "resources", json_type_object, &bad);
	/* Not part of the record: the CLI adds it when the image is gone (versions.h). */
	struct json_object *pull = rec_get(o, "restore_pull", json_type_string, &bad);
	int64_t pv = port ? json_object_get_int64(port) : 0;
	int64_t rv = repl ? json_object_get_int64(repl) : 0;

	if (bad || !kind || strcmp(json_object_get_string(kind), "colour") != 0 || !image ||
			pv < 1 || pv > 65535 || rv < 1 || rv > 100) {
		return BG_EPARSE;
	}
	p->site.image = (char *)pin_str(p, json_object_get_string(image));
	p->image_id = id ? bg_xstrdup(json_object_get_string(id)) : NULL;
	p->pull_ref = pull && strstr(json_object_get_string(pull), "@sha256:")
		? bg_xstrdup(json_object_get_string(pull)) : NULL;
	p->site.port = (unsigned)pv;
	p->site.replicas = (unsigned)rv;
	for (size_t i = 0; cmd && i < json_object_array_length(cmd); i++) {
		struct json_object *a = json_object_array_get_idx(cmd, i);
		if (!a || !json_object_is_type(a, json_type_string)) {
			return BG_EPARSE;
		}
		bg_strv_push(&p->site.command, json_object_get_string(a));
	}
	p->site.stop_signal = sig ? (char *)pin_str(p, json_object_get_string(sig)) : NULL;
	if (stop) {
		int64_t ms = json_object_get_int64(stop);
		p->site.stop_timeout_ms = ms > 0 ? (uint64_t)ms : 0;
	}
	p->site.resources = (struct cfg_resources){0};
	return res ? pin_resources(p, res) : 0;
}

/* Read the record of version into a copy of s's configuration (s->pin). */
static int pin_parse(struct des_site *s, unsigned version, const char *json,
		struct bg_diag *d)
{
	const struct cfg_site *cur = s->cfg;
	struct des_pin *p = s->pin;
	struct json_object *o = json_tokener_parse(json);
	bool bad = false;
	int err = BG_EPARSE;

	p->site = *cur;
	bg_strv_init(&p->site.command); /* the copy's own, never cur's */
	if (o && json_object_is_type(o, json_type_object)) {
		err = pin_fields(p, o);
	}
	if (!err) {
		err = pin_mounts(p, rec_get(o, "mounts", json_type_array, &bad), s->name);
	}
	if (!err && !bad) {
		err = pin_env(p, rec_get(o, "env", json_type_object, &bad), cur, s, version, d);
	}
	if (!err && bad) {
		err = BG_EPARSE;
	}
	if (err == BG_EPARSE) {
		bg_diag_error(d, NULL, "version %u of '%s' in the history is not a colour spec "
				"bluegreen can read back", version, s->name);
	} else if (!err && !p->image_id) {
		bg_diag_error(d, NULL, "v%u of '%s' recorded no image id (its image was not "
				"present when it was recorded): bluegreen cannot tell which image "
				"it ran", version, s->name);
		err = BG_ECONFIG;
	}
	json_object_put(o);
	return err;
}

static int des_site_pin(struct desired *des, const struct obs *obs, struct des_site *s,
		unsigned version, const char *json, struct bg_diag *d)
{
	s->pin = bg_xcalloc(1, sizeof(*s->pin));
	bg_strv_init(&s->pin->strs);
	int err = pin_parse(s, version, json, d);
	if (err) {
		return err;
	}
	const struct cfg_site *ps = &s->pin->site;
	s->cfg = ps;
	s->pinned_from = version;
	s->image_id = s->pin->image_id;
	s->create_image = s->pin->image_id;
	bg_strv_release(&s->volumes);
	bg_strv_init(&s->volumes);
	for (size_t k = 0; k < ps->n_mounts; k++) {
		des__add_unique(&s->volumes, des_volume_name(s->name, ps->mounts[k].volume));
	}
	for (size_t k = 0; k < s->n_services; k++) {
		for (size_t m = 0; m < s->services[k].volumes.n; m++) {
			des__add_unique(&s->volumes, bg_xstrdup(s->services[k].volumes.v[m]));
		}
	}
	bg_strv_sort(&s->volumes);
	free(s->spec_json);
	des__spec_finish(des__colour_spec(des, ps, s->image_id, s->network, true),
			des__colour_spec(des, ps, s->image_id, s->network, false),
			s->spec, &s->spec_json);
	des__secrets_mac(&ps->env, &obs->secrets, s->secrets, &des->secrets_uncompared);
	s->version = des__version_of(obs, s->name, s->spec, &s->version_new, &s->rejected);
	return 0;
}

int des_build_args(struct desired *out, const struct cfg *cfg, const struct obs *obs,
		const struct plan_args *args, struct bg_diag *d)
{
	int err = des_build(out, cfg, obs, d);
	if (err || !args || args->kind != PLAN_ROLLBACK || !args->to_version) {
		return err;
	}
	struct des_site *s = args->sites.n == 1
		? (struct des_site *)des_site_find(out, args->sites.v[0]) : NULL;
	if (!s) {
		bg_diag_error(d, NULL, "rollback --to %u names no configured site", args->to_version);
		err = BG_ENOT_FOUND;
	} else if (!args->to_spec_json) {
		bg_diag_error(d, NULL, "rollback --to %u of '%s': the plan does not carry the "
				"recorded spec of that version", args->to_version, s->name);
		err = BG_EPARSE;
	} else {
		err = des_site_pin(out, obs, s, args->to_version, args->to_spec_json, d);
	}
	if (err) {
		des_release(out);
	}
	return err;
}

char *des_pin_image_gone_explain(const char *site, unsigned version, const char *image,
		const char *image_id)
{
	const char *id = image_id ? image_id : "?";
	if (!image || !*image) {
		return bg_xasprintf("v%u of %s ran the image with id %s, and no image with that id "
				"is on this host any more; no name was recorded to pull it by: load or "
				"build exactly that image, then retry", version, site, id);
	}
	/* Why the id and not the name: the name may have been pushed again since,
	 * and running another build as vN would be no rollback at all. */
	return bg_xasprintf("v%u of %s ran %s with image id %s, and no image with that id is "
			"on this host any more: pull %s again (docker pull %s), then retry. The "
			"pulled image must have exactly that id: v%u is that build (its spec hash "
			"covers the id, not only the name), and if %s now names another build, "
			"pulling it does not bring v%u back", version, site, image, id, image, image,
			version, image, version);
}

const char *des_pin_pull_ref(const struct des_site *s)
{
	return s && s->pin ? s->pin->pull_ref : NULL;
}
