/*
 * bk-manifest: what a backup's manifest looks like as JSON (the
 * manifest.json beside the parts, so a backup can be understood without
 * bluegreen, and the history record), backup ids, and retention's choice
 * as a pure function. No I/O here: the unit tests cover it whole.
 */
#include "bg.h"
#include "bk.h"
#include "bg-util.h"

#include <json-c/json.h>
#include <time.h>

void bk_id_make(int64_t now_ms, unsigned rnd, char out[BK_ID_MAX])
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* The 4 hex digits: the milliseconds times 16 plus a random nibble,
	 * so ids of one second still sort by time. */
	snprintf(out, BK_ID_MAX, "%04d%02d%02dT%02d%02d%02dZ-%04x", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			(unsigned)(now_ms % 1000) * 16u + (rnd & 15u));
}

bool bk_id_valid(const char *id)
{
	static const char shape[] = "dddddddd" "T" "dddddd" "Z-" "xxxx";

	if (!id || strlen(id) != sizeof(shape) - 1) {
		return false;
	}
	for (size_t i = 0; shape[i]; i++) {
		char c = id[i];
		bool ok = shape[i] == 'd' ? (c >= '0' && c <= '9')
			: shape[i] == 'x' ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
			: c == shape[i];
		if (!ok) {
			return false;
		}
	}
	return true;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

int bk_manifest_to_json(const struct bk_manifest *m, struct bg_buf *out)
{
	struct json_object *o = json_object_new_object(), *parts = json_object_new_array();

	json_object_object_add(o, "format", json_object_new_int(1));
	add_str(o, "id", m->id);
	add_str(o, "site", m->site);
	add_str(o, "why", m->why);
	add_str(o, "actor", m->actor);
	json_object_object_add(o, "started_ms", json_object_new_int64(m->started_ms));
	json_object_object_add(o, "duration_ms", json_object_new_int64((int64_t)m->duration_ms));
	add_str(o, "live_colour", m->live_colour);
	json_object_object_add(o, "live_version", json_object_new_int64(m->live_version));
	add_str(o, "compression", m->compression);
	for (size_t i = 0; i < m->n_parts; i++) {
		const struct bk_part *p = &m->parts[i];
		struct json_object *j = json_object_new_object();
		add_str(j, "file", p->file);
		add_str(j, "kind", p->kind);
		add_str(j, "object", p->object);
		json_object_object_add(j, "bytes", json_object_new_int64((int64_t)p->bytes));
		add_str(j, "sha256", p->sha256);
		json_object_array_add(parts, j);
	}
	json_object_object_add(o, "parts", parts);
	json_object_object_add(o, "total_bytes", json_object_new_int64((int64_t)m->total_bytes));
	json_object_object_add(o, "verified_ms", json_object_new_int64(m->verified_ms));
	json_object_object_add(o, "verify_failed", json_object_new_boolean(m->verify_failed));
	bg_buf_adds(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
				JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	bg_buf_addch(out, '\n');
	json_object_put(o);
	return 0;
}

/* A string member (NULL allowed when !need). */
static int get_str(struct json_object *o, const char *k, bool need, char **out,
		struct bg_diag *d)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v) || !v) {
		if (need) {
			bg_diag_error(d, NULL, "backup manifest: '%s' is missing", k);
			return BG_EPARSE;
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		bg_diag_error(d, NULL, "backup manifest: '%s' is not a string", k);
		return BG_EPARSE;
	}
	*out = bg_xstrdup(json_object_get_string(v));
	return 0;
}

static int64_t get_int(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static int parts_from_json(struct json_object *a, struct bk_manifest *m, struct bg_diag *d)
{
	size_t n = a ? json_object_array_length(a) : 0;
	int err = 0;

	m->parts = bg_xcalloc(n ? n : 1, sizeof(*m->parts));
	for (size_t i = 0; i < n && !err; i++) {
		struct json_object *j = json_object_array_get_idx(a, i);
		struct bk_part *p = &m->parts[m->n_parts++];
		char *sha = NULL;
		err = get_str(j, "file", true, &p->file, d);
		if (!err && (strchr(p->file, '/') || p->file[0] == '.')) {
			bg_diag_error(d, NULL, "backup manifest: part '%s' is not a plain name",
					p->file);
			err = BG_EPARSE;
		}
		err = err ? err : get_str(j, "kind", true, &p->kind, d);
		err = err ? err : get_str(j, "object", true, &p->object, d);
		err = err ? err : get_str(j, "sha256", true, &sha, d);
		if (!err && strlen(sha) != 64) {
			bg_diag_error(d, NULL, "backup manifest: part '%s' has no sha256", p->file);
			err = BG_EPARSE;
		}
		if (!err) {
			memcpy(p->sha256, sha, 65);
		}
		p->bytes = (uint64_t)get_int(j, "bytes");
		free(sha);
	}
	return err;
}

int bk_manifest_from_json(const char *s, struct bk_manifest *m, struct bg_diag *d)
{
	struct json_object *o = json_tokener_parse(s), *v = NULL;
	int err = 0;

	if (!o || !json_object_is_type(o, json_type_object)) {
		bg_diag_error(d, NULL, "backup manifest: not a JSON object");
		json_object_put(o);
		return BG_EPARSE;
	}
	err = get_str(o, "id", true, &m->id, d);
	if (!err && !bk_id_valid(m->id)) {
		bg_diag_error(d, NULL, "backup manifest: '%s' is not a backup id", m->id);
		err = BG_EPARSE;
	}
	err = err ? err : get_str(o, "site", true, &m->site, d);
	err = err ? err : get_str(o, "why", false, &m->why, d);
	err = err ? err : get_str(o, "actor", false, &m->actor, d);
	err = err ? err : get_str(o, "live_colour", false, &m->live_colour, d);
	err = err ? err : get_str(o, "compression", true, &m->compression, d);
	if (!err) {
		json_object_object_get_ex(o, "parts", &v);
		if (v && !json_object_is_type(v, json_type_array)) {
			bg_diag_error(d, NULL, "backup manifest: 'parts' is not a list");
			err = BG_EPARSE;
		} else {
			err = parts_from_json(v, m, d);
		}
	}
	m->started_ms = get_int(o, "started_ms");
	m->duration_ms = (uint64_t)get_int(o, "duration_ms");
	m->live_version = (unsigned)get_int(o, "live_version");
	m->total_bytes = (uint64_t)get_int(o, "total_bytes");
	m->verified_ms = get_int(o, "verified_ms");
	v = NULL;
	m->verify_failed = json_object_object_get_ex(o, "verify_failed", &v) &&
		json_object_get_boolean(v);
	json_object_put(o);
	if (err) {
		bk_manifest_release(m);
	}
	return err;
}

size_t bk_prune_choose(const struct bk_manifest *v, size_t n, unsigned keep,
		uint64_t max_age_ms, int64_t now_ms, bool *drop)
{
	size_t good = n, dropped = 0;

	for (size_t i = 0; i < n; i++) {
		if (!v[i].verify_failed) {
			good = i;
			break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool old = max_age_ms && now_ms - v[i].started_ms > (int64_t)max_age_ms;
		drop[i] = i != good && (i >= (keep ? keep : 1) || old);
		dropped += drop[i];
	}
	return dropped;
}
