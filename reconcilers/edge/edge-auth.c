/*
 * edge-auth: the preview host's basic-auth credentials as the edges store
 * them, one htpasswd line "USER:$apr1$SALT$HASH". apr1 (Apache's MD5-crypt)
 * is the one hash both nginx and Traefik understand; it is written here
 * from the algorithm on libcrypto's MD5. The salt is derived from the
 * password, the site and the user (HMAC-SHA256), not drawn at random, so
 * rendering stays pure (the same config gives the same bytes) and a new
 * password gives a new line, which a plan can show as a change without
 * ever showing the password (ADR 0015). For nginx the line lives in
 * AUTH_DIR/SITE.htpasswd, mode 0640 to the workers' group, written here.
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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#define APR1_MAGIC "$apr1$"
#define APR1_SALT_MAX 8

/* The crypt(3) alphabet: salts and the encoded hash use it. */
static const char crypt64[] =
	"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/*
 * One MD5 implementation fetched per hash: OpenSSL 3 would otherwise look
 * it up again on each of the 1002 initialisations (0.54 ms per hash here;
 * 0.31 ms with one fetch, about what the MD5 work itself costs).
 */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
static EVP_MD *md5_fetch(void)
{
	return EVP_MD_fetch(NULL, "MD5", NULL);
}

static void md5_free(EVP_MD *md)
{
	EVP_MD_free(md);
}
#else
static EVP_MD *md5_fetch(void)
{
	return (EVP_MD *)EVP_md5(); /* static, never freed */
}

static void md5_free(EVP_MD *md)
{
	(void)md;
}
#endif

static void md5_begin(EVP_MD_CTX *c, const EVP_MD *md5)
{
	if (!EVP_DigestInit_ex(c, md5, NULL)) {
		BG_BUG("EVP_DigestInit_ex(md5) failed");
	}
}

static void md5_add(EVP_MD_CTX *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c, p, n);
}

static void md5_end(EVP_MD_CTX *c, unsigned char out[16])
{
	unsigned int n = 0;
	EVP_DigestFinal_ex(c, out, &n);
}

/* n characters of crypt64 for the low 6n bits of v, least significant first. */
static void crypt64_put(struct bg_buf *b, unsigned long v, int n)
{
	while (n-- > 0) {
		bg_buf_addch(b, crypt64[v & 0x3f]);
		v >>= 6;
	}
}

char *edge__apr1(const char *password, const char *salt)
{
	size_t pl = strlen(password), sl = strnlen(salt, APR1_SALT_MAX);
	unsigned char md[16];
	struct bg_buf b = BG_BUF_INIT;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_MD *md5 = md5_fetch();

	if (!c || !md5) {
		BG_BUG("MD5 is not available from libcrypto");
	}
	/* The "alternate" sum: password, salt, password. */
	md5_begin(c, md5);
	md5_add(c, password, pl);
	md5_add(c, salt, sl);
	md5_add(c, password, pl);
	md5_end(c, md);

	md5_begin(c, md5);
	md5_add(c, password, pl);
	md5_add(c, APR1_MAGIC, strlen(APR1_MAGIC));
	md5_add(c, salt, sl);
	for (size_t left = pl; left; ) {
		size_t n = left > 16 ? 16 : left;
		md5_add(c, md, n);
		left -= n;
	}
	/* For each bit of the length, low first: a NUL byte for a 1, else
	 * the password's first byte (the original's quirk, kept as is). */
	for (size_t bits = pl; bits; bits >>= 1) {
		md5_add(c, (bits & 1) ? "" : password, 1);
	}
	md5_end(c, md);

	/* 1000 rounds, meant to slow down guessing. */
	for (int i = 0; i < 1000; i++) {
		md5_begin(c, md5);
		if (i & 1) {
			md5_add(c, password, pl);
		} else {
			md5_add(c, md, 16);
		}
		if (i % 3) {
			md5_add(c, salt, sl);
		}
		if (i % 7) {
			md5_add(c, password, pl);
		}
		if (i & 1) {
			md5_add(c, md, 16);
		} else {
			md5_add(c, password, pl);
		}
		md5_end(c, md);
	}
	EVP_MD_CTX_free(c);
	md5_free(md5);

	bg_buf_adds(&b, APR1_MAGIC);
	bg_buf_add(&b, salt, sl);
	bg_buf_addch(&b, '$');
	/* Bytes i, i+6, i+12 in groups of three, then 4, 10, 5 and 11 last. */
	for (int i = 0; i < 4; i++) {
		crypt64_put(&b, (unsigned long)md[i] << 16 | (unsigned long)md[i + 6] << 8 |
				md[i + 12], 4);
	}
	crypt64_put(&b, (unsigned long)md[4] << 16 | (unsigned long)md[10] << 8 | md[5], 4);
	crypt64_put(&b, md[11], 2);
	OPENSSL_cleanse(md, sizeof(md));
	return bg_buf_detach(&b, NULL);
}

/*
 * 8 salt characters from HMAC-SHA256(key = password, "bluegreen preview
 * SITE USER"): the same for the same credentials (pure rendering), new for
 * a new password, different between sites and users sharing a password.
 * 64 divides 256, so byte & 63 picks every character equally often.
 */
static void auth_salt(const struct cfg_site *site, char salt[APR1_SALT_MAX + 1])
{
	const struct cfg_preview_auth *a = &site->preview_auth;
	char *msg = bg_xasprintf("bluegreen preview %s %s", site->name, a->user);
	unsigned char mac[32];
	unsigned int n = 0;

	if (!HMAC(EVP_sha256(), a->password, (int)strlen(a->password),
			(const unsigned char *)msg, strlen(msg), mac, &n)) {
		BG_BUG("HMAC-SHA256 failed");
	}
	for (size_t i = 0; i < APR1_SALT_MAX; i++) {
		salt[i] = crypt64[mac[i] & 0x3f];
	}
	salt[APR1_SALT_MAX] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
	free(msg);
}

/* A user name htpasswd can hold: no ':' (the separator), no control byte. */
static bool auth_user_ok(const char *u)
{
	if (!u || !*u) {
		return false;
	}
	for (; *u; u++) {
		if (*u == ':' || (unsigned char)*u < 0x20 || *u == 0x7f) {
			return false;
		}
	}
	return true;
}

char *edge__htpasswd_line(const struct cfg_site *site)
{
	const struct cfg_preview_auth *a = &site->preview_auth;
	char salt[APR1_SALT_MAX + 1];

	if (!a->user || !a->password || !auth_user_ok(a->user) || !site->name) {
		return NULL;
	}
	auth_salt(site, salt);
	char *hash = edge__apr1(a->password, salt);
	char *line = bg_xasprintf("%s:%s", a->user, hash);
	OPENSSL_cleanse(hash, strlen(hash));
	free(hash);
	return line;
}

char *edge__auth_tag(const struct cfg_site *site)
{
	char hex[65];
	char *line = edge__htpasswd_line(site);

	if (!line) {
		return NULL;
	}
	bg_sha256_hex(line, strlen(line), hex);
	OPENSSL_cleanse(line, strlen(line));
	free(line);
	hex[16] = '\0';
	return bg_xstrdup(hex);
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
