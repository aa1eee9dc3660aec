/*
 * cfg-module: modules expand configuration (docs/modules.md, the ADR
 * "Modules expand config"). A module is a directory modules/NAME/ whose
 * module.conf says which site kinds it contributes, the defaults of its
 * own key (`wordpress:`), the secrets it generates and the site keys a
 * site of its kind expands to. When a site file says `kind: K`, the
 * loader calls cfg__module_expand before checking the file: the
 * manifest's `expand` tree, with its ${...} references filled in, is laid
 * under the site file, so the result is an ordinary site (colours,
 * services, volumes, health, edge, backup preset) that the same
 * validator, binder, desired state and planner handle. Nothing past the
 * loader asks which module is on. Every expanded node keeps the place it
 * came from (the manifest's line, or the site file's value it was made
 * from), so `validate --explain` says where each value came from.
 *
 * Generated secrets (a database password) live in
 * STATE_DIR/modules/MODULE/SITE.env: created once with O_EXCL, mode 0600,
 * read without following links, never printed (their env keys match the
 * redaction globs, so plans and --explain show <redacted>).
 */
#include "bg.h"
#include "bg-fs.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef BG_MODULES_DATADIR
#define BG_MODULES_DATADIR "/usr/share/bluegreen/modules"
#endif

#define SECRET_MAX 4096

/* The modules this build implements, and the site kinds each contributes. */
static const struct {
	const char *name;
	const char *kind;
} built[] = {
	{"wordpress", "wordpress"},
	/* Plugin sets (cfg-plugins.c): no kind of their own, they serve
	 * `wordpress.plugins` of a wordpress site. */
	{"wp-plugins-standard", NULL},
	{"landing", NULL},
};

bool cfg__module_is_built(const char *name)
{
	for (size_t i = 0; name && i < BG_ARRAY_SIZE(built); i++) {
		if (strcmp(built[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

static const char *module_of_kind(const char *kind)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(built); i++) {
		if (built[i].kind && strcmp(built[i].kind, kind) == 0) {
			return built[i].name;
		}
	}
	return NULL;
}

const char *cfg__modules_dir(void)
{
	const char *env = getenv("BLUEGREEN_MODULES_DIR");
	if (env && *env) {
		return env;
	}
#ifdef BG_MODULES_SRCDIR
	if (cfg__from_build_tree()) {
		return BG_MODULES_SRCDIR; /* the source tree's modules, as for profiles */
	}
#endif
	return BG_MODULES_DATADIR;
}

/* ---- the `wordpress:` key of a site ---- */

static bool version_valid(const char *s)
{
	return s[0] && strlen(s) <= 64 && strspn(s, "0123456789.abcdefghijklmnopqrstuvwxyz-") ==
			strlen(s);
}

static bool image_ref_ok(const char *s)
{
	/* The full check is the expanded `image:`'s (cfg-keys.c): here, no space. */
	return s[0] && strlen(s) <= 512 && !strpbrk(s, " \t\"'$");
}

static const char *const plugin_sets[] = {"none", "standard", "landing", NULL};

/* The first install's keys (issue 16). */
static const char *const install_modes[] = {"auto", "wizard", NULL};

static bool text_ok(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			return false;
		}
	}
	return n >= 1 && n <= 200;
}

static bool admin_user_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 60 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789._@-") == n;
}

static bool email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);
	return n >= 3 && n <= 100 && at && at != s && at[1] && !strchr(at + 1, '@') &&
			strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789._@+-") == n;
}

