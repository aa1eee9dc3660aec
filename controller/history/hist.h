/*
 * hist: the history, one LMDB environment in state_dir. An append-only
 * journal (every plan printed, every apply and each of its steps, every
 * switch and rollback), immutable site versions numbered per site, the
 * plans that were printed (so `apply TOKEN` knows what a token meant), the
 * tokens already used, the revisions an operator rolled back, and the
 * record of applies in progress (so a crash is found at the next start).
 *
 * Nothing is ever deleted or rewritten in the journal, and each entry
 * holds the hash of the one before (a chain: hist_journal_verify). A full map
 * (MDB_MAP_FULL) grows the map and retries the transaction; no entry is
 * lost. Every write transaction ends in the function that began it.
 * Secrets never reach this module: callers pass redacted text.
 */
#ifndef BG_CONTROLLER_HIST_H
#define BG_CONTROLLER_HIST_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "obs.h"

struct hist;

enum hist_open_flags {
	HIST_RDONLY = 1 << 0, /* no writes; a missing store opens as empty */
};

/*
 * The map (the most the store may hold before it grows) of a store created
 * now. It only reserves address space: the files hold what is written.
 * The map doubles whenever it is full, so the start can be small.
 * BLUEGREEN_HIST_MAPSIZE (bytes, or with a K/M/G suffix) overrides the
 * default for stores created by hist_open(); the tests use it to force
 * growth. An existing store keeps the size recorded in it.
 */
#define HIST_MAPSIZE_DEFAULT ((size_t)1 << 20)
#define HIST_MAPSIZE_ENV "BLUEGREEN_HIST_MAPSIZE"

struct hist_opts {
	size_t map_size; /* for a new store; 0: $BLUEGREEN_HIST_MAPSIZE or the default */
};

/*
 * Open (creating state_dir 0700, STATE_DIR/history 0700 and the
 * environment, files 0600, if needed) the history in state_dir. With
 * HIST_RDONLY and no store yet, *out is a valid empty history that answers
 * every query with nothing, and nothing is created; writes to a read-only
 * history fail with BG_ERRNO(EROFS).
 *
 * A struct hist may be shared by the threads of one process (transactions
 * are not tied to threads). A child after fork() must not use its
 * parent's handle (it may open its own), and a process opens a given store
 * once: a second open of the same store in one process fails with
 * BG_ERRNO(EBUSY), because closing it would silently drop the first one's
 * LMDB locks.
 */
int hist_open(struct hist **out, const char *state_dir, unsigned flags,
		struct bg_diag *d);
int hist_open_ex(struct hist **out, const char *state_dir, unsigned flags,
		const struct hist_opts *opts, struct bg_diag *d);
void hist_close(struct hist *h); /* NULL-safe */

struct hist_stats {
	size_t map_size;   /* current map of this process */
	size_t used_bytes; /* pages in use, in bytes */
	unsigned map_grows; /* times this handle grew the map */
	uint64_t last_seq;
};
int hist_stats_get(struct hist *h, struct hist_stats *st);

/* ---- journal ---- */

/* Longest site name, spec hash or token the store accepts (key bytes). */
#define HIST_NAME_MAX 200

struct hist_entry {
	uint64_t seq;      /* assigned by hist_append */
	int64_t time_ms;   /* UTC ms; 0: hist_append fills it */
	char *actor;       /* user@host; NULL: bg_actor(); the daemon passes its client's */
	char *action;      /* plan, apply, step, candidate, switch, rollback, drift,
			      error, interrupted, apply-end, retry, ... */
	char *site;        /* NULL for plan-wide entries */
	char *token;       /* NULL if none */
	char *result;      /* ok, failed, refused, pending, interrupted, ... */
	char *details;     /* human text, redacted; NULL if none */
	/*
	 * $SUDO_USER beside the actor: a claim nothing checked (any process
	 * may set it). NULL: bg_actor_claimed() when actor is NULL too, else
	 * none. The actor itself always comes from the real uid.
	 */
	char *sudo_user;
	/* Set by the store (ignored by hist_append): the hex SHA-256 of the
	 * previous entry's record, HIST_GENESIS for entry 1; NULL if unchained. */
	char *prev;
};

void hist_entry_release(struct hist_entry *e);

/*
 * Append one entry (fields are copied; e->seq is ignored). action is
 * required; site and token, when given, are 1..HIST_NAME_MAX bytes. Text
 * that is not valid UTF-8 is stored with U+FFFD in place of the bad bytes,
 * so `history --json` always prints valid JSON. *seq_out may be NULL.
 */
