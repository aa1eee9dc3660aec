/*
 * plan: the plan model, its token and its renderings (see plan.h). The
 * text form answers the audit questions of the PRD in plain words: which
 * volumes and networks are created, which containers start, stop or go
 * away, which files are written, which colour is live after. The JSON
 * form carries the same facts with stable field names (docs/plan-json.md).
 */
#include "bg.h"
#include "plan.h"

#include <json-c/json.h>

static const char *const op_names[] = {
#define XX(n, s) s,
	PLAN_OP_MAP(XX)
#undef XX
};

static const char *const kind_names[] = {
#define XX(n, s) s,
	PLAN_KIND_MAP(XX)
#undef XX
};

const char *plan_op_name(enum plan_op op)
{
	return (size_t)op < BG_ARRAY_SIZE(op_names) ? op_names[op] : "?";
}

const char *plan_kind_name(enum plan_kind kind)
{
	return (size_t)kind < BG_ARRAY_SIZE(kind_names) ? kind_names[kind] : "?";
}

static const char *const plan_of_names[] = {"converge", "rollback", "restore", "purge"};

void plan_args_init(struct plan_args *a)
{
	a->kind = PLAN_CONVERGE;
	a->restore_id = NULL;
	a->to_version = 0;
	a->to_spec_json = NULL;
	bg_strv_init(&a->sites);
	bg_strv_init(&a->retry);
}

void plan_args_release(struct plan_args *a)
{
	if (!a) {
		return;
	}
	bg_strv_release(&a->sites);
	bg_strv_release(&a->retry);
	free(a->restore_id);
	a->restore_id = NULL;
	a->to_version = 0;
	free(a->to_spec_json);
	plan_args_init(a);
}

static struct json_object *strv_to_json(const struct bg_strv *sv)
{
	struct json_object *arr = json_object_new_array();
	for (size_t i = 0; i < sv->n; i++) {
		json_object_array_add(arr, json_object_new_string(sv->v[i]));
	}
	return arr;
}

static const int json_flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;

char *plan_args_to_json(const struct plan_args *a)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(plan_of_names[a->kind]));
	json_object_object_add(o, "sites", strv_to_json(&a->sites));
	json_object_object_add(o, "retry", strv_to_json(&a->retry));
	if (a->restore_id) {
		json_object_object_add(o, "restore", json_object_new_string(a->restore_id));
	}
	if (a->to_version) {
		json_object_object_add(o, "to_version", json_object_new_int64(a->to_version));
	}
	if (a->to_spec_json) {
		json_object_object_add(o, "to_spec", json_object_new_string(a->to_spec_json));
	}
	char *s = bg_xstrdup(json_object_to_json_string_ext(o, json_flags));
	json_object_put(o);
	return s;
}

static int strv_from_json(struct bg_strv *sv, struct json_object *o, const char *key)
{
	struct json_object *arr = NULL;
	if (!json_object_object_get_ex(o, key, &arr)) {
		return 0;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		return BG_EPARSE;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string)) {
			return BG_EPARSE;
		}
		bg_strv_push(sv, json_object_get_string(v));
	}
	return 0;
}

int plan_args_from_json(struct plan_args *a, const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	struct json_object *k = NULL;
	int err = 0;
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return BG_EPARSE;
	}
	if (json_object_object_get_ex(o, "kind", &k) && json_object_is_type(k, json_type_string)) {
		for (size_t i = 0; i < BG_ARRAY_SIZE(plan_of_names); i++) {
			if (strcmp(json_object_get_string(k), plan_of_names[i]) == 0) {
				a->kind = (enum plan_kind_of_plan)i;
			}
		}
	}
	err = strv_from_json(&a->sites, o, "sites");
	if (!err) {
		err = strv_from_json(&a->retry, o, "retry");
	}
	if (!err && json_object_object_get_ex(o, "restore", &k)) {
		if (json_object_is_type(k, json_type_string)) {
			a->restore_id = bg_xstrdup(json_object_get_string(k));
		} else {
			err = BG_EPARSE;
		}
	}
	if (!err && json_object_object_get_ex(o, "to_version", &k)) {
		int64_t v = json_object_get_int64(k);
		if (json_object_is_type(k, json_type_int) && v > 0 && v <= UINT32_MAX) {
			a->to_version = (unsigned)v;
		} else {
			err = BG_EPARSE;
		}
	}
	if (!err && json_object_object_get_ex(o, "to_spec", &k)) {
		if (json_object_is_type(k, json_type_string)) {
			a->to_spec_json = bg_xstrdup(json_object_get_string(k));
		} else {
			err = BG_EPARSE;
		}
	}
	json_object_put(o);
	return err;
}