#define W(field) offsetof(struct cfg_site, wordpress.field)
const struct cfg__key cfg__wordpress_keys[] = {
	{.name = "version", .type = K_STR, .flags = F_NUMBER_OK, .off = W(version),
		.check = version_valid, .expect = "a WordPress version such as \"6.6\"",
		.doc = "WordPress version: the default image is wordpress:VERSION"},
	{.name = "image", .type = K_STR, .off = W(image), .check = image_ref_ok,
		.expect = "a docker image reference such as wordpress:6.6",
		.doc = "image of the WordPress colours (default: the official wordpress:VERSION)"},
	{.name = "db_image", .type = K_STR, .off = W(db_image), .check = image_ref_ok,
		.expect = "a docker image reference such as mariadb:11.4",
		.doc = "image of the MariaDB service (default: the official mariadb:11.4)"},
	{.name = "plugins", .type = K_ENUM, .flags = F_ENUM_STR, .off = W(plugins),
		.defs = plugin_sets, .def = "none",
		.doc = "pinned plugin set installed into each new colour: standard (module "
		       "wp-plugins-standard) or landing (module landing)"},
	/* The first install (rec-wordpress.c, issue 16). */
	{.name = "install", .type = K_ENUM, .flags = F_ENUM_STR, .off = W(install),
		.defs = install_modes, .def = "auto",
		.doc = "auto: the first apply runs the WordPress installer (admin password "
		       "generated, shown once); wizard: the operator runs it"},
	{.name = "title", .type = K_STR, .off = W(title), .check = text_ok,
		.expect = "a site title (1 to 200 characters, one line)",
		.doc = "site title for the install (default: the site's name)"},
	{.name = "admin_user", .type = K_STR, .off = W(admin_user), .check = admin_user_ok,
		.expect = "a WordPress user name (letters, digits, . _ @ -; 1 to 60)",
		.doc = "administrator's user name for the install (default: admin)"},
	{.name = "admin_email", .type = K_STR, .off = W(admin_email), .check = email_ok,
		.expect = "an e-mail address such as admin@example.com",
		.doc = "administrator's e-mail for the install (default: admin@ the first domain)"},
	/* Plugin sets (issue 16): checked and resolved by cfg-plugins.c. */
	{.name = "add_plugins", .type = K_STRLIST, .off = W(add_plugins),
		.defs = cfg__plugins_none, .check = cfg__plugin_slug_valid,
		.expect = "a plugin slug such as contact-form-7",
		.doc = "plugins installed beyond the set: each must be in a manifest "
		       "(modules/*/plugins.conf) or in allow_plugins"},
	{.name = "allow_plugins", .type = K_STRLIST, .off = W(allow_plugins),
		.defs = cfg__plugins_none, .check = cfg__plugin_pin_valid,
		.expect = "a pin such as \"my-plugin@1.2.0 sha256:<64 hex digits>\"",
		.doc = "the operator's own pins: a plugin outside the manifests, or a manifest "
		       "plugin pinned here, by exact version and the sha256 of its zip"},
	{.name = "plugin_source", .type = K_STR, .off = W(plugin_source),
		.check = cfg__plugin_source_valid,
		.expect = "a URL template such as https://mirror.example/${slug}.${version}.zip",
		.doc = "where plugin zips are downloaded (a mirror): http(s):// or file://, "
		       "${slug} and ${version} filled in (default: each manifest's source)"},
	{0},
};
#undef W

bool cfg__site_kind_valid(const char *s)
{
	return cfg_name_valid(s);
}

void cfg__module_site_release(struct cfg_site *s)
{
	if (!s) {
		return;
	}
	free(s->kind);
	free(s->wordpress.version);
	free(s->wordpress.image);
	free(s->wordpress.db_image);
	free(s->wordpress.plugins);
	free(s->wordpress.install);
	free(s->wordpress.title);
	free(s->wordpress.admin_user);
	free(s->wordpress.admin_email);
	cfg__plugins_site_release(&s->wordpress);
	s->kind = NULL;
	memset(&s->wordpress, 0, sizeof(s->wordpress));
}

/* ---- generated secrets ---- */

static void b64url(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
		v |= i + 2 < n ? in[i + 2] : 0;
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n) {
			out[o++] = tab[(v >> 6) & 63];
		}
		if (i + 2 < n) {
			out[o++] = tab[v & 63];
		}
	}
	out[o] = '\0';
}

/* Write a new secrets file: every name of names, 32 random bytes each. */
static int secrets_create(const char *path, const struct cfg__node *names, const char **why)
{
	struct bg_buf b = BG_BUF_INIT;
	uint8_t raw[32];
	char enc[64];
	int err = 0;

	bg_buf_adds(&b, "# generated by bluegreen once; never printed (docs/modules.md)\n");
	for (size_t i = 0; names && i < names->n_items; i++) {
		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			*why = "no random bytes";
			err = BG_ERRNO(EIO);
			goto out;
		}
		b64url(raw, sizeof(raw), enc);
		bg_buf_addf(&b, "%s=%s\n", names->items[i]->str, enc);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = BG_ERRNO(errno);
		*why = "cannot create it";
		goto out;
	}
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			err = BG_ERRNO(errno ? errno : EIO);
			*why = "cannot write it";
			break;
		}
		off += (size_t)w;
	}
	if (!err && fsync(fd) != 0) {
		err = BG_ERRNO(errno);
		*why = "cannot fsync it";
	}
	close(fd);
	if (err) {
		unlink(path);
	}
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(enc, sizeof(enc));
	if (b.len) {
		OPENSSL_cleanse(b.data, b.len);
	}
	bg_buf_release(&b);
	return err;
}