int hist_append(struct hist *h, const struct hist_entry *e, uint64_t *seq_out);

typedef int (*hist_entry_cb)(const struct hist_entry *e, void *arg);
/*
 * Visit entries in order, oldest first, with seq > after_seq, for one site
 * (NULL: all; entries without a site match only when site is NULL). With
 * limit > 0, only the newest `limit` matching entries are visited (still
 * oldest first). A non-zero return from cb stops the walk and is returned.
 * The walk covers the entries that existed when it began; e is borrowed
 * for the call only. No transaction is open while cb runs, so cb may use
 * h (append, for instance).
 */
int hist_foreach(struct hist *h, const char *site, uint64_t after_seq,
		size_t limit, hist_entry_cb cb, void *arg);
uint64_t hist_last_seq(struct hist *h);

/*
 * One entry as a JSON object text, appended to out without a newline (for
 * --json, JSON lines): seq, time (ISO 8601 UTC), time_ms, actor, action,
 * site, token, result, details, sudo_user, prev; absent fields are null.
 * docs/history.md.
 */
int hist_entry_to_json(const struct hist_entry *e, struct bg_buf *out);

/* ---- the chain: verification and export ---- */

/*
 * The journal is a hash chain: each entry's record holds "prev", the hex
 * SHA-256 of the previous entry's record bytes exactly as stored (entry 1:
 * HIST_GENESIS), and meta holds the head (the last seq and its hash),
 * written in the same transaction as the entry. docs/history.md says what
 * the chain proves and what it cannot.
 */
enum hist_break {
	HIST_INTACT = 0,
	HIST_BREAK_CHANGED,    /* its bytes are not what the chain recorded */
	HIST_BREAK_MISSING,    /* removed (a gap, or the tail the head names) */
	HIST_BREAK_REORDERED,  /* a record stands where another belongs */
	HIST_BREAK_UNREADABLE, /* not a journal record at all */
	HIST_BREAK_UNCHAINED,  /* a format 1 store, never chained yet */
};
/* "intact", "changed", "missing", "reordered", "unreadable", "unchained". */
const char *hist_break_name(enum hist_break b);

struct hist_verify {
	uint64_t entries;    /* records read */
	uint64_t head_seq;   /* seq of the last record read */
	char head_hash[65];  /* hex SHA-256 of its bytes ("" if none) */
	enum hist_break brk; /* the first break; HIST_INTACT if none */
	uint64_t bad_seq;    /* the entry it names */
	size_t bad_line;     /* an export: that entry's line (1-based), else 0 */
	char why[320];       /* what is wrong, in words */
};

/*
 * Called for each stored record, in seq order, with its bytes exactly as
 * stored (borrowed; a read transaction is open: do not use h). A non-zero
 * return stops the walk and is returned.
 */
typedef int (*hist_record_cb)(uint64_t seq, const void *rec, size_t len, void *arg);

/*
 * Check the whole journal (one read transaction): sequence numbers 1..N
 * without a gap, each record an entry whose seq is its key, each link the
 * hash of the record before, and the head in meta naming the last entry
 * and its hash. Fills *v (first break only) and returns 0 once the check
 * ran, whatever it found; <0 when the store could not be read. cb (may be
 * NULL) sees every record, also after a break (an export keeps evidence).
 */
int hist_journal_verify(struct hist *h, hist_record_cb cb, void *arg,
		struct hist_verify *v);

/*
 * Check an export (`history --export`: one stored record per line, each
 * followed by '\n') held in data: entry 1 first, each link the hash of the
 * line before. Lines are counted from 1. Returns 0 once the check ran
 * (*v says what it found). An export has no head: a removed last line
 * goes unseen unless the reader compares v->head_* with the head printed
 * by the export.
 */
int hist_export_verify(const char *data, size_t len, struct hist_verify *v);

/* ---- site versions (immutable) ---- */

/*
 * The version number of (site, spec): the existing one if this spec was
 * recorded before, else the next number for the site, recorded now with
 * spec_json (redacted canonical spec) and token (may be NULL). Idempotent:
 * the first record of a spec is never rewritten. A known spec is only a
 * lookup, which a read-only history answers too.
 */
int hist_version_record(struct hist *h, const char *site, const char *spec,
		const char *spec_json, const char *token, unsigned *version);
