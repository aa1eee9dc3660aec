/*
 * edge-nginx-access: who may reach what through the nginx edge, rendered
 * into the site's file by edge-nginx.c: the preview host's protection
 * (preview_allow networks, preview_auth basic auth with nginx's
 * `satisfy any`) and the trusted proxies whose X-Forwarded-For names the
 * client (edge.nginx.real_ip_from). Pure: the same site and settings
 * always give the same bytes (docs/adr/0015). The password is never in
 * the file: only the path of the htpasswd file and a tag of its line
 * (edge-auth.c), so the file (and the plan) changes with the password.
 * The htpasswd file itself, AUTH_DIR/SITE.htpasswd (0640 to the workers'
 * group), is written here too, by the install (edge__auth_sync).
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-fs.h"
#include "bg-util.h"
#include "edge-int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>


static bool cidrs_ok(const struct bg_strv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (!bg_cidr_valid(v->v[i])) {
			return false;
		}
	}
	return true;
}

/* A path nginx reads as one word: no quote, space, ';', '{', '$' (a
 * variable in auth_basic_user_file) or anything else that could end or
 * change the directive. */
static bool path_word_ok(const char *s)
{
	if (!s || s[0] != '/' || strlen(s) > 1024) {
		return false;
	}
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			"/._+@-") == strlen(s);
}

char *edge__nginx_auth_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/%s.htpasswd", cfg->g.nginx.auth_dir, site);
}

int edge__nginx_access_check(const struct cfg *cfg, const struct cfg_site *site)
{
	if (!cidrs_ok(&cfg->g.nginx.real_ip_from) || !cidrs_ok(&site->preview_allow)) {
		return BG_ECONFIG;
	}
	if (site->preview_auth.user && !path_word_ok(cfg->g.nginx.auth_dir)) {
		return BG_ECONFIG;
	}
	return 0;
}

void edge__nginx_access_render(struct bg_buf *b, const struct cfg *cfg,
		const struct cfg_site *site)
{
	bool auth = site->preview_auth.user != NULL;

	if (edge__nginx_access_check(cfg, site) != 0) {
		/* Never rendered after a failed check; if it were: nobody in. */
		bg_buf_adds(b, "\tdeny all;\n");
		return;
	}
	/*
	 * The listed networks pass; with preview_auth everyone else is asked
	 * for the password (satisfy any: either check suffices), without it
	 * everyone else gets 403.
	 */
	if (auth) {
		bg_buf_adds(b, "\tsatisfy any;\n");
	}
	for (size_t i = 0; i < site->preview_allow.n; i++) {
		bg_buf_addf(b, "\tallow %s;\n", site->preview_allow.v[i]);
	}
	bg_buf_adds(b, "\tdeny all;\n");
	if (!auth) {
		return;
	}
	char *path = edge__nginx_auth_path(cfg, site->name);
	char *tag = edge__auth_tag(site);
	bg_buf_addf(b, "\tauth_basic \"preview %s\";\n", site->name);
	bg_buf_addf(b, "\tauth_basic_user_file %s;\n", path);
	/* nginx reads the htpasswd file on every request: this line is for
	 * the file's checksum and the plan, which must see a new password. */
	bg_buf_addf(b, "\t# bluegreen-auth: %s\n", tag ? tag : "none");
	free(tag);
	free(path);
}

void edge__nginx_realip_render(struct bg_buf *b, const struct cfg *cfg)
{
	const struct bg_strv *from = &cfg->g.nginx.real_ip_from;

	if (!from->n || !cidrs_ok(from)) {
		return;
	}
	/*
	 * Only these proxies may name the client; recursive: the client is
	 * the last address in X-Forwarded-For that is not one of them, so a
	 * client cannot choose its address by sending the header itself.
	 */
	for (size_t i = 0; i < from->n; i++) {
		bg_buf_addf(b, "\tset_real_ip_from %s;\n", from->v[i]);
	}
	bg_buf_adds(b, "\treal_ip_header X-Forwarded-For;\n\treal_ip_recursive on;\n");
}

void edge__nginx_access_open_render(struct bg_buf *b)
{
	/* Rules of a location replace the server's; auth_basic off lifts the
	 * password, satisfy any then lets allow all decide. */
	bg_buf_adds(b, "\t\tallow all;\n\t\tauth_basic off;\n");
}

/* ---- the nginx htpasswd file ---- */

#define AUTH_FILE_MODE 0640
/* setgid: files created inside (the atomic writer's temporary file) get
 * the directory's group at once, so the rename never shows the workers a
 * file they cannot read. */
#define AUTH_DIR_MODE 02750

/* The gid of edge.nginx.group; BG_ECONFIG (explained) when there is none. */
static int auth_group(const struct cfg *cfg, gid_t *gid, struct bg_diag *d)
{
	const char *name = cfg->g.nginx.group;
	struct group gr, *res = NULL;
	size_t len = 16384;
	char *buf = NULL;
	int rc;

	if (!name || !*name) {
		bg_diag_error(d, NULL, "edge.nginx.group is not set: the preview password file "
				"must be readable by the nginx workers' group");
		return BG_ECONFIG;
	}
	do {
		free(buf);
		buf = bg_xmalloc(len);
		rc = getgrnam_r(name, &gr, buf, len, &res);
		len *= 2;
	} while (rc == ERANGE && len <= (1u << 22));
	if (res) {
		*gid = gr.gr_gid;
	}
	free(buf);
	if (!res) {
		bg_diag_error(d, NULL, "edge.nginx.group '%s' is not a group on this system%s%s: "
				"set it to the group the nginx workers run as (Debian: www-data)", name,
				rc ? ": " : "", rc ? strerror(rc) : "");
		return BG_ECONFIG;
	}
	return 0;
}

