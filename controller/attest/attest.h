/*
 * attest: staging attestations (issue 14, ADR "alerts and attestations").
 * A staging install that made a candidate live after its checks signs a
 * small claim with its own Ed25519 key (libcrypto, EVP_PKEY_ED25519):
 * site, version, image reference and image ID, spec hash, the checks
 * passed, time and install. A production install whose site says
 * `promotion: {require: staging, trust: [KEY.pub]}` plans a candidate only
 * when such a claim, signed by a trusted key, covers the image ID.
 *
 * File format (one JSON object, a file of its own, safe in git):
 *   {"format": "bluegreen-attestation/1", "payload": "<claim JSON text>",
 *    "key_id": "<16 hex>", "signature": "<base64 Ed25519 over payload>"}
 * The signature covers the payload's exact bytes, so no canonical JSON is
 * needed; key_id only helps humans (every trusted key is tried).
 *
 * The private key lives in STATE_DIR/attest-key.pem (0600, created on
 * first use with O_EXCL, read without following links and refused when
 * group or others can read it); it is never printed.
 */
#ifndef BG_CONTROLLER_ATTEST_H
#define BG_CONTROLLER_ATTEST_H

#include "bg.h"
#include "bg-util.h"

#define ATTEST_FORMAT "bluegreen-attestation/1"
#define ATTEST_KEY_FILE "attest-key.pem"
#define ATTEST_DIR "attestations"
#define ATTEST_MAX_BYTES (64 * 1024)

struct attest_key; /* a private or public Ed25519 key, opaque */

/* What an attestation says. */
struct attest_claim {
	char *site;
	unsigned version;
	char *image;     /* the reference as configured */
	char *image_id;  /* "sha256:..." */
	char *spec;      /* the site's spec hash */
	struct bg_strv checks; /* names of the checks passed ("health") */
	char *time;      /* UTC, ISO 8601 */
	char *mode;      /* install_mode of the signer */
	char *host;      /* host name of the signer */
	char *key_id;    /* of the key that verified it (set by verify) */
};

void attest_claim_init(struct attest_claim *c);
void attest_claim_release(struct attest_claim *c);

/*
 * The signing key of state_dir (an existing, trusted state directory),
 * generated and written 0600 on first use. *created tells whether this
 * call made it (may be NULL).
 */
int attest_key_open(const char *state_dir, struct attest_key **out, bool *created,
		char **why);
/* A trusted public key from a PEM file (no link followed); Ed25519 only. */
int attest_pubkey_load(const char *path, struct attest_key **out, char **why);
void attest_key_destroy(struct attest_key *k);
/* The public half as PEM (a new string), and its 16-hex id. */
int attest_key_public_pem(const struct attest_key *k, char **pem);
void attest_key_id(const struct attest_key *k, char id[17]);

/* Sign c (its key_id is ignored) into the file text (a new string). */
int attest_sign(const struct attest_key *k, const struct attest_claim *c, char **text);

/*
 * Verify text against each of keys[0..n); on success fill *out (when not
 * NULL) and return 0. Otherwise BG_EREFUSED (not signed by any of them,
 * or tampered) or BG_EPARSE (not an attestation), *why saying which.
 */
int attest_verify(const char *text, size_t len, struct attest_key *const *keys, size_t n,
		struct attest_claim *out, char **why);

/* Write a signed text into state_dir/attestations/ (made 0700); *path the file. */
int attest_store(const char *state_dir, const struct attest_claim *c, const char *text,
		char **path);

/*
 * The attestation in dir that keys verify and that covers image_id (site
 * NULL: any site); with version > 0, that version of site. The newest by
 * version wins. Returns 0 with *out filled and *path (may be NULL) set,
 * BG_ENOT_FOUND with *why saying what was looked at, or another error.
 */
int attest_find(const char *dir, struct attest_key *const *keys, size_t n, const char *site,
		const char *image_id, unsigned version, struct attest_claim *out, char **path,
		char **why);

#endif /* BG_CONTROLLER_ATTEST_H */
