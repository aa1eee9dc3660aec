/*
 * attest: see attest.h. Ed25519 through libcrypto's EVP interface (one-shot
 * EVP_DigestSign/Verify with no digest, as Ed25519 wants), PEM for the
 * keys, base64 for the signature, json-c for the envelope and the claim.
 * Every file is read with bg_file_read / bg_file_read_safe (no link
 * followed, regular files only, size-capped) and written atomically.
 */
#include "bg.h"
#include "attest.h"
#include "bg-err.h"
#include "bg-fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

struct attest_key {
	EVP_PKEY *pkey;
};

void attest_claim_init(struct attest_claim *c)
{
	memset(c, 0, sizeof(*c));
	bg_strv_init(&c->checks);
}

void attest_claim_release(struct attest_claim *c)
{
	if (!c) {
		return;
	}
	free(c->site);
	free(c->image);
	free(c->image_id);
	free(c->spec);
	bg_strv_release(&c->checks);
	free(c->time);
	free(c->mode);
	free(c->host);
	free(c->key_id);
	attest_claim_init(c);
}

void attest_key_destroy(struct attest_key *k)
{
	if (!k) {
		return;
	}
	EVP_PKEY_free(k->pkey);
	free(k);
}

static struct attest_key *key_wrap(EVP_PKEY *p)
{
	struct attest_key *k = bg_xcalloc(1, sizeof(*k));
	k->pkey = p;
	return k;
}

/* Generate a key and write it with O_EXCL (a concurrent first use: EEXIST). */
static int key_create(const char *path, char **why)
{
	EVP_PKEY *p = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	BIO *b = NULL;
	int err = 0;

	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &p) <= 0) {
		*why = bg_xstrdup("cannot generate an Ed25519 key (libcrypto)");
		err = BG_ERRNO(EIO);
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_PrivateKey(b, p, NULL, NULL, 0, NULL, NULL)) {
		*why = bg_xstrdup("cannot encode the key (libcrypto)");
		err = BG_ERRNO(EIO);
		goto out;
	}
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = BG_ERRNO(errno);
		if (errno != EEXIST) {
			*why = bg_xasprintf("cannot create %s: %s", path, strerror(errno));
		}
		goto out;
	}
	bool ok = fchmod(fd, 0600) == 0 && write(fd, data, (size_t)n) == (ssize_t)n &&
			fsync(fd) == 0;
	close(fd);
	if (!ok) {
		unlink(path);
		*why = bg_xasprintf("cannot write %s", path);
		err = BG_ERRNO(EIO);
	}
out:
	BIO_free(b);
	EVP_PKEY_free(p);
	EVP_PKEY_CTX_free(ctx);
	return err;
}

int attest_key_open(const char *state_dir, struct attest_key **out, bool *created, char **why)
{
	char *path = bg_xasprintf("%s/%s", state_dir, ATTEST_KEY_FILE);
	char *pem = NULL;
	size_t len = 0;
	struct stat st;
	const char *fwhy = NULL;
	int err;

	*out = NULL;
	*why = NULL;
	if (created) {
		*created = false;
	}
	err = bg_file_read_safe(state_dir, ATTEST_KEY_FILE, 16 * 1024, &pem, &len, &st, &fwhy);
	if (err == BG_ERRNO(ENOENT)) {
		err = key_create(path, why);
		if (err == 0 && created) {
			*created = true;
		}
		if (err == 0 || err == BG_ERRNO(EEXIST)) {
			err = bg_file_read_safe(state_dir, ATTEST_KEY_FILE, 16 * 1024, &pem, &len,
					&st, &fwhy);
		}
	}
	if (err) {
		if (!*why) {
			*why = bg_xasprintf("%s: %s", path, fwhy ? fwhy : bg_strerror(err));
		}
		goto out;
	}
	if (st.st_mode & 077) {
		*why = bg_xasprintf("%s: group or others may read it (mode %03o): chmod 600 it, "
				"or remove it to make a new key", path, (unsigned)(st.st_mode & 0777));
		err = BG_EREFUSED;
		goto out;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *p = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!p || EVP_PKEY_id(p) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(p);
		*why = bg_xasprintf("%s: not an Ed25519 private key", path);
		err = BG_EPARSE;
		goto out;
	}
	*out = key_wrap(p);
out:
	if (pem) {
		explicit_bzero(pem, len);
		free(pem);
	}
	free(path);
	return err;
}

