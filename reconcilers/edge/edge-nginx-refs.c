/*
 * edge-nginx-refs: what a site's nginx file makes nginx read besides its
 * own bytes (certificate and key, the preview's htpasswd, includes, ...),
 * reduced to one fingerprint. The switch by flag (edge-nginx-flag.c) skips
 * the reload when the file did not change; nginx reads these files only
 * when it loads its configuration, so a renewed certificate at the same
 * path would never be served (issue 11). The fingerprint is kept next to
 * the flags (SITE.refs in the flag directory) after every reload, and a
 * different one takes the reload path again. It is made of each file's
 * identity and times (device, inode, size, mtime and ctime in ns, the
 * target of a link as nginx follows it), not of its contents: a hash of a
 * key file would be a value derived from a secret, and stat is cheap.
 */
#include "bg.h"
#include "edge-int.h"

#include "bg-buf.h"
#include "bg-util.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directives whose argument is a file nginx reads at load time. */
static const char *const ref_directives[] = {
	"include", "ssl_certificate", "ssl_certificate_key", "ssl_trusted_certificate",
	"ssl_client_certificate", "ssl_crl", "ssl_dhparam", "ssl_password_file",
	"ssl_stapling_file", "ssl_session_ticket_key", "auth_basic_user_file",
};

/* One file's line of the fingerprint text. */
static void ref_add(struct bg_buf *b, const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		bg_buf_addf(b, "%s missing %d\n", path, errno);
		return;
	}
	bg_buf_addf(b, "%s %ju:%ju %jd %jd.%09ld %jd.%09ld %o\n", path, (uintmax_t)st.st_dev,
			(uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
			(unsigned)st.st_mode);
}

/* The argument of a line "DIRECTIVE ARG;" (quotes removed; a new string),
 * NULL when the line is not one of ref_directives. */
static char *ref_arg(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(ref_directives); i++) {
		size_t dl = strlen(ref_directives[i]);
		if (n <= dl || memcmp(p, ref_directives[i], dl) != 0 ||
				(p[dl] != ' ' && p[dl] != '\t')) {
			continue;
		}
		const char *a = p + dl, *end = p + n;
		while (a < end && (*a == ' ' || *a == '\t')) {
			a++;
		}
		const char *semi = memchr(a, ';', (size_t)(end - a));
		if (!semi) {
			return NULL;
		}
		size_t al = (size_t)(semi - a);
		if (al >= 2 && (a[0] == '"' || a[0] == '\'') && a[al - 1] == a[0]) {
			a++;
			al -= 2;
		}
		return al ? bg_xstrndup(a, al) : NULL;
	}
	return NULL;
}

/* A path as nginx resolves a relative one (its prefix: here cfg->dir, the
 * directory its commands run in). A new string. */
static char *ref_full(const struct cfg *cfg, const char *arg)
{
	if (arg[0] == '/' || !cfg->dir) {
		return bg_xstrdup(arg);
	}
	return bg_xasprintf("%s/%s", cfg->dir, arg);
}

char *edge__nginx_refs_fingerprint(const struct cfg *cfg, const char *content, size_t len)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *p = content, *end = content + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *arg = ref_arg(p, n);
		p = nl ? nl + 1 : end;
		if (!arg) {
			continue;
		}
		char *full = ref_full(cfg, arg);
		glob_t g;
		/* include takes a mask: every file it matches counts. */
		if (strpbrk(full, "*?[") && glob(full, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc; i++) {
				ref_add(&b, g.gl_pathv[i]);
			}
			globfree(&g);
		} else {
			ref_add(&b, full);
		}
		free(full);
		free(arg);
	}
	char hex[65];
	bg_sha256_hex(b.data ? b.data : "", b.len, hex);
	bg_buf_release(&b);
	return bg_xstrdup(hex);
}

/* SITE.refs in the flag directory (a new string). */
static char *refs_name(const char *site)
{
	return bg_xasprintf("%s.refs", site);
}

bool edge__nginx_refs_same(int dfd, const char *site, const char *print)
{
	char *name = refs_name(site), buf[80];
	struct stat st;
	ssize_t n = -1;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		n = read(fd, buf, sizeof(buf) - 1);
	}
	if (fd >= 0) {
		close(fd);
	}
	free(name);
	if (n < 0) {
		return false;
	}
	buf[n] = '\0';
	return strcmp(buf, print) == 0;
}

void edge__nginx_refs_store(int dfd, const char *site, const char *print)
{
	char *name = refs_name(site), *tmp = bg_xasprintf(".%s.tmp", name);
	size_t n = strlen(print);
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, print, n) == (ssize_t)n;
	if (fd >= 0) {
		ok = close(fd) == 0 && ok;
	}
	/* Not stored: the next switch reloads once more, which is safe. */
	if (!ok || renameat(dfd, tmp, dfd, name) != 0) {
		unlinkat(dfd, tmp, 0);
		unlinkat(dfd, name, 0);
	}
	free(tmp);
	free(name);
}

void edge__nginx_refs_remove(int dfd, const char *site)
{
	char *name = refs_name(site);
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		unlinkat(dfd, name, 0);
	}
	free(name);
}
