/*
 * hist-codec: the JSON records of the history store (hist-int.h), one
 * table-driven codec for every kind. A record is a JSON object with "v"
 * first and then the members of its field table, in table order; NULL
 * strings are left out and invalid UTF-8 is replaced with U+FFFD, so the
 * bytes of a record depend only on its table and its values (the hash
 * chain hashes those bytes: t-hist's codec_bytes holds them). The decoder
 * reads bytes from disk: it accepts anything, never crashes, and refuses
 * with a static reason. The same tables print `history --json` (a view:
 * no "v", absent strings as null).
 */
#include "bg.h"
#include "hist.h"
#include "hist-int.h"
#include "bg-util.h"

#include <json-c/json.h>

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
/* gmtime_r handles years 0..9999 in the ISO form; outside, print null. */
#define TIME_ISO_MAX INT64_C(253402300799999)

/* ---- UTF-8 ---- */

static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	if (c < 0x80) {
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0) {
			lo = 0xa0; /* overlong */
		} else if (c == 0xed) {
			hi = 0x9f; /* surrogates */
		}
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80) {
			return 0;
		}
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0) {
			lo = 0x90; /* overlong */
		} else if (c == 0xf4) {
			hi = 0x8f; /* above U+10FFFF */
		}
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 ||
				(s[3] & 0xc0) != 0x80) {
			return 0;
		}
		return 4;
	}
	return 0;
}

char *hist__utf8_fix(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	while (p[i] && (n = utf8_seq_len(p + i)) != 0) {
		i += n;
	}
	if (!p[i]) {
		return NULL;
	}
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_add(&b, s, i);
	while (p[i]) {
		n = utf8_seq_len(p + i);
		if (n) {
			bg_buf_add(&b, p + i, n);
			i += n;
		} else {
			bg_buf_adds(&b, "\xef\xbf\xbd");
			i++;
		}
	}
	return bg_buf_detach(&b, NULL);
}

/* ---- members ---- */

static void field_add_str(json_object *o, const char *key, const char *val)
{
	char *fixed = hist__utf8_fix(val);
	json_object_object_add(o, key, json_object_new_string(fixed ? fixed : val));
	free(fixed);
}

/*
 * Serialise o (consumed) into out; a record (limit) is refused over
 * HIST_VALUE_MAX.
 */
static int codec_finish(json_object *o, bool limit, struct bg_buf *out)
{
	size_t n = 0;
	const char *s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
	int err = 0;
	if (!s) {
		BG_BUG("json_object_to_json_string_length");
	}
	if (limit && n > HIST_VALUE_MAX) {
		err = BG_ETOO_BIG;
	} else {
		err = bg_buf_add(out, s, n);
	}
	json_object_put(o);
	return err;
}

/*
 * Parse one stored record: exactly one JSON object, strict syntax, valid
 * UTF-8, nothing after it, written by a format we know. A new reference.
 */
static json_object *codec_parse(const void *data, size_t len, const char **why)
{
	json_object *o = NULL, *v = NULL;
	struct json_tokener *tok = NULL;

	if (len == 0 || len > HIST_VALUE_MAX) {
		*why = "empty or oversized record";
		return NULL;
	}
	tok = json_tokener_new_ex(16);
	if (!tok) {
		BG_BUG("json_tokener_new_ex");
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, data, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
			json_tokener_get_parse_end(tok) != len) {
		*why = "not one JSON text";
		goto fail;
	}
	if (!json_object_is_type(o, json_type_object)) {
		*why = "not a JSON object";
		goto fail;
	}
	if (!json_object_object_get_ex(o, "v", &v) || !json_object_is_type(v, json_type_int)) {
		*why = "no format version";
		goto fail;
	}
	if (json_object_get_int64(v) != HIST_REC_VERSION) {
		*why = "unknown format version";
		goto fail;
	}
	json_tokener_free(tok);
	return o;
fail:
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}

/* A string member: absent or null -> NULL (unless required). */
static int field_str(json_object *o, const char *key, bool required, char **out,
		const char **why)
{
	json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required) {
			*why = "a required field is missing";
			return BG_EPARSE;
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		*why = "a text field is not a string";
		return BG_EPARSE;
	}
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	/* NUL inside, or a sequence json-c let through that we would rewrite. */
	if (strlen(s) != n) {
		*why = "a text field contains NUL";
		return BG_EPARSE;
	}
	char *fixed = hist__utf8_fix(s);
	if (fixed) {
		free(fixed);
		*why = "a text field is not valid UTF-8";
		return BG_EPARSE;
	}
	*out = bg_xstrndup(s, n);
	return 0;
}

static int field_int(json_object *o, const char *key, int64_t *out, const char **why)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
		*why = "a required number is missing";
		return BG_EPARSE;
	}
	*out = json_object_get_int64(v);
	return 0;
}

