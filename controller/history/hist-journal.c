/*
 * hist-journal: the journal of the history (hist.h): its head, append,
 * the walk, and the one-time migration of a format 1 journal to a hash
 * chain. The journal is a hash chain: hist__journal_put links each entry
 * to the head kept in meta (never to whatever the last record holds now),
 * and hist__journal_migrate chains a format 1 store once, inside the
 * transaction that opens it. hist-chain.c checks the chain.
 */
#include "bg.h"
#include "hist.h"
#include "hist-db.h"
#include "hist-batch.h"
#include "bg-log.h"
#include "bg-util.h"

/* Entries decoded per read transaction while walking the journal. */
#define WALK_BATCH 64

/* ---- the head ---- */

static int journal_head_put(struct hist *h, MDB_txn *txn, uint64_t seq, const char *hash)
{
	char buf[96];
	snprintf(buf, sizeof(buf), "%" PRIu64 " %s", seq, hash);
	return hist__meta_put(h, txn, HIST_META_HEAD, buf);
}

/*
 * The journal's last entry: *last its sequence number (0 when empty) and,
 * when hash is not NULL, the SHA-256 of its stored bytes (hashed here: the
 * record is valid only inside txn).
 */
static int journal_last_entry(struct hist *h, MDB_txn *txn, uint64_t *last, char *hash)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, h->dbi[HIST_DB_JOURNAL], &cur);
	if (rc) {
		return rc;
	}
	*last = 0;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	} else if (rc == 0) {
		if (k.mv_size != 8) {
			rc = hist__corrupt("journal", "a key is not a sequence number");
		} else {
			*last = hist__be_to_u64(k.mv_data);
			if (hash) {
				bg_sha256_hex(v.mv_data, v.mv_size, hash);
			}
		}
	}
	mdb_cursor_close(cur);
	return rc;
}

int hist__journal_last(struct hist *h, MDB_txn *txn, uint64_t *last)
{
	return journal_last_entry(h, txn, last, NULL);
}

/* meta's "SEQ HASH"; HIST_HEAD_BAD when it is there but not that. */
static int head_meta_get(struct hist *h, MDB_txn *txn, struct hist__head *hd)
{
	MDB_val k = {.mv_size = strlen(HIST_META_HEAD), .mv_data = HIST_META_HEAD}, v;
	char buf[96], *end = NULL;

	hd->meta = HIST_HEAD_NONE;
	if (!h->have[HIST_DB_META]) {
		return 0;
	}
	int rc = mdb_get(txn, h->dbi[HIST_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return 0;
	}
	if (rc) {
		return rc;
	}
	hd->meta = HIST_HEAD_BAD;
	if (v.mv_size == 0 || v.mv_size >= sizeof(buf)) {
		return 0;
	}
	memcpy(buf, v.mv_data, v.mv_size);
	buf[v.mv_size] = '\0';
	if (buf[0] < '1' || buf[0] > '9') {
		return 0;
	}
	errno = 0;
	unsigned long long seq = strtoull(buf, &end, 10);
	if (errno || *end != ' ' || strlen(end + 1) != 64) {
		return 0;
	}
	for (const char *p = end + 1; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
			return 0;
		}
	}
	hd->seq = seq;
	memcpy(hd->hash, end + 1, 65);
	hd->meta = HIST_HEAD_OK;
	return 0;
}

/* The last entry (key and the hash of its record) and meta's head. */
int hist__head_read(struct hist *h, MDB_txn *txn, struct hist__head *hd)
{
	memset(hd, 0, sizeof(*hd));
	if (!h->have[HIST_DB_JOURNAL]) {
		return head_meta_get(h, txn, hd);
	}
	int rc = journal_last_entry(h, txn, &hd->last, hd->last_hash);
	return rc ? rc : head_meta_get(h, txn, hd);
}

bool hist__head_matches(const struct hist__head *hd)
{
	if (hd->meta == HIST_HEAD_OK) {
		return hd->last == hd->seq && strcmp(hd->last_hash, hd->hash) == 0;
	}
	return hd->meta == HIST_HEAD_NONE && hd->last == 0;
}

