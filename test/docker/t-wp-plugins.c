/*
 * t-wp-plugins: issue 16's plugin sets end to end, with real Docker, real
 * nginx, real WordPress and real MariaDB (the stand-in images of
 * test/images/wordpress/, which honour the official images' contract; see
 * t-wordpress). The zips are served by a local HTTP server the test starts
 * (test/helpers/file-server.py on 127.0.0.1): small plugins made by
 * test/images/wp-plugins/make-fixtures.py, plus Debian's
 * wordpress-plugin-http-authentication zipped as a real plugin. The
 * manifests (BLUEGREEN_MODULES_DIR) pin them by sha256 and point `source`
 * at that server: standard = bg-hello 1.0 + http-authentication 4.6,
 * landing = bg-form 2.0.
 *
 * A plugin outside the manifests is refused by validate, located. Set A
 * (standard) is deployed: the plugins are in the live colour's image, its
 * files are served, and WordPress runs bg-hello once it is active. Set B
 * (landing) becomes the candidate: the preview host has B, the live site
 * still A. Switch: live has B. Rollback: live has exactly A again (the
 * plugin directory's listing is the one recorded before). A tampered zip
 * (allow_plugins pins bg-extra, the server then serves other bytes) stops
 * the apply naming the slug, the expected and the found hash, before any
 * container is created; live keeps serving.
 *
 * Needs: dockerd, nginx, mmdebstrap and the Debian mirror (images, and
 * apt-get download for the Debian plugin).
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"
#include "wp-e2e.h"

#include <signal.h>
#include <unistd.h>

static char *g_site; /* for the images' cleanup */
static char *g_url;  /* the zips' server, http://127.0.0.1:PORT */

/* install: wizard: the test installs over HTTP with a password it knows. */
static void site_file(struct e2e *e, const char *wp_extra)
{
	char *fields = bg_xasprintf(", install: wizard%s", wp_extra);
	wp_e2e_site_write(e, "v1", fields, "1s");
	free(fields);
}

static void plan_apply(struct e2e *e, const char *what, const char *want)
{
	struct th_run r;
	if (want) { /* the plan (its token) names the plugins */
		e2e_bg(e, &r, "plan", NULL);
		th_assert_contains(r.out, want);
		th_run_release(&r);
	}
	int rc = e2e_plan_apply(e, &r);
	if (rc != 0) {
		fail_msg("%s: apply exited %d:\n%s\n%s", what, rc, r.out, r.err);
	}
	th_run_release(&r);
}

/* The live colour's container (SITE-blue or SITE-green), a new string. */
static char *live_container(struct e2e *e)
{
	char *live = e2e_edge_live(e);
	char *c = bg_xasprintf("%s-%s", e->site, live);
	free(live);
	return c;
}

static char *plugins_listing(const char *container)
{
	return wp_e2e_exec(container, "ls", "-1", "/var/www/html/wp-content/plugins", NULL);
}

/* GET a plugin's marker on host: its body when 200, else NULL. */
static char *marker(struct e2e *e, const char *host, const char *slug)
{
	char *path = bg_xasprintf("/wp-content/plugins/%s/marker.txt", slug);
	char *body = NULL;
	int st = wp_e2e_get(e, host, path, &body);
	free(path);
	if (st != 200) {
		free(body);
		return NULL;
	}
	return body;
}

static void expect_marker(struct e2e *e, const char *host, const char *slug, const char *want)
{
	char *m = marker(e, host, slug);
	if (want && (!m || strcmp(m, want) != 0)) {
		fail_msg("%s: %s's marker is %s, expected %s", host, slug, m ? m : "(absent)", want);
	}
	if (!want && m) {
		fail_msg("%s: %s's marker is served (%s), but the set does not have it", host,
				slug, m);
	}
	free(m);
}

static void install(struct e2e *e)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/wp-admin/install.php?step=2", e->port);
	char *hdr = bg_xasprintf("Host: %s", e->domain);
	char *args[] = {"-H", hdr, "--data", "weblog_title=BG+Plugins&user_name=admin"
		"&admin_password=bg-Test-pass-42&admin_password2=bg-Test-pass-42&pw_weak=1"
		"&admin_email=admin%40example.com&blog_public=0&language=", url, NULL};
	char *body = NULL;
	int st = e2e_curl(args, &body, NULL);
	if (st != 200 || !strstr(body, "Success!")) {
		size_t n = strlen(body);
		fail_msg("install.php answered %d:\n%s", st, n > 600 ? body + n - 600 : body);
	}
	free(body);
	free(hdr);
	free(url);
}

