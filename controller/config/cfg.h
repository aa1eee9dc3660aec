/*
 * cfg: the desired state as the operator wrote it. Loads global.conf, the
 * selected profiles/NAME.conf and every sites/NAME.conf (or the single-file
 * form site.conf), merges them (profile < global.conf < site file), checks
 * every value, and produces typed structs. Every value keeps the place it
 * came from, so errors read `sites/shop.conf:12:7: error: ...` and
 * `validate --explain` can say which file set what.
 *
 * Merge rules (docs/adr/0002-config-layering.md): mappings merge key by
 * key; scalars and sequences replace, except `modules`, which accumulates
 * across layers (an entry "-name" removes a module a lower layer enabled).
 * Site defaults live under `site_defaults:` in a profile or global.conf and
 * are merged under each site file.
 */
#ifndef BG_CONTROLLER_CFG_H
#define BG_CONTROLLER_CFG_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"

/* Parser defences: refuse before doing expensive work. */
#define CFG_MAX_FILE_BYTES (1024 * 1024)
#define CFG_MAX_DEPTH 32
#define CFG_MAX_NODES 100000
#define CFG_MAX_SITES 10000

enum cfg_install_mode {
	CFG_MODE_UNSET = 0, /* only ever seen when global.conf omits it: invalid */
	CFG_MODE_PRODUCTION,
	CFG_MODE_STAGING,
	CFG_MODE_DEVELOPMENT,
};

enum cfg_edge_kind {
	CFG_EDGE_TRAEFIK = 0,
	CFG_EDGE_NGINX,
};

enum cfg_promote {
	CFG_PROMOTE_MANUAL = 0,
	CFG_PROMOTE_AUTO,
};

/* How a site gets its certificate (docs/edge.md "HTTPS", ADR 0015). */
enum cfg_tls_mode {
	CFG_TLS_OFF = 0, /* HTTP only */
	CFG_TLS_AUTO,    /* ACME: certbot (nginx) or the certresolver (traefik) */
	CFG_TLS_FILES,   /* cert and key files the operator provides */
};

/* One environment variable. Values of secret variables are never printed. */
struct cfg_env_var {
	char *key;
	char *value;
	bool secret; /* from an env_file, or key matches g.redact */
	struct bg_loc loc;
};

/* Sorted by key, keys unique. env_file values first, `env:` overrides them. */
struct cfg_env {
	struct cfg_env_var *v;
	size_t n;
};

/* A named volume mounted into a container. */
struct cfg_mount {
	char *volume; /* the short name as written ("uploads") */
	char *target; /* absolute path in the container */
	struct bg_loc loc;
};

struct cfg_health {
	char *path;           /* default "/" */
	unsigned status;      /* expected HTTP status, default 200 */
	uint64_t interval_ms; /* default 1000 */
	uint64_t timeout_ms;  /* default 2000 */
	unsigned retries;     /* attempts before giving up, default 30 */
};

/* A site's `tls:` (ADR 0015). */
struct cfg_tls {
	enum cfg_tls_mode mode; /* default off */
	char *cert, *key;       /* mode files: as written (relative: to the config dir) */
	unsigned hsts;          /* Strict-Transport-Security max-age in s; 0: no header */
	bool redirect;          /* HTTP -> HTTPS (308) once a certificate exists; default true */
};

/* A site's `edge:`: what the proxy allows a request (ADR 0015). */
struct cfg_site_edge {
	char *max_body;           /* nginx size syntax ("64m"), default "64m"; cfg_size_bytes */
	uint64_t read_timeout_ms; /* proxy read timeout, default 60s */
	uint64_t send_timeout_ms; /* proxy send timeout, default 60s */
};

/* A site's `preview_auth:` (basic auth on the preview host); user NULL: none. */
struct cfg_preview_auth {
	char *user;
	char *password_file; /* as written, read like env_file; its content is secret */
	char *password;      /* its first line, read at load: never printed or journaled */
};

