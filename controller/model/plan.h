/*
 * plan: what would change, in order, and why; its token; and the two ways
 * it is shown (text for humans, --json for tools, docs/plan-json.md).
 *
 * A plan is built from the configuration and one observation by the
 * reconcilers' pure diff functions (reconcilers/rec.h), in the registry's
 * order: shared objects first, then each site (networks, volumes,
 * services, colours and the switch, edge). Each diff appends actions and
 * the facts it relied on. The token is a SHA-256 over the plan's
 * arguments, its actions and those facts: if anything it depends on
 * changes, the token changes, and `apply` refuses the old one.
 */
#ifndef BG_CONTROLLER_PLAN_H
#define BG_CONTROLLER_PLAN_H

#include "bg.h"
#include "bg-buf.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"

#define PLAN_TOKEN_LEN 16 /* hex chars; SPEC: 12 or more */

#define PLAN_OP_MAP(XX)                                                       \
	XX(PULL, "pull")                                                      \
	XX(CREATE, "create")                                                  \
	XX(START, "start")                                                    \
	XX(HEALTH, "health")                                                  \
	XX(WRITE, "write")                                                    \
	XX(SWITCH, "switch")                                                  \
	XX(DRAIN, "drain")                                                    \
	XX(STOP, "stop")                                                      \
	XX(REMOVE, "remove")                                                  \
	XX(ISSUE, "issue")                                                    \
	XX(BACKUP, "backup")                                                  \
	XX(RESTORE, "restore")                                                \
	XX(INSTALL, "install")                                                \
	XX(UPGRADE, "upgrade")                                                \
	XX(BUILD, "build")

enum plan_op {
#define XX(n, s) PLAN_OP_##n,
	PLAN_OP_MAP(XX)
#undef XX
};

#define PLAN_KIND_MAP(XX)                                                     \
	XX(IMAGE, "image")                                                    \
	XX(NETWORK, "network")                                                \
	XX(VOLUME, "volume")                                                  \
	XX(SERVICE, "service")                                                \
	XX(CONTAINER, "container")                                            \
	XX(EDGE, "edge")                                                      \
	XX(CERT, "certificate")                                               \
	XX(BACKUP, "backup")                                                  \
	XX(WORDPRESS, "wordpress")

enum plan_kind {
#define XX(n, s) PLAN_KIND_##n,
	PLAN_KIND_MAP(XX)
#undef XX
};

const char *plan_op_name(enum plan_op op);
const char *plan_kind_name(enum plan_kind kind);

struct plan_action {
	enum plan_op op;
	enum plan_kind kind;
	char *name;   /* object: network/volume/container name, image ref, edge file path */
	char *reason; /* plain words; never a secret */
	char *site;   /* NULL for shared objects */

	/* Parameters for apply (those that do not apply stay NULL/0). */
	char *colour;      /* container, health: its colour; edge: live colour after */
	char *preview;     /* edge: preview colour after, NULL: no preview router */
	unsigned replica;  /* container */
	char *service;     /* service container: the service name */
	char *target_id;   /* start/stop/remove: the observed container id */
	unsigned version;  /* create (colour): version label; edge: live version */
	char *spec;        /* create: desired spec hash */
	char *reject_spec; /* switch of a rollback: spec of the revision rolled back */
	unsigned reject_version;
	uint64_t ms;       /* drain: how long */
	/*
	 * When apply runs it: 1 build and gate, 2 switch and edge writes, 3
	 * retire old colours. apply runs every phase-1 step of every site before
	 * any switch, so a failed gate anywhere leaves every live colour as it was.
	 */
	unsigned phase;
};

#define PLAN_PHASE_BUILD 1
#define PLAN_PHASE_SWITCH 2
#define PLAN_PHASE_RETIRE 3

struct plan_site {
	char *site;
	char *path;          /* the site file */
	char *live_before;   /* NULL: nothing live */
	char *live_after;
	unsigned version_before;
	unsigned version_after;
	char *candidate_after; /* colour holding the desired spec but not live, NULL if none */
	char *preview_after;   /* colour behind the preview domain after, NULL if none */
	char *blocked;       /* why nothing can be planned for this site, NULL if not */
	bool needs_confirm;  /* production + confirm phrase + actions */
	struct bg_strv notes;
	size_t first_action, n_actions; /* this site's slice of plan.actions */
};

enum plan_kind_of_plan {
	PLAN_CONVERGE = 0,
	PLAN_ROLLBACK,
	PLAN_RESTORE, /* plan --restore SITE@ID: sites holds SITE, restore_id the backup */
	PLAN_PURGE,   /* plan --purge SITE: a removed site's volumes (sites holds SITE) */
};

const char *plan_of_name(enum plan_kind_of_plan kind); /* "converge", "rollback", ... */

/* What was asked: part of the token, stored with the plan in the history.
 * The members after retry are written to JSON only when set, so the
 * tokens of plans that do not use them are unchanged. */
