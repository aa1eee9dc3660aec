/*
 * t-edge-auth: the protected preview. The password file is read like an
 * env_file (confined, no link followed, errors located at the key, the
 * password never printed, not even by `validate --explain`); apr1 gives
 * what the real `openssl passwd -apr1` gives; the htpasswd line's salt is
 * derived from the credentials (same input, same line; a new password, a
 * new line); the rendered access directives and the htpasswd file that
 * edge__auth_sync writes, against a real nginx (/usr/sbin/nginx run by
 * the test as its own master, workers as www-data): 401 without or with
 * wrong credentials, 200 with the right ones or from a listed network, 403
 * without preview_auth from elsewhere, X-Forwarded-For believed from
 * real_ip_from only; the file mode 0640 to the workers' group, the
 * password nowhere in what is rendered.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "cfg.h"
#include "edge-int.h"
#include "th.h"

#include "bg-spawn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define NGINX "/usr/sbin/nginx"

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

/* ---- against a real nginx ---- */

static struct {
	char *dir; /* nginx prefix, the site's web root (www/), auth dir (auth/) */
	int port;
	pid_t nginx;
	unsigned gen; /* the X-Gen header the current file sends */
	struct cfg cfg;
	struct cfg_site site;
} N;

struct resp {
	int status; /* -1: transport error */
	unsigned gen;
	char body[128];
};

/* GET path on the preview host with optional credentials (user:password)
 * and X-Forwarded-For; HTTP/1.0, one connection. */
static void get(const char *path, const char *cred, const char *xff, struct resp *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)N.port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	struct bg_buf req = BG_BUF_INIT;
	char buf[8192];
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(r, 0, sizeof(*r));
	r->status = -1;
	bg_buf_addf(&req, "GET %s HTTP/1.0\r\nHost: preview.shop.example.com\r\n", path);
	if (cred) {
		unsigned char b64[256];
		assert_true(strlen(cred) < 180);
		EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)strlen(cred));
		bg_buf_addf(&req, "Authorization: Basic %s\r\n", (char *)b64);
	}
	if (xff) {
		bg_buf_addf(&req, "X-Forwarded-For: %s\r\n", xff);
	}
	bg_buf_adds(&req, "\r\n");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
			write(fd, req.data, req.len) != (ssize_t)req.len) {
		goto out;
	}
	for (ssize_t k; n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0; ) {
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k < 0) {
			goto out;
		}
		n += (size_t)k;
	}
	buf[n] = '\0';
	const char *body = strstr(buf, "\r\n\r\n");
	const char *g = strstr(buf, "\r\nX-Gen: ");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || !body) {
		goto out;
	}
	r->status = atoi(buf + 9);
	r->gen = g && g < body ? (unsigned)atoi(g + 9) : 0;
	snprintf(r->body, sizeof(r->body), "%s", body + 4);
	r->body[strcspn(r->body, "\r\n")] = '\0';
out:
	bg_buf_release(&req);
	if (fd >= 0) {
		close(fd);
	}
}

/*
 * The status of GET path from the current file: after a reload, the old
 * workers may still accept a connection for a moment (they answer from
 * the previous file, which X-Gen tells), so those answers are retried.
 */
static int status_of(const char *path, const char *cred, const char *xff)
{
	struct resp r;
	int64_t deadline = bg_mono_ms() + th_time_limit(10000);
	do {
		get(path, cred, xff, &r);
	} while (r.gen != N.gen && bg_mono_ms() < deadline && usleep(5000) == 0);
	if (r.gen != N.gen) {
		fail_msg("answered by generation %u of the file, not %u", r.gen, N.gen);
	}
	return r.status;
}

/* The preview server block the way edge-nginx.c places the directives:
 * real IP and access at server level, a location open to everyone (the
 * ACME challenge), the content from www/ (a content-phase handler: a
 * `return` would answer before the access phase). */
static char *render_block(void)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_addf(&b, "server {\n\tlisten 127.0.0.1:%d;\n"
			"\tserver_name preview.shop.example.com;\n"
			"\tadd_header X-Gen %u always;\n", N.port, N.gen);
	edge__nginx_realip_render(&b, &N.cfg);
	edge__nginx_access_render(&b, &N.cfg, &N.site);
	bg_buf_addf(&b, "\troot %s/www;\n"
			"\tlocation /.well-known/acme-challenge/ {\n", N.dir);
	edge__nginx_access_open_render(&b);
	bg_buf_adds(&b, "\t}\n}\n");
	return bg_buf_detach(&b, NULL);
}