/* `resources:` of a site (each colour container) or a service (ADR 0016):
 * Docker's HostConfig Memory, NanoCpus and PidsLimit. Part of the spec hash. */
struct cfg_resources {
	char *memory;          /* size as written ("512m"); NULL: no limit */
	char *cpus;            /* decimal as written ("1.5"); NULL: no limit */
	unsigned pids;         /* 0: no limit */
	uint64_t memory_bytes; /* from memory, 0: no limit */
	uint64_t nano_cpus;    /* from cpus, in 1e-9 CPUs, 0: no limit */
};

/* How a service's data is dumped and restored (docs/backups.md, ADR 0016). */
enum cfg_backup_preset {
	CFG_BACKUP_CUSTOM = 0, /* command and restore as written; both empty: no dump */
	CFG_BACKUP_MARIADB,    /* mariadb-dump --all-databases / mariadb */
	CFG_BACKUP_MYSQL,      /* mysqldump --all-databases / mysql */
	CFG_BACKUP_POSTGRES,   /* pg_dumpall / psql, as user postgres */
};

/* A service's `backup:`; command and restore are effective after load (a
 * preset fills them). Each runs in the service's container through the
 * engine's exec, argv only: command writes the dump on stdout, restore
 * reads it on stdin. */
struct cfg_service_backup {
	enum cfg_backup_preset preset;
	struct bg_strv command; /* empty: the service has no dump */
	struct bg_strv restore;
	struct bg_loc loc;
};

/* A service's `health:`: when it counts as ready for its dependents.
 * Neither tcp nor command: the image's HEALTHCHECK if it has one, else
 * running. */
struct cfg_service_health {
	unsigned tcp;            /* port to connect to on the service's address; 0: none */
	struct bg_strv command;  /* argv run in the container; exit 0 is healthy */
	uint64_t interval_ms;    /* default 1s */
	uint64_t timeout_ms;     /* one check, and the exec's limit; default 2s */
	unsigned retries;        /* checks before the service is declared unhealthy, default 60 */
};

/* A site's `backup:` (docs/backups.md). */
struct cfg_site_backup {
	/* Back up before a switch or a service change; default true in
	 * install_mode production, false otherwise (effective after load). */
	bool before_switch;
	unsigned keep;       /* newest complete backups kept, >= 1; default 10 */
	uint64_t max_age_ms; /* older ones pruned (never the last good one); 0: no limit; default 30d */
};

/* A backing service (database, cache): not coloured, never recreated implicitly. */
struct cfg_service {
	char *name; /* [a-z0-9][a-z0-9-]{0,39}, not "blue"/"green"-prefixed */
	char *image;
	struct bg_strv command; /* empty: the image's default */
	struct cfg_env env;
	char *env_file; /* as written; NULL if none */
	struct cfg_mount *mounts;
	size_t n_mounts;
	struct cfg_service_backup backup;
	struct cfg_service_health health;
	struct cfg_resources resources;
	struct bg_loc loc;
};

/* A site's `promotion:` (issue 14, docs/config.md): which attestations a
 * candidate's image needs before it may be planned. */
enum cfg_promotion_require {
	CFG_PROMOTION_NONE = 0, /* default: no attestation needed */
	CFG_PROMOTION_STAGING,  /* a staging install must have attested the image */
};

struct cfg_promotion {
	enum cfg_promotion_require require;
	struct bg_strv trust; /* public key files (PEM), as written: relative to the config dir */
	char *attestations;   /* directory of attestation files, absolute after load;
	                       * NULL: <config>/attestations */
	bool attestations_rel;
	struct bg_loc loc;    /* the `promotion:` key, or the site's */
};

/*
 * A site's `checks:` (issue 14, docs/checks.md): named release checks the
 * gate runs on a candidate before the switch. Each has a phase (one of the
 * eight of controller/probe/checks.h, as an index) and exactly one kind.
 * Part of the plan's token (plan.c), never of the spec hash: a changed
 * check changes what apply may do, not the containers.
 */
