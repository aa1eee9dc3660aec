/*
 * t-plugins: issue 16's plugin sets at load and in the plan (helper W),
 * from real configuration directories and a manifest written here
 * (BLUEGREEN_MODULES_DIR): the set's module must be on; an unpinned entry,
 * a plugin outside the manifests, are located errors; allow_plugins pins a
 * plugin of its own; the colour's image becomes the derived reference,
 * which changes with the set; the plan builds it as the site's first step
 * with one note per plugin (slug, version, set, sha256, URL).
 */
#include "bg.h"
#include "bg-fs.h"
#include "cfg.h"
#include "plan.h"
#include "plan-fx.h"
#include "th.h"

#include <stdlib.h>

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static char *mods;

/* modules/: wordpress's module.conf, and a standard set (one unpinned entry when asked). */
static void modules_write(bool unpinned)
{
	if (mods) {
		th_rm_rf(mods);
		free(mods);
	}
	mods = th_tmpdir("plugmods");
	char *src = th_src_path("modules/wordpress/module.conf");
	char *conf = th_read(src);
	th_write(mods, "wordpress/module.conf", conf);
	char *man = bg_xasprintf("set: standard\n"
			"source: \"https://mirror.example/${slug}.${version}.zip\"\n"
			"plugins:\n"
			"  - slug: alpha\n    version: \"1.0\"\n    sha256: " HEX_A "\n"
			"    licence: GPL-2.0-or-later\n    for: \"a\"\n    why: \"a\"\n"
			"  - slug: beta\n    version: \"2.0\"\n    sha256: %s\n"
			"    licence: GPL-2.0-or-later\n    for: \"b\"\n    why: \"b\"\n",
			unpinned ? "unpinned" : HEX_B);
	th_write(mods, "wp-plugins-standard/plugins.conf", man);
	setenv("BLUEGREEN_MODULES_DIR", mods, 1);
	free(man);
	free(conf);
	free(src);
}

static char *site(const char *wp)
{
	return bg_xasprintf("site: shop\nkind: wordpress\ndomains: [shop.example.com]\n"
			"preview: preview.shop.example.com\n"
			"wordpress: {version: \"6.6\"%s}\n", wp);
}

/* cfg_load's diagnostics as text; *err its result; *c the config or NULL. */
static char *load(const char *modules, const char *wp, int *err, struct cfg **c)
{
	char *dir = th_tmpdir("plugcfg");
	char *base = pfx_global_conf("development");
	char *g = bg_xasprintf("%smodules: %s\n", base, modules);
	char *s = site(wp);
	th_write(dir, "global.conf", g);
	th_write(dir, "sites/shop.conf", s);
	struct bg_diag d;
	bg_diag_init(&d);
	*err = cfg_load(c, dir, 0, &d);
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < d.n; i++) {
		char line[1024];
		bg_diag_item_format(&d.items[i], line, sizeof(line));
		bg_buf_addf(&b, "%s\n", line);
	}
	bg_diag_release(&d);
	th_rm_rf(dir);
	free(dir);
	free(s);
	free(g);
	free(base);
	char *t = bg_buf_detach(&b, NULL);
	return t ? t : bg_xstrdup("");
}

static void test_refusals(void **state)
{
	struct cfg *c = NULL;
	int err;
	(void)state;
	modules_write(false);
	/* The set's module off: located at wordpress.plugins. */
	char *t = load("[wordpress]", ", plugins: standard", &err, &c);
	assert_int_equal(err, BG_ECONFIG);
	th_assert_contains(t, "sites/shop.conf:5:");
	th_assert_contains(t, "error: wordpress.plugins 'standard' needs module "
			"'wp-plugins-standard', which is not enabled");
	free(t);
	cfg_destroy(c);
	/* Outside the manifests: located at its add_plugins item. */
	t = load("[wordpress, wp-plugins-standard]", ", plugins: standard, "
			"add_plugins: [gamma]", &err, &c);
	assert_int_equal(err, BG_ECONFIG);
	th_assert_contains(t, "sites/shop.conf:5:62: error: plugin 'gamma' is not in the plugin "
			"manifests (standard, landing): refused; to install it anyway, pin it in "
			"wordpress.allow_plugins as \"gamma@VERSION sha256:HEX\"\n");
	free(t);
	cfg_destroy(c);
	/* A malformed pin: the key's own check. */
	t = load("[wordpress, wp-plugins-standard]", ", allow_plugins: [\"gamma@1 sha256:xyz\"]",
			&err, &c);
	assert_int_equal(err, BG_ECONFIG);
	th_assert_contains(t, "allow_plugins");
	free(t);
	cfg_destroy(c);
	/* Unpinned: located at the manifest's sha256, failing closed. */
	modules_write(true);
	t = load("[wordpress, wp-plugins-standard]", ", plugins: standard", &err, &c);
	assert_int_equal(err, BG_ECONFIG);
	th_assert_contains(t, "wp-plugins-standard/plugins.conf:12:13: error: plugin beta has no "
			"sha256 in the manifest (unpinned): pin it or mirror it");
	free(t);
	cfg_destroy(c);
	/* ... unless the site pins it itself. */
	t = load("[wordpress, wp-plugins-standard]", ", plugins: standard, "
			"allow_plugins: [\"beta@2.1 sha256:" HEX_B "\"]", &err, &c);
	assert_int_equal(err, 0);
	const struct cfg_wordpress *w = &c->sites[0].wordpress;
	assert_int_equal(w->n_plugins, 2);
	assert_string_equal(w->plugin_list[1].slug, "beta");
	assert_string_equal(w->plugin_list[1].version, "2.1");
	assert_string_equal(w->plugin_list[1].from, "allow_plugins");
	free(t);
	cfg_destroy(c);
}

