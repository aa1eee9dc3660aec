/*
 * plan-render: the plan's renderings (see plan.h), split from plan.c so
 * the model and its token stay apart from how they are shown. The text
 * form answers the audit questions of the PRD in plain words: which
 * volumes and networks are created, which containers start, stop or go
 * away, which files are written, which colour is live after. The JSON
 * form carries the same facts with stable field names (docs/plan-json.md).
 * Nothing here feeds the token: changing a rendering never makes a token
 * stale.
 */
#include "bg.h"
#include "plan.h"
#include "checks.h"

#include <json-c/json.h>

static struct json_object *strv_to_json(const struct bg_strv *sv)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < sv->n; i++) {
		json_object_array_add(arr, json_object_new_string(sv->v[i]));
	}
	return arr;
}

static const char *exec_state_name(enum plan_exec_state st)
{
	switch (st) {
	case PLAN_EXEC_NEW:
		return "new";
	case PLAN_EXEC_SAME:
		return "same";
	case PLAN_EXEC_CHANGED:
		return "changed";
	case PLAN_EXEC_UNKNOWN:
		break;
	}
	return "unknown";
}

/* ---- text ---- */

struct style {
	bool on;
};

static const char *sgr(const struct style *st, const char *code)
{
	return st->on ? code : "";
}

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BLUE "\033[34m"
#define C_MAGENTA "\033[35m"
#define C_CYAN "\033[36m"

static void op_look(enum plan_op op, const char **sym, const char **color)
{
	switch (op) {
	case PLAN_OP_PULL:
	case PLAN_OP_BUILD:
	case PLAN_OP_CREATE:
	case PLAN_OP_ISSUE:
	case PLAN_OP_BACKUP:
	case PLAN_OP_INSTALL: /* issue 16: the wordpress module */
		*sym = "+";
		*color = C_GREEN;
		return;
	case PLAN_OP_START:
		*sym = ">";
		*color = C_CYAN;
		return;
	case PLAN_OP_HEALTH:
		*sym = "?";
		*color = C_BLUE;
		return;
	case PLAN_OP_WRITE:
	case PLAN_OP_RESTORE:
	case PLAN_OP_UPGRADE: /* issue 16: a database upgrade */
		*sym = "~";
		*color = C_YELLOW;
		return;
	case PLAN_OP_SWITCH:
		*sym = "*";
		*color = C_MAGENTA;
		return;
	case PLAN_OP_DRAIN:
		*sym = ".";
		*color = C_DIM;
		return;
	case PLAN_OP_STOP:
	case PLAN_OP_REMOVE:
		*sym = "-";
		*color = C_RED;
		return;
	}
	*sym = " ";
	*color = "";
}

static void render_action(struct bg_buf *out, const struct style *st, const struct plan_action *a)
{
	const char *sym, *col;
	op_look(a->op, &sym, &col);
	bg_buf_addf(out, "  %s%s %-7s%s %-9s %-24s %s\n", sgr(st, col), sym, plan_op_name(a->op),
			sgr(st, C_RESET), plan_kind_name(a->kind), a->name, a->reason);
}

/*
 * The checks a candidate's gate runs (issue 14), in the order they run:
 * by phase (the seeds' order), then by name. Under the health action, so
 * an approver sees what stands between the candidate and the switch.
 */
static void render_checks(struct bg_buf *out, const struct style *st, const struct cfg_site *cs)
{
	for (int ph = 0; ph < CHK_PHASE_COUNT; ph++) {
		for (size_t i = 0; i < cs->n_checks; i++) {
			const struct cfg_check *c = &cs->checks[i];
			if (c->phase != ph) {
				continue;
			}
			char *what = cfg_check_describe(c);
			bg_buf_addf(out, "      %scheck%s %s (%s, %s): %s\n", sgr(st, C_BLUE),
					sgr(st, C_RESET), c->name, chk_phase_name((enum chk_phase)ph),
					cfg_check_kind_name(c->kind), what);
			free(what);
		}
	}
}

