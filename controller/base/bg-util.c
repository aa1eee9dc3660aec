/*
 * bg-util: implementations of the helpers declared in bg-util.h. Nothing
 * here knows about bluegreen's domain; it is the layer that keeps the rest
 * free of errno juggling, partial writes and shell strings.
 */
#include "bg.h"
#include "bg-util.h"
#include "bg-err.h"

#include <ctype.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

void bg__bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static BG_NORETURN void oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *bg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		oom(n);
	}
	return p;
}

void *bg_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p) {
		oom(nmemb * size);
	}
	return p;
}

void *bg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		oom(n);
	}
	return q;
}

void *bg_xreallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size) {
		oom(SIZE_MAX);
	}
	return bg_xrealloc(p, nmemb * size);
}

char *bg_xstrdup(const char *s)
{
	if (!s) {
		return NULL;
	}
	char *d = strdup(s);
	if (!d) {
		oom(strlen(s) + 1);
	}
	return d;
}

char *bg_xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d) {
		oom(n + 1);
	}
	return d;
}

char *bg_xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0) {
		oom(strlen(fmt));
	}
	return s;
}

char *bg_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = bg_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void bg_grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap) {
		return;
	}
	size_t c = *cap ? *cap : 4;
	while (c < n) {
		c *= 2;
	}
	*v = bg_xreallocarray(*v, c, sz);
	*cap = c;
}

void bg_strv_init(struct bg_strv *sv)
{
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void bg_strv_release(struct bg_strv *sv)
{
	if (!sv) {
		return;
	}
	for (size_t i = 0; i < sv->n; i++) {
		free(sv->v[i]);
	}
	free(sv->v);
	bg_strv_init(sv);
}

void bg_strv_push_take(struct bg_strv *sv, char *s)
{
	BG_GROW(sv->v, sv->cap, sv->n + 2);
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void bg_strv_push(struct bg_strv *sv, const char *s)
{
	bg_strv_push_take(sv, bg_xstrdup(s));
}

void bg_strv_copy(struct bg_strv *dst, const struct bg_strv *src)
{
	for (size_t i = 0; i < src->n; i++) {
		bg_strv_push(dst, src->v[i]);
	}
}

bool bg_strv_contains(const struct bg_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++) {
		if (strcmp(sv->v[i], s) == 0) {
			return true;
		}
	}
	return false;
}

bool bg_strv_equal(const struct bg_strv *a, const struct bg_strv *b)
{
	if (a->n != b->n) {
		return false;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], b->v[i]) != 0) {
			return false;
		}
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void bg_strv_sort(struct bg_strv *sv)
{
	if (sv->n > 1) {
		qsort(sv->v, sv->n, sizeof(*sv->v), cmp_str);
	}
}

bool bg_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool bg_str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool bg_glob_match_ci(const char *p, const char *s)
{
	/*
	 * A shell glob (*, ?, [0-9], [!O]) as fnmatch(3) reads it, without
	 * FNM_PATHNAME or FNM_PERIOD: env keys are single words.
	 */
	return fnmatch(p, s, FNM_CASEFOLD) == 0;
}

unsigned bg_str_distance(const char *a, const char *b, unsigned max)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64) {
		return max + 1;
	}
	unsigned row[65];
	for (size_t j = 0; j <= lb; j++) {
		row[j] = (unsigned)j;
	}
	for (size_t i = 1; i <= la; i++) {
		unsigned prev = row[0];
		row[0] = (unsigned)i;
		unsigned best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned cur = row[j];
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = prev + cost;
			if (row[j] + 1 < v) {
				v = row[j] + 1;
			}
			if (row[j - 1] + 1 < v) {
				v = row[j - 1] + 1;
			}
			row[j] = v;
			prev = cur;
			if (v < best) {
				best = v;
			}
		}
		if (best > max) {
			return max + 1;
		}
	}
	return row[lb] > max ? max + 1 : row[lb];
}

