/*
 * bg-buf: a growable byte buffer with git strbuf's invariants (data is
 * never NULL and always NUL-terminated) and curl dynbuf's size limit, so a
 * runaway Docker response or a huge config file fails with BG_ETOO_BIG
 * instead of eating the host's memory.
 */
#ifndef BG_CONTROLLER_BG_BUF_H
#define BG_CONTROLLER_BG_BUF_H

#include "bg.h"

struct bg_buf {
	char *data; /* never NULL; data[len] == '\0' */
	size_t len;
	size_t cap; /* 0 while data points at the shared empty string */
	size_t max; /* 0 = no limit */
};

extern char bg_buf_empty[];
#define BG_BUF_INIT {.data = bg_buf_empty, .len = 0, .cap = 0, .max = 0}

void bg_buf_init(struct bg_buf *b, size_t max);
void bg_buf_release(struct bg_buf *b);
void bg_buf_reset(struct bg_buf *b); /* len = 0, keeps storage */
/* Hand the storage to the caller (free() it); b is re-initialised. */
char *bg_buf_detach(struct bg_buf *b, size_t *len);

/* These return 0 or BG_ETOO_BIG (the buffer is unchanged then). */
int bg_buf_add(struct bg_buf *b, const void *data, size_t len);
int bg_buf_adds(struct bg_buf *b, const char *s);
int bg_buf_addch(struct bg_buf *b, char c);
int bg_buf_addf(struct bg_buf *b, const char *fmt, ...) BG_PRINTF(2, 3);
int bg_buf_vaddf(struct bg_buf *b, const char *fmt, va_list ap) BG_PRINTF(2, 0);
/* Append s as a JSON string literal, quotes included. */
int bg_buf_add_json_str(struct bg_buf *b, const char *s);

/*
 * Append text[0..len) with every occurrence of each of the n secrets
 * replaced by BG_REDACTED: the one mark every output uses (logs, gate
 * details, explain, plans). Where two secrets start at one place the
 * longer wins, so a value that contains another goes whole. Empty
 * secrets are ignored.
 */
#define BG_REDACTED "<redacted>"
int bg_buf_add_redacted(struct bg_buf *b, const char *text, size_t len,
		const char *const *secrets, size_t n);

#endif /* BG_CONTROLLER_BG_BUF_H */
