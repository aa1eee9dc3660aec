/*
 * rec-batch: the journal entries of an apply held back and committed
 * together (issue 11: every LMDB commit is an fdatasync on the switch's
 * path). While a batch is open on this thread, rec_journal and
 * rec_journal_append for its history keep their entries (with their own
 * time) instead of committing each. The executor commits them with a
 * step's "started" intent, before the step runs, so that what a crash
 * leaves still says which step was under way; what follows the last step
 * (its result, the switch's record) is committed by the caller in the same
 * transaction as the end of the apply (hist_apply_end_after), after the
 * switch is verified and before the command returns. The caller may also
 * hold back the start of the apply itself (first): it is then committed
 * by the first flush, with the first step's intent, in one transaction.
 * A thread-local,
 * because struct rec_apply_ctx is shared with every reconciler; the watch
 * daemon runs one apply at a time on its worker thread.
 */
#ifndef BG_REC_BATCH_H
#define BG_REC_BATCH_H

#include "hist.h"

struct rec_batch {
	struct hist *h;
	struct hist_entry *v; /* owned strings */
	size_t n, cap;
	/* Set by the caller after rec_batch_open: called once, by the first
	 * flush, to commit what b holds together with what it must precede
	 * (the apply's start); its error stops the run before the step. */
	int (*first)(struct rec_batch *b, void *arg);
	void *first_arg;
};

/* Open b for h on this thread (one at a time). */
void rec_batch_open(struct rec_batch *b, struct hist *h);
/* Commit what b holds now, in one transaction (an error is logged, as a failed
 * append); the first flush of a b with first set returns first's error. */
int rec_batch_flush(struct rec_batch *b);
/* Stop holding entries back on this thread; b keeps what it holds. */
void rec_batch_close(struct rec_batch *b);
/* NULL-safe. */
void rec_batch_release(struct rec_batch *b);
/* The batch open on this thread, or NULL. */
struct rec_batch *rec_batch_current(void);

#endif
