/*
 * bg.h: the first include of every bluegreen source file. It fixes the
 * feature macros and the standard headers everyone uses, defines the
 * project's error codes (one X-macro, so the enum and bg_strerror() cannot
 * drift apart), the source location carried by every config node, and bans
 * the libc functions that have no place in code that parses untrusted input.
 */
#ifndef BG_CONTROLLER_BG_H
#define BG_CONTROLLER_BG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BG_VERSION_STRING "0.1.0"

/*
 * Errors: 0 is success, a negative errno is a system error (libuv uses the
 * same convention, so uv_* results pass through unchanged), and bluegreen's
 * own codes live in a range below -10000, as LMDB reserves its own range.
 * Human detail travels separately (struct bg_diag in bg-err.h).
 */
#define BG_ERRNO(e) (-(e))

#define BG_ERR_MAP(XX)                                                         \
	XX(CONFIG, -10001, "invalid configuration")                           \
	XX(PARSE, -10002, "malformed input")                                  \
	XX(TOO_BIG, -10003, "input too large")                                \
	XX(DOCKER, -10004, "docker engine error")                             \
	XX(DOCKER_UNREACHABLE, -10005, "docker engine unreachable")           \
	XX(NOT_FOUND, -10006, "not found")                                    \
	XX(CONFLICT, -10007, "conflict with an object bluegreen does not manage") \
	XX(TIMEOUT, -10008, "timed out")                                      \
	XX(TOKEN_STALE, -10009, "plan token is stale")                        \
	XX(TOKEN_UNKNOWN, -10010, "plan token is unknown")                    \
	XX(TOKEN_USED, -10011, "plan token was already used")                 \
	XX(REFUSED, -10012, "refused")                                        \
	XX(HEALTH, -10013, "health check failed")                             \
	XX(EDGE, -10014, "edge proxy error")                                  \
	XX(LOCKED, -10015, "state directory is locked by another converger")  \
	XX(HISTORY, -10016, "history store error")                            \
	XX(INTERRUPTED, -10017, "interrupted")                                \
	XX(USAGE, -10018, "usage error")                                      \
	XX(SPAWN, -10019, "command failed")                                   \
	XX(CANCELLED, -10020, "cancelled")                                    \
	XX(PARTIAL, -10021, "a step failed that does not stop the others")       \
	XX(CORRUPT, -10022, "stored data does not match its checksum")

enum bg_err {
#define XX(name, code, msg) BG_E##name = (code),
	BG_ERR_MAP(XX)
#undef XX
};

/* Exit codes of every command (SPEC §6). */
enum bg_exit {
	BG_EXIT_OK = 0,       /* done / valid / nothing to do */
	BG_EXIT_ERROR = 1,    /* invalid config, usage, engine unreachable, ... */
	BG_EXIT_PENDING = 2,  /* plan: changes pending */
	BG_EXIT_TOKEN = 3,    /* apply: token stale, unknown or used */
	BG_EXIT_REFUSED = 4,  /* apply: install_mode missing, confirm phrase missing */
	BG_EXIT_FAILED = 5,   /* apply: convergence failed, live colour untouched */
};

/*
 * Where a value came from. `file` is borrowed from a string pool owned by
 * the loaded configuration (struct cfg), so copying a bg_loc is free. Lines
 * and columns are 1-based (libyaml marks are 0-based: add one).
 */
struct bg_loc {
	const char *file;
	unsigned line;
	unsigned col;
};

#define BG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define BG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BG_NORETURN __attribute__((noreturn))
#define BG_UNUSED __attribute__((unused))
#else
#define BG_PRINTF(f, a)
#define BG_NORETURN
#define BG_UNUSED
#endif

/* A programmer error: never used for anything read from Docker or a file. */
BG_NORETURN void bg__bug(const char *file, int line, const char *fmt, ...)
	BG_PRINTF(3, 4);
#define BG_BUG(...) bg__bug(__FILE__, __LINE__, __VA_ARGS__)

/*
 * Banned functions (git's banned.h): unbounded copies and non-reentrant
 * time conversions. Use bg_buf, snprintf, gmtime_r.
 */
#ifndef BG_ALLOW_BANNED
#define BG_BANNED(func) sorry_##func##_is_banned_in_bluegreen
#undef strcpy
#define strcpy(x, y) BG_BANNED(strcpy)
#undef strcat
#define strcat(x, y) BG_BANNED(strcat)
#undef sprintf
#define sprintf(...) BG_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BG_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BG_BANNED(strtok)
#undef gmtime
#define gmtime(t) BG_BANNED(gmtime)
#undef localtime
#define localtime(t) BG_BANNED(localtime)
#undef system
#define system(c) BG_BANNED(system)
#undef popen
#define popen(c, m) BG_BANNED(popen)
#endif

#endif /* BG_CONTROLLER_BG_H */