static struct json_object *checks_json(const struct cfg_site *cs)
{
	struct json_object *arr = json_object_new_array();
	for (int ph = 0; ph < CHK_PHASE_COUNT; ph++) {
		for (size_t i = 0; i < cs->n_checks; i++) {
			const struct cfg_check *c = &cs->checks[i];
			if (c->phase != ph) {
				continue;
			}
			struct json_object *o = json_object_new_object();
			char *what = cfg_check_describe(c);
			json_object_object_add(o, "name", json_object_new_string(c->name));
			json_object_object_add(o, "phase", json_object_new_string(
					chk_phase_name((enum chk_phase)ph)));
			json_object_object_add(o, "kind", json_object_new_string(
					cfg_check_kind_name(c->kind)));
			json_object_object_add(o, "description", json_object_new_string(what));
			json_object_array_add(arr, o);
			free(what);
		}
	}
	return arr;
}

static void colour_ver(struct bg_buf *out, const char *colour, unsigned v)
{
	if (!colour) {
		bg_buf_adds(out, "nothing");
	} else if (v) {
		bg_buf_addf(out, "%s v%u", colour, v);
	} else {
		bg_buf_adds(out, colour);
	}
}

static void list_line(struct bg_buf *out, const char *label, const struct bg_strv *items)
{
	bg_buf_addf(out, "  %-20s ", label);
	if (!items->n) {
		bg_buf_adds(out, "(none)\n");
		return;
	}
	for (size_t i = 0; i < items->n; i++) {
		bg_buf_addf(out, "%s%s", i ? ", " : "", items->v[i]);
	}
	bg_buf_addch(out, '\n');
}

static void add_unique(struct bg_strv *sv, const char *s)
{
	if (!bg_strv_contains(sv, s)) {
		bg_strv_push(sv, s);
	}
}

/* The audit answers, derived from the actions. */
struct audit {
	struct bg_strv volumes, networks, images, started, stopped, removed, files;
	struct bg_strv volumes_deleted; /* only a purge plan has any */
};

static void audit_build(const struct plan *p, const struct cfg *cfg, struct audit *au)
{
	memset(au, 0, sizeof(*au));
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		switch (a->op) {
		case PLAN_OP_CREATE:
			if (a->kind == PLAN_KIND_VOLUME) {
				add_unique(&au->volumes, a->name);
			} else if (a->kind == PLAN_KIND_NETWORK) {
				add_unique(&au->networks, a->name);
			}
			break;
		case PLAN_OP_PULL:
		case PLAN_OP_BUILD:
			add_unique(&au->images, a->name);
			break;
		case PLAN_OP_START:
			add_unique(&au->started, a->name);
			break;
		case PLAN_OP_STOP:
			add_unique(&au->stopped, a->name);
			break;
		case PLAN_OP_REMOVE:
			/* A removed site's edge file (name: its path) is a file, a
			 * purge's volume is data: neither is a container. */
			add_unique(a->kind == PLAN_KIND_VOLUME ? &au->volumes_deleted
					: a->kind == PLAN_KIND_EDGE ? &au->files : &au->removed,
					a->name);
			break;
		case PLAN_OP_WRITE:
		case PLAN_OP_SWITCH: {
			char *path = edge_for(cfg)->path(cfg, a->site);
			add_unique(&au->files, path);
			free(path);
			break;
		}
		default:
			break;
		}
	}
}

static void audit_release(struct audit *au)
{
	bg_strv_release(&au->volumes);
	bg_strv_release(&au->networks);
	bg_strv_release(&au->images);
	bg_strv_release(&au->started);
	bg_strv_release(&au->stopped);
	bg_strv_release(&au->removed);
	bg_strv_release(&au->files);
	bg_strv_release(&au->volumes_deleted);
}