void plan_init(struct plan *p)
{
	memset(p, 0, sizeof(*p));
	plan_args_init(&p->args);
	bg_strv_init(&p->notes);
	bg_strv_init(&p->facts);
	bg_strv_init(&p->errors);
}

static void action_release(struct plan_action *a)
{
	free(a->name);
	free(a->reason);
	free(a->site);
	free(a->colour);
	free(a->preview);
	free(a->service);
	free(a->target_id);
	free(a->spec);
	free(a->reject_spec);
}

void plan_release(struct plan *p)
{
	if (!p) {
		return;
	}
	for (size_t i = 0; i < p->n_actions; i++) {
		action_release(&p->actions[i]);
	}
	free(p->actions);
	free(p->secrets_why);
	for (size_t i = 0; i < p->n_sites; i++) {
		struct plan_site *s = &p->sites[i];
		free(s->site);
		free(s->path);
		free(s->live_before);
		free(s->live_after);
		free(s->candidate_after);
		free(s->preview_after);
		free(s->blocked);
		bg_strv_release(&s->notes);
	}
	free(p->sites);
	for (size_t i = 0; i < p->n_exec; i++) {
		free(p->exec[i].value);
		free(p->exec[i].shown);
		free(p->exec[i].previous);
		free(p->exec[i].previous_shown);
	}
	free(p->exec);
	plan_args_release(&p->args);
	bg_strv_release(&p->notes);
	bg_strv_release(&p->facts);
	bg_strv_release(&p->errors);
	plan_init(p);
}

struct plan_site *plan_site_add(struct plan *p, const char *site, const char *path)
{
	BG_GROW(p->sites, p->cap_sites, p->n_sites + 1);
	struct plan_site *s = &p->sites[p->n_sites++];
	memset(s, 0, sizeof(*s));
	s->site = bg_xstrdup(site);
	s->path = bg_xstrdup(path);
	bg_strv_init(&s->notes);
	return s;
}

struct plan_action *plan_action_add(struct plan *p, enum plan_op op, enum plan_kind kind,
		const char *site, const char *name, const char *reason_fmt, ...)
{
	va_list ap;
	BG_GROW(p->actions, p->cap_actions, p->n_actions + 1);
	struct plan_action *a = &p->actions[p->n_actions++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->kind = kind;
	a->phase = kind == PLAN_KIND_EDGE ? PLAN_PHASE_SWITCH : PLAN_PHASE_BUILD;
	a->site = bg_xstrdup(site);
	a->name = bg_xstrdup(name);
	va_start(ap, reason_fmt);
	a->reason = bg_xvasprintf(reason_fmt, ap);
	va_end(ap);
	return a;
}

void plan_fact_add(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bg_strv_push_take(&p->facts, bg_xvasprintf(fmt, ap));
	va_end(ap);
}

void plan_note_add(struct plan *p, struct plan_site *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bg_strv_push_take(s ? &s->notes : &p->notes, bg_xvasprintf(fmt, ap));
	va_end(ap);
}

const struct plan_site *plan_site_find(const struct plan *p, const char *site)
{
	for (size_t i = 0; i < p->n_sites; i++) {
		if (strcmp(p->sites[i].site, site) == 0) {
			return &p->sites[i];
		}
	}
	return NULL;
}

/* ---- execution settings (ADR 0012) ---- */

typedef struct json_object *(*exec_value_fn)(const struct cfg *cfg);

static struct json_object *exec_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *exec_argv(const struct bg_strv *sv)
{
	return strv_to_json(sv);
}

/*
 * A path written relative in global.conf is shown "<config>/REST": it means
 * the same place wherever the configuration is checked out, so a plan made
 * in CI from a snapshot and the server's plan keep the same token (ADR
 * 0008). Only how it was written decides (rel): an absolute path stays
 * absolute even when it lies inside this config directory, else a checkout
 * elsewhere would see a different token for the same text. REST is the
 * path from the config directory (both are lexically clean and absolute
 * after load), with ".." when it was written so. The form cannot be
 * mistaken for a real path: those are absolute.
 */
static struct json_object *exec_path(const struct cfg *c, const char *path, bool rel)
{
	if (!path || !rel || !c->dir || c->dir[0] != '/') {
		return exec_str(path);
	}
	struct bg_buf b = BG_BUF_INIT;
	const char *d = c->dir, *p = path;
	/* The longest common prefix ending on a component boundary. */
	size_t i = 0, cut = 0;
	while (d[i] && d[i] == p[i]) {
		i++;
		if ((d[i] == '/' || !d[i]) && (p[i] == '/' || !p[i])) {
			cut = i;
		}
	}
	bg_buf_adds(&b, "<config>");
	for (const char *s = d + cut; strcmp(d, "/") != 0 && *s; s++) {
		if (*s == '/') {
			bg_buf_adds(&b, "/..");
		}
	}
	bg_buf_adds(&b, strcmp(p + cut, "/") == 0 ? "" : p + cut);
	struct json_object *v = json_object_new_string(b.data);
	bg_buf_release(&b);
	return v;
}

static struct json_object *x_docker_socket(const struct cfg *c)
{
	return exec_str(c->g.docker_socket);
}

static struct json_object *x_state_dir(const struct cfg *c)
{
	return exec_path(c, c->g.state_dir, c->g.state_dir_rel);
}

static struct json_object *x_edge_kind(const struct cfg *c)
{
	return exec_str(edge_for(c)->kind);
}

/*
 * Every setting that changes what apply executes or where it writes. A
 * new one (a hook, another edge's command) is one row here: it is then in
 * the token, in both renderings and in what apply records.
 */
static const struct exec_row {
	const char *key;
	const char *label;
	exec_value_fn value;
} exec_rows[] = {
	{"docker.socket", "docker socket", x_docker_socket},
	{"state_dir", "state directory", x_state_dir},
	{"edge.kind", "edge kind", x_edge_kind},
	/* then the configured edge's own rows (edge_impl.exec_rows) */
};

/* A word that reads unambiguously without quotes inside "[a, b]". */
static bool exec_word(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789_./:@+=%<>-") == strlen(s);
}

static void exec_show_str(struct bg_buf *b, const char *s)
{
	if (exec_word(s)) {
		bg_buf_adds(b, s);
	} else {
		bg_buf_add_json_str(b, s); /* quoted and escaped: no control byte reaches a terminal */
	}
}

/* How a value reads in the text plan: a path, [argv, ...], or (none). */
static char *exec_show(struct json_object *v)
{
	struct bg_buf b = BG_BUF_INIT;
	if (!v) {
		bg_buf_adds(&b, "(none)");
	} else if (json_object_is_type(v, json_type_array)) {
		bg_buf_addch(&b, '[');
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			if (i) {
				bg_buf_adds(&b, ", ");
			}
			exec_show_str(&b, json_object_get_string(e));
		}
		bg_buf_addch(&b, ']');
	} else {
		exec_show_str(&b, json_object_get_string(v));
	}
	return bg_buf_detach(&b, NULL);
}

