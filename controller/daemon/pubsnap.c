/*
 * pubsnap: STATE_DIR/status.json, the daemon's published status (pubsnap.h,
 * docs/cockpit.md). The per-site object has the fields and words of
 * `bluegreen status --json`; its rendering lives in cmd-status.c, which
 * the daemon (a lower layer) cannot call, so the part the cockpit needs is
 * rendered here the same way until both share one function (the lead's
 * merge note). A write happens only when the text changed or is old, so
 * an event storm costs one fsync per real change.
 */
#include "pubsnap.h"

#include "bg-fs.h"
#include "bg-log.h"
#include "bg-util.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "plan.h"

#include <json-c/json.h>
#include <pthread.h>
#include <unistd.h>

struct pub_slot {
	unsigned n, running, healthy, unhealthy, version;
	const char *image, *spec;
};

/* The colour containers of one slot, counted as `status` counts them. */
static void pub_slot_fill(const struct obs *o, const char *site, const char *colour,
		struct pub_slot *si)
{
	memset(si, 0, sizeof(*si));
	for (size_t i = 0; colour && i < o->n_containers; i++) {
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

/* status's health words: "healthy (2/2)", "down (1/2 running)" ... */
static struct json_object *pub_health(const struct pub_slot *si)
{
	char buf[64];
	if (si->n == 0) {
		snprintf(buf, sizeof(buf), "no containers");
	} else if (si->unhealthy) {
		snprintf(buf, sizeof(buf), "unhealthy (%u/%u)", si->unhealthy, si->n);
	} else if (si->running < si->n) {
		snprintf(buf, sizeof(buf), "down (%u/%u running)", si->running, si->n);
	} else if (si->healthy == si->n) {
		snprintf(buf, sizeof(buf), "healthy (%u/%u)", si->healthy, si->n);
	} else {
		snprintf(buf, sizeof(buf), "running (%u/%u)", si->running, si->n);
	}
	return json_object_new_string(buf);
}

static struct json_object *pub_slot_json(const char *colour, const struct pub_slot *si,
		const char *role)
{
	if (!colour || si->n == 0) {
		return NULL;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "colour", json_object_new_string(colour));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "version", json_object_new_int((int)si->version));
	json_object_object_add(o, "image", si->image ? json_object_new_string(si->image) : NULL);
	json_object_object_add(o, "containers", json_object_new_int((int)si->n));
	json_object_object_add(o, "running", json_object_new_int((int)si->running));
	json_object_object_add(o, "health", pub_health(si));
	return o;
}

/* The role of the slot that is not live, as cmd-status.c names it. */
static const char *pub_other_role(const struct obs *o, const struct des_site *s,
		const struct pub_slot *li, const struct pub_slot *oi, bool candidate)
{
	const struct obs_hist_site *hs = obs_hist_find(o, s->name);
	if (candidate) {
		return "candidate";
	}
	if (oi->spec && hs && bg_strv_contains(&hs->rejected, oi->spec)) {
		return "rejected";
	}
	return oi->n && oi->version && li->version && oi->version > li->version
			? "never-live" : "previous";
}

/* One site: status --json's object, plus pending_changes and blocked. */
static struct json_object *pub_site_json(const struct obs *o, const struct des_site *s,
		const struct plan_site *ps)
{
	const struct obs_edge *e = obs_edge_find(o, s->name);
	const char *live = e && e->exists && !e->error ? e->live : NULL;
	const char *other = live ? des_other_colour(live) : NULL;
	struct pub_slot li, oi;
	pub_slot_fill(o, s->name, live, &li);
	pub_slot_fill(o, s->name, other, &oi);
	bool cand = oi.n && oi.spec && strcmp(oi.spec, s->spec) == 0 &&
			!(li.spec && strcmp(li.spec, s->spec) == 0) && !s->rejected;
	const char *role = pub_other_role(o, s, &li, &oi, cand);
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "site", json_object_new_string(s->name));
	json_object_object_add(j, "live", live ? json_object_new_string(live) : NULL);
	json_object_object_add(j, "version", li.version ? json_object_new_int((int)li.version) : NULL);
	json_object_object_add(j, "image", li.image ? json_object_new_string(li.image) : NULL);
	json_object_object_add(j, "health", live ? pub_health(&li)
			: json_object_new_string("not deployed"));
	json_object_object_add(j, "candidate", cand ? pub_slot_json(other, &oi, role) : NULL);
	json_object_object_add(j, "previous", !cand ? pub_slot_json(other, &oi, role) : NULL);
	json_object_object_add(j, "desired_rejected", json_object_new_boolean(s->rejected));
	json_object_object_add(j, "desired_version", json_object_new_int((int)s->version));
	json_object_object_add(j, "in_sync", json_object_new_boolean(li.spec &&
			strcmp(li.spec, s->spec) == 0));
	json_object_object_add(j, "edge_file", e && e->path ? json_object_new_string(e->path) : NULL);
	json_object_object_add(j, "pending_changes", ps
			? json_object_new_int64((int64_t)ps->n_actions) : NULL);
	json_object_object_add(j, "blocked", ps && ps->blocked
			? json_object_new_string(ps->blocked) : NULL);
	return j;
}