/*
 * Execution settings: all of them when the plan could not be compared
 * with the last apply, else those that are new or changed. They come
 * first: they decide what every action below runs as root.
 */
static void render_exec(struct bg_buf *out, const struct style *st, const struct plan *p)
{
	bool compared = true;
	for (size_t i = 0; i < p->n_exec; i++) {
		compared &= p->exec[i].state != PLAN_EXEC_UNKNOWN;
	}
	if (compared && plan_exec_changed(p) == 0) {
		return;
	}
	bg_buf_addf(out, "\n%sexecution settings%s (%s)\n", sgr(st, C_BOLD), sgr(st, C_RESET),
			compared ? "what apply runs as root and where it writes: changed since "
				   "the last apply"
				 : "what apply runs as root and where it writes; not compared "
				   "with the last apply");
	for (size_t i = 0; i < p->n_exec; i++) {
		const struct plan_exec *e = &p->exec[i];
		if (e->state == PLAN_EXEC_SAME) {
			continue;
		}
		bg_buf_addf(out, "  %s%s:%s %s", sgr(st, e->state == PLAN_EXEC_UNKNOWN ? "" : C_YELLOW),
				e->label, sgr(st, e->state == PLAN_EXEC_UNKNOWN ? "" : C_RESET),
				e->shown);
		if (e->state == PLAN_EXEC_NEW) {
			bg_buf_adds(out, " (new)");
		} else if (e->state == PLAN_EXEC_CHANGED) {
			bg_buf_addf(out, " (was %s)", e->previous_shown);
		}
		bg_buf_addf(out, "    # %s\n", e->key);
	}
}

/* What the plan does, in the PRD's audit terms; a purge's volumes last. */
static void render_audit(struct bg_buf *out, const struct style *st, const struct plan *p,
		const struct cfg *cfg)
{
	struct audit au;
	audit_build(p, cfg, &au);
	bg_buf_addf(out, "\n%sWhat this plan does%s\n", sgr(st, C_BOLD), sgr(st, C_RESET));
	list_line(out, "images pulled:", &au.images);
	list_line(out, "networks created:", &au.networks);
	list_line(out, "volumes created:", &au.volumes);
	list_line(out, "containers started:", &au.started);
	list_line(out, "containers stopped:", &au.stopped);
	list_line(out, "containers removed:", &au.removed);
	list_line(out, "files written:", &au.files);
	bg_buf_addf(out, "  %-20s ", "live after:");
	for (size_t i = 0; i < p->n_sites; i++) {
		const struct plan_site *s = &p->sites[i];
		bg_buf_addf(out, "%s%s: ", i ? ", " : "", s->site);
		colour_ver(out, s->live_after, s->version_after);
	}
	if (au.volumes_deleted.n) { /* a purge: said last, in red */
		bg_buf_addf(out, "\n%s", sgr(st, C_RED));
		list_line(out, "VOLUMES DELETED:", &au.volumes_deleted);
		bg_buf_addf(out, "  their data is deleted: apply cannot undo this%s\n",
				sgr(st, C_RESET));
	} else {
		bg_buf_adds(out, "\n  volumes are never deleted by this plan\n");
	}
	audit_release(&au);
}

int plan_render_text(const struct plan *p, const struct cfg *cfg, bool color,
		struct bg_buf *out)
{
	struct style st = {.on = color};
	size_t n = plan_changes(p);
	size_t shared_end = p->n_sites ? p->sites[0].first_action : p->n_actions;

