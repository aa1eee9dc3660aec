/*
 * lock: see lock.h. flock(2) rather than fcntl record locks: a record lock
 * belongs to the process and silently disappears when *any* descriptor of
 * the file is closed, while a flock belongs to the one open file
 * description we keep for as long as we hold it. The holder's description
 * is a few "key: value" lines in the lock file itself, rewritten by each
 * new holder; a reader trusts it only while the lock is really held, and
 * waits briefly for a new holder that has not written it yet.
 */
#include "bg.h"
#include "lock.h"
#include "bg-log.h"
#include "bg-util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Between two attempts while waiting: short enough to feel immediate. */
#define LOCK_POLL_MS 50
/* How long a reader waits for a new holder to describe itself. */
#define LOCK_DESC_TRIES 10
#define LOCK_DESC_PAUSE_MS 10
#define LOCK_DESC_MAX 4096
#define LOCK_WHAT_MAX 200

struct bg_lock {
	int fd;
	char *path;
};

/* The description a holder leaves in the file. */
struct holder_desc {
	long pid;
	char *what;
	char *actor;
	char *since;
};

static void holder_desc_release(struct holder_desc *h)
{
	free(h->what);
	free(h->actor);
	free(h->since);
	memset(h, 0, sizeof(*h));
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

static char *lock_path(const char *state_dir)
{
	return bg_xasprintf("%s/%s", state_dir, LOCK_FILE_NAME);
}

/* One line per field; a newline in `what` would forge another field. */
static char *what_clean(const char *what)
{
	char *s = bg_xstrndup(what ? what : "", LOCK_WHAT_MAX);
	for (char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*p = ' ';
		}
	}
	return s;
}

static bool pid_alive(long pid)
{
	if (pid <= 0 || pid > INT32_MAX) {
		return false;
	}
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/*
 * Parse the description; 0 when it names a pid, BG_ENOT_FOUND when the
 * file is empty or does not (a holder between flock and write).
 */
static int holder_desc_read(int fd, struct holder_desc *h)
{
	char buf[LOCK_DESC_MAX + 1];
	ssize_t n;

	memset(h, 0, sizeof(*h));
	do {
		n = pread(fd, buf, LOCK_DESC_MAX, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return BG_ERRNO(errno);
	}
	buf[n] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line;
			line = strtok_r(NULL, "\n", &save)) {
		char *colon = strstr(line, ": ");
		if (!colon) {
			continue;
		}
		*colon = '\0';
		const char *val = colon + 2;
		if (strcmp(line, "pid") == 0) {
			char *end = NULL;
			errno = 0;
			long pid = strtol(val, &end, 10);
			if (errno == 0 && end != val && *end == '\0' && pid > 0) {
				h->pid = pid;
			}
		} else if (strcmp(line, "what") == 0 && !h->what) {
			h->what = bg_xstrdup(val);
		} else if (strcmp(line, "actor") == 0 && !h->actor) {
			h->actor = bg_xstrdup(val);
		} else if (strcmp(line, "since") == 0 && !h->since) {
			h->since = bg_xstrdup(val);
		}
	}
	if (h->pid <= 0) {
		holder_desc_release(h);
		return BG_ENOT_FOUND;
	}
	return 0;
}

/*
 * Describe the holder of a lock we know to be held. A description naming
 * a dead pid is left over from a holder that was killed; the new holder
 * is about to overwrite it, so give it a moment before settling for it.
 */
static char *holder_describe(int fd, long *pid_out)
{
	struct holder_desc h;
	char *desc = NULL;
	int err = BG_ENOT_FOUND;

	for (int i = 0; i < LOCK_DESC_TRIES; i++) {
		err = holder_desc_read(fd, &h);
		if (err == 0 && pid_alive(h.pid)) {
			break;
		}
		if (i + 1 < LOCK_DESC_TRIES) {
			if (err == 0) {
				holder_desc_release(&h);
			}
			sleep_ms(LOCK_DESC_PAUSE_MS);
		}
	}
	if (err) {
		*pid_out = 0;
		return bg_xstrdup("an unidentified process");
	}
	desc = bg_xasprintf("pid %ld (%s, %s, since %s)", h.pid,
			h.what ? h.what : "?", h.actor ? h.actor : "?",
			h.since ? h.since : "?");
	*pid_out = h.pid;
	holder_desc_release(&h);
	return desc;
}

static int write_all_at0(int fd, const char *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = pwrite(fd, data + off, len - off, (off_t)off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return BG_ERRNO(errno);
		}
		off += (size_t)n;
	}
	return 0;
}

static int holder_write(int fd, const char *what)
{
	char since[32];
	char *clean = what_clean(what);
	bg_time_format_utc(bg_now_ms(), since);
	char *text = bg_xasprintf("pid: %ld\nwhat: %s\nactor: %s\nsince: %s\n",
			(long)getpid(), clean, bg_actor(), since);
	int err = 0;

	if (ftruncate(fd, 0) < 0) {
		err = BG_ERRNO(errno);
		goto out;
	}
	/* No fsync: readers see the page cache, and they trust these lines only
	 * while the flock is held; after a machine crash nobody holds it, so
	 * what reached the disk is never read as true. (An fsync here cost up
	 * to 20 ms of every command's path under load, issue 11.) */
	err = write_all_at0(fd, text, strlen(text));
out:
	free(text);
	free(clean);
	return err;
}

