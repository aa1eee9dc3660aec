/*
 * cmd-versions: `bluegreen versions SITE [--json]`. Every version the
 * history recorded for a site, newest first: its image (reference and
 * short id), when it was first and last live (from the journal's switch
 * and rollback entries), whether it is live now or the warm previous
 * colour, the registry digest kept when it went live, and whether
 * `rollback SITE --to VERSION` can still bring it back (its image id is
 * here: present; gone but a digest was kept: pullable, the plan pulls
 * repo@sha256:...; gone with no digest: no, and why).
 * Reads only. The helpers (versions.h) serve `rollback --to` too.
 */
#include "bg.h"
#include "cli.h"
#include "versions.h"
#include "hist-live.h"

#include <json-c/json.h>
#include <time.h>

int ver_spec_image(const char *spec_json, char **image, char **image_id)
{
	struct json_object *o = json_tokener_parse(spec_json ? spec_json : "");
	struct json_object *v = NULL;

	*image = NULL;
	*image_id = NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return BG_EPARSE;
	}
	if (json_object_object_get_ex(o, "image", &v) && json_object_is_type(v, json_type_string)) {
		*image = bg_xstrdup(json_object_get_string(v));
	}
	if (json_object_object_get_ex(o, "image_id", &v) &&
			json_object_is_type(v, json_type_string)) {
		*image_id = bg_xstrdup(json_object_get_string(v));
	}
	json_object_put(o);
	return 0;
}

void ver_list_free(struct ver_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].spec);
		free(v[i].image);
		free(v[i].image_id);
		free(v[i].digest);
	}
	free(v);
}

/* The journal walk: which version each switch or rollback made live, and when. */
struct live_walk {
	struct ver_info *v;
	size_t n;
	struct ver_info *cur; /* live after the last entry seen */
};

static struct ver_info *ver_find(struct ver_info *v, size_t n, unsigned version)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].version == version) {
			return &v[i];
		}
	}
	return NULL;
}

static int live_cb(const struct hist_entry *e, void *arg)
{
	struct live_walk *w = arg;
	char *dg = NULL;
	unsigned ver = 0;
	if (hist_digest_parse(e, &ver, &dg)) {
		struct ver_info *vi = ver_find(w->v, w->n, ver);
		if (vi) {
			free(vi->digest);
			vi->digest = dg;
			dg = NULL;
		}
		free(dg);
		return 0;
	}
	ver = hist_live_version(e); /* the same reading as the planner's */
	if (!ver) {
		return 0;
	}
	if (w->cur) {
		w->cur->last_live_ms = e->time_ms; /* it stopped being live here */
	}
	w->cur = ver_find(w->v, w->n, ver);
	if (w->cur && !w->cur->first_live_ms) {
		w->cur->first_live_ms = e->time_ms;
	}
	return 0;
}

/* The version of the site's colour containers (the first found), 0 if none. */
static unsigned colour_version(const struct obs *o, const char *site, const char *colour,
		bool *running)
{
	*running = false;
	for (size_t i = 0; colour && i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (c->site && strcmp(c->site, site) == 0 && c->colour && c->role &&
				strcmp(c->role, "colour") == 0 && strcmp(c->colour, colour) == 0) {
			*running = c->state == OBS_CSTATE_RUNNING;
			return c->version;
		}
	}
	return 0;
}

/* Live now and the warm previous, from the edge file and the containers. */
static void mark_now(struct ver_info *v, size_t n, const struct obs *o, const char *site)
{
	const struct obs_edge *e = obs_edge_find(o, site);
	const char *live = e && e->exists ? e->live : NULL;
	bool running = false;
	struct ver_info *lv = live ? ver_find(v, n, colour_version(o, site, live, &running)) : NULL;
	if (lv) {
		lv->live_now = true;
		lv->last_live_ms = 0;
	}
	const char *other = live ? (strcmp(live, "blue") == 0 ? "green" : "blue") : NULL;
	struct ver_info *pv = other ? ver_find(v, n, colour_version(o, site, other, &running))
				    : NULL;
	/* Warm previous: running, and live once (a candidate never was). */
	if (pv && pv != lv && running && pv->first_live_ms) {
		pv->previous = true;
	}
}

