/*
 * cockpit-pub: where the cockpit's journal comes from. Either the history
 * itself (read-only LMDB, the cockpit run as the daemon's user) or, with a
 * publish directory (cockpit.publish_dir, --publish-dir), the window of the
 * journal the daemon publishes there as journal.json (pubdir.h): then the
 * cockpit, run as an unprivileged user, opens nothing of the state
 * directory. Every reader of the journal goes through ck_hist_*, so the
 * pages, the API, the metrics and the event stream read the same way from
 * both. The published file is re-read when it changes (inode, size, mtime);
 * readers hold a reference to the parsed copy, so a re-read never pulls it
 * from under a page being rendered.
 */
#include "cockpit-int.h"

#include "bg-fs.h"
#include "hist.h"
#include "obs.h"

#include <sys/stat.h>

/* journal.json: the newest 1000 entries and 50 per site; a plan's text is a few KB. */
#define CK_PUB_MAX (64u << 20)

/* One parsed journal.json, shared by its readers. */
struct ck_pub_data {
	unsigned refs;
	struct hist_entry *v; /* oldest first */
	size_t n;
	uint64_t last_seq;
	struct json_object *counts, *versions;
};

struct ck_pub {
	char *path;
	pthread_mutex_t mu;
	struct stat seen; /* the file the data was read from */
	bool have_seen;
	struct ck_pub_data *data;
};

static void ck_pub_data_put(struct ck_pub *p, struct ck_pub_data *d)
{
	if (!d) {
		return;
	}
	pthread_mutex_lock(&p->mu);
	bool last = --d->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last) {
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		hist_entry_release(&d->v[i]);
	}
	free(d->v);
	json_object_put(d->counts);
	json_object_put(d->versions);
	free(d);
}

