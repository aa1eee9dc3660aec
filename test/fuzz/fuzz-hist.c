/*
 * fuzz-hist: the decoders of the history's stored records (journal
 * entries and site versions, controller/history/hist-int.h) fed arbitrary bytes,
 * as a damaged or hostile data.mdb would. Beyond "no crash, no leak", a
 * record that decodes must survive encode -> decode unchanged, and its
 * `history --json` form must be valid JSON: the same bytes always mean
 * the same entry. The same bytes are also read as an export
 * (`history --verify --from`, JSON lines checked as a hash chain), and a
 * record that decodes must survive the migration's relinking. Every other
 * record kind of the codec (plan, mark, apply in progress) must encode
 * what it decoded to bytes that decode and encode to the same bytes.
 */
#include "bg.h"
#include "bg-buf.h"
#include "hist-int.h"

#include <json-c/json.h>

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_entry(const uint8_t *data, size_t size)
{
	struct hist_entry e, again;
	struct bg_buf b = BG_BUF_INIT;

	if (hist__entry_decode(data, size, &e, NULL)) {
		return;
	}
	if (hist__entry_encode(&e, &b) != 0) {
		abort();
	}
	if (hist__entry_decode(b.data, b.len, &again, NULL) != 0) {
		abort();
	}
	if (again.seq != e.seq || again.time_ms != e.time_ms ||
			!str_eq(again.actor, e.actor) || !str_eq(again.action, e.action) ||
			!str_eq(again.site, e.site) || !str_eq(again.token, e.token) ||
			!str_eq(again.result, e.result) || !str_eq(again.details, e.details) ||
			!str_eq(again.sudo_user, e.sudo_user) || !str_eq(again.prev, e.prev)) {
		abort();
	}
	/* The migration's rewrite: same entry, the new link. */
	struct hist_entry linked;
	bg_buf_reset(&b);
	if (hist__entry_link(data, size, HIST_GENESIS, &b, NULL) != 0 ||
			hist__entry_decode(b.data, b.len, &linked, NULL) != 0) {
		abort();
	}
	if (linked.seq != e.seq || !str_eq(linked.details, e.details) ||
			!str_eq(linked.prev, HIST_GENESIS)) {
		abort();
	}
	hist_entry_release(&linked);
	bg_buf_reset(&b);
	if (hist_entry_to_json(&e, &b) != 0) {
		abort();
	}
	json_object *o = json_tokener_parse(b.data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		abort();
	}
	json_object_put(o);
	bg_buf_release(&b);
	hist_entry_release(&again);
	hist_entry_release(&e);
}

static void check_version(const uint8_t *data, size_t size)
{
	struct hist__version v, again;
	struct bg_buf b = BG_BUF_INIT;

	if (hist__version_decode(data, size, &v, NULL)) {
		return;
	}
	if (hist__version_encode(&v, &b) != 0) {
		abort();
	}
	if (hist__version_decode(b.data, b.len, &again, NULL) != 0) {
		abort();
	}
	if (!str_eq(again.spec, v.spec) || !str_eq(again.spec_json, v.spec_json) ||
			!str_eq(again.token, v.token) || again.time_ms != v.time_ms) {
		abort();
	}
	bg_buf_release(&b);
	hist__version_release(&again);
	hist__version_release(&v);
}

/* Big enough for any record struct of the codec. */
union any_record {
	struct hist__plan plan;
	struct hist__mark mark;
	struct hist__applying applying;
};

static void check_record(const struct hist__record *r, const uint8_t *data, size_t size)
{
	union any_record obj, again;
	struct bg_buf b1 = BG_BUF_INIT, b2 = BG_BUF_INIT;

	if (r->size > sizeof(obj)) {
		abort();
	}
	if (hist__rec_decode(r, data, size, &obj, NULL)) {
		return;
	}
	if (hist__rec_encode(r, &obj, 0, &b1) != 0 ||
			hist__rec_decode(r, b1.data, b1.len, &again, NULL) != 0 ||
			hist__rec_encode(r, &again, 0, &b2) != 0) {
		abort();
	}
	if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0) {
		abort();
	}
	hist__rec_release(r, &again);
	hist__rec_release(r, &obj);
	bg_buf_release(&b2);
	bg_buf_release(&b1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes as an export: whatever they hold, a verdict and no crash. */
static void check_export(const uint8_t *data, size_t size)
{
	struct hist_verify v;
	if (hist_export_verify((const char *)data, size, &v) != 0) {
		abort();
	}
	if (v.brk > HIST_BREAK_UNCHAINED || (v.brk == HIST_INTACT) != (v.why[0] == '\0')) {
		abort();
	}
	if (v.brk != HIST_INTACT && v.bad_line == 0) {
		abort(); /* an export's break always has a line */
	}
	if (v.entries && strlen(v.head_hash) != 64) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fixed;

	check_entry(data, size);
	check_version(data, size);
	check_record(&hist__rec_plan, data, size);
	check_record(&hist__rec_plan_args, data, size);
	check_record(&hist__rec_mark, data, size);
	check_record(&hist__rec_applying, data, size);
	check_export(data, size);
	/* The UTF-8 repair: its output is always valid and stable. */
	char *s = malloc(size + 1);
	if (!s) {
		return 0;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	fixed = hist__utf8_fix(s);
	if (fixed) {
		char *twice = hist__utf8_fix(fixed);
		if (twice) {
			abort();
		}
		free(fixed);
	}
	free(s);
	return 0;
}
