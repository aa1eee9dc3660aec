/*
 * bg-buf: see bg-buf.h. Growth doubles; the limit is checked before any
 * allocation so a refused append leaves the buffer as it was.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-mem.h"

char bg_buf_empty[1];

void bg_buf_init(struct bg_buf *b, size_t max)
{
	b->data = bg_buf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void bg_buf_release(struct bg_buf *b)
{
	if (!b) {
		return;
	}
	if (b->cap) {
		free(b->data);
	}
	bg_buf_init(b, b->max);
}

void bg_buf_reset(struct bg_buf *b)
{
	b->len = 0;
	if (b->cap) {
		b->data[0] = '\0';
	}
}

char *bg_buf_detach(struct bg_buf *b, size_t *len)
{
	char *d = b->cap ? b->data : bg_xstrdup("");
	if (len) {
		*len = b->len;
	}
	bg_buf_init(b, b->max);
	return d;
}

static int buf_reserve(struct bg_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1) {
		return BG_ETOO_BIG;
	}
	size_t need = b->len + extra + 1;
	if (b->max && need - 1 > b->max) {
		return BG_ETOO_BIG;
	}
	if (need <= b->cap) {
		return 0;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need) {
		cap *= 2;
	}
	if (b->cap) {
		b->data = bg_xrealloc(b->data, cap);
	} else {
		b->data = bg_xmalloc(cap);
		b->data[0] = '\0';
	}
	b->cap = cap;
	return 0;
}

int bg_buf_add(struct bg_buf *b, const void *data, size_t len)
{
	int err = buf_reserve(b, len);
	if (err) {
		return err;
	}
	if (len) {
		memcpy(b->data + b->len, data, len);
	}
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int bg_buf_adds(struct bg_buf *b, const char *s)
{
	return bg_buf_add(b, s, strlen(s));
}

int bg_buf_addch(struct bg_buf *b, char c)
{
	return bg_buf_add(b, &c, 1);
}

int bg_buf_vaddf(struct bg_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0) {
		return BG_ERRNO(EINVAL);
	}
	int err = buf_reserve(b, (size_t)n);
	if (err) {
		return err;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int bg_buf_addf(struct bg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int err = bg_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return err;
}

int bg_buf_add_json_str(struct bg_buf *b, const char *s)
{
	int err = bg_buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; !err && *p; p++) {
		switch (*p) {
		case '"':
			err = bg_buf_adds(b, "\\\"");
			break;
		case '\\':
			err = bg_buf_adds(b, "\\\\");
			break;
		case '\n':
			err = bg_buf_adds(b, "\\n");
			break;
		case '\r':
			err = bg_buf_adds(b, "\\r");
			break;
		case '\t':
			err = bg_buf_adds(b, "\\t");
			break;
		default:
			if (*p < 0x20) {
				err = bg_buf_addf(b, "\\u%04x", *p);
			} else {
				err = bg_buf_addch(b, (char)*p);
			}
		}
	}
	return err ? err : bg_buf_addch(b, '"');
}

/* The longest of the n secrets that text[0..len) starts with: its length, 0 for none. */
static size_t redact_match(const char *text, size_t len, const char *const *secrets, size_t n)
{
	size_t best = 0;
	for (size_t k = 0; k < n; k++) {
		size_t m = strlen(secrets[k]);
		if (m > best && m <= len && memcmp(text, secrets[k], m) == 0) {
			best = m;
		}
	}
	return best;
}

int bg_buf_add_redacted(struct bg_buf *b, const char *text, size_t len,
		const char *const *secrets, size_t n)
{
	size_t from = 0;
	int err = 0;
	for (size_t i = 0; i < len && !err;) {
		size_t m = redact_match(text + i, len - i, secrets, n);
		if (m == 0) {
			i++;
			continue;
		}
		err = bg_buf_add(b, text + from, i - from);
		if (!err) {
			err = bg_buf_adds(b, BG_REDACTED);
		}
		i += m;
		from = i;
	}
	return err ? err : bg_buf_add(b, text + from, len - from);
}
