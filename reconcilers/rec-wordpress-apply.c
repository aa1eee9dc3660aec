/*
 * rec-wordpress-apply: the wordpress module's steps as apply runs them
 * (rec-wordpress.c plans them), and the two reads its observation makes.
 *
 * - install: WordPress's own installer, POST wp-admin/install.php?step=2
 *   through the colour's address (libcurl, the Host header of the site's
 *   first domain, so the siteurl is the live one), before the colour goes
 *   live. The admin password is 18 random bytes (libcrypto), kept in
 *   STATE_DIR/modules/wordpress/SITE.admin (O_EXCL, 0600, no link
 *   followed) before it is used, and shown once on apply's output
 *   (rec_progress_secret: never the convergence log, never the journal).
 *   A database that is already installed is left alone.
 * - upgrade: GET wp-admin/upgrade.php?step=1 through the colour about to
 *   go live, once the database's db_version is lower than its code's and
 *   exactly the upgrade the plan named; then the database must say the
 *   new db_version.
 *
 * The reads are exec argvs through struct rt (no shell, no password): the
 * database by `mariadb` as root over its socket (the mariadb backup
 * preset's contract, modules/wordpress/README.md), the code by `cat` of
 * wp-includes/version.php.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "rec-wordpress-int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WP_EXEC_TIMEOUT_MS 20000
#define WP_HTTP_TIMEOUT_S 300L
#define WP_BODY_MAX (4u * 1024 * 1024)

/* ---- reads ---- */

/* The value of env key of the site's colours, or def when unset or not a plain name. */
static const char *env_name(const struct cfg_site *cs, const char *key, const char *def)
{
	for (size_t i = 0; i < cs->env.n; i++) {
		const char *v = cs->env.v[i].value;
		if (strcmp(cs->env.v[i].key, key) == 0 && v && *v && strlen(v) <= 64 &&
				strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789_") == strlen(v)) {
			return v;
		}
	}
	return def;
}

int wp_db_read(struct rt *rt, const char *container_id, const struct cfg_site *cs,
		struct wp_db_state *st, struct bg_diag *d)
{
	struct bg_buf out = BG_BUF_INIT;
	int code = -1;
	char *q = bg_xasprintf("SELECT option_name, option_value FROM `%s`.`%soptions` WHERE "
			"option_name IN ('siteurl', 'db_version')",
			env_name(cs, "WORDPRESS_DB_NAME", "wordpress"),
			env_name(cs, "WORDPRESS_TABLE_PREFIX", "wp_"));
	char *argv[] = {"mariadb", "-N", "-B", "-e", q, NULL};

	memset(st, 0, sizeof(*st));
	st->installed = -1;
	int err = rt_exec_check(rt, container_id, argv, WP_EXEC_TIMEOUT_MS, &code, &out, d);
	const char *text = out.data ? out.data : "";
	if (err) {
		st->why = "the exec failed";
	} else if (code == 0) {
		st->installed = strstr(text, "siteurl\t") != NULL;
		const char *v = strstr(text, "db_version\t");
		st->db_version = v ? strtoul(v + strlen("db_version\t"), NULL, 10) : 0;
	} else if (strstr(text, "ERROR 1146") || strstr(text, "ERROR 1049")) {
		st->installed = 0; /* no options table, or no database yet */
	} else {
		st->why = "the database did not answer";
		err = BG_ENOT_FOUND;
	}
	bg_buf_release(&out);
	free(q);
	return err;
}

/* The text after "NAME =" of an assignment in text (its doc comments name it too), or NULL. */
static const char *assigned(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = strstr(text, name); p; p = strstr(p + n, name)) {
		const char *q = p + n;
		q += strspn(q, " \t");
		if (*q == '=') {
			q++;
			return q + strspn(q, " \t");
		}
	}
	return NULL;
}

void wp_version_parse(const char *text, unsigned long *db_version, char **wp_version)
{
	*db_version = 0;
	*wp_version = NULL;
	const char *p = assigned(text, "$wp_db_version");
	if (p) {
		*db_version = strtoul(p, NULL, 10);
	}
	p = assigned(text, "$wp_version");
	if (p && (*p == '\'' || *p == '"')) {
		size_t n = strcspn(p + 1, "'\"\n");
		if (n && n < 32 && strspn(p + 1, "0123456789.-abcdefghijklmnopqrstuvwxyz") >= n) {
			*wp_version = bg_xstrndup(p + 1, n);
		}
	}
}

int wp_code_read(struct rt *rt, const char *container_id, unsigned long *db_version,
		char **wp_version, struct bg_diag *d)
{
	struct bg_buf out = BG_BUF_INIT;
	int code = -1;
	char *argv[] = {"cat", "/var/www/html/wp-includes/version.php", NULL};
	*db_version = 0;
	*wp_version = NULL;
	int err = rt_exec_check(rt, container_id, argv, WP_EXEC_TIMEOUT_MS, &code, &out, d);
	if (!err && code == 0 && out.data) {
		wp_version_parse(out.data, db_version, wp_version);
	}
	bg_buf_release(&out);
	return err ? err : (*db_version ? 0 : BG_ENOT_FOUND);
}

