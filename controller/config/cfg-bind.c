/*
 * cfg-bind: fill the typed structs of cfg.h from a merged tree, walking the
 * key table (cfg-keys.c), without reporting: validation already did, so a
 * missing or invalid value becomes the default and a partial load still
 * yields something usable. Relative paths become absolute against the
 * config directory; lists are sorted where order carries no meaning. Also
 * the matching release functions.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <fnmatch.h>

/* ---- bind ---- */

struct bctx {
	const char *dir;
	const struct cfg_global *g; /* NULL while binding the global itself */
};

/* Lexical clean-up: "/a/./b//../c" -> "/a/c"; the result is absolute. */
static char *path_absolute(const char *dir, const char *p)
{
	char *full = p[0] == '/' ? bg_xstrdup(p) : bg_xasprintf("%s/%s", dir, p);
	struct bg_strv parts;
	struct bg_buf out = BG_BUF_INIT;
	char *save = NULL;

	bg_strv_init(&parts);
	for (char *s = strtok_r(full, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (strcmp(s, ".") == 0) {
			continue;
		}
		if (strcmp(s, "..") == 0) {
			if (parts.n) {
				free(parts.v[--parts.n]);
				parts.v[parts.n] = NULL;
			}
			continue;
		}
		bg_strv_push(&parts, s);
	}
	for (size_t i = 0; i < parts.n; i++) {
		bg_buf_addf(&out, "/%s", parts.v[i]);
	}
	if (!parts.n) {
		bg_buf_addch(&out, '/');
	}
	bg_strv_release(&parts);
	free(full);
	return bg_buf_detach(&out, NULL);
}

static void strv_from_defs(struct bg_strv *sv, const char *const *defs)
{
	for (size_t i = 0; defs && defs[i]; i++) {
		bg_strv_push(sv, defs[i]);
	}
}

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_env_var *)a)->key, ((const struct cfg_env_var *)b)->key);
}

static void bind_env(const struct bctx *b, struct cfg_env *env, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	env->v = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*env->v));
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__env_key_valid(p->key->str) || p->val->kind != CFG__SCALAR ||
				cfg__scalar_type(p->val) == CFG__S_NULL) {
			continue;
		}
		struct cfg_env_var *e = &env->v[env->n++];
		e->key = bg_xstrdup(p->key->str);
		e->value = bg_xstrdup(p->val->str);
		e->loc = p->key->loc;
		for (size_t j = 0; b->g && j < b->g->redact.n; j++) {
			if (fnmatch(b->g->redact.v[j], e->key, FNM_CASEFOLD) == 0) {
				e->secret = true;
			}
		}
	}
	qsort(env->v, env->n, sizeof(*env->v), env_cmp);
}

static int mount_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_mount *)a)->volume, ((const struct cfg_mount *)b)->volume);
}

static void bind_mounts(struct cfg_mount **out, size_t *n_out, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	struct cfg_mount *m = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*m));
	size_t k = 0;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__volume_name_valid(p->key->str) || !cfg__is_string(p->val) ||
				!cfg__mount_target_valid(p->val->str)) {
			continue;
		}
		m[k].volume = bg_xstrdup(p->key->str);
		m[k].target = bg_xstrdup(p->val->str);
		m[k].loc = p->key->loc;
		k++;
	}
	qsort(m, k, sizeof(*m), mount_cmp);
	*out = m;
	*n_out = k;
}

static void bind_map(const struct bctx *b, const struct cfg__key *table,
		const struct cfg__node *map, void *base);

static int service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_service *)a)->name, ((const struct cfg_service *)b)->name);
}

static void bind_services(const struct bctx *b, const struct cfg__key *k,
		struct cfg_service **out, size_t *n_out, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	struct cfg_service *s = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*s));
	size_t c = 0;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__service_name_valid(p->key->str) || p->val->kind != CFG__MAP) {
			continue;
		}
		s[c].name = bg_xstrdup(p->key->str);
		s[c].loc = p->key->loc;
		bind_map(b, k->sub, p->val, &s[c]);
		c++;
	}
	qsort(s, c, sizeof(*s), service_cmp);
	*out = s;
	*n_out = c;
}

