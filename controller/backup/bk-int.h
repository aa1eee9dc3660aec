/*
 * bk-int: what the files of controller/backup share: the part writer
 * (sha256 and optional gzip while the bytes arrive, bk-io.c), the part
 * reader for restores (zlib's gz reader, which passes a plain file
 * through), and the paths of a site's backups.
 */
#ifndef BG_CONTROLLER_BK_INT_H
#define BG_CONTROLLER_BK_INT_H

#include "bk.h"

#include <sys/types.h>

/* The part being written: file, sha256 and deflate state. */
struct bk__writer;

/* Create dir/file (O_EXCL, not following links, 0600); gzip when gz. */
int bk__writer_open(struct bk__writer **out, const char *dir, const char *file, bool gz,
		struct bg_diag *d);
/* A dk_sink_fn: arg is the writer. */
int bk__writer_sink(void *arg, const void *buf, size_t len);
/* Finish the stream, fsync and close; the part's bytes and sha256. */
int bk__writer_close(struct bk__writer *w, uint64_t *bytes, char sha256[65],
		struct bg_diag *d);
void bk__writer_abort(struct bk__writer *w); /* NULL-safe; leaves the file */

struct bk__reader;
/* Open a part for reading (gunzipped when it is gzip). */
int bk__reader_open(struct bk__reader **out, const char *path, struct bg_diag *d);
/* A dk_source_fn: arg is the reader. */
ssize_t bk__reader_source(void *arg, void *buf, size_t cap);
void bk__reader_close(struct bk__reader *r); /* NULL-safe */

/*
 * A dk_source_fn over a reader of a pg_dumpall script for the postgres
 * preset: in the globals section (before the first \connect line) it
 * leaves out the lines that drop and create the role the restore connects
 * as, which always fail (ADR 0016, docs/backups.md); everything else
 * passes unchanged.
 */
struct bk__pg_filter;
struct bk__pg_filter *bk__pg_filter_new(struct bk__reader *r, const char *role);
ssize_t bk__pg_filter_source(void *arg, void *buf, size_t cap);
void bk__pg_filter_free(struct bk__pg_filter *f); /* NULL-safe; not the reader */

/* sha256 and size of a stored file (not following links). */
int bk__file_hash(const char *path, uint64_t *bytes, char sha256[65]);

/* state_dir/backups/SITE and state_dir/backups/SITE/ID: new strings. */
char *bk__site_dir(const struct cfg *cfg, const char *site);
char *bk__dir(const struct cfg *cfg, const char *site, const char *id);
/* Remove the plain files of dir (ours: flat), then dir. */
int bk__dir_remove(const char *dir);

/* The engine's name of a site's volume ("SITE-SHORT", as desired.c). */
char *bk__volume_name(const char *site, const char *vol);
/* The labels of a helper container of backup id (managed, role backup). */
void bk__helper_labels(struct obs_labels *l, const char *site, const char *id);

#endif /* BG_CONTROLLER_BK_INT_H */