int attest_pubkey_load(const char *path, struct attest_key **out, char **why)
{
	char *pem = NULL;
	size_t len = 0;

	*out = NULL;
	int err = bg_file_read(path, 16 * 1024, &pem, &len);
	if (err) {
		*why = bg_xasprintf("%s: %s", path, bg_strerror(err));
		return err;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *p = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	free(pem);
	if (!p || EVP_PKEY_id(p) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(p);
		*why = bg_xasprintf("%s: not an Ed25519 public key in PEM (bluegreen attest key "
				"prints one)", path);
		return BG_EPARSE;
	}
	*out = key_wrap(p);
	return 0;
}

int attest_key_public_pem(const struct attest_key *k, char **pem)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;

	if (!b || !PEM_write_bio_PUBKEY(b, k->pkey)) {
		BIO_free(b);
		return BG_ERRNO(EIO);
	}
	long n = BIO_get_mem_data(b, &data);
	*pem = bg_xmalloc((size_t)n + 1);
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	BIO_free(b);
	return 0;
}

void attest_key_id(const struct attest_key *k, char id[17])
{
	unsigned char raw[32];
	size_t n = sizeof(raw);
	char hex[65];

	if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &n) != 1) {
		n = 0;
	}
	bg_sha256_hex(raw, n, hex);
	memcpy(id, hex, 16);
	id[16] = '\0';
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

/* The claim as the exact text that is signed. */
static char *claim_payload(const struct attest_claim *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *checks = json_object_new_array();
	struct json_object *inst = json_object_new_object();

	add_str(o, "format", ATTEST_FORMAT);
	add_str(o, "site", c->site);
	json_object_object_add(o, "version", json_object_new_int64(c->version));
	add_str(o, "image", c->image);
	add_str(o, "image_id", c->image_id);
	add_str(o, "spec", c->spec);
	for (size_t i = 0; i < c->checks.n; i++) {
		json_object_array_add(checks, json_object_new_string(c->checks.v[i]));
	}
	json_object_object_add(o, "checks", checks);
	add_str(o, "time", c->time);
	add_str(inst, "mode", c->mode);
	add_str(inst, "host", c->host);
	json_object_object_add(o, "install", inst);
	char *s = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

int attest_sign(const struct attest_key *k, const struct attest_claim *c, char **text)
{
	char *payload = claim_payload(c);
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	char b64[4 * ((sizeof(sig) + 2) / 3) + 1];
	char id[17];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int err = 0;

	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) != 1 ||
			EVP_DigestSign(md, sig, &siglen, (const unsigned char *)payload,
					strlen(payload)) != 1) {
		err = BG_ERRNO(EIO);
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);
	attest_key_id(k, id);
	struct json_object *o = json_object_new_object();
	add_str(o, "format", ATTEST_FORMAT);
	add_str(o, "payload", payload);
	add_str(o, "key_id", id);
	add_str(o, "signature", b64);
	*text = bg_xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
out:
	EVP_MD_CTX_free(md);
	free(payload);
	return err;
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string)) {
		return NULL;
	}
	return json_object_get_string(v);
}

static bool sig_ok(EVP_PKEY *p, const unsigned char *sig, size_t siglen, const char *payload)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, p) == 1 &&
			EVP_DigestVerify(md, sig, siglen, (const unsigned char *)payload,
					strlen(payload)) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

/* Fill c from a verified payload. */
static int claim_parse(const char *payload, struct attest_claim *c, char **why)
{
	struct json_object *o = json_tokener_parse(payload);
	struct json_object *v, *inst = NULL;
	const char *fmt = o ? get_str(o, "format") : NULL;

	if (!fmt || strcmp(fmt, ATTEST_FORMAT) != 0 || !get_str(o, "image_id") ||
			!get_str(o, "site")) {
		json_object_put(o);
		*why = bg_xstrdup("the signed claim is not a " ATTEST_FORMAT " claim");
		return BG_EPARSE;
	}
	c->site = bg_xstrdup(get_str(o, "site"));
	c->image = bg_xstrdup(get_str(o, "image"));
	c->image_id = bg_xstrdup(get_str(o, "image_id"));
	c->spec = bg_xstrdup(get_str(o, "spec"));
	c->time = bg_xstrdup(get_str(o, "time"));
	if (json_object_object_get_ex(o, "version", &v)) {
		c->version = (unsigned)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(o, "checks", &v) && json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(v, i));
			bg_strv_push(&c->checks, s ? s : "");
		}
	}
	if (json_object_object_get_ex(o, "install", &inst)) {
		c->mode = bg_xstrdup(get_str(inst, "mode"));
		c->host = bg_xstrdup(get_str(inst, "host"));
	}
	json_object_put(o);
	return 0;
}

