/*
 * desired: what each site should look like in Docker, derived from the
 * configuration (and from the local image ids the observation found). For
 * every site: the names of its network, volumes and containers, the
 * canonical spec of a colour container and its hash (the
 * io.bluegreen.spec label), the same for each backing service, and the
 * version number the spec has (or will get) in the history.
 *
 * The spec hash covers everything that changes a container (image
 * reference and local image id, command, environment, port, replicas,
 * mounts, networks, edge labels, stop signal and timeout) and nothing that
 * does not (domains, preview, health gate, strategy: those are routing or
 * policy, changed without a new colour). Secret values (env_file values,
 * redacted keys) are not in the spec hash at all, only which keys are
 * secret: the spec hash is published (labels, snapshots), and a plain hash
 * of a weak password can be brute-forced offline. Their values are tracked
 * by a separate label, io.bluegreen.secrets, an HMAC-SHA256 keyed with a
 * per-installation key (STATE_DIR/secrets.key, 0600) that never leaves the
 * host. Secrets are compared only where both sides have that hash: a plan
 * made without the key (CI) or a container from before the label simply
 * does not compare them.
 */
#ifndef BG_CONTROLLER_DESIRED_H
#define BG_CONTROLLER_DESIRED_H

#include "bg.h"
#include "cfg.h"
#include "dk.h"
#include "edge.h"
#include "obs.h"

#define DES_SPEC_SHORT 12 /* hex chars shown to humans */
#define DES_SECRETS_KEY_FILE "secrets.key"

struct des_service {
	const struct cfg_service *cfg;
	char *container;  /* "SITE-NAME" */
	char spec[65];    /* hash of the service spec */
	char secrets[65]; /* keyed hash of its secret values, "" if none or no key */
	char *spec_json;  /* redacted canonical spec */
	struct bg_strv volumes; /* full volume names used */
};

struct des_site {
	const struct cfg_site *cfg;
	const char *name;       /* borrowed from cfg */
	char *network;          /* "SITE-net" */
	char spec[65];          /* hash of the colour spec */
	char secrets[65];       /* keyed hash of its secret values, "" if none or no key */
	char *spec_json;        /* redacted canonical spec (history) */
	const char *image_id;   /* local image id of cfg->image, NULL if absent (borrowed from obs) */
	struct bg_strv volumes; /* full names of every volume the site uses, sorted, unique */
	struct des_service *services;
	size_t n_services;
	unsigned version;       /* version of spec in the history, or the next number */
	bool version_new;       /* spec never applied before */
	bool rejected;          /* spec was rolled back */
	/* rollback --to (des_build_args): the site as a recorded version had it. */
	unsigned pinned_from;     /* the version asked for; 0: built from the configuration */
	const char *create_image; /* colours are created from this (the recorded image id) */
	char *pin_secret_keys;    /* "A, B": secret keys whose values are today's; NULL: none */
	struct des_pin *pin;      /* owns the pinned cfg (cfg points into it) */
};

struct desired {
	const struct cfg *cfg;
	char *edge_network;
	struct des_site *sites; /* same order as cfg->sites (sorted by name) */
	size_t n_sites;
	/* Some site or service has secrets, but the observation holds no key
	 * (secrets_state, secrets_err say why): their values are not compared. */
	bool secrets_uncompared;
	enum obs_secrets_state secrets_state;
	int secrets_err;
	/* issue 17: the observed key, for the names of Swarm secrets (wiped
	 * by des_release; never serialised). */
	struct obs_secrets secrets_key;
};

/*
 * The Docker names the configuration generates must be unique per kind
 * across sites: site `acme` with volume `blog-uploads` and site `acme-blog`
 * with volume `uploads` would otherwise share one volume. Adds a located
 * error for every collision (and for an edge network named like a site
 * network); returns BG_ECONFIG if there was any.
 */
int des_check_names(const struct cfg *cfg, struct bg_diag *d);

/*
 * cfg_load plus des_check_names: what every command and the daemon use to
 * load a configuration. Same contract as cfg_load (with CFG_LOAD_PARTIAL,
 * *out is kept even when errors were found).
 */
int des_cfg_load(struct cfg **out, const char *dir, unsigned flags, struct bg_diag *d);

/* Build the desired state. Pure: reads only cfg and obs (image ids, history). */
int des_build(struct desired *out, const struct cfg *cfg, const struct obs *obs,
		struct bg_diag *d);
void des_release(struct desired *des);

/*
 * des_build, then, for a `rollback SITE --to VERSION` plan (args kind
 * rollback with to_version and to_spec_json), the one site rebuilt from
 * the recorded version instead of its configuration: image (by the
 * recorded id), command, env, port, replicas, mounts, stop signal and
 * timeout and the colour's limits (resources; none when the version was
 * recorded without them) come from the record; the rest (domains, health
 * gate, edge, services) stays the configuration's. Secret values are never
 * in the history: a recorded secret key takes today's value from the
 * configuration (pin_secret_keys names them) and is an error when the
 * configuration no longer has it. When the rebuilt spec hashes as the
 * recorded one, version is VERSION; else it is a new version (the edge or
 * the secret keys changed since). Errors (BG_EPARSE, BG_ECONFIG) are in d
 * and leave *out released. Any other args: des_build.
 */
