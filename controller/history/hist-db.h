/*
 * hist-db: the LMDB core of the history (hist.c) as its other files see
 * it: struct hist, the transaction runner, the key helpers and the
 * journal's head, shared by hist-journal.c (append, walk, migration),
 * hist-chain.c (verification, export) and hist-store.c (versions, plans,
 * tokens, rejected revisions, applies in progress, the planner's facts).
 * Nothing outside controller/history includes it: other packages use
 * hist.h, and tests and fuzzers hist-int.h.
 */
#ifndef BG_CONTROLLER_HIST_DB_H
#define BG_CONTROLLER_HIST_DB_H

#include "bg.h"
#include "hist.h"
#include "hist-int.h"

#include <lmdb.h>
#include <pthread.h>
#include <sys/types.h>

/* An LMDB key is at most 511 bytes; site \0 spec is the longest we build. */
#define HIST_KEY_MAX (2 * HIST_NAME_MAX + 16)

struct hist {
	MDB_env *env; /* NULL: read-only view of a store that does not exist */
	MDB_dbi dbi[HIST_DB_COUNT];
	bool have[HIST_DB_COUNT]; /* read-only: the database exists */
	bool rdonly;
	char *dir;
	/* Identity of the environment directory, for the one-open rule. */
	dev_t dev;
	ino_t ino;
	bool registered;
	/* Shared by transactions, exclusive for a resize (hist.c). */
	pthread_rwlock_t rw;
	bool rw_init;
	size_t map_size; /* written under rw exclusive */
	unsigned map_grows;
	int64_t format; /* of the store as opened (after any migration) */
};

/* ---- hist.c: transactions, keys, meta ---- */

typedef int (*hist__txn_fn)(struct hist *h, MDB_txn *txn, void *arg);
/*
 * Run fn in one transaction (flags: 0 or MDB_RDONLY), commit if it
 * returns 0, abort otherwise, and retry the whole transaction after a map
 * change. fn may run more than once, so it must reset whatever it
 * produces. It returns 0, a bluegreen code, or an LMDB code (mapped here).
 */
int hist__txn_run(struct hist *h, unsigned flags, const char *what, hist__txn_fn fn,
		void *arg);
/* Log that database db is damaged (why); returns BG_EHISTORY. */
int hist__corrupt(const char *db, const char *why);
/* May this handle read database db? (A read-only view may lack some.) */
bool hist__can_read(struct hist *h, enum hist__db db);
/* A site name, spec hash or token the store accepts as a key part. */
bool hist__name_ok(const char *s);
/* site \0 followed by `tail` bytes (the composite keys) into buf. */
size_t hist__key_site(unsigned char *buf, const char *site, const void *tail,
		size_t tail_len);
bool hist__key_has_site(const MDB_val *k, const char *site, size_t sl);
int hist__meta_put(struct hist *h, MDB_txn *txn, const char *key, const char *val);
/* meta "format" = HIST_FORMAT. */
int hist__meta_put_format(struct hist *h, MDB_txn *txn);

/* What opening found; the migration (hist-journal.c) fills its part. */
struct hist__open {
	int64_t format; /* what meta says; 0 if nothing yet */
	const char *why;
	char why_buf[200];
	bool chain_failed;  /* the migration to a chained journal failed */
	uint64_t chained;   /* entries the migration chained */
	bool migrated;
	bool head_bad;      /* the last entry does not match the head */
	uint64_t head_seq;
};

/* ---- hist-journal.c ---- */

/* What the chain's head looks like (hist__head_read). */
enum hist__head_state { HIST_HEAD_NONE, HIST_HEAD_OK, HIST_HEAD_BAD };
struct hist__head {
	uint64_t last;        /* the last key, 0: empty journal */
	char last_hash[65];   /* hash of its record ("" if empty) */
	enum hist__head_state meta; /* meta's journal_head */
	uint64_t seq;         /* what meta names (HIST_HEAD_OK) */
	char hash[65];
};
/* The last entry (key and the hash of its record) and meta's head. */
int hist__head_read(struct hist *h, MDB_txn *txn, struct hist__head *hd);
bool hist__head_matches(const struct hist__head *hd);
/* The journal's last sequence number, 0 when empty. */
int hist__journal_last(struct hist *h, MDB_txn *txn, uint64_t *last);
/*
 * Append e (defaults already filled) inside a write transaction, linked
 * to the head; *seq_out (may be NULL) gets its seq.
 */
int hist__journal_put(struct hist *h, MDB_txn *txn, const struct hist_entry *e,
		uint64_t *seq_out);
/*
 * Format 1 -> 2 inside the opening write transaction: chain every entry,
 * write the head, journal a "migrate" entry, set the format (c->format is
 * the format found; c->why, chain_failed, chained, migrated are set).
 */
int hist__journal_migrate(struct hist *h, MDB_txn *txn, struct hist__open *c);

#endif /* BG_CONTROLLER_HIST_DB_H */