bool bg_ct_streq(const char *given, const char *expected)
{
	/*
	 * Hash both sides first: the comparison then always covers 32 bytes,
	 * so neither the position of the first difference nor the length of
	 * the expected value leaks through timing.
	 */
	unsigned char hg[32], he[32];
	unsigned int lg = 0, le = 0;
	EVP_Digest(given, strlen(given), hg, &lg, EVP_sha256(), NULL);
	EVP_Digest(expected, strlen(expected), he, &le, EVP_sha256(), NULL);
	return CRYPTO_memcmp(hg, he, sizeof(hg)) == 0;
}

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * n] = '\0';
}

void bg_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) {
		BG_BUG("EVP_Digest failed");
	}
	to_hex(md, 32, hex);
}

struct bg_sha256 {
	EVP_MD_CTX *ctx;
};

struct bg_sha256 *bg_sha256_new(void)
{
	struct bg_sha256 *h = bg_xmalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		BG_BUG("EVP_DigestInit_ex failed");
	}
	return h;
}

void bg_sha256_update(struct bg_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void bg_sha256_update_str(struct bg_sha256 *h, const char *s)
{
	if (!s) {
		s = "";
	}
	EVP_DigestUpdate(h->ctx, s, strlen(s) + 1);
}

void bg_sha256_final_hex(struct bg_sha256 *h, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex(h->ctx, md, &n);
	EVP_MD_CTX_free(h->ctx);
	free(h);
	to_hex(md, 32, hex);
}

int64_t bg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bg_time_format_utc(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	/* Bounded fields keep -Wformat-truncation provably satisfied. */
	snprintf(buf, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
			(unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
			(unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
			(unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
			(unsigned)(ms % 1000));
}

int bg_duration_parse(const char *s, uint64_t *ms)
{
	const char *p = s;
	uint64_t v = 0;
	if (!isdigit((unsigned char)*p)) {
		return BG_EPARSE;
	}
	while (isdigit((unsigned char)*p)) {
		if (v > UINT64_MAX / 10 - 10) {
			return BG_EPARSE;
		}
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	uint64_t mult;
	if (strcmp(p, "ms") == 0) {
		mult = 1;
	} else if (strcmp(p, "s") == 0) {
		mult = 1000;
	} else if (strcmp(p, "m") == 0) {
		mult = 60 * 1000;
	} else if (strcmp(p, "h") == 0) {
		mult = 3600 * 1000;
	} else {
		return BG_EPARSE;
	}
	if (v > UINT64_MAX / mult) {
		return BG_EPARSE;
	}
	*ms = v * mult;
	return 0;
}

void bg_duration_format(uint64_t ms, char buf[32])
{
	if (ms && ms % 3600000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "h", ms / 3600000);
	} else if (ms && ms % 60000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "m", ms / 60000);
	} else if (ms && ms % 1000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "s", ms / 1000);
	} else {
		snprintf(buf, 32, "%" PRIu64 "ms", ms);
	}
}

int bg_mkdir_p(const char *path, unsigned mode)
{
	char *p = bg_xstrdup(path);
	int err = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/') {
			continue;
		}
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err = BG_ERRNO(errno);
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
		err = BG_ERRNO(errno);
	}
out:
	free(p);
	return err;
}

/* "uid 65534 (nobody)": for messages that name an owner. */
static void uid_describe(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res) {
		snprintf(buf, len, "uid %ld (%s)", (long)uid, res->pw_name);
	} else {
		snprintf(buf, len, "uid %ld", (long)uid);
	}
}

