/*
 * obs: the observed state, one snapshot of what is really there. The
 * Docker client fills the engine part (only objects labelled
 * io.bluegreen.managed=true, plus the bare names of unmanaged objects that
 * block a name we need), the edge reads its files back, and the history
 * adds the facts the planner needs (versions, rejected revisions). The
 * planner only ever reads a struct obs, never the engine, so `bluegreen
 * observe` can write a snapshot and `plan --observed FILE` can plan
 * against it with the same result and the same token.
 *
 * Only facts that mean something are kept (no "Up 5 minutes" strings, no
 * timestamps), and every list is sorted, so equal facts serialise to equal
 * bytes.
 */
#ifndef BG_CONTROLLER_OBS_H
#define BG_CONTROLLER_OBS_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"

#define OBS_SNAPSHOT_FORMAT 1

/* Label keys (SPEC §4). */
#define BG_LABEL_MANAGED "io.bluegreen.managed"
#define BG_LABEL_SITE "io.bluegreen.site"
#define BG_LABEL_COLOUR "io.bluegreen.colour"
#define BG_LABEL_VERSION "io.bluegreen.version"
#define BG_LABEL_SPEC "io.bluegreen.spec"
#define BG_LABEL_PLAN "io.bluegreen.plan"
#define BG_LABEL_ROLE "io.bluegreen.role"       /* "colour" | "service" */
#define BG_LABEL_SERVICE "io.bluegreen.service" /* service name, role=service */
#define BG_LABEL_REPLICA "io.bluegreen.replica" /* 1-based, role=colour */
#define BG_LABEL_IMAGE "io.bluegreen.image"     /* the image reference as configured */
#define BG_LABEL_SECRETS "io.bluegreen.secrets" /* keyed hash of secret values (desired.h) */
#define BG_LABEL_HOSTPORT "io.bluegreen.hostport" /* nginx upstream: 127.0.0.1 port it publishes */
/* The node a replica runs on, when the runtime has nodes (a Swarm task's; issue 17). */
#define BG_LABEL_NODE "io.bluegreen.node"
/* The address of that node, when it is not the one bluegreen runs on: the
 * edge reaches the replica's host port there instead of on 127.0.0.1. */
#define BG_LABEL_HOSTADDR "io.bluegreen.hostaddr"

enum obs_cstate {
	OBS_CSTATE_UNKNOWN = 0,
	OBS_CSTATE_CREATED,
	OBS_CSTATE_RUNNING,
	OBS_CSTATE_PAUSED,
	OBS_CSTATE_RESTARTING,
	OBS_CSTATE_REMOVING,
	OBS_CSTATE_EXITED,
	OBS_CSTATE_DEAD,
};

enum obs_health {
	OBS_HEALTH_NONE = 0, /* the image defines no HEALTHCHECK */
	OBS_HEALTH_STARTING,
	OBS_HEALTH_HEALTHY,
	OBS_HEALTH_UNHEALTHY,
};

struct obs_label {
	char *key;
	char *value;
};

/* Sorted by key, keys unique. */
struct obs_labels {
	struct obs_label *v;
	size_t n, cap;
};

struct obs_netaddr {
	char *network; /* network name */
	char *ip;      /* IPv4 address on that network, "" if none yet */
};

struct obs_container {
	char *id;        /* full id */
	char *name;      /* without the leading '/' */
	char *image;     /* Config.Image: the reference it was created from */
	char *image_id;  /* "sha256:..." */
	struct obs_labels labels;
	enum obs_cstate state;
	enum obs_health health;
	int exit_code;
	struct obs_netaddr *nets; /* sorted by network name */
	size_t n_nets;

	/* Derived from labels by obs_container_derive(); borrowed from labels. */
	const char *site;
	const char *colour;  /* "blue" | "green" | NULL */
	const char *role;    /* "colour" | "service" | NULL */
	const char *service; /* role=service */
	const char *spec;
	unsigned version;    /* 0 if absent/invalid */
	unsigned replica;    /* 0 if absent/invalid */
};

struct obs_network {
	char *id;
	char *name;
	struct obs_labels labels;
};

struct obs_volume {
	char *name;
	struct obs_labels labels;
};

/* A desired image reference and the local image id it resolves to. */
struct obs_image {
	char *ref;
	char *id; /* NULL when the image is not present locally */
};