/* ---- containers and HTTP ---- */

static const char *db_container(const struct des_site *s)
{
	for (size_t i = 0; i < s->n_services; i++) {
		if (strcmp(s->services[i].cfg->name, WP_DB_SERVICE) == 0) {
			return s->services[i].container;
		}
	}
	return NULL;
}

/* "http://IP:PORT" of replica 1 of colour (a new string), or NULL (reported). */
static char *colour_base(struct rec_apply_ctx *ctx, const struct des_site *s,
		const char *colour, struct bg_diag *d)
{
	char *name = des_colour_container_name(s->name, colour, 1);
	struct obs_container c = {0};
	char *base = NULL;
	if (rt_inspect(ctx->rt, name, &c, d) == 0) {
		const char *ip = obs_container_ip(&c, ctx->des->edge_network);
		if (!ip || !*ip) {
			ip = obs_container_ip(&c, s->network);
		}
		if (ip && *ip) {
			base = bg_xasprintf("http://%s:%u", ip, s->cfg->port);
		} else {
			bg_diag_error(d, NULL, "%s has no address on %s or %s", name,
					ctx->des->edge_network, s->network);
		}
	}
	obs_container_release(&c);
	free(name);
	return base;
}

static size_t body_sink(char *ptr, size_t size, size_t n, void *arg)
{
	struct bg_buf *b = arg;
	if (b->len + size * n > WP_BODY_MAX) {
		return 0;
	}
	bg_buf_add(b, ptr, size * n);
	return size * n;
}

/*
 * One request to the colour as the site's first domain (form: a POST
 * body, NULL: a GET). *status the HTTP status, body into *body.
 */
static int http_call(const struct cfg_site *cs, const char *url, const char *form,
		long *status, struct bg_buf *body, struct bg_diag *d)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char *host = bg_xasprintf("Host: %s", cs->domains.v[0]);
	if (!h) {
		free(host);
		return BG_ERRNO(ENOMEM);
	}
	hdr = curl_slist_append(hdr, host);
	if (cs->tls.mode != CFG_TLS_OFF) {
		hdr = curl_slist_append(hdr, "X-Forwarded-Proto: https");
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, WP_HTTP_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	if (form) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	}
	CURLcode rc = curl_easy_perform(h);
	int err = 0;
	if (rc != CURLE_OK) {
		bg_diag_error(d, NULL, "%s: %s", url, curl_easy_strerror(rc));
		err = BG_ERRNO(EIO);
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	free(host);
	return err;
}

/* ---- the admin password ---- */

/* STATE_DIR/modules/wordpress, 0700 and ours (a new string), or NULL (reported). */
static char *admin_dir(const struct cfg *cfg, struct bg_diag *d)
{
	char *dir = bg_xasprintf("%s/modules/wordpress", cfg->g.state_dir);
	int err = bg_mkdir_p(dir, 0700);
	if (!err) {
		err = bg_dir_trusted(dir, "module secrets directory", true, d);
	}
	if (err) {
		bg_diag_error(d, NULL, "%s cannot hold the admin password: %s", dir,
				bg_strerror(err));
		free(dir);
		return NULL;
	}
	return dir;
}

/* The value of "KEY=" in text (a new string), or NULL. */
static char *line_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			return bg_xstrndup(p + kl + 1, strcspn(p + kl + 1, "\n"));
		}
	}
	return NULL;
}

static int admin_create(const char *path, const char *user, char **pw, struct bg_diag *d)
{
	unsigned char raw[18];
	char enc[32];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		bg_diag_error(d, NULL, "no random bytes for the admin password");
		return BG_ERRNO(EIO);
	}
	EVP_EncodeBlock((unsigned char *)enc, raw, sizeof(raw)); /* 24 chars, no padding */
	for (char *c = enc; *c; c++) {
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	}
	char *text = bg_xasprintf("# generated by bluegreen's first install; shown once\n"
			"admin_user=%s\nadmin_password=%s\n", user, enc);
	int err = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		err = BG_ERRNO(errno ? errno : EIO);
		bg_diag_error(d, NULL, "cannot write %s: %s", path, bg_strerror(err));
		if (fd >= 0) {
			unlink(path);
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	*pw = err ? NULL : bg_xstrdup(enc);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(enc, sizeof(enc));
	OPENSSL_cleanse(text, len);
	free(text);
	return err;
}

/*
 * The admin password of site: kept from an earlier attempt, else made now.
 * *pw and *path new strings; *made: made by this call.
 */