static char *exec_canon(struct json_object *v)
{
	return bg_xstrdup(v ? json_object_to_json_string_ext(v, json_flags) : "null");
}

static void exec_add(struct plan *p, const char *key, const char *label, struct json_object *v)
{
	struct plan_exec *e = &p->exec[p->n_exec++];
	e->key = key;
	e->label = label;
	e->value = exec_canon(v);
	e->shown = exec_show(v);
	json_object_put(v);
	plan_fact_add(p, "exec %s=%s", e->key, e->value);
}

/* An edge row's value, in the JSON the plan's own rows use. */
static struct json_object *exec_edge_value(const struct cfg *cfg, const struct edge_exec_row *r)
{
	struct edge_exec_value v = {0};
	r->value(cfg, &v);
	return v.argv ? exec_argv(v.argv) : exec_path(cfg, v.str, v.rel);
}

/* Fill p->exec from cfg and make each setting a fact of the token. */
static void exec_collect(struct plan *p, const struct cfg *cfg)
{
	const struct edge_impl *edge = edge_for(cfg);
	p->exec = bg_xcalloc(BG_ARRAY_SIZE(exec_rows) + edge->n_exec_rows, sizeof(*p->exec));
	for (size_t i = 0; i < BG_ARRAY_SIZE(exec_rows); i++) {
		exec_add(p, exec_rows[i].key, exec_rows[i].label, exec_rows[i].value(cfg));
	}
	for (size_t i = 0; i < edge->n_exec_rows; i++) {
		const struct edge_exec_row *r = &edge->exec_rows[i];
		exec_add(p, r->key, r->label, exec_edge_value(cfg, r));
	}
}

char *plan_exec_to_json(const struct plan *p)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < p->n_exec; i++) {
		json_object_object_add(o, p->exec[i].key, json_tokener_parse(p->exec[i].value));
	}
	char *s = bg_xstrdup(json_object_to_json_string_ext(o, json_flags));
	json_object_put(o);
	return s;
}

static void exec_reset(struct plan *p)
{
	for (size_t i = 0; i < p->n_exec; i++) {
		struct plan_exec *e = &p->exec[i];
		free(e->previous);
		free(e->previous_shown);
		e->previous = e->previous_shown = NULL;
		e->state = PLAN_EXEC_UNKNOWN;
	}
}