/* What the edge file of one site says. */
struct obs_edge {
	char *site;
	char *path;        /* the file we own for this site */
	bool exists;
	char *live;        /* "blue" | "green" | NULL (no file, or unreadable) */
	char *preview;     /* colour the preview router serves, NULL if none */
	char *content_sha; /* sha256 hex of the file, NULL if absent */
	struct bg_strv upstreams; /* nginx: "ip:port" of the live upstream; traefik: empty */
	/* The site's certificate can be served: its files exist (tls.mode files,
	 * or auto on nginx once certbot issued it) or the proxy gets it itself
	 * (auto on traefik). False with tls off. */
	bool tls_ready;
	char *error;       /* why the file could not be understood, NULL if fine */
};

/*
 * The certificate of a site whose edge gets it with certbot (tls.mode auto
 * on nginx), as read from the file the edge serves. days_left is worked
 * out when it is observed (whole days to not_after, negative once
 * expired), so the planner decides a renewal without reading the clock.
 */
struct obs_cert {
	char *site;
	char *path;           /* the certificate file (edge_tls_paths) */
	bool exists;
	struct bg_strv names; /* its subjectAltName DNS names, sorted */
	int64_t not_after;    /* unix seconds; 0: no certificate */
	int64_t days_left;
	char *serial;         /* hex, as openssl prints it */
	char *error;          /* why it could not be read, NULL if fine */
	bool denied;          /* error is a permission we lack: nothing known */
};

/* An unmanaged object that holds a name bluegreen needs: never touched. */
struct obs_conflict {
	char *kind; /* "container" | "network" | "volume" */
	char *name;
};

/* History facts for one site (from LMDB; empty when there is no history). */
struct obs_hist_site {
	char *site;
	unsigned last_version;      /* highest version number ever given, 0 if none */
	struct bg_strv spec_versions; /* "spec=version" entries, sorted */
	struct bg_strv rejected;      /* spec hashes rolled back, sorted */
	/* A confirm phrase is kept for it (hist-confirm.h): a removal or purge
	 * of the site, once its file is gone, needs that phrase in production. */
	bool confirm_kept;
	/*
	 * The versions a switch or a rollback made live, as decimal strings
	 * (from the journal, hist_live_observe): a colour holding any other
	 * version never went live, so it is no rollback target and is not
	 * kept warm. live_known: this was read; false (an older snapshot),
	 * callers fall back to "newer than live and not rolled back".
	 */
	struct bg_strv went_live;
	bool live_known;
};

/*
 * A complete backup as the history lists it (bk_list; issue 12), so that
 * the pure planner can build a restore plan and warn of a rollback across
 * a migration. Filled by rec_observe from the history; not in snapshots
 * (obs_to_json leaves it out: a plan from a snapshot knows no backups).
 */
struct obs_backup {
	char *id;              /* sorts by age: UTC time first */
	char *site;
	char *why;
	unsigned live_version; /* live when it was taken; 0: nothing was live */
	char *live_colour;     /* NULL: nothing was live */
	struct bg_strv parts;  /* "KIND OBJECT SHA256 FILE" per part, sorted */
};

/*
 * The key of the io.bluegreen.secrets label (STATE_DIR/secrets.key, ADR
 * 0010), observed with everything else so that no process-wide key exists:
 * a plan compares secrets exactly when its own observation holds the key.
 * Never serialised (obs_to_json leaves it out, obs_from_json leaves it
 * UNKNOWN), never printed; obs_release wipes it.
 */
enum obs_secrets_state {
	OBS_SECRETS_UNKNOWN = 0, /* not looked at (a snapshot read from a file) */
	OBS_SECRETS_OK,          /* key holds the key */
	OBS_SECRETS_ABSENT,      /* no key yet: the first apply makes it */
	OBS_SECRETS_UNREADABLE,  /* err says why */
};
struct obs_secrets {
	enum obs_secrets_state state;
	int err;
	uint8_t key[32];
};

struct obs {
	char *engine_version; /* e.g. "20.10.24+dfsg1" */
	char *api_version;    /* negotiated, e.g. "1.41" */
	char *edge_kind;      /* "nginx" | "traefik" */