enum cfg_check_kind {
	CFG_CHECK_HTTP = 0,
	CFG_CHECK_FORBIDDEN,
	CFG_CHECK_LATENCY,
	CFG_CHECK_TCP,
	CFG_CHECK_COMMAND,
	CFG_CHECK_LOG,
	CFG_CHECK_N_KINDS
};

enum cfg_check_target {
	CFG_CHECK_CONTAINERS = 0, /* each replica's address (default) */
	CFG_CHECK_PREVIEW,        /* with the preview domain as Host (docs/checks.md) */
};

struct cfg_check {
	char *name;              /* the key: names the check in the plan and failures */
	int phase;               /* index of the phase name (chk_phase) */
	enum cfg_check_kind kind;
	struct {
		char *method;    /* default GET */
		char *path;      /* default / */
		unsigned status; /* 0: any 2xx */
		char *body_contains, *body_not_contains;
		char *header;    /* "Name: value", NULL: none */
		unsigned max_ms; /* 0: no budget */
		enum cfg_check_target target;
	} http;
	struct bg_strv forbidden; /* paths that must not answer 2xx */
	struct {
		char *path;      /* default / */
		unsigned requests; /* default 20 */
		unsigned p95_ms;
		enum cfg_check_target target;
	} latency;
	struct {
		char *service;   /* a service of the site; NULL: the candidate itself */
		unsigned port;   /* 0: the site's port */
	} tcp;
	struct bg_strv command;  /* argv run in each candidate container (exec) */
	char *log;               /* POSIX extended regex; a matching line fails */
	uint64_t timeout_ms;     /* one request, connection or exec; default 5s */
	struct bg_loc loc;
};

/* A site's `verify:` (issue 14, docs/checks.md "Watch window"): the
 * watch window after a switch, and what a failed one does. */
enum cfg_verify_failure {
	CFG_VERIFY_ALERT = 0, /* default: alert, and the next plan proposes the rollback */
	CFG_VERIFY_REVERT,    /* the daemon switches back at once (auto-revert) */
};

struct cfg_verify {
	uint64_t window_ms;      /* 0 (default): no watch window */
	bool compare;            /* compare p95 with the previous colour's; default true */
	enum cfg_verify_failure on_failure;
	uint64_t interval_ms;    /* between two samples, default 1s */
	uint64_t timeout_ms;     /* one request, default 2s */
	unsigned error_rate;     /* percent of failed samples allowed, default 10 */
	unsigned min_requests;   /* samples before an early verdict, default 5 */
	uint64_t slack_ms;       /* p95 must also be this much slower, default 20ms */
};

/* One plugin a wordpress site installs (issue 16, cfg-plugins.c). */
struct cfg_plugin {
	char *slug;    /* the directory under wp-content/plugins */
	char *version; /* exact */
	char *sha256;  /* of the zip, 64 lower-case hex digits */
	char *url;     /* where apply downloads it (the source template filled in) */
	char *from;    /* "standard", "landing" or "allow_plugins" */
};

/* Where the derived image of a wordpress site puts its plugins. */
#define CFG_WP_PLUGINS_DIR "/var/www/html/wp-content/plugins"

/* secrets: (issue 17): how a site's secret env values reach its containers. */
enum cfg_secrets_as {
	CFG_SECRETS_ENV = 0, /* in the environment (default) */
	CFG_SECRETS_FILES,   /* Swarm secrets at /run/secrets/KEY, env KEY_FILE */
};
struct cfg_secrets {
	enum cfg_secrets_as as;
	unsigned uid, gid; /* owner of the files, default 0 */
	int mode;          /* index: 0400 (default), 0440, 0444; cfg_secrets_file_mode */
};
/* The file mode secrets.mode names (0400 by default). */
unsigned cfg_secrets_file_mode(const struct cfg_secrets *s);