/* The owner and mode rules of bg_dir_trusted, on a stat result. */
static int dir_stat_trusted(const char *path, const struct stat *st, const char *what,
		struct bg_diag *d)
{
	uid_t me = geteuid();
	if (st->st_uid != me && st->st_uid != 0) {
		char owner[160], self[160], owner_name[64], self_name[64];
		struct passwd pw, *res = NULL;
		char tmp[1024];
		uid_describe(st->st_uid, owner, sizeof(owner));
		uid_describe(me, self, sizeof(self));
		snprintf(self_name, sizeof(self_name), "%ld", (long)me);
		if (getpwuid_r(me, &pw, tmp, sizeof(tmp), &res) == 0 && res) {
			snprintf(self_name, sizeof(self_name), "%s", res->pw_name);
		}
		snprintf(owner_name, sizeof(owner_name), "#%ld", (long)st->st_uid);
		if (getpwuid_r(st->st_uid, &pw, tmp, sizeof(tmp), &res) == 0 && res) {
			snprintf(owner_name, sizeof(owner_name), "%s", res->pw_name);
		}
		/*
		 * The usual cause is a service user's directory (systemd
		 * User=bluegreen) used by root: run as that user rather than
		 * taking the directory away from the daemon.
		 */
		bg_diag_error(d, NULL, "%s %s is owned by %s, not by the user bluegreen runs as "
				"(%s) or root: whoever owns it decides what bluegreen does; fix: run "
				"bluegreen as its owner (`sudo -u %s bluegreen ...`), or `chown %s %s` "
				"if it is meant to be yours", what, path, owner, self, owner_name,
				self_name, path);
		return BG_ERRNO(EPERM);
	}
	if (st->st_mode & 022) {
		bg_diag_error(d, NULL, "%s %s is writable by %s (mode %04o): anyone who can write "
				"there decides what bluegreen does; fix: `chmod go-w %s`", what, path,
				(st->st_mode & 002) ? "everyone" : "its group",
				(unsigned)(st->st_mode & 07777), path);
		return BG_ERRNO(EPERM);
	}
	return 0;
}

int bg_dir_trusted(const char *path, const char *what, bool nofollow, struct bg_diag *d)
{
	struct stat st;
	if ((nofollow ? lstat(path, &st) : stat(path, &st)) < 0) {
		int err = BG_ERRNO(errno);
		if (err != BG_ERRNO(ENOENT)) {
			bg_diag_error(d, NULL, "%s %s: %s", what, path, bg_strerror(err));
		}
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		bg_diag_error(d, NULL, "%s %s is a symbolic link: name the directory it points "
				"to instead", what, path);
		return BG_ERRNO(ELOOP);
	}
	if (!S_ISDIR(st.st_mode)) {
		bg_diag_error(d, NULL, "%s %s is not a directory", what, path);
		return BG_ERRNO(ENOTDIR);
	}
	return dir_stat_trusted(path, &st, what, d);
}

int bg_state_dir_prepare(const char *path, struct bg_diag *d)
{
	bool created = false;
	int err = 0;

	/* Parents as mkdir -p makes them; the directory itself 0700. */
	char *parent = bg_xstrdup(path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		err = bg_mkdir_p(parent, 0755);
	}
	free(parent);
	if (!err) {
		if (mkdir(path, 0700) == 0) {
			created = true;
		} else if (errno != EEXIST) {
			err = BG_ERRNO(errno);
		}
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot create the state directory %s: %s", path,
				bg_strerror(err));
		return err;
	}
	/*
	 * Never a symbolic link (it would send the lock, the history and the
	 * control socket elsewhere), and never someone else's directory.
	 */
	err = bg_dir_trusted(path, "state directory", true, d);
	if (err) {
		return err;
	}
	/*
	 * Only a directory made just now is ours to chmod (the umask may have
	 * taken bits off): an existing one keeps the mode its owner chose, so a
	 * read-only command never changes a directory it did not create.
	 */
	struct stat st;
	if (created && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
			(st.st_mode & 07777) != 0700 && chmod(path, 0700) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot make the state directory %s private: %s", path,
				bg_strerror(err));
	}
	return err;
}