static void test_derived_image(void **state)
{
	struct cfg *c = NULL, *c2 = NULL;
	int err;
	(void)state;
	modules_write(false);
	char *t = load("[wordpress, wp-plugins-standard]", ", plugins: standard", &err, &c);
	assert_int_equal(err, 0);
	const struct cfg_site *s = &c->sites[0];
	assert_string_equal(s->wordpress.base_image, "wordpress:6.6");
	assert_true(bg_str_has_prefix(s->image, "bluegreen-plugins/shop:"));
	assert_int_equal(strlen(s->image), strlen("bluegreen-plugins/shop:") + 16);
	assert_string_equal(s->wordpress.plugin_list[0].url,
			"https://mirror.example/alpha.1.0.zip");
	free(t);
	/* Another set (one more plugin, from a pin): another image. */
	t = load("[wordpress, wp-plugins-standard]", ", plugins: standard, add_plugins: [gamma], "
			"allow_plugins: [\"gamma@3 sha256:" HEX_A "\"], "
			"plugin_source: \"file:///srv/mirror/${slug}-${version}.zip\"", &err, &c2);
	assert_int_equal(err, 0);
	assert_string_not_equal(c2->sites[0].image, s->image);
	assert_int_equal(c2->sites[0].wordpress.n_plugins, 3);
	assert_string_equal(c2->sites[0].wordpress.plugin_list[2].url,
			"file:///srv/mirror/gamma-3.zip");
	/* No plugins: the image is the site's own. */
	cfg_destroy(c2);
	free(t);
	t = load("[wordpress, wp-plugins-standard]", "", &err, &c2);
	assert_int_equal(err, 0);
	assert_string_equal(c2->sites[0].image, "wordpress:6.6");
	assert_null(c2->sites[0].wordpress.base_image);
	free(t);
	cfg_destroy(c2);
	cfg_destroy(c);
}

/* The plan: the build first (before the db service), notes per plugin. */
static void test_plan(void **state)
{
	struct pfx f;
	struct plan p;
	const char *refs[] = {"wordpress:6.6", "mariadb:11.4"};
	(void)state;
	modules_write(false);
	char *base = pfx_global_conf("development");
	char *g = bg_xasprintf("%smodules: [wordpress, wp-plugins-standard]\n", base);
	char *s = site(", plugins: standard");
	pfx_load(&f, "plugplan", g, s, refs, 2);
	pfx_plan_ok(&f, NULL, &p);
	char *ops = pfx_ops(&p, false);
	char *build = bg_xasprintf("build image %s\n", f.cfg->sites[0].image);
	th_assert_contains(ops, build);
	assert_true(strstr(ops, build) < strstr(ops, "service shop-db"));
	th_assert_not_contains(ops, "pull image");
	struct bg_buf text = BG_BUF_INIT;
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "plugin alpha 1.0 (standard) sha256 " HEX_A
			" from https://mirror.example/alpha.1.0.zip");
	th_assert_contains(text.data, "plugin beta 2.0 (standard) sha256 " HEX_B);
	bg_buf_release(&text);
	free(build);
	free(ops);
	plan_release(&p);
	free(s);
	free(g);
	free(base);
	pfx_release(&f);
}

static int cleanup(void **state)
{
	(void)state;
	if (mods) {
		th_rm_rf(mods);
		free(mods);
		mods = NULL;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_derived_image),
		cmocka_unit_test(test_plan),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
