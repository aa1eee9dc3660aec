/*
 * dk-json: what the files of the Docker client share that needs no
 * libcurl: error reporting, the JSON helpers and the pull-progress reader.
 * dk-parse.c defines them; it and the unit tests and fuzzer that use it
 * link without libcurl, which is why this is not dk-int.h (that one is the
 * transport's and includes curl.h).
 */
#ifndef BG_CONTROLLER_DK_JSON_H
#define BG_CONTROLLER_DK_JSON_H

#include "bg.h"
#include "bg-err.h"

#include <json-c/json.h>

/* A bg_diag_error that accepts d == NULL. */
void dk__error(struct bg_diag *d, const char *fmt, ...) BG_PRINTF(2, 3);
/* Parse a whole body (strict JSON, trailing whitespace allowed); data[len]
 * must be readable and NUL (a struct bg_buf always is). A new reference. */
int dk__json_parse(const char *data, size_t len, struct json_object **out);

/* o's member key if it has type t, else NULL (o may be NULL or not an
 * object). Borrowed from o. */
struct json_object *dk__jget(struct json_object *o, const char *key, enum json_type t);
/* A string member, NULL when absent or not a string (json_object_get_string
 * would serialise a non-string). Borrowed from o. */
const char *dk__jstr(struct json_object *o, const char *key);
/* An integer member into *out; false when absent or not an integer. */
bool dk__jint(struct json_object *o, const char *key, int64_t *out);

/* A pull progress stream's first {"error": ...} (a new string, or NULL):
 * dk__pull_value is the dk_stream callback that finds it. */
struct dk__pull_state {
	char *error;
};
int dk__pull_value(struct json_object *v, void *arg);

#endif /* BG_CONTROLLER_DK_JSON_H */
