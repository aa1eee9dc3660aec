/*
 * sview: see sview.h. Moved from cmd-status.c so the watch daemon's
 * status.json is built by the same code as `status --json`.
 */
#include "bg.h"
#include "sview.h"

#include <json-c/json.h>
#include <time.h>
void sview_slot_fill(const struct obs *o, const char *site, const char *colour,
		struct sview_slot *si)
{
	memset(si, 0, sizeof(*si));
	if (!colour) {
		return;
	}
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (!c->site || strcmp(c->site, site) != 0 || !c->colour ||
				strcmp(c->colour, colour) != 0 || !c->role ||
				strcmp(c->role, "colour") != 0) {
			continue;
		}
		si->n++;
		si->running += c->state == OBS_CSTATE_RUNNING;
		si->healthy += c->health == OBS_HEALTH_HEALTHY;
		si->unhealthy += c->health == OBS_HEALTH_UNHEALTHY;
		if (!si->image || c->replica == 1) {
			si->version = c->version;
			si->image = c->image;
			si->spec = c->spec;
		}
	}
}

char *sview_health_word(const struct sview_slot *si)
{
	if (si->n == 0) {
		return bg_xstrdup("no containers");
	}
	if (si->unhealthy) {
		return bg_xasprintf("unhealthy (%u/%u)", si->unhealthy, si->n);
	}
	if (si->running < si->n) {
		return bg_xasprintf("down (%u/%u running)", si->running, si->n);
	}
	if (si->healthy == si->n) {
		return bg_xasprintf("healthy (%u/%u)", si->healthy, si->n);
	}
	return bg_xasprintf("running (%u/%u)", si->running, si->n);
}

static struct json_object *sview_slot_json(const char *colour, const struct sview_slot *si, const char *role)
{
	if (!colour || si->n == 0) {
		return NULL;
	}
	struct json_object *o = json_object_new_object();
	char *h = sview_health_word(si);
	json_object_object_add(o, "colour", json_object_new_string(colour));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "version", json_object_new_int((int)si->version));
	json_object_object_add(o, "image", si->image ? json_object_new_string(si->image) : NULL);
	json_object_object_add(o, "containers", json_object_new_int((int)si->n));
	json_object_object_add(o, "running", json_object_new_int((int)si->running));
	json_object_object_add(o, "health", json_object_new_string(h));
	free(h);
	return o;
}

static const char *tls_mode_name(enum cfg_tls_mode m)
{
	return m == CFG_TLS_AUTO ? "auto" : m == CFG_TLS_FILES ? "files" : "off";
}

/* "2027-03-05" of a unix time. */
static void day_format(int64_t t, char buf[16])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, 16, "%Y-%m-%d", &tm)) {
		snprintf(buf, 16, "?");
	}
}

/* The site's TLS in words, "auto, certificate valid 89 days (until 2027-03-05)"
 * (a new string), NULL with tls off. c: the observed certificate, if any. */
char *sview_tls_words(const struct cfg_site *cs, const struct obs_cert *c)
{
	char day[16];
	if (cs->tls.mode == CFG_TLS_OFF) {
		return NULL;
	}
	if (cs->tls.mode == CFG_TLS_FILES || !c) {
		return bg_xasprintf("%s%s", tls_mode_name(cs->tls.mode), cs->tls.mode ==
				CFG_TLS_AUTO ? ", the certificate is the edge proxy's" : "");
	}
	if (!c->exists) {
		return bg_xstrdup("auto, no certificate yet");
	}
	if (c->error) {
		return bg_xasprintf("auto, certificate unreadable: %s", c->error);
	}
	day_format(c->not_after, day);
	if (c->days_left < 0) {
		return bg_xasprintf("auto, certificate EXPIRED %" PRId64 " days ago (%s)",
				-c->days_left, day);
	}
	return bg_xasprintf("auto, certificate valid %" PRId64 " day%s (until %s)", c->days_left,
			c->days_left == 1 ? "" : "s", day);
}

/* The site's "tls" object of `status --json` (a new reference). */
static struct json_object *tls_json(const struct cfg_site *cs, const struct obs_cert *c)
{
	struct json_object *o = json_object_new_object();
	char day[16];
	json_object_object_add(o, "mode", json_object_new_string(tls_mode_name(cs->tls.mode)));
	if (!c) {
		return o;
	}
	struct json_object *names = json_object_new_array();
	for (size_t i = 0; i < c->names.n; i++) {
		json_object_array_add(names, json_object_new_string(c->names.v[i]));
	}
	day_format(c->not_after, day);
	json_object_object_add(o, "certificate", json_object_new_boolean(c->exists && !c->error));
	json_object_object_add(o, "path", c->path ? json_object_new_string(c->path) : NULL);
	json_object_object_add(o, "names", names);
	json_object_object_add(o, "not_after", c->not_after ? json_object_new_string(day) : NULL);
	json_object_object_add(o, "days_left", c->not_after
			? json_object_new_int64(c->days_left) : NULL);
	json_object_object_add(o, "serial", c->serial ? json_object_new_string(c->serial) : NULL);
	json_object_object_add(o, "error", c->error ? json_object_new_string(c->error) : NULL);
	return o;
}