int bg_state_dir_ensure(const char *path)
{
	return bg_state_dir_prepare(path, NULL);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return BG_ERRNO(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		return bg_xstrdup(".");
	}
	if (slash == path) {
		return bg_xstrdup("/");
	}
	return bg_xstrndup(path, (size_t)(slash - path));
}

/*
 * A directory bluegreen writes into must be ours (or root's) and not
 * writable by its group or others, sticky bit or not: the files written
 * (edge configuration, state) are loaded wholesale by their readers, and
 * whoever can add or replace a file there configures the proxy. A sticky
 * bit stops others replacing our files, not adding theirs.
 */
static int dir_fd_writable_safe(int dfd, const char **why)
{
	struct stat st;
	if (fstat(dfd, &st) < 0) {
		*why = bg_strerror(BG_ERRNO(errno));
		return BG_ERRNO(errno);
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		*why = "the directory is owned by another user (neither us nor root)";
		return BG_EREFUSED;
	}
	if (st.st_mode & 022) {
		*why = "the directory is writable by its group or others";
		return BG_EREFUSED;
	}
	return 0;
}

/*
 * Create a temporary file in dfd with a random name, O_EXCL: nothing
 * planted there beforehand (a link, a hard link to another file) is ever
 * opened. A name taken by chance is retried with another.
 */
static int tmp_create(int dfd, const char *base, unsigned mode, char **name_out)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned char rnd[8];
		char hex[17];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			return BG_ERRNO(errno ? errno : EIO);
		}
		for (size_t i = 0; i < sizeof(rnd); i++) {
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		}
		char *name = bg_xasprintf(".%s.%s.tmp", base, hex);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				(mode_t)mode);
		if (fd >= 0) {
			*name_out = name;
			return fd;
		}
		int e = errno;
		free(name);
		if (e != EEXIST) {
			return BG_ERRNO(e);
		}
	}
	return BG_ERRNO(EEXIST);
}

static int open_dir_checked(const char *dir, int *dfd, const char **why)
{
	*dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0) {
		*why = bg_strerror(BG_ERRNO(errno));
		return BG_ERRNO(errno);
	}
	return dir_fd_writable_safe(*dfd, why);
}

int bg_file_write_atomic_why(const char *path, const char *tmp_dir, const void *data,
		size_t len, unsigned mode, const char **why)
{
	char *dir = dir_of(path);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *w = NULL;
	char *tmp = NULL;
	int dfd = -1, tfd = -1, fd = -1, err;

	err = open_dir_checked(dir, &dfd, &w);
	if (!err && tmp_dir) {
		err = open_dir_checked(tmp_dir, &tfd, &w);
	}
	if (err) {
		goto out;
	}
	fd = tmp_create(tmp_dir ? tfd : dfd, base, mode, &tmp);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) < 0 || (err = write_all(fd, data, len)) != 0 ||
			fsync(fd) < 0) {
		err = err ? err : BG_ERRNO(errno);
		goto out;
	}
	int cerr = close(fd);
	fd = -1;
	if (cerr < 0 || renameat(tmp_dir ? tfd : dfd, tmp, dfd, base) < 0) {
		err = BG_ERRNO(errno);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/*
	 * The new file is in place and what every reader sees: a directory
	 * fsync that fails now must not make the caller believe the old file
	 * is still there (it would skip the reload and mis-report the state).
	 * Durability is what is uncertain: say so, and report success.
	 */
	if (fsync(dfd) != 0 || (tfd >= 0 && fsync(tfd) != 0)) {
		fprintf(stderr, "bluegreen: warning: %s is written, but its directory could not "
				"be synced to disk: %s\n", path, strerror(errno));
	}
out:
	if (fd >= 0) {
		close(fd);
	}
	if (tmp) {
		unlinkat(tmp_dir ? tfd : dfd, tmp, 0);
	}
	if (err && !w) {
		w = bg_strerror(err);
	}
	if (why) {
		*why = w;
	}
	if (tfd >= 0) {
		close(tfd);
	}
	if (dfd >= 0) {
		close(dfd);
	}
	free(tmp);
	free(dir);
	return err;
}