struct plan_args;
int des_build_args(struct desired *out, const struct cfg *cfg, const struct obs *obs,
		const struct plan_args *args, struct bg_diag *d);

/*
 * Why `rollback SITE --to VERSION` refuses when the recorded image id is
 * gone, and what to do: which reference to pull, and why the pulled image
 * must have that very id (a new string, without the "error:" prefix).
 * image: the recorded reference (may be NULL), image_id: the recorded id.
 */
/*
 * rollback --to a version whose image id is gone: the digest reference
 * ("repo@sha256:...") the plan pulls it by, NULL when none (not pinned, or
 * the image is here).
 */
const char *des_pin_pull_ref(const struct des_site *s);
char *des_pin_image_gone_explain(const char *site, unsigned version, const char *image,
		const char *image_id);

const struct des_site *des_site_find(const struct desired *des, const char *name);

/* Container name of a colour replica: "SITE-COLOUR" for replica 1, else "SITE-COLOUR-N". */
char *des_colour_container_name(const char *site, const char *colour, unsigned replica);
/* Full volume name for a site's short volume name: "SITE-VOL". */
char *des_volume_name(const char *site, const char *vol);
const char *des_other_colour(const char *colour);

/*
 * The complete create request for one container, with the storage it
 * points into. `token` goes into io.bluegreen.plan.
 */
struct des_create {
	struct dk_container_spec spec;
	struct obs_labels labels;
	struct bg_strv cmd;
	struct bg_strv env; /* "KEY=VALUE": holds secrets; never print */
	struct bg_strv aliases;
	struct dk_mount *mounts;
	size_t n_mounts;
	struct bg_strv mount_names;
	char *name;
	char *extra_network; /* to connect after create (edge network), NULL if none */
	/* issue 17 (desired-secrets.c): spec.secret_keys, spec.secrets */
	struct bg_strv secret_keys;
	struct dk_secret *secrets; /* values borrowed from the configuration */
	size_t n_secrets;
	struct bg_strv secret_names;
};
void des_create_release(struct des_create *c);

int des_colour_create(const struct desired *des, const struct des_site *s,
		const char *colour, unsigned replica, const char *token,
		struct des_create *out);
int des_service_create(const struct desired *des, const struct des_site *s,
		const struct des_service *svc, const char *token, struct des_create *out);

/*
 * The per-installation key for io.bluegreen.secrets (STATE_DIR/secrets.key,
 * 64 hex digits, mode 0600). observe reads it into s (never creating it):
 * OK, ABSENT or UNREADABLE with the error; rec_observe calls it, so every
 * plan compares secrets exactly when its own observation has the key.
 * create makes a key of 32 random bytes when there is none (apply, before
 * it observes); 0 when a usable key exists or was made, or when one exists
 * that this user may not read (the plan then says secrets are not compared).
 */
void des_secrets_observe(const char *state_dir, struct obs_secrets *s);
int des_secrets_create(const char *state_dir);
/* Does this container's secrets label agree with what is desired? An
 * unlabelled container, or no key here, is not compared (true). */
bool des_secrets_match(const char *desired, const struct obs_labels *labels);

/*
 * Scale (issue 13): the colour spec without its replica count, hashed the
 * same way ("spec-base"). New colour containers carry it as the label
 * DES_LABEL_SPEC_BASE, so a live colour that differs from the desired
 * spec only by `replicas` is recognised and scaled in place instead of
 * rebuilt as a candidate. Containers made before the label have none:
 * they never match, and a count change there is a candidate as before.
 * Built from s->cfg and s->image_id, so it follows a pinned site too.
 */
#define DES_LABEL_SPEC_BASE "io.bluegreen.spec-base"
void des_colour_spec_base(const struct desired *des, const struct des_site *s, char out[65]);
/* Does this container carry the spec-base out (and the desired secret values)? */
bool des_spec_base_matches(const struct des_site *s, const char *base,
		const struct obs_labels *labels);

/*
 * The Swarm secret of one secret env value (issue 17): "bg-SITE-KEY-HASH12",
 * at most 64 characters, HASH12 a keyed hash (HMAC-SHA256 with the
 * installation's key) of site, key and value. NULL when k holds no key.
 */
char *des_secret_name(const char *site, const char *key, const char *value,
		const struct obs_secrets *k);

/* A stop grace in whole seconds for Docker, clamped to 1 hour. */
int des_stop_timeout_s(uint64_t ms);

/* Labels shared by every object of a site (managed + site). */
void des_base_labels(struct obs_labels *l, const char *site);

#endif /* BG_CONTROLLER_DESIRED_H */
