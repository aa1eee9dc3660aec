/*
 * cfg-int: what the files of the cfg module share and nobody else sees.
 * cfg-yaml.c turns YAML text into a small generic tree (maps, sequences,
 * scalars, each with its file:line:col), refusing hostile input early;
 * cfg-keys.c holds the table of every key (type, default, doc), which
 * cfg-check.c walks to report problems (validate), cfg-bind.c to fill the
 * typed structs of cfg.h and cfg-explain.c to print them; cfg.c finds the
 * files, merges the layers and runs the checks that need more than one
 * file, and cfg-env.c reads the env files sites name.
 */
#ifndef BG_CONTROLLER_CFG_INT_H
#define BG_CONTROLLER_CFG_INT_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "cfg.h"

/* At most this many diagnostics are kept per load; the rest are counted. */
#define CFG_MAX_DIAGS 300

enum cfg__node_kind {
	CFG__SCALAR = 0,
	CFG__SEQ,
	CFG__MAP,
};

/* How a plain scalar resolves under the YAML 1.2 core schema. */
enum cfg__stype {
	CFG__S_STR = 0,
	CFG__S_NULL,
	CFG__S_BOOL,
	CFG__S_INT,
	CFG__S_FLOAT,
};

struct cfg__node;

struct cfg__pair {
	struct cfg__node *key; /* always a scalar */
	struct cfg__node *val;
};

/*
 * A node of a parsed document. Nodes belong to an arena (below), never to
 * their parent, so a node may appear under several parents: an alias
 * points at its anchor's node instead of copying it, and a merged tree
 * reuses the nodes of the layers it was built from.
 */
struct cfg__node {
	enum cfg__node_kind kind;
	bool plain;          /* scalar written without quotes: types resolve */
	struct bg_loc loc;   /* where the node starts (1-based) */
	char *str;           /* scalar text, NUL-terminated, no embedded NUL */
	size_t len;
	struct cfg__node **items; /* sequence items */
	size_t n_items, cap_items;
	struct cfg__pair *pairs;  /* mapping entries, in file order, keys unique */
	size_t n_pairs, cap_pairs;
	size_t size;         /* nodes in this subtree, aliases expanded */
};

/* Owns nodes; freed all at once. */
struct cfg__arena {
	struct cfg__node **nodes;
	size_t n, cap;
};

void cfg__arena_release(struct cfg__arena *a);
struct cfg__node *cfg__node_new(struct cfg__arena *a, enum cfg__node_kind kind,
		const struct bg_loc *loc);
void cfg__seq_push(struct cfg__node *seq, struct cfg__node *item);
void cfg__map_push(struct cfg__node *map, struct cfg__node *key,
		struct cfg__node *val);
/* The value under key in map, or NULL (map may be NULL or not a map). */
struct cfg__node *cfg__map_get(const struct cfg__node *map, const char *key);
const struct cfg__pair *cfg__map_pair(const struct cfg__node *map, const char *key);

/*
 * Repeats in a list of strings, in O(n log n) (a hostile file can hold
 * 100000 items): first[i] is 1 + the index of the first earlier occurrence
 * of strs[i], or 0. NULL entries are never repeats. A new array.
 */
size_t *cfg__repeats(const char *const *strs, size_t n);
/* A mapping's pairs sorted by key (a new array of map->n_pairs), and a
 * binary search in it. */
const struct cfg__pair **cfg__pairs_sorted(const struct cfg__node *map);
const struct cfg__pair *cfg__pairs_find(const struct cfg__pair *const *sorted, size_t n,
		const char *key);

/* Interned file names: struct bg_loc.file points into this. A hash set
 * over the names keeps interning constant-time with thousands of sites. */
struct cfg__pool {
	struct bg_strv names;
	size_t *slots; /* index + 1 into names; 0 = empty */
	size_t n_slots;
};
const char *cfg__pool_intern(struct cfg__pool *p, const char *name);
void cfg__pool_release(struct cfg__pool *p);