int bg_file_write_atomic(const char *path, const char *tmp_dir, const void *data,
		size_t len, unsigned mode)
{
	return bg_file_write_atomic_why(path, tmp_dir, data, len, mode, NULL);
}

/*
 * Reading files safely. Every file bluegreen reads goes through
 * file_open_regular(): the last component is opened with O_NOFOLLOW (a
 * link is refused, not followed: a committed symlink must not make the
 * daemon read, or print, a file outside its place), O_NONBLOCK (opening a
 * FIFO with no writer would otherwise wait forever, stopping the daemon's
 * loop) and O_NOCTTY, and the open file must be a regular file no larger
 * than the caller's cap. Reading a regular file that size does not wait
 * on anyone, so the loop thread may do it.
 */
static const char *file_kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFIFO: return "not a regular file (fifo)";
	case S_IFSOCK: return "not a regular file (socket)";
	case S_IFCHR: return "not a regular file (character device)";
	case S_IFBLK: return "not a regular file (block device)";
	case S_IFDIR: return "not a regular file (directory)";
	case S_IFLNK: return "not a regular file (symbolic link, not followed)";
	default: return "not a regular file";
	}
}

#define FILE_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)

/* Open name in dirfd as a regular file; *why says what is wrong otherwise. */
static int file_open_regular(int dirfd, const char *name, struct stat *st, const char **why)
{
	int fd = openat(dirfd, name, FILE_OPEN_FLAGS);
	if (fd < 0) {
		int e = errno;
		struct stat lst;
		if ((e == ELOOP || e == ENXIO || e == EOPNOTSUPP) &&
				fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
				!S_ISREG(lst.st_mode)) {
			*why = file_kind(lst.st_mode);
			return S_ISDIR(lst.st_mode) ? BG_ERRNO(EISDIR) : BG_EREFUSED;
		}
		*why = bg_strerror(BG_ERRNO(e));
		return BG_ERRNO(e);
	}
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		*why = bg_strerror(BG_ERRNO(e));
		return BG_ERRNO(e);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		*why = file_kind(st->st_mode);
		return S_ISDIR(st->st_mode) ? BG_ERRNO(EISDIR) : BG_EREFUSED;
	}
	return fd;
}

int bg_file_open_regular(const char *path, struct stat *st, const char **why)
{
	struct stat tmp;
	const char *w = NULL;
	int fd = file_open_regular(AT_FDCWD, path, st ? st : &tmp, &w);
	if (why) {
		*why = w;
	}
	return fd;
}

/*
 * Open rel beneath the directory dir, one component at a time (openat):
 * no component may be a symbolic link or "..", and rel may not be
 * absolute, so what is opened is inside dir whatever the links say.
 * Checking a realpath() against a prefix would leave a window between the
 * check and the open; walking with directory descriptors leaves none.
 */
static const char why_absolute[] = "absolute path: it must be inside the directory";
static const char why_dotdot[] = "'..' leads outside the directory";

bool bg_file_why_outside(const char *why)
{
	return why == why_absolute || why == why_dotdot;
}

static int file_open_beneath(const char *dir, const char *rel, struct stat *st,
		const char **why)
{
	if (rel[0] == '/') {
		*why = why_absolute;
		return BG_EREFUSED;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		*why = bg_strerror(BG_ERRNO(errno));
		return BG_ERRNO(errno);
	}
	char *copy = bg_xstrdup(rel);
	char *comp = copy;
	int ret = 0;
	for (;;) {
		char *slash = strchr(comp, '/');
		if (slash) {
			*slash = '\0';
		}
		if (strcmp(comp, "..") == 0) {
			*why = why_dotdot;
			ret = BG_EREFUSED;
			break;
		}
		if (!slash) {
			ret = file_open_regular(dfd, comp, st, why);
			break;
		}
		if (*comp && strcmp(comp, ".") != 0) {
			int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				int e = errno;
				struct stat lst;
				bool link = fstatat(dfd, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
						S_ISLNK(lst.st_mode);
				*why = link ? "a directory on the way is a symbolic link (not followed)"
						: bg_strerror(BG_ERRNO(e));
				ret = link ? BG_EREFUSED : BG_ERRNO(e);
				break;
			}
			close(dfd);
			dfd = nfd;
		}
		comp = slash + 1;
	}
	free(copy);
	close(dfd);
	return ret;
}

