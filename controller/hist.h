/*
 * hist: the history, one LMDB environment in state_dir. An append-only
 * journal (every plan printed, every apply and each of its steps, every
 * switch and rollback), immutable site versions numbered per site, the
 * plans that were printed (so `apply TOKEN` knows what a token meant), the
 * tokens already used, the revisions an operator rolled back, and the
 * record of applies in progress (so a crash is found at the next start).
 *
 * Nothing is ever deleted or rewritten in the journal. A full map
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
 * Open (creating state_dir 0700 and the environment if needed) the
 * history in state_dir. With HIST_RDONLY and no store yet, *out is a valid
 * empty history that answers every query with nothing.
 */
int hist_open(struct hist **out, const char *state_dir, unsigned flags,
		struct bg_diag *d);
void hist_close(struct hist *h); /* NULL-safe */

/* ---- journal ---- */

struct hist_entry {
	uint64_t seq;      /* assigned by hist_append */
	int64_t time_ms;   /* UTC ms; 0: hist_append fills it */
	char *actor;       /* user@host; NULL: bg_actor() */
	char *action;      /* plan, apply, step, candidate, switch, rollback, drift,
			      error, interrupted, apply-end, retry, ... */
	char *site;        /* NULL for plan-wide entries */
	char *token;       /* NULL if none */
	char *result;      /* ok, failed, refused, pending, interrupted, ... */
	char *details;     /* human text, redacted; NULL if none */
};

void hist_entry_release(struct hist_entry *e);

/* Append one entry (fields are copied). *seq_out may be NULL. */
int hist_append(struct hist *h, const struct hist_entry *e, uint64_t *seq_out);

typedef int (*hist_entry_cb)(const struct hist_entry *e, void *arg);
/*
 * Visit entries in order, oldest first, with seq > after_seq, for one site
 * (NULL: all; entries without a site match only when site is NULL). With
 * limit > 0, only the newest `limit` matching entries are visited (still
 * oldest first). A non-zero return from cb stops the walk and is returned.
 */
int hist_foreach(struct hist *h, const char *site, uint64_t after_seq,
		size_t limit, hist_entry_cb cb, void *arg);
uint64_t hist_last_seq(struct hist *h);

/* One entry as a JSON object text (for --json, JSON lines). */
int hist_entry_to_json(const struct hist_entry *e, struct bg_buf *out);

/* ---- site versions (immutable) ---- */

/*
 * The version number of (site, spec): the existing one if this spec was
 * recorded before, else the next number for the site, recorded now with
 * spec_json (redacted canonical spec) and token. Idempotent.
 */
int hist_version_record(struct hist *h, const char *site, const char *spec,
		const char *spec_json, const char *token, unsigned *version);
/* Look up the spec JSON of version N of a site (*spec_json new string). */
int hist_version_get(struct hist *h, const char *site, unsigned version,
		char **spec, char **spec_json);

/* ---- plans and tokens ---- */

/* Store a printed plan: its token, and a JSON description of what was
 * asked (kind, site filter, retry list) so apply can rebuild it. */
int hist_plan_store(struct hist *h, const char *token, const char *args_json,
		const char *plan_text);
/* BG_ENOT_FOUND if never stored. *args_json is a new string. */
int hist_plan_get(struct hist *h, const char *token, char **args_json);

/*
 * Mark a token used, atomically: BG_ETOKEN_USED if it already was. The
 * check and the mark are one write transaction, so two convergers can
 * never both use it.
 */
int hist_token_use(struct hist *h, const char *token);
bool hist_token_used(struct hist *h, const char *token);

/* ---- rejected revisions ---- */

int hist_rejected_add(struct hist *h, const char *site, const char *spec);
int hist_rejected_clear(struct hist *h, const char *site, const char *spec);

/* ---- applies in progress (crash detection) ---- */

/* Record that an apply of token started (pid and actor kept). */
int hist_apply_begin(struct hist *h, const char *token, uint64_t *seq_out);
/* Record its end; clears the in-progress mark. */
int hist_apply_end(struct hist *h, const char *token, const char *result);
/*
 * Applies that began and never ended. Callers check, while holding the
 * state lock, that no live converger owns them, then journal each as
 * interrupted with hist_apply_interrupted(). Returns the tokens in *out.
 */
int hist_applies_open(struct hist *h, struct bg_strv *out);
int hist_apply_interrupted(struct hist *h, const char *token);

/* ---- facts for the planner ---- */

/* Add one obs_hist_site per site that has history (versions or rejections). */
int hist_observe(struct hist *h, struct obs *o);

#endif /* BG_CONTROLLER_HIST_H */
