/*
 * t-edge-auth: the protected preview. The password file is read like an
 * env_file (confined, no link followed, errors located at the key, the
 * password never printed, not even by `validate --explain`).
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "cfg.h"
#include "edge-int.h"
#include "th.h"

#include <sys/stat.h>
#include <unistd.h>

/* A password no output may contain. */
#define PW "s3cr3t-Preview pw"

static const char *const global_conf =
	"install_mode: staging\n"
	"edge:\n"
	"  traefik:\n"
	"    dynamic_dir: dyn\n";

/* ---- loading the password ---- */

struct loaded {
	struct cfg *c;
	struct bg_diag d;
	char *text; /* every diagnostic, one per line */
	int err;
};

static void load(struct loaded *l, const char *dir)
{
	struct bg_buf b = BG_BUF_INIT;

	bg_diag_init(&l->d);
	l->c = NULL;
	l->err = cfg_load(&l->c, dir, 0, &l->d);
	for (size_t i = 0; i < l->d.n; i++) {
		char line[1024];
		bg_diag_item_format(&l->d.items[i], line, sizeof(line));
		bg_buf_addf(&b, "%s\n", line);
	}
	l->text = bg_buf_detach(&b, NULL);
	th_assert_not_contains(l->text, "s3cr3t");
}

static void loaded_release(struct loaded *l)
{
	cfg_destroy(l->c);
	bg_diag_release(&l->d);
	free(l->text);
}

/* sites/a.conf with preview_auth.password_file: ref (line 6, column 18). */
static void write_site(const char *dir, const char *ref)
{
	char *site = bg_xasprintf("site: a\ndomains: [a.example.com]\n"
			"preview: preview.a.example.com\nimage: nginx\nport: 80\n"
			"preview_auth: {user: admin, password_file: %s}\n", ref);
	th_write(dir, "sites/a.conf", site);
	free(site);
}

/* Write dir/rel with content, mode 0600 (as a secret should be). */
static void write_secret(const char *dir, const char *rel, const char *content)
{
	th_write(dir, rel, content);
	char *p = bg_xasprintf("%s/%s", dir, rel);
	assert_int_equal(chmod(p, 0600), 0);
	free(p);
}

/* Load dir, expecting err; the diagnostics (a new string). */
static char *load_text(const char *dir, int want_err)
{
	struct loaded l;
	load(&l, dir);
	if (l.err != want_err) {
		fail_msg("load: %d, wanted %d: %s", l.err, want_err, l.text);
	}
	char *t = bg_xstrdup(l.text);
	loaded_release(&l);
	return t;
}

