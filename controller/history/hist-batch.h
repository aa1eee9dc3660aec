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

/* hist-journal.c: then's checks and defaults, as hist_append applies them. */
int hist__entry_prepare(const struct hist_entry *e, struct hist_entry *full);

#endif