int attest_verify(const char *text, size_t len, struct attest_key *const *keys, size_t n,
		struct attest_claim *out, char **why)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
	unsigned char sig[66];
	int err = BG_EPARSE;

	*why = NULL;
	json_tokener_free(tok);
	const char *fmt = o ? get_str(o, "format") : NULL;
	const char *payload = o ? get_str(o, "payload") : NULL;
	const char *b64 = o ? get_str(o, "signature") : NULL;
	if (!fmt || strcmp(fmt, ATTEST_FORMAT) != 0 || !payload || !b64) {
		*why = bg_xstrdup("not a bluegreen attestation (format, payload and signature "
				"expected)");
		goto out;
	}
	/* 64 bytes of signature are 88 base64 characters, padding included. */
	if (strlen(b64) != 88 || EVP_DecodeBlock(sig, (const unsigned char *)b64, 88) != 66) {
		*why = bg_xstrdup("the signature is not 64 bytes of base64");
		goto out;
	}
	err = BG_EREFUSED;
	for (size_t i = 0; i < n; i++) {
		if (sig_ok(keys[i]->pkey, sig, 64, payload)) {
			if (out) {
				attest_claim_init(out);
				err = claim_parse(payload, out, why);
				if (!err) {
					char id[17];
					attest_key_id(keys[i], id);
					out->key_id = bg_xstrdup(id);
				}
			} else {
				err = 0;
			}
			goto out;
		}
	}
	*why = bg_xasprintf("the signature does not verify with %s: the file was changed "
			"after it was signed, or another key signed it",
			n == 1 ? "the trusted key" : n ? "any trusted key" : "no key (none trusted)");
out:
	json_object_put(o);
	return err;
}

int attest_store(const char *state_dir, const struct attest_claim *c, const char *text,
		char **path)
{
	char *dir = bg_xasprintf("%s/%s", state_dir, ATTEST_DIR);
	/* "sha256:0123..." -> "0123456789ab": the name says which image at a glance. */
	const char *hex = strchr(c->image_id, ':') ? strchr(c->image_id, ':') + 1 : c->image_id;
	int err = bg_mkdir_p(dir, 0700);

	*path = bg_xasprintf("%s/%s-v%u-%.12s.json", dir, c->site, c->version, hex);
	if (!err) {
		err = bg_file_write_atomic(*path, NULL, text, strlen(text), 0644);
	}
	free(dir);
	return err;
}

/* Whether claim c is the one asked for. */
static bool claim_matches(const struct attest_claim *c, const char *site, const char *image_id,
		unsigned version)
{
	if (site && strcmp(c->site, site) != 0) {
		return false;
	}
	if (image_id && strcmp(c->image_id, image_id) != 0) {
		return false;
	}
	return !version || c->version == version;
}

int attest_find(const char *dir, struct attest_key *const *keys, size_t n, const char *site,
		const char *image_id, unsigned version, struct attest_claim *out, char **path,
		char **why)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t looked = 0, refused = 0;
	bool found = false;

	attest_claim_init(out);
	*why = NULL;
	if (path) {
		*path = NULL;
	}
	if (!d) {
		*why = bg_xasprintf("directory %s: %s", dir, strerror(errno));
		return BG_ENOT_FOUND;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !bg_str_has_suffix(e->d_name, ".json")) {
			continue;
		}
		char *text = NULL, *w = NULL;
		size_t len = 0;
		struct attest_claim c;
		looked++;
		if (bg_file_read_safe(dir, e->d_name, ATTEST_MAX_BYTES, &text, &len, NULL,
				NULL) != 0) {
			refused++;
			continue;
		}
		int err = attest_verify(text, len, keys, n, &c, &w);
		free(text);
		free(w);
		if (err) {
			refused++;
			continue;
		}
		if (claim_matches(&c, site, image_id, version) &&
				(!found || c.version > out->version)) {
			attest_claim_release(out);
			*out = c;
			found = true;
			if (path) {
				free(*path);
				*path = bg_xasprintf("%s/%s", dir, e->d_name);
			}
		} else {
			attest_claim_release(&c);
		}
	}
	closedir(d);
	if (!found) {
		*why = bg_xasprintf("%zu file%s looked at in %s, %zu not verified by a trusted key",
				looked, looked == 1 ? "" : "s", dir, refused);
		return BG_ENOT_FOUND;
	}
	return 0;
}