	bg_buf_addf(out, "%s%s %s%s  install_mode %s, %zu site%s, %zu change%s\n",
			sgr(&st, C_BOLD), p->args.kind == PLAN_ROLLBACK ? "Rollback plan" : "Plan",
			p->token, sgr(&st, C_RESET), cfg_install_mode_name(p->install_mode),
			p->n_sites, p->n_sites == 1 ? "" : "s", n, n == 1 ? "" : "s");
	render_exec(out, &st, p);
	if (p->secrets_why) {
		bg_buf_addf(out, "%swarning:%s secret values are not compared: %s\n",
				sgr(&st, C_YELLOW), sgr(&st, C_RESET), p->secrets_why);
	}
	if (shared_end > 0 || p->notes.n) {
		bg_buf_addf(out, "\n%sshared%s\n", sgr(&st, C_BOLD), sgr(&st, C_RESET));
		for (size_t i = 0; i < shared_end; i++) {
			render_action(out, &st, &p->actions[i]);
		}
		for (size_t i = 0; i < p->notes.n; i++) {
			bg_buf_addf(out, "  note: %s\n", p->notes.v[i]);
		}
	}
	for (size_t i = 0; i < p->n_sites; i++) {
		const struct plan_site *s = &p->sites[i];
		bg_buf_addf(out, "\n%s%s%s (%s)\n", sgr(&st, C_BOLD), s->site, sgr(&st, C_RESET),
				s->path ? s->path : "");
		if (s->blocked) {
			bg_buf_addf(out, "  %serror:%s %s\n", sgr(&st, C_RED), sgr(&st, C_RESET),
					s->blocked);
		} else {
			bg_buf_adds(out, "  live: ");
			colour_ver(out, s->live_before, s->version_before);
			if (!s->live_before || !s->live_after ||
					strcmp(s->live_before, s->live_after) != 0 ||
					s->version_before != s->version_after) {
				bg_buf_adds(out, " -> ");
				colour_ver(out, s->live_after, s->version_after);
			}
			if (s->candidate_after) {
				bg_buf_addf(out, "; candidate: %s", s->candidate_after);
			}
			if (s->n_actions == 0) {
				bg_buf_adds(out, "; no changes");
			}
			bg_buf_addch(out, '\n');
		}
		for (size_t k = 0; k < s->n_actions; k++) {
			const struct plan_action *a = &p->actions[s->first_action + k];
			const struct cfg_site *ck = plan_action_checks(p, a, cfg);
			render_action(out, &st, a);
			if (ck) {
				render_checks(out, &st, ck);
			}
		}
		for (size_t k = 0; k < s->notes.n; k++) {
			bg_buf_addf(out, "  note: %s\n", s->notes.v[k]);
		}
	}
	if (n > 0) {
		render_audit(out, &st, p, cfg);
	}
	return 0;
}

/* ---- JSON ---- */

static struct json_object *jstr_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *action_json(const struct plan_action *a)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "op", json_object_new_string(plan_op_name(a->op)));
	json_object_object_add(o, "kind", json_object_new_string(plan_kind_name(a->kind)));
	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "reason", json_object_new_string(a->reason));
	json_object_object_add(o, "site", jstr_or_null(a->site));
	if (a->colour) {
		json_object_object_add(o, "colour", json_object_new_string(a->colour));
	}
	if (a->kind == PLAN_KIND_EDGE) {
		json_object_object_add(o, "preview", jstr_or_null(a->preview));
	}
	if (a->version) {
		json_object_object_add(o, "version", json_object_new_int((int)a->version));
	}
	return o;
}

