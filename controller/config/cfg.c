/*
 * cfg: finds the files of a configuration directory, parses and checks
 * each one on its own (cfg-yaml.c, cfg-check.c), merges the layers
 * (profile < global.conf < site file, site_defaults under each site), binds
 * the result into the structs of cfg.h, and runs the checks that need more
 * than one file: a site's name against its file name, env_file contents
 * (read by cfg-env.c), the profile's existence, keys only required once
 * merged, and a domain claimed by two sites. Every problem goes into one diagnostics list,
 * sorted by place, so the operator fixes everything in one pass.
 */
#include "bg.h"
#include "cfg.h"
#include "cfg-int.h"

#include <dirent.h>
#include <fnmatch.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef BG_PROFILES_DATADIR
#define BG_PROFILES_DATADIR "/usr/share/bluegreen/profiles"
#endif

struct cfg_prov {
	struct cfg__arena arena;
	struct cfg__node *global;   /* merged global tree */
	struct cfg__node **sites;   /* merged site trees, parallel to cfg.sites */
};

static const char *const known_modules[] = {"cockpit", "landing", "wordpress",
	"wp-plugins-standard"};

bool cfg_module_known(const char *name)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(known_modules); i++) {
		if (strcmp(name, known_modules[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool cfg_module_built(const char *name)
{
	/* The ones with a module.conf and an expansion (cfg-module.c); the
	 * others are accepted with a warning (docs/adr/0003-modules-not-built.md). */
	return cfg__module_is_built(name);
}

const char *cfg_install_mode_name(enum cfg_install_mode m)
{
	switch (m) {
	case CFG_MODE_PRODUCTION:
		return "production";
	case CFG_MODE_STAGING:
		return "staging";
	case CFG_MODE_DEVELOPMENT:
		return "development";
	case CFG_MODE_UNSET:
		break;
	}
	return "unset";
}

const char *cfg_edge_kind_name(enum cfg_edge_kind k)
{
	return k == CFG_EDGE_NGINX ? "nginx" : "traefik";
}

int cfg_dir_resolve(const char *opt, char **out)
{
	const char *env = getenv("BLUEGREEN_CONFIG");
	struct stat st;

	if (opt && *opt) {
		*out = bg_xstrdup(opt);
		return 0;
	}
	if (env && *env) {
		*out = bg_xstrdup(env);
		return 0;
	}
	if (stat("global.conf", &st) == 0 && S_ISREG(st.st_mode)) {
		char *cwd = getcwd(NULL, 0);
		if (!cwd) {
			return BG_ERRNO(errno);
		}
		*out = bg_xstrdup(cwd);
		free(cwd);
		return 0;
	}
	*out = bg_xstrdup("/etc/bluegreen");
	return 0;
}

static int site_name_cmp(const void *name, const void *site)
{
	return strcmp(name, ((const struct cfg_site *)site)->name);
}

const struct cfg_site *cfg_site_find(const struct cfg *c, const char *name)
{
	if (!c || c->n_sites == 0) {
		return NULL; /* bsearch wants a valid array even for n == 0 */
	}
	return bsearch(name, c->sites, c->n_sites, sizeof(*c->sites), site_name_cmp);
}

bool cfg_key_is_secret(const struct cfg *c, const char *key)
{
	for (size_t i = 0; c && i < c->g.redact.n; i++) {
		if (fnmatch(c->g.redact.v[i], key, FNM_CASEFOLD) == 0) {
			return true;
		}
	}
	return false;
}

void cfg_destroy(struct cfg *c)
{
	if (!c) {
		return;
	}
	cfg__global_release(&c->g);
	for (size_t i = 0; i < c->n_sites; i++) {
		cfg__site_release(&c->sites[i]);
	}
	free(c->sites);
	if (c->prov) {
		cfg__arena_release(&c->prov->arena);
		free(c->prov->sites);
		free(c->prov);
	}
	cfg__pool_release(c->pool);
	free(c->pool);
	free(c->dir);
	free(c);
}

int cfg_explain(const struct cfg *c, struct bg_buf *out)
{
	cfg__explain_global(&c->g, c->prov ? c->prov->global : NULL, out);
	for (size_t i = 0; i < c->n_sites; i++) {
		cfg__explain_site(&c->g, &c->sites[i], c->prov ? c->prov->sites[i] : NULL, out);
	}
	return 0;
}

/* ---- diagnostics ---- */

static bool same_item(const struct bg_diag_item *a, const struct bg_diag_item *b)
{
	return a->sev == b->sev && a->line == b->line && a->col == b->col &&
			strcmp(a->msg, b->msg) == 0 &&
			(a->file == b->file || (a->file && b->file && strcmp(a->file, b->file) == 0));
}

/*
 * Sorted, without repeats (a module warning from site_defaults would
 * otherwise repeat once per site), into the caller's list.
 */
static void diag_finish(struct bg_diag *local, struct bg_diag *d)
{
	struct bg_diag uniq;
	if (!d) {
		return;
	}
	bg_diag_init(&uniq);
	bg_diag_sort(local);
	for (size_t i = 0; i < local->n; i++) {
		if (i > 0 && same_item(&local->items[i], &local->items[i - 1])) {
			continue;
		}
		struct bg_diag one = {.items = &local->items[i], .n = 1};
		bg_diag_merge(&uniq, &one);
	}
	uniq.n_dropped = local->n_dropped;
	bg_diag_merge(d, &uniq);
	/* Errors past the cap were counted, not kept: keep counting them. */
	size_t kept = 0;
	for (size_t i = 0; i < local->n; i++) {
		kept += local->items[i].sev == BG_SEV_ERROR;
	}
	d->n_errors += local->n_errors - kept;
	bg_diag_release(&uniq);
}

/* ---- one buffer (fuzzer, tests) ---- */

static int kind_parse(const char *kind, enum cfg__kind *out)
{
	if (!kind) {
		return BG_EUSAGE;
	}
	if (strcmp(kind, "global") == 0) {
		*out = CFG__GLOBAL;
	} else if (strcmp(kind, "site") == 0) {
		*out = CFG__SITE;
	} else if (strcmp(kind, "profile") == 0) {
		*out = CFG__PROFILE;
	} else {
		return BG_EUSAGE;
	}
	return 0;
}

int cfg_check_buffer(const char *kind, const char *name, const char *data,
		size_t len, struct bg_diag *d)
{
	struct cfg__pool pool = {0};
	struct cfg__arena arena = {0};
	struct cfg__node *root = NULL;
	struct bg_diag ld;
	enum cfg__kind k;
	int err = kind_parse(kind, &k);

	if (err) {
		return err;
	}
	bg_diag_init(&ld);
	ld.max_items = CFG_MAX_DIAGS;
	const char *file = cfg__pool_intern(&pool, name ? name : "<buffer>");
	struct bg_loc loc = {.file = file};
	if (cfg__parse(&arena, file, data, len, &root, &ld) == 0) {
		cfg__validate(k, root, &loc, &ld);
		struct cfg__modset m = {0};
		cfg__modset_apply(&m, cfg__map_get(root, "modules"), NULL);
		cfg__modset_apply(&m, cfg__map_get(cfg__map_get(root, "site_defaults"), "modules"),
				NULL);
		cfg__modset_warn(&m, &ld);
		cfg__modset_release(&m);
	}
	err = bg_diag_has_errors(&ld) ? BG_ECONFIG : 0;
	diag_finish(&ld, d);
	bg_diag_release(&ld);
	cfg__arena_release(&arena);
	cfg__pool_release(&pool);
	return err;
}

/* ---- loading a directory ---- */

struct loader {
	struct cfg *c;
	struct cfg__pool *pool;
	struct cfg__arena *arena;
	struct bg_diag *d;
	struct cfg__envfiles ef; /* env_file reading (cfg-env.c) */
	struct cfg__modctx mod;  /* issue 16: module kinds expanded (cfg-module.c) */
	const char *site_name;   /* the site file being loaded (NULL: site.conf) */
};

static void file_error(struct loader *l, const char *display, const char *fmt, ...)
	BG_PRINTF(3, 4);

static void file_error(struct loader *l, const char *display, const char *fmt, ...)
{
	struct bg_loc loc = {.file = cfg__pool_intern(l->pool, display)};
	va_list ap;
	va_start(ap, fmt);
	bg_diag_vadd(l->d, BG_SEV_ERROR, &loc, fmt, ap);
	va_end(ap);
}

/*
 * Read, parse and check one file. Returns its tree (NULL when it could not
 * be parsed or is empty); *found is false when the file does not exist.
 * With dir, path is relative and opened beneath dir with no link on the
 * way (bg_file_read_safe): a linked directory cannot lead outside.
 */
static struct cfg__node *load_file(struct loader *l, const char *dir, const char *path,
		const char *display, enum cfg__kind kind, bool *found)
{
	char *data = NULL;
	size_t len = 0;
	struct cfg__node *root = NULL;
	const char *file = cfg__pool_intern(l->pool, display);
	struct bg_loc loc = {.file = file};

	*found = true;
	const char *why = NULL;
	/* Not through a link, never blocking on a FIFO (bg_file_read_safe). */
	int err = bg_file_read_safe(dir, path, CFG_MAX_FILE_BYTES, &data, &len, NULL, &why);
	if (err == BG_ERRNO(ENOENT)) {
		*found = false;
		return NULL;
	}
	if (err == BG_ETOO_BIG) {
		file_error(l, display, "file is too large (over %d bytes)", CFG_MAX_FILE_BYTES);
		return NULL;
	}
	if (err) {
		file_error(l, display, "cannot read '%s%s%s': %s", dir ? dir : "", dir ? "/" : "",
				path, why);
		return NULL;
	}
	if (cfg__parse(l->arena, file, data, len, &root, l->d) == 0) {
		if (kind == CFG__SITE && root && root->kind == CFG__MAP) {
			cfg__module_expand(&l->mod, l->site_name, &root);
		}
		cfg__validate(kind, root, &loc, l->d);
	} else {
		root = NULL;
	}
	free(data);
	return root;
}

static bool is_map(const struct cfg__node *n)
{
	return n && n->kind == CFG__MAP;
}

static bool is_str(const struct cfg__node *n)
{
	return n && n->kind == CFG__SCALAR && cfg__scalar_type(n) == CFG__S_STR;
}

/*
 * Layer hi over lo: mappings merge key by key, anything else is replaced,
 * except the top-level `modules` lists, which are concatenated so that
 * cfg__modset_apply() sees every layer's entries in order.
 */
static struct cfg__node *merge(struct cfg__arena *a, struct cfg__node *lo,
		struct cfg__node *hi, bool top)
{
	if (!lo) {
		return hi;
	}
	if (!hi || !is_map(lo) || !is_map(hi)) {
		return hi ? hi : lo;
	}
	struct cfg__node *m = cfg__node_new(a, CFG__MAP, &hi->loc);
	const struct cfg__pair **hs = cfg__pairs_sorted(hi);
	const struct cfg__pair **ls = cfg__pairs_sorted(lo);
	for (size_t i = 0; i < lo->n_pairs; i++) {
		struct cfg__pair *p = &lo->pairs[i];
		const struct cfg__pair *hp = cfg__pairs_find(hs, hi->n_pairs, p->key->str);
		if (!hp) {
			cfg__map_push(m, p->key, p->val);
		} else if (top && strcmp(p->key->str, "modules") == 0 &&
				p->val->kind == CFG__SEQ && hp->val->kind == CFG__SEQ) {
			struct cfg__node *s = cfg__node_new(a, CFG__SEQ, &hp->val->loc);
			for (size_t j = 0; j < p->val->n_items; j++) {
				cfg__seq_push(s, p->val->items[j]);
			}
			for (size_t j = 0; j < hp->val->n_items; j++) {
				cfg__seq_push(s, hp->val->items[j]);
			}
			cfg__map_push(m, hp->key, s);
		} else {
			cfg__map_push(m, hp->key, merge(a, p->val, hp->val, false));
		}
	}
	for (size_t i = 0; i < hi->n_pairs; i++) {
		if (!cfg__pairs_find(ls, lo->n_pairs, hi->pairs[i].key->str)) {
			cfg__map_push(m, hi->pairs[i].key, hi->pairs[i].val);
		}
	}
	free(hs);
	free(ls);
	return m;
}

bool cfg__from_build_tree(void)
{
#ifdef BG_BUILD_ROOT
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		return bg_str_has_prefix(exe, BG_BUILD_ROOT "/");
	}
#endif
	return false;
}

static const char *builtin_profiles_dir(void)
{
#ifdef BG_PROFILES_SRCDIR
	if (cfg__from_build_tree()) {
		return BG_PROFILES_SRCDIR;
	}
#endif
	return BG_PROFILES_DATADIR;
}

/* Where profiles are looked up, in order; *local is a new string. */
static void profile_dirs(const struct cfg *c, const char *dirs[3], char **local)
{
	const char *env = getenv("BLUEGREEN_PROFILES_DIR");
	*local = bg_xasprintf("%s/profiles", c->dir);
	dirs[0] = *local;
	dirs[1] = env && *env ? env : NULL;
	dirs[2] = builtin_profiles_dir();
}

/* The closest profile name in the three places, for "did you mean". */
static char *profile_suggest(const char *const dirs[3], const char *name)
{
	char *best = NULL;
	unsigned best_d = 3;
	for (size_t i = 0; i < 3; i++) {
		DIR *dh = dirs[i] ? opendir(dirs[i]) : NULL;
		struct dirent *e;
		while (dh && (e = readdir(dh))) {
			if (!bg_str_has_suffix(e->d_name, ".conf") || e->d_name[0] == '.') {
				continue;
			}
			char *base = bg_xstrndup(e->d_name, strlen(e->d_name) - 5);
			unsigned dist = bg_str_distance(name, base, best_d - 1);
			if (dist < best_d) {
				best_d = dist;
				free(best);
				best = base;
				base = NULL;
			}
			free(base);
		}
		if (dh) {
			closedir(dh);
		}
	}
	return best;
}

/*
 * A directory of the configuration that is a symbolic link (git stores
 * them) would make bluegreen read, and its errors quote, files from
 * anywhere: refused, named by its place in the config directory.
 */
static bool dir_is_link(struct loader *l, const char *rel)
{
	struct stat st;
	char *path = bg_xasprintf("%s/%s", l->c->dir, rel);
	bool link = lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
	free(path);
	if (link) {
		char *display = bg_xasprintf("%s/", rel);
		file_error(l, display, "%s/ is a symbolic link, which is not followed: make it a "
				"directory inside the configuration directory %s", rel, l->c->dir);
		free(display);
	}
	return link;
}

static struct cfg__node *load_profile(struct loader *l, const struct cfg__node *name)
{
	const char *dirs[3];
	struct cfg__node *root = NULL;
	char *local = NULL;

	if (dir_is_link(l, "profiles")) {
		return NULL;
	}
	profile_dirs(l->c, dirs, &local);
	for (size_t i = 0; i < 3; i++) {
		if (!dirs[i]) {
			continue;
		}
		/* The local one beneath the config directory, no link on the way. */
		char *path = i == 0 ? bg_xasprintf("profiles/%s.conf", name->str)
				: bg_xasprintf("%s/%s.conf", dirs[i], name->str);
		char *display = bg_xstrdup(path);
		bool found;
		root = load_file(l, i == 0 ? l->c->dir : NULL, path, display, CFG__PROFILE,
				&found);
		free(path);
		free(display);
		if (found) {
			goto out;
		}
	}
	char *best = profile_suggest(dirs, name->str);
	struct bg_buf where = BG_BUF_INIT;
	for (size_t i = 0; i < 3; i++) {
		if (dirs[i]) {
			bg_buf_addf(&where, "%s%s", where.len ? ", " : "", dirs[i]);
		}
	}
	if (best) {
		bg_diag_error(l->d, &name->loc, "profile '%s' not found in %s (did you mean '%s'?)",
				name->str, where.data, best);
	} else {
		bg_diag_error(l->d, &name->loc, "profile '%s' not found in %s", name->str,
				where.data);
	}
	bg_buf_release(&where);
	free(best);
out:
	free(local);
	return root;
}

struct site_src {
	char *name;     /* from the file name; NULL for site.conf until bound */
	char *display;  /* "sites/shop.conf" */
	struct cfg__node *root;
	bool ok_name;
};

static void site_check_name(struct loader *l, struct site_src *src)
{
	const struct cfg__node *site = cfg__map_get(src->root, "site");
	if (!src->name || !src->ok_name || !is_str(site) || !cfg_name_valid(site->str)) {
		return; /* validation reported a bad or missing `site:` */
	}
	if (strcmp(site->str, src->name) != 0) {
		bg_diag_error(l->d, &site->loc, "site '%s' does not match its file name %s "
				"(expected 'site: %s')", site->str, src->display, src->name);
	}
}

static void load_sites_dir(struct loader *l, const char *sdir, struct site_src **out,
		size_t *n_out)
{
	struct dirent **list = NULL;
	int k = scandir(sdir, &list, NULL, alphasort);
	struct site_src *v = NULL;
	size_t n = 0;

	for (int i = 0; i < k; i++) {
		const char *fn = list[i]->d_name;
		if (fn[0] == '.') {
			continue;
		}
		char *display = bg_xasprintf("sites/%s", fn);
		if (!bg_str_has_suffix(fn, ".conf")) {
			if (bg_str_has_suffix(fn, ".yaml") || bg_str_has_suffix(fn, ".yml")) {
				struct bg_loc loc = {.file = cfg__pool_intern(l->pool, display)};
				bg_diag_warn(l->d, &loc, "ignored: site files are named sites/NAME.conf");
			}
			free(display);
			continue;
		}
		if (n >= CFG_MAX_SITES) {
			file_error(l, display, "too many sites (the limit is %d)", CFG_MAX_SITES);
			free(display);
			break;
		}
		char *name = bg_xstrndup(fn, strlen(fn) - 5);
		bool found;
		v = bg_xreallocarray(v, n + 1, sizeof(*v));
		struct site_src *s = &v[n++];
		memset(s, 0, sizeof(*s));
		s->display = display;
		s->name = name;
		s->ok_name = cfg_name_valid(name);
		if (!s->ok_name) {
			char *q = cfg__quote(name);
			file_error(l, display, "'%s' is not a valid site name: a site file is "
					"sites/NAME.conf, NAME made of lowercase letters, digits and "
					"'-' (at most 40)", q);
			free(q);
		}
		l->site_name = s->ok_name ? name : NULL;
		s->root = load_file(l, l->c->dir, display, display, CFG__SITE, &found);
		l->site_name = NULL;
		if (!found) {
			file_error(l, display, "cannot read '%s/%s'", l->c->dir, display);
		}
	}
	for (int i = 0; i < k; i++) {
		free(list[i]);
	}
	free(list);
	*out = v;
	*n_out = n;
}

/* Host names are unique across sites (domains and previews alike). */
struct host_ref {
	const char *host;
	size_t site;
	struct bg_loc loc;
};

static int host_cmp(const void *a, const void *b)
{
	const struct host_ref *x = a, *y = b;
	int r = strcmp(x->host, y->host);
	if (r) {
		return r;
	}
	return x->site < y->site ? -1 : x->site > y->site;
}

static void check_hosts(struct loader *l)
{
	struct cfg *c = l->c;
	struct host_ref *refs = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < c->n_sites; i++) {
		const struct cfg__node *root = c->prov->sites[i];
		const struct cfg__node *dom = cfg__map_get(root, "domains");
		const struct cfg__node *pre = cfg__map_get(root, "preview");
		for (size_t j = 0; dom && dom->kind == CFG__SEQ && j <= dom->n_items; j++) {
			const struct cfg__node *h = j < dom->n_items ? dom->items[j] : pre;
			if (!is_str(h) || !cfg__hostname_valid(h->str)) {
				continue;
			}
			BG_GROW(refs, cap, n + 1);
			refs[n].host = h->str;
			refs[n].site = i;
			refs[n].loc = h->loc;
			n++;
		}
	}
	if (n > 1) {
		qsort(refs, n, sizeof(*refs), host_cmp);
	}
	for (size_t i = 1; i < n; i++) {
		const struct host_ref *a = &refs[i - 1], *b = &refs[i];
		if (strcmp(a->host, b->host) != 0 || a->site == b->site) {
			continue;
		}
		/* Report each later claim against the first one. */
		size_t first = i - 1;
		while (first > 0 && strcmp(refs[first - 1].host, b->host) == 0) {
			first--;
		}
		const struct host_ref *f = &refs[first];
		bg_diag_error(l->d, &b->loc, "host '%s' is already used by site '%s' (%s:%u:%u)",
				b->host, c->sites[f->site].name, f->loc.file, f->loc.line, f->loc.col);
	}
	free(refs);
}

/* The loc of root's key path a.b (the value node), else fallback. */
static struct bg_loc key_loc(const struct cfg__node *root, const char *a, const char *b,
		struct bg_loc fallback)
{
	const struct cfg__node *n = cfg__map_get(root, a);
	if (n && b) {
		const struct cfg__node *m = cfg__map_get(n, b);
		n = m ? m : n;
	}
	return n ? n->loc : fallback;
}

/*
 * The edge keys of a site that depend on each other or on global.conf
 * (ADR 0015): a files certificate names both files, auto needs an ACME
 * contact (nginx) or a certresolver (traefik), redirect_to is one of the
 * domains, preview_auth is complete and has a preview host to protect.
 */
static void site_edge_requirements(struct loader *l, size_t i)
{
	const struct cfg_site *s = &l->c->sites[i];
	const struct cfg__node *root = l->c->prov->sites[i];
	const struct cfg_global *g = &l->c->g;
	struct bg_loc tls = key_loc(root, "tls", "mode", s->loc);

	if (!is_map(root)) {
		return;
	}
	const struct cfg__node *tn = cfg__map_get(root, "tls");
	bool has_cert = cfg__map_get(tn, "cert") != NULL, has_key = cfg__map_get(tn, "key") != NULL;
	/* Present but invalid was reported where it is written. */
	if (s->tls.mode == CFG_TLS_FILES && (!has_cert || !has_key)) {
		bg_diag_error(l->d, &tls, "tls.mode files needs tls.cert and tls.key");
	}
	if (s->tls.mode == CFG_TLS_AUTO && g->edge_kind == CFG_EDGE_NGINX && !g->acme.email) {
		bg_diag_error(l->d, &tls, "tls.mode auto needs acme.email in global.conf "
				"(the ACME account's contact)");
	}
	if (s->tls.mode == CFG_TLS_AUTO && g->edge_kind == CFG_EDGE_TRAEFIK &&
			!g->traefik.certresolver) {
		bg_diag_error(l->d, &tls, "tls.mode auto needs edge.traefik.certresolver in "
				"global.conf (Traefik requests the certificate)");
	}
	if (s->tls.mode != CFG_TLS_FILES && (s->tls.cert || s->tls.key)) {
		bg_diag_error(l->d, &tls, "tls.cert and tls.key are only used with tls.mode files");
	}
	if (s->redirect_to && !bg_strv_contains(&s->domains, s->redirect_to)) {
		struct bg_loc at = key_loc(root, "redirect_to", NULL, s->loc);
		bg_diag_error(l->d, &at, "redirect_to '%s' must be one of the site's domains",
				s->redirect_to);
	}
	if (!s->preview_auth.user != !s->preview_auth.password_file) {
		struct bg_loc at = key_loc(root, "preview_auth", NULL, s->loc);
		bg_diag_error(l->d, &at, "preview_auth needs both user and password_file");
	} else if (s->preview_auth.user && !s->preview) {
		struct bg_loc at = key_loc(root, "preview_auth", NULL, s->loc);
		bg_diag_error(l->d, &at, "preview_auth is set but the site has no preview host");
	}
}

/* A preset's argv (ADR 0016): run in the service's container as its
 * default user (root in the official and Debian images, whose local
 * socket authentication lets root in without a password). */
static void backup_preset_argv(struct cfg_service_backup *b)
{
	static const char *const mariadb[] = {"mariadb-dump", "--all-databases",
		"--single-transaction", "--routines", "--events", "--hex-blob", NULL};
	static const char *const mysql[] = {"mysqldump", "--all-databases",
		"--single-transaction", "--routines", "--events", "--hex-blob", NULL};
	static const char *const pg[] = {"pg_dumpall", "--clean", "--if-exists", "-U",
		"postgres", NULL};
	static const char *const mariadb_r[] = {"mariadb", NULL};
	static const char *const mysql_r[] = {"mysql", NULL};
	static const char *const pg_r[] = {"psql", "-q", "-v", "ON_ERROR_STOP=1", "-U",
		"postgres", "-d", "postgres", NULL};
	const char *const *c = NULL, *const *r = NULL;

	switch (b->preset) {
	case CFG_BACKUP_MARIADB: c = mariadb; r = mariadb_r; break;
	case CFG_BACKUP_MYSQL: c = mysql; r = mysql_r; break;
	case CFG_BACKUP_POSTGRES: c = pg; r = pg_r; break;
	default: return;
	}
	for (; *c; c++) {
		bg_strv_push(&b->command, *c);
	}
	for (; *r; r++) {
		bg_strv_push(&b->restore, *r);
	}
}

/*
 * backup:, health: and resources: keys that depend on each other or on
 * install_mode (ADR 0016): a dump needs both its command and its restore
 * (or a preset, not both), a service's health is a TCP port or a command,
 * before_switch defaults to production, sizes become bytes.
 */
static void site_service_requirements(struct loader *l, size_t i)
{
	struct cfg_site *s = &l->c->sites[i];
	const struct cfg__node *root = l->c->prov->sites[i];
	const struct cfg__node *svcs = cfg__map_get(root, "services");

	if (!is_map(root)) {
		return;
	}
	if (!cfg__map_get(cfg__map_get(root, "backup"), "before_switch")) {
		s->backup.before_switch = l->c->g.install_mode == CFG_MODE_PRODUCTION;
	}
	s->resources.memory_bytes = cfg_size_bytes(s->resources.memory);
	s->resources.nano_cpus = s->resources.cpus ? cfg_cpus_nano(s->resources.cpus) : 0;
	for (size_t j = 0; j < s->n_services; j++) {
		struct cfg_service *v = &s->services[j];
		const struct cfg__node *vn = cfg__map_get(svcs, v->name);
		struct bg_loc bl = key_loc(vn, "backup", NULL, v->loc);
		struct bg_loc hl = key_loc(vn, "health", NULL, v->loc);
		v->backup.loc = bl;
		v->resources.memory_bytes = cfg_size_bytes(v->resources.memory);
		v->resources.nano_cpus = v->resources.cpus ? cfg_cpus_nano(v->resources.cpus) : 0;
		if (v->backup.preset != CFG_BACKUP_CUSTOM &&
				(v->backup.command.n || v->backup.restore.n)) {
			bg_diag_error(l->d, &bl, "service %s: backup.preset and backup.command/"
					"restore cannot both be set", v->name);
		} else if (!v->backup.command.n != !v->backup.restore.n) {
			bg_diag_error(l->d, &bl, "service %s: backup needs both command (the dump) "
					"and restore (reads it back), or a preset", v->name);
		}
		backup_preset_argv(&v->backup);
		if (v->health.tcp && v->health.command.n) {
			bg_diag_error(l->d, &hl, "service %s: health is either tcp or command, "
					"not both", v->name);
		}
	}
}

static void global_requirements(struct loader *l, const struct cfg__node *groot,
		const struct cfg__node *merged)
{
	const struct cfg__node *edge = cfg__map_get(merged, "edge");
	const struct cfg__node *kind = cfg__map_get(edge, "kind");
	struct bg_loc loc = {.file = cfg__pool_intern(l->pool, "global.conf"), .line = 1, .col = 1};
	const struct cfg_global *g = &l->c->g;

	if (!is_map(groot)) {
		return; /* the file itself is broken; that was reported */
	}
	if (kind && !(is_str(kind) && (strcmp(kind->str, "traefik") == 0 ||
			strcmp(kind->str, "nginx") == 0))) {
		return;
	}
	loc = kind ? kind->loc : groot->loc;
	if (g->edge_kind == CFG_EDGE_TRAEFIK && !g->traefik.dynamic_dir) {
		bg_diag_error(l->d, &loc, "edge.traefik.dynamic_dir is required when edge.kind "
				"is traefik");
	}
	if (g->edge_kind == CFG_EDGE_NGINX && !g->nginx.conf_dir) {
		bg_diag_error(l->d, &loc, "edge.nginx.conf_dir is required when edge.kind is nginx");
	}
}

static void warn_modules(struct cfg__node *merged_modules, struct bg_diag *d)
{
	struct cfg__modset m = {0};
	cfg__modset_apply(&m, merged_modules, d);
	cfg__modset_warn(&m, d);
	cfg__modset_release(&m);
}

/* Order sites by name, their trees alongside. */
static void sort_sites(struct cfg *c)
{
	for (size_t i = 1; i < c->n_sites; i++) {
		for (size_t j = i; j > 0 && strcmp(c->sites[j - 1].name, c->sites[j].name) > 0; j--) {
			struct cfg_site t = c->sites[j];
			c->sites[j] = c->sites[j - 1];
			c->sites[j - 1] = t;
			struct cfg__node *tn = c->prov->sites[j];
			c->prov->sites[j] = c->prov->sites[j - 1];
			c->prov->sites[j - 1] = tn;
		}
	}
}

static void load_sites(struct loader *l, struct cfg__node *defaults)
{
	struct cfg *c = l->c;
	struct site_src *src = NULL;
	size_t n = 0;
	char *sdir = bg_xasprintf("%s/sites", c->dir);
	char *single = bg_xasprintf("%s/site.conf", c->dir);
	struct stat st;
	bool have_dir = !dir_is_link(l, "sites") && lstat(sdir, &st) == 0 && S_ISDIR(st.st_mode);
	bool have_single = lstat(single, &st) == 0;

	if (have_dir && have_single) {
		file_error(l, "site.conf", "site.conf and sites/ cannot both exist: move "
				"site.conf to sites/NAME.conf");
	}
	if (have_dir) {
		load_sites_dir(l, sdir, &src, &n);
	} else if (have_single) {
		bool found;
		src = bg_xcalloc(1, sizeof(*src));
		n = 1;
		src->display = bg_xstrdup("site.conf");
		src->ok_name = true;
		src->root = load_file(l, c->dir, "site.conf", "site.conf", CFG__SITE, &found);
	}
	c->sites = bg_xcalloc(n ? n : 1, sizeof(*c->sites));
	c->prov->sites = bg_xcalloc(n ? n : 1, sizeof(*c->prov->sites));
	for (size_t i = 0; i < n; i++) {
		struct site_src *s = &src[i];
		site_check_name(l, s);
		if (!s->ok_name || !is_map(s->root)) {
			continue;
		}
		struct cfg__node *merged = merge(l->arena, defaults, s->root, true);
		struct cfg_site *site = &c->sites[c->n_sites];
		c->prov->sites[c->n_sites] = merged;
		c->n_sites++;
		cfg__bind_site(site, merged, c->dir, &c->g);
		if (s->name) {
			free(site->name);
			site->name = bg_xstrdup(s->name);
		} else if (!site->name) {
			site->name = bg_xstrdup("site");
		}
		site->path = bg_xstrdup(s->display);
		cfg__plugins_resolve(&l->mod, site, merged); /* issue 16: plugin sets */
		/* A site of a kind that was not expanded has its error at `kind:`. */
		if (!cfg__map_get(merged, "port") && !cfg__map_get(merged, "kind")) {
			bg_diag_error(l->d, &s->root->loc, "missing required key 'port' (set it in "
					"%s or in site_defaults)", s->display);
		}
		cfg__env_with_file(&l->ef, &site->env, cfg__map_get(merged, "env_file"));
		cfg__password_file_read(&l->ef, cfg__map_get(cfg__map_get(merged, "preview_auth"),
				"password_file"), &site->preview_auth.password);
		const struct cfg__node *svcs = cfg__map_get(merged, "services");
		const struct cfg__pair **sorted = cfg__pairs_sorted(svcs);
		size_t np = is_map(svcs) ? svcs->n_pairs : 0;
		for (size_t j = 0; j < site->n_services; j++) {
			const struct cfg__pair *sp = cfg__pairs_find(sorted, np, site->services[j].name);
			cfg__env_with_file(&l->ef, &site->services[j].env,
					cfg__map_get(sp ? sp->val : NULL, "env_file"));
		}
		free(sorted);
		warn_modules(cfg__map_get(merged, "modules"), l->d);
	}
	for (size_t i = 0; i < n; i++) {
		free(src[i].name);
		free(src[i].display);
	}
	free(src);
	free(sdir);
	free(single);
	sort_sites(c);
	check_hosts(l);
	for (size_t i = 0; i < l->c->n_sites; i++) {
		site_edge_requirements(l, i);
		site_service_requirements(l, i);
		cfg__secrets_check(&c->g, &c->sites[i], c->prov->sites[i], l->d); /* issue 17 */
	}
}

int cfg_load(struct cfg **out, const char *dir, unsigned flags, struct bg_diag *d)
{
	struct cfg *c = bg_xcalloc(1, sizeof(*c));
	struct cfg__pool *pool = bg_xcalloc(1, sizeof(*pool));
	struct bg_diag ld;
	struct loader l = {.c = c, .pool = pool, .d = &ld, .ef = {.c = c, .pool = pool, .d = &ld}};
	struct cfg__node *groot = NULL, *proot = NULL;
	bool found = false;
	int err = 0;

	*out = NULL;
	bg_diag_init(&ld);
	ld.max_items = CFG_MAX_DIAGS;
	c->pool = pool;
	c->prov = bg_xcalloc(1, sizeof(*c->prov));
	l.arena = &c->prov->arena;
	c->secrets_unread = l.ef.no_secrets = (flags & CFG_LOAD_NO_SECRETS) != 0;

	c->dir = realpath(dir, NULL);
	if (!c->dir) {
		bg_diag_error(&ld, NULL, "cannot use config directory '%s': %s", dir,
				strerror(errno));
		c->dir = bg_xstrdup(dir);
		cfg__bind_global(&c->g, NULL, c->dir);
		c->sites = bg_xcalloc(1, sizeof(*c->sites));
		c->prov->sites = bg_xcalloc(1, sizeof(*c->prov->sites));
		goto out;
	}
	char *gpath = bg_xasprintf("%s/global.conf", c->dir);
	groot = load_file(&l, NULL, gpath, "global.conf", CFG__GLOBAL, &found);
	free(gpath);
	if (!found) {
		file_error(&l, "global.conf", "not found in %s: every config directory needs one",
				c->dir);
	}
	const struct cfg__node *pname = cfg__map_get(groot, "profile");
	if (is_str(pname) && cfg_name_valid(pname->str)) {
		proot = load_profile(&l, pname);
	}
	/*
	 * install_mode and profile cannot come from a profile (validation
	 * refused them there), so the merged tree can be bound as is.
	 */
	struct cfg__node *gmerged = merge(l.arena, is_map(proot) ? proot : NULL,
			is_map(groot) ? groot : NULL, true);
	c->prov->global = gmerged;
	cfg__bind_global(&c->g, gmerged, c->dir);
	global_requirements(&l, groot, gmerged);
	cfg__secrets_dir_check(&l.ef, gmerged);
	warn_modules(cfg__map_get(gmerged, "modules"), &ld);

	struct cfg__node *pdef = cfg__map_get(is_map(proot) ? proot : NULL, "site_defaults");
	struct cfg__node *gdef = cfg__map_get(is_map(groot) ? groot : NULL, "site_defaults");
	struct cfg__node *defaults = merge(l.arena, is_map(pdef) ? pdef : NULL,
			is_map(gdef) ? gdef : NULL, true);
	l.mod = (struct cfg__modctx){.arena = l.arena, .pool = pool, .d = &ld,
		.global_modules = &c->g.modules, .defaults = defaults, .state_dir = c->g.state_dir,
		.no_secrets = c->secrets_unread};
	load_sites(&l, defaults);

out:
	err = bg_diag_has_errors(&ld) ? BG_ECONFIG : 0;
	diag_finish(&ld, d);
	bg_diag_release(&ld);
	if (err && !(flags & CFG_LOAD_PARTIAL)) {
		cfg_destroy(c);
		return err;
	}
	*out = c;
	return err;
}