/*
 * A live colour scaled in place (rec-scale.c) keeps replicas made under
 * the older count, whose spec hash differs from the desired one: it is in
 * sync when it has the desired count and every replica carries the
 * desired spec-base, as the planner sees it (the plan is empty then).
 */
static bool live_scaled_in_sync(const struct obs *o, const struct desired *des,
		const struct des_site *s, const char *live, unsigned n)
{
	char base[65];
	unsigned fit = 0;
	if (!live || n != s->cfg->replicas) {
		return false;
	}
	des_colour_spec_base(des, s, base);
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (c->site && strcmp(c->site, s->name) == 0 && c->colour &&
				strcmp(c->colour, live) == 0 && c->role &&
				strcmp(c->role, "colour") == 0) {
			if (!des_spec_base_matches(s, base, &c->labels)) {
				return false;
			}
			fit++;
		}
	}
	return fit == n;
}

void sview_fill(struct sview *v, const struct obs *o, const struct desired *des,
		const struct des_site *s)
{
	v->s = s;
	v->e = obs_edge_find(o, s->name);
	v->cert = obs_cert_find(o, s->name);
	v->live = v->e && v->e->exists && !v->e->error ? v->e->live : NULL;
	v->other = v->live ? des_other_colour(v->live) : NULL;
	sview_slot_fill(o, s->name, v->live, &v->li);
	sview_slot_fill(o, s->name, v->other, &v->oi);
	v->other_is_candidate = v->oi.n && v->oi.spec && strcmp(v->oi.spec, s->spec) == 0 &&
			!(v->li.spec && strcmp(v->li.spec, s->spec) == 0) && !s->rejected;
	const struct obs_hist_site *hs = obs_hist_find(o, s->name);
	bool other_rejected = v->oi.spec && hs && bg_strv_contains(&hs->rejected, v->oi.spec);
	/*
	 * No switch or rollback ever made its version live (the history
	 * says; without that fact: newer than the live version and not
	 * rolled back): a failed candidate, no rollback target, as the
	 * planner sees it (rec-colour.c never_live).
	 */
	int went = v->oi.n ? obs_hist_went_live(o, s->name, v->oi.version) : -1;
	bool other_never_live = went >= 0 ? went == 0
			: v->oi.n && v->oi.version && v->li.version && v->oi.version > v->li.version;
	v->other_role = v->other_is_candidate ? "candidate"
			: other_rejected ? "rejected"
			: other_never_live ? "never-live" : "previous";
	v->in_sync = (v->li.spec && strcmp(v->li.spec, s->spec) == 0) ||
			live_scaled_in_sync(o, des, s, v->live, v->li.n);
	v->desired_version = v->in_sync && v->li.version ? v->li.version : s->version;
}

/* The site's object of `status --json` (a new reference). */
struct json_object *sview_site_json(const struct sview *v)
{
	const struct des_site *s = v->s;
	char *lh = sview_health_word(&v->li);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "site", json_object_new_string(s->name));
	json_object_object_add(o, "live", v->live ? json_object_new_string(v->live) : NULL);
	json_object_object_add(o, "version", v->li.version
			? json_object_new_int((int)v->li.version) : NULL);
	json_object_object_add(o, "image", v->li.image ? json_object_new_string(v->li.image) : NULL);
	json_object_object_add(o, "health", json_object_new_string(v->live ? lh : "not deployed"));
	json_object_object_add(o, "candidate", v->other_is_candidate
			? sview_slot_json(v->other, &v->oi, "candidate") : NULL);
	json_object_object_add(o, "previous", !v->other_is_candidate
			? sview_slot_json(v->other, &v->oi, v->other_role) : NULL);
	json_object_object_add(o, "desired_rejected", json_object_new_boolean(s->rejected));
	json_object_object_add(o, "desired_version", json_object_new_int((int)v->desired_version));
	json_object_object_add(o, "in_sync", json_object_new_boolean(v->in_sync));
	json_object_object_add(o, "edge_file", v->e && v->e->path
			? json_object_new_string(v->e->path) : NULL);
	json_object_object_add(o, "tls", tls_json(s->cfg, v->cert));
	free(lh);
	return o;
}