static int admin_password(const struct cfg *cfg, const char *site, const char *user,
		char **pw, char **path, struct bg_diag *d)
{
	char *dir = admin_dir(cfg, d);
	if (!dir) {
		return BG_EREFUSED;
	}
	char *name = bg_xasprintf("%s.admin", site);
	char *data = NULL;
	struct stat st;
	const char *why = NULL;
	*path = bg_xasprintf("%s/%s", dir, name);
	int err = bg_file_read_safe(dir, name, 4096, &data, NULL, &st, &why);
	if (err == BG_ERRNO(ENOENT)) {
		err = admin_create(*path, user, pw, d);
	} else if (err || st.st_uid != geteuid() || (st.st_mode & 077)) {
		bg_diag_error(d, NULL, "%s: %s", *path, err ? (why ? why : bg_strerror(err))
				: "must be ours and mode 0600");
		err = err ? err : BG_EREFUSED;
	} else if (!(*pw = line_value(data, "admin_password"))) {
		bg_diag_error(d, NULL, "%s has no admin_password: remove it to make a new one",
				*path);
		err = BG_EPARSE;
	}
	if (data) {
		OPENSSL_cleanse(data, strlen(data));
	}
	free(data);
	free(name);
	free(dir);
	return err;
}

/* ---- install ---- */

static char *form_field(CURL *h, const char *key, const char *value, bool first)
{
	char *e = curl_easy_escape(h, value, 0);
	char *s = bg_xasprintf("%s%s=%s", first ? "" : "&", key, e ? e : "");
	if (e) {
		OPENSSL_cleanse(e, strlen(e));
	}
	curl_free(e);
	return s;
}

/* install.php's form (a new string; it holds the password). */
static char *install_form(const struct cfg_site *cs, const char *pw)
{
	CURL *h = curl_easy_init();
	struct bg_buf b = BG_BUF_INIT;
	char *email = wp_admin_email(cs);
	const char *const kv[][2] = {{"weblog_title", wp_title(cs)},
		{"user_name", wp_admin_user(cs)}, {"admin_password", pw},
		{"admin_password2", pw}, {"pw_weak", "1"}, {"admin_email", email},
		{"blog_public", "1"}, {"language", ""}};
	for (size_t i = 0; h && i < BG_ARRAY_SIZE(kv); i++) {
		char *f = form_field(h, kv[i][0], kv[i][1], i == 0);
		bg_buf_adds(&b, f);
		OPENSSL_cleanse(f, strlen(f));
		free(f);
	}
	curl_easy_cleanup(h);
	free(email);
	return bg_buf_detach(&b, NULL);
}

/* POST install.php; *already: WordPress said it is installed. */
static int install_post(struct rec_apply_ctx *ctx, const struct des_site *s,
		const char *colour, const char *pw, bool *already, struct bg_diag *d)
{
	char *base = colour_base(ctx, s, colour, d);
	if (!base) {
		return BG_ENOT_FOUND;
	}
	char *url = bg_xasprintf("%s/wp-admin/install.php?step=2", base);
	char *form = install_form(s->cfg, pw);
	struct bg_buf body = BG_BUF_INIT;
	long status = 0;
	int err = http_call(s->cfg, url, form, &status, &body, d);
	const char *text = body.data ? body.data : "";
	*already = strstr(text, "Already Installed") != NULL;
	if (!err && (status != 200 || (!strstr(text, "Success!") && !*already))) {
		bg_diag_error(d, NULL, "%s answered %ld without WordPress's success page", url,
				status);
		err = BG_EHEALTH;
	}
	OPENSSL_cleanse(form, strlen(form));
	free(form);
	bg_buf_release(&body);
	free(url);
	free(base);
	return err;
}

static int db_state(struct rec_apply_ctx *ctx, const struct des_site *s,
		struct wp_db_state *st, struct bg_diag *d)
{
	const char *db = db_container(s);
	if (!db) {
		bg_diag_error(d, NULL, "site %s has no service %s", s->name, WP_DB_SERVICE);
		return BG_ECONFIG;
	}
	int err = wp_db_read(ctx->rt, db, s->cfg, st, d);
	if (err) {
		bg_diag_error(d, NULL, "%s: cannot read WordPress's options: %s", db,
				st->why ? st->why : bg_strerror(err));
	}
	return err;
}