/* Sync the htpasswd file, render and load the block (reload), wait
 * until nginx answers with it; the rendered text (a new string). */
static char *apply(void)
{
	struct bg_diag d;
	bg_diag_init(&d);
	int err = edge__auth_sync(&N.cfg, &N.site, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
	N.gen++;
	char *text = render_block();
	th_write(N.dir, "conf.d/preview.conf", text);
	char *argv[] = {NGINX, "-p", ".", "-c", "nginx.conf", "-e", "error.log", "-s", "reload",
			NULL};
	int st = -1;
	char *out = NULL;
	assert_int_equal(bg_spawn_capture(argv, N.dir, 30000, &st, &out), 0);
	if (st != 0) {
		fail_msg("nginx reload: %s\n%s", out, text);
	}
	free(out);
	status_of("/", NULL, NULL);
	th_assert_not_contains(text, "s3cr3t");
	return text;
}

static void set_list(struct bg_strv *v, const char *a, const char *b)
{
	bg_strv_release(v);
	if (a) {
		bg_strv_push(v, a);
	}
	if (b) {
		bg_strv_push(v, b);
	}
}

static void set_auth(const char *user, const char *password)
{
	free(N.site.preview_auth.user);
	free(N.site.preview_auth.password_file);
	free(N.site.preview_auth.password);
	N.site.preview_auth.user = user ? bg_xstrdup(user) : NULL;
	N.site.preview_auth.password_file = user ? bg_xstrdup("preview.pw") : NULL;
	N.site.preview_auth.password = password ? bg_xstrdup(password) : NULL;
}

/* A fresh nginx for each test (the previous test's state cannot leak). */
static int nginx_setup(void **state)
{
	memset(&N, 0, sizeof(N));
	N.nginx = -1;
	if (access(NGINX, X_OK) != 0 || geteuid() != 0 || !getgrnam("www-data")) {
		/* cmocka's skip() works in a test, not in its setup. */
		return 0;
	}
	N.dir = th_tmpdir("edge-auth-nginx");
	/* Running as root, the workers run as www-data: let them in. */
	chmod(N.dir, 0755);
	N.port = th_free_port();
	th_write(N.dir, "www/index.html", "preview\n");
	th_write(N.dir, "www/.well-known/acme-challenge/token", "challenge\n");
	th_write(N.dir, "conf.d/.keep", "");
	th_write(N.dir, "tmp/.keep", "");
	th_write(N.dir, "nginx.conf",
			"# t-edge-auth: a private nginx, run in the foreground by the test.\n"
			"daemon off;\npid nginx.pid;\nerror_log error.log info;\n"
			"user www-data www-data;\nworker_processes 1;\n"
			"events { worker_connections 64; }\n"
			"http {\n\taccess_log off;\n\tclient_body_temp_path tmp/body;\n"
			"\tproxy_temp_path tmp/proxy;\n\tfastcgi_temp_path tmp/fastcgi;\n"
			"\tuwsgi_temp_path tmp/uwsgi;\n\tscgi_temp_path tmp/scgi;\n"
			"\tinclude conf.d/*.conf;\n}\n");
	char *prefix = bg_xasprintf("%s/", N.dir);
	char *log = bg_xasprintf("%s/nginx.out", N.dir);
	char *argv[] = {NGINX, "-p", prefix, "-c", "nginx.conf", "-e", "error.log", NULL};
	N.nginx = th_spawn_bg(argv, NULL, log);
	free(log);
	free(prefix);
	char *pidf = bg_xasprintf("%s/nginx.pid", N.dir);
	for (int i = 0; i < 250 && access(pidf, F_OK) != 0; i++) {
		usleep(20 * 1000);
	}
	bool up = access(pidf, F_OK) == 0;
	free(pidf);
	N.cfg.dir = bg_xstrdup(N.dir);
	N.cfg.g.edge_kind = CFG_EDGE_NGINX;
	N.cfg.g.nginx.group = bg_xstrdup("www-data");
	N.cfg.g.nginx.auth_dir = bg_xasprintf("%s/auth", N.dir);
	N.site.name = bg_xstrdup("shop");
	N.site.preview = bg_xstrdup("preview.shop.example.com");
	N.cfg.sites = &N.site;
	N.cfg.n_sites = 1;
	return N.nginx > 0 && up ? 0 : -1;
}

static int nginx_teardown(void **state)
{
	if (N.nginx > 0) {
		char *argv[] = {NGINX, "-p", ".", "-c", "nginx.conf", "-e", "error.log", "-s",
				"quit", NULL};
		int st = -1;
		bg_spawn_capture(argv, N.dir, 10000, &st, NULL);
		int i = 0;
		while (waitpid(N.nginx, NULL, WNOHANG) != N.nginx && i++ < 500) {
			usleep(10 * 1000);
		}
		if (i > 500) {
			kill(N.nginx, SIGKILL);
			waitpid(N.nginx, NULL, 0);
		}
	}
	free(N.cfg.dir);
	free(N.cfg.g.nginx.group);
	free(N.cfg.g.nginx.auth_dir);
	bg_strv_release(&N.cfg.g.nginx.real_ip_from);
	set_auth(NULL, NULL);
	free(N.site.name);
	free(N.site.preview);
	bg_strv_release(&N.site.preview_allow);
	if (N.dir) {
		th_rm_rf(N.dir);
		free(N.dir);
	}
	return 0;
}

#define CRED_OK "admin:" PW

/* The nginx tests need nginx, root (workers as www-data) and that group. */
static void need_nginx(void)
{
	if (N.nginx > 0) {
		return;
	}
	if (th_ci()) {
		fail_msg("CI: " NGINX ", root and the group www-data are required");
	}
	print_message("# SKIP: needs " NGINX " (Debian: nginx-light), root and the group "
			"www-data\n");
	skip();
}

/* 127.0.0.1 is outside 10.0.0.0/8: it must authenticate. */
static void test_nginx_auth(void **state)
{
	need_nginx();
	set_list(&N.site.preview_allow, "10.0.0.0/8", NULL);
	set_auth("admin", PW);
	char *text = apply();
	th_assert_contains(text, "\tsatisfy any;\n\tallow 10.0.0.0/8;\n\tdeny all;\n"
			"\tauth_basic \"preview shop\";\n");
	assert_int_equal(status_of("/", NULL, NULL), 401);
	assert_int_equal(status_of("/", CRED_OK, NULL), 200);
	assert_int_equal(status_of("/", "admin:" PW "x", NULL), 401);
	assert_int_equal(status_of("/", "admin:s3cr3t", NULL), 401);
	assert_int_equal(status_of("/", "root:" PW, NULL), 401);
	/* The challenge location answers everyone. */
	assert_int_equal(status_of("/.well-known/acme-challenge/token", NULL, NULL), 200);
	/* X-Forwarded-For is not believed without real_ip_from. */
	assert_int_equal(status_of("/", NULL, "10.1.2.3"), 401);

	/* The file: the line and a newline, 0640 to the workers' group, in
	 * a 02750 directory of that group. */
	struct group *gr = getgrnam("www-data");
	assert_non_null(gr);
	char *path = bg_xasprintf("%s/auth/shop.htpasswd", N.dir);
	struct stat st, st2;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, gr->gr_gid);
	char *auth = bg_xasprintf("%s/auth", N.dir);
	assert_int_equal(lstat(auth, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 02750);
	assert_int_equal(st2.st_gid, gr->gr_gid);
	char *content = th_read(path);
	char *line = edge__htpasswd_line(&N.site);
	char *want = bg_xasprintf("%s\n", line);
	assert_string_equal(content, want);
	th_assert_not_contains(content, "s3cr3t");
	char *want_path = bg_xasprintf("\tauth_basic_user_file %s;\n", path);
	th_assert_contains(text, want_path);
	char *tag = edge__auth_tag(&N.site);
	char *want_tag = bg_xasprintf("\t# bluegreen-auth: %s\n", tag);
	th_assert_contains(text, want_tag);

	/* Unchanged credentials: the file is left as it is (same inode). */
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(edge__auth_sync(&N.cfg, &N.site, &d), 0);
	assert_int_equal(lstat(path, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	bg_diag_release(&d);

	/* A new password: a new line and tag; the old one is refused. */
	set_auth("admin", PW "-2");
	char *text2 = apply();
	th_assert_not_contains(text2, want_tag);
	assert_int_equal(status_of("/", CRED_OK, NULL), 401);
	assert_int_equal(status_of("/", CRED_OK "-2", NULL), 200);
	assert_int_equal(lstat(path, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0640);
	assert_int_equal(st2.st_gid, gr->gr_gid);

	free(text2);
	free(want_tag);
	free(tag);
	free(want_path);
	free(want);
	free(line);
	free(content);
	free(auth);
	free(path);
	free(text);
}

/* A listed network passes without credentials (satisfy any). */
static void test_nginx_allowed_network(void **state)
{
	need_nginx();
	set_list(&N.site.preview_allow, "10.0.0.0/8", "127.0.0.1/32");
	set_auth("admin", PW);
	free(apply());
	assert_int_equal(status_of("/", NULL, NULL), 200);
	assert_int_equal(status_of("/", "admin:wrong", NULL), 200);
}

/* Without preview_auth: the allow list alone, 403 for others; the file goes. */
static void test_nginx_allow_only(void **state)
{
	need_nginx();
	set_auth(NULL, NULL);
	set_list(&N.site.preview_allow, "10.0.0.0/8", NULL);
	char *text = apply();
	th_assert_not_contains(text, "auth_basic \"");
	th_assert_not_contains(text, "auth_basic_user_file");
	th_assert_not_contains(text, "satisfy");
	char *path = bg_xasprintf("%s/auth/shop.htpasswd", N.dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(status_of("/", NULL, NULL), 403);
	assert_int_equal(status_of("/", CRED_OK, NULL), 403);
	assert_int_equal(status_of("/.well-known/acme-challenge/token", NULL, NULL), 200);
	free(text);

	set_list(&N.site.preview_allow, "::1/128", "127.0.0.0/8");
	free(apply());
	assert_int_equal(status_of("/", NULL, NULL), 200);

	/* An empty list: nobody. */
	set_list(&N.site.preview_allow, NULL, NULL);
	free(apply());
	assert_int_equal(status_of("/", NULL, NULL), 403);
	free(path);
}

/* X-Forwarded-For names the client only when it comes from real_ip_from. */
static void test_nginx_real_ip(void **state)
{
	need_nginx();
	set_auth(NULL, NULL);
	set_list(&N.site.preview_allow, "10.0.0.0/8", NULL);
	set_list(&N.cfg.g.nginx.real_ip_from, "127.0.0.1/32", "::1");
	char *text = apply();
	th_assert_contains(text, "\tset_real_ip_from 127.0.0.1/32;\n\tset_real_ip_from ::1;\n"
			"\treal_ip_header X-Forwarded-For;\n\treal_ip_recursive on;\n");
	assert_int_equal(status_of("/", NULL, NULL), 403);
	assert_int_equal(status_of("/", NULL, "10.1.2.3"), 200);
	assert_int_equal(status_of("/", NULL, "192.0.2.7"), 403);
	/* Recursive: the last address that is not a trusted proxy. */
	assert_int_equal(status_of("/", NULL, "10.1.2.3, 192.0.2.7"), 403);
	assert_int_equal(status_of("/", NULL, "192.0.2.7, 10.1.2.3"), 200);
	assert_int_equal(status_of("/", NULL, "10.1.2.3, 127.0.0.1"), 200);
	free(text);

	/* Trusting another proxy only: the header is not believed. */
	set_list(&N.cfg.g.nginx.real_ip_from, "192.0.2.0/24", NULL);
	free(apply());
	assert_int_equal(status_of("/", NULL, "10.1.2.3"), 403);
	set_list(&N.cfg.g.nginx.real_ip_from, NULL, NULL);
	text = apply();
	th_assert_not_contains(text, "real_ip");
	free(text);
}

/* An unknown group is a clear error, and nothing is written. */
static void test_sync_errors(void **state)
{
	need_nginx();
	struct bg_diag d;
	char line[512];
	set_auth("admin", PW);
	free(N.cfg.g.nginx.group);
	N.cfg.g.nginx.group = bg_xstrdup("no-such-group-bg");
	bg_diag_init(&d);
	assert_int_equal(edge__auth_sync(&N.cfg, &N.site, &d), BG_ECONFIG);
	assert_int_equal(d.n, 1);
	bg_diag_item_format(&d.items[0], line, sizeof(line));
	th_assert_contains(line, "edge.nginx.group 'no-such-group-bg' is not a group on this "
			"system");
	bg_diag_release(&d);
	free(N.cfg.g.nginx.group);
	N.cfg.g.nginx.group = bg_xstrdup("www-data");

	/* No password loaded: refused, not an open preview. */
	set_auth("admin", NULL);
	bg_diag_init(&d);
	assert_int_equal(edge__auth_sync(&N.cfg, &N.site, &d), BG_ECONFIG);
	bg_diag_release(&d);
	struct bg_buf b = BG_BUF_INIT;
	edge__nginx_access_render(&b, &N.cfg, &N.site);
	th_assert_contains(b.data, "\tdeny all;\n\tauth_basic ");
	bg_buf_release(&b);

	/* auth_dir that nginx would read as more than a path: refused. */
	set_auth("admin", PW);
	char *saved = N.cfg.g.nginx.auth_dir;
	N.cfg.g.nginx.auth_dir = bg_xstrdup("/tmp/x; include /etc/passwd");
	assert_int_equal(edge__nginx_access_check(&N.cfg, &N.site), BG_ECONFIG);
	bg_diag_init(&d);
	assert_int_equal(edge__auth_sync(&N.cfg, &N.site, &d), BG_ECONFIG);
	bg_diag_release(&d);
	edge__nginx_access_render(&b, &N.cfg, &N.site);
	assert_string_equal(b.data, "\tdeny all;\n");
	bg_buf_release(&b);
	free(N.cfg.g.nginx.auth_dir);
	N.cfg.g.nginx.auth_dir = saved;

	/* An auth_dir that is a link is refused, not followed. */
	char *elsewhere = bg_xasprintf("%s/elsewhere", N.dir);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	assert_int_equal(symlink(elsewhere, N.cfg.g.nginx.auth_dir), 0);
	bg_diag_init(&d);
	int err = edge__auth_sync(&N.cfg, &N.site, &d);
	/* O_NOFOLLOW|O_DIRECTORY on a link: ENOTDIR on Linux, ELOOP elsewhere. */
	assert_true(err == BG_ERRNO(ENOTDIR) || err == BG_ERRNO(ELOOP));
	bg_diag_item_format(&d.items[0], line, sizeof(line));
	th_assert_contains(line, "(a symbolic link is not followed)");
	bg_diag_release(&d);
	char *inside = bg_xasprintf("%s/shop.htpasswd", elsewhere);
	assert_int_equal(access(inside, F_OK), -1);
	assert_int_equal(unlink(N.cfg.g.nginx.auth_dir), 0);

	/* An existing 0700 root:root directory is given the mode and group. */
	assert_int_equal(mkdir(N.cfg.g.nginx.auth_dir, 0700), 0);
	bg_diag_init(&d);
	assert_int_equal(edge__auth_sync(&N.cfg, &N.site, &d), 0);
	bg_diag_release(&d);
	struct stat st;
	assert_int_equal(lstat(N.cfg.g.nginx.auth_dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02750);
	assert_int_equal(st.st_gid, getgrnam("www-data")->gr_gid);
	free(inside);
	free(elsewhere);
	set_auth(NULL, NULL);
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
		cmocka_unit_test_setup_teardown(test_nginx_auth, nginx_setup, nginx_teardown),
		cmocka_unit_test_setup_teardown(test_nginx_allowed_network, nginx_setup,
				nginx_teardown),
		cmocka_unit_test_setup_teardown(test_nginx_allow_only, nginx_setup, nginx_teardown),
		cmocka_unit_test_setup_teardown(test_nginx_real_ip, nginx_setup, nginx_teardown),
		cmocka_unit_test_setup_teardown(test_sync_errors, nginx_setup, nginx_teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
