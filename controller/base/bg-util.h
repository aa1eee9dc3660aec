/*
 * bg-util: the small things every module needs and libc does not give
 * safely: a string vector, SHA-256 in hex (libcrypto), constant-time
 * comparison, UTC milliseconds, durations and the actor. It includes the
 * allocators (bg-mem.h), the file helpers (bg-fs.h) and process spawning
 * (bg-spawn.h), so a file that includes bg-util.h gets all of them.
 */
#ifndef BG_CONTROLLER_BG_UTIL_H
#define BG_CONTROLLER_BG_UTIL_H

#include "bg.h"
#include "bg-fs.h"
#include "bg-mem.h"
#include "bg-spawn.h"

/* A NULL-terminated vector of owned strings (argv-shaped). */
struct bg_strv {
	char **v; /* v[n] == NULL whenever v != NULL */
	size_t n, cap;
};
void bg_strv_init(struct bg_strv *sv);
void bg_strv_release(struct bg_strv *sv);
void bg_strv_push(struct bg_strv *sv, const char *s);    /* copies s */
void bg_strv_push_take(struct bg_strv *sv, char *s);     /* takes s */
void bg_strv_copy(struct bg_strv *dst, const struct bg_strv *src); /* dst must be empty */
bool bg_strv_contains(const struct bg_strv *sv, const char *s);
bool bg_strv_equal(const struct bg_strv *a, const struct bg_strv *b);
void bg_strv_sort(struct bg_strv *sv);

bool bg_str_has_prefix(const char *s, const char *prefix);
bool bg_str_has_suffix(const char *s, const char *suffix);
/* Equal strings, or both NULL. */
bool bg_str_eq(const char *a, const char *b);
/* "ADDR" or "ADDR/BITS", IPv4 or IPv6 (inet_pton), BITS within the family:
 * what nginx's allow/set_real_ip_from and Traefik's ipAllowList take. */
bool bg_cidr_valid(const char *s);
/* A path that can be written quoted into a proxy's file: non-empty, at most
 * 1024 bytes of printable ASCII without '"', '\\' or '$' (nginx expands
 * variables in some directives), so it can neither end nor change one. */
bool bg_quoted_path_valid(const char *s);
/* Levenshtein distance, capped at max+1 (for "did you mean"). */
unsigned bg_str_distance(const char *a, const char *b, unsigned max);

/*
 * Constant-time equality of two strings of possibly different lengths:
 * both are hashed and the digests compared with CRYPTO_memcmp, so the time
 * does not depend on where they differ nor on the expected length. Used for
 * plan tokens and confirm phrases.
 */
bool bg_ct_streq(const char *given, const char *expected);

/* The n bytes of in as lowercase hex into out (2n characters and a NUL). */
void bg_hex_encode(const void *in, size_t n, char *out);
/* The first 2n characters of in (hex, either case) as n bytes into out;
 * false when one is not a hex digit (out is then partly written). What
 * follows them is the caller's to check. */
bool bg_hex_decode(const char *in, void *out, size_t n);
/* SHA-256 of data; hex must hold 65 bytes. */
void bg_sha256_hex(const void *data, size_t len, char hex[65]);
/* Incremental form. */
struct bg_sha256;
struct bg_sha256 *bg_sha256_new(void);
void bg_sha256_update(struct bg_sha256 *h, const void *data, size_t len);
void bg_sha256_update_str(struct bg_sha256 *h, const char *s); /* includes the NUL */
void bg_sha256_final_hex(struct bg_sha256 *h, char hex[65]);   /* frees h */

/* Wall clock in UTC milliseconds, and a monotonic clock in milliseconds. */
int64_t bg_now_ms(void);
int64_t bg_mono_ms(void);
/* "2026-11-23T16:25:03.123Z"; buf must hold 32 bytes. */
void bg_time_format_utc(int64_t ms, char buf[32]);

/*
 * Parse a duration: an integer followed by ms, s, m, h or d ("200ms", "1s",
 * "2m", "30d"). Returns 0 and sets *ms, or BG_EPARSE. Bounds are the caller's.
 */
int bg_duration_parse(const char *s, uint64_t *ms);
/* Format a duration back, shortest exact unit: 1500 -> "1500ms", 2000 -> "2s". */
void bg_duration_format(uint64_t ms, char buf[32]);



/*
 * user@host of the current process, for the history's actor field: the
 * user of the real uid (getuid), or "uid N" when it has no name; never
 * taken from the environment.
 */
const char *bg_actor(void);
/* The actor a uid stands for: "NAME@HOST", "uid N@HOST" without a name,
 * "unknown uid@HOST" for uid < 0 (a peer whose credentials were not read). */
char *bg_actor_of_uid(long uid);
/*
 * $SUDO_USER as it was at the first call (at most 32 bytes, characters
 * outside [A-Za-z0-9._-] replaced by '?'), or NULL if unset or empty: a
 * claim anyone can make, recorded beside the actor, never instead of it.
 */
const char *bg_actor_claimed(void);

#endif /* BG_CONTROLLER_BG_UTIL_H */
