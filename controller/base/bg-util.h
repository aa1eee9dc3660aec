/*
 * bg-util: the small things every module needs and libc does not give
 * safely: allocators that abort on exhaustion (git's xmalloc), a string
 * vector, SHA-256 in hex (libcrypto), constant-time comparison, UTC
 * milliseconds, durations, files written atomically (random O_EXCL temp +
 * fsync + rename + fsync of the directory, in a directory only we can
 * write), files read safely (regular files only, no link followed, never
 * blocking, size-capped; optionally confined beneath a directory), a 0700
 * directory maker, and running an argv
 * (posix_spawn, never a shell) with its output captured.
 */
#ifndef BG_CONTROLLER_BG_UTIL_H
#define BG_CONTROLLER_BG_UTIL_H

#include "bg.h"

struct bg_diag;

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

struct stat;

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
/* Case-insensitive shell glob, fnmatch(3): *, ?, [0-9], [!O] (the redaction list). */
bool bg_glob_match_ci(const char *pattern, const char *s);
/* Levenshtein distance, capped at max+1 (for "did you mean"). */
unsigned bg_str_distance(const char *a, const char *b, unsigned max);

/*
 * Constant-time equality of two strings of possibly different lengths:
 * both are hashed and the digests compared with CRYPTO_memcmp, so the time
 * does not depend on where they differ nor on the expected length. Used for
 * plan tokens and confirm phrases.
 */
bool bg_ct_streq(const char *given, const char *expected);

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
 * Parse a duration: an integer followed by ms, s, m or h ("200ms", "1s",
 * "2m"). Returns 0 and sets *ms, or BG_EPARSE. Bounds are the caller's.
 */
int bg_duration_parse(const char *s, uint64_t *ms);
/* Format a duration back, shortest exact unit: 1500 -> "1500ms", 2000 -> "2s". */
void bg_duration_format(uint64_t ms, char buf[32]);

/* mkdir -p with mode for every directory created; existing ones untouched. */
int bg_mkdir_p(const char *path, unsigned mode);
/*
 * Whether path, a directory bluegreen reads its configuration from or keeps
 * its state in, can be trusted: owned by the effective user or by root
 * (who can change anything anyway), and writable by no one else (no group
 * or other write bit). Whoever else can write there decides what bluegreen,
 * often root, does. `what` names it in messages ("state directory"). With
 * nofollow a symbolic link is refused instead of followed. Returns 0,
 * BG_ERRNO(ENOENT) when it does not exist (nothing in d), BG_ERRNO(EPERM)
 * for an owner or mode refused (d says how to fix it: chown, chmod go-w),
 * ELOOP, ENOTDIR or another error, each explained in d (may be NULL).
 */
int bg_dir_trusted(const char *path, const char *what, bool nofollow, struct bg_diag *d);
/*
 * Make sure `path` is a state directory bluegreen may use, creating it
 * (mode 0700; parents 0755) if needed. It must pass bg_dir_trusted without
 * following a symbolic link. Only a directory created by this call is
 * chmod'ed (to 0700, whatever the umask): an existing one keeps its mode,
 * so a read-only command never changes a directory it did not create.
 * Errors are explained in d (may be NULL).
 */
int bg_state_dir_prepare(const char *path, struct bg_diag *d);
/* bg_state_dir_prepare without the explanation. */
int bg_state_dir_ensure(const char *path);

/*
 * Write a file atomically: write to a temporary file in tmp_dir (NULL: the
 * target's directory), fsync it, rename it over path, fsync the target
 * directory. The temporary directory must be on the same filesystem. mode
 * is applied to the new file. The temporary name is random (".NAME.HEX.tmp")
 * and created with O_EXCL, so nothing planted there is ever opened. Both
 * directories must be owned by us or root and not writable by group or
 * others (sticky or not): BG_EREFUSED otherwise. The _why form sets *why
 * (when not NULL) to a static description of any failure.
 */
int bg_file_write_atomic(const char *path, const char *tmp_dir, const void *data,
		size_t len, unsigned mode);
int bg_file_write_atomic_why(const char *path, const char *tmp_dir, const void *data,
		size_t len, unsigned mode, const char **why);

/*
 * Read a whole regular file, at most max bytes, without ever blocking or
 * following a link at the last component: opened O_NOFOLLOW|O_NONBLOCK,
 * then fstat must say regular file of at most max bytes. *out is
 * NUL-terminated; *len (may be NULL) excludes the NUL.
 *
 * Errors: BG_ERRNO(ENOENT) if missing, BG_ETOO_BIG beyond max,
 * BG_ERRNO(EISDIR) for a directory, BG_EREFUSED for a link, FIFO, socket,
 * device, or a path leaving dir (below); others as errno.
 *
 * bg_file_read_safe: with dir non-NULL, path must be relative and is
 * opened beneath dir one component at a time (openat), refusing ".." and
 * any symbolic link on the way, so it cannot name a file outside dir.
 * *st (may be NULL) gets the file's fstat on success. *why (may be NULL)
 * gets a static description of any failure, fit for "FILE: error: WHY"
 * ("not a regular file (fifo)"). Never the file's content.
 */
/*
 * Open path read-only for a reader that keeps the descriptor (log -f):
 * the same checks as bg_file_read (no link followed, never blocks, a
 * regular file only). Returns the descriptor, or a negative error with
 * *why (may be NULL) set as for bg_file_read_safe.
 */
int bg_file_open_regular(const char *path, struct stat *st, const char **why);
/* Whether a *why of bg_file_read_safe means "the path leaves dir" (.., absolute). */
bool bg_file_why_outside(const char *why);
int bg_file_read(const char *path, size_t max, char **out, size_t *len);
int bg_file_read_safe(const char *dir, const char *path, size_t max, char **out,
		size_t *len, struct stat *st, const char **why);

/*
 * Run argv[0] (looked up in PATH) with argv, without a shell, in directory
 * cwd (NULL: ours). stdout and stderr are captured together into *output
 * (may be NULL to discard), at most 64 KiB. *status gets the exit status
 * (or 128+signal). Kills the child and returns BG_ETIMEOUT after
 * timeout_ms (0 = no limit).
 */
int bg_spawn_capture(char *const argv[], const char *cwd, uint64_t timeout_ms,
		int *status, char **output);

/* Join argv for display only (never executed): words quoted when needed. */
char *bg_argv_display(char *const argv[]);

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