struct cfg_site {
	char *name;             /* equals the file name without .conf */
	char *path;             /* config-dir-relative, as in diagnostics */
	struct bg_strv domains; /* at least one */
	char *preview;          /* NULL if none */
	char *image;
	unsigned port;          /* 1..65535 */
	struct bg_strv command; /* empty: the image's default */
	struct cfg_env env;
	char *env_file; /* as written; NULL if none */
	unsigned replicas; /* >= 1, default 1 */
	struct cfg_health health;
	struct cfg_mount *mounts;
	size_t n_mounts;
	struct cfg_service *services;
	size_t n_services;
	struct bg_strv depends_on; /* names of services in this site */
	enum cfg_promote promote;
	bool keep_previous;    /* default true */
	uint64_t drain_ms;     /* strategy.drain: wait before stopping an old colour; default 5s */
	uint64_t stop_timeout_ms; /* grace before SIGKILL on stop; default 10s */
	char *stop_signal;     /* default "SIGTERM" */
	char *confirm;         /* NULL if none */
	struct bg_strv modules; /* effective site-level modules */
	struct cfg_tls tls;
	char *redirect_to;      /* one of domains: the others redirect to it (308); NULL: none */
	struct cfg_site_edge edge;
	struct cfg_preview_auth preview_auth;
	/* Networks (CIDR) the preview host answers without credentials; default
	 * loopback only. With preview_auth, anyone else must authenticate. */
	struct bg_strv preview_allow;
	struct cfg_site_backup backup;
	struct cfg_resources resources; /* each colour container's limits */
	struct bg_loc loc;     /* the `site:` key */
	struct cfg_promotion promotion; /* issue 14 */
	struct cfg_check *checks;       /* issue 14: sorted by name */
	size_t n_checks;
	/* issue 16: the module kind the site was expanded from (NULL: none) and
	 * its module's own key, as written (the expansion already applied them). */
	char *kind;
	struct cfg_wordpress {
		char *version, *image, *db_image;
		char *plugins; /* none (default), standard, landing */
		/* The first install (reconcilers/rec-wordpress.c): "auto" (default)
		 * or "wizard"; the site title, admin user and e-mail (NULL: the
		 * site's name, "admin", admin@ its first domain). */
		char *install, *title, *admin_user, *admin_email;
		/* Plugin sets (issue 16, cfg-plugins.c): slugs beyond the set,
		 * the operator's own pins ("SLUG@VERSION sha256:HEX"), and the
		 * download URL template (NULL: each manifest's `source`). */
		struct bg_strv add_plugins, allow_plugins;
		char *plugin_source;
		/* Resolved at load when the site installs plugins: the image the
		 * colours are derived from (NULL: no plugins, `image` is used as
		 * is), the plugins sorted by slug, and their content hash, which
		 * names the derived image (`image` becomes
		 * bluegreen-plugins/SITE:HASH16). */
		char *base_image;
		struct cfg_plugin *plugin_list;
		size_t n_plugins;
		char *plugin_hash;
	} wordpress;
	struct cfg_verify verify;       /* issue 14: the watch window */
	/* issue 17: secret env values as Swarm secret files (cfg-secrets.c) */
	struct cfg_secrets secrets;
};

struct cfg_traefik {
	char *dynamic_dir;       /* absolute after load */
	char *staging_dir;       /* default "<dynamic_dir>.staging"; same filesystem, not watched */
	bool dynamic_dir_rel, staging_dir_rel; /* written relative: see cfg_global.state_dir_rel */
	struct bg_strv entrypoints; /* default [websecure] */
	char *certresolver;      /* tls auto's resolver; also TLS for tls-off sites (as before) */
	char *http_entrypoint;   /* plain-HTTP entrypoint of the HTTP routers; NULL: none */
	char *api;               /* optional Traefik API base URL to confirm flips */
};

