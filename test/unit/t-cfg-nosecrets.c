/*
 * t-cfg-nosecrets: cfg_load's CFG_LOAD_NO_SECRETS (issue 15: the safe
 * cockpit loads the daemon's own configuration as a user who cannot read
 * its secrets). With the flag a site's env_file and a service's are not
 * read (their variables are absent, `env:` values stay), a
 * preview_auth.password_file is not read (password NULL), secrets_dir is
 * not checked, a module's ${secret.NAME} is empty and nothing is created in
 * the state directory, c->secrets_unread is true, and none of it is an
 * error, even when the files are missing; the same directory without the
 * flag reads them all (and reports the missing ones), as before.
 */
#include "bg.h"
#include "cfg.h"
#include "th.h"

#include <sys/stat.h>
#include <unistd.h>

static const char global_conf[] =
	"install_mode: production\n"
	"state_dir: state\n"
	"edge:\n"
	"  kind: nginx\n"
	"  network: bgt-edge\n"
	"  nginx:\n"
	"    conf_dir: nginx\n"
	"    reload: [\"true\"]\n"
	"    test: []\n"
	"    upstream: addresses\n";

static const char site_conf[] =
	"site: shop\n"
	"image: registry.example.com/shop:1\n"
	"port: 8080\n"
	"domains: [shop.example.com]\n"
	"preview: preview.shop.example.com\n"
	"env_file: shop.env\n"
	"env: {PLAIN: \"p\"}\n"
	"preview_auth: {user: ops, password_file: preview.pw}\n";

static const char *env_get(const struct cfg_env *e, const char *key)
{
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->v[i].key, key) == 0) {
			return e->v[i].value;
		}
	}
	return NULL;
}

/* Load dir with flags: the error code; *text the messages (a new string). */
static int load(const char *dir, unsigned flags, struct cfg **c, char **text)
{
	struct bg_diag d;
	struct bg_buf b = BG_BUF_INIT;
	bg_diag_init(&d);
	int err = cfg_load(c, dir, flags, &d);
	for (size_t i = 0; i < d.n; i++) {
		char line[1024];
		bg_diag_item_format(&d.items[i], line, sizeof(line));
		bg_buf_addf(&b, "%s\n", line);
	}
	bg_buf_add(&b, "", 1);
	*text = bg_buf_detach(&b, NULL);
	bg_diag_release(&d);
	return err;
}

static void test_env_file_and_password(void **state)
{
	char *dir = th_tmpdir("cfg-nosecrets");
	struct cfg *c = NULL;
	char *text = NULL;
	(void)state;
	th_write(dir, "global.conf", global_conf);
	th_write(dir, "sites/shop.conf", site_conf);
	th_write(dir, "shop.env", "APP_SECRET=s3cret-42\n");
	th_write(dir, "preview.pw", "pw-42\n");
	char *envp = bg_xasprintf("%s/shop.env", dir), *pwp = bg_xasprintf("%s/preview.pw", dir);
	assert_int_equal(chmod(envp, 0600) | chmod(pwp, 0600), 0);

	/* As before: both read. */
	assert_int_equal(load(dir, 0, &c, &text), 0);
	assert_string_equal(env_get(&c->sites[0].env, "APP_SECRET"), "s3cret-42");
	assert_string_equal(c->sites[0].preview_auth.password, "pw-42");
	assert_false(c->secrets_unread);
	cfg_destroy(c);
	free(text);

	/* Without secrets: neither; `env:` stays; no message at all. */
	assert_int_equal(load(dir, CFG_LOAD_NO_SECRETS, &c, &text), 0);
	assert_string_equal(text, "");
	assert_null(env_get(&c->sites[0].env, "APP_SECRET"));
	assert_string_equal(env_get(&c->sites[0].env, "PLAIN"), "p");
	assert_null(c->sites[0].preview_auth.password);
	assert_string_equal(c->sites[0].preview_auth.password_file, "preview.pw");
	assert_true(c->secrets_unread);
	cfg_destroy(c);
	free(text);

	/* Files it cannot read (here: gone) and an untrustworthy secrets_dir: errors only with secrets. */
	unlink(envp);
	unlink(pwp);
	char *g = bg_xasprintf("%ssecrets_dir: /nonexistent-bg-secrets\n", global_conf);
	th_write(dir, "global.conf", g);
	assert_int_equal(load(dir, 0, &c, &text), BG_ECONFIG);
	th_assert_contains(text, "env_file 'shop.env' not found");
	th_assert_contains(text, "secrets_dir /nonexistent-bg-secrets does not exist");
	free(text);
	assert_int_equal(load(dir, CFG_LOAD_NO_SECRETS, &c, &text), 0);
	assert_string_equal(text, "");
	assert_int_equal(c->n_sites, 1);
	cfg_destroy(c);
	free(text);
	free(g);
	free(envp);
	free(pwp);
	th_rm_rf(dir);
	free(dir);
}

/* A module's generated secrets: not read, not created, their values empty. */
static void test_module_secrets(void **state)
{
	char *dir = th_tmpdir("cfg-nosecrets-mod");
	struct cfg *c = NULL;
	char *text = NULL;
	(void)state;
	char *g = bg_xasprintf("%smodules: [wordpress]\n", global_conf);
	th_write(dir, "global.conf", g);
	th_write(dir, "sites/shop.conf", "site: shop\nkind: wordpress\n"
			"domains: [shop.example.com]\npreview: preview.shop.example.com\n"
			"wordpress: {version: \"6.6\"}\n");
	char *mods = bg_xasprintf("%s/state/modules", dir);
	assert_int_equal(load(dir, CFG_LOAD_NO_SECRETS, &c, &text), 0);
	assert_string_equal(text, "");
	assert_string_equal(env_get(&c->sites[0].env, "WORDPRESS_DB_PASSWORD"), "");
	assert_int_not_equal(access(mods, F_OK), 0); /* nothing made in the state directory */
	cfg_destroy(c);
	free(text);

	/* With secrets: generated, kept, used. */
	assert_int_equal(load(dir, 0, &c, &text), 0);
	const char *pw = env_get(&c->sites[0].env, "WORDPRESS_DB_PASSWORD");
	assert_non_null(pw);
	assert_true(strlen(pw) > 0);
	assert_int_equal(access(mods, F_OK), 0);
	cfg_destroy(c);
	free(text);
	free(mods);
	free(g);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_file_and_password),
		cmocka_unit_test(test_module_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