static struct json_object *exec_json(const struct plan *p)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < p->n_exec; i++) {
		const struct plan_exec *e = &p->exec[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "key", json_object_new_string(e->key));
		json_object_object_add(o, "label", json_object_new_string(e->label));
		json_object_object_add(o, "value", json_tokener_parse(e->value));
		json_object_object_add(o, "status", json_object_new_string(exec_state_name(e->state)));
		if (e->state == PLAN_EXEC_CHANGED || e->state == PLAN_EXEC_SAME) {
			json_object_object_add(o, "previous", json_tokener_parse(e->previous));
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

int plan_render_json(const struct plan *p, const struct cfg *cfg, struct bg_buf *out)
{
	struct json_object *root = json_object_new_object();
	struct json_object *sites = json_object_new_array();
	struct json_object *shared = json_object_new_array();
	size_t shared_end = p->n_sites ? p->sites[0].first_action : p->n_actions;
	struct audit au;

	json_object_object_add(root, "token", json_object_new_string(p->token));
	json_object_object_add(root, "kind", json_object_new_string(plan_of_name(p->args.kind)));
	json_object_object_add(root, "install_mode", json_object_new_string(
			cfg_install_mode_name(p->install_mode)));
	json_object_object_add(root, "changes", json_object_new_int64((int64_t)plan_changes(p)));
	json_object_object_add(root, "execution_settings", exec_json(p));
	for (size_t i = 0; i < shared_end; i++) {
		json_object_array_add(shared, action_json(&p->actions[i]));
	}
	json_object_object_add(root, "shared_actions", shared);
	for (size_t i = 0; i < p->n_sites; i++) {
		const struct plan_site *s = &p->sites[i];
		struct json_object *o = json_object_new_object();
		struct json_object *acts = json_object_new_array();
		json_object_object_add(o, "site", json_object_new_string(s->site));
		json_object_object_add(o, "file", jstr_or_null(s->path));
		json_object_object_add(o, "live_before", jstr_or_null(s->live_before));
		json_object_object_add(o, "live_after", jstr_or_null(s->live_after));
		json_object_object_add(o, "version_before", s->version_before
				? json_object_new_int((int)s->version_before) : NULL);
		json_object_object_add(o, "version_after", s->version_after
				? json_object_new_int((int)s->version_after) : NULL);
		json_object_object_add(o, "candidate_after", jstr_or_null(s->candidate_after));
		json_object_object_add(o, "preview_after", jstr_or_null(s->preview_after));
		json_object_object_add(o, "confirm_required", json_object_new_boolean(s->needs_confirm));
		json_object_object_add(o, "blocked", jstr_or_null(s->blocked));
		for (size_t k = 0; k < s->n_actions; k++) {
			const struct plan_action *a = &p->actions[s->first_action + k];
			const struct cfg_site *ck = plan_action_checks(p, a, cfg);
			struct json_object *ao = action_json(a);
			if (ck) { /* issue 14: only on a candidate's gate, so other plans keep their JSON */
				json_object_object_add(ao, "checks", checks_json(ck));
			}
			json_object_array_add(acts, ao);
		}
		json_object_object_add(o, "actions", acts);
		json_object_object_add(o, "notes", strv_to_json(&s->notes));
		json_object_array_add(sites, o);
	}
	json_object_object_add(root, "sites", sites);
	json_object_object_add(root, "notes", strv_to_json(&p->notes));
	if (p->secrets_why) {
		json_object_object_add(root, "secrets_not_compared",
				json_object_new_string(p->secrets_why));
	}
	audit_build(p, cfg, &au);
	struct json_object *ao = json_object_new_object();
	json_object_object_add(ao, "images_pulled", strv_to_json(&au.images));
	json_object_object_add(ao, "networks_created", strv_to_json(&au.networks));
	json_object_object_add(ao, "volumes_created", strv_to_json(&au.volumes));
	json_object_object_add(ao, "containers_started", strv_to_json(&au.started));
	json_object_object_add(ao, "containers_stopped", strv_to_json(&au.stopped));
	json_object_object_add(ao, "containers_removed", strv_to_json(&au.removed));
	json_object_object_add(ao, "files_written", strv_to_json(&au.files));
	json_object_object_add(ao, "volumes_deleted", strv_to_json(&au.volumes_deleted));
	json_object_object_add(root, "audit", ao);
	audit_release(&au);
	int err = bg_buf_adds(out, json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!err) {
		err = bg_buf_addch(out, '\n');
	}
	json_object_put(root);
	return err;
}

int plan_render_summary(const struct plan *p, struct bg_buf *out)
{
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		bg_buf_addf(out, "%s %s %s: %s\n", plan_op_name(a->op), plan_kind_name(a->kind),
				a->name, a->reason);
	}
	return 0;
}
