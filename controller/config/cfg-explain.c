/*
 * cfg-explain: `--explain` output, walking the key table (cfg-keys.c) over
 * the bound structs: every leaf key, its effective value in YAML that reads
 * back the same, and where it came from (a file:line, a profile, or the
 * default). Secret env values are never printed.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

/* ---- explain ---- */

static bool plain_safe(const char *s)
{
	if (!*s || cfg__text_type(s) != CFG__S_STR || strchr("-?:,[]{}#&*!|>'\"%@`~", s[0])) {
		return s[0] == '-' && s[1] && strspn(s, CFG__ALNUM "_./:@+=%-") == strlen(s) &&
				cfg__text_type(s) == CFG__S_STR;
	}
	return strspn(s, CFG__ALNUM "_./:@+=%*-") == strlen(s);
}

static void add_scalar(struct bg_buf *out, const char *s)
{
	if (!s) {
		bg_buf_adds(out, "null");
	} else if (plain_safe(s)) {
		bg_buf_adds(out, s);
	} else {
		bg_buf_add_json_str(out, s);
	}
}

static void add_list(struct bg_buf *out, const struct bg_strv *sv)
{
	bg_buf_addch(out, '[');
	for (size_t i = 0; i < sv->n; i++) {
		if (i) {
			bg_buf_adds(out, ", ");
		}
		add_scalar(out, sv->v[i]);
	}
	bg_buf_addch(out, ']');
}

static void add_origin(struct bg_buf *out, const struct bg_loc *loc)
{
	if (loc && loc->file) {
		bg_buf_addf(out, "    # %s:%u\n", loc->file, loc->line);
	} else {
		bg_buf_adds(out, "    # default\n");
	}
}

static void explain_map(struct bg_buf *out, const struct cfg__key *table,
		const struct cfg__node *map, const void *base, const char *prefix);

static void explain_env(struct bg_buf *out, const char *path, const struct cfg_env *env)
{
	for (size_t i = 0; i < env->n; i++) {
		const struct cfg_env_var *e = &env->v[i];
		bg_buf_addf(out, "%s.%s = ", path, e->key);
		if (e->secret) {
			bg_buf_adds(out, BG_REDACTED);
		} else {
			add_scalar(out, e->value);
		}
		add_origin(out, &e->loc);
	}
}

static void explain_mounts(struct bg_buf *out, const struct cfg__key *k, const void *base,
		const char *path)
{
	const struct cfg_mount *m = *CFG__AT(base, k->off, struct cfg_mount *const);
	size_t c = *CFG__AT(base, k->off2, const size_t);

	for (size_t i = 0; i < c; i++) {
		bg_buf_addf(out, "%s.%s = ", path, m[i].volume);
		add_scalar(out, m[i].target);
		add_origin(out, &m[i].loc);
	}
}

static void explain_services(struct bg_buf *out, const struct cfg__key *k,
		const struct cfg__node *n, const void *base, const char *path)
{
	const struct cfg_service *s = *CFG__AT(base, k->off, struct cfg_service *const);
	size_t c = *CFG__AT(base, k->off2, const size_t);
	const struct cfg__pair **sorted = cfg__pairs_sorted(n);
	size_t np = n && n->kind == CFG__MAP ? n->n_pairs : 0;

	for (size_t i = 0; i < c; i++) {
		char *sub = bg_xasprintf("%s.%s.", path, s[i].name);
		const struct cfg__pair *p = cfg__pairs_find(sorted, np, s[i].name);
		explain_map(out, k->sub, p ? p->val : NULL, &s[i], sub);
		free(sub);
	}
	free(sorted);
}

static void explain_alerts(struct bg_buf *out, const struct cfg__key *k,
		const struct cfg__node *n, const void *base, const char *path)
{
	const struct cfg_alert *a = *CFG__AT(base, k->off, struct cfg_alert *const);
	size_t c = *CFG__AT(base, k->off2, const size_t);
	const struct cfg__pair **sorted = cfg__pairs_sorted(n);
	size_t np = n && n->kind == CFG__MAP ? n->n_pairs : 0;

	for (size_t i = 0; i < c; i++) {
		char *sub = bg_xasprintf("%s.%s.", path, a[i].name);
		const struct cfg__pair *p = cfg__pairs_find(sorted, np, a[i].name);
		explain_map(out, k->sub, p ? p->val : NULL, &a[i], sub);
		free(sub);
	}
	free(sorted);
}

static void explain_value(struct bg_buf *out, const struct cfg__key *k, const struct cfg__node *n,
		const void *base, const char *path);

static void explain_checks(struct bg_buf *out, const struct cfg__key *k,
		const struct cfg__node *n, const void *base, const char *path)
{
	const struct cfg_check *c = *CFG__AT(base, k->off, struct cfg_check *const);
	size_t m = *CFG__AT(base, k->off2, const size_t);
	const struct cfg__pair **sorted = cfg__pairs_sorted(n);
	size_t np = n && n->kind == CFG__MAP ? n->n_pairs : 0;

	for (size_t i = 0; i < m; i++) {
		const struct cfg__pair *p = cfg__pairs_find(sorted, np, c[i].name);
		const struct cfg__node *e = p && p->val->kind == CFG__MAP ? p->val : NULL;
		/* Its phase, its own kind and timeout: not the other kinds' defaults. */
		for (const struct cfg__key *r = k->sub; r->name; r++) {
			bool other = false;
			for (int kd = 0; kd < CFG_CHECK_N_KINDS; kd++) {
				other |= strcmp(r->name, cfg_check_kind_name(kd)) == 0 &&
						kd != (int)c[i].kind;
			}
			if (!other) {
				char *sub = bg_xasprintf("%s.%s.%s", path, c[i].name, r->name);
				explain_value(out, r, cfg__map_get(e, r->name), &c[i], sub);
				free(sub);
			}
		}
	}
	free(sorted);
}