static int install_apply(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	const struct cfg_site *cs = s->cfg;
	struct wp_db_state st;
	char *pw = NULL, *path = NULL;
	bool already = false;
	int err = db_state(ctx, s, &st, d);
	if (err || st.installed == 1) {
		if (!err) {
			rec_progress(ctx, false, "%s: WordPress is already installed: nothing to do",
					s->name);
		}
		return err;
	}
	rec_progress(ctx, true, "%s: installing WordPress through %s", s->name, a->colour);
	err = admin_password(ctx->cfg, s->name, wp_admin_user(cs), &pw, &path, d);
	if (!err) {
		err = install_post(ctx, s, a->colour, pw, &already, d);
	}
	if (!err && (err = db_state(ctx, s, &st, d)) == 0 && st.installed != 1) {
		bg_diag_error(d, NULL, "install.php answered, but the database says WordPress "
				"is not installed");
		err = BG_EHEALTH;
	}
	char *email = wp_admin_email(cs);
	if (err) {
		rec_journal(ctx, "install", s->name, "failed", "WordPress install through %s: %s",
				a->colour, d->n ? d->items[d->n - 1].msg : bg_strerror(err));
	} else if (already) {
		rec_progress(ctx, false, "%s: WordPress was already installed: nothing done",
				s->name);
	} else {
		rec_journal(ctx, "install", s->name, "ok", "WordPress installed through %s: title "
				"%s, admin %s <%s>; the password is in %s (never journaled)", a->colour,
				wp_title(cs), wp_admin_user(cs), email, path);
		rec_progress(ctx, false, "%s: WordPress installed: title %s, admin %s <%s>",
				s->name, wp_title(cs), wp_admin_user(cs), email);
		char *line = bg_xasprintf("%s: WordPress admin password for %s: %s (shown once; "
				"kept in %s, mode 0600)", s->name, wp_admin_user(cs), pw, path);
		rec_progress_secret(ctx, line);
		OPENSSL_cleanse(line, strlen(line));
		free(line);
	}
	free(email);
	if (pw) {
		OPENSSL_cleanse(pw, strlen(pw));
	}
	free(pw);
	free(path);
	return err;
}

/* ---- upgrade ---- */

static int upgrade_run(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	char *base = colour_base(ctx, s, a->colour, d);
	if (!base) {
		return BG_ENOT_FOUND;
	}
	char *url = bg_xasprintf("%s/wp-admin/upgrade.php?step=1&backto=%%2F", base);
	struct bg_buf body = BG_BUF_INIT;
	long status = 0;
	int err = http_call(s->cfg, url, NULL, &status, &body, d);
	if (!err && status != 200) {
		bg_diag_error(d, NULL, "%s answered %ld", url, status);
		err = BG_EHEALTH;
	}
	bg_buf_release(&body);
	free(url);
	free(base);
	return err;
}

static int upgrade_apply(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	struct wp_db_state st;
	unsigned long code_v = 0;
	char *wpv = NULL;
	char *name = des_colour_container_name(s->name, a->colour, 1);
	int err = db_state(ctx, s, &st, d);
	if (!err && (err = wp_code_read(ctx->rt, name, &code_v, &wpv, d)) != 0) {
		bg_diag_error(d, NULL, "%s: cannot read wp-includes/version.php", name);
	}
	if (err || code_v <= st.db_version) {
		if (!err) {
			rec_progress(ctx, false, "%s: no database upgrade needed (database %lu, %s's "
					"code %lu)", s->name, st.db_version, a->colour, code_v);
		}
		goto out;
	}
	if (a->version != code_v || a->reject_version != st.db_version) {
		bg_diag_error(d, NULL, "%s's WordPress %s needs a database upgrade %lu -> %lu, "
				"which this plan does not name (no backup was taken for it): nothing "
				"was switched; plan again", a->colour, wpv ? wpv : "?", st.db_version,
				code_v);
		err = BG_EREFUSED;
		goto out;
	}
	rec_progress(ctx, true, "%s: upgrading the database %lu -> %lu", s->name, st.db_version,
			code_v);
	unsigned long from = st.db_version;
	err = upgrade_run(ctx, s, a, d);
	if (!err && (err = db_state(ctx, s, &st, d)) == 0 && st.db_version != code_v) {
		bg_diag_error(d, NULL, "upgrade.php answered, but the database's db_version is "
				"%lu, not %lu", st.db_version, code_v);
		err = BG_EHEALTH;
	}
	rec_journal(ctx, "upgrade", s->name, err ? "failed" : "ok", "database db_version %lu -> "
			"%lu (WordPress %s on %s)", from, code_v, wpv ? wpv : "?", a->colour);
	if (!err) {
		rec_progress(ctx, false, "%s: database upgraded: db_version %lu -> %lu", s->name,
				from, code_v);
	}
out:
	free(wpv);
	free(name);
	return err;
}

int wp_apply(struct rec_apply_ctx *ctx, const struct plan_action *a, struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	switch (a->op) {
	case PLAN_OP_INSTALL:
		return install_apply(ctx, s, a, d);
	case PLAN_OP_UPGRADE:
		return upgrade_apply(ctx, s, a, d);
	default:
		BG_BUG("wordpress: unexpected op %s", plan_op_name(a->op));
	}
}
