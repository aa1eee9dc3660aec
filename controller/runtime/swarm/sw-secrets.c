/*
 * sw-secrets: a site's secret env values as Swarm secrets (issue 17,
 * docs/swarm.md, secrets.as files). The spec builder names each secret by
 * a keyed hash of its value (bg-SITE-KEY-HASH12, desired-secrets.c); here
 * the service create makes the secrets that do not exist yet (labelled
 * io.bluegreen.*, so they are ours), references them in the task template
 * (the file /run/secrets/KEY, its owner and mode), and records their names
 * in a task label so that observe sees a reference removed by hand. After
 * a service is removed, our secrets of its site that no service references
 * any more are removed: a rotated value leaves no old secret behind once
 * the colour that used it is gone. A secret value is sent once, base64 in
 * the create body, and never printed or kept.
 */
#include "bg.h"
#include "sw.h"
#include "dk-json.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* The task label listing the secrets a service was created with. */
#define SW_LABEL_SECRETS "io.bluegreen.swarm.secrets"
/* The env key a secret of ours holds, on the secret itself. */
#define SW_LABEL_SECRET_KEY "io.bluegreen.secret"

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = bg_xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* POST /secrets/create, or the secret of that name when it is ours. *id new. */
static int secret_ensure(struct dk_client *dk, const struct dk_secret *sec, const char *site,
		char **id, struct bg_diag *d)
{
	char *path = bg_xasprintf("/secrets/%s", sec->name);
	struct json_object *j = NULL;
	int err = dk_request(dk, "GET", path, NULL, NULL, &j, NULL);
	free(path);
	if (!err) {
		struct json_object *l = dk__jget(dk__jget(j, "Spec", json_type_object), "Labels",
				json_type_object);
		if (!dk_labels_managed(l)) {
			dk__error(d, "swarm: secret %s exists and is not managed by bluegreen: "
					"not touched", sec->name);
			err = BG_ECONFLICT;
		} else {
			*id = bg_xstrdup(dk__jstr(j, "ID"));
		}
		json_object_put(j);
		return err;
	}
	struct json_object *req = json_object_new_object(), *lb = json_object_new_object();
	json_object_object_add(req, "Name", json_object_new_string(sec->name));
	json_object_object_add(lb, BG_LABEL_MANAGED, json_object_new_string("true"));
	json_object_object_add(lb, BG_LABEL_SITE, json_object_new_string(site ? site : ""));
	json_object_object_add(lb, SW_LABEL_SECRET_KEY, json_object_new_string(sec->key));
	json_object_object_add(req, "Labels", lb);
	char *data = b64(sec->value);
	json_object_object_add(req, "Data", json_object_new_string(data));
	OPENSSL_cleanse(data, strlen(data));
	free(data);
	char *body = bg_xstrdup(json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req); /* json-c's copy of the value is freed, not wiped */
	j = NULL;
	err = dk_request(dk, "POST", "/secrets/create", body, NULL, &j, d);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (!err) {
		const char *i = dk__jstr(j, "ID");
		*id = i ? bg_xstrdup(i) : NULL;
		err = i ? 0 : BG_EPARSE;
	}
	json_object_put(j);
	return err;
}

int sw_secrets_attach(struct dk_client *dk, const struct dk_container_spec *sp,
		struct json_object *cspec, struct bg_diag *d)
{
	if (!sp->n_secrets) {
		return 0;
	}
	const char *site = sp->labels ? obs_labels_get(sp->labels, BG_LABEL_SITE) : NULL;
	struct json_object *refs = json_object_new_array();
	struct bg_buf names = BG_BUF_INIT;
	int err = 0;
	for (size_t i = 0; !err && i < sp->n_secrets; i++) {
		const struct dk_secret *sec = &sp->secrets[i];
		char *id = NULL;
		if (!sec->name) {
			dk__error(d, "swarm: secret %s: secrets.as files needs the secrets key "
					"(STATE_DIR/secrets.key) to name it; apply creates it", sec->key);
			err = BG_EREFUSED;
			break;
		}
		err = secret_ensure(dk, sec, site, &id, d);
		if (err) {
			break;
		}
		struct json_object *r = json_object_new_object(), *f = json_object_new_object();
		char num[16];
		json_object_object_add(f, "Name", json_object_new_string(sec->file));
		snprintf(num, sizeof(num), "%u", sec->uid);
		json_object_object_add(f, "UID", json_object_new_string(num));
		snprintf(num, sizeof(num), "%u", sec->gid);
		json_object_object_add(f, "GID", json_object_new_string(num));
		json_object_object_add(f, "Mode", json_object_new_int64(sec->mode));
		json_object_object_add(r, "File", f);
		json_object_object_add(r, "SecretID", json_object_new_string(id));
		json_object_object_add(r, "SecretName", json_object_new_string(sec->name));
		json_object_array_add(refs, r);
		bg_buf_addf(&names, "%s%s", i ? "," : "", sec->name);
		free(id);
	}
	if (!err) {
		json_object_object_add(cspec, "Secrets", refs);
		json_object_object_add(dk__jget(cspec, "Labels", json_type_object), SW_LABEL_SECRETS,
				json_object_new_string(names.data ? names.data : ""));
	} else {
		json_object_put(refs);
	}
	bg_buf_release(&names);
	return err;
}

