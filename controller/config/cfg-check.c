/*
 * cfg-check: validate one file's tree against the key table (cfg-keys.c)
 * and report everything the JSON Schemas in schema/ reject, with the same
 * verdict (test/unit/t-cfg.c checks both on a corpus), plus the few
 * single-file rules a schema cannot say: a preview that repeats a domain,
 * depends_on naming a service, mount targets used twice. Every problem is
 * reported, each at its file:line:col, with a suggestion for a misspelt key.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

/* ---- validate ---- */

struct vctx {
	struct bg_diag *d;
	enum cfg__kind kind;
	bool defaults; /* under site_defaults */
};

static char *path_join(const char *prefix, const char *name)
{
	char *q = cfg__quote(name);
	char *p = prefix && *prefix ? bg_xasprintf("%s.%s", prefix, q) : bg_xstrdup(q);
	free(q);
	return p;
}

static bool key_allowed(const struct vctx *v, const struct cfg__key *k)
{
	if (v->defaults && (k->flags & F_NO_DEFAULTS)) {
		return false;
	}
	if (v->kind == CFG__PROFILE && !v->defaults && (k->flags & F_GLOBAL_ONLY)) {
		return false;
	}
	return true;
}

static unsigned suggest_limit(const char *s)
{
	size_t n = strlen(s);
	return n <= 3 ? 1 : n <= 8 ? 2 : 3;
}

static void unknown_key(struct vctx *v, const struct cfg__key *table,
		const struct cfg__node *key, const char *prefix)
{
	const char *best = NULL;
	char *best_path = NULL;
	unsigned best_d = suggest_limit(key->str) + 1;

	for (const struct cfg__key *k = table; k->name; k++) {
		if (!key_allowed(v, k)) {
			continue;
		}
		unsigned dist = bg_str_distance(key->str, k->name, best_d - 1);
		if (dist < best_d) {
			best_d = dist;
			best = k->name;
		}
	}
	if (best) {
		best_path = path_join(prefix, best);
	} else {
		/* Written one level too high: `retries: 5` meant health.retries. */
		for (const struct cfg__key *k = table; k->name && !best_path; k++) {
			if (k->type == K_MAP && key_allowed(v, k) && cfg__key_find(k->sub, key->str)) {
				char *mid = path_join(prefix, k->name);
				best_path = path_join(mid, key->str);
				free(mid);
			}
		}
	}
	char *path = path_join(prefix, key->str);
	if (best_path) {
		bg_diag_error(v->d, &key->loc, "unknown key '%s' (did you mean '%s'?)", path,
				best_path);
	} else {
		bg_diag_error(v->d, &key->loc, "unknown key '%s'", path);
	}
	free(path);
	free(best_path);
}

static void type_error(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path, const char *expect)
{
	if (k && (k->flags & F_NOECHO) && n->kind == CFG__SCALAR) {
		bg_diag_error(v->d, &n->loc, "%s must be %s", path, expect);
		return;
	}
	char *got = cfg__describe(n);
	bg_diag_error(v->d, &n->loc, "%s must be %s (got %s)", path, expect, got);
	free(got);
}

static char *int_expect(const struct cfg__key *k)
{
	if (k->max == UINT32_MAX) {
		return bg_xasprintf("an integer >= %lld", k->min);
	}
	return bg_xasprintf("an integer in %lld..%lld", k->min, k->max);
}

static char *enum_expect(const struct cfg__key *k)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_adds(&b, "one of ");
	for (size_t i = 0; k->defs[i]; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : "", k->defs[i]);
	}
	return bg_buf_detach(&b, NULL);
}

static void validate_map(struct vctx *v, const struct cfg__key *table,
		const struct cfg__node *map, const char *prefix);

/* Which string items of a sequence repeat an earlier one (cfg__repeats). */
static size_t *item_repeats(const struct cfg__node *seq)
{
	const char **strs = bg_xcalloc(seq->n_items ? seq->n_items : 1, sizeof(*strs));
	for (size_t i = 0; i < seq->n_items; i++) {
		strs[i] = cfg__is_string(seq->items[i]) ? seq->items[i]->str : NULL;
	}
	size_t *first = cfg__repeats(strs, seq->n_items);
	free(strs);
	return first;
}

