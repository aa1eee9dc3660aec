/*
 * cockpit-auth: who may use the cockpit (issue 15, docs/cockpit.md
 * "Users and roles"). The users file (STATE_DIR/cockpit.users by default)
 * has one line per user, `NAME ROLE SITES HASH`: ROLE is viewer or admin,
 * SITES the comma-separated sites a viewer sees ("-" for an admin, who sees
 * all), HASH `scrypt$LOG2N$R$P$SALT$KEY` (hex, 16 random salt bytes, 32-byte
 * key; libcrypto's EVP_PBE_scrypt), so the cost can be raised later without
 * breaking old lines. The file holds password hashes: it is refused unless it
 * is a regular file of mode 0600 owned by us, opened without following a
 * link. Comparisons of secrets are constant-time (CRYPTO_memcmp).
 *
 * Then the session side (cockpit-session.c): a server-side table of
 * sessions (32 random bytes in a cookie, HttpOnly, SameSite=Strict, Secure
 * over TLS), a CSRF token per session, and the login throttle.
 */
#ifndef BG_CONTROLLER_COCKPIT_AUTH_H
#define BG_CONTROLLER_COCKPIT_AUTH_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"

#include <pthread.h>

#define CK_USERS_FILE "cockpit.users"
/* scrypt cost: N = 2^15, r = 8, p = 1 (about 32 MiB and 0.1 s per hash). */
#define CK_SCRYPT_LOG2N 15u
#define CK_SCRYPT_R 8u
#define CK_SCRYPT_P 1u
#define CK_SALT_LEN 16u
#define CK_KEY_LEN 32u
/* The longest password accepted (a hash of more says nothing more). */
#define CK_PASSWORD_MAX 1024u

enum ck_role {
	CK_ROLE_VIEWER = 0,
	CK_ROLE_ADMIN,
};

struct ck_user {
	char *name;
	enum ck_role role;
	struct bg_strv sites; /* a viewer's sites; empty for an admin */
	char *hash;
};

struct ck_users {
	struct ck_user *v;
	size_t n, cap;
};

void ck_users_init(struct ck_users *u);
void ck_users_release(struct ck_users *u); /* NULL-safe; leaves u empty */

/* [a-z0-9][a-z0-9._-]{0,31}: what a user name may be (it goes into actors). */
bool ck_user_name_ok(const char *name);
const char *ck_role_name(enum ck_role role);
int ck_role_parse(const char *s, enum ck_role *out);

/*
 * Read the users file. BG_ERRNO(ENOENT) when it does not exist (nothing
 * in d); BG_EREFUSED when it is a link, not a regular file, not ours or
 * not mode 0600; BG_EPARSE for bad lines (each explained in d as
 * FILE:LINE: error: ...). Never prints a hash.
 */
int ck_users_load(struct ck_users *u, const char *path, struct bg_diag *d);
/* Write the file atomically, mode 0600. */
int ck_users_save(const struct ck_users *u, const char *path, struct bg_diag *d);
const struct ck_user *ck_users_find(const struct ck_users *u, const char *name);
/* Add or replace name (copies everything). */
void ck_users_put(struct ck_users *u, const char *name, enum ck_role role,
		const struct bg_strv *sites, const char *hash);
/* Returns false when there was no such user. */
bool ck_users_del(struct ck_users *u, const char *name);
/* Whether u may see site (an admin sees every site). */
bool ck_user_sees(const struct ck_user *u, const char *site);

/* A new salted scrypt hash of password into *out (a new string). */
int ck_password_hash(const char *password, char **out);
/*
 * Whether password matches stored. A NULL or malformed stored hash still
 * costs one scrypt run, so a missing user takes as long as a wrong password.
 */
bool ck_password_verify(const char *password, const char *stored);

/* ---- sessions, CSRF, the login throttle (cockpit-session.c) ---- */

#define CK_COOKIE_NAME "bg_session"
#define CK_TOKEN_HEX 64 /* 32 random bytes in hex */
#define CK_SESSION_MAX 1024
#define CK_SESSION_IDLE_MS (60LL * 60 * 1000)      /* an hour without a request */
#define CK_SESSION_LIFE_MS (12LL * 60 * 60 * 1000) /* twelve hours at most */
/* Failures before the throttle delays, and its longest delay. */
#define CK_THROTTLE_FREE 5u
#define CK_THROTTLE_MAX_MS (15LL * 60 * 1000)
#define CK_THROTTLE_KEYS 4096

