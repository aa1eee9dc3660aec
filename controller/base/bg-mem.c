/*
 * bg-mem: the allocators of bg-mem.h. They abort with a message rather
 * than return NULL (git's xmalloc), so no caller carries an out-of-memory
 * path it could never test. They depend on nothing but libc: bg-err.c and
 * every other file of the base library build on them.
 */
#include "bg.h"
#include "bg-mem.h"

void bg__bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static BG_NORETURN void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *bg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		oom(n);
	}
	return p;
}

void *bg_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p) {
		oom(nmemb * size);
	}
	return p;
}

void *bg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		oom(n);
	}
	return q;
}

void *bg_xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size) {
		oom(SIZE_MAX);
	}
	return bg_xrealloc(p, nmemb * size);
}

char *bg_xstrdup(const char *s)
{
	if (!s) {
		return NULL;
	}
	char *d = strdup(s);
	if (!d) {
		oom(strlen(s) + 1);
	}
	return d;
}

char *bg_xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d) {
		oom(n + 1);
	}
	return d;
}

char *bg_xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0) {
		oom(strlen(fmt));
	}
	return s;
}

char *bg_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = bg_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void bg_grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap) {
		return;
	}
	size_t c = *cap ? *cap : 4;
	while (c < n) {
		c *= 2;
	}
	*v = bg_xreallocarray(*v, c, sz);
	*cap = c;
}
