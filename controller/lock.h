/*
 * lock: one converger at a time per state directory. An fcntl/flock lock
 * on STATE_DIR/lock, held for the life of the converger; the file also
 * says who holds it (pid, command, actor, since), so a second converger
 * that gives up can name the holder. The kernel drops the lock when the
 * holder dies, so a kill -9 never leaves a stale lock behind.
 */
#ifndef BG_CONTROLLER_LOCK_H
#define BG_CONTROLLER_LOCK_H

#include "bg.h"
#include "bg-err.h"

struct bg_lock;

/*
 * Take the lock, waiting up to wait_ms (0: try once). `what` describes the
 * holder ("apply 3f2a9c...", "watch"). BG_ELOCKED when another process
 * holds it, with "state directory X is locked by pid N (what, actor, since
 * T)" in d.
 */
int lock_acquire(struct bg_lock **out, const char *state_dir, const char *what,
		uint64_t wait_ms, struct bg_diag *d);
void lock_release(struct bg_lock *l); /* NULL-safe */

/* Who holds it now: *holder a new string, NULL when free. */
int lock_holder(const char *state_dir, char **holder, long *pid);

#endif /* BG_CONTROLLER_LOCK_H */
