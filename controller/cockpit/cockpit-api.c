/*
 * cockpit-api: /api/v1, the JSON of safe mode. A site object is the
 * snapshot's, which has `bluegreen status --json`'s fields; history
 * entries are hist_entry_to_json's, as `bluegreen history --json` prints
 * them. Nothing here writes.
 */
#include "cockpit-int.h"

#include "hist.h"

static void ck_json_reply(struct cockpit_reply *r, unsigned status, struct json_object *o)
{
	r->status = status;
	r->ctype = "application/json";
	bg_buf_reset(&r->body);
	bg_buf_adds(&r->body, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	bg_buf_addch(&r->body, '\n');
	json_object_put(o);
}

static struct json_object *ck_json_error(const char *why)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(why));
	return o;
}

void ck_api_sites(struct cockpit *ck, struct cockpit_reply *r)
{
	struct ck_snap s;
	ck_snap_load(ck, r, &s);
	if (!s.root) {
		ck_json_reply(r, 503, ck_json_error(s.why));
		return;
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "written_at_ms", json_object_new_int64(s.written_at_ms));
	json_object_object_add(o, "sites", json_object_get(s.sites));
	ck_snap_release(&s);
	ck_json_reply(r, 200, o);
}

struct ck_hist_walk {
	struct json_object *arr;
};

static int ck_hist_json(const struct hist_entry *e, void *arg)
{
	struct ck_hist_walk *w = arg;
	struct bg_buf b = BG_BUF_INIT;
	if (hist_entry_to_json(e, &b) == 0) {
		struct json_object *o = json_tokener_parse(b.data);
		if (o) {
			json_object_array_add(w->arr, o);
		}
	}
	bg_buf_release(&b);
	return 0;
}

/* Newest `limit` entries of site (NULL: all sites), oldest first. */
static struct json_object *ck_history(struct cockpit *ck, const char *site, size_t limit)
{
	struct ck_hist_walk w = {json_object_new_array()};
	ck_hist_foreach(ck, site, 0, limit, ck_hist_json, &w); /* issue 15 (P): or the publish dir */
	return w.arr;
}

void ck_api_site(struct cockpit *ck, const char *name, struct cockpit_reply *r)
{
	struct ck_snap s;
	ck_snap_load(ck, r, &s);
	if (!s.root) {
		ck_json_reply(r, 503, ck_json_error(s.why));
		return;
	}
	struct json_object *site = ck_snap_site(&s, name);
	if (!site) {
		ck_snap_release(&s);
		ck_json_reply(r, 404, ck_json_error("no such site"));
		return;
	}
	struct json_object *o = json_object_get(site);
	ck_snap_release(&s);
	/* A copy would be cleaner; the snapshot is ours alone, so add to it. */
	json_object_object_add(o, "history", ck_history(ck, name, 50));
	ck_json_reply(r, 200, o);
}

void ck_api_history(struct cockpit *ck, const char *query, struct cockpit_reply *r)
{
	if (ck_scope_limited(r->scope)) { /* issue 15: a viewer's sites only */
		ck_api_history_scoped(ck, query, r);
		return;
	}
	char *site = ck_query_get(query, "site");
	char *lim = ck_query_get(query, "limit");
	unsigned long limit = lim ? strtoul(lim, NULL, 10) : 100;
	if (site && !ck_site_name_ok(site)) {
		ck_json_reply(r, 400, ck_json_error("site: not a site name"));
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "entries", ck_history(ck, site,
				limit == 0 || limit > 1000 ? 1000 : limit));
		ck_json_reply(r, 200, o);
	}
	free(site);
	free(lim);
}

/* ---- issue 15: what a viewer may see ---- */

void ck_api_no_site(struct cockpit_reply *r)
{
	ck_json_reply(r, 404, ck_json_error("no such site"));
}

static int ck_seq_cmp(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a, *y = *(struct json_object *const *)b;
	struct json_object *vx = NULL, *vy = NULL;
	json_object_object_get_ex(x, "seq", &vx);
	json_object_object_get_ex(y, "seq", &vy);
	int64_t sx = json_object_get_int64(vx), sy = json_object_get_int64(vy);
	return sx < sy ? -1 : sx > sy;
}

/*
 * The history of a viewer: each of its sites walked on its own (newest
 * `limit` each), merged by sequence number, the newest `limit` kept.
 * Entries of no site (a plan of all sites) name other sites: never shown.
 * A site it may not see gives what an unknown site gives: no entry.
 */
void ck_api_history_scoped(struct cockpit *ck, const char *query, struct cockpit_reply *r)
{
	char *site = ck_query_get(query, "site");
	char *lim = ck_query_get(query, "limit");
	unsigned long limit = lim ? strtoul(lim, NULL, 10) : 100;
	limit = limit == 0 || limit > 1000 ? 1000 : limit;
	if (site && !ck_site_name_ok(site)) {
		ck_json_reply(r, 400, ck_json_error("site: not a site name"));
		goto out;
	}
	struct json_object *all = json_object_new_array();
	for (size_t i = 0; i < r->scope->sites.n; i++) {
		const char *one = r->scope->sites.v[i];
		if (site && strcmp(site, one) != 0) {
			continue;
		}
		struct json_object *part = ck_history(ck, one, limit);
		for (size_t k = 0; k < json_object_array_length(part); k++) {
			json_object_array_add(all, json_object_get(json_object_array_get_idx(part, k)));
		}
		json_object_put(part);
	}
	json_object_array_sort(all, ck_seq_cmp);
	size_t n = json_object_array_length(all);
	if (n > limit) {
		json_object_array_del_idx(all, 0, n - limit);
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "entries", all);
	ck_json_reply(r, 200, o);
out:
	free(site);
	free(lim);
}