struct plan_args {
	enum plan_kind_of_plan kind;
	struct bg_strv sites; /* filter (converge) or the one site (rollback); empty: all */
	struct bg_strv retry; /* sites whose rejected revision may be proposed again */
	char *restore_id;     /* restore: the backup; rollback: "rollback + restore" (NULL: none) */
	unsigned to_version;  /* rollback --to VERSION (0: the previous colour, as before) */
	/* rollback --to: version to_version's recorded (redacted) spec, from the
	 * history when the plan is made; carried in the stored plan so apply and
	 * the executor rebuild the same desired state (JSON "to_spec"). */
	char *to_spec_json;
};

/*
 * Execution settings: the configuration that decides what apply runs as
 * root or where it writes (the Docker socket, the state directory, the
 * edge's directories, commands and API; ADR 0012). Each is a fact of the
 * token, so a token approved for one reload command can never run
 * another. The plan also says which changed since the last apply, which
 * the caller tells it with plan_exec_compare(): rec_plan_build stays pure.
 */
enum plan_exec_state {
	PLAN_EXEC_UNKNOWN = 0, /* not compared: no history at hand (a snapshot) */
	PLAN_EXEC_NEW,         /* no apply recorded a value yet */
	PLAN_EXEC_SAME,        /* as at the last apply */
	PLAN_EXEC_CHANGED,     /* differs from the last apply */
};

struct plan_exec {
	const char *key;   /* config path, "edge.nginx.reload" (static) */
	const char *label; /* plain words, "edge reload command" (static) */
	char *value;       /* canonical JSON: a string, an array of strings, or null */
	char *shown;       /* value for humans: /run/x.sock, [nginx, -s, reload], (none) */
	char *previous;    /* canonical JSON at the last apply; NULL: none or not compared */
	char *previous_shown;
	enum plan_exec_state state;
};

struct plan {
	struct plan_args args;
	enum cfg_install_mode install_mode;
	char token[PLAN_TOKEN_LEN + 1];
	struct plan_action *actions;
	size_t n_actions, cap_actions;
	struct plan_site *sites;
	size_t n_sites, cap_sites;
	struct bg_strv notes;  /* plan-wide notes (orphans, unmanaged edge network) */
	struct bg_strv facts;  /* what the token covers, one line each */
	struct bg_strv errors; /* blocking problems (name conflicts...) */
	struct plan_exec *exec; /* execution settings, in plan.c's table order */
	size_t n_exec;
	/* Why secret values were not compared (no key observed), NULL when they
	 * were or there are none. Printed, never in the token: a plan made
	 * without the key (CI) and the server's plan agree when nothing
	 * changed (ADR 0010). */
	char *secrets_why;
};

void plan_args_init(struct plan_args *a);
void plan_args_release(struct plan_args *a);
char *plan_args_to_json(const struct plan_args *a);
int plan_args_from_json(struct plan_args *a, const char *json);

void plan_init(struct plan *p);
void plan_release(struct plan *p);

/* Builders used by the reconcilers' diff functions. */
struct plan_site *plan_site_add(struct plan *p, const char *site, const char *path);
struct plan_action *plan_action_add(struct plan *p, enum plan_op op, enum plan_kind kind,
		const char *site, const char *name, const char *reason_fmt, ...) BG_PRINTF(6, 7);
void plan_fact_add(struct plan *p, const char *fmt, ...) BG_PRINTF(2, 3);
void plan_note_add(struct plan *p, struct plan_site *s, const char *fmt, ...) BG_PRINTF(3, 4);

/*
 * Complete a plan the reconcilers filled (rec_plan_build calls it): each
 * site's preview, confirmation and block, the execution settings, and
 * the token over all of it.
 */
void plan_finish(struct plan *p, const struct cfg *cfg);

/*
 * The site whose checks (issue 14) action a runs, or NULL: a converge
 * plan's health gate of a colour that is not live before the plan (a
 * candidate), for a site with `checks:`. The plan lists them there and
 * apply runs them there, after the health gate and before any switch.
 * A rollback returns to a known-good colour and runs none.
 */
const struct cfg_site *plan_action_checks(const struct plan *p, const struct plan_action *a,
		const struct cfg *cfg);

/*
 * The plan's execution settings as one canonical JSON object, {key: value}
 * in table order: what apply records as applied. A new string.
 */
char *plan_exec_to_json(const struct plan *p);
/*
 * Compare the plan's execution settings with those recorded by the last
 * apply (last_json as plan_exec_to_json made it; NULL: none recorded, so
 * every setting is new). Sets state, previous and previous_shown. Changes
 * neither the actions nor the token. BG_EPARSE (every state left unknown)
 * if last_json is not such an object.
 */
int plan_exec_compare(struct plan *p, const char *last_json);
/* Settings that are new or changed since the last apply. */
size_t plan_exec_changed(const struct plan *p);

/* Number of actions (the "changes" count). */
static inline size_t plan_changes(const struct plan *p)
{
	return p->n_actions;
}

/* Rendering. color: ANSI colours (a terminal and NO_COLOR unset). */
int plan_render_text(const struct plan *p, const struct cfg *cfg, bool color,
		struct bg_buf *out);
int plan_render_json(const struct plan *p, const struct cfg *cfg, struct bg_buf *out);
/* One line per action, no colour: what the journal stores. */
int plan_render_summary(const struct plan *p, struct bg_buf *out);

const struct plan_site *plan_site_find(const struct plan *p, const char *site);

#endif /* BG_CONTROLLER_PLAN_H */