/* Open (creating) the lock file: ours, private, a regular file. */
static int lock_file_open(const char *path, int *fd_out, struct bg_diag *d)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0) {
		int err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot open lock file '%s': %s", path,
				bg_strerror(err));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		bg_diag_error(d, NULL, "lock file '%s' is not a regular file", path);
		close(fd);
		return BG_ERRNO(EINVAL);
	}
	/*
	 * Only our own file is made private: a lock file someone else put in
	 * the state directory is refused, never chmod'ed (as root that would
	 * change a file that is not ours).
	 */
	if (st.st_uid != geteuid()) {
		bg_diag_error(d, NULL, "lock file '%s' belongs to uid %ld, not to the user "
				"bluegreen runs as (uid %ld): remove it, or run as its owner", path,
				(long)st.st_uid, (long)geteuid());
		close(fd);
		return BG_ERRNO(EPERM);
	}
	if ((st.st_mode & 077) && fchmod(fd, 0600) < 0) {
		int err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot make lock file '%s' private: %s", path,
				bg_strerror(err));
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

/* 0 when locked, BG_ELOCKED when held elsewhere, or a system error. */
static int flock_try(int fd, int op)
{
	for (;;) {
		if (flock(fd, op | LOCK_NB) == 0) {
			return 0;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno == EWOULDBLOCK) {
			return BG_ELOCKED;
		}
		return BG_ERRNO(errno);
	}
}

int lock_acquire(struct bg_lock **out, const char *state_dir, const char *what,
		uint64_t wait_ms, struct bg_diag *d)
{
	struct bg_lock *l = NULL;
	char *path = NULL;
	int64_t start;
	int fd = -1;
	int err;

	*out = NULL;
	/* Creates it, or refuses someone else's (bg_state_dir_prepare says why). */
	err = bg_state_dir_prepare(state_dir, d);
	if (err) {
		return err;
	}
	path = lock_path(state_dir);
	err = lock_file_open(path, &fd, d);
	if (err) {
		goto out;
	}

	start = bg_mono_ms();
	for (;;) {
		err = flock_try(fd, LOCK_EX);
		if (err != BG_ELOCKED) {
			break;
		}
		int64_t waited = bg_mono_ms() - start;
		if (waited < 0 || (uint64_t)waited >= wait_ms) {
			break;
		}
		uint64_t left = wait_ms - (uint64_t)waited;
		sleep_ms(left < LOCK_POLL_MS ? left : LOCK_POLL_MS);
	}
	if (err == BG_ELOCKED) {
		long pid = 0;
		char *desc = holder_describe(fd, &pid);
		/*
		 * No description at all may mean the "holder" was only a
		 * lock_holder() probe (a shared lock held for microseconds):
		 * one more try before refusing.
		 */
		if (pid == 0) {
			err = flock_try(fd, LOCK_EX);
		}
		if (err == BG_ELOCKED) {
			bg_diag_error(d, NULL, "state directory %s is locked by %s",
					state_dir, desc);
		}
		free(desc);
	}
	if (err) {
		if (err != BG_ELOCKED) {
			bg_diag_error(d, NULL, "cannot lock '%s': %s", path,
					bg_strerror(err));
		}
		goto out;
	}
	err = holder_write(fd, what);
	if (err) {
		/* The lock is still ours and sound; only the description is missing. */
		bg_log(BG_LOG_WARN, "cannot describe the holder in '%s': %s", path,
				bg_strerror(err));
		err = 0;
	}
	l = bg_xcalloc(1, sizeof(*l));
	l->fd = fd;
	l->path = path;
	fd = -1;
	path = NULL;
	*out = l;
out:
	if (fd >= 0) {
		close(fd);
	}
	free(path);
	return err;
}

void lock_release(struct bg_lock *l)
{
	if (!l) {
		return;
	}
	if (l->fd >= 0) {
		/* Still ours: empty it so no stale description outlives us. */
		if (ftruncate(l->fd, 0) < 0) {
			bg_log(BG_LOG_WARN, "cannot empty '%s': %s", l->path, strerror(errno));
		}
		/* close() drops the flock; LOCK_UN first says it explicitly. */
		flock(l->fd, LOCK_UN);
		close(l->fd);
	}
	free(l->path);
	free(l);
}

int lock_holder(const char *state_dir, char **holder, long *pid)
{
	char *path = lock_path(state_dir);
	char *desc = NULL;
	long who = 0;
	int err = 0;
	/* Never blocks on a FIFO planted as the lock; only a regular file counts. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;

	if (fd < 0) {
		/* No file (or no directory): nobody ever held it. */
		err = (errno == ENOENT || errno == ENOTDIR) ? 0 : BG_ERRNO(errno);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = BG_ERRNO(EINVAL);
		goto out;
	}
	/* A shared lock is granted exactly when no one holds the exclusive one. */
	err = flock_try(fd, LOCK_SH);
	if (err == 0) {
		flock(fd, LOCK_UN);
		goto out;
	}
	if (err != BG_ELOCKED) {
		goto out;
	}
	err = 0;
	desc = holder_describe(fd, &who);
out:
	if (fd >= 0) {
		close(fd);
	}
	free(path);
	if (holder) {
		*holder = desc;
	} else {
		free(desc);
	}
	if (pid) {
		*pid = who;
	}
	return err;
}