/* ---- writing an entry ---- */

/*
 * Append e (defaults already filled) inside a write transaction. The next
 * seq is read in the same transaction: LMDB serialises writers across
 * processes, so sequence numbers are gapless and never reused.
 *
 * The link ("prev") is the head meta recorded when the last entry was
 * written, not a hash of whatever the last record holds now: an entry
 * changed or removed since is not laundered into the chain by the next
 * append, and stays visible to hist_journal_verify. Likewise a removed
 * tail leaves a gap (the next seq follows the head), not a reused number.
 */
int hist__journal_put(struct hist *h, MDB_txn *txn, const struct hist_entry *e,
		uint64_t *seq_out)
{
	struct bg_buf b = BG_BUF_INIT;
	struct hist_entry copy = *e;
	struct hist__head hd;
	unsigned char kbuf[HIST_KEY_MAX];
	char hash[65];
	MDB_val k, v;
	int rc = hist__head_read(h, txn, &hd);

	if (rc) {
		return rc;
	}
	if (!hist__head_matches(&hd)) {
		/* Appending goes on (an audit trail must not stop deploys), but loudly. */
		bg_log(BG_LOG_ERROR, "history: the journal's last entry (%" PRIu64 ") does not "
				"match its recorded head (%s): entries were changed or removed outside "
				"bluegreen; `bluegreen history --verify` names the first break",
				hd.last, hd.meta == HIST_HEAD_OK ? "another entry or hash" :
				hd.meta == HIST_HEAD_BAD ? "unreadable" : "missing");
	}
	if (hd.meta == HIST_HEAD_OK) {
		copy.seq = (hd.last > hd.seq ? hd.last : hd.seq) + 1;
		copy.prev = hd.hash;
	} else {
		copy.seq = hd.last + 1;
		copy.prev = hd.last ? hd.last_hash : HIST_GENESIS;
	}
	rc = hist__entry_encode(&copy, &b);
	if (rc) {
		goto out;
	}
	hist__u64_to_be(copy.seq, kbuf);
	k.mv_data = kbuf;
	k.mv_size = 8;
	v.mv_data = b.data;
	v.mv_size = b.len;
	/* APPEND: the key must sort last, which doubles as a sanity check. */
	rc = mdb_put(txn, h->dbi[HIST_DB_JOURNAL], &k, &v, MDB_APPEND);
	if (rc) {
		goto out;
	}
	bg_sha256_hex(b.data, b.len, hash);
	rc = journal_head_put(h, txn, copy.seq, hash);
	if (rc) {
		goto out;
	}
	if (e->site) {
		unsigned char be[8];
		hist__u64_to_be(copy.seq, be);
		k.mv_size = hist__key_site(kbuf, e->site, be, 8);
		v.mv_data = "";
		v.mv_size = 0;
		rc = mdb_put(txn, h->dbi[HIST_DB_BYSITE], &k, &v, 0);
		if (rc) {
			goto out;
		}
	}
	if (seq_out) {
		*seq_out = copy.seq;
	}
out:
	bg_buf_release(&b);
	return rc;
}

/* ---- the migration to a chained journal ---- */

/*
 * Format 1 -> 2, inside the opening write transaction (so all or
 * nothing, and LMDB's writer lock keeps every other process out): each
 * entry, oldest first, is rewritten as the same JSON object plus "prev",
 * the hash of the rewritten record before it; the head goes to meta; a
 * "migrate" entry says how many were chained; the format becomes 2. An
 * entry that is not a record stops the migration (the store stays format
 * 1, untouched): chaining it would bless whatever damaged it.
 */
