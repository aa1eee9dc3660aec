/*
 * bg-mem: allocation that never fails (git's xmalloc): out of memory is
 * reported and aborts, so callers carry no NULL path for it. The bottom of
 * the base library: it uses nothing but libc, so bg-err and bg-util may
 * both build on it without calling each other.
 */
#ifndef BG_CONTROLLER_BG_MEM_H
#define BG_CONTROLLER_BG_MEM_H

#include "bg.h"

/* Allocation: these never return NULL; they abort with a message. */
void *bg_xmalloc(size_t n);
void *bg_xcalloc(size_t nmemb, size_t size);
void *bg_xrealloc(void *p, size_t n);
void *bg_xreallocarray(void *p, size_t nmemb, size_t size);
char *bg_xstrdup(const char *s);          /* NULL -> NULL */
char *bg_xstrndup(const char *s, size_t n);
char *bg_xasprintf(const char *fmt, ...) BG_PRINTF(1, 2);
char *bg_xvasprintf(const char *fmt, va_list ap) BG_PRINTF(1, 0);

/* Grow *v (of *cap elements of size sz) so that it holds at least n. */
void bg_grow(void **v, size_t *cap, size_t n, size_t sz);
#define BG_GROW(arr, cap, n) bg_grow((void **)&(arr), &(cap), (n), sizeof(*(arr)))

#endif /* BG_CONTROLLER_BG_MEM_H */