/* The effective modules, each with where it was enabled. */
static void explain_modules(struct bg_buf *out, const struct cfg__node *n, const char *path)
{
	struct cfg__modset m = {0};

	cfg__modset_apply(&m, n, NULL);
	bg_buf_addf(out, "%s = ", path);
	add_list(out, &m.names);
	if (!m.names.n) {
		add_origin(out, n ? &n->loc : NULL); /* `modules: []` written somewhere, or the default */
	} else {
		bg_buf_adds(out, "    #");
		for (size_t i = 0; i < m.names.n; i++) {
			bg_buf_addf(out, "%s %s:%u", i ? "," : "", m.locs[i].file, m.locs[i].line);
		}
		bg_buf_addch(out, '\n');
	}
	cfg__modset_release(&m);
}

/* One line "path = value    # origin" for a scalar or list key. */
static void explain_leaf(struct bg_buf *out, const struct cfg__key *k, const struct cfg__node *n,
		const void *base, const char *path)
{
	const struct bg_loc *loc = n ? &n->loc : NULL;
	char dur[32];

	bg_buf_addf(out, "%s = ", path);
	if ((k->flags & F_NOECHO) && k->type == K_STR && *CFG__AT(base, k->off, char *const)) {
		/* The confirm phrase is what an apply must type: never shown. */
		bg_buf_adds(out, BG_REDACTED);
		add_origin(out, loc);
		return;
	}
	switch (k->type) {
	case K_STR:
	case K_PATH:
	case K_LISTEN:
		add_scalar(out, *CFG__AT(base, k->off, char *const));
		break;
	case K_INT:
		bg_buf_addf(out, "%u", *CFG__AT(base, k->off, const unsigned));
		break;
	case K_BOOL:
		bg_buf_adds(out, *CFG__AT(base, k->off, const bool) ? "true" : "false");
		break;
	case K_DURATION:
		bg_duration_format(*CFG__AT(base, k->off, const uint64_t), dur);
		bg_buf_adds(out, dur);
		break;
	case K_ENUM:
		if (k->flags & F_ENUM_STR) {
			add_scalar(out, *CFG__AT(base, k->off, char *const));
		} else {
			int v = *CFG__AT(base, k->off, const int) - (int)k->min;
			add_scalar(out, v >= 0 ? k->defs[v] : NULL);
		}
		break;
	case K_STRLIST:
	case K_ARGV:
		add_list(out, CFG__AT(base, k->off, const struct bg_strv));
		break;
	default:
		break;
	}
	add_origin(out, loc);
}

static void explain_value(struct bg_buf *out, const struct cfg__key *k, const struct cfg__node *n,
		const void *base, const char *path)
{
	switch (k->type) {
	case K_MAP: {
		char *sub = bg_xasprintf("%s.", path);
		explain_map(out, k->sub, n && n->kind == CFG__MAP ? n : NULL, base, sub);
		free(sub);
		break;
	}
	case K_DEFAULTS:
		break;
	case K_ENV:
		explain_env(out, path, CFG__AT(base, k->off, const struct cfg_env));
		break;
	case K_MOUNTS:
		explain_mounts(out, k, base, path);
		break;
	case K_SERVICES:
		explain_services(out, k, n, base, path);
		break;
	case K_ALERTS:
		explain_alerts(out, k, n, base, path);
		break;
	case K_CHECKS:
		explain_checks(out, k, n, base, path);
		break;
	case K_MODULES:
		explain_modules(out, n, path);
		break;
	default:
		explain_leaf(out, k, n, base, path);
		break;
	}
}

static void explain_map(struct bg_buf *out, const struct cfg__key *table,
		const struct cfg__node *map, const void *base, const char *prefix)
{
	for (const struct cfg__key *k = table; k->name; k++) {
		char *path = bg_xasprintf("%s%s", prefix, k->name);
		explain_value(out, k, cfg__map_get(map, k->name), base, path);
		free(path);
	}
}

void cfg__explain_global(const struct cfg_global *g, const struct cfg__node *root,
		struct bg_buf *out)
{
	explain_map(out, cfg__keys_of(CFG__GLOBAL), root, g, "");
}

void cfg__explain_site(const struct cfg_global *g, const struct cfg_site *s,
		const struct cfg__node *root, struct bg_buf *out)
{
	char *prefix = bg_xasprintf("sites.%s.", s->name);
	for (const struct cfg__key *k = cfg__keys_of(CFG__SITE); k->name; k++) {
		if (strcmp(k->name, "site") == 0) {
			continue; /* it is the name in the prefix */
		}
		char *path = bg_xasprintf("%s%s", prefix, k->name);
		explain_value(out, k, cfg__map_get(root, k->name), s, path);
		free(path);
	}
	free(prefix);
	(void)g;
}

