/*
 * approve: the approval file of the watch daemon (SPEC §2, docs/watch.md).
 * An operator approves a plan by appending a line `TOKEN [--confirm
 * TEXT]...` to CONFIG_DIR/approve; the daemon reads the file, parses it
 * here, and hands each approval it has not acted on yet to the apply queue
 * (queue.h). This module holds the grammar (pure, fuzzed by fuzz-approve),
 * the key that identifies one approval (token plus the hash of its
 * phrases), and the book of what was already acted on: STATE_DIR/approve.seen
 * and the bad lines already reported, so each is told once.
 */
#ifndef BG_CONTROLLER_DAEMON_APPROVE_H
#define BG_CONTROLLER_DAEMON_APPROVE_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"

/* The journal of tokens the approval file handed to apply, in STATE_DIR. */
#define APPROVE_SEEN_NAME "approve.seen"
/* The approval file is read on the loop: never more than this. */
#define APPROVE_MAX_BYTES (1024u * 1024)

struct hist;
struct queue;
struct queue_req;
struct watch_printer;

/* ---- the grammar (pure; exposed for tests) ---- */

struct approve_item {
	char *token;
	struct bg_strv confirms;
	unsigned line;
};

struct approve_list {
	struct approve_item *v;
	size_t n, cap;
};

void approve_list_init(struct approve_list *a);
/* NULL-safe; leaves a empty (initialised). */
void approve_list_release(struct approve_list *a);

/*
 * Parse the approval file (`name` is how diagnostics call it). One
 * approval per line: `TOKEN [--confirm TEXT]...`, where TEXT is one word
 * or a "double-quoted" string (\" and \\ escape); blank lines and lines
 * starting with '#' are skipped. A bad line is reported in d as
 * `approve:LINE:COL: error: ...` and skipped; the others still count.
 * Returns the number of bad lines (0: all good).
 */
size_t approve_parse(const char *name, const char *data, size_t len,
		struct approve_list *out, struct bg_diag *d);

/*
 * What STATE_DIR/approve.seen records of an approval taken from the file:
 * "TOKEN HASH", HASH from its --confirm phrases (order does not matter, the
 * phrases are not stored); a new string. approve_seen: is this approval
 * (or, for a bare-token line of an older daemon, any approval of the
 * token) in seen? The same approval is acted on once; changed phrases make
 * a new one.
 */
char *approve_key(const char *token, const struct bg_strv *confirms);
bool approve_seen(const struct bg_strv *seen, const char *token,
		const struct bg_strv *confirms);

/* ---- the book of approvals already acted on ---- */

struct approve_book {
	char *seen_path;          /* STATE_DIR/approve.seen */
	struct bg_strv seen;      /* approval keys already handed to apply */
	struct bg_strv reported;  /* bad approval lines already reported */
};

/* Empty book for state_dir (borrowed, copied); approve_book_load reads the file. */
void approve_book_init(struct approve_book *b, const char *state_dir);
void approve_book_release(struct approve_book *b);
/* Read STATE_DIR/approve.seen (a missing or unreadable file is an empty book). */
void approve_book_load(struct approve_book *b);
/*
 * Remember for good that this approval was acted on: in memory, and one
 * line appended (and synced) to b->seen_path, a regular file of ours, never
 * through a link or into a FIFO. Returns 0, or a negative error when the
 * line could not be written (the memory copy is kept anyway).
 */
int approve_book_add(struct approve_book *b, const char *token,
		const struct bg_strv *confirms);

/*
 * approve_book_add, and a "watch: warning:" on pr when the line could not
 * be written: after a restart the approval would be tried again (a used
 * token is refused anyway).
 */
void approve_book_mark(struct approve_book *b, const char *token,
		const struct bg_strv *confirms, const struct watch_printer *pr);

/*
 * Read DIR/approve and queue (in q, journaled in h) each approval not
 * acted on yet: not in the book, not queued or running already, and
 * whose token was not used (then it goes into the book, with a note). A
 * missing file is no approval. Problems go to pr: an unreadable file as a
 * "watch: error:" line, each bad line once (until it changes) as
 * "approve:LINE:COL: error: ... (line skipped)".
 */
void approve_take(struct approve_book *b, const char *dir, struct hist *h, struct queue *q,
		const struct queue_req *running, const struct watch_printer *pr);

#endif /* BG_CONTROLLER_DAEMON_APPROVE_H */