int plan_exec_compare(struct plan *p, const char *last_json)
{
	struct json_object *o = NULL;

	exec_reset(p);
	if (last_json) {
		o = json_tokener_parse(last_json);
		if (!o || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			return BG_EPARSE;
		}
	}
	for (size_t i = 0; i < p->n_exec; i++) {
		struct plan_exec *e = &p->exec[i];
		struct json_object *v = NULL;
		if (!o || !json_object_object_get_ex(o, e->key, &v)) {
			e->state = PLAN_EXEC_NEW;
			continue;
		}
		e->previous = exec_canon(v);
		e->previous_shown = exec_show(v);
		e->state = strcmp(e->previous, e->value) == 0 ? PLAN_EXEC_SAME : PLAN_EXEC_CHANGED;
	}
	json_object_put(o);
	return 0;
}

size_t plan_exec_changed(const struct plan *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_exec; i++) {
		n += p->exec[i].state == PLAN_EXEC_NEW || p->exec[i].state == PLAN_EXEC_CHANGED;
	}
	return n;
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

static void hash_str(struct bg_sha256 *h, const char *tag, const char *s)
{
	bg_sha256_update_str(h, tag);
	bg_sha256_update_str(h, s ? s : "\x01(null)");
}

static void hash_uint(struct bg_sha256 *h, const char *tag, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	hash_str(h, tag, buf);
}

/*
 * The token: every field of every action, the per-site outcome, the notes
 * and the facts, each tagged and NUL-separated so no two different plans
 * can serialise to the same byte stream.
 */
static void plan_compute_token(struct plan *p)
{
	struct bg_sha256 *h = bg_sha256_new();
	char hex[65];
	char *args = plan_args_to_json(&p->args);

	hash_str(h, "format", "bluegreen-plan-1");
	hash_str(h, "args", args);
	free(args);
	hash_uint(h, "mode", (uint64_t)p->install_mode);
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		hash_str(h, "op", plan_op_name(a->op));
		hash_str(h, "kind", plan_kind_name(a->kind));
		hash_str(h, "site", a->site);
		hash_str(h, "name", a->name);
		hash_str(h, "reason", a->reason);
		hash_str(h, "colour", a->colour);
		hash_str(h, "preview", a->preview);
		hash_uint(h, "replica", a->replica);
		hash_str(h, "service", a->service);
		hash_str(h, "target", a->target_id);
		hash_uint(h, "version", a->version);
		hash_str(h, "spec", a->spec);
		hash_str(h, "reject", a->reject_spec);
		hash_uint(h, "ms", a->ms);
		hash_uint(h, "phase", a->phase);
	}
	for (size_t i = 0; i < p->n_sites; i++) {
		const struct plan_site *s = &p->sites[i];
		hash_str(h, "psite", s->site);
		hash_str(h, "live_before", s->live_before);
		hash_str(h, "live_after", s->live_after);
		hash_str(h, "candidate", s->candidate_after);
		hash_str(h, "blocked", s->blocked);
		for (size_t k = 0; k < s->notes.n; k++) {
			hash_str(h, "snote", s->notes.v[k]);
		}
	}
	for (size_t i = 0; i < p->notes.n; i++) {
		hash_str(h, "note", p->notes.v[i]);
	}
	for (size_t i = 0; i < p->facts.n; i++) {
		hash_str(h, "fact", p->facts.v[i]);
	}
	bg_sha256_final_hex(h, hex);
	memcpy(p->token, hex, PLAN_TOKEN_LEN);
	p->token[PLAN_TOKEN_LEN] = '\0';
}

void plan_finish(struct plan *p, const struct cfg *cfg)
{
	for (size_t i = 0; i < p->n_sites; i++) {
		struct plan_site *s = &p->sites[i];
		const struct cfg_site *cs = cfg_site_find(cfg, s->site);
		free(s->preview_after);
		s->preview_after = cs && cs->preview
				? bg_xstrdup(s->candidate_after ? s->candidate_after : s->live_after)
				: NULL;
		if (cs) { /* a removed site keeps what rec-orphan set from the history */
			s->needs_confirm = cs->confirm && s->n_actions > 0 &&
					cfg->g.install_mode == CFG_MODE_PRODUCTION;
		}
		if (s->blocked) {
			bg_strv_push_take(&p->errors, bg_xasprintf("%s: %s", s->site, s->blocked));
		}
	}
	exec_collect(p, cfg);
	plan_compute_token(p);
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
	case PLAN_OP_CREATE:
	case PLAN_OP_ISSUE:
	case PLAN_OP_BACKUP:
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
			render_action(out, &st, &p->actions[s->first_action + k]);
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
	json_object_object_add(root, "kind", json_object_new_string(plan_of_names[p->args.kind]));
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
			json_object_array_add(acts, action_json(&p->actions[s->first_action + k]));
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
