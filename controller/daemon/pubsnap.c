/*
 * pubsnap: STATE_DIR/status.json, the daemon's published status (pubsnap.h,
 * docs/cockpit.md). The per-site object is `bluegreen status --json`'s,
 * built by the same code (sview.c), plus what the last plan says of the
 * site. A write happens only when the text changed or is old, so an event
 * storm costs one fsync per real change.
 */
#include "pubsnap.h"

#include "bg-fs.h"
#include "bg-log.h"
#include "bg-util.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "plan.h"
#include "pubdir.h"
#include "sview.h"

#include <json-c/json.h>
#include <pthread.h>
#include <unistd.h>

/* One site: status --json's object (sview.c), plus pending_changes and blocked. */
static struct json_object *pub_site_json(const struct obs *o, const struct desired *des,
		const struct des_site *s, const struct plan_site *ps)
{
	struct sview v;
	sview_fill(&v, o, des, s);
	struct json_object *j = sview_site_json(&v);
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
		json_object_array_add(sites, pub_site_json(o, &des, s, pub_plan_site(p, s->name)));
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
		const struct plan *p, struct hist *h)
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
		/* issue 15 (P): the journal may have grown meanwhile */
		pubdir_publish(cfg, h, o, b.data, b.len, false);
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
	/* issue 15 (P): the publish directory of an unprivileged cockpit (pubdir.h) */
	pubdir_publish(cfg, h, o, b.data, b.len, true);
out:
	free(path);
	bg_buf_release(&b);
	return err;
}