static int alert_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_alert *)a)->name, ((const struct cfg_alert *)b)->name);
}

static void bind_alerts(const struct bctx *b, const struct cfg__key *k,
		struct cfg_alert **out, size_t *n_out, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	struct cfg_alert *a = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*a));
	size_t c = 0;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__alert_name_valid(p->key->str) || p->val->kind != CFG__MAP) {
			continue;
		}
		a[c].name = bg_xstrdup(p->key->str);
		a[c].loc = p->key->loc;
		bind_map(b, k->sub, p->val, &a[c]);
		c++;
	}
	qsort(a, c, sizeof(*a), alert_cmp);
	*out = a;
	*n_out = c;
}

static int check_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_check *)a)->name, ((const struct cfg_check *)b)->name);
}

/* checks: as alerts, then what the table cannot set (the kind). */
static void bind_checks(const struct bctx *b, const struct cfg__key *k,
		struct cfg_check **out, size_t *n_out, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	struct cfg_check *c = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*c));
	size_t m = 0;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__check_name_valid(p->key->str) || p->val->kind != CFG__MAP) {
			continue;
		}
		c[m].name = bg_xstrdup(p->key->str);
		c[m].loc = p->key->loc;
		bind_map(b, k->sub, p->val, &c[m]);
		cfg__check_finish(&c[m], p->val);
		m++;
	}
	qsort(c, m, sizeof(*c), check_cmp);
	*out = c;
	*n_out = m;
}

static bool list_ok(const struct cfg__key *k, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__SEQ || ((k->flags & F_NONEMPTY) && !n->n_items)) {
		return false;
	}
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		if (k->type == K_ARGV) {
			if (!cfg__argv_item_ok(it) || (i == 0 && (!cfg__is_string(it) || !it->str[0]))) {
				return false;
			}
		} else if (!cfg__is_string(it) || (k->check && !k->check(it->str))) {
			return false;
		}
	}
	return true;
}

/* A key whose value is one scalar: n's value when it reads as k's type,
 * otherwise k's default. */
static void bind_scalar(const struct bctx *b, const struct cfg__key *k,
		const struct cfg__node *n, void *base)
{
	long long iv;
	bool bv;
	uint64_t dv;

	switch (k->type) {
	case K_STR:
		*CFG__AT(base, k->off, char *) = bg_xstrdup(n && cfg__str_ok(k, n) ? n->str : k->def);
		break;
	case K_PATH: {
		const char *p = n && cfg__str_ok(k, n) ? n->str : k->def;
		bool url = p && (k->flags & F_URL_OK) && cfg__is_url(p);
		*CFG__AT(base, k->off, char *) = !p ? NULL : url ? bg_xstrdup(p)
				: path_absolute(b->dir, p);
		if (k->off2) {
			*CFG__AT(base, k->off2, bool) = p && !url && p[0] != '/';
		}
		break;
	}
	case K_INT:
		if (!n || !cfg__parse_int(n, k->min, k->max, &iv)) {
			iv = k->def ? atoll(k->def) : 0;
		}
		*CFG__AT(base, k->off, unsigned) = (unsigned)iv;
		break;
	case K_BOOL:
		if (!n || !cfg__parse_bool(n, &bv)) {
			bv = k->def && strcmp(k->def, "true") == 0;
		}
		*CFG__AT(base, k->off, bool) = bv;
		break;
	case K_DURATION:
		if (!n || !cfg__parse_duration(n, k->flags & F_POSITIVE, &dv)) {
			dv = 0;
			if (k->def) {
				bg_duration_parse(k->def, &dv);
			}
		}
		*CFG__AT(base, k->off, uint64_t) = dv;
		break;
	case K_LISTEN: {
		char *s = NULL;
		if (!n || !cfg__parse_listen(n, &s)) {
			s = bg_xstrdup(k->def);
		}
		*CFG__AT(base, k->off, char *) = s;
		break;
	}
	default:
		BG_BUG("bind_scalar: key '%s' is not a scalar", k->name);
	}
}