static int file_read_fd(int fd, const struct stat *st, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (st->st_size < 0 || (uint64_t)st->st_size > max) {
		return BG_ETOO_BIG;
	}
	for (;;) {
		BG_GROW(buf, cap, n + 4096 + 1);
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			int err = BG_ERRNO(errno);
			free(buf);
			return err;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (n > max) { /* it grew since fstat, or /proc says 0 */
			free(buf);
			return BG_ETOO_BIG;
		}
	}
	buf[n] = '\0';
	*out = buf;
	if (len) {
		*len = n;
	}
	return 0;
}

int bg_file_read_safe(const char *dir, const char *path, size_t max, char **out,
		size_t *len, struct stat *st_out, const char **why)
{
	struct stat st;
	const char *w = NULL;
	int fd = dir ? file_open_beneath(dir, path, &st, &w)
			: file_open_regular(AT_FDCWD, path, &st, &w);
	int err = 0;

	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = file_read_fd(fd, &st, max, out, len);
	close(fd);
	if (err == BG_ETOO_BIG) {
		w = "file is too large";
	} else if (err) {
		w = bg_strerror(err);
	} else if (st_out) {
		*st_out = st;
	}
out:
	if (why) {
		*why = w;
	}
	return err;
}

int bg_file_read(const char *path, size_t max, char **out, size_t *len)
{
	return bg_file_read_safe(NULL, path, max, out, len, NULL, NULL);
}

#define SPAWN_OUTPUT_MAX (64 * 1024)

static void capture_add(char **buf, size_t *n, size_t *cap, const char *chunk, size_t len)
{
	if (*n >= SPAWN_OUTPUT_MAX) {
		return;
	}
	if (*n + len > SPAWN_OUTPUT_MAX) {
		len = SPAWN_OUTPUT_MAX - *n;
	}
	BG_GROW(*buf, *cap, *n + len + 1);
	memcpy(*buf + *n, chunk, len);
	*n += len;
}

int bg_spawn_capture(char *const argv[], const char *cwd, uint64_t timeout_ms,
		int *status, char **output)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int pipefd[2] = {-1, -1};
	pid_t pid = -1;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int err = 0, wst = 0;
	bool exited = false, eof = false;
	int64_t deadline = timeout_ms ? bg_mono_ms() + (int64_t)timeout_ms : 0;
	int64_t linger_until = 0;

	if (!argv || !argv[0]) {
		return BG_EUSAGE;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		return BG_ERRNO(errno);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (cwd) {
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	}
	/* Its own process group, so a timeout kills what it started too. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (rc != 0) {
		err = BG_ERRNO(rc);
		goto out;
	}
	fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
	/*
	 * Read until the child has exited and its output is drained. A child
	 * that exits while something it started keeps the pipe open (a
	 * daemonising reload) is not waited for beyond a short linger; a child
	 * that closes its output and hangs is still bounded by the deadline.
	 */
	while (!(exited && (eof || bg_mono_ms() >= linger_until))) {
		int64_t now = bg_mono_ms();
		if (deadline && now >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			err = BG_ETIMEOUT;
			break;
		}
		if (!exited) {
			pid_t w = waitpid(pid, &wst, WNOHANG);
			if (w == pid) {
				exited = true;
				linger_until = bg_mono_ms() + 100;
			} else if (w < 0 && errno != EINTR) {
				err = BG_ERRNO(errno);
				break;
			}
		}
		if (eof) {
			if (!exited) {
				struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		int wait_ms = 50;
		if (deadline && deadline - now < wait_ms) {
			wait_ms = (int)(deadline - now);
		}
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
			err = BG_ERRNO(errno);
			kill(-pid, SIGKILL);
			break;
		}
		char chunk[4096];
		for (;;) {
			ssize_t r = read(pipefd[0], chunk, sizeof(chunk));
			if (r > 0) {
				capture_add(&buf, &n, &cap, chunk, (size_t)r);
				continue;
			}
			if (r == 0) {
				eof = true;
			}
			break;
		}
	}
	if (!exited) {
		while (waitpid(pid, &wst, 0) < 0) {
			if (errno != EINTR) {
				if (!err) {
					err = BG_ERRNO(errno);
				}
				goto out;
			}
		}
	}
	if (status && err != BG_ETIMEOUT) {
		if (WIFEXITED(wst)) {
			*status = WEXITSTATUS(wst);
		} else if (WIFSIGNALED(wst)) {
			*status = 128 + WTERMSIG(wst);
		} else {
			*status = 255;
		}
	}
out:
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
	}
	if (output) {
		if (!buf) {
			buf = bg_xstrdup("");
		} else {
			buf[n] = '\0';
		}
		*output = buf;
		buf = NULL;
	}
	free(buf);
	return err;
}

