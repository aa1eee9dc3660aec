/*
 * cfg-plugins: the plugin sets of a wordpress site (issue 16,
 * docs/modules.md). A set is a manifest, modules/MODULE/plugins.conf
 * (wp-plugins-standard: `standard`, landing: `landing`), listing each
 * plugin by slug, exact version, the sha256 of its zip, licence, what it
 * is for and why it is in the set. At load, a site that installs plugins
 * (wordpress.plugins, wordpress.add_plugins) gets its list resolved here:
 * the set's module must be on, every slug must be in a manifest or pinned
 * by the operator in wordpress.allow_plugins, and every plugin needs a
 * sha256 (a manifest entry written `unpinned` is refused, failing closed).
 * The result is an ordinary image reference: the colour's image becomes
 * bluegreen-plugins/SITE:HASH16, where HASH16 covers the base image, the
 * plugins directory and every (slug, version, sha256). The planner builds
 * that image when it is missing (reconcilers/rec-plugins.c), so the token
 * covers the set, a new set is a new colour, and a rollback runs the
 * previous colour's image with the previous set exactly.
 */
#include "bg.h"
#include "bg-fs.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <openssl/evp.h>

const char *const cfg__plugins_none[] = {NULL};

#define DEFAULT_SOURCE "https://downloads.wordpress.org/plugin/${slug}.${version}.zip"

/* The sets: wordpress.plugins value, module, manifest directory. */
static const struct {
	const char *set;
	const char *module;
} sets[] = {
	{"standard", "wp-plugins-standard"},
	{"landing", "landing"},
};

bool cfg__plugin_slug_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 100 && s[0] != '-' && s[0] != '.' &&
		strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n && !strstr(s, "..");
}

static bool version_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 64 && strspn(s, "0123456789.abcdefghijklmnopqrstuvwxyz-+") == n;
}

static bool hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* "SLUG@VERSION sha256:HEX" into new strings (any may be NULL). */
static bool pin_split(const char *s, char **slug, char **version, char **sha)
{
	const char *at = strchr(s, '@');
	const char *sp = at ? strchr(at, ' ') : NULL;
	if (!at || !sp || !bg_str_has_prefix(sp + 1, "sha256:")) {
		return false;
	}
	char *a = bg_xstrndup(s, (size_t)(at - s));
	char *b = bg_xstrndup(at + 1, (size_t)(sp - at - 1));
	const char *h = sp + 1 + strlen("sha256:");
	bool ok = cfg__plugin_slug_valid(a) && version_ok(b) && hex64(h);
	if (ok && slug) {
		*slug = a;
		a = NULL;
	}
	if (ok && version) {
		*version = b;
		b = NULL;
	}
	if (ok && sha) {
		*sha = bg_xstrdup(h);
	}
	free(a);
	free(b);
	return ok;
}

bool cfg__plugin_pin_valid(const char *s)
{
	return pin_split(s, NULL, NULL, NULL);
}

bool cfg__plugin_source_valid(const char *s)
{
	return (bg_str_has_prefix(s, "https://") || bg_str_has_prefix(s, "http://") ||
			bg_str_has_prefix(s, "file:///")) && strlen(s) <= 1024 &&
		!strpbrk(s, " \t\r\n\"'\\") && strstr(s, "${slug}");
}

void cfg__plugins_site_release(struct cfg_wordpress *w)
{
	bg_strv_release(&w->add_plugins);
	bg_strv_release(&w->allow_plugins);
	free(w->plugin_source);
	free(w->base_image);
	for (size_t i = 0; i < w->n_plugins; i++) {
		struct cfg_plugin *p = &w->plugin_list[i];
		free(p->slug);
		free(p->version);
		free(p->sha256);
		free(p->url);
		free(p->from);
	}
	free(w->plugin_list);
	free(w->plugin_hash);
	w->plugin_source = w->base_image = w->plugin_hash = NULL;
	w->plugin_list = NULL;
	w->n_plugins = 0;
}

/* The manifest of sets[i] (loaded once per configuration load), or NULL. */
static const struct cfg__node *manifest_get(struct cfg__modctx *m, size_t i,
		const struct bg_loc *at, bool report)
{
	if (m->plugin_sets_tried[i]) {
		return m->plugin_sets[i];
	}
	m->plugin_sets_tried[i] = true;
	char *path = bg_xasprintf("%s/%s/plugins.conf", cfg__modules_dir(), sets[i].module);
	const char *file = cfg__pool_intern(m->pool, path);
	char *data = NULL;
	size_t len = 0;
	const char *why = NULL;
	struct cfg__node *root = NULL;
	int err = bg_file_read_safe(NULL, path, CFG_MAX_FILE_BYTES, &data, &len, NULL, &why);
	if (err) {
		if (report) {
			bg_diag_error(m->d, at, "plugin set %s: cannot read %s: %s", sets[i].set,
					file, why ? why : bg_strerror(err));
		}
	} else if (cfg__parse(m->arena, file, data, len, &root, m->d) == 0 && root &&
			root->kind == CFG__MAP && cfg__map_get(root, "plugins") &&
			cfg__map_get(root, "plugins")->kind == CFG__SEQ) {
		m->plugin_sets[i] = root;
	} else {
		struct bg_loc fl = {.file = file, .line = 1, .col = 1};
		bg_diag_error(m->d, &fl, "plugin set %s: plugins.conf has no `plugins:` list",
				sets[i].set);
	}
	free(data);
	free(path);
	return m->plugin_sets[i];
}