static void bind_enum(const struct cfg__key *k, const struct cfg__node *n, void *base)
{
	int ev = n ? cfg__parse_enum(k, n) : -1;

	if (ev < 0 && k->def) {
		for (ev = 0; strcmp(k->defs[ev], k->def) != 0; ev++) {
		}
	}
	if (k->flags & F_ENUM_STR) {
		*CFG__AT(base, k->off, char *) = bg_xstrdup(ev >= 0 ? k->defs[ev] : NULL);
	} else {
		/* No valid value and no default: 0 (CFG_MODE_UNSET). */
		*CFG__AT(base, k->off, int) = ev >= 0 ? ev + (int)k->min : 0;
	}
}

static void bind_value(const struct bctx *b, const struct cfg__key *k,
		const struct cfg__node *n, void *base)
{
	switch (k->type) {
	case K_MAP:
		bind_map(b, k->sub, n && n->kind == CFG__MAP ? n : NULL, base);
		break;
	case K_DEFAULTS:
		break;
	case K_STR:
	case K_PATH:
	case K_INT:
	case K_BOOL:
	case K_DURATION:
	case K_LISTEN:
		bind_scalar(b, k, n, base);
		break;
	case K_ENUM:
		bind_enum(k, n, base);
		break;
	case K_STRLIST:
	case K_ARGV: {
		struct bg_strv *sv = CFG__AT(base, k->off, struct bg_strv);
		if (list_ok(k, n)) {
			for (size_t i = 0; i < n->n_items; i++) {
				bg_strv_push(sv, n->items[i]->str);
			}
		} else {
			strv_from_defs(sv, k->defs);
		}
		break;
	}
	case K_MODULES: {
		struct cfg__modset m = {0};
		cfg__modset_apply(&m, n, NULL);
		*CFG__AT(base, k->off, struct bg_strv) = m.names;
		free(m.locs);
		break;
	}
	case K_ENV:
		bind_env(b, CFG__AT(base, k->off, struct cfg_env), n);
		break;
	case K_MOUNTS:
		bind_mounts(CFG__AT(base, k->off, struct cfg_mount *), CFG__AT(base, k->off2, size_t), n);
		break;
	case K_SERVICES:
		bind_services(b, k, CFG__AT(base, k->off, struct cfg_service *),
				CFG__AT(base, k->off2, size_t), n);
		break;
	case K_ALERTS:
		bind_alerts(b, k, CFG__AT(base, k->off, struct cfg_alert *),
				CFG__AT(base, k->off2, size_t), n);
		break;
	case K_CHECKS:
		bind_checks(b, k, CFG__AT(base, k->off, struct cfg_check *),
				CFG__AT(base, k->off2, size_t), n);
		break;
	}
}

static void bind_map(const struct bctx *b, const struct cfg__key *table,
		const struct cfg__node *map, void *base)
{
	for (const struct cfg__key *k = table; k->name; k++) {
		bind_value(b, k, cfg__map_get(map, k->name), base);
	}
}

void cfg__bind_global(struct cfg_global *g, const struct cfg__node *root, const char *dir)
{
	struct bctx b = {.dir = dir};
	const struct cfg__node *im = cfg__map_get(root, "install_mode");

	bind_map(&b, cfg__keys_of(CFG__GLOBAL), root && root->kind == CFG__MAP ? root : NULL, g);
	if (im) {
		g->install_mode_loc = im->loc;
	}
	if (!g->traefik.staging_dir && g->traefik.dynamic_dir) {
		g->traefik.staging_dir = bg_xasprintf("%s.staging", g->traefik.dynamic_dir);
		g->traefik.staging_dir_rel = g->traefik.dynamic_dir_rel;
	}
	if (g->nginx.ports && cfg__port_range_valid(g->nginx.ports)) {
		g->nginx.port_lo = (unsigned)strtoul(g->nginx.ports, NULL, 10);
		g->nginx.port_hi = (unsigned)strtoul(strchr(g->nginx.ports, '-') + 1, NULL, 10);
	}
	/*
	 * The redaction list only grows: a configured list adds to the
	 * defaults, so adding one pattern can never un-hide *PASSWORD*.
	 */
	for (size_t i = 0; cfg__def_redact[i]; i++) {
		if (!bg_strv_contains(&g->redact, cfg__def_redact[i])) {
			bg_strv_push(&g->redact, cfg__def_redact[i]);
		}
	}
}