int ver_list(struct hist *h, const struct obs *o, struct rt *rt, const char *site,
		struct ver_info **out, size_t *n_out, struct bg_diag *d)
{
	const struct obs_hist_site *hs = obs_hist_find(o, site);
	unsigned last = hs ? hs->last_version : 0;
	struct ver_info *v = bg_xcalloc(last ? last : 1, sizeof(*v));
	size_t n = 0;
	int err = 0;

	for (unsigned k = last; k >= 1 && !err; k--) {
		char *json = NULL;
		struct ver_info *vi = &v[n];
		err = hist_version_get(h, site, k, &vi->spec, &json);
		if (err == BG_ENOT_FOUND) {
			err = 0;
			continue;
		}
		if (!err) {
			vi->version = k;
			ver_spec_image(json, &vi->image, &vi->image_id);
			n++;
		}
		free(json);
	}
	struct live_walk w = {.v = v, .n = n};
	if (!err) {
		err = hist_foreach(h, site, 0, 0, live_cb, &w);
	}
	mark_now(v, n, o, site);
	for (size_t i = 0; i < n && !err; i++) {
		char *id = NULL;
		v[i].restore = !v[i].image_id ? VER_RESTORE_UNKNOWN : VER_RESTORE_PRESENT;
		if (rt && v[i].image_id) {
			err = rt_image_id(rt, v[i].image_id, &id, d);
			v[i].restore = id ? VER_RESTORE_PRESENT
				: v[i].digest ? VER_RESTORE_PULLABLE : VER_RESTORE_NEEDS_PULL;
			free(id);
		}
	}
	if (err) {
		ver_list_free(v, n);
		v = NULL;
		n = 0;
	}
	*out = v;
	*n_out = n;
	return err;
}

struct digest_walk {
	unsigned version;
	char *digest;
};

static int digest_cb(const struct hist_entry *e, void *arg)
{
	struct digest_walk *w = arg;
	unsigned ver = 0;
	char *dg = NULL;
	if (hist_digest_parse(e, &ver, &dg) && ver == w->version) {
		free(w->digest);
		w->digest = dg; /* the newest wins */
		dg = NULL;
	}
	free(dg);
	return 0;
}

int ver_digest(struct hist *h, const char *site, unsigned version, char **digest)
{
	struct digest_walk w = {.version = version};
	int err = hist_foreach(h, site, 0, 0, digest_cb, &w);
	if (err) {
		free(w.digest);
		w.digest = NULL;
	}
	*digest = w.digest;
	return err;
}

