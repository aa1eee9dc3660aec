/*
 * bk: the backups of one site (docs/backups.md, ADR 0016). A backup is
 * one moment of a site: a tar stream of each of its named volumes (read
 * through the engine's archive endpoint from a short-lived container
 * that mounts them read-only, never from a host path guessed from
 * Docker's data root), a dump of each backing service that declares one
 * (its backup.command run with the engine's exec, argv only), the site's
 * effective configuration with secrets redacted, and which colour and
 * version were live. It is written to state_dir/backups/SITE/.ID.tmp/
 * (mode 0700) and renamed to state_dir/backups/SITE/ID/ once every part
 * and the manifest are fsynced, so a half backup is never listed. The
 * manifest (sizes, sha256 of every part, versions, duration, who) is a
 * JSON file in that directory and a record in the history (LMDB), so
 * `bluegreen backups` lists without reading the disk and `backup verify`
 * can tell a changed byte from a lost record. Restoring is the caller's
 * plan: bk_restore_* only put bytes back; stopping writers, the fresh
 * backup before, the health gate after are steps of the plan.
 */
#ifndef BG_CONTROLLER_BK_H
#define BG_CONTROLLER_BK_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "cfg.h"
#include "hist.h"
#include "obs.h"
#include "rt.h"

#define BK_ID_MAX 64

/* One file of a backup. */
struct bk_part {
	char *file;        /* name inside the backup directory: "volume-uploads.tar.gz" */
	char *kind;        /* "volume", "dump", "config" */
	char *object;      /* the volume's short name, the service's name, or "site" */
	uint64_t bytes;    /* size of the file as stored */
	char sha256[65];   /* hex, of the file as stored */
};

struct bk_manifest {
	char *id;            /* "20261206T221500Z-3e7a": UTC time, then 4 hex (ms * 16 + a
				random nibble); sorts by age */
	char *site;
	char *why;           /* "manual", "before switch of token T", "before restore of ID" */
	char *actor;
	int64_t started_ms;  /* UTC */
	uint64_t duration_ms;
	char *live_colour;   /* NULL: nothing was live */
	unsigned live_version;
	char *compression;   /* "gzip" or "none" */
	struct bk_part *parts;
	size_t n_parts;
	uint64_t total_bytes;
	int64_t verified_ms; /* last bk_verify that found every hash right; 0: never */
	bool verify_failed;  /* last bk_verify found a part missing or changed */
};

void bk_manifest_release(struct bk_manifest *m); /* NULL-safe */
void bk_manifests_free(struct bk_manifest *v, size_t n);

struct bk_opts {
	const char *why;   /* NULL: "manual" */
	const char *actor; /* NULL: bg_actor() */
	bool compress;     /* gzip the volume tars and dumps (zlib) */
};

/*
 * Back up site now into state_dir/backups (created 0700): its managed
 * volumes (o->volumes labelled with the site), the dump of every service
 * that has backup.command (its running container from o), the redacted
 * config and the live colour from o. Refuses (BG_ERRNO(ENOSPC), a clear
 * message) when the filesystem lacks room for the estimated size. On
 * success the manifest is recorded in h and copied to *out (may be NULL).
 * On failure nothing is listed and the temporary directory is removed.
 */
int bk_create(struct rt *rt, const struct cfg *cfg, const struct cfg_site *site,
		const struct obs *o, struct hist *h, const struct bk_opts *opts,
		struct bk_manifest *out, struct bg_diag *d);

/* The complete backups of site (NULL: every site), newest first. */
int bk_list(struct hist *h, const char *site, struct bk_manifest **out, size_t *n,
		struct bg_diag *d);
/* One backup by id; BG_ENOT_FOUND when there is none. */
int bk_get(struct hist *h, const char *id, struct bk_manifest *out, struct bg_diag *d);

/*
 * Recompute every part's sha256 from the disk and compare with the
 * manifest; records the outcome (verified_ms or verify_failed) in h.
 * Returns 0 when all match, BG_ECORRUPT (a message naming the part)
 * when one is missing or changed.
 */
int bk_verify(const struct cfg *cfg, struct hist *h, const char *id, struct bg_diag *d);

/*
 * Put one volume's tar back (the volume emptied first, then extracted),
 * through a short-lived container that mounts it; no container of the
 * site may be writing to it (the plan stopped them).
 */
int bk_restore_volume(struct rt *rt, const struct cfg *cfg, const struct bk_manifest *m,
		const char *volume, struct bg_diag *d);
/* Feed one service's dump to its backup.restore in its running container. */
int bk_restore_dump(struct rt *rt, const struct cfg *cfg, const struct cfg_site *site,
		const struct obs *o, const struct bk_manifest *m, const char *service,
		struct bg_diag *d);

/*
 * Retention after a successful backup: keep the site's backup.keep
 * newest and drop those older than backup.max_age, never the newest
 * complete one. Sets *removed to how many went (may be NULL).
 */
int bk_prune(const struct cfg *cfg, const struct cfg_site *site, struct hist *h,
		size_t *removed, struct bg_diag *d);

/* ---- pure helpers (bk-manifest.c; unit-tested) ---- */

/* "20261206T221500Z-3f2a": now_ms as UTC to the second, then 4 hex digits:
 * its milliseconds * 16 + the low nibble of rnd (ids sort by time). */
void bk_id_make(int64_t now_ms, unsigned rnd, char out[BK_ID_MAX]);
/* Exactly that shape (so an id is safe as a file name and a key). */
bool bk_id_valid(const char *id);
/* The manifest as JSON text (manifest.json and the history record). */
int bk_manifest_to_json(const struct bk_manifest *m, struct bg_buf *out);
/* Parse it back into m (zeroed by the caller); BG_EPARSE with the field
 * in d. m is released on error. */
int bk_manifest_from_json(const char *s, struct bk_manifest *m, struct bg_diag *d);
/*
 * Which of a site's backups retention drops: v newest first, drop[i] set
 * for each one to remove. Beyond the keep newest, or older than max_age_ms
 * (0: no limit) at now_ms; never the newest one whose last verify did not
 * fail (the last good one). Returns how many are dropped.
 */
size_t bk_prune_choose(const struct bk_manifest *v, size_t n, unsigned keep,
		uint64_t max_age_ms, int64_t now_ms, bool *drop);

#endif /* BG_CONTROLLER_BK_H */