void cfg__bind_site(struct cfg_site *s, const struct cfg__node *root, const char *dir,
		const struct cfg_global *g)
{
	struct bctx b = {.dir = dir, .g = g};
	const struct cfg__pair *site = cfg__map_pair(root, "site");

	bind_map(&b, cfg__keys_of(CFG__SITE), root && root->kind == CFG__MAP ? root : NULL, s);
	if (site) {
		s->loc = site->key->loc;
	}
}

void cfg__env_release(struct cfg_env *e)
{
	if (!e) {
		return;
	}
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].key);
		free(e->v[i].value);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

static void mounts_release(struct cfg_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].volume);
		free(m[i].target);
	}
	free(m);
}

void cfg__global_release(struct cfg_global *g)
{
	if (!g) {
		return;
	}
	free(g->profile);
	bg_strv_release(&g->modules);
	free(g->state_dir);
	free(g->secrets_dir);
	free(g->docker_socket);
	free(g->edge_network);
	free(g->traefik.dynamic_dir);
	free(g->traefik.staging_dir);
	bg_strv_release(&g->traefik.entrypoints);
	free(g->traefik.certresolver);
	free(g->traefik.http_entrypoint);
	free(g->traefik.api);
	free(g->nginx.conf_dir);
	bg_strv_release(&g->nginx.reload);
	bg_strv_release(&g->nginx.test);
	free(g->nginx.listen);
	free(g->nginx.ports);
	free(g->nginx.listen_tls);
	bg_strv_release(&g->nginx.real_ip_from);
	free(g->nginx.group);
	free(g->nginx.auth_dir);
	free(g->acme.email);
	free(g->acme.directory);
	free(g->acme.ca_bundle);
	bg_strv_release(&g->acme.certbot);
	free(g->acme.dir);
	bg_strv_release(&g->redact);
	cfg__alerts_release(g->alerts, g->n_alerts);
	cfg__cockpit_release(&g->cockpit); /* issue 15 */
	memset(g, 0, sizeof(*g));
}

void cfg__site_release(struct cfg_site *s)
{
	if (!s) {
		return;
	}
	free(s->name);
	free(s->path);
	bg_strv_release(&s->domains);
	free(s->preview);
	free(s->image);
	bg_strv_release(&s->command);
	cfg__env_release(&s->env);
	free(s->env_file);
	free(s->health.path);
	mounts_release(s->mounts, s->n_mounts);
	for (size_t i = 0; i < s->n_services; i++) {
		struct cfg_service *v = &s->services[i];
		free(v->name);
		free(v->image);
		bg_strv_release(&v->command);
		cfg__env_release(&v->env);
		free(v->env_file);
		mounts_release(v->mounts, v->n_mounts);
		bg_strv_release(&v->backup.command);
		bg_strv_release(&v->backup.restore);
		bg_strv_release(&v->health.command);
		free(v->resources.memory);
		free(v->resources.cpus);
	}
	free(s->services);
	bg_strv_release(&s->depends_on);
	free(s->stop_signal);
	free(s->confirm);
	bg_strv_release(&s->modules);
	free(s->tls.cert);
	free(s->tls.key);
	free(s->resources.memory);
	free(s->resources.cpus);
	free(s->redirect_to);
	free(s->edge.max_body);
	free(s->preview_auth.user);
	free(s->preview_auth.password_file);
	if (s->preview_auth.password) {
		explicit_bzero(s->preview_auth.password, strlen(s->preview_auth.password));
		free(s->preview_auth.password);
	}
	bg_strv_release(&s->preview_allow);
	bg_strv_release(&s->promotion.trust);
	free(s->promotion.attestations);
	cfg__checks_release(s->checks, s->n_checks);
	cfg__module_site_release(s); /* issue 16 */
	memset(s, 0, sizeof(*s));
}

