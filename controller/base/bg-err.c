/*
 * bg-err: the one place error codes become words, and the diagnostics list
 * that config validation, the Docker client and apply all report through.
 */
#include "bg.h"
#include "bg-err.h"
#include "bg-mem.h"

const char *bg_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define XX(name, code, msg)                                                    \
	case code:                                                             \
		return msg;
		BG_ERR_MAP(XX)
#undef XX
	default:
		break;
	}
	if (err < 0 && err > -10000) {
		return strerror(-err);
	}
	return "unknown error";
}

const char *bg_err_name(int err)
{
	switch (err) {
	case 0:
		return "OK";
#define XX(name, code, msg)                                                    \
	case code:                                                             \
		return "BG_E" #name;
		BG_ERR_MAP(XX)
#undef XX
	default:
		break;
	}
	if (err < 0 && err > -10000) {
		const char *n = strerrorname_np(-err);
		return n ? n : "ERRNO";
	}
	return "UNKNOWN";
}

void bg_diag_init(struct bg_diag *d)
{
	memset(d, 0, sizeof(*d));
}

void bg_diag_release(struct bg_diag *d)
{
	if (!d) {
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].msg);
	}
	free(d->items);
	bg_diag_init(d);
}

static void diag_push(struct bg_diag *d, enum bg_sev sev, const char *file,
		unsigned line, unsigned col, char *msg)
{
	if (sev == BG_SEV_ERROR) {
		d->n_errors++;
	}
	if (d->max_items && d->n >= d->max_items) {
		d->n_dropped++;
		free(msg);
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->items = bg_xreallocarray(d->items, d->cap, sizeof(*d->items));
	}
	struct bg_diag_item *it = &d->items[d->n++];
	it->sev = sev;
	it->file = file ? bg_xstrdup(file) : NULL;
	it->line = line;
	it->col = col;
	it->msg = msg;
}

void bg_diag_vadd(struct bg_diag *d, enum bg_sev sev, const struct bg_loc *loc,
		const char *fmt, va_list ap)
{
	/* Callers documented as taking "d may be NULL" (dk, lock) lose the message. */
	if (!d) {
		return;
	}
	char *msg = bg_xvasprintf(fmt, ap);
	if (loc && loc->file) {
		diag_push(d, sev, loc->file, loc->line, loc->col, msg);
	} else {
		diag_push(d, sev, NULL, 0, 0, msg);
	}
}

void bg_diag_add(struct bg_diag *d, enum bg_sev sev, const struct bg_loc *loc,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bg_diag_vadd(d, sev, loc, fmt, ap);
	va_end(ap);
}

void bg_diag_merge(struct bg_diag *dst, const struct bg_diag *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct bg_diag_item *it = &src->items[i];
		diag_push(dst, it->sev, it->file, it->line, it->col,
				bg_xstrdup(it->msg));
	}
	dst->n_dropped += src->n_dropped;
}

static int item_cmp(const struct bg_diag_item *a, const struct bg_diag_item *b)
{
	/* Items without a file sort last: they are summaries. */
	if (!a->file || !b->file) {
		return (a->file == NULL) - (b->file == NULL);
	}
	int c = strcmp(a->file, b->file);
	if (c) {
		return c;
	}
	if (a->line != b->line) {
		return a->line < b->line ? -1 : 1;
	}
	if (a->col != b->col) {
		return a->col < b->col ? -1 : 1;
	}
	return 0;
}

void bg_diag_sort(struct bg_diag *d)
{
	/* Insertion sort: stable, and diagnostics lists are short. */
	for (size_t i = 1; i < d->n; i++) {
		struct bg_diag_item tmp = d->items[i];
		size_t j = i;
		while (j > 0 && item_cmp(&d->items[j - 1], &tmp) > 0) {
			d->items[j] = d->items[j - 1];
			j--;
		}
		d->items[j] = tmp;
	}
}

static const char *sev_name(enum bg_sev sev)
{
	switch (sev) {
	case BG_SEV_ERROR:
		return "error";
	case BG_SEV_WARNING:
		return "warning";
	case BG_SEV_NOTE:
		return "note";
	}
	return "error";
}

int bg_diag_item_format(const struct bg_diag_item *it, char *buf, size_t len)
{
	if (it->file && it->line) {
		return snprintf(buf, len, "%s:%u:%u: %s: %s", it->file, it->line,
				it->col, sev_name(it->sev), it->msg);
	}
	if (it->file) {
		return snprintf(buf, len, "%s: %s: %s", it->file,
				sev_name(it->sev), it->msg);
	}
	return snprintf(buf, len, "%s: %s", sev_name(it->sev), it->msg);
}

void bg_diag_print(const struct bg_diag *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct bg_diag_item *it = &d->items[i];
		int n = bg_diag_item_format(it, NULL, 0);
		char *line = bg_xmalloc((size_t)n + 1);
		bg_diag_item_format(it, line, (size_t)n + 1);
		fprintf(out, "%s\n", line);
		free(line);
	}
	if (d->n_dropped) {
		fprintf(out, "note: %zu more messages not shown\n", d->n_dropped);
	}
}