	struct obs_container *containers; /* sorted by name */
	size_t n_containers, cap_containers;
	struct obs_network *networks;     /* sorted by name */
	size_t n_networks, cap_networks;
	struct obs_volume *volumes;       /* sorted by name */
	size_t n_volumes, cap_volumes;
	struct obs_image *images;         /* sorted by ref */
	size_t n_images, cap_images;
	struct obs_edge *edges;           /* sorted by site */
	size_t n_edges, cap_edges;
	struct obs_cert *certs;           /* sorted by site */
	size_t n_certs, cap_certs;
	struct obs_conflict *conflicts;   /* sorted by kind, name */
	size_t n_conflicts, cap_conflicts;
	struct obs_hist_site *hist;       /* sorted by site */
	size_t n_hist, cap_hist;
	uint64_t hist_tokens_used;        /* tokens ever used (applies started) */
	/* Unmanaged networks that exist (names only): the edge network may be one. */
	struct bg_strv unmanaged_networks;
	struct obs_secrets secrets;
	struct obs_backup *backups;       /* sorted by id (so by age) */
	size_t n_backups, cap_backups;
	/*
	 * Facts a module's reconciler observed inside its site's containers
	 * (reconcilers/rec-wordpress.c: installed, the database's and each
	 * colour's db_version): "SITE KEY VALUE" lines, sorted. In snapshots
	 * as "module_facts" (when any), so `plan --observed` plans the same.
	 */
	struct bg_strv module_facts;
};

void obs_init(struct obs *o);
void obs_release(struct obs *o);

/* Sort every list and derive container fields. Call after filling. */
void obs_finish(struct obs *o);

/* Append a zeroed element and return it (owned by o). */
struct obs_container *obs_container_add(struct obs *o);
struct obs_network *obs_network_add(struct obs *o);
struct obs_volume *obs_volume_add(struct obs *o);
struct obs_image *obs_image_add(struct obs *o);
struct obs_edge *obs_edge_add(struct obs *o);
struct obs_cert *obs_cert_add(struct obs *o);
struct obs_hist_site *obs_hist_add(struct obs *o);
/*
 * Did this version of site ever go live (went_live)? 1 yes, 0 no, -1 not
 * known: no history read for the site, or version 0 (no label).
 */
int obs_hist_went_live(const struct obs *o, const char *site, unsigned version);
void obs_conflict_add(struct obs *o, const char *kind, const char *name);
struct obs_backup *obs_backup_add(struct obs *o);
const struct obs_backup *obs_backup_find(const struct obs *o, const char *id);

void obs_container_release(struct obs_container *c);
void obs_container_derive(struct obs_container *c);

void obs_labels_set(struct obs_labels *l, const char *key, const char *value);
const char *obs_labels_get(const struct obs_labels *l, const char *key);
void obs_labels_release(struct obs_labels *l);
void obs_labels_sort(struct obs_labels *l);

/* Lookups (binary search; call obs_finish first). Borrowed results. */
const struct obs_container *obs_container_find(const struct obs *o, const char *name);
const struct obs_network *obs_network_find(const struct obs *o, const char *name);
const struct obs_volume *obs_volume_find(const struct obs *o, const char *name);
const struct obs_image *obs_image_find(const struct obs *o, const char *ref);
const struct obs_edge *obs_edge_find(const struct obs *o, const char *site);
const struct obs_cert *obs_cert_find(const struct obs *o, const char *site);
const struct obs_hist_site *obs_hist_find(const struct obs *o, const char *site);
bool obs_conflict_has(const struct obs *o, const char *kind, const char *name);
/* IP of a container on a network, NULL if not attached. */
const char *obs_container_ip(const struct obs_container *c, const char *network);

const char *obs_cstate_name(enum obs_cstate s);
enum obs_cstate obs_cstate_parse(const char *s);
const char *obs_health_name(enum obs_health h);
enum obs_health obs_health_parse(const char *s);

/*
 * Snapshot I/O. The JSON form is documented in docs/formats.md; it is
 * canonical (sorted keys and lists, no timestamps), so equal facts give
 * equal bytes. Loading rejects unknown formats and malformed input with a
 * message in d, never a crash.
 */
int obs_to_json(const struct obs *o, struct bg_buf *out);
int obs_from_json(struct obs *o, const char *json, size_t len, struct bg_diag *d);

#endif /* BG_CONTROLLER_OBS_H */