static void repeat_error(struct vctx *v, const struct cfg__node *it, const char *path,
		const struct cfg__node *first)
{
	char *q = cfg__quote(it->str);
	bg_diag_error(v->d, &it->loc, "%s repeats '%s' (already at line %u)", path, q,
			first->loc.line);
	free(q);
}

static void check_strlist(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__SEQ) {
		char *ex = k->defs && k->defs[0] ? bg_xasprintf("a list such as [%s]", k->defs[0])
				: bg_xstrdup("a list");
		if (strcmp(k->name, "domains") == 0) {
			free(ex);
			ex = bg_xstrdup("a list of host names such as [shop.example.com]");
		}
		type_error(v, k, n, path, ex);
		free(ex);
		return;
	}
	if ((k->flags & F_NONEMPTY) && n->n_items == 0) {
		bg_diag_error(v->d, &n->loc, "%s must not be empty", path);
		return;
	}
	size_t *first = item_repeats(n);
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		char *ip = bg_xasprintf("%s[%zu]", path, i);
		if (!cfg__is_string(it) || (k->check && !k->check(it->str))) {
			type_error(v, k, it, ip, k->expect);
		} else if (first[i]) {
			repeat_error(v, it, ip, n->items[first[i] - 1]);
		}
		free(ip);
	}
	free(first);
}

static void check_argv(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__SEQ) {
		char *ex = bg_xasprintf("a list (argv) such as %s", k->expect);
		if (cfg__is_string(n)) {
			char *q = cfg__quote(n->str);
			bg_diag_error(v->d, &n->loc, "%s must be %s, never a shell string "
					"(got \"%s\")", path, ex, q);
			free(q);
		} else {
			type_error(v, k, n, path, ex);
		}
		free(ex);
		return;
	}
	if ((k->flags & F_NONEMPTY) && n->n_items == 0) {
		bg_diag_error(v->d, &n->loc, "%s must not be empty: give at least the program to run",
				path);
		return;
	}
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		char *ip = bg_xasprintf("%s[%zu]", path, i);
		if (i == 0 && (!cfg__is_string(it) || !it->str[0])) {
			type_error(v, k, it, ip, "a program name (a non-empty string)");
		} else if (!cfg__argv_item_ok(it)) {
			type_error(v, k, it, ip, "a string or a number");
		}
		free(ip);
	}
}

static void check_modules(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	static const char *const known[] = {"cockpit", "landing", "wordpress",
		"wp-plugins-standard"};
	if (n->kind != CFG__SEQ) {
		type_error(v, k, n, path, "a list of module names such as [cockpit]");
		return;
	}
	size_t *first = item_repeats(n);
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		char *ip = bg_xasprintf("%s[%zu]", path, i);
		if (!cfg__is_string(it)) {
			type_error(v, k, it, ip, "a module name such as cockpit");
		} else if (!cfg__module_entry_known(it->str)) {
			const char *name = it->str[0] == '-' ? it->str + 1 : it->str;
			const char *best = NULL;
			unsigned best_d = suggest_limit(name) + 1;
			for (size_t j = 0; j < BG_ARRAY_SIZE(known); j++) {
				unsigned dist = bg_str_distance(name, known[j], best_d - 1);
				if (dist < best_d) {
					best_d = dist;
					best = known[j];
				}
			}
			char *q = cfg__quote(it->str);
			if (best) {
				bg_diag_error(v->d, &it->loc, "unknown module '%s' in %s (did you mean '%s%s'?)",
						q, path, it->str[0] == '-' ? "-" : "", best);
			} else {
				bg_diag_error(v->d, &it->loc, "unknown module '%s' in %s (known: cockpit, "
						"landing, wordpress, wp-plugins-standard)", q, path);
			}
			free(q);
		} else if (first[i]) {
			repeat_error(v, it, ip, n->items[first[i] - 1]);
		}
		free(ip);
	}
	free(first);
}