/* The directory STATE_DIR/modules/MODULE, 0700; *out a new string. */
static int secrets_dir(const char *state_dir, const char *module, char **out, const char **why)
{
	int err = bg_state_dir_ensure(state_dir);
	if (err) {
		*why = "the state directory cannot be used (bluegreen validate says why)";
		return err;
	}
	char *parent = bg_xasprintf("%s/modules", state_dir);
	char *dir = bg_xasprintf("%s/%s", parent, module);
	err = bg_mkdir_p(parent, 0700);
	if (!err) {
		err = bg_dir_trusted(parent, "module secrets directory", true, NULL);
	}
	if (!err) {
		err = bg_mkdir_p(dir, 0700);
	}
	free(parent);
	if (!err) {
		err = bg_dir_trusted(dir, "module secrets directory", true, NULL);
	}
	if (err) {
		*why = "its directory is not ours, is a link or is writable by others";
		free(dir);
		return err;
	}
	*out = dir;
	return 0;
}

/*
 * The secrets of module for site: read STATE_DIR/modules/MODULE/SITE.env,
 * creating it first (O_EXCL) when it does not exist. *data is the file
 * (KEY=VALUE lines), to be cleansed and freed by the caller.
 */
static int secrets_load(const char *state_dir, const char *module, const char *site,
		const struct cfg__node *names, char **data, char **path_out, const char **why)
{
	char *dir = NULL;
	struct stat st;
	int err = secrets_dir(state_dir, module, &dir, why);
	if (err) {
		return err;
	}
	char *name = bg_xasprintf("%s.env", site);
	*path_out = bg_xasprintf("%s/%s", dir, name);
	for (int attempt = 0; attempt < 2; attempt++) {
		err = bg_file_read_safe(dir, name, SECRET_MAX, data, NULL, &st, why);
		if (err != BG_ERRNO(ENOENT)) {
			break;
		}
		err = secrets_create(*path_out, names, why);
		if (err && err != BG_ERRNO(EEXIST)) {
			break;
		}
	}
	if (!err && (st.st_uid != geteuid() || (st.st_mode & 077))) {
		*why = "it must be ours and mode 0600 (chmod 600 it)";
		err = BG_EREFUSED;
	}
	if (err && *data) {
		OPENSSL_cleanse(*data, strlen(*data));
		free(*data);
		*data = NULL;
	}
	free(name);
	free(dir);
	return err;
}