/*
 * Parse one YAML document (data need not be NUL-terminated). name is the
 * interned file name used in locations. On success *root is the document's
 * top-level node (NULL for an empty document); every problem is reported
 * to d with its place and the function returns BG_ECONFIG (BG_ETOO_BIG for
 * a file over CFG_MAX_FILE_BYTES). Nodes go into the arena.
 */
int cfg__parse(struct cfg__arena *a, const char *name, const char *data,
		size_t len, struct cfg__node **root, struct bg_diag *d);

/* The YAML 1.2 core-schema type of a scalar (quoted scalars are strings). */
enum cfg__stype cfg__scalar_type(const struct cfg__node *n);
/* The same for a text, as if it were written plain. */
enum cfg__stype cfg__text_type(const char *s);

/*
 * A value as a message shows it: `"ten"`, `70000`, `the string "8080"`,
 * `a list`, `nothing`. Long values are cut, control characters escaped.
 * A new string.
 */
char *cfg__describe(const struct cfg__node *n);
/*
 * s made safe for a message, without the quotes: cut after about 60 bytes
 * (on a character boundary, "..." appended), with backslash, quotes and
 * control characters escaped. A new string.
 */
char *cfg__quote(const char *s);

/* What a document is: the three kinds of file. */
enum cfg__kind {
	CFG__GLOBAL = 0,
	CFG__SITE,
	CFG__PROFILE,
};

/*
 * Check one file's tree against the schema of its kind and report every
 * problem to d. This is exactly what the JSON Schemas in schema/ say, plus
 * the few single-file checks a schema cannot express (integers written in
 * decimal, a preview that repeats a domain, depends_on naming a service,
 * mount targets used twice). Module warnings are not reported here.
 */
void cfg__validate(enum cfg__kind kind, const struct cfg__node *root,
		const struct bg_loc *file_loc, struct bg_diag *d);

/*
 * Fill g (already zeroed) from a merged global tree, with defaults where
 * a key is missing or invalid (validation reported those). Relative paths
 * are made absolute against dir. Never reports anything.
 */
void cfg__bind_global(struct cfg_global *g, const struct cfg__node *root,
		const char *dir);
/* The same for a merged site tree; env values are marked secret by g. */
void cfg__bind_site(struct cfg_site *s, const struct cfg__node *root,
		const char *dir, const struct cfg_global *g);

/* Release what bind filled in (NULL-safe). */
void cfg__global_release(struct cfg_global *g);
void cfg__site_release(struct cfg_site *s);
void cfg__env_release(struct cfg_env *e);

/*
 * Modules: read a sequence of names ("x" enables, "-x" disables) in order,
 * applying each to *mods (sorted), recording where each effective module
 * was enabled. Invalid entries are skipped (validation reported them).
 */
struct cfg__modset {
	struct bg_strv names;
	struct bg_loc *locs; /* parallel to names */
	size_t cap_locs;
};
void cfg__modset_apply(struct cfg__modset *m, const struct cfg__node *seq,
		struct bg_diag *d);
void cfg__modset_release(struct cfg__modset *m);
/* Warn, at the place each was enabled, about modules not built yet. */
void cfg__modset_warn(const struct cfg__modset *m, struct bg_diag *d);

/*
 * --explain lines for g or a site, from the schema table: every leaf key,
 * its effective value and where it came from. prefix is "" for global and
 * "sites.NAME." for a site.
 */
void cfg__explain_global(const struct cfg_global *g, const struct cfg__node *root,
		struct bg_buf *out);
void cfg__explain_site(const struct cfg_global *g, const struct cfg_site *s,
		const struct cfg__node *root, struct bg_buf *out);

/*
 * For the schema agreement test: one line per key of kind's schema,
 * "path<TAB>type<TAB>default", sorted. Map entries are written as "*".
 */
void cfg__schema_dump(enum cfg__kind kind, struct bg_buf *out);

