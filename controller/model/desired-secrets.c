/*
 * desired-secrets: how a site's secret env values go into a create request
 * (issue 17, docs/swarm.md). Every request lists which env keys are secret
 * (spec.secret_keys). With the site's `secrets.as: files` the values leave
 * the environment: each becomes a Swarm secret mounted at
 * /run/secrets/KEY, and the env carries KEY_FILE=/run/secrets/KEY (the
 * convention of the official images). A secret is named by its content,
 * bg-SITE-KEY-HASH12, so a new value is a new secret and a new service
 * spec; HASH12 is a keyed hash (the installation's secrets.key, ADR 0010),
 * never a plain hash of the value: secret names are public (docker secret
 * ls, service specs, snapshots) and a plain hash of a weak password can be
 * tested offline. Nothing here prints a value.
 */
#include "bg.h"
#include "desired.h"
#include "desired-int.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define DES_SECRET_NAME_MAX 64 /* Swarm's limit for an object name */

char *des_secret_name(const char *site, const char *key, const char *value,
		const struct obs_secrets *k)
{
	if (!k || k->state != OBS_SECRETS_OK) {
		return NULL;
	}
	struct bg_buf b = BG_BUF_INIT;
	uint8_t md[32];
	unsigned int len = 0;
	char hex[13];
	bg_buf_add(&b, "swarm-secret", sizeof("swarm-secret"));
	bg_buf_add(&b, site, strlen(site) + 1);
	bg_buf_add(&b, key, strlen(key) + 1);
	bg_buf_add(&b, value, strlen(value) + 1);
	HMAC(EVP_sha256(), k->key, sizeof(k->key), (const unsigned char *)b.data, b.len, md,
			&len);
	OPENSSL_cleanse(b.data, b.len);
	bg_buf_release(&b);
	bg_hex_encode(md, 6, hex);
	OPENSSL_cleanse(md, sizeof(md));
	/* "bg-" SITE "-" KEY "-" HEX within 64: a long key is cut (the hash,
	 * which covers the whole key, keeps names apart). */
	int room = DES_SECRET_NAME_MAX - (int)(3 + strlen(site) + 1 + 1 + 12);
	int klen = (int)strlen(key);
	return bg_xasprintf("bg-%s-%.*s-%s", site, klen < room ? klen : room, key, hex);
}

void des__secrets_fill(struct des_create *out, const char *site, const struct cfg_env *env,
		const struct cfg_secrets *sc, const struct obs_secrets *k)
{
	bool files = sc && sc->as == CFG_SECRETS_FILES;
	size_t n = 0;
	for (size_t i = 0; i < env->n; i++) {
		n += env->v[i].secret;
	}
	out->secrets = bg_xcalloc(n ? n : 1, sizeof(*out->secrets));
	for (size_t i = 0; i < env->n; i++) {
		const struct cfg_env_var *v = &env->v[i];
		if (!v->secret) {
			bg_strv_push_take(&out->env, bg_xasprintf("%s=%s", v->key, v->value));
			continue;
		}
		bg_strv_push(&out->secret_keys, v->key);
		if (!files) {
			bg_strv_push_take(&out->env, bg_xasprintf("%s=%s", v->key, v->value));
			continue;
		}
		struct dk_secret *s = &out->secrets[out->n_secrets++];
		char *name = des_secret_name(site, v->key, v->value, k);
		bg_strv_push_take(&out->env, bg_xasprintf("%s_FILE=/run/secrets/%s", v->key, v->key));
		s->key = v->key;
		s->file = v->key;
		s->value = v->value;
		if (name) {
			bg_strv_push_take(&out->secret_names, name);
			s->name = out->secret_names.v[out->secret_names.n - 1];
		}
		s->uid = sc->uid;
		s->gid = sc->gid;
		s->mode = cfg_secrets_file_mode(sc);
	}
	/* The names were pushed while the vector may have moved: point again. */
	for (size_t i = 0, j = 0; i < out->n_secrets; i++) {
		if (out->secrets[i].name) {
			out->secrets[i].name = out->secret_names.v[j++];
		}
	}
	out->spec.secret_keys = out->secret_keys.n ? out->secret_keys.v : NULL;
	out->spec.secrets = out->n_secrets ? out->secrets : NULL;
	out->spec.n_secrets = out->n_secrets;
}

void des__secrets_spec_add(struct json_object *o, const struct cfg_secrets *sc)
{
	if (!sc || sc->as != CFG_SECRETS_FILES) {
		return; /* a site without the key keeps the hash it had */
	}
	char mode[8];
	snprintf(mode, sizeof(mode), "%04o", cfg_secrets_file_mode(sc));
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "as", json_object_new_string("files"));
	json_object_object_add(j, "uid", json_object_new_int64(sc->uid));
	json_object_object_add(j, "gid", json_object_new_int64(sc->gid));
	json_object_object_add(j, "mode", json_object_new_string(mode));
	json_object_object_add(o, "secrets", j);
}
