/*
 * bg-fs: the file helpers of bg-fs.h. Directories are made and trusted
 * (owner and mode checked before bluegreen reads or writes there), files
 * are written atomically (random O_EXCL temporary, fsync, rename, fsync of
 * the directory) and read safely (no link followed, never blocking,
 * size-capped, optionally confined beneath a directory).
 */
#include "bg.h"
#include "bg-fs.h"
#include "bg-err.h"
#include "bg-mem.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

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