struct ck_session {
	char id[CK_TOKEN_HEX + 1];
	char csrf[CK_TOKEN_HEX + 1];
	char *user;
	int64_t created_ms, seen_ms;
};

struct ck_throttle_ent {
	char *key;
	unsigned failures;
	int64_t until_ms, last_ms;
};

/* Sessions and the throttle, one lock for both (a login touches both). */
struct ck_sessions {
	pthread_mutex_t mu;
	struct ck_session *v;
	size_t n, cap;
	struct ck_throttle_ent *t;
	size_t nt, tcap;
};

struct ck_sessions *ck_sessions_new(void);
void ck_sessions_free(struct ck_sessions *s); /* NULL-safe */
/* 32 random bytes in hex (RAND_bytes). */
int ck_token_new(char out[CK_TOKEN_HEX + 1]);
/* A new session for user: its id and CSRF token copied out. */
int ck_session_open(struct ck_sessions *s, const char *user, int64_t now_ms,
		char id[CK_TOKEN_HEX + 1], char csrf[CK_TOKEN_HEX + 1]);
/*
 * The live session of cookie value id: its user (a new string) and CSRF
 * token copied out, its idle clock restarted. False when there is none
 * (unknown, expired: then it is dropped).
 */
bool ck_session_get(struct ck_sessions *s, const char *id, int64_t now_ms, char **user,
		char csrf[CK_TOKEN_HEX + 1]);
void ck_session_close(struct ck_sessions *s, const char *id);
/* Drop every session of a user who is gone from the users file. */
void ck_sessions_drop_user(struct ck_sessions *s, const char *user);
/* The Set-Cookie value for id (NULL id: one that clears it); a new string. */
char *ck_cookie_header(const char *id, bool secure);
/*
 * The throttle, keyed by "addr:ADDR" and "user:NAME": ms still to wait
 * before a login may be tried (0: go), a failure (after CK_THROTTLE_FREE,
 * each one doubles the wait from 1 s up to CK_THROTTLE_MAX_MS), a success
 * (forgets the key).
 */
int64_t ck_throttle_wait(struct ck_sessions *s, const char *key, int64_t now_ms);
void ck_throttle_fail(struct ck_sessions *s, const char *key, int64_t now_ms);
void ck_throttle_ok(struct ck_sessions *s, const char *key);

/*
 * ---- the login form's CSRF token (login CSRF: a forged form must not log
 * a victim into someone else's account). There is no session yet, so the
 * login page sets a pre-session cookie, a fresh random nonce (HttpOnly,
 * SameSite=Strict, 10 minutes; named __Host-bg_login with Secure when the
 * browser talks HTTPS, so a sibling host cannot plant it), and puts
 * "MS.HMAC" in the form's hidden csrf field: MS the time it was served,
 * HMAC-SHA256 over the nonce and MS with a key drawn when the cockpit
 * starts. POST /login needs both, matching (constant time) and at most
 * CK_LOGIN_FORM_MS old. Nothing is stored on the server.
 */
#define CK_LOGIN_COOKIE "bg_login"
#define CK_LOGIN_COOKIE_HOST "__Host-bg_login"
#define CK_LOGIN_FORM_MS (10LL * 60 * 1000)
#define CK_LOGIN_KEY_LEN 32u
/* A new nonce (the cookie's value) and its field "MS.HMAC" (a new string). */
int ck_login_form_new(const unsigned char key[CK_LOGIN_KEY_LEN], int64_t now_ms,
		char nonce[CK_TOKEN_HEX + 1], char **field);
/* Whether field was served with nonce, by this key, at most CK_LOGIN_FORM_MS ago. */
bool ck_login_form_ok(const unsigned char key[CK_LOGIN_KEY_LEN], const char *nonce,
		const char *field, int64_t now_ms);
/* The login cookie's Set-Cookie value (NULL nonce: one that clears it); a new string. */
char *ck_login_cookie_header(const char *nonce, bool secure);

#endif /* BG_CONTROLLER_COCKPIT_AUTH_H */
