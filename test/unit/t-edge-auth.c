/*
 * t-edge-auth: the protected preview. The password file is read like an
 * env_file (confined, no link followed, errors located at the key, the
 * password never printed, not even by `validate --explain`); apr1 gives
 * what the real `openssl passwd -apr1` gives; the htpasswd line's salt is
 * derived from the credentials (same input, same line; a new password, a
 * new line).
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

/* ---- apr1 and the htpasswd line ---- */

/* `openssl passwd -apr1 -salt SALT` of password (read from a file: any
 * byte, a leading '-' too); a new string without the newline. */
static char *openssl_apr1(const char *password, const char *salt)
{
	char *dir = th_tmpdir("edge-auth-openssl");
	write_secret(dir, "pw", password);
	char *in = bg_xasprintf("%s/pw", dir);
	char *argv[] = {"openssl", "passwd", "-apr1", "-salt", (char *)salt, "-in", in, NULL};
	struct th_run r;
	th_run_argv(argv, NULL, &r);
	if (r.status != 0) {
		fail_msg("openssl passwd: status %d: %s", r.status, r.err);
	}
	char *out = bg_xstrdup(r.out);
	out[strcspn(out, "\n")] = '\0';
	th_run_release(&r);
	free(in);
	th_rm_rf(dir);
	free(dir);
	return out;
}

static void test_apr1_matches_openssl(void **state)
{
	const struct {
		const char *password, *salt;
	} cases[] = {
		{"a", "abcdefgh"},
		{"password", "12345678"},
		{PW, "./AZaz09"},
		{"exactly-16-bytes", "Zz"},
		{"a password longer than sixteen and even thirty-two bytes, with spaces", "x"},
		{"-starts-with-dash:and:colons", "salt.sal"},
		{"caf\xc3\xa9 \xe2\x82\xac utf-8", "UTF8salt"},
		{"0123456789abcdef0", "/"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		char *want = openssl_apr1(cases[i].password, cases[i].salt);
		char *got = edge__apr1(cases[i].password, cases[i].salt);
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	/* Only 8 salt characters count, as in openssl and Apache. */
	char *a = edge__apr1("pw", "abcdefghIJK");
	char *b = edge__apr1("pw", "abcdefgh");
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), strlen("$apr1$abcdefgh$") + 22);
	free(a);
	free(b);
}

/* A site "shop" with preview_auth (user, password); released by site_release. */
static void site_init(struct cfg_site *s, const char *name, const char *user,
		const char *password)
{
	memset(s, 0, sizeof(*s));
	s->name = bg_xstrdup(name);
	s->preview = bg_xasprintf("preview.%s.example.com", name);
	s->preview_auth.user = user ? bg_xstrdup(user) : NULL;
	s->preview_auth.password_file = user ? bg_xstrdup("preview.pw") : NULL;
	s->preview_auth.password = password ? bg_xstrdup(password) : NULL;
}

static void site_release(struct cfg_site *s)
{
	free(s->name);
	free(s->preview);
	free(s->preview_auth.user);
	free(s->preview_auth.password_file);
	free(s->preview_auth.password);
	bg_strv_release(&s->preview_allow);
	memset(s, 0, sizeof(*s));
}

static void test_htpasswd_line(void **state)
{
	struct cfg_site s, other;
	site_init(&s, "shop", "admin", PW);
	char *line = edge__htpasswd_line(&s);
	assert_non_null(line);
	/* admin:$apr1$SALT8$HASH22, the salt in crypt's alphabet */
	assert_int_equal(strncmp(line, "admin:$apr1$", 12), 0);
	assert_int_equal(strlen(line), 12 + 8 + 1 + 22);
	assert_int_equal(strspn(line + 12, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"abcdefghijklmnopqrstuvwxyz"), 8);
	assert_int_equal(line[20], '$');
	th_assert_not_contains(line, "s3cr3t");
	/* The real peer agrees with the line's hash. */
	char salt[9];
	memcpy(salt, line + 12, 8);
	salt[8] = '\0';
	char *want = openssl_apr1(PW, salt);
	assert_string_equal(line + strlen("admin:"), want);
	free(want);

	/* Pure: the same credentials give the same line. */
	char *again = edge__htpasswd_line(&s);
	assert_string_equal(again, line);
	free(again);
	/* A new password, another site, another user: another salt and line. */
	const char *const variants[][3] = {
		{"shop", "admin", PW "!"},
		{"shop2", "admin", PW},
		{"shop", "admin2", PW},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(variants); i++) {
		site_init(&other, variants[i][0], variants[i][1], variants[i][2]);
		char *l2 = edge__htpasswd_line(&other);
		assert_non_null(l2);
		assert_int_not_equal(memcmp(l2 + strlen(variants[i][1]) + 7, line + 12, 8), 0);
		assert_string_not_equal(l2 + strlen(variants[i][1]), line + 5);
		free(l2);
		site_release(&other);
	}

	/* The tag: 16 hex of the line's SHA-256. */
	char hex[65];
	bg_sha256_hex(line, strlen(line), hex);
	hex[16] = '\0';
	char *tag = edge__auth_tag(&s);
	assert_string_equal(tag, hex);
	free(tag);
	free(line);
	site_release(&s);

	/* No preview_auth, or no password loaded: no line, no tag. */
	site_init(&s, "shop", NULL, NULL);
	assert_null(edge__htpasswd_line(&s));
	assert_null(edge__auth_tag(&s));
	site_release(&s);
	site_init(&s, "shop", "admin", NULL);
	assert_null(edge__htpasswd_line(&s));
	site_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_loaded),
		cmocka_unit_test(test_password_bad_file),
		cmocka_unit_test(test_password_confined),
		cmocka_unit_test(test_explain_shows_path_only),
		cmocka_unit_test(test_apr1_matches_openssl),
		cmocka_unit_test(test_htpasswd_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