/*
 * ---- the key table (cfg-keys.c), walked by cfg-check.c, cfg-bind.c and
 * cfg-explain.c. One row per key: its type says how a node is read (the
 * cfg__parse_* below) and where the value goes in the typed struct (off,
 * off2 from the struct's start).
 */
enum cfg__ktype {
	K_MAP,      /* nested keys, bound into the same struct */
	K_STR,      /* char *, checked by key->check */
	K_PATH,     /* char *, made absolute against the config dir; bool at off2 (when
	             * not 0): whether it was written relative */
	K_INT,      /* unsigned, min..max */
	K_BOOL,     /* bool */
	K_DURATION, /* uint64_t milliseconds */
	K_ENUM,     /* int: index in key->defs + key->min; or char * (F_ENUM_STR) */
	K_STRLIST,  /* struct bg_strv of checked strings, no repeats */
	K_ARGV,     /* struct bg_strv: a program and its arguments */
	K_MODULES,  /* struct bg_strv: effective modules ("-x" removes) */
	K_ENV,      /* struct cfg_env */
	K_MOUNTS,   /* struct cfg_mount * at off, size_t count at off2 */
	K_SERVICES, /* struct cfg_service * at off, size_t count at off2 */
	K_DEFAULTS, /* site_defaults: site keys, merged under each site by cfg.c */
	K_LISTEN,   /* char *: a port (integer) or host:port */
	K_ALERTS,   /* struct cfg_alert * at off, size_t count at off2: name -> target */
	K_CHECKS,   /* struct cfg_check * at off, size_t count at off2: name -> check */
};

enum cfg__kflags {
	F_REQUIRED = 1 << 0,    /* must be in the file itself */
	F_GLOBAL_ONLY = 1 << 1, /* global.conf only, not in a profile */
	F_NO_DEFAULTS = 1 << 2, /* a site's identity: not under site_defaults */
	F_POSITIVE = 1 << 3,    /* durations: more than zero */
	F_NONEMPTY = 1 << 4,    /* lists: at least one item */
	F_NOECHO = 1 << 5,      /* never quote the value in a message */
	F_ENUM_STR = 1 << 6,    /* K_ENUM stored as a string */
	F_NUMBER_OK = 1 << 7,   /* K_STR: a YAML number is taken as written (cpus: 1.5) */
	F_UNLESS_KIND = 1 << 8, /* F_REQUIRED, unless the mapping has `kind:` (a module fills it) */
	F_URL_OK = 1 << 9,      /* K_PATH: an http(s):// value is a URL, kept as written */
};

struct cfg__key {
	const char *name;
	enum cfg__ktype type;
	unsigned flags;
	size_t off, off2;
	const struct cfg__key *sub;   /* K_MAP, K_SERVICES */
	const char *def;              /* default, as text (NULL: none) */
	const char *const *defs;      /* list default or enum choices, NULL-terminated */
	long long min, max;           /* K_INT */
	bool (*check)(const char *s); /* K_STR, K_STRLIST items */
	const char *expect;           /* "a host name such as ..." */
	const char *doc;
};


/* The value at off inside base, as type. */
#define CFG__AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

#define CFG__LOWER_DIGIT "abcdefghijklmnopqrstuvwxyz0123456789"
#define CFG__ALNUM CFG__LOWER_DIGIT "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define CFG__NAME_EXPECT "a name of lowercase letters, digits and '-', starting with a " \
	"letter or digit, at most 40 characters"

/* The table of a file kind (a profile uses the global one); {0}-terminated. */
const struct cfg__key *cfg__keys_of(enum cfg__kind kind);
/* The row named name in table t, or NULL. */
const struct cfg__key *cfg__key_find(const struct cfg__key *t, const char *name);
/* Env keys whose values are secret by default, as globs; NULL-terminated. */
extern const char *const cfg__def_redact[];

