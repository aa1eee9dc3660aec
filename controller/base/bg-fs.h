/*
 * bg-fs: directories and files as bluegreen must handle them: a 0700
 * directory maker, trusted-directory checks (owner and mode), files written
 * atomically (random O_EXCL temp + fsync + rename + fsync of the directory,
 * in a directory only we can write) and files read safely (regular files
 * only, no link followed, never blocking, size-capped; optionally confined
 * beneath a directory).
 */
#ifndef BG_CONTROLLER_BG_FS_H
#define BG_CONTROLLER_BG_FS_H

#include "bg.h"

struct bg_diag;
struct stat;

/* mkdir -p with mode for every directory created; existing ones untouched. */
int bg_mkdir_p(const char *path, unsigned mode);
/*
 * Whether path, a directory bluegreen reads its configuration from or keeps
 * its state in, can be trusted: owned by the effective user or by root
 * (who can change anything anyway), and writable by no one else (no group
 * or other write bit). Whoever else can write there decides what bluegreen,
 * often root, does. `what` names it in messages ("state directory"). With
 * nofollow a symbolic link is refused instead of followed. Returns 0,
 * BG_ERRNO(ENOENT) when it does not exist (nothing in d), BG_ERRNO(EPERM)
 * for an owner or mode refused (d says how to fix it: chown, chmod go-w),
 * ELOOP, ENOTDIR or another error, each explained in d (may be NULL).
 */
int bg_dir_trusted(const char *path, const char *what, bool nofollow, struct bg_diag *d);
/*
 * Make sure `path` is a state directory bluegreen may use, creating it
 * (mode 0700; parents 0755) if needed. It must pass bg_dir_trusted without
 * following a symbolic link. Only a directory created by this call is
 * chmod'ed (to 0700, whatever the umask): an existing one keeps its mode,
 * so a read-only command never changes a directory it did not create.
 * Errors are explained in d (may be NULL).
 */
int bg_state_dir_prepare(const char *path, struct bg_diag *d);
/* bg_state_dir_prepare without the explanation. */
int bg_state_dir_ensure(const char *path);

/*
 * Write a file atomically: write to a temporary file in tmp_dir (NULL: the
 * target's directory), fsync it, rename it over path, fsync the target
 * directory. The temporary directory must be on the same filesystem. mode
 * is applied to the new file. The temporary name is random (".NAME.HEX.tmp")
 * and created with O_EXCL, so nothing planted there is ever opened. Both
 * directories must be owned by us or root and not writable by group or
 * others (sticky or not): BG_EREFUSED otherwise. The _why form sets *why
 * (when not NULL) to a static description of any failure.
 */
int bg_file_write_atomic(const char *path, const char *tmp_dir, const void *data,
		size_t len, unsigned mode);
int bg_file_write_atomic_why(const char *path, const char *tmp_dir, const void *data,
		size_t len, unsigned mode, const char **why);

/*
 * Read a whole regular file, at most max bytes, without ever blocking or
 * following a link at the last component: opened O_NOFOLLOW|O_NONBLOCK,
 * then fstat must say regular file of at most max bytes. *out is
 * NUL-terminated; *len (may be NULL) excludes the NUL.
 *
 * Errors: BG_ERRNO(ENOENT) if missing, BG_ETOO_BIG beyond max,
 * BG_ERRNO(EISDIR) for a directory, BG_EREFUSED for a link, FIFO, socket,
 * device, or a path leaving dir (below); others as errno.
 *
 * bg_file_read_safe: with dir non-NULL, path must be relative and is
 * opened beneath dir one component at a time (openat), refusing ".." and
 * any symbolic link on the way, so it cannot name a file outside dir.
 * *st (may be NULL) gets the file's fstat on success. *why (may be NULL)
 * gets a static description of any failure, fit for "FILE: error: WHY"
 * ("not a regular file (fifo)"). Never the file's content.
 */
/*
 * Open path read-only for a reader that keeps the descriptor (log -f):
 * the same checks as bg_file_read (no link followed, never blocks, a
 * regular file only). Returns the descriptor, or a negative error with
 * *why (may be NULL) set as for bg_file_read_safe.
 */
int bg_file_open_regular(const char *path, struct stat *st, const char **why);
/* Whether a *why of bg_file_read_safe means "the path leaves dir" (.., absolute). */
bool bg_file_why_outside(const char *why);
int bg_file_read(const char *path, size_t max, char **out, size_t *len);
int bg_file_read_safe(const char *dir, const char *path, size_t max, char **out,
		size_t *len, struct stat *st, const char **why);

#endif /* BG_CONTROLLER_BG_FS_H */
