/*
 * hist-confirm: a site's confirm phrase, kept as a salted PBKDF2 hash in
 * the history's meta database (hist-confirm.h). The record is
 * "pbkdf2-sha256 ITERATIONS SALT HASH" (hex); the iteration count is in
 * the record so it can be raised later without breaking kept phrases.
 */
#include "bg.h"
#include "bg-util.h"
#include "bg-log.h"
#include "hist-confirm.h"
#include "hist-db.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#define CONFIRM_ITER 10000 /* ~3 ms: it runs after each switch */
#define CONFIRM_SALT 16
#define CONFIRM_HASH 32
#define CONFIRM_PREFIX "confirm:"

/* n bytes of hex at s, then the end or a space (the stored form). */
static bool unhex(const char *s, size_t n, unsigned char *out)
{
	return bg_hex_decode(s, out, n) && (s[2 * n] == '\0' || s[2 * n] == ' ');
}

static int derive(const char *phrase, const unsigned char *salt, unsigned iter,
		unsigned char out[CONFIRM_HASH])
{
	return PKCS5_PBKDF2_HMAC(phrase, (int)strlen(phrase), salt, CONFIRM_SALT, (int)iter,
			EVP_sha256(), CONFIRM_HASH, out) == 1 ? 0 : BG_ERRNO(EINVAL);
}

struct confirm_ctx {
	const char *key;
	const char *value; /* put: the record; NULL: delete */
	char *got;         /* get: the record */
};

static int fn_get(struct hist *h, MDB_txn *txn, void *arg)
{
	struct confirm_ctx *c = arg;
	MDB_val k = {.mv_size = strlen(c->key), .mv_data = (void *)c->key}, v;
	free(c->got);
	c->got = NULL;
	int rc = mdb_get(txn, h->dbi[HIST_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return BG_ENOT_FOUND;
	}
	if (!rc) {
		c->got = bg_xstrndup(v.mv_data, v.mv_size);
	}
	return rc;
}

static int fn_put(struct hist *h, MDB_txn *txn, void *arg)
{
	struct confirm_ctx *c = arg;
	if (c->value) {
		return hist__meta_put(h, txn, c->key, c->value);
	}
	MDB_val k = {.mv_size = strlen(c->key), .mv_data = (void *)c->key};
	int rc = mdb_del(txn, h->dbi[HIST_DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int hist_confirm_check(struct hist *h, const char *site, const char *given, bool *ok)
{
	struct confirm_ctx c = {0};
	unsigned char salt[CONFIRM_SALT], want[CONFIRM_HASH], got[CONFIRM_HASH];
	char salt_hex[2 * CONFIRM_SALT + 1], hash_hex[2 * CONFIRM_HASH + 1];
	unsigned iter = 0;

	*ok = false;
	if (!hist__name_ok(site) || !hist__can_read(h, HIST_DB_META)) {
		return BG_ENOT_FOUND;
	}
	c.key = bg_xasprintf(CONFIRM_PREFIX "%s", site);
	int err = hist__txn_run(h, MDB_RDONLY, "reading a confirm phrase", fn_get, &c);
	if (err) {
		goto out;
	}
	if (sscanf(c.got, "pbkdf2-sha256 %u %32s %64s", &iter, salt_hex, hash_hex) != 3 ||
			iter == 0 || !unhex(salt_hex, CONFIRM_SALT, salt) ||
			!unhex(hash_hex, CONFIRM_HASH, want)) {
		err = hist__corrupt("meta", "a kept confirm phrase is not a pbkdf2-sha256 record");
		goto out;
	}
	err = derive(given ? given : "", salt, iter, got);
	if (!err) {
		*ok = CRYPTO_memcmp(got, want, CONFIRM_HASH) == 0;
	}
out:
	free((char *)c.key);
	free(c.got);
	return err;
}

int hist_confirm_keep(struct hist *h, const char *site, const char *phrase)
{
	unsigned char salt[CONFIRM_SALT], hash[CONFIRM_HASH];
	char salt_hex[2 * CONFIRM_SALT + 1], hash_hex[2 * CONFIRM_HASH + 1];
	bool same = false;

	if (!hist__name_ok(site)) {
		return BG_ERRNO(EINVAL);
	}
	if (phrase && hist_confirm_check(h, site, phrase, &same) == 0 && same) {
		return 0; /* kept already: no write, no new salt */
	}
	struct confirm_ctx c = {.key = bg_xasprintf(CONFIRM_PREFIX "%s", site)};
	char *rec = NULL;
	int err = 0;
	if (phrase) {
		if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
			err = BG_ERRNO(errno ? errno : EIO);
			goto out;
		}
		err = derive(phrase, salt, CONFIRM_ITER, hash);
		if (err) {
			goto out;
		}
		bg_hex_encode(salt, CONFIRM_SALT, salt_hex);
		bg_hex_encode(hash, CONFIRM_HASH, hash_hex);
		rec = bg_xasprintf("pbkdf2-sha256 %u %s %s", CONFIRM_ITER, salt_hex, hash_hex);
	}
	c.value = rec;
	err = hist__txn_run(h, 0, "keeping a confirm phrase", fn_put, &c);
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	free(rec);
	free((char *)c.key);
	return err;
}
