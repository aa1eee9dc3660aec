/*
 * cockpit-session: the server-side session table, the CSRF tokens and the
 * login throttle (cockpit-auth.h). All of it lives in memory only: a
 * restarted cockpit logs everybody out and forgets failed attempts, which
 * costs a login, never access. A session id is 32 random bytes; the
 * table is searched with constant-time comparisons, and both tables are
 * bounded (the oldest entry makes room), so a flood of logins or of
 * failed attempts cannot grow the process without limit.
 */
#include "cockpit-auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

struct ck_sessions *ck_sessions_new(void)
{
	struct ck_sessions *s = bg_xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

static void ck_session_wipe(struct ck_session *x)
{
	free(x->user);
	explicit_bzero(x, sizeof(*x));
}

void ck_sessions_free(struct ck_sessions *s)
{
	if (!s) {
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		ck_session_wipe(&s->v[i]);
	}
	for (size_t i = 0; i < s->nt; i++) {
		free(s->t[i].key);
	}
	free(s->v);
	free(s->t);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int ck_token_new(char out[CK_TOKEN_HEX + 1])
{
	unsigned char raw[CK_TOKEN_HEX / 2];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		return BG_ERRNO(EIO);
	}
	bg_hex_encode(raw, sizeof(raw), out);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

static void ck_session_remove(struct ck_sessions *s, size_t i)
{
	ck_session_wipe(&s->v[i]);
	s->v[i] = s->v[--s->n];
}

static bool ck_session_expired(const struct ck_session *x, int64_t now_ms)
{
	return now_ms - x->seen_ms > CK_SESSION_IDLE_MS || now_ms - x->created_ms > CK_SESSION_LIFE_MS;
}

int ck_session_open(struct ck_sessions *s, const char *user, int64_t now_ms,
		char id[CK_TOKEN_HEX + 1], char csrf[CK_TOKEN_HEX + 1])
{
	if (ck_token_new(id) != 0 || ck_token_new(csrf) != 0) {
		return BG_ERRNO(EIO);
	}
	pthread_mutex_lock(&s->mu);
	for (size_t i = s->n; i-- > 0;) {
		if (ck_session_expired(&s->v[i], now_ms)) {
			ck_session_remove(s, i);
		}
	}
	if (s->n >= CK_SESSION_MAX) { /* the least recently used one goes */
		size_t old = 0;
		for (size_t i = 1; i < s->n; i++) {
			old = s->v[i].seen_ms < s->v[old].seen_ms ? i : old;
		}
		ck_session_remove(s, old);
	}
	BG_GROW(s->v, s->cap, s->n + 1);
	struct ck_session *x = &s->v[s->n++];
	memcpy(x->id, id, CK_TOKEN_HEX + 1);
	memcpy(x->csrf, csrf, CK_TOKEN_HEX + 1);
	x->user = bg_xstrdup(user);
	x->created_ms = x->seen_ms = now_ms;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* The index of id, or s->n; every entry is compared, in constant time. */
static size_t ck_session_find(struct ck_sessions *s, const char *id)
{
	size_t found = s->n;
	if (!id || strlen(id) != CK_TOKEN_HEX) {
		return found;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (CRYPTO_memcmp(s->v[i].id, id, CK_TOKEN_HEX) == 0) {
			found = i;
		}
	}
	return found;
}

bool ck_session_get(struct ck_sessions *s, const char *id, int64_t now_ms, char **user,
		char csrf[CK_TOKEN_HEX + 1])
{
	bool ok = false;
	*user = NULL;
	pthread_mutex_lock(&s->mu);
	size_t i = ck_session_find(s, id);
	if (i < s->n && ck_session_expired(&s->v[i], now_ms)) {
		ck_session_remove(s, i);
	} else if (i < s->n) {
		s->v[i].seen_ms = now_ms;
		*user = bg_xstrdup(s->v[i].user);
		memcpy(csrf, s->v[i].csrf, CK_TOKEN_HEX + 1);
		ok = true;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void ck_session_close(struct ck_sessions *s, const char *id)
{
	pthread_mutex_lock(&s->mu);
	size_t i = ck_session_find(s, id);
	if (i < s->n) {
		ck_session_remove(s, i);
	}
	pthread_mutex_unlock(&s->mu);
}

void ck_sessions_drop_user(struct ck_sessions *s, const char *user)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = s->n; i-- > 0;) {
		if (strcmp(s->v[i].user, user) == 0) {
			ck_session_remove(s, i);
		}
	}
	pthread_mutex_unlock(&s->mu);
}

char *ck_cookie_header(const char *id, bool secure)
{
	/* No Max-Age on a live one: the browser forgets it on close, the server at expiry. */
	return bg_xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", CK_COOKIE_NAME,
			id ? id : "", secure ? "; Secure" : "", id ? "" : "; Max-Age=0");
}

/* ---- the throttle ---- */

static struct ck_throttle_ent *ck_throttle_find(struct ck_sessions *s, const char *key)
{
	for (size_t i = 0; i < s->nt; i++) {
		if (strcmp(s->t[i].key, key) == 0) {
			return &s->t[i];
		}
	}
	return NULL;
}

int64_t ck_throttle_wait(struct ck_sessions *s, const char *key, int64_t now_ms)
{
	pthread_mutex_lock(&s->mu);
	const struct ck_throttle_ent *t = ck_throttle_find(s, key);
	int64_t wait = t && t->until_ms > now_ms ? t->until_ms - now_ms : 0;
	pthread_mutex_unlock(&s->mu);
	return wait;
}

void ck_throttle_fail(struct ck_sessions *s, const char *key, int64_t now_ms)
{
	pthread_mutex_lock(&s->mu);
	struct ck_throttle_ent *t = ck_throttle_find(s, key);
	if (!t) {
		if (s->nt >= CK_THROTTLE_KEYS) { /* the stalest key goes */
			size_t old = 0;
			for (size_t i = 1; i < s->nt; i++) {
				old = s->t[i].last_ms < s->t[old].last_ms ? i : old;
			}
			free(s->t[old].key);
			s->t[old] = s->t[--s->nt];
		}
		BG_GROW(s->t, s->tcap, s->nt + 1);
		t = &s->t[s->nt++];
		*t = (struct ck_throttle_ent){.key = bg_xstrdup(key)};
	}
	t->failures++;
	t->last_ms = now_ms;
	if (t->failures >= CK_THROTTLE_FREE) {
		unsigned k = t->failures - CK_THROTTLE_FREE;
		int64_t delay = k >= 20 ? CK_THROTTLE_MAX_MS : 1000LL << k;
		t->until_ms = now_ms + (delay > CK_THROTTLE_MAX_MS ? CK_THROTTLE_MAX_MS : delay);
	}
	pthread_mutex_unlock(&s->mu);
}

void ck_throttle_ok(struct ck_sessions *s, const char *key)
{
	pthread_mutex_lock(&s->mu);
	struct ck_throttle_ent *t = ck_throttle_find(s, key);
	if (t) {
		free(t->key);
		*t = s->t[--s->nt];
	}
	pthread_mutex_unlock(&s->mu);
}

/* ---- the login form's token (cockpit-auth.h) ---- */

/* HMAC-SHA256(key, nonce "." MS) in hex into out. */
static void ck_login_mac(const unsigned char key[CK_LOGIN_KEY_LEN], const char *nonce,
		long long ms, char out[CK_TOKEN_HEX + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0;
	char *msg = bg_xasprintf("%s.%lld", nonce, ms);
	if (!HMAC(EVP_sha256(), key, CK_LOGIN_KEY_LEN, (const unsigned char *)msg, strlen(msg),
			mac, &mlen) || mlen != CK_TOKEN_HEX / 2) {
		BG_BUG("HMAC-SHA256 failed");
	}
	bg_hex_encode(mac, mlen, out);
	free(msg);
}

int ck_login_form_new(const unsigned char key[CK_LOGIN_KEY_LEN], int64_t now_ms,
		char nonce[CK_TOKEN_HEX + 1], char **field)
{
	char mac[CK_TOKEN_HEX + 1];
	*field = NULL;
	if (ck_token_new(nonce) != 0) {
		return BG_ERRNO(EIO);
	}
	ck_login_mac(key, nonce, (long long)now_ms, mac);
	*field = bg_xasprintf("%lld.%s", (long long)now_ms, mac);
	return 0;
}

bool ck_login_form_ok(const unsigned char key[CK_LOGIN_KEY_LEN], const char *nonce,
		const char *field, int64_t now_ms)
{
	char want[CK_TOKEN_HEX + 1];
	if (!nonce || !field || strlen(nonce) != CK_TOKEN_HEX) {
		return false;
	}
	size_t nd = strspn(field, "0123456789");
	if (nd == 0 || nd > 15 || field[nd] != '.' || strlen(field + nd + 1) != CK_TOKEN_HEX) {
		return false;
	}
	long long ms = strtoll(field, NULL, 10);
	/* Too old, or from the future (a minute's slack for a clock step). */
	if (now_ms - ms > CK_LOGIN_FORM_MS || ms - now_ms > 60 * 1000) {
		return false;
	}
	ck_login_mac(key, nonce, ms, want);
	bool ok = CRYPTO_memcmp(want, field + nd + 1, CK_TOKEN_HEX) == 0;
	explicit_bzero(want, sizeof(want));
	return ok;
}

char *ck_login_cookie_header(const char *nonce, bool secure)
{
	/* __Host- (with Secure and Path=/) over HTTPS: no other host can set it for us. */
	return bg_xasprintf("%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
			secure ? CK_LOGIN_COOKIE_HOST : CK_LOGIN_COOKIE, nonce ? nonce : "",
			nonce ? CK_LOGIN_FORM_MS / 1000 : 0LL, secure ? "; Secure" : "");
}