static void check_env(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of variable names to values such as "
				"{NODE_ENV: production}");
		return;
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		char *q = cfg__quote(p->key->str);
		if (!cfg__env_key_valid(p->key->str)) {
			bg_diag_error(v->d, &p->key->loc, "invalid variable name '%s' in %s: use "
					"letters, digits and '_' (and '.' or '-' after the first "
					"character), not starting with a digit", q, path);
		} else if (!cfg__argv_item_ok(p->val) && !(p->val->kind == CFG__SCALAR &&
				cfg__scalar_type(p->val) == CFG__S_BOOL)) {
			/* Never quote an env value: it may be a secret. Scalars are
			 * always valid here, so only their kind is ever named. */
			char *ip = path_join(path, p->key->str);
			const char *got = p->val->kind == CFG__MAP ? "a mapping"
					: p->val->kind == CFG__SEQ ? "a list"
					: p->val->str[0] ? "null" : "nothing";
			bg_diag_error(v->d, &p->val->loc, "%s must be a string, number or boolean "
					"(got %s; write \"\" for an empty value)", ip, got);
			free(ip);
		}
		free(q);
	}
}

static void check_mounts(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of volume names to container paths such "
				"as {uploads: /app/uploads}");
		return;
	}
	const char **targets = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*targets));
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		bool ok = cfg__volume_name_valid(p->key->str) && cfg__is_string(p->val) &&
				cfg__mount_target_valid(p->val->str);
		targets[i] = ok ? p->val->str : NULL;
	}
	size_t *first = cfg__repeats(targets, n->n_pairs);
	free(targets);
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__volume_name_valid(p->key->str)) {
			char *q = cfg__quote(p->key->str);
			bg_diag_error(v->d, &p->key->loc, "invalid volume name '%s' in %s: use "
					"lowercase letters, digits, '_', '.' and '-', starting with "
					"a letter or digit, at most 40 characters", q, path);
			free(q);
			continue;
		}
		char *ip = path_join(path, p->key->str);
		if (!cfg__is_string(p->val) || !cfg__mount_target_valid(p->val->str)) {
			type_error(v, k, p->val, ip, "an absolute path in the container such as "
					"/app/uploads (no ':' or ',')");
		} else if (first[i]) {
			/* Not in the schema: two volumes on one target. */
			const struct cfg__pair *o = &n->pairs[first[i] - 1];
			char *q = cfg__quote(p->val->str);
			char *oq = cfg__quote(o->key->str);
			bg_diag_error(v->d, &p->val->loc, "%s mounts on '%s', already used by "
					"volume '%s' at line %u", ip, q, oq, o->key->loc.line);
			free(q);
			free(oq);
		}
		free(ip);
	}
	free(first);
}

static void check_services(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of service names to settings such as "
				"{db: {image: postgres:16}}");
		return;
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		char *ip = path_join(path, p->key->str);
		if (!cfg__service_name_valid(p->key->str)) {
			char *q = cfg__quote(p->key->str);
			bg_diag_error(v->d, &p->key->loc, "invalid service name '%s': use %s, "
					"not starting with 'blue' or 'green'", q, CFG__NAME_EXPECT);
			free(q);
		} else if (p->val->kind != CFG__MAP) {
			type_error(v, k, p->val, ip, "a mapping of service settings such as "
					"{image: postgres:16}");
		} else {
			validate_map(v, k->sub, p->val, ip);
		}
		free(ip);
	}
}

/* alerts: name -> one target's settings (cfg-release.c). */
static void check_alerts(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of alert names to targets such as "
				"{ops: {webhook: \"https://hooks.example.com/x\"}}");
		return;
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		char *ip = path_join(path, p->key->str);
		if (!cfg__alert_name_valid(p->key->str)) {
			char *q = cfg__quote(p->key->str);
			bg_diag_error(v->d, &p->key->loc, "invalid alert name '%s': use %s", q,
					CFG__NAME_EXPECT);
			free(q);
		} else if (p->val->kind != CFG__MAP) {
			type_error(v, k, p->val, ip, "a mapping such as {webhook: URL, events: "
					"[gate-failed]}");
		} else {
			validate_map(v, k->sub, p->val, ip);
			cfg__alert_check(p->val, ip, v->d);
		}
		free(ip);
	}
}

/* checks: name -> one check (cfg-checks.c, issue 14). */
static void check_checks(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of check names to checks such as "
				"{no-debug: {phase: security, forbidden: [/debug]}}");
		return;
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		char *ip = path_join(path, p->key->str);
		if (!cfg__check_name_valid(p->key->str)) {
			char *q = cfg__quote(p->key->str);
			bg_diag_error(v->d, &p->key->loc, "invalid check name '%s': use %s", q,
					CFG__NAME_EXPECT);
			free(q);
		} else if (p->val->kind != CFG__MAP) {
			type_error(v, k, p->val, ip, "a mapping such as {phase: security, "
					"forbidden: [/debug]}");
		} else {
			validate_map(v, k->sub, p->val, ip);
			cfg__check_check(p->val, ip, v->d);
		}
		free(ip);
	}
}

