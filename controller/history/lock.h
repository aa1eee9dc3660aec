/*
 * lock: one converger at a time per state directory. A flock(2) lock on
 * STATE_DIR/lock, held for the life of the converger; the file also says
 * who holds it (pid, command, actor, since), so a second converger that
 * gives up can name the holder. The kernel drops the lock when the holder
 * dies, so a kill -9 never leaves a stale lock behind. The lock file is
 * never unlinked (that races with a process that has just opened it).
 *
 * The lock belongs to the open file description, which is marked
 * FD_CLOEXEC: a spawned `docker` or `nginx -s reload` never inherits it. A
 * fork() without exec() would share it; bluegreen never does that.
 */
#ifndef BG_CONTROLLER_LOCK_H
#define BG_CONTROLLER_LOCK_H

#include "bg.h"
#include "bg-err.h"

struct bg_lock;

/* The lock file's name inside the state directory. */
#define LOCK_FILE_NAME "lock"

/*
 * Take the lock, waiting up to wait_ms (0: try once), creating state_dir
 * and the lock file (0600) if needed (bg_state_dir_prepare: someone else's
 * or a group/world-writable state directory, or a lock file owned by
 * another user, is refused, never chmod'ed). `what` describes the holder
 * ("apply 3f2a9c...", "watch"); control characters in it are replaced by
 * spaces. On success the file holds the description of this process.
 * BG_ELOCKED when another process holds it, with "state directory X is
 * locked by pid N (what, actor, since T)" in d (d may be NULL).
 */
int lock_acquire(struct bg_lock **out, const char *state_dir, const char *what,
		uint64_t wait_ms, struct bg_diag *d);
/* Empty the description and release the lock. NULL-safe. */
void lock_release(struct bg_lock *l);

/*
 * Who holds it now, without creating anything: *holder is a new string
 * "pid N (what, actor, since T)" and *pid the holder's pid, or *holder NULL
 * and *pid 0 when nobody holds it. When the lock is held but the holder
 * has not described itself yet, *holder is "an unidentified process" and
 * *pid 0. holder and pid may each be NULL.
 */
int lock_holder(const char *state_dir, char **holder, long *pid);

#endif /* BG_CONTROLLER_LOCK_H */
