/*
 * plan: the plan model, its arguments, the execution settings it carries
 * (ADR 0012) and its token (see plan.h). The text and JSON renderings are
 * in plan-render.c.
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

const char *plan_of_name(enum plan_kind_of_plan kind)
{
	return (size_t)kind < BG_ARRAY_SIZE(plan_of_names) ? plan_of_names[kind] : "?";
}

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
	json_object_object_add(o, "kind", json_object_new_string(plan_of_name(a->kind)));
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

const struct cfg_site *plan_action_checks(const struct plan *p, const struct plan_action *a,
		const struct cfg *cfg)
{
	if (p->args.kind != PLAN_CONVERGE || a->op != PLAN_OP_HEALTH ||
			a->kind != PLAN_KIND_CONTAINER || !a->colour || !a->site) {
		return NULL;
	}
	const struct plan_site *ps = plan_site_find(p, a->site);
	const struct cfg_site *cs = cfg_site_find(cfg, a->site);
	if (!ps || !cs || !cs->n_checks ||
			(ps->live_before && strcmp(ps->live_before, a->colour) == 0)) {
		return NULL; /* the live colour's own gate (a scale) serves already */
	}
	return cs;
}

/* Each site's checks are facts of the token: apply runs them, so a token
 * approved for one set of checks never runs another (issue 14). Sites
 * without checks add nothing: their tokens are as before. */
static void checks_facts(struct plan *p, const struct cfg *cfg)
{
	for (size_t i = 0; i < p->n_sites; i++) {
		char *canon = cfg_checks_canonical(cfg_site_find(cfg, p->sites[i].site));
		if (canon) {
			plan_fact_add(p, "checks %s %s", p->sites[i].site, canon);
		}
		free(canon);
	}
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
	checks_facts(p, cfg);
	plan_compute_token(p);
}