int hist__journal_migrate(struct hist *h, MDB_txn *txn, struct hist__open *c)
{
	struct bg_buf b = BG_BUF_INIT;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char prev[65] = HIST_GENESIS;
	uint64_t last = 0;
	char *details = NULL;

	c->chained = 0;
	int rc = mdb_cursor_open(txn, h->dbi[HIST_DB_JOURNAL], &cur);
	if (rc) {
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *why = NULL;
		unsigned char kb[8];
		if (k.mv_size != 8) {
			c->why = "a journal key is not a sequence number";
			rc = BG_EHISTORY;
			break;
		}
		memcpy(kb, k.mv_data, 8);
		last = hist__be_to_u64(kb);
		bg_buf_reset(&b);
		rc = hist__entry_link(v.mv_data, v.mv_size, prev, &b, &why);
		if (rc) {
			snprintf(c->why_buf, sizeof(c->why_buf), "journal entry %" PRIu64
					" is unreadable (%s)", last, why ? why : "?");
			c->why = c->why_buf;
			rc = BG_EHISTORY;
			break;
		}
		MDB_val nk = {.mv_size = 8, .mv_data = kb};
		MDB_val nv = {.mv_size = b.len, .mv_data = b.data};
		rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
		if (rc) {
			break;
		}
		bg_sha256_hex(b.data, b.len, prev);
		c->chained++;
	}
	mdb_cursor_close(cur);
	bg_buf_release(&b);
	if (rc != MDB_NOTFOUND) {
		c->chain_failed = c->why != NULL;
		return rc;
	}
	rc = last ? journal_head_put(h, txn, last, prev) : 0;
	if (rc) {
		return rc;
	}
	details = bg_xasprintf("chained %" PRIu64 " %s written before the journal was a "
			"hash chain (history format %" PRId64 " -> %d)", c->chained,
			c->chained == 1 ? "entry" : "entries", c->format, HIST_FORMAT);
	struct hist_entry e = {
		.time_ms = bg_now_ms(),
		.actor = (char *)bg_actor(),
		.sudo_user = (char *)bg_actor_claimed(),
		.action = "migrate",
		.result = "ok",
		.details = details,
	};
	rc = hist__journal_put(h, txn, &e, NULL);
	free(details);
	if (!rc) {
		rc = hist__meta_put_format(h, txn);
	}
	c->migrated = rc == 0;
	return rc;
}

/* ---- hist_append ---- */

static int entry_check(const struct hist_entry *e)
{
	if (!e || !e->action || !*e->action) {
		return BG_ERRNO(EINVAL);
	}
	if ((e->site && !hist__name_ok(e->site)) || (e->token && !hist__name_ok(e->token))) {
		return BG_ERRNO(EINVAL);
	}
	return 0;
}

/* Fill the defaults once, before the transaction, so retries agree. */
static void entry_defaults(struct hist_entry *e)
{
	if (!e->time_ms) {
		e->time_ms = bg_now_ms();
	}
	if (!e->actor) {
		e->actor = (char *)bg_actor();
		if (!e->sudo_user) {
			e->sudo_user = (char *)bg_actor_claimed();
		}
	}
}

/* hist-batch.h: the checks and defaults of hist_append, for a batched append. */
int hist__entry_prepare(const struct hist_entry *e, struct hist_entry *full)
{
	int err = entry_check(e);
	if (!err) {
		*full = *e;
		entry_defaults(full);
	}
	return err;
}

struct append_ctx {
	const struct hist_entry *e;
	uint64_t seq;
};

static int fn_append(struct hist *h, MDB_txn *txn, void *arg)
{
	struct append_ctx *c = arg;
	return hist__journal_put(h, txn, c->e, &c->seq);
}

