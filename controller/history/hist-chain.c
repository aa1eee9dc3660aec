/*
 * hist-chain: checking the journal's hash chain (hist.h), in the store
 * (hist_journal_verify: one read transaction, keys, links and the head in
 * meta) and in an export (hist_export_verify: JSON lines). Both feed one
 * checker, hist__chain_feed, which keeps the first break only: everything
 * after it follows from it.
 */
#include "bg.h"
#include "hist.h"
#include "hist-db.h"
#include "bg-util.h"

/* ---- the chain ---- */

const char *hist_break_name(enum hist_break b)
{
	switch (b) {
	case HIST_INTACT:
		return "intact";
	case HIST_BREAK_CHANGED:
		return "changed";
	case HIST_BREAK_MISSING:
		return "missing";
	case HIST_BREAK_REORDERED:
		return "reordered";
	case HIST_BREAK_UNREADABLE:
		return "unreadable";
	case HIST_BREAK_UNCHAINED:
		return "unchained";
	}
	return "?";
}

/* Record the first break only: everything after it follows from it. */
BG_PRINTF(5, 6)
static void chain_break(struct hist_verify *v, enum hist_break b, uint64_t seq,
		size_t line, const char *fmt, ...)
{
	va_list ap;
	if (v->brk != HIST_INTACT) {
		return;
	}
	v->brk = b;
	v->bad_seq = seq;
	v->bad_line = line;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
}

void hist__chain_init(struct hist__chain *c, struct hist_verify *v)
{
	memset(v, 0, sizeof(*v));
	memset(c, 0, sizeof(*c));
	c->v = v;
	c->expect = 1;
	memcpy(c->prev, HIST_GENESIS, sizeof(c->prev));
}

/* A gap: entries expect..at-1 are not there. */
static void chain_gap(struct hist__chain *c, uint64_t at, size_t line)
{
	if (at == c->expect + 1) {
		chain_break(c->v, HIST_BREAK_MISSING, c->expect, line, "entry %" PRIu64
				" is missing: it was removed", c->expect);
	} else {
		chain_break(c->v, HIST_BREAK_MISSING, c->expect, line, "entries %" PRIu64
				" to %" PRIu64 " are missing: they were removed", c->expect, at - 1);
	}
}

bool hist__chain_feed(struct hist__chain *c, uint64_t key_seq, size_t line,
		const void *data, size_t len)
{
	struct hist_verify *v = c->v;
	struct hist_entry e;
	const char *why = NULL;
	char hash[65];
	bool ok = hist__entry_decode(data, len, &e, &why) == 0;
	/* Where it stands: its key, else the seq it says, else where it should. */
	uint64_t at = key_seq ? key_seq : ok ? e.seq : c->expect;

	bg_sha256_hex(data, len, hash);
	if (at > c->expect) {
		chain_gap(c, at, line);
	} else if (!ok) {
		chain_break(v, HIST_BREAK_UNREADABLE, at, line, "entry %" PRIu64
				" is not a journal record (%s)", at, why);
	} else if (e.seq != at) {
		chain_break(v, HIST_BREAK_REORDERED, at, line, "the record stored as entry %"
				PRIu64 " is entry %" PRIu64 ": entries were moved", at, e.seq);
	} else if (at < c->expect) {
		chain_break(v, HIST_BREAK_REORDERED, at, line, "entry %" PRIu64 " comes after "
				"entry %" PRIu64 ": entries were moved or repeated", at, c->expect - 1);
	} else if (!e.prev) {
		chain_break(v, HIST_BREAK_CHANGED, at, line, "entry %" PRIu64 " has no link to "
				"the entry before it: it was written outside bluegreen", at);
	} else if (strcmp(e.prev, c->prev) != 0 && at == 1) {
		chain_break(v, HIST_BREAK_CHANGED, 1, line, "entry 1 was changed: its link is "
				"not the start of a chain (or entries before it were removed)");
	} else if (strcmp(e.prev, c->prev) != 0) {
		chain_break(v, HIST_BREAK_CHANGED, at - 1, c->prev_line, "entry %" PRIu64
				" was changed: its record no longer has the hash that entry %" PRIu64
				" holds as its link (or that link was changed)", at - 1, at);
	}
	if (ok) {
		hist_entry_release(&e);
	}
	memcpy(c->prev, hash, sizeof(c->prev));
	c->prev_line = line;
	if (at >= c->expect) {
		c->expect = at + 1;
	}
	v->entries++;
	v->head_seq = at;
	memcpy(v->head_hash, hash, sizeof(v->head_hash));
	return ok;
}