static const struct plan_site *pub_plan_site(const struct plan *p, const char *name)
{
	for (size_t i = 0; p && i < p->n_sites; i++) {
		if (p->sites[i].site && strcmp(p->sites[i].site, name) == 0) {
			return &p->sites[i];
		}
	}
	return NULL;
}

int pubsnap_render(const struct cfg *cfg, const struct obs *o, const struct plan *p,
		int64_t now_ms, struct bg_buf *out)
{
	struct desired des;
	struct bg_diag d;
	bg_diag_init(&d);
	memset(&des, 0, sizeof(des));
	int err = des_build(&des, cfg, o, &d);
	struct json_object *root = json_object_new_object(), *sites = json_object_new_array();
	for (size_t i = 0; !err && i < des.n_sites; i++) {
		const struct des_site *s = &des.sites[i];
		json_object_array_add(sites, pub_site_json(o, s, pub_plan_site(p, s->name)));
	}
	json_object_object_add(root, "format", json_object_new_int(PUBSNAP_FORMAT));
	json_object_object_add(root, "written_at_ms", json_object_new_int64(now_ms));
	json_object_object_add(root, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(root, "plan_ok", json_object_new_boolean(p != NULL));
	json_object_object_add(root, "pending_changes", p
			? json_object_new_int64((int64_t)plan_changes(p)) : NULL);
	json_object_object_add(root, "sites", sites);
	if (!err) {
		err = bg_buf_adds(out, json_object_to_json_string_ext(root,
				JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(root);
	des_release(&des);
	bg_diag_release(&d);
	return err;
}

/* The last text written, to skip identical rewrites (one daemon per process). */
static pthread_mutex_t pub_mu = PTHREAD_MUTEX_INITIALIZER;
static char pub_last_sha[65];
static int64_t pub_last_ms;
static int pub_last_err;

/* The text without its written_at_ms line: what "changed" compares. */
static void pub_digest(const struct bg_buf *b, char hex[65])
{
	const char *w = strstr(b->data, "\"written_at_ms\"");
	const char *eol = w ? strchr(w, '\n') : NULL;
	struct bg_buf t = BG_BUF_INIT;
	if (w && eol) {
		bg_buf_add(&t, b->data, (size_t)(w - b->data));
		bg_buf_adds(&t, eol);
	} else {
		bg_buf_add(&t, b->data, b->len);
	}
	bg_sha256_hex(t.data, t.len, hex);
	bg_buf_release(&t);
}

int pubsnap_publish(const char *state_dir, const struct cfg *cfg, const struct obs *o,
		const struct plan *p)
{
	struct bg_buf b = BG_BUF_INIT;
	char hex[65], *path = NULL;
	int64_t now = bg_now_ms();
	int err = pubsnap_render(cfg, o, p, now, &b);
	if (err) {
		goto out;
	}
	pub_digest(&b, hex);
	pthread_mutex_lock(&pub_mu);
	bool same = strcmp(hex, pub_last_sha) == 0 && now - pub_last_ms < PUBSNAP_REFRESH_MS;
	pthread_mutex_unlock(&pub_mu);
	if (same) {
		goto out;
	}
	path = bg_xasprintf("%s/%s", state_dir, PUBSNAP_FILE);
	const char *why = NULL;
	err = bg_file_write_atomic_why(path, NULL, b.data, b.len, 0640, &why);
	pthread_mutex_lock(&pub_mu);
	if (!err) {
		memcpy(pub_last_sha, hex, sizeof(pub_last_sha));
		pub_last_ms = now;
	} else if (err != pub_last_err) {
		/* Once per kind of failure: the daemon's log is not a flood. */
		bg_log(BG_LOG_WARN, "%s: cannot publish the status snapshot: %s", path,
				why ? why : bg_strerror(err));
	}
	pub_last_err = err;
	pthread_mutex_unlock(&pub_mu);
out:
	free(path);
	bg_buf_release(&b);
	return err;
}
