/*
 * hist-batch.h: history writes that share one transaction where the
 * callers used to commit twice in a row (issue 11: each LMDB commit is a
 * data fdatasync plus a synchronous meta page write, on the switch's
 * path). Same records, same order, one commit: after a SIGKILL either
 * both are there or neither.
 */
#ifndef BG_HIST_BATCH_H
#define BG_HIST_BATCH_H

#include "hist.h"

/*
 * hist_apply_end_as (apply-end entry, in-progress mark cleared), then
 * `then` appended to the journal (as hist_append: actor and time filled
 * when absent), in one transaction. then NULL: as hist_apply_end_as.
 */
int hist_apply_end_with(struct hist *h, const char *token, const char *result,
		const char *actor, const struct hist_entry *then);

/*
 * before[0..n_before) appended (as hist_append: each checked, actor and
 * time filled when absent), then as hist_apply_end_with, all in one
 * transaction: the results an apply held back (rec-batch.h) land with its
 * end, in the order they happened. Nothing is written if one is invalid.
 */
int hist_apply_end_after(struct hist *h, const struct hist_entry *before, size_t n_before,
		const char *token, const char *result, const char *actor,
		const struct hist_entry *then);

/* n entries appended in order (as hist_append each), one transaction; 0 when n is 0. */
int hist_append_all(struct hist *h, const struct hist_entry *e, size_t n);

/*
 * hist_token_use then hist_apply_begin_as in one transaction: the token
 * is used exactly when its apply is recorded as begun (BG_ETOKEN_USED as
 * either would return it; nothing written then).
 */
int hist_apply_begin_used(struct hist *h, const char *token, const char *actor);

/*
 * The start of an apply (hist_apply_begin_used when use, else
 * hist_apply_begin_as), then then[0..n) appended (as hist_append), in one
 * transaction: the executor's first step intent lands with the start
 * (issue 11: one commit fewer before a rollback's switch). Nothing is
 * written when one entry is invalid or the start is refused.
 */
int hist_apply_begin_then(struct hist *h, const char *token, const char *actor, bool use,
		const struct hist_entry *then, size_t n);

/* hist-journal.c: then's checks and defaults, as hist_append applies them. */
int hist__entry_prepare(const struct hist_entry *e, struct hist_entry *full);

#endif