static void test_password_loaded(void **state)
{
	char *dir = th_tmpdir("edge-auth");
	th_write(dir, "global.conf", global_conf);
	write_site(dir, "secrets/preview.pw");
	write_secret(dir, "secrets/preview.pw", PW "\r\nsecond line ignored\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_string_equal(l.text, "");
	const struct cfg_site *s = &l.c->sites[0];
	assert_string_equal(s->preview_auth.user, "admin");
	assert_string_equal(s->preview_auth.password_file, "secrets/preview.pw");
	assert_string_equal(s->preview_auth.password, PW); /* \r dropped, spaces kept */
	loaded_release(&l);

	/* No newline at all: the whole file. Group-readable: a warning. */
	th_write(dir, "secrets/preview.pw", PW);
	char *pwf = bg_xasprintf("%s/secrets/preview.pw", dir);
	assert_int_equal(chmod(pwf, 0644), 0);
	free(pwf);
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_string_equal(l.c->sites[0].preview_auth.password, PW);
	assert_string_equal(l.text, "sites/a.conf:6:44: warning: password_file "
			"'secrets/preview.pw' is readable by group or others (mode 0644): it holds "
			"secrets, chmod 600 it\n");
	loaded_release(&l);

	/* Without preview_auth, nothing is read. */
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\n"
			"port: 80\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_null(l.c->sites[0].preview_auth.password);
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

/* An empty first line, a NUL, a missing file: errors at the key, unquoted. */
static void test_password_bad_file(void **state)
{
	char *dir = th_tmpdir("edge-auth");
	th_write(dir, "global.conf", global_conf);
	write_site(dir, "pw.txt");
	const struct {
		const char *content, *want;
	} cases[] = {
		{"\n" PW "\n", "sites/a.conf:6:44: error: password_file 'pw.txt': the first line "
				"(the password) is empty\n"},
		{"", "sites/a.conf:6:44: error: password_file 'pw.txt': the first line "
				"(the password) is empty\n"},
		{"\r\n", "sites/a.conf:6:44: error: password_file 'pw.txt': the first line "
				"(the password) is empty\n"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		write_secret(dir, "pw.txt", cases[i].content);
		char *t = load_text(dir, BG_ECONFIG);
		assert_string_equal(t, cases[i].want);
		free(t);
	}
	/* A NUL byte (th_write writes strings: write it by hand). */
	char *p = bg_xasprintf("%s/pw.txt", dir);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fwrite("s3cr3t\0x\n", 1, 9, f);
	fclose(f);
	char *t = load_text(dir, BG_ECONFIG);
	assert_string_equal(t, "sites/a.conf:6:44: error: password_file 'pw.txt': NUL byte in "
			"its first line: is this a text file?\n");
	free(t);
	unlink(p);
	t = load_text(dir, BG_ECONFIG);
	th_assert_contains(t, "sites/a.conf:6:44: error: password_file 'pw.txt' not found "
			"(looked for /");
	free(t);
	free(p);
	th_rm_rf(dir);
	free(dir);
}

/*
 * Confined like an env_file: no "..", no link, an absolute path only
 * beneath secrets_dir; nothing of the file named is read or printed.
 */
static void test_password_confined(void **state)
{
	char *dir = th_tmpdir("edge-auth");
	char *cfg = bg_xasprintf("%s/cfg", dir);
	char *sd = bg_xasprintf("%s/secrets", dir);
	write_secret(dir, "other/pw", "s3cr3t-other\n");
	write_secret(dir, "secrets/pw", PW "\n");
	assert_int_equal(chmod(sd, 0700), 0);
	char *outside = bg_xasprintf("%s/other/pw", dir);
	char *inside = bg_xasprintf("%s/pw", sd);
	th_write(cfg, "global.conf", global_conf);
	write_secret(cfg, "mine/pw", PW "\n");
	char *link = bg_xasprintf("%s/mine/link", cfg);
	assert_int_equal(symlink(outside, link), 0);
	const struct {
		const char *ref, *want;
	} cases[] = {
		{"../other/pw", "sites/a.conf:6:44: error: password_file '../other/pw' must be "
				"inside the configuration directory"},
		{"mine/link", "sites/a.conf:6:44: error: password_file 'mine/link': not a regular "
				"file (symbolic link, not followed)"},
		{outside, "global.conf sets no secrets_dir"},
		{inside, "global.conf sets no secrets_dir"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		write_site(cfg, cases[i].ref);
		char *t = load_text(cfg, BG_ECONFIG);
		th_assert_contains(t, cases[i].want);
		th_assert_contains(t, "sites/a.conf:6:44: error: password_file '");
		free(t);
	}
	/* With secrets_dir: inside it is read, outside it still refused. */
	char *g = bg_xasprintf("%ssecrets_dir: %s\n", global_conf, sd);
	th_write(cfg, "global.conf", g);
	write_site(cfg, inside);
	struct loaded l;
	load(&l, cfg);
	assert_int_equal(l.err, 0);
	assert_string_equal(l.c->sites[0].preview_auth.password, PW);
	loaded_release(&l);
	write_site(cfg, outside);
	char *t = load_text(cfg, BG_ECONFIG);
	th_assert_contains(t, "must be inside secrets_dir");
	free(t);
	free(g);
	free(link);
	free(inside);
	free(outside);
	free(sd);
	free(cfg);
	th_rm_rf(dir);
	free(dir);
}

/* validate --explain names the file, never its content (text and JSON). */
static void test_explain_shows_path_only(void **state)
{
	char *dir = th_tmpdir("edge-auth");
	th_write(dir, "global.conf", global_conf);
	write_site(dir, "secrets/preview.pw");
	write_secret(dir, "secrets/preview.pw", PW "\n");
	struct th_run r;
	th_bg(&r, "-c", dir, "validate", "--explain", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "sites.a.preview_auth.password_file = secrets/preview.pw    "
			"# sites/a.conf:6\n");
	th_assert_contains(r.out, "sites.a.preview_auth.user = admin");
	th_assert_not_contains(r.out, "s3cr3t");
	th_assert_not_contains(r.err, "s3cr3t");
	th_run_release(&r);
	th_bg(&r, "-c", dir, "--json", "validate", "--explain", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "secrets/preview.pw");
	th_assert_not_contains(r.out, "s3cr3t");
	th_assert_not_contains(r.err, "s3cr3t");
	th_run_release(&r);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_loaded),
		cmocka_unit_test(test_password_bad_file),
		cmocka_unit_test(test_password_confined),
		cmocka_unit_test(test_explain_shows_path_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