static size_t site_containers(struct e2e *e)
{
	struct th_run r;
	char *f = bg_xasprintf("label=io.bluegreen.site=%s", e->site);
	assert_int_equal(th_docker(&r, "ps", "-aq", "--filter", f, NULL), 0);
	size_t n = th_count(r.out, "\n");
	th_run_release(&r);
	free(f);
	return n;
}

/* The fixtures and the server: *pid the server, *shas "SLUG SHA" lines. */
static void fixtures(struct e2e *e, pid_t *pid, char **shas)
{
	char *zips = bg_xasprintf("%s/plugins-fx/zips", e->dir);
	char *portfile = bg_xasprintf("%s/plugins-fx/port", e->dir);
	char *server = th_src_path("test/helpers/file-server.py");
	th_write(e->dir, "plugins-fx/zips/.keep", "");
	char *sargv[] = {"python3", server, portfile, zips, NULL};
	char *log = bg_xasprintf("%s/plugins-fx/server.log", e->dir);
	*pid = th_spawn_bg(sargv, NULL, log);
	char *port = th_wait_file(portfile, "", 10000);
	assert_non_null(port);
	char *url = bg_xasprintf("http://127.0.0.1:%s", port);
	g_url = bg_xstrdup(url);
	char *script = th_src_path("test/images/wp-plugins/make-fixtures.py");
	char *src = th_src_path(".");
	char *out = bg_xasprintf("%s/plugins-fx", e->dir);
	char *fargv[] = {"python3", script, out, url, src, NULL};
	struct th_run r;
	th_run_argv_ex(fargv, NULL, 300000, &r);
	if (r.status != 0) {
		fail_msg("make-fixtures.py: %s%s", r.out, r.err);
	}
	*shas = bg_xstrdup(r.out);
	th_run_release(&r);
	char *mods = bg_xasprintf("%s/modules", out);
	setenv("BLUEGREEN_MODULES_DIR", mods, 1);
	free(mods);
	free(out);
	free(src);
	free(script);
	free(url);
	free(port);
	free(log);
	free(server);
	free(portfile);
	free(zips);
}

static char *sha_of(const char *shas, const char *slug)
{
	char *key = bg_xasprintf("%s ", slug);
	const char *p = strstr(shas, key);
	assert_non_null(p);
	p += strlen(key);
	free(key);
	return bg_xstrndup(p, 64);
}

/* Outside the manifest: refused by validate, at its add_plugins item. */
static void refuse_outside(struct e2e *e)
{
	struct th_run r;
	site_file(e, ", plugins: standard, add_plugins: [not-in-a-manifest]");
	int rc = e2e_bg(e, &r, "validate", NULL);
	assert_int_not_equal(rc, 0);
	char *all = bg_xasprintf("%s%s", r.out, r.err);
	char *want = bg_xasprintf("sites/%s.conf:5:", e->site);
	th_assert_contains(all, want);
	th_assert_contains(all, "error: plugin 'not-in-a-manifest' is not in the plugin "
			"manifests (standard, landing): refused");
	free(all);
	free(want);
	th_run_release(&r);
}

/* A tampered zip: the apply stops before creating anything; live serves. */
static void refuse_tampered(struct e2e *e, const char *shas)
{
	struct th_run r;
	char *good = sha_of(shas, "bg-extra");
	char *extra = bg_xasprintf(", plugins: standard, add_plugins: [bg-extra], "
			"allow_plugins: [\"bg-extra@1.0 sha256:%s\"], "
			"plugin_source: \"%s/${slug}.${version}.zip\"", good, g_url);
	site_file(e, extra);
	th_write(e->dir, "plugins-fx/zips/bg-extra.1.0.zip", "not the zip that was pinned\n");
	size_t before = site_containers(e);
	int rc = e2e_plan_apply(e, &r);
	assert_int_not_equal(rc, 0);
	char *all = bg_xasprintf("%s%s", r.out, r.err);
	char *want = bg_xasprintf("plugin bg-extra 1.0: sha256 mismatch: expected %s", good);
	th_assert_contains(all, want);
	/* sha256 of "not the zip that was pinned\n" */
	th_assert_contains(all, "found a7aca414a6d23cfef085ded56ad52ac546edc487a74d2a8fb3b16a93065fb62d");
	th_assert_contains(all, "nothing was created");
	/* The build is the site's first step: nothing was removed either. */
	th_assert_contains(all, "step 1/");
	free(all);
	th_run_release(&r);
	assert_int_equal(site_containers(e), before);
	expect_marker(e, e->domain, "bg-hello", "bg-hello-1.0");
	free(want);
	free(extra);
	free(good);
}