/* The names of the secrets a ContainerSpec references, comma-joined (new). */
static char *refs_joined(struct json_object *cspec)
{
	struct json_object *refs = dk__jget(cspec, "Secrets", json_type_array);
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; refs && i < json_object_array_length(refs); i++) {
		const char *n = dk__jstr(json_object_array_get_idx(refs, i), "SecretName");
		bg_buf_addf(&b, "%s%s", i ? "," : "", n ? n : "?");
	}
	return b.data ? bg_buf_detach(&b, NULL) : bg_xstrdup("");
}

static struct json_object *svc_cspec(struct json_object *svc)
{
	return dk__jget(dk__jget(dk__jget(svc, "Spec", json_type_object), "TaskTemplate",
			json_type_object), "ContainerSpec", json_type_object);
}

void sw_secrets_observe(struct json_object *svc, struct obs *o, size_t from)
{
	struct json_object *cspec = svc_cspec(svc);
	const char *want = dk__jstr(dk__jget(cspec, "Labels", json_type_object), SW_LABEL_SECRETS);
	if (!want) {
		return; /* created without secrets as files */
	}
	char *have = refs_joined(cspec);
	if (strcmp(have, want) != 0) {
		/* A reference changed outside bluegreen: the tasks no longer hold
		 * the values the labels claim, so the planner must not take them
		 * for the desired secrets (its secrets hash then differs). */
		for (size_t i = from; i < o->n_containers; i++) {
			obs_labels_set(&o->containers[i].labels, BG_LABEL_SECRETS,
					"swarm-secret-references-changed");
		}
	}
	free(have);
}

static bool referenced(struct json_object *svcs, const char *id)
{
	for (size_t i = 0; svcs && i < json_object_array_length(svcs); i++) {
		struct json_object *refs = dk__jget(svc_cspec(json_object_array_get_idx(svcs, i)),
				"Secrets", json_type_array);
		for (size_t k = 0; refs && k < json_object_array_length(refs); k++) {
			const char *r = dk__jstr(json_object_array_get_idx(refs, k), "SecretID");
			if (r && strcmp(r, id) == 0) {
				return true;
			}
		}
	}
	return false;
}

int sw_secrets_prune(struct dk_client *dk, struct json_object *svc)
{
	const char *site = dk__jstr(dk__jget(dk__jget(svc, "Spec", json_type_object), "Labels",
			json_type_object), BG_LABEL_SITE);
	if (!site || !dk__jget(svc_cspec(svc), "Secrets", json_type_array)) {
		return 0;
	}
	struct json_object *f = json_object_new_object(), *lab = json_object_new_array();
	char *sl = bg_xasprintf("%s=%s", BG_LABEL_SITE, site);
	json_object_array_add(lab, json_object_new_string(BG_LABEL_MANAGED "=true"));
	json_object_array_add(lab, json_object_new_string(sl));
	json_object_object_add(f, "label", lab);
	struct bg_buf path = BG_BUF_INIT;
	bg_buf_addf(&path, "/secrets?filters=");
	for (const unsigned char *p = (const unsigned char *)json_object_to_json_string_ext(f,
			JSON_C_TO_STRING_PLAIN); *p; p++) {
		bg_buf_addf(&path, isalnum(*p) ? "%c" : "%%%02X", *p);
	}
	struct json_object *secrets = NULL, *svcs = NULL;
	int removed = 0;
	if (dk_request(dk, "GET", path.data, NULL, NULL, &secrets, NULL) == 0 &&
			dk_request(dk, "GET", "/services", NULL, NULL, &svcs, NULL) == 0 &&
			json_object_is_type(secrets, json_type_array) &&
			json_object_is_type(svcs, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(secrets); i++) {
			struct json_object *s = json_object_array_get_idx(secrets, i);
			const char *id = dk__jstr(s, "ID");
			struct json_object *l = dk__jget(dk__jget(s, "Spec", json_type_object),
					"Labels", json_type_object);
			if (id && dk_labels_managed(l) && !referenced(svcs, id)) {
				char *del = bg_xasprintf("/secrets/%s", id);
				removed += dk_request(dk, "DELETE", del, NULL, NULL, NULL, NULL) == 0;
				free(del);
			}
		}
	}
	json_object_put(secrets);
	json_object_put(svcs);
	json_object_put(f);
	bg_buf_release(&path);
	free(sl);
	return removed;
}
