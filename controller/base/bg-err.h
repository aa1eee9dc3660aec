/*
 * bg-err: error strings and diagnostics. A function returns an int code
 * (bg.h); when the user needs to know more, the detail goes into a
 * struct bg_diag: a list of located messages, printed in the compiler form
 * `file:line:col: error: message` (git and gcc conventions: lower case, no
 * full stop, problem first). Validation collects every error before it
 * reports, so the operator fixes a file in one pass.
 */
#ifndef BG_CONTROLLER_BG_ERR_H
#define BG_CONTROLLER_BG_ERR_H

#include "bg.h"

/* A message for any code: bluegreen's own, a negative errno, or 0. */
const char *bg_strerror(int err);
/* The symbolic name, e.g. "BG_ETOKEN_STALE" or "ENOENT" (for JSON output). */
const char *bg_err_name(int err);

enum bg_sev {
	BG_SEV_ERROR = 0,
	BG_SEV_WARNING,
	BG_SEV_NOTE,
};

struct bg_diag_item {
	enum bg_sev sev;
	char *file; /* owned copy, may be NULL for errors with no location */
	unsigned line, col;
	char *msg; /* owned */
};

struct bg_diag {
	struct bg_diag_item *items;
	size_t n, cap;
	size_t n_errors;
	size_t max_items; /* 0 = unlimited; extra items are counted, not kept */
	size_t n_dropped;
};

void bg_diag_init(struct bg_diag *d);
void bg_diag_release(struct bg_diag *d);

/* Add a message; loc may be NULL or have a NULL file; d NULL drops it. */
void bg_diag_add(struct bg_diag *d, enum bg_sev sev, const struct bg_loc *loc,
		const char *fmt, ...) BG_PRINTF(4, 5);
void bg_diag_vadd(struct bg_diag *d, enum bg_sev sev, const struct bg_loc *loc,
		const char *fmt, va_list ap) BG_PRINTF(4, 0);
#define bg_diag_error(d, loc, ...) bg_diag_add((d), BG_SEV_ERROR, (loc), __VA_ARGS__)
#define bg_diag_warn(d, loc, ...) bg_diag_add((d), BG_SEV_WARNING, (loc), __VA_ARGS__)

/* Append all items of src to dst (copies). */
void bg_diag_merge(struct bg_diag *dst, const struct bg_diag *src);

/*
 * Sort by file, line, column (stable), so output follows the source order
 * whatever order the checks ran in.
 */
void bg_diag_sort(struct bg_diag *d);

/* Print every item, one per line: "file:line:col: error: msg". */
void bg_diag_print(const struct bg_diag *d, FILE *out);

/* Format one item into buf (for JSON or tests). Returns the snprintf result. */
int bg_diag_item_format(const struct bg_diag_item *it, char *buf, size_t len);

static inline bool bg_diag_has_errors(const struct bg_diag *d)
{
	return d->n_errors > 0;
}

#endif /* BG_CONTROLLER_BG_ERR_H */
