/*
 * fuzz-hist: the decoders of the history's stored records (journal
 * entries and site versions, controller/hist-int.h) fed arbitrary bytes,
 * as a damaged or hostile data.mdb would. Beyond "no crash, no leak", a
 * record that decodes must survive encode -> decode unchanged, and its
 * `history --json` form must be valid JSON: the same bytes always mean
 * the same entry.
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
			!str_eq(again.result, e.result) || !str_eq(again.details, e.details)) {
		abort();
	}
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fixed;

	check_entry(data, size);
	check_version(data, size);
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