enum cfg_nginx_upstream {
	CFG_UPSTREAM_PORTS = 0, /* each colour container publishes its port on 127.0.0.1 */
	CFG_UPSTREAM_ADDRESSES, /* container addresses on the edge network (nginx in Docker) */
};

struct cfg_nginx {
	char *conf_dir;          /* absolute after load */
	bool conf_dir_rel;       /* written relative: see cfg_global.state_dir_rel */
	struct bg_strv reload;   /* argv, default [nginx, -s, reload] */
	struct bg_strv test;     /* argv run before reload, default [nginx, -t]; empty: none */
	char *listen;            /* listen directive value, default "80" */
	bool probe;              /* after a reload, check nginx serves the new file; default true */
	enum cfg_nginx_upstream upstream; /* default ports */
	char *ports;             /* "LO-HI", default "20000-29999": published ports */
	unsigned port_lo, port_hi; /* parsed from ports */
	char *listen_tls;        /* listen value of the HTTPS server blocks, default "443" */
	struct bg_strv real_ip_from; /* CIDRs of trusted proxies in front of nginx; empty: none */
	char *group;             /* group of files nginx workers read (htpasswd), default www-data */
	char *auth_dir;          /* where preview password files are written, default
	                          * /etc/nginx/bluegreen-auth (0750 root:group) */
	bool auth_dir_rel;
};

/* `acme:`: how certificates are requested for sites with tls.mode auto. */
struct cfg_acme {
	char *email;             /* account contact; required by tls: {mode: auto} */
	char *directory;         /* ACME directory URL; default Let's Encrypt production */
	bool staging;            /* use Let's Encrypt's staging directory instead */
	char *ca_bundle;         /* CA file to trust the directory with (test CAs); NULL: system */
	bool ca_bundle_rel;
	struct bg_strv certbot;  /* argv prefix, default [certbot] */
	unsigned renew_days;     /* renew when fewer days are left, default 30 */
	char *dir;               /* certbot's config/work/logs and the webroot, default
	                          * /var/lib/bluegreen-acme (not under state_dir: nginx reads it) */
	bool dir_rel;
};

/*
 * The events an alert can be sent for (issue 14, docs/checks.md), as the
 * names the config and the JSON body use. verify-failed and auto-revert
 * come from the post-switch watch window.
 */
#define CFG_ALERT_EVENT_MAP(XX)                                               \
	XX(GATE_FAILED, "gate-failed")                                        \
	XX(VERIFY_FAILED, "verify-failed")                                    \
	XX(AUTO_REVERT, "auto-revert")                                        \
	XX(DRIFT, "drift")                                                    \
	XX(BACKUP_FAILED, "backup-failed")

enum cfg_alert_event {
#define XX(n, s) CFG_ALERT_##n,
	CFG_ALERT_EVENT_MAP(XX)
#undef XX
	CFG_ALERT_N_EVENTS
};

/* One entry of `alerts:` (a mapping of names to targets): a webhook or a
 * command, never both (checked at load). */
struct cfg_alert {
	char *name;              /* the key: names the target in logs */
	char *webhook;           /* http(s) URL; NULL: none. May hold a secret
	                          * (credentials, a token in the path or query):
	                          * never printed whole, see cfg_url_redact */
	struct bg_strv command;  /* argv; empty: none */
	struct bg_strv events;   /* event names (CFG_ALERT_EVENT_MAP); default all */
	uint64_t timeout_ms;     /* the whole delivery, retries included; default 5s */
	unsigned retries;        /* attempts after the first; default 3 */
	struct bg_loc loc;
};

/* `cockpit:` (issue 15, docs/cockpit.md): how `bluegreen cockpit` serves.
 * Its command-line flags override these. */
enum cfg_cockpit_mode {
	CFG_COCKPIT_SAFE = 0, /* default: read-only */
	CFG_COCKPIT_ADMIN,
};