static int field_uint(json_object *o, const char *key, uint64_t *out, const char **why)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
		*why = "a required number is missing";
		return BG_EPARSE;
	}
	if (json_object_get_int64(v) < 0) {
		*why = "a count is negative";
		return BG_EPARSE;
	}
	*out = json_object_get_uint64(v);
	return 0;
}

/* ---- the codec ---- */

static void *field_at(const void *obj, const struct hist__field *f)
{
	return (char *)obj + f->off;
}

static void field_encode(json_object *o, const struct hist__field *f, const void *obj,
		unsigned flags)
{
	const void *at = field_at(obj, f);
	const char *s;
	int64_t ms;

	switch (f->type) {
	case HF_STR:
	case HF_STR_REQ:
		s = *(char *const *)at;
		if (s) {
			field_add_str(o, f->key, s);
		} else if (flags & HIST_CODEC_VIEW) {
			json_object_object_add(o, f->key, NULL); /* null */
		}
		return;
	case HF_I64:
		json_object_object_add(o, f->key, json_object_new_int64(*(const int64_t *)at));
		return;
	case HF_U64:
		json_object_object_add(o, f->key, json_object_new_uint64(*(const uint64_t *)at));
		return;
	case HF_TIME_ISO:
		ms = *(const int64_t *)at;
		if (ms >= 0 && ms <= TIME_ISO_MAX) {
			char iso[32];
			bg_time_format_utc(ms, iso);
			json_object_object_add(o, f->key, json_object_new_string(iso));
		} else {
			json_object_object_add(o, f->key, NULL);
		}
		return;
	}
	BG_BUG("field type %d", (int)f->type);
}

int hist__rec_encode(const struct hist__record *r, const void *obj, unsigned flags,
		struct bg_buf *out)
{
	json_object *o = json_object_new_object();
	bool view = flags & HIST_CODEC_VIEW;

	if (!view) {
		json_object_object_add(o, "v", json_object_new_int(HIST_REC_VERSION));
	}
	for (size_t i = 0; i < r->n; i++) {
		field_encode(o, &r->f[i], obj, flags);
	}
	return codec_finish(o, !view, out);
}

static int field_decode(json_object *o, const struct hist__field *f, void *obj,
		const char **why)
{
	void *at = field_at(obj, f);

	switch (f->type) {
	case HF_STR:
	case HF_STR_REQ:
		return field_str(o, f->key, f->type == HF_STR_REQ, at, why);
	case HF_I64:
		return field_int(o, f->key, at, why);
	case HF_U64:
		return field_uint(o, f->key, at, why);
	case HF_TIME_ISO:
		break; /* derived in views; never read back */
	}
	return 0;
}

int hist__rec_decode(const struct hist__record *r, const void *data, size_t len,
		void *obj, const char **why)
{
	const char *dummy = NULL;
	json_object *o = NULL;
	int err = BG_EPARSE;

	if (!why) {
		why = &dummy;
	}
	memset(obj, 0, r->size);
	o = codec_parse(data, len, why);
	if (!o) {
		return BG_EPARSE;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (field_decode(o, &r->f[i], obj, why)) {
			goto out;
		}
	}
	if (r->check && r->check(obj, why)) {
		goto out;
	}
	err = 0;
out:
	json_object_put(o);
	if (err) {
		hist__rec_release(r, obj);
	}
	return err;
}

void hist__rec_release(const struct hist__record *r, void *obj)
{
	if (!obj) {
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (r->f[i].type == HF_STR || r->f[i].type == HF_STR_REQ) {
			free(*(char **)field_at(obj, &r->f[i]));
		}
	}
	memset(obj, 0, r->size);
}

/* ---- the record kinds ---- */

#define FIELD(st, key, type) {#key, type, offsetof(st, key)}
#define RECORD(name, st, fields, chk) \
	{name, fields, BG_ARRAY_SIZE(fields), sizeof(st), chk}

static bool hash_hex_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) {
			return false;
		}
	}
	return n == 64;
}

/* After the fields, in this order (the reasons are part of the format). */
static int entry_record_check(const void *obj, const char **why)
{
	const struct hist_entry *e = obj;
	if (e->seq == 0) {
		*why = "sequence number 0";
		return BG_EPARSE;
	}
	if (e->prev && !hash_hex_ok(e->prev)) {
		*why = "the link to the previous entry is not a SHA-256";
		return BG_EPARSE;
	}
	return 0;
}

static const struct hist__field entry_fields[] = {
	FIELD(struct hist_entry, seq, HF_U64),
	FIELD(struct hist_entry, time_ms, HF_I64),
	FIELD(struct hist_entry, actor, HF_STR_REQ),
	FIELD(struct hist_entry, action, HF_STR_REQ),
	FIELD(struct hist_entry, site, HF_STR),
	FIELD(struct hist_entry, token, HF_STR),
	FIELD(struct hist_entry, result, HF_STR),
	FIELD(struct hist_entry, details, HF_STR),
	FIELD(struct hist_entry, sudo_user, HF_STR),
	FIELD(struct hist_entry, prev, HF_STR),
};
const struct hist__record hist__rec_entry =
	RECORD("journal entry", struct hist_entry, entry_fields, entry_record_check);