char *ver_spec_with_pull(const char *spec_json, const char *digest)
{
	struct json_object *o = json_tokener_parse(spec_json ? spec_json : "");
	char *out = NULL;
	if (o && json_object_is_type(o, json_type_object)) {
		json_object_object_add(o, "restore_pull", json_object_new_string(digest));
		out = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
				JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(o);
	return out;
}

int ver_restore_pull(struct cli *cli, struct hist *h, const char *site, unsigned to,
		char **spec_json)
{
	char *dg = NULL;
	int err = ver_digest(h, site, to, &dg);
	char *with = !err && dg ? ver_spec_with_pull(*spec_json, dg) : NULL;
	if (!with) {
		free(dg);
		return err ? err : BG_ENOT_FOUND;
	}
	fprintf(cli->err, "bluegreen: v%u's image is no longer on this host: the plan pulls it "
			"by the registry digest kept when it went live (%s); the pulled image "
			"must have the recorded id\n", to, dg);
	free(*spec_json);
	*spec_json = with;
	free(dg);
	return 0;
}

/* ---- the command ---- */

static const char *restore_word(const struct ver_info *v)
{
	if (v->live_now) {
		return "live";
	}
	switch (v->restore) {
	case VER_RESTORE_PRESENT:
		return "present";
	case VER_RESTORE_PULLABLE:
		return "pullable";
	case VER_RESTORE_NEEDS_PULL:
		return "no: image gone, no registry digest recorded";
	default:
		return "unknown image";
	}
}

static void time_fmt(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!ms || !gmtime_r(&t, &tm)) {
		snprintf(out, 32, "-");
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "sha256:0123456789ab..." -> "0123456789ab" */
static const char *short_id(const char *id, char out[16])
{
	const char *p = id ? strchr(id, ':') : NULL;
	snprintf(out, 16, "%.12s", id ? (p ? p + 1 : id) : "-");
	return out;
}

static void print_text(struct cli *cli, const char *site, const struct ver_info *v, size_t n)
{
	if (n == 0) {
		fprintf(cli->out, "%s: no versions recorded yet\n", site);
		return;
	}
	fprintf(cli->out, "%-8s %-40s %-12s %-20s %-20s %-9s %-10s %s\n", "VERSION", "IMAGE",
			"IMAGE ID", "FIRST LIVE", "LAST LIVE", "NOW", "RESTORE", "DIGEST");
	for (size_t i = 0; i < n; i++) {
		char first[32], lastt[32], sid[16];
		time_fmt(v[i].first_live_ms, first);
		time_fmt(v[i].last_live_ms, lastt);
		fprintf(cli->out, "v%-7u %-40s %-12s %-20s %-20s %-9s %-10s %s\n", v[i].version,
				v[i].image ? v[i].image : "?", short_id(v[i].image_id, sid), first,
				v[i].live_now ? "now" : lastt,
				v[i].live_now ? "live" : v[i].previous ? "previous" : "-",
				restore_word(&v[i]), v[i].digest ? v[i].digest : "-");
	}
}

static struct json_object *jtime(int64_t ms)
{
	char t[32];
	time_fmt(ms, t);
	return ms ? json_object_new_string(t) : NULL;
}

static void print_json(struct cli *cli, const char *site, const struct ver_info *v, size_t n)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object_object_add(o, "site", json_object_new_string(site));
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "version", json_object_new_int64(v[i].version));
		json_object_object_add(e, "spec", json_object_new_string(v[i].spec ? v[i].spec : ""));
		json_object_object_add(e, "image", v[i].image ? json_object_new_string(v[i].image) : NULL);
		json_object_object_add(e, "image_id",
				v[i].image_id ? json_object_new_string(v[i].image_id) : NULL);
		json_object_object_add(e, "first_live", jtime(v[i].first_live_ms));
		json_object_object_add(e, "last_live", jtime(v[i].last_live_ms));
		json_object_object_add(e, "live_now", json_object_new_boolean(v[i].live_now));
		json_object_object_add(e, "previous", json_object_new_boolean(v[i].previous));
		json_object_object_add(e, "restore", json_object_new_string(restore_word(&v[i])));
		json_object_object_add(e, "digest", v[i].digest
				? json_object_new_string(v[i].digest) : NULL);
		json_object_object_add(e, "restorable", json_object_new_boolean(v[i].live_now ||
				v[i].restore == VER_RESTORE_PRESENT ||
				v[i].restore == VER_RESTORE_PULLABLE));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "versions", a);
	fprintf(cli->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int cmd_versions(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct ver_info *v = NULL;
	size_t n = 0;
	const char *site = NULL;
	struct bg_diag d;
	int rc;

	cli_env_init(&env);
	bg_diag_init(&d);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (argv[i][0] == '-' || site) {
			rc = cli_usage_error(cli, "versions: unexpected argument '%s' (usage: "
					"bluegreen versions SITE [--json])", argv[i]);
			goto out;
		}
		site = argv[i];
	}
	if (!site) {
		rc = cli_usage_error(cli, "versions: which site? (usage: bluegreen versions SITE)");
		goto out;
	}
	rc = cli_env_load(cli, &env, 0);
	if (!rc && !cfg_site_find(env.cfg, site)) {
		rc = cli_usage_error(cli, "versions: no site named '%s' in %s", site, env.dir);
	}
	if (!rc) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (!rc) {
		rc = cli_env_observe(cli, &env);
	}
	if (rc) {
		goto out;
	}
	if (ver_list(env.hist, &env.obs, env.rt, site, &v, &n, &d) != 0) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: cannot read the versions of '%s'\n", site);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	if (cli->json) {
		print_json(cli, site, v, n);
	} else {
		print_text(cli, site, v, n);
	}
	rc = BG_EXIT_OK;
out:
	ver_list_free(v, n);
	bg_diag_release(&d);
	cli_env_release(&env);
	return rc;
}