struct cfg_cockpit {
	char *listen;                   /* numeric "ADDR:PORT" / "[V6]:PORT", default 127.0.0.1:8077 */
	enum cfg_cockpit_mode mode;     /* default safe */
	char *users;                    /* users file, absolute after load; NULL: none */
	bool users_rel;
	char *tls_cert, *tls_key;       /* PEM files, absolute after load; both or neither */
	bool tls_cert_rel, tls_key_rel;
	struct bg_strv trusted_proxies; /* CIDRs whose X-Forwarded-* are believed; empty: none */
	/* issue 15 (P): where the daemon publishes for an unprivileged safe cockpit */
	char *publish_dir; /* absolute after load; NULL: nothing published */
	bool publish_dir_rel;
	char *group;       /* group name or numeric gid of publish_dir; NULL: the daemon's */
};

/* docker.mode (issue 17): one Docker engine, or a Swarm cluster it manages. */
enum cfg_docker_mode {
	CFG_DOCKER_ENGINE = 0, /* containers on this engine (default) */
	CFG_DOCKER_SWARM,      /* a Swarm service per colour (controller/runtime/swarm) */
};

struct cfg_global {
	enum cfg_install_mode install_mode;
	struct bg_loc install_mode_loc;
	char *profile;           /* NULL: no profile */
	struct bg_strv modules;  /* effective global modules, sorted */
	char *state_dir;         /* absolute after load, default /var/lib/bluegreen */
	/*
	 * Whether the path was written relative to the config directory (the
	 * plan shows only those as "<config>/REST", ADR 0008): an absolute path
	 * that happens to lie inside the config directory stays absolute.
	 */
	bool state_dir_rel;
	char *secrets_dir;       /* absolute env_file paths lie beneath it; NULL: none allowed */
	char *docker_socket;     /* default /var/run/docker.sock */
	enum cfg_edge_kind edge_kind;
	char *edge_network;      /* default "bluegreen-edge" */
	struct cfg_traefik traefik;
	struct cfg_nginx nginx;
	struct cfg_acme acme;
	struct bg_strv redact;   /* env key globs, case-insensitive; defaults: cfg-keys.c cfg__def_redact */
	struct cfg_alert *alerts; /* issue 14: sorted by name */
	size_t n_alerts;
	struct cfg_cockpit cockpit; /* issue 15 */
	/* issue 17: which runtime rt_open builds (docker.mode); only
	 * controller/runtime/rt.c reads it. */
	enum cfg_docker_mode docker_mode;
};

struct cfg_prov; /* provenance table, opaque */

struct cfg {
	char *dir; /* the config directory, absolute */
	struct cfg_global g;
	struct cfg_site *sites; /* sorted by name */
	size_t n_sites;
	struct cfg_prov *prov;
	void *pool; /* interned file names for bg_loc; opaque */
	/* issue 15: loaded with CFG_LOAD_NO_SECRETS: no env_file values, preview
	 * passwords or module secrets (below); use it for nothing that needs them. */
	bool secrets_unread;
};

/*
 * Load and validate the configuration in dir. Every problem found is added
 * to d (errors and warnings, sorted by place); the function does not stop
 * at the first one. Returns 0 with *out set when there are no errors,
 * BG_ECONFIG otherwise (*out is then NULL). Unknown-but-planned modules
 * produce warnings, not errors.
 *
 * With flags & CFG_LOAD_PARTIAL, *out is set even when errors were found
 * (fields that failed validation hold their defaults): `apply` uses this to
 * refuse with exit 4 when install_mode is missing.
 *
 * issue 15: with flags & CFG_LOAD_NO_SECRETS no secret is opened: not a
 * site's or a service's env_file (its variables are absent; `env:` values
 * stay), not a preview_auth.password_file (password NULL), not a module's
 * generated secrets in the state directory (their ${secret.NAME} values
 * are empty, and nothing is created), and secrets_dir is not checked. None
 * of it is an error; c->secrets_unread says the values are missing. For a
 * reader that only shows the configuration (the safe cockpit, which may
 * run as a user who cannot read them).
 */