/* `history --json`: the entry with its time in words, every member present. */
static const struct hist__field entry_view_fields[] = {
	FIELD(struct hist_entry, seq, HF_U64),
	{"time", HF_TIME_ISO, offsetof(struct hist_entry, time_ms)},
	FIELD(struct hist_entry, time_ms, HF_I64),
	FIELD(struct hist_entry, actor, HF_STR),
	FIELD(struct hist_entry, action, HF_STR),
	FIELD(struct hist_entry, site, HF_STR),
	FIELD(struct hist_entry, token, HF_STR),
	FIELD(struct hist_entry, result, HF_STR),
	FIELD(struct hist_entry, details, HF_STR),
	FIELD(struct hist_entry, sudo_user, HF_STR),
	FIELD(struct hist_entry, prev, HF_STR),
};
static const struct hist__record entry_view =
	RECORD("journal entry (view)", struct hist_entry, entry_view_fields, NULL);

static const struct hist__field version_fields[] = {
	FIELD(struct hist__version, spec, HF_STR_REQ),
	FIELD(struct hist__version, spec_json, HF_STR_REQ),
	FIELD(struct hist__version, token, HF_STR),
	FIELD(struct hist__version, time_ms, HF_I64),
};
const struct hist__record hist__rec_version =
	RECORD("site version", struct hist__version, version_fields, NULL);

static const struct hist__field plan_fields[] = {
	FIELD(struct hist__plan, args_json, HF_STR_REQ),
	FIELD(struct hist__plan, plan_text, HF_STR),
	FIELD(struct hist__plan, time_ms, HF_I64),
};
const struct hist__record hist__rec_plan =
	RECORD("plan", struct hist__plan, plan_fields, NULL);

/* Reading a plan back needs (and checks) its arguments only. */
static const struct hist__field plan_args_fields[] = {
	FIELD(struct hist__plan, args_json, HF_STR_REQ),
};
const struct hist__record hist__rec_plan_args =
	RECORD("plan", struct hist__plan, plan_args_fields, NULL);

static const struct hist__field mark_fields[] = {
	FIELD(struct hist__mark, time_ms, HF_I64),
	FIELD(struct hist__mark, pid, HF_I64),
	FIELD(struct hist__mark, actor, HF_STR),
	FIELD(struct hist__mark, journal_seq, HF_U64),
};
const struct hist__record hist__rec_mark =
	RECORD("mark", struct hist__mark, mark_fields, NULL);

static const struct hist__field applying_fields[] = {
	FIELD(struct hist__applying, pid, HF_I64),
	FIELD(struct hist__applying, actor, HF_STR),
	FIELD(struct hist__applying, seq, HF_U64),
	FIELD(struct hist__applying, time_ms, HF_I64),
};
const struct hist__record hist__rec_applying =
	RECORD("apply in progress", struct hist__applying, applying_fields, NULL);

/* ---- the entry points tests and fuzzers call ---- */

int hist__entry_encode(const struct hist_entry *e, struct bg_buf *out)
{
	return hist__rec_encode(&hist__rec_entry, e, 0, out);
}

int hist__entry_decode(const void *data, size_t len, struct hist_entry *e,
		const char **why)
{
	return hist__rec_decode(&hist__rec_entry, data, len, e, why);
}

void hist_entry_release(struct hist_entry *e)
{
	hist__rec_release(&hist__rec_entry, e);
}

int hist_entry_to_json(const struct hist_entry *e, struct bg_buf *out)
{
	return hist__rec_encode(&entry_view, e, HIST_CODEC_VIEW, out);
}

void hist__version_release(struct hist__version *v)
{
	hist__rec_release(&hist__rec_version, v);
}

int hist__version_encode(const struct hist__version *v, struct bg_buf *out)
{
	return hist__rec_encode(&hist__rec_version, v, 0, out);
}

int hist__version_decode(const void *data, size_t len, struct hist__version *v,
		const char **why)
{
	return hist__rec_decode(&hist__rec_version, data, len, v, why);
}

int hist__entry_link(const void *data, size_t len, const char *prev,
		struct bg_buf *out, const char **why)
{
	const char *dummy = NULL;
	/* Not through a table: members this bluegreen does not know are kept. */
	json_object *o = codec_parse(data, len, why ? why : &dummy);
	if (!o) {
		return BG_EPARSE;
	}
	/* Replaces a "prev" already there (a half-chained journal): last wins. */
	json_object_object_del(o, "prev");
	json_object_object_add(o, "prev", json_object_new_string(prev));
	return codec_finish(o, true, out);
}
