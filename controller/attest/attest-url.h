/*
 * attest-url: attestations fetched from a URL (issue 14). A production
 * site's `promotion.attestations` may be an https:// URL instead of a
 * directory: the URL of one attestation file, where `{image_id}` (if
 * present) is replaced by the candidate's image ID (the 64 hex digits,
 * without "sha256:"), so a bucket keyed by image ID serves them. The file
 * is fetched with libcurl (no proxy, a time limit, at most ATTEST_MAX_BYTES,
 * no redirect followed at all, so none to another scheme or host) and
 * verified exactly as a local file (attest_verify): a fetched attestation
 * is trusted for its signature, never for where it came from. Plain http://
 * is accepted only for a loopback host (a local mirror, the tests).
 */
#ifndef BG_CONTROLLER_ATTEST_URL_H
#define BG_CONTROLLER_ATTEST_URL_H

#include "bg.h"
#include "attest.h"

/* Time limit of one fetch. */
#define ATTEST_URL_TIMEOUT_MS 10000

/* Whether s is a URL attestations may be fetched from (https, or http on loopback). */
bool attest_url_ok(const char *s);

/*
 * Fetch url (with {image_id} filled in), verify it with keys and check it
 * covers image_id. 0 with *out filled; BG_ENOT_FOUND with *why (a new
 * string: what was fetched and why it does not count), or another error.
 * The URL appears in *why only as scheme://host/... (it may hold a token).
 */
int attest_url_find(const char *url, struct attest_key *const *keys, size_t n,
		const char *image_id, struct attest_claim *out, char **why);

#endif /* BG_CONTROLLER_ATTEST_URL_H */