static bool needs_quote(const char *s)
{
	if (!*s) {
		return true;
	}
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_./=:,@+%", *s)) {
			return true;
		}
	}
	return false;
}

char *bg_argv_display(char *const argv[])
{
	size_t cap = 1;
	for (size_t i = 0; argv && argv[i]; i++) {
		cap += 4 * strlen(argv[i]) + 3;
	}
	char *out = bg_xmalloc(cap);
	char *p = out;
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i) {
			*p++ = ' ';
		}
		if (!needs_quote(argv[i])) {
			size_t l = strlen(argv[i]);
			memcpy(p, argv[i], l);
			p += l;
			continue;
		}
		*p++ = '\'';
		for (const char *s = argv[i]; *s; s++) {
			if (*s == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *s;
			}
		}
		*p++ = '\'';
	}
	*p = '\0';
	return out;
}

static char actor_buf[256];
static char actor_claim[64];
static pthread_once_t actor_once = PTHREAD_ONCE_INIT;

/*
 * The actor is who the kernel says runs us: the real uid (getuid, which
 * sudo sets and a setuid bit does not change), by name, else "uid N".
 * $SUDO_USER is anyone's to set, so it is only kept beside it as a claim,
 * cut to 32 bytes of [A-Za-z0-9._-] (others become '?') so that it cannot
 * forge a line or a field of the journal.
 */
char *bg_actor_of_uid(long uid)
{
	char host[128] = "localhost", pwbuf[1024];
	struct passwd pw, *res = NULL;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (uid < 0) {
		return bg_xasprintf("unknown uid@%s", host);
	}
	if (getpwuid_r((uid_t)uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res &&
			res->pw_name && *res->pw_name) {
		return bg_xasprintf("%s@%s", res->pw_name, host);
	}
	return bg_xasprintf("uid %ld@%s", uid, host);
}

static void actor_init(void)
{
	const char *sudo = getenv("SUDO_USER");
	char *me = bg_actor_of_uid((long)getuid());

	snprintf(actor_buf, sizeof(actor_buf), "%s", me);
	free(me);
	for (size_t i = 0; sudo && sudo[i] && i < 32; i++) {
		char ch = sudo[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				(ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		actor_claim[i] = ok ? ch : '?';
	}
}

const char *bg_actor(void)
{
	/* Threads may journal (the daemon applies in a worker): initialise once. */
	pthread_once(&actor_once, actor_init);
	return actor_buf;
}

const char *bg_actor_claimed(void)
{
	pthread_once(&actor_once, actor_init);
	return actor_claim[0] ? actor_claim : NULL;
}