/*
 * AUTH_DIR exists (created if missing), is a directory reached without a
 * link at its last component, ours or root's, of the workers' group and
 * mode 02750: nginx's workers must be able to enter it, nobody else.
 */
static int auth_dir_prepare(const char *dir, gid_t gid, struct bg_diag *d)
{
	struct stat st;
	int err = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		err = bg_mkdir_p(dir, 0700);
		fd = err ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		err = err ? err : BG_ERRNO(errno);
		bg_diag_error(d, NULL, "edge.nginx.auth_dir %s: %s%s", dir, bg_strerror(err),
				err == BG_ERRNO(ELOOP) || err == BG_ERRNO(ENOTDIR) ?
				" (a symbolic link is not followed)" : "");
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = BG_ERRNO(errno);
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		bg_diag_error(d, NULL, "edge.nginx.auth_dir %s is owned by another user (neither us "
				"nor root): chown it, or name another directory", dir);
		err = BG_EREFUSED;
		goto out;
	} else if ((st.st_gid != gid && fchown(fd, (uid_t)-1, gid) < 0) ||
			((st.st_mode & 07777) != AUTH_DIR_MODE && fchmod(fd, AUTH_DIR_MODE) < 0)) {
		err = BG_ERRNO(errno);
	}
	if (err) {
		bg_diag_error(d, NULL, "edge.nginx.auth_dir %s: cannot make it mode %04o, group "
				"%u: %s%s", dir, AUTH_DIR_MODE, (unsigned)gid, bg_strerror(err),
				err == BG_ERRNO(EPERM) ? " (bluegreen's user must be root or a member "
				"of edge.nginx.group)" : "");
	}
out:
	close(fd);
	return err;
}

int edge__auth_remove(const struct cfg *cfg, const char *site, struct bg_diag *d)
{
	if (!cfg->g.nginx.auth_dir) {
		return 0;
	}
	char *path = edge__nginx_auth_path(cfg, site);
	int err = 0;
	if (unlink(path) < 0 && errno != ENOENT && errno != ENOTDIR) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot remove the preview password file %s: %s", path,
				bg_strerror(err));
	}
	free(path);
	return err;
}

/* Whether path already holds exactly content, mode 0640, group gid. */
static bool auth_file_current(const char *path, const char *content, gid_t gid)
{
	char *data = NULL;
	size_t len = 0;
	struct stat st;

	if (bg_file_read_safe(NULL, path, 4096, &data, &len, &st, NULL) != 0) {
		return false;
	}
	bool same = len == strlen(content) && memcmp(data, content, len) == 0 &&
			(st.st_mode & 07777) == AUTH_FILE_MODE && st.st_gid == gid;
	OPENSSL_cleanse(data, len);
	free(data);
	return same;
}

int edge__auth_sync(const struct cfg *cfg, const struct cfg_site *site, struct bg_diag *d)
{
	char *line = NULL, *content = NULL, *path = NULL;
	const char *why = NULL;
	gid_t gid = 0;
	int err;

	if (!site->preview_auth.user) {
		return edge__auth_remove(cfg, site->name, d);
	}
	line = edge__htpasswd_line(site);
	if (!line) {
		bg_diag_error(d, NULL, "site %s: preview_auth has no password (preview_auth."
				"password_file was not read)", site->name);
		err = BG_ECONFIG;
		goto out;
	}
	if (edge__nginx_access_check(cfg, site) != 0) {
		bg_diag_error(d, NULL, "edge.nginx.auth_dir '%s' cannot be written in nginx "
				"configuration: an absolute path of letters, digits and /._+@-",
				cfg->g.nginx.auth_dir ? cfg->g.nginx.auth_dir : "");
		err = BG_ECONFIG;
		goto out;
	}
	if ((err = auth_group(cfg, &gid, d)) != 0 ||
			(err = auth_dir_prepare(cfg->g.nginx.auth_dir, gid, d)) != 0) {
		goto out;
	}
	content = bg_xasprintf("%s\n", line);
	path = edge__nginx_auth_path(cfg, site->name);
	if (auth_file_current(path, content, gid)) {
		goto out;
	}
	err = bg_file_write_atomic_why(path, NULL, content, strlen(content), AUTH_FILE_MODE,
			&why);
	/* The directory's setgid bit gave the file its group; say so if not. */
	if (!err && fchownat(AT_FDCWD, path, (uid_t)-1, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		err = BG_ERRNO(errno);
		why = bg_strerror(err);
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot write the preview password file %s: %s", path, why);
	}
out:
	if (line) {
		OPENSSL_cleanse(line, strlen(line));
	}
	if (content) {
		OPENSSL_cleanse(content, strlen(content));
	}
	free(line);
	free(content);
	free(path);
	return err;
}