static void test_plugins(void **state)
{
	struct e2e e;
	pid_t server;
	char *shas = NULL, *body = NULL;
	(void)state;
	e2e_init(&e, "wpp", "nginx", "development");
	g_site = bg_xstrdup(e.site);
	e2e_global(&e, "modules: [wordpress, wp-plugins-standard, landing]\n");
	fixtures(&e, &server, &shas);
	refuse_outside(&e);

	/* Set A: in the live colour; the plan names each plugin and its hash. */
	site_file(&e, ", plugins: standard");
	char *hello = sha_of(shas, "bg-hello");
	char *note = bg_xasprintf("plugin bg-hello 1.0 (standard) sha256 %s", hello);
	plan_apply(&e, "set A", note);
	char *live = live_container(&e);
	char *list_a = plugins_listing(live);
	th_assert_contains(list_a, "bg-hello\n");
	th_assert_contains(list_a, "http-authentication\n");
	th_assert_not_contains(list_a, "bg-form");
	char *php = wp_e2e_exec(live, "cat",
			"/var/www/html/wp-content/plugins/http-authentication/http-authentication.php",
			NULL, NULL);
	th_assert_contains(php, "Plugin Name: HTTP Authentication");
	free(php);
	expect_marker(&e, e.domain, "bg-hello", "bg-hello-1.0");

	/* WordPress loads it: installed, bg-hello activated, its wp_head output. */
	install(&e);
	char *db = bg_xasprintf("%s-db", e.site);
	free(wp_e2e_exec(db, "mariadb", "wordpress", "-e", "UPDATE wp_options SET option_value="
			"'a:1:{i:0;s:21:\"bg-hello/bg-hello.php\";}' WHERE option_name='active_plugins'"));
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "bg-hello-active");
	free(body);

	/* Set B as the candidate: preview has it, live keeps A. */
	site_file(&e, ", plugins: landing");
	plan_apply(&e, "set B candidate", "plugin bg-form 2.0 (landing)");
	expect_marker(&e, e.preview, "bg-form", "bg-form-2.0");
	expect_marker(&e, e.preview, "bg-hello", NULL);
	expect_marker(&e, e.domain, "bg-hello", "bg-hello-1.0");
	expect_marker(&e, e.domain, "bg-form", NULL);
	char *still = plugins_listing(live);
	assert_string_equal(still, list_a);
	free(still);

	/* Switch: live has B, WordPress no longer runs bg-hello. */
	plan_apply(&e, "switch to B", NULL);
	expect_marker(&e, e.domain, "bg-form", "bg-form-2.0");
	expect_marker(&e, e.domain, "bg-hello", NULL);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_not_contains(body, "bg-hello-active");
	free(body);

	/* Rollback: exactly set A again. */
	struct th_run r;
	int rc = e2e_bg(&e, &r, "rollback", e.site, "--yes", NULL);
	if (rc != 0) {
		fail_msg("rollback exited %d:\n%s\n%s", rc, r.out, r.err);
	}
	th_run_release(&r);
	char *back = live_container(&e);
	char *list_back = plugins_listing(back);
	assert_string_equal(list_back, list_a);
	expect_marker(&e, e.domain, "bg-hello", "bg-hello-1.0");
	expect_marker(&e, e.domain, "bg-form", NULL);
	assert_int_equal(wp_e2e_get(&e, e.domain, "/", &body), 200);
	th_assert_contains(body, "bg-hello-active");
	free(body);

	refuse_tampered(&e, shas);

	kill(server, SIGTERM);
	th_wait(server);
	free(list_back);
	free(back);
	free(db);
	free(list_a);
	free(live);
	free(note);
	free(hello);
	free(shas);
	free(g_url);
	e2e_release(&e);
}

/* The derived images of this run's site (ours: bluegreen-plugins/SITE:*). */
static int teardown(void **state)
{
	e2e_teardown(state);
	if (g_site) {
		struct th_run r;
		char *ref = bg_xasprintf("reference=bluegreen-plugins/%s", g_site);
		th_docker(&r, "images", "--filter", ref, "--format", "{{.Repository}}:{{.Tag}}",
				NULL);
		for (char *p = r.out; p && *p;) {
			char *nl = strchr(p, '\n');
			char *tag = bg_xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
			struct th_run x;
			th_docker(&x, "rmi", tag, NULL);
			th_run_release(&x);
			free(tag);
			p = nl ? nl + 1 : NULL;
		}
		th_run_release(&r);
		free(ref);
	}
	return 0;
}

int main(void)
{
	th_docker_preamble();
	if (wp_e2e_images_build("wppimg", false) != 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_plugins, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