/* After the last entry: does the head in meta name it, with its hash? */
static void chain_head_check(struct hist__chain *c, const struct hist__head *hd)
{
	struct hist_verify *v = c->v;
	uint64_t last = c->expect - 1;

	if (v->brk != HIST_INTACT || (hd->meta == HIST_HEAD_NONE && last == 0)) {
		return;
	}
	if (hd->meta != HIST_HEAD_OK) {
		chain_break(v, HIST_BREAK_CHANGED, last, 0, "the journal's head (meta '%s') "
				"is %s, so entry %" PRIu64 " (the last) cannot be checked",
				HIST_META_HEAD, hd->meta == HIST_HEAD_NONE ? "missing" : "unreadable", last);
	} else if (hd->seq > last) {
		struct hist__chain tail = *c;
		chain_gap(&tail, hd->seq + 1, 0);
		if (v->brk == HIST_BREAK_MISSING) {
			size_t n = strlen(v->why);
			snprintf(v->why + n, sizeof(v->why) - n, " from the end (the journal's "
					"head names entry %" PRIu64 ")", hd->seq);
		}
	} else if (hd->seq < last) {
		chain_break(v, HIST_BREAK_CHANGED, hd->seq + 1, 0, "entry %" PRIu64 " was added "
				"outside bluegreen: the journal's head names entry %" PRIu64,
				hd->seq + 1, hd->seq);
	} else if (strcmp(hd->hash, c->prev) != 0) {
		chain_break(v, HIST_BREAK_CHANGED, last, 0, "entry %" PRIu64 " (the last) was "
				"changed: its record no longer has the hash the journal's head holds",
				last);
	}
}

struct verify_ctx {
	struct hist_verify *v;
	hist_record_cb cb;
	void *arg;
};

static int fn_verify(struct hist *h, MDB_txn *txn, void *arg)
{
	struct verify_ctx *c = arg;
	struct hist__chain ch;
	struct hist__head hd;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	hist__chain_init(&ch, c->v);
	if (h->format < HIST_FORMAT_CHAINED) {
		chain_break(c->v, HIST_BREAK_UNCHAINED, 0, 0, "the journal is not a hash chain "
				"yet (history format %" PRId64 "): bluegreen chains it the next time "
				"it opens the history for writing (plan, apply, watch)", h->format);
	}
	rc = mdb_cursor_open(txn, h->dbi[HIST_DB_JOURNAL], &cur);
	if (rc) {
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			chain_break(c->v, HIST_BREAK_UNREADABLE, ch.expect, 0, "a journal key "
					"after entry %" PRIu64 " is not a sequence number",
					ch.expect - 1);
			continue;
		}
		uint64_t seq = hist__be_to_u64(k.mv_data);
		hist__chain_feed(&ch, seq, 0, v.mv_data, v.mv_size);
		if (c->cb) {
			rc = c->cb(seq, v.mv_data, v.mv_size, c->arg);
			if (rc) {
				break;
			}
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	rc = hist__head_read(h, txn, &hd);
	if (!rc) {
		chain_head_check(&ch, &hd);
	}
	return rc;
}

int hist_journal_verify(struct hist *h, hist_record_cb cb, void *arg,
		struct hist_verify *v)
{
	struct verify_ctx c = {.v = v, .cb = cb, .arg = arg};
	struct hist__chain ch;

	hist__chain_init(&ch, v);
	if (!hist__can_read(h, HIST_DB_JOURNAL)) {
		return 0; /* no journal: nothing to break */
	}
	/*
	 * One read transaction: the entries and the head are one snapshot.
	 * A read transaction is never retried after fn ran (only MDB_MAP_RESIZED
	 * at its start is), so cb sees each record once.
	 */
	return hist__txn_run(h, MDB_RDONLY, "verifying the journal", fn_verify, &c);
}

/* Does a line after `from` hold entry seq? (Moved rather than removed.) */
static size_t export_find(const char *data, size_t len, size_t from, uint64_t seq)
{
	size_t line = 0, i = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
		struct hist_entry e;
		if (++line > from && hist__entry_decode(data + i, n, &e, NULL) == 0) {
			bool hit = e.seq == seq;
			hist_entry_release(&e);
			if (hit) {
				return line;
			}
		}
		i += n + 1;
	}
	return 0;
}

int hist_export_verify(const char *data, size_t len, struct hist_verify *v)
{
	struct hist__chain c;
	size_t line = 0, i = 0;

	hist__chain_init(&c, v);
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
		hist__chain_feed(&c, 0, ++line, data + i, n);
		i += n + 1;
	}
	if (v->brk == HIST_BREAK_MISSING) {
		size_t at = export_find(data, len, v->bad_line, v->bad_seq);
		if (at) {
			v->brk = HIST_BREAK_REORDERED;
			snprintf(v->why, sizeof(v->why), "entry %" PRIu64 " belongs at line %zu but "
					"is at line %zu: entries were moved", v->bad_seq, v->bad_line, at);
		}
	}
	return 0;
}