/* Reading a node as a key's type: false (or -1) when it is not one. */
bool cfg__is_string(const struct cfg__node *n);
/* s starts with http:// or https:// (a K_PATH with F_URL_OK keeps it as written). */
bool cfg__is_url(const char *s);
/* This program runs from the build tree (the tests): it then uses the
 * source tree's profiles and modules, never an older installed copy. */
bool cfg__from_build_tree(void);
/* Decimal integers only (YAML's 0x/0o forms and floats are refused). */
bool cfg__parse_int(const struct cfg__node *n, long long min, long long max,
		long long *out);
bool cfg__parse_bool(const struct cfg__node *n, bool *out);
bool cfg__parse_duration(const struct cfg__node *n, bool positive, uint64_t *out);
/* The index of n in k->defs, or -1. */
int cfg__parse_enum(const struct cfg__key *k, const struct cfg__node *n);
/* A port or host:port; *out (when out is not NULL) a new string. */
bool cfg__parse_listen(const struct cfg__node *n, char **out);
/* A string k accepts (K_PATH: any non-empty one; otherwise k->check). */
bool cfg__str_ok(const struct cfg__key *k, const struct cfg__node *n);
/* An argv item: a scalar that reads as a string or a number. */
bool cfg__argv_item_ok(const struct cfg__node *it);

/* Value languages the walkers need besides the table's own checks. */
bool cfg__service_name_valid(const char *s);
bool cfg__volume_name_valid(const char *s);
bool cfg__mount_target_valid(const char *s);
bool cfg__port_range_valid(const char *s);
/* "x" or "-x" for a module x bluegreen knows (built or planned). */
bool cfg__module_entry_known(const char *s);

/*
 * ---- env files (cfg-env.c), read while cfg.c loads the sites. c is the
 * config being loaded (its dir and g.secrets_dir are read); messages go to
 * d, file names are interned in pool.
 */
struct cfg__envfiles {
	const struct cfg *c;
	struct cfg__pool *pool;
	struct bg_diag *d;
	const struct cfg__node *secrets_dir; /* global.conf's secrets_dir: node, if set */
	bool secrets_dir_ok;                 /* it passed cfg__secrets_dir_check */
	bool no_secrets; /* issue 15: CFG_LOAD_NO_SECRETS: no secret file is opened */
};
/* Check g.secrets_dir (node in merged, the global tree) may be trusted;
 * an absolute env_file is read only when it is. */
void cfg__secrets_dir_check(struct cfg__envfiles *ef, const struct cfg__node *merged);
/* Read the env_file ref names (nothing when ref is not a non-empty string)
 * and lay env over its variables: env is sorted and without repeats after. */
void cfg__env_with_file(struct cfg__envfiles *ef, struct cfg_env *env,
		const struct cfg__node *ref);
/* Read the first line of the password_file ref names, by env_file's rules,
 * into *password (a new string; left NULL after an error, reported at ref). */
void cfg__password_file_read(struct cfg__envfiles *ef, const struct cfg__node *ref,
		char **password);

/*
 * ---- release checks (cfg-release.c, issue 14): the tables of `alerts:`
 * entries and of a site's `promotion:`, their value languages, and the
 * rules across keys a schema row cannot say (reported by cfg-check.c).
 */
extern const struct cfg__key cfg__alert_keys[];
extern const struct cfg__key cfg__promotion_keys[];
bool cfg__alert_name_valid(const char *s);
/* One alert entry (a mapping, already checked key by key): webhook or
 * command, exactly one. path is the entry's ("alerts.ops"). */
void cfg__alert_check(const struct cfg__node *entry, const char *path, struct bg_diag *d);
/* A site's promotion (a mapping): require staging needs trust. */
void cfg__promotion_check(const struct cfg__node *promo, struct bg_diag *d);
void cfg__alerts_release(struct cfg_alert *a, size_t n);

