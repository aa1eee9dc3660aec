/*
 * desired-int: what the files of the desired module share and nobody else
 * sees. desired.c builds every site from the configuration; desired-pin.c
 * rebuilds one site from a version recorded in the history (rollback
 * --to) and must compute its spec, secrets hash and version number exactly
 * as desired.c does, so it calls the same functions rather than copies.
 */
#ifndef BG_CONTROLLER_DESIRED_INT_H
#define BG_CONTROLLER_DESIRED_INT_H

#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"

struct json_object;

/* The canonical colour spec of s as a json-c object (caller puts it):
 * hashed says secrets are "<secret>" (the hashed form) or "<redacted>". */
struct json_object *des__colour_spec(const struct desired *des, const struct cfg_site *s,
		const char *image_id, const char *network, bool hashed);
/* Hash the hashed form into spec, keep the redacted one in *spec_json; puts both. */
void des__spec_finish(struct json_object *hashed, struct json_object *redacted,
		char spec[65], char **spec_json);
/* Keyed hash of env's secret values into out ("" if none); sets *uncompared
 * when there are secrets but key is not usable. */
void des__secrets_mac(const struct cfg_env *env, const struct obs_secrets *key,
		char out[65], bool *uncompared);
/* The version spec has in site's history, or the next number (*is_new). */
unsigned des__version_of(const struct obs *obs, const char *site, const char *spec,
		bool *is_new, bool *rejected);
/* Push s onto sv (taking it) unless sv has it already (then free s). */
void des__add_unique(struct bg_strv *sv, char *s);

/* Issue 17 (desired-secrets.c): the env of a create request, its
 * secret_keys and, with secrets.as files, its secrets (env KEY_FILE);
 * points out->spec at them, so call it after fill_spec. */
void des__secrets_fill(struct des_create *out, const char *site, const struct cfg_env *env,
		const struct cfg_secrets *sc, const struct obs_secrets *k);
/* The spec's "secrets" member, only with secrets.as files. */
void des__secrets_spec_add(struct json_object *o, const struct cfg_secrets *sc);

/* Free what des_build_args pinned on s (des_release calls it); NULL-safe. */
void des__pin_free(struct des_site *s);

#endif /* BG_CONTROLLER_DESIRED_INT_H */