enum cfg_load_flags {
	CFG_LOAD_PARTIAL = 1 << 0,
	CFG_LOAD_NO_SECRETS = 1 << 1,
};
int cfg_load(struct cfg **out, const char *dir, unsigned flags, struct bg_diag *d);

/* Load one YAML document from memory as `name` (for the fuzzer and unit
 * tests): kind is "global", "site" or "profile". Validates that one file
 * only. */
int cfg_check_buffer(const char *kind, const char *name, const char *data,
		size_t len, struct bg_diag *d);

void cfg_destroy(struct cfg *c);

/*
 * validate --explain: every effective leaf value, one per line, as
 * `path = value    # file:line` (secrets shown as <redacted>), global first,
 * then each site. Deterministic.
 */
int cfg_explain(const struct cfg *c, struct bg_buf *out);

const struct cfg_site *cfg_site_find(const struct cfg *c, const char *name);
/* True when key matches the redaction list. */
bool cfg_key_is_secret(const struct cfg *c, const char *key);

const char *cfg_install_mode_name(enum cfg_install_mode m);
const char *cfg_edge_kind_name(enum cfg_edge_kind k);

/*
 * The config directory: opt (-c) if given, else $BLUEGREEN_CONFIG, else the
 * current directory when it holds global.conf, else /etc/bluegreen.
 * *out is a new string.
 */
int cfg_dir_resolve(const char *opt, char **out);

/* Modules bluegreen knows, and whether this build implements them. */
bool cfg_module_known(const char *name);
bool cfg_module_built(const char *name);

/* [a-z0-9][a-z0-9-]{0,39} */
bool cfg_name_valid(const char *name);
/* Bytes of a size written as nginx does ("64m"); 0 when it is not one. */
uint64_t cfg_size_bytes(const char *s);
/* The name of an alert event, and back (-1: not one). */
const char *cfg_alert_event_name(enum cfg_alert_event e);
int cfg_alert_event_parse(const char *name);
/*
 * A URL as logs may show it: scheme://host[:port], then "/..." when it has
 * a path, never its user info, path, query or fragment (a webhook URL's
 * path often is the secret). A new string; "<invalid url>" when url does
 * not parse.
 */
char *cfg_url_redact(const char *url);

/* A cockpit listen address: numeric IPv4 or [IPv6], then :PORT (0..65535). */
bool cfg_cockpit_listen_valid(const char *s);
const char *cfg_cockpit_mode_name(enum cfg_cockpit_mode m);
/* issue 15 (P): cockpit.group: a group name or a numeric gid. */
bool cfg_cockpit_group_valid(const char *s);
/* A site's checks (issue 14, cfg-checks.c). */
const char *cfg_check_kind_name(enum cfg_check_kind k);
/* What a check asks, in one line for the plan ("GET / -> 200, body contains
 * \"ok\""); never a secret (checks hold none). A new string. */
char *cfg_check_describe(const struct cfg_check *c);
/* Every check of s as one canonical JSON text (the plan's token covers
 * it); NULL when s has none. A new string. */
char *cfg_checks_canonical(const struct cfg_site *s);
/*
 * A deep copy of the checks of c[0..n) whose kind is in kinds (a mask of
 * 1u << enum cfg_check_kind), for a thread that outlives a config reload
 * (the watch window). Returns how many were copied into *out (NULL when
 * none); free them with cfg_checks_free.
 */
size_t cfg_checks_copy(struct cfg_check **out, const struct cfg_check *c, size_t n,
		unsigned kinds);
void cfg_checks_free(struct cfg_check *c, size_t n); /* NULL-safe */

/* Nano-CPUs of a cpus value ("1.5" -> 1500000000); 0 when it is not one. */
uint64_t cfg_cpus_nano(const char *s);

#endif /* BG_CONTROLLER_CFG_H */