/*
 * Look up version N of a site: *spec (the hash) and *spec_json are new
 * strings (either pointer may be NULL). BG_ENOT_FOUND if there is none.
 */
int hist_version_get(struct hist *h, const char *site, unsigned version,
		char **spec, char **spec_json);

/* ---- plans and tokens ---- */

/*
 * Store a printed plan: its token, and a JSON description of what was
 * asked (kind, site filter, retry list) so apply can rebuild it.
 * plan_text may be NULL. Printing the same token again replaces the record
 * (same plan, latest arguments and time); plans are not the journal.
 */
int hist_plan_store(struct hist *h, const char *token, const char *args_json,
		const char *plan_text);
/* BG_ENOT_FOUND if never stored. *args_json is a new string. */
int hist_plan_get(struct hist *h, const char *token, char **args_json);

/*
 * The execution settings the last apply ran with (plan_exec_to_json(),
 * ADR 0012): stored by apply once its token is used, read by plan to say
 * what changed since. Each store replaces the previous record.
 * BG_ENOT_FOUND when no apply recorded them yet. *json is a new string.
 */
int hist_exec_settings_store(struct hist *h, const char *json);
int hist_exec_settings_get(struct hist *h, char **json);

/*
 * Mark a token used, atomically: BG_ETOKEN_USED if it already was. The
 * check and the mark are one write transaction, so two convergers can
 * never both use it.
 */
int hist_token_use(struct hist *h, const char *token);
bool hist_token_used(struct hist *h, const char *token);

/* ---- rejected revisions ---- */

/*
 * Both are idempotent: adding twice keeps the first mark, and clearing a
 * spec that is not marked succeeds.
 */
int hist_rejected_add(struct hist *h, const char *site, const char *spec);
int hist_rejected_clear(struct hist *h, const char *site, const char *spec);

/* ---- applies in progress (crash detection) ---- */

/*
 * Record that an apply of token started: journals action "apply", result
 * "started" and marks the token in progress with our pid, actor and that
 * entry's seq (*seq_out, may be NULL), in one transaction.
 * BG_ETOKEN_USED if the token is already marked.
 */
int hist_apply_begin(struct hist *h, const char *token, uint64_t *seq_out);
/*
 * Record its end: journals action "apply-end" with result (details name
 * the seq of the begin entry) and clears the mark, in one transaction. The
 * end is journaled even when no mark exists (a warning is logged).
 */
int hist_apply_end(struct hist *h, const char *token, const char *result);
/*
 * The same, journaled as actor (user@host of whoever asked: the watch
 * daemon passes its control-socket client's) with no $SUDO_USER claim
 * beside it (ours says nothing about them); NULL actor: as above.
 */
int hist_apply_begin_as(struct hist *h, const char *token, const char *actor,
		uint64_t *seq_out);
int hist_apply_end_as(struct hist *h, const char *token, const char *result,
		const char *actor);
/*
 * Applies that began and never ended. Callers check, while holding the
 * state lock, that no live converger owns them, then journal each as
 * interrupted with hist_apply_interrupted(). Appends the tokens (sorted)
 * to *out, which the caller initialised.
 */
int hist_applies_open(struct hist *h, struct bg_strv *out);
/*
 * Journal action "interrupted", result "interrupted" for token (details
 * name the begin entry's seq, pid, actor and time) and clear its mark, in
 * one transaction. BG_ENOT_FOUND if the token is not marked.
 */
int hist_apply_interrupted(struct hist *h, const char *token);

/* ---- facts for the planner ---- */

/*
 * Add one obs_hist_site per site that has history (versions or
 * rejections): last_version, spec_versions ("spec=version", sorted),
 * rejected (sorted). Sites are added in name order; call obs_finish().
 */
int hist_observe(struct hist *h, struct obs *o);

/* ---- backups (hist-backup.c): manifests by id, as JSON text ---- */

/* Record (or replace) the manifest of backup id. */
int hist_backup_put(struct hist *h, const char *id, const char *json);
/* *json a new string; BG_ENOT_FOUND when there is no such backup. */
int hist_backup_get(struct hist *h, const char *id, char **json);
/* Forget a backup; a missing one is success. */
int hist_backup_del(struct hist *h, const char *id);
/* Every manifest, oldest id first (ids sort by time). */
int hist_backup_list(struct hist *h, struct bg_strv *jsons);

#endif /* BG_CONTROLLER_HIST_H */