/* A key whose value is one scalar: report it when it does not read as k's type. */
static void check_scalar(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	long long iv;
	bool bv;
	uint64_t dv;
	char *ex;

	switch (k->type) {
	case K_STR:
		if (!cfg__str_ok(k, n)) {
			type_error(v, k, n, path, k->expect);
		}
		break;
	case K_PATH:
		if (!cfg__str_ok(k, n)) {
			type_error(v, k, n, path, k->expect ? k->expect
					: "a path (relative to the config directory or absolute)");
		}
		break;
	case K_INT:
		if (!cfg__parse_int(n, k->min, k->max, &iv)) {
			ex = int_expect(k);
			type_error(v, k, n, path, ex);
			free(ex);
		}
		break;
	case K_BOOL:
		if (!cfg__parse_bool(n, &bv)) {
			type_error(v, k, n, path, "true or false");
		}
		break;
	case K_DURATION:
		if (!cfg__parse_duration(n, k->flags & F_POSITIVE, &dv)) {
			type_error(v, k, n, path, k->flags & F_POSITIVE
					? "a duration above zero such as 500ms, 1s, 2m or 1h"
					: "a duration such as 500ms, 1s, 2m or 1h");
		}
		break;
	case K_ENUM:
		if (cfg__parse_enum(k, n) < 0) {
			ex = enum_expect(k);
			type_error(v, k, n, path, ex);
			free(ex);
		}
		break;
	case K_LISTEN:
		if (!cfg__parse_listen(n, NULL)) {
			type_error(v, k, n, path, k->expect);
		}
		break;
	default:
		BG_BUG("check_scalar: key '%s' is not a scalar", k->name);
	}
}

static void validate_value(struct vctx *v, const struct cfg__key *k, const struct cfg__node *n,
		const char *path)
{
	switch (k->type) {
	case K_MAP:
		if (n->kind != CFG__MAP) {
			type_error(v, k, n, path, "a mapping");
		} else {
			validate_map(v, k->sub, n, path);
			if (k->sub == cfg__promotion_keys) {
				cfg__promotion_check(n, v->d);
			}
			if (k->sub == cfg__cockpit_keys) { /* issue 15 */
				cfg__cockpit_check(n, v->d);
			}
		}
		break;
	case K_DEFAULTS:
		if (n->kind != CFG__MAP) {
			type_error(v, k, n, path, "a mapping of site settings");
		} else {
			struct vctx sub = *v;
			sub.defaults = true;
			validate_map(&sub, k->sub, n, path);
		}
		break;
	case K_STRLIST:
		check_strlist(v, k, n, path);
		break;
	case K_ARGV:
		check_argv(v, k, n, path);
		break;
	case K_MODULES:
		check_modules(v, k, n, path);
		break;
	case K_ENV:
		check_env(v, k, n, path);
		break;
	case K_MOUNTS:
		check_mounts(v, k, n, path);
		break;
	case K_SERVICES:
		check_services(v, k, n, path);
		break;
	case K_ALERTS:
		check_alerts(v, k, n, path);
		break;
	case K_CHECKS:
		check_checks(v, k, n, path);
		break;
	case K_STR:
	case K_PATH:
	case K_INT:
	case K_BOOL:
	case K_DURATION:
	case K_ENUM:
	case K_LISTEN:
		check_scalar(v, k, n, path);
		break;
	}
}

static void validate_map(struct vctx *v, const struct cfg__key *table,
		const struct cfg__node *map, const char *prefix)
{
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct cfg__pair *p = &map->pairs[i];
		const struct cfg__key *k = cfg__key_find(table, p->key->str);
		if (!k) {
			unknown_key(v, table, p->key, prefix);
			continue;
		}
		char *path = path_join(prefix, k->name);
		if (v->defaults && (k->flags & F_NO_DEFAULTS)) {
			bg_diag_error(v->d, &p->key->loc, "site_defaults cannot set '%s': it belongs "
					"in each site file", k->name);
		} else if (!key_allowed(v, k)) {
			bg_diag_error(v->d, &p->key->loc, "'%s' can only be set in global.conf, "
					"not in a profile", path);
		} else {
			validate_value(v, k, p->val, path);
		}
		free(path);
	}
	if (v->defaults) {
		return;
	}
	for (const struct cfg__key *k = table; k->name; k++) {
		if ((k->flags & F_REQUIRED) && key_allowed(v, k) && !cfg__map_pair(map, k->name) &&
				!((k->flags & F_UNLESS_KIND) && cfg__map_pair(map, "kind"))) {
			char *path = path_join(prefix, k->name);
			bg_diag_error(v->d, &map->loc, "missing required key '%s'", path);
			free(path);
		}
	}
}