int hist_append(struct hist *h, const struct hist_entry *e, uint64_t *seq_out)
{
	int err = entry_check(e);
	if (err) {
		return err;
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	struct hist_entry full = *e;
	entry_defaults(&full);
	struct append_ctx c = {.e = &full};
	err = hist__txn_run(h, 0, "appending to the journal", fn_append, &c);
	if (!err && seq_out) {
		*seq_out = c.seq;
	}
	return err;
}

struct all_ctx {
	const struct hist_entry *e; /* prepared */
	size_t n;
};

static int fn_append_all(struct hist *h, MDB_txn *txn, void *arg)
{
	struct all_ctx *c = arg;
	int rc = 0;
	for (size_t i = 0; !rc && i < c->n; i++) {
		rc = hist__journal_put(h, txn, &c->e[i], NULL);
	}
	return rc;
}

/* hist-batch.h: n entries, in order, one commit. */
int hist_append_all(struct hist *h, const struct hist_entry *e, size_t n)
{
	if (!n) {
		return 0;
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	struct hist_entry *full = bg_xcalloc(n, sizeof(*full));
	int err = 0;
	for (size_t i = 0; !err && i < n; i++) {
		err = hist__entry_prepare(&e[i], &full[i]);
	}
	struct all_ctx c = {.e = full, .n = n};
	if (!err) {
		err = hist__txn_run(h, 0, "appending to the journal", fn_append_all, &c);
	}
	free(full);
	return err;
}

struct last_ctx {
	uint64_t last;
};

static int fn_last(struct hist *h, MDB_txn *txn, void *arg)
{
	struct last_ctx *c = arg;
	return hist__journal_last(h, txn, &c->last);
}

uint64_t hist_last_seq(struct hist *h)
{
	struct last_ctx c = {0};
	if (!hist__can_read(h, HIST_DB_JOURNAL)) {
		return 0;
	}
	if (hist__txn_run(h, MDB_RDONLY, "reading the journal", fn_last, &c)) {
		return 0;
	}
	return c.last;
}

/* ---- the walk ---- */

struct walk {
	const char *site; /* NULL: the whole journal */
	size_t site_len;
	uint64_t after;
	size_t limit;
	uint64_t bound; /* the last seq when the walk began */
	uint64_t next;  /* first seq still to visit */
	bool done;
	struct hist_entry batch[WALK_BATCH];
	size_t n;
};

static void walk_batch_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		hist_entry_release(&w->batch[i]);
	}
	w->n = 0;
}