static const char *str_of(const struct cfg__node *map, const char *key)
{
	const struct cfg__node *v = cfg__map_get(map, key);
	return v && v->kind == CFG__SCALAR && v->str[0] ? v->str : NULL;
}

/* The entry of slug in manifest man, or NULL. */
static const struct cfg__node *manifest_entry(const struct cfg__node *man, const char *slug)
{
	const struct cfg__node *list = man ? cfg__map_get(man, "plugins") : NULL;
	for (size_t i = 0; list && i < list->n_items; i++) {
		const char *s = str_of(list->items[i], "slug");
		if (s && strcmp(s, slug) == 0) {
			return list->items[i];
		}
	}
	return NULL;
}

/* The URL of slug@version from a template (${slug}, ${version}), new string. */
static char *url_fill(const char *tmpl, const char *slug, const char *version)
{
	struct bg_buf b = BG_BUF_INIT;
	for (const char *p = tmpl; *p;) {
		if (bg_str_has_prefix(p, "${slug}")) {
			bg_buf_adds(&b, slug);
			p += strlen("${slug}");
		} else if (bg_str_has_prefix(p, "${version}")) {
			bg_buf_adds(&b, version);
			p += strlen("${version}");
		} else {
			bg_buf_add(&b, p++, 1);
		}
	}
	return bg_buf_detach(&b, NULL);
}

struct resolve {
	struct cfg__modctx *m;
	struct cfg_site *site;
	const struct cfg__node *wp;   /* the site's merged `wordpress:` */
	const struct bg_loc *at;      /* wordpress.plugins, else wordpress: */
	bool failed;
};

static bool have(const struct cfg_wordpress *w, const char *slug)
{
	for (size_t i = 0; i < w->n_plugins; i++) {
		if (strcmp(w->plugin_list[i].slug, slug) == 0) {
			return true;
		}
	}
	return false;
}

static void push(struct cfg_wordpress *w, char *slug, char *version, char *sha, char *url,
		const char *from)
{
	w->plugin_list = bg_xrealloc(w->plugin_list, (w->n_plugins + 1) * sizeof(*w->plugin_list));
	w->plugin_list[w->n_plugins++] = (struct cfg_plugin){.slug = slug, .version = version,
		.sha256 = sha, .url = url, .from = bg_xstrdup(from)};
}

/* The operator's own pin of slug, or false. */
static bool add_pinned(struct resolve *r, const char *slug)
{
	struct cfg_wordpress *w = &r->site->wordpress;
	for (size_t i = 0; i < w->allow_plugins.n; i++) {
		char *s = NULL, *v = NULL, *h = NULL;
		if (pin_split(w->allow_plugins.v[i], &s, &v, &h) && strcmp(s, slug) == 0) {
			const char *tmpl = w->plugin_source ? w->plugin_source : DEFAULT_SOURCE;
			push(w, s, v, h, url_fill(tmpl, s, v), "allow_plugins");
			return true;
		}
		free(s);
		free(v);
		free(h);
	}
	return false;
}

/* A manifest entry e of set i: checked, then added (or a located error). */
static void add_entry(struct resolve *r, size_t i, const struct cfg__node *e)
{
	struct cfg_wordpress *w = &r->site->wordpress;
	const char *slug = str_of(e, "slug"), *version = str_of(e, "version");
	const char *sha = str_of(e, "sha256");
	if (!slug || !cfg__plugin_slug_valid(slug) || !version || !version_ok(version) ||
			!str_of(e, "licence") || !str_of(e, "for") || !str_of(e, "why")) {
		bg_diag_error(r->m->d, &e->loc, "plugin set %s: an entry needs slug, an exact "
				"version, sha256, licence, for and why (docs/modules.md)", sets[i].set);
		r->failed = true;
		return;
	}
	if (add_pinned(r, slug)) {
		return; /* the operator's pin wins: it can pin an unpinned entry */
	}
	if (!sha || !hex64(sha)) {
		const struct cfg__node *sn = cfg__map_get(e, "sha256");
		bg_diag_error(r->m->d, sn ? &sn->loc : &e->loc, "plugin %s has no sha256 in the "
				"manifest (%s): pin it or mirror it (or pin it for this site in "
				"wordpress.allow_plugins as \"%s@%s sha256:HEX\"); %s asks for it",
				slug, sha ? sha : "none", slug, version, r->site->path);
		r->failed = true;
		return;
	}
	const char *tmpl = w->plugin_source ? w->plugin_source
		: str_of(r->m->plugin_sets[i], "source") ? str_of(r->m->plugin_sets[i], "source")
		: DEFAULT_SOURCE;
	push(w, bg_xstrdup(slug), bg_xstrdup(version), bg_xstrdup(sha),
			url_fill(tmpl, slug, version), sets[i].set);
}