/* Single-file rules of a site that no JSON Schema can say. */
static void site_semantics(struct vctx *v, const struct cfg__node *root)
{
	const struct cfg__node *domains = cfg__map_get(root, "domains");
	const struct cfg__node *preview = cfg__map_get(root, "preview");
	const struct cfg__node *deps = cfg__map_get(root, "depends_on");
	const struct cfg__node *svcs = cfg__map_get(root, "services");

	if (preview && cfg__is_string(preview) && domains && domains->kind == CFG__SEQ) {
		for (size_t i = 0; i < domains->n_items; i++) {
			if (cfg__is_string(domains->items[i]) &&
					strcmp(domains->items[i]->str, preview->str) == 0) {
				char *q = cfg__quote(preview->str);
				bg_diag_error(v->d, &preview->loc, "preview '%s' is also in domains "
						"(line %u): the preview host must differ from the live ones",
						q, domains->items[i]->loc.line);
				free(q);
				break;
			}
		}
	}
	if (!deps || deps->kind != CFG__SEQ) {
		return;
	}
	const struct cfg__pair **sorted = cfg__pairs_sorted(svcs);
	size_t n_svcs = svcs && svcs->kind == CFG__MAP ? svcs->n_pairs : 0;
	for (size_t i = 0; i < deps->n_items; i++) {
		const struct cfg__node *it = deps->items[i];
		if (!cfg__is_string(it) || !cfg_name_valid(it->str)) {
			continue;
		}
		if (cfg__pairs_find(sorted, n_svcs, it->str)) {
			continue;
		}
		char *q = cfg__quote(it->str);
		const char *best = NULL;
		unsigned best_d = suggest_limit(it->str) + 1;
		/* Suggestions are for humans: skip them in absurdly large files. */
		for (size_t j = 0; n_svcs <= 1000 && j < n_svcs; j++) {
			unsigned dist = bg_str_distance(it->str, svcs->pairs[j].key->str, best_d - 1);
			if (dist < best_d) {
				best_d = dist;
				best = svcs->pairs[j].key->str;
			}
		}
		if (best) {
			char *bq = cfg__quote(best);
			bg_diag_error(v->d, &it->loc, "depends_on[%zu] names '%s', which is not a "
					"service of this site (did you mean '%s'?)", i, q, bq);
			free(bq);
		} else {
			bg_diag_error(v->d, &it->loc, "depends_on[%zu] names '%s', which is not a "
					"service of this site", i, q);
		}
		free(q);
	}
	free(sorted);
}

void cfg__validate(enum cfg__kind kind, const struct cfg__node *root,
		const struct bg_loc *file_loc, struct bg_diag *d)
{
	struct vctx v = {.d = d, .kind = kind};
	static const char *const hint[] = {
		[CFG__GLOBAL] = "install_mode: production",
		[CFG__SITE] = "site: shop",
		[CFG__PROFILE] = "modules: [cockpit]",
	};

	if (!root || (root->kind == CFG__SCALAR && root->plain && !*root->str)) {
		struct bg_loc loc = {.file = file_loc->file, .line = 1, .col = 1};
		bg_diag_error(d, &loc, "the file is empty: expected a mapping of settings "
				"such as '%s'", hint[kind]);
		return;
	}
	if (root->kind != CFG__MAP) {
		char *got = cfg__describe(root);
		bg_diag_error(d, &root->loc, "the top level must be a mapping of settings such "
				"as '%s' (got %s)", hint[kind], got);
		free(got);
		return;
	}
	validate_map(&v, cfg__keys_of(kind), root, "");
	if (kind == CFG__SITE) {
		site_semantics(&v, root);
	}
}