struct ck_pub *ck_pub_new(const char *dir)
{
	struct ck_pub *p = bg_xcalloc(1, sizeof(*p));
	p->path = bg_xasprintf("%s/%s", dir, CK_PUB_JOURNAL);
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void ck_pub_free(struct ck_pub *p)
{
	if (!p) {
		return;
	}
	struct ck_pub_data *d = p->data;
	p->data = NULL;
	ck_pub_data_put(p, d);
	pthread_mutex_destroy(&p->mu);
	free(p->path);
	free(p);
}

static char *ck_pub_str(struct json_object *o, const char *key)
{
	const char *s = ck_jstr(o, key);
	return s ? bg_xstrdup(s) : NULL;
}

static struct ck_pub_data *ck_pub_parse(const char *text)
{
	struct json_object *root = json_tokener_parse(text), *v = NULL, *arr = NULL;
	if (!root || !json_object_object_get_ex(root, "format", &v) || json_object_get_int(v) != 1 ||
			!json_object_object_get_ex(root, "entries", &arr) ||
			!json_object_is_type(arr, json_type_array)) {
		json_object_put(root);
		return NULL;
	}
	struct ck_pub_data *d = bg_xcalloc(1, sizeof(*d));
	d->refs = 1;
	d->n = json_object_array_length(arr);
	d->v = bg_xcalloc(d->n ? d->n : 1, sizeof(*d->v));
	for (size_t i = 0; i < d->n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		struct hist_entry *h = &d->v[i];
		h->seq = json_object_object_get_ex(e, "seq", &v) ? (uint64_t)json_object_get_int64(v) : 0;
		h->time_ms = json_object_object_get_ex(e, "time_ms", &v) ? json_object_get_int64(v) : 0;
		h->actor = ck_pub_str(e, "actor");
		h->action = ck_pub_str(e, "action");
		h->site = ck_pub_str(e, "site");
		h->token = ck_pub_str(e, "token");
		h->result = ck_pub_str(e, "result");
		h->details = ck_pub_str(e, "details");
		h->sudo_user = ck_pub_str(e, "sudo_user");
		h->prev = ck_pub_str(e, "prev");
	}
	if (json_object_object_get_ex(root, "last_seq", &v)) {
		d->last_seq = (uint64_t)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(root, "counts", &v)) {
		d->counts = json_object_get(v);
	}
	if (json_object_object_get_ex(root, "versions", &v)) {
		d->versions = json_object_get(v);
	}
	json_object_put(root);
	return d;
}

/* The current data (a reference: ck_pub_data_put it), re-read if the file changed. */
static struct ck_pub_data *ck_pub_get(struct ck_pub *p)
{
	struct stat st;
	bool changed = lstat(p->path, &st) == 0;
	pthread_mutex_lock(&p->mu); /* seen is written by another reader's re-read */
	changed = changed && (!p->have_seen || st.st_ino != p->seen.st_ino ||
			st.st_size != p->seen.st_size ||
			st.st_mtim.tv_sec != p->seen.st_mtim.tv_sec ||
			st.st_mtim.tv_nsec != p->seen.st_mtim.tv_nsec);
	pthread_mutex_unlock(&p->mu);
	if (changed) {
		char *text = NULL;
		struct stat got;
		/* Not through a link, a regular file only (bg_file_read_safe). */
		if (bg_file_read_safe(NULL, p->path, CK_PUB_MAX, &text, NULL, &got, NULL) == 0) {
			struct ck_pub_data *d = ck_pub_parse(text), *old = NULL;
			pthread_mutex_lock(&p->mu);
			if (d) {
				old = p->data;
				p->data = d;
				p->seen = got;
				p->have_seen = true;
			}
			pthread_mutex_unlock(&p->mu);
			ck_pub_data_put(p, old);
		}
		free(text);
	}
	pthread_mutex_lock(&p->mu);
	struct ck_pub_data *d = p->data;
	if (d) {
		d->refs++;
	}
	pthread_mutex_unlock(&p->mu);
	return d;
}

/* ---- the journal, from the history or the publish directory ---- */

uint64_t ck_hist_last_seq(struct cockpit *ck)
{
	if (ck->o.hist) {
		return hist_last_seq(ck->o.hist);
	}
	struct ck_pub_data *d = ck->pub ? ck_pub_get(ck->pub) : NULL;
	uint64_t last = d ? d->last_seq : 0;
	ck_pub_data_put(ck->pub, d);
	return last;
}

/* hist_foreach's contract over the published window. */
int ck_hist_foreach(struct cockpit *ck, const char *site, uint64_t after, size_t limit,
		hist_entry_cb cb, void *arg)
{
	if (ck->o.hist) {
		return hist_foreach(ck->o.hist, site, after, limit, cb, arg);
	}
	struct ck_pub_data *d = ck->pub ? ck_pub_get(ck->pub) : NULL;
	size_t first = d ? d->n : 0, taken = 0;
	int rc = 0;
	/* From the newest back: where the newest `limit` matching entries begin. */
	for (size_t i = first; i > 0; i--) {
		const struct hist_entry *e = &d->v[i - 1];
		if (e->seq <= after) {
			break;
		}
		if (site ? e->site && strcmp(e->site, site) == 0 : true) {
			first = i - 1;
			if (limit && ++taken == limit) {
				break;
			}
		}
	}
	for (size_t i = first; d && i < d->n && !rc; i++) {
		const struct hist_entry *e = &d->v[i];
		if (e->seq > after && (!site || (e->site && strcmp(e->site, site) == 0))) {
			rc = cb(e, arg);
		}
	}
	ck_pub_data_put(ck->pub, d);
	return rc;
}

/* The site versions (hist_observe's part the site page shows). */
int ck_hist_observe(struct cockpit *ck, struct obs *o)
{
	if (ck->o.hist) {
		return hist_observe(ck->o.hist, o);
	}
	struct ck_pub_data *d = ck->pub ? ck_pub_get(ck->pub) : NULL;
	size_t n = d && d->versions ? json_object_array_length(d->versions) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(d->versions, i), *v = NULL;
		const char *site = ck_jstr(s, "site");
		if (!site) {
			continue;
		}
		struct obs_hist_site *hs = obs_hist_add(o);
		hs->site = bg_xstrdup(site);
		if (json_object_object_get_ex(s, "last_version", &v)) {
			hs->last_version = (unsigned)json_object_get_int64(v);
		}
		static const char *const lists[] = {"spec_versions", "rejected"};
		for (size_t k = 0; k < 2; k++) {
			struct bg_strv *to = k ? &hs->rejected : &hs->spec_versions;
			if (!json_object_object_get_ex(s, lists[k], &v) || !json_object_is_type(v, json_type_array)) {
				continue;
			}
			for (size_t j = 0; j < json_object_array_length(v); j++) {
				const char *x = json_object_get_string(json_object_array_get_idx(v, j));
				if (x) {
					bg_strv_push(to, x);
				}
			}
		}
	}
	ck_pub_data_put(ck->pub, d);
	return d ? 0 : BG_ERRNO(ENOENT);
}

/*
 * The counters by action and result over the whole journal, as the daemon
 * counted them (the window holds only the newest entries): cb for each.
 * Returns false when there is no published count (the history is read).
 */
bool ck_hist_counts(struct cockpit *ck, void (*cb)(struct cockpit *ck, const char *action,
		const char *result, uint64_t n))
{
	if (ck->o.hist || !ck->pub) {
		return false;
	}
	struct ck_pub_data *d = ck_pub_get(ck->pub);
	size_t n = d && d->counts ? json_object_array_length(d->counts) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(d->counts, i), *v = NULL;
		const char *a = ck_jstr(c, "action"), *r = ck_jstr(c, "result");
		if (a && r && json_object_object_get_ex(c, "n", &v)) {
			cb(ck, a, r, (uint64_t)json_object_get_int64(v));
		}
	}
	bool have = d && d->counts;
	ck_pub_data_put(ck->pub, d);
	return have;
}