/* The whole set named by wordpress.plugins. */
static void add_set(struct resolve *r, const char *set)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(sets); i++) {
		if (strcmp(sets[i].set, set) != 0) {
			continue;
		}
		if (!(r->m->global_modules && bg_strv_contains(r->m->global_modules,
				sets[i].module)) && !bg_strv_contains(&r->site->modules,
				sets[i].module)) {
			bg_diag_error(r->m->d, r->at, "wordpress.plugins '%s' needs module '%s', "
					"which is not enabled: add `modules: [%s]` to global.conf "
					"(or list it in this site's modules)", set, sets[i].module,
					sets[i].module);
			r->failed = true;
			return;
		}
		const struct cfg__node *man = manifest_get(r->m, i, r->at, true);
		const struct cfg__node *list = man ? cfg__map_get(man, "plugins") : NULL;
		for (size_t k = 0; list && k < list->n_items; k++) {
			add_entry(r, i, list->items[k]);
		}
		if (!man) {
			r->failed = true;
		}
	}
}

/* One slug of add_plugins: a pin, else any manifest, else refused. */
static void add_one(struct resolve *r, const char *slug, const struct bg_loc *at)
{
	if (have(&r->site->wordpress, slug) || add_pinned(r, slug)) {
		return;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(sets); i++) {
		const struct cfg__node *e = manifest_entry(manifest_get(r->m, i, at, false), slug);
		if (e) {
			add_entry(r, i, e);
			return;
		}
	}
	bg_diag_error(r->m->d, at, "plugin '%s' is not in the plugin manifests (standard, "
			"landing): refused; to install it anyway, pin it in "
			"wordpress.allow_plugins as \"%s@VERSION sha256:HEX\"", slug, slug);
	r->failed = true;
}

static int plugin_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_plugin *)a)->slug, ((const struct cfg_plugin *)b)->slug);
}

/* HASH16 of the derived image: base, directory and every pin. */
static char *set_hash(const struct cfg_site *s)
{
	struct bg_buf b = BG_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	bg_buf_addf(&b, "bluegreen-plugins 1\nbase %s\ndir %s\n", s->image, CFG_WP_PLUGINS_DIR);
	for (size_t i = 0; i < s->wordpress.n_plugins; i++) {
		const struct cfg_plugin *p = &s->wordpress.plugin_list[i];
		bg_buf_addf(&b, "%s %s %s\n", p->slug, p->version, p->sha256);
	}
	EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL);
	bg_buf_release(&b);
	char *hex = bg_xcalloc(1, 2 * n + 1);
	for (unsigned int i = 0; i < n; i++) {
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	}
	return hex;
}

void cfg__plugins_resolve(struct cfg__modctx *m, struct cfg_site *site,
		const struct cfg__node *merged)
{
	struct cfg_wordpress *w = &site->wordpress;
	const char *set = w->plugins && strcmp(w->plugins, "none") != 0 ? w->plugins : NULL;
	if (!site->kind || strcmp(site->kind, "wordpress") != 0 || !site->image ||
			(!set && w->add_plugins.n == 0)) {
		return;
	}
	const struct cfg__node *wp = cfg__map_get(merged, "wordpress");
	const struct cfg__node *pn = cfg__map_get(wp, "plugins");
	struct resolve r = {.m = m, .site = site, .wp = wp,
		.at = pn ? &pn->loc : wp ? &wp->loc : &site->loc};
	if (set) {
		add_set(&r, set);
	}
	const struct cfg__node *adds = cfg__map_get(wp, "add_plugins");
	for (size_t i = 0; i < w->add_plugins.n; i++) {
		const struct cfg__node *it = adds && adds->kind == CFG__SEQ && i < adds->n_items
			? adds->items[i] : NULL;
		add_one(&r, w->add_plugins.v[i], it ? &it->loc : r.at);
	}
	if (r.failed || w->n_plugins == 0) {
		return;
	}
	qsort(w->plugin_list, w->n_plugins, sizeof(*w->plugin_list), plugin_cmp);
	w->plugin_hash = set_hash(site);
	w->base_image = site->image;
	site->image = bg_xasprintf("bluegreen-plugins/%s:%.16s", site->name, w->plugin_hash);
}