/* The value of NAME=... in a secrets file, a new string, or NULL. */
static char *secrets_get(const char *data, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = data; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			return bg_xstrndup(p + nl + 1, len - nl - 1);
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/* ---- expansion ---- */

struct expand {
	struct cfg__modctx *m;
	const char *module;
	const char *site;
	const struct cfg__node *root;     /* the site file */
	const struct cfg__node *manifest; /* module.conf */
	const struct bg_loc *kind_loc;
	char *secrets;                    /* the secrets file's text, or NULL */
	bool secrets_tried, failed;
};

static struct cfg__node *scalar_new(struct cfg__arena *a, const char *s, const struct bg_loc *loc)
{
	struct cfg__node *n = cfg__node_new(a, CFG__SCALAR, loc);
	n->str = bg_xstrdup(s);
	n->len = strlen(s);
	n->plain = false; /* a string as written, never a number or a boolean */
	return n;
}

/* The node of a `wordpress.KEY` value: the site file's, else site_defaults'. */
static const struct cfg__node *site_value(const struct expand *e, const char *key)
{
	const struct cfg__node *v = cfg__map_get(cfg__map_get(e->root, e->module), key);
	if (!v) {
		v = cfg__map_get(cfg__map_get(e->m->defaults, e->module), key);
	}
	return v && v->kind == CFG__SCALAR ? v : NULL;
}

static char *fill(struct expand *e, const char *tmpl, const struct bg_loc *at,
		struct bg_loc *origin, unsigned depth);

static char *ref_secret(struct expand *e, const char *name)
{
	if (e->m->no_secrets) {
		return bg_xstrdup(""); /* CFG_LOAD_NO_SECRETS: the state directory is not touched */
	}
	if (!e->secrets_tried) {
		const char *why = NULL;
		char *path = NULL;
		e->secrets_tried = true;
		int err = secrets_load(e->m->state_dir, e->module, e->site,
				cfg__map_get(e->manifest, "secrets"), &e->secrets, &path, &why);
		if (err) {
			bg_diag_error(e->m->d, e->kind_loc, "kind %s: cannot keep the generated "
					"secrets in %s: %s", e->module, path ? path : e->m->state_dir,
					why ? why : bg_strerror(err));
			e->failed = true;
		}
		free(path);
	}
	char *v = e->secrets ? secrets_get(e->secrets, name) : NULL;
	if (!v && !e->failed) {
		bg_diag_error(e->m->d, e->kind_loc, "kind %s: the secrets file of site %s has "
				"no %s: remove the file to generate it again", e->module, e->site,
				name);
		e->failed = true;
	}
	return v;
}

static char *ref_hosts(struct expand *e)
{
	struct bg_buf b = BG_BUF_INIT;
	const struct cfg__node *doms = cfg__map_get(e->root, "domains");
	const struct cfg__node *pre = cfg__map_get(e->root, "preview");
	for (size_t i = 0; doms && doms->kind == CFG__SEQ && i < doms->n_items; i++) {
		if (cfg__is_string(doms->items[i])) {
			bg_buf_addf(&b, "%s%s", b.len ? "," : "", doms->items[i]->str);
		}
	}
	if (pre && cfg__is_string(pre)) {
		bg_buf_addf(&b, "%s%s", b.len ? "," : "", pre->str);
	}
	return bg_buf_detach(&b, NULL);
}

/*
 * One ${NAME}: a new string, or NULL (reported). *origin becomes the site
 * file's place when the value was written there.
 */
static char *ref_value(struct expand *e, const char *ref, const struct bg_loc *at,
		struct bg_loc *origin, unsigned depth)
{
	size_t ml = strlen(e->module);
	if (strcmp(ref, "site") == 0) {
		return bg_xstrdup(e->site);
	}
	if (strcmp(ref, "hosts") == 0) {
		return ref_hosts(e);
	}
	if (bg_str_has_prefix(ref, "secret.")) {
		return ref_secret(e, ref + 7);
	}
	if (strncmp(ref, e->module, ml) == 0 && ref[ml] == '.') {
		const char *key = ref + ml + 1;
		const struct cfg__node *v = site_value(e, key);
		if (v) {
			*origin = v->loc;
			return bg_xstrdup(v->str);
		}
		const struct cfg__node *d = cfg__map_get(cfg__map_get(e->manifest, "defaults"), key);
		if (d && d->kind == CFG__SCALAR) {
			return fill(e, d->str, &d->loc, origin, depth + 1);
		}
	}
	bg_diag_error(e->m->d, at, "unknown reference ${%s} in module %s", ref, e->module);
	e->failed = true;
	return NULL;
}

/* tmpl with every ${NAME} replaced; NULL after an error (reported). */
static char *fill(struct expand *e, const char *tmpl, const struct bg_loc *at,
		struct bg_loc *origin, unsigned depth)
{
	struct bg_buf b = BG_BUF_INIT;
	if (depth > 8) {
		bg_diag_error(e->m->d, at, "module %s: references nest too deep", e->module);
		e->failed = true;
		return NULL;
	}
	for (const char *p = tmpl; *p;) {
		const char *open = strstr(p, "${");
		const char *close = open ? strchr(open, '}') : NULL;
		if (!open || !close) {
			bg_buf_adds(&b, p);
			break;
		}
		bg_buf_add(&b, p, (size_t)(open - p));
		char *ref = bg_xstrndup(open + 2, (size_t)(close - open - 2));
		char *v = ref_value(e, ref, at, origin, depth);
		free(ref);
		if (!v) {
			bg_buf_release(&b);
			return NULL;
		}
		bg_buf_adds(&b, v);
		OPENSSL_cleanse(v, strlen(v));
		free(v);
		p = close + 1;
	}
	return bg_buf_detach(&b, NULL);
}

/* A copy of the manifest's tree n with its references filled in. */
static struct cfg__node *copy(struct expand *e, const struct cfg__node *n)
{
	struct cfg__arena *a = e->m->arena;
	if (n->kind == CFG__SCALAR) {
		if (!strstr(n->str, "${")) {
			return (struct cfg__node *)n; /* nodes are shared, never changed */
		}
		struct bg_loc origin = n->loc;
		char *s = fill(e, n->str, &n->loc, &origin, 0);
		struct cfg__node *c = scalar_new(a, s ? s : "", &origin);
		if (s) {
			OPENSSL_cleanse(s, strlen(s));
		}
		free(s);
		return c;
	}
	struct cfg__node *c = cfg__node_new(a, n->kind, &n->loc);
	for (size_t i = 0; i < n->n_items; i++) {
		cfg__seq_push(c, copy(e, n->items[i]));
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		cfg__map_push(c, n->pairs[i].key, copy(e, n->pairs[i].val));
	}
	return c;
}

/* hi over lo, mappings key by key (the site file over the expansion). */
static struct cfg__node *overlay(struct cfg__arena *a, struct cfg__node *lo,
		struct cfg__node *hi)
{
	if (!lo || lo->kind != CFG__MAP || hi->kind != CFG__MAP) {
		return hi;
	}
	struct cfg__node *m = cfg__node_new(a, CFG__MAP, &hi->loc);
	for (size_t i = 0; i < lo->n_pairs; i++) {
		const struct cfg__pair *hp = cfg__map_pair(hi, lo->pairs[i].key->str);
		cfg__map_push(m, lo->pairs[i].key, hp ? overlay(a, lo->pairs[i].val, hp->val)
				: lo->pairs[i].val);
	}
	for (size_t i = 0; i < hi->n_pairs; i++) {
		if (!cfg__map_pair(lo, hi->pairs[i].key->str)) {
			cfg__map_push(m, hi->pairs[i].key, hi->pairs[i].val);
		}
	}
	return m;
}

/* Is module enabled for this site: globally, in site_defaults or the file? */
static bool module_enabled(const struct cfg__modctx *m, const struct cfg__node *root,
		const char *module)
{
	struct cfg__modset set = {0};
	bool on = m->global_modules && bg_strv_contains(m->global_modules, module);
	cfg__modset_apply(&set, cfg__map_get(m->defaults, "modules"), NULL);
	cfg__modset_apply(&set, cfg__map_get(root, "modules"), NULL);
	on = on || bg_strv_contains(&set.names, module);
	cfg__modset_release(&set);
	return on;
}

/* The manifest of module (loaded once per configuration load). */
static const struct cfg__node *manifest_load(struct cfg__modctx *m, const char *module,
		const struct bg_loc *at)
{
	if (m->manifest_tried) {
		return m->manifest;
	}
	m->manifest_tried = true;
	char *path = bg_xasprintf("%s/%s/module.conf", cfg__modules_dir(), module);
	const char *file = cfg__pool_intern(m->pool, path);
	char *data = NULL;
	size_t len = 0;
	const char *why = NULL;
	int err = bg_file_read_safe(NULL, path, CFG_MAX_FILE_BYTES, &data, &len, NULL, &why);
	struct cfg__node *root = NULL;
	if (err) {
		bg_diag_error(m->d, at, "module %s is not installed: cannot read %s: %s", module,
				file, why ? why : bg_strerror(err));
	} else if (cfg__parse(m->arena, file, data, len, &root, m->d) == 0 && root &&
			root->kind == CFG__MAP && cfg__map_get(root, "expand")) {
		m->manifest = root;
	} else {
		struct bg_loc fl = {.file = file, .line = 1, .col = 1};
		bg_diag_error(m->d, &fl, "module %s: module.conf has no `expand:` mapping", module);
	}
	free(data);
	free(path);
	return m->manifest;
}

void cfg__module_expand(struct cfg__modctx *m, const char *site, struct cfg__node **root)
{
	const struct cfg__node *kind = cfg__map_get(*root, "kind");
	if (!kind || !cfg__is_string(kind) || !cfg__site_kind_valid(kind->str)) {
		return; /* none, or reported by the check of the `kind` row */
	}
	const char *module = module_of_kind(kind->str);
	if (!module) {
		bg_diag_error(m->d, &kind->loc, "unknown site kind '%s' (known: wordpress, from "
				"module wordpress)", kind->str);
		return;
	}
	if (!module_enabled(m, *root, module)) {
		bg_diag_error(m->d, &kind->loc, "kind %s needs module '%s', which is not enabled: "
				"add `modules: [%s]` to global.conf (or use `profile: wordpress`, or "
				"list it in this site's modules)", kind->str, module, module);
		return;
	}
	const struct cfg__node *site_node = cfg__map_get(*root, "site");
	if (!site && (!site_node || !cfg__is_string(site_node) || !cfg_name_valid(site_node->str))) {
		return; /* the check of `site:` says what is wrong */
	}
	const struct cfg__node *man = manifest_load(m, module, &kind->loc);
	if (!man) {
		return;
	}
	struct expand e = {.m = m, .module = module, .site = site ? site : site_node->str,
		.root = *root, .manifest = man, .kind_loc = &kind->loc};
	struct cfg__node *exp = copy(&e, cfg__map_get(man, "expand"));
	if (!e.failed) {
		*root = overlay(m->arena, exp, *root);
	}
	if (e.secrets) {
		OPENSSL_cleanse(e.secrets, strlen(e.secrets));
		free(e.secrets);
	}
}

/* ---- the `modules:` list (global, profile, site_defaults, site) ---- */

void cfg__modset_release(struct cfg__modset *m)
{
	if (!m) {
		return;
	}
	bg_strv_release(&m->names);
	free(m->locs);
	m->locs = NULL;
	m->cap_locs = 0;
}

void cfg__modset_apply(struct cfg__modset *m, const struct cfg__node *seq,
		struct bg_diag *d)
{
	if (!seq || seq->kind != CFG__SEQ) {
		return;
	}
	for (size_t i = 0; i < seq->n_items; i++) {
		const struct cfg__node *it = seq->items[i];
		if (!cfg__is_string(it) || !cfg__module_entry_known(it->str)) {
			continue;
		}
		bool remove = it->str[0] == '-';
		const char *name = remove ? it->str + 1 : it->str;
		size_t at = m->names.n;
		for (size_t j = 0; j < m->names.n; j++) {
			if (strcmp(m->names.v[j], name) == 0) {
				at = j;
			}
		}
		if (remove && at < m->names.n) {
			free(m->names.v[at]);
			memmove(&m->names.v[at], &m->names.v[at + 1],
					(m->names.n - at) * sizeof(*m->names.v));
			memmove(&m->locs[at], &m->locs[at + 1],
					(m->names.n - at - 1) * sizeof(*m->locs));
			m->names.n--;
		} else if (remove && d) {
			bg_diag_warn(d, &it->loc, "'-%s' has no effect: no lower layer enables "
					"module '%s'", name, name);
		} else if (!remove && at == m->names.n) {
			bg_strv_push(&m->names, name);
			BG_GROW(m->locs, m->cap_locs, m->names.n);
			m->locs[m->names.n - 1] = it->loc;
		}
	}
	/* Sorted, with locations following their names. */
	for (size_t i = 1; i < m->names.n; i++) {
		for (size_t j = i; j > 0 && strcmp(m->names.v[j - 1], m->names.v[j]) > 0; j--) {
			char *t = m->names.v[j];
			m->names.v[j] = m->names.v[j - 1];
			m->names.v[j - 1] = t;
			struct bg_loc l = m->locs[j];
			m->locs[j] = m->locs[j - 1];
			m->locs[j - 1] = l;
		}
	}
}

void cfg__modset_warn(const struct cfg__modset *m, struct bg_diag *d)
{
	for (size_t i = 0; i < m->names.n; i++) {
		if (!cfg_module_built(m->names.v[i])) {
			bg_diag_warn(d, &m->locs[i], "module '%s' is not built yet in bluegreen %s: "
					"it is accepted but has no effect", m->names.v[i], BG_VERSION_STRING);
		}
	}
}