/* Find where the walk starts: after_seq, or the newest `limit` entries. */
static int fn_walk_start(struct hist *h, MDB_txn *txn, void *arg)
{
	struct walk *w = arg;
	MDB_cursor *cur = NULL;
	unsigned char kbuf[HIST_KEY_MAX], be[8];
	MDB_val k, v;
	size_t count = 0;
	int rc = hist__journal_last(h, txn, &w->bound);

	w->done = false;
	if (rc) {
		return rc;
	}
	if (w->bound <= w->after) {
		w->done = true;
		return 0;
	}
	w->next = w->after + 1;
	if (!w->limit) {
		return 0;
	}
	if (!w->site) {
		/* The journal is gapless: the newest `limit` are a range. */
		if (w->bound - w->after > w->limit) {
			w->next = w->bound - w->limit + 1;
		}
		return 0;
	}
	if (!h->have[HIST_DB_BYSITE]) {
		w->done = true;
		return 0;
	}
	/* Walk the site's index backwards from the end, `limit` entries. */
	rc = mdb_cursor_open(txn, h->dbi[HIST_DB_BYSITE], &cur);
	if (rc) {
		return rc;
	}
	hist__u64_to_be(w->bound == UINT64_MAX ? w->bound : w->bound + 1, be);
	k.mv_size = hist__key_site(kbuf, w->site, be, 8);
	k.mv_data = kbuf;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	while (rc == 0 && hist__key_has_site(&k, w->site, w->site_len)) {
		if (k.mv_size != w->site_len + 9) {
			rc = hist__corrupt("journal_by_site", "a key is malformed");
			break;
		}
		uint64_t seq = hist__be_to_u64((const unsigned char *)k.mv_data + w->site_len + 1);
		if (seq <= w->after) {
			break;
		}
		if (seq <= w->bound) {
			w->next = seq;
			if (++count == w->limit) {
				break;
			}
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	}
	if (!rc && count == 0) {
		w->done = true;
	}
	return rc;
}

static int walk_take(struct walk *w, uint64_t seq, const MDB_val *v)
{
	const char *why = NULL;
	struct hist_entry *e = &w->batch[w->n];
	if (hist__entry_decode(v->mv_data, v->mv_size, e, &why)) {
		bg_log(BG_LOG_ERROR, "history: journal entry %" PRIu64 " is unreadable: %s",
				seq, why);
		return BG_EHISTORY;
	}
	if (e->seq != seq) {
		hist_entry_release(e);
		bg_log(BG_LOG_ERROR, "history: journal entry %" PRIu64 " claims seq %" PRIu64,
				seq, e->seq);
		return BG_EHISTORY;
	}
	w->n++;
	return 0;
}

/* Decode the next batch of entries, from w->next up to w->bound. */
static int fn_walk_batch(struct hist *h, MDB_txn *txn, void *arg)
{
	struct walk *w = arg;
	MDB_cursor *cur = NULL;
	unsigned char kbuf[HIST_KEY_MAX], be[8];
	MDB_val k, v;
	bool by_site = w->site != NULL;
	int rc;

	walk_batch_release(w);
	rc = mdb_cursor_open(txn, h->dbi[by_site ? HIST_DB_BYSITE : HIST_DB_JOURNAL], &cur);
	if (rc) {
		return rc;
	}
	hist__u64_to_be(w->next, be);
	if (by_site) {
		k.mv_size = hist__key_site(kbuf, w->site, be, 8);
		k.mv_data = kbuf;
	} else {
		k.mv_size = 8;
		k.mv_data = be;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && w->n < WALK_BATCH) {
		uint64_t seq;
		if (by_site) {
			if (!hist__key_has_site(&k, w->site, w->site_len)) {
				rc = MDB_NOTFOUND;
				break;
			}
			if (k.mv_size != w->site_len + 9) {
				rc = hist__corrupt("journal_by_site", "a key is malformed");
				break;
			}
			seq = hist__be_to_u64((const unsigned char *)k.mv_data + w->site_len + 1);
		} else {
			if (k.mv_size != 8) {
				rc = hist__corrupt("journal", "a key is not a sequence number");
				break;
			}
			seq = hist__be_to_u64(k.mv_data);
		}
		if (seq > w->bound) {
			rc = MDB_NOTFOUND;
			break;
		}
		if (by_site) {
			unsigned char *at = (unsigned char *)k.mv_data + w->site_len + 1;
			MDB_val jk = {.mv_size = 8, .mv_data = at};
			MDB_val jv;
			rc = mdb_get(txn, h->dbi[HIST_DB_JOURNAL], &jk, &jv);
			if (rc == MDB_NOTFOUND) {
				rc = hist__corrupt("journal_by_site", "an index key names no entry");
			}
			if (rc) {
				break;
			}
			rc = walk_take(w, seq, &jv);
		} else {
			rc = walk_take(w, seq, &v);
		}
		if (rc) {
			break;
		}
		w->next = seq + 1;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		w->done = true;
		rc = 0;
	}
	if (rc) {
		walk_batch_release(w);
	}
	return rc;
}

int hist_foreach(struct hist *h, const char *site, uint64_t after_seq,
		size_t limit, hist_entry_cb cb, void *arg)
{
	struct walk *w = NULL;
	int err = 0;

	if (!hist__can_read(h, HIST_DB_JOURNAL)) {
		return 0;
	}
	if (site && !hist__name_ok(site)) {
		return 0; /* no such site can have been stored */
	}
	w = bg_xcalloc(1, sizeof(*w));
	w->site = site;
	w->site_len = site ? strlen(site) : 0;
	w->after = after_seq;
	w->limit = limit;
	err = hist__txn_run(h, MDB_RDONLY, "reading the journal", fn_walk_start, w);
	if (err || w->done) {
		goto out;
	}
	if (site && !h->have[HIST_DB_BYSITE]) {
		goto out;
	}
	/*
	 * Batches, each in its own short read transaction, so that cb runs
	 * with no transaction open and a long walk never pins old pages.
	 * Entries up to the bound never change (append-only).
	 */
	while (!w->done) {
		err = hist__txn_run(h, MDB_RDONLY, "reading the journal", fn_walk_batch, w);
		if (err) {
			goto out;
		}
		for (size_t i = 0; i < w->n; i++) {
			err = cb(&w->batch[i], arg);
			if (err) {
				goto out;
			}
		}
		walk_batch_release(w);
	}
out:
	walk_batch_release(w);
	free(w);
	return err;
}