/* ---- a site's `secrets:` (cfg-secrets.c, issue 17) ---- */
extern const struct cfg__key cfg__secrets_keys[];
/* secrets.as files needs docker.mode swarm (error at the key). */
void cfg__secrets_check(const struct cfg_global *g, const struct cfg_site *s,
		const struct cfg__node *root, struct bg_diag *d);

/* ---- `cockpit:` (cfg-cockpit.c, issue 15) ---- */
extern const struct cfg__key cfg__cockpit_keys[];
/* cockpit.tls names both files or neither. */
void cfg__cockpit_check(const struct cfg__node *cockpit, struct bg_diag *d);
void cfg__cockpit_release(struct cfg_cockpit *c);
/*
 * ---- a site's checks (cfg-checks.c, issue 14): the table of one entry
 * of `checks:` and the rules across its keys (one kind, the kind's own
 * required keys) that cfg-check.c reports; cfg-bind.c fills each entry
 * with the table, then cfg__check_finish sets what the table cannot.
 */
extern const struct cfg__key cfg__check_keys[];
bool cfg__check_name_valid(const char *s);
void cfg__check_check(const struct cfg__node *entry, const char *path, struct bg_diag *d);
void cfg__check_finish(struct cfg_check *c, const struct cfg__node *entry);
void cfg__checks_release(struct cfg_check *c, size_t n);

/* Validators shared by the schema table and cfg.c. */
bool cfg__hostname_valid(const char *s);
bool cfg__env_key_valid(const char *s);

/*
 * ---- modules (cfg-module.c, issue 16): a site of a module's kind is
 * expanded from modules/NAME/module.conf before its file is checked.
 */
struct cfg__modctx {
	struct cfg__arena *arena;
	struct cfg__pool *pool;
	struct bg_diag *d;
	const struct bg_strv *global_modules; /* effective global modules */
	const struct cfg__node *defaults;     /* merged site_defaults, or NULL */
	const char *state_dir;                /* where generated secrets are kept */
	struct cfg__node *manifest;           /* loaded once */
	bool manifest_tried;
	/* Plugin manifests (cfg-plugins.c), loaded once: standard, landing. */
	struct cfg__node *plugin_sets[2];
	bool plugin_sets_tried[2];
	bool no_secrets; /* issue 15: CFG_LOAD_NO_SECRETS: ${secret.NAME} is empty, never read */
};
/*
 * When *root (a site file's tree) has `kind: K`: a located error when no
 * built module has kind K or its module is not enabled; else *root becomes
 * the module's expansion with the site file laid over it. site: the name
 * from the file name (NULL for site.conf: its `site:` value).
 */
void cfg__module_expand(struct cfg__modctx *m, const char *site, struct cfg__node **root);
bool cfg__module_is_built(const char *name);
/* Where modules/NAME/module.conf are read from (env, source tree, datadir). */
const char *cfg__modules_dir(void);
bool cfg__site_kind_valid(const char *s);
extern const struct cfg__key cfg__wordpress_keys[];
void cfg__module_site_release(struct cfg_site *s);

/* ---- plugin sets (cfg-plugins.c, issue 16) ---- */
extern const char *const cfg__plugins_none[];
bool cfg__plugin_slug_valid(const char *s);
bool cfg__plugin_pin_valid(const char *s);
bool cfg__plugin_source_valid(const char *s);
/*
 * A wordpress site that installs plugins (wordpress.plugins other than
 * none, or add_plugins): check the set's module is on, read the
 * manifests, refuse a plugin outside them unless allow_plugins pins it,
 * refuse an unpinned one, and make site->image the derived image
 * bluegreen-plugins/SITE:HASH16 (the base kept in wordpress.base_image).
 * Errors are located at the site's key or the manifest's line. merged is
 * the site's merged tree (for the locations).
 */
void cfg__plugins_resolve(struct cfg__modctx *m, struct cfg_site *site,
		const struct cfg__node *merged);
void cfg__plugins_site_release(struct cfg_wordpress *w);

#endif /* BG_CONTROLLER_CFG_INT_H */
