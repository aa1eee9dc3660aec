/*
 * edge-auth: the preview host's basic-auth credentials as the edges store
 * them, one htpasswd line "USER:$apr1$SALT$HASH". apr1 (Apache's MD5-crypt)
 * is the one hash both nginx and Traefik understand; it is written here
 * from the algorithm on libcrypto's MD5. The salt is derived from the
 * password, the site and the user (HMAC-SHA256), not drawn at random, so
 * rendering stays pure (the same config gives the same bytes) and a new
 * password gives a new line, which a plan can show as a change without
 * ever showing the password (ADR 0015). nginx reads the line from a file
 * edge-nginx-access.c writes; Traefik gets it in the site's file.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-util.h"
#include "edge-int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define APR1_MAGIC "$apr1$"
#define APR1_SALT_MAX 8

/* The crypt(3) alphabet: salts and the encoded hash use it. */
static const char crypt64[] =
	"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * One MD5 implementation fetched per hash: OpenSSL 3 would otherwise look
 * it up again on each of the 1002 initialisations (0.54 ms per hash here;
 * 0.31 ms with one fetch, about what the MD5 work itself costs).
 */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
static EVP_MD *md5_fetch(void)
{
	return EVP_MD_fetch(NULL, "MD5", NULL);
}

static void md5_free(EVP_MD *md)
{
	EVP_MD_free(md);
}
#else
static EVP_MD *md5_fetch(void)
{
	return (EVP_MD *)EVP_md5(); /* static, never freed */
}

static void md5_free(EVP_MD *md)
{
	(void)md;
}
#endif

static void md5_begin(EVP_MD_CTX *c, const EVP_MD *md5)
{
	if (!EVP_DigestInit_ex(c, md5, NULL)) {
		BG_BUG("EVP_DigestInit_ex(md5) failed");
	}
}

static void md5_add(EVP_MD_CTX *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c, p, n);
}

static void md5_end(EVP_MD_CTX *c, unsigned char out[16])
{
	unsigned int n = 0;
	EVP_DigestFinal_ex(c, out, &n);
}

/* n characters of crypt64 for the low 6n bits of v, least significant first. */
static void crypt64_put(struct bg_buf *b, unsigned long v, int n)
{
	while (n-- > 0) {
		bg_buf_addch(b, crypt64[v & 0x3f]);
		v >>= 6;
	}
}

char *edge__apr1(const char *password, const char *salt)
{
	size_t pl = strlen(password), sl = strnlen(salt, APR1_SALT_MAX);
	unsigned char md[16];
	struct bg_buf b = BG_BUF_INIT;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_MD *md5 = md5_fetch();

	if (!c || !md5) {
		BG_BUG("MD5 is not available from libcrypto");
	}
	/* The "alternate" sum: password, salt, password. */
	md5_begin(c, md5);
	md5_add(c, password, pl);
	md5_add(c, salt, sl);
	md5_add(c, password, pl);
	md5_end(c, md);

	md5_begin(c, md5);
	md5_add(c, password, pl);
	md5_add(c, APR1_MAGIC, strlen(APR1_MAGIC));
	md5_add(c, salt, sl);
	for (size_t left = pl; left; ) {
		size_t n = left > 16 ? 16 : left;
		md5_add(c, md, n);
		left -= n;
	}
	/* For each bit of the length, low first: a NUL byte for a 1, else
	 * the password's first byte (the original's quirk, kept as is). */
	for (size_t bits = pl; bits; bits >>= 1) {
		md5_add(c, (bits & 1) ? "" : password, 1);
	}
	md5_end(c, md);

	/* 1000 rounds, meant to slow down guessing. */
	for (int i = 0; i < 1000; i++) {
		md5_begin(c, md5);
		if (i & 1) {
			md5_add(c, password, pl);
		} else {
			md5_add(c, md, 16);
		}
		if (i % 3) {
			md5_add(c, salt, sl);
		}
		if (i % 7) {
			md5_add(c, password, pl);
		}
		if (i & 1) {
			md5_add(c, md, 16);
		} else {
			md5_add(c, password, pl);
		}
		md5_end(c, md);
	}
	EVP_MD_CTX_free(c);
	md5_free(md5);

	bg_buf_adds(&b, APR1_MAGIC);
	bg_buf_add(&b, salt, sl);
	bg_buf_addch(&b, '$');
	/* Bytes i, i+6, i+12 in groups of three, then 4, 10, 5 and 11 last. */
	for (int i = 0; i < 4; i++) {
		crypt64_put(&b, (unsigned long)md[i] << 16 | (unsigned long)md[i + 6] << 8 |
				md[i + 12], 4);
	}
	crypt64_put(&b, (unsigned long)md[4] << 16 | (unsigned long)md[10] << 8 | md[5], 4);
	crypt64_put(&b, md[11], 2);
	OPENSSL_cleanse(md, sizeof(md));
	return bg_buf_detach(&b, NULL);
}

/*
 * 8 salt characters from HMAC-SHA256(key = password, "bluegreen preview
 * SITE USER"): the same for the same credentials (pure rendering), new for
 * a new password, different between sites and users sharing a password.
 * 64 divides 256, so byte & 63 picks every character equally often.
 */
static void auth_salt(const struct cfg_site *site, char salt[APR1_SALT_MAX + 1])
{
	const struct cfg_preview_auth *a = &site->preview_auth;
	char *msg = bg_xasprintf("bluegreen preview %s %s", site->name, a->user);
	unsigned char mac[32];
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), a->password, (int)strlen(a->password),
			(const unsigned char *)msg, strlen(msg), mac, &n)) {
		BG_BUG("HMAC-SHA256 failed");
	}
	for (size_t i = 0; i < APR1_SALT_MAX; i++) {
		salt[i] = crypt64[mac[i] & 0x3f];
	}
	salt[APR1_SALT_MAX] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	free(msg);
}

/* A user name htpasswd can hold: no ':' (the separator), no control byte. */
static bool auth_user_ok(const char *u)
{
	if (!u || !*u) {
		return false;
	}
	for (; *u; u++) {
		if (*u == ':' || (unsigned char)*u < 0x20 || *u == 0x7f) {
			return false;
		}
	}
	return true;
}

char *edge__htpasswd_line(const struct cfg_site *site)
{
	const struct cfg_preview_auth *a = &site->preview_auth;
	char salt[APR1_SALT_MAX + 1];

	if (!a->user || !a->password || !auth_user_ok(a->user) || !site->name) {
		return NULL;
	}
	auth_salt(site, salt);
	char *hash = edge__apr1(a->password, salt);
	char *line = bg_xasprintf("%s:%s", a->user, hash);
	OPENSSL_cleanse(hash, strlen(hash));
	free(hash);
	return line;
}

char *edge__auth_tag(const struct cfg_site *site)
{
	char hex[65];
	char *line = edge__htpasswd_line(site);

	if (!line) {
		return NULL;
	}
	bg_sha256_hex(line, strlen(line), hex);
	OPENSSL_cleanse(line, strlen(line));
	free(line);
	hex[16] = '\0';
	return bg_xstrdup(hex);
}
