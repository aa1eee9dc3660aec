/*
 * hist-int: internals of the history module shared with its own tests and
 * fuzzer: the names of the LMDB databases (one X-macro, so the handle
 * table and the names cannot drift apart), the key layout helpers, and the
 * record codec: one field table per kind of JSON record stored as a value,
 * one encoder and one decoder for all of them (hist-codec.c). The decoders
 * read bytes from disk, so they accept anything and never crash; the
 * on-disk format is documented in docs/history.md.
 */
#ifndef BG_CONTROLLER_HIST_INT_H
#define BG_CONTROLLER_HIST_INT_H

#include "bg.h"
#include "bg-buf.h"
#include "hist.h"

/*
 * Version of the store, kept in meta under "format". 2: the journal is a
 * hash chain (every entry has "prev") and meta holds its head. A store of
 * format 1 is chained once when first opened for writing.
 */
#define HIST_FORMAT 2
#define HIST_FORMAT_CHAINED 2
/* Version of each JSON record's layout, its "v" member (members are only
 * ever added, so it has stayed 1). */
#define HIST_REC_VERSION 1
/* meta key of the chain's head: "SEQ HASH" (decimal, 64 hex digits). */
#define HIST_META_HEAD "journal_head"
/* The link of entry 1: no entry before it. */
#define HIST_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* The environment's directory inside the state directory. */
#define HIST_DIR_NAME "history"
/* Largest value written (an entry with huge details is refused, not cut). */
#define HIST_VALUE_MAX ((size_t)16 << 20)

/* name, LMDB database name */
#define HIST_DB_MAP(XX)                                                       \
	XX(JOURNAL, "journal")         /* u64 BE seq -> entry JSON */         \
	XX(BYSITE, "journal_by_site")  /* site \0 u64 BE seq -> "" */         \
	XX(VERSIONS, "versions")       /* site \0 u32 BE version -> JSON */   \
	XX(SPEC_INDEX, "spec_index")   /* site \0 spec -> u32 BE version */   \
	XX(PLANS, "plans")             /* token -> JSON */                    \
	XX(TOKENS_USED, "tokens_used") /* token -> JSON */                    \
	XX(REJECTED, "rejected")       /* site \0 spec -> JSON */             \
	XX(APPLYING, "applying")       /* token -> JSON */                    \
	XX(META, "meta")               /* ASCII key -> ASCII value */   \
	XX(BACKUPS, "backups")         /* backup id -> manifest JSON (hist-backup.c) */

enum hist__db {
#define XX(name, str) HIST_DB_##name,
	HIST_DB_MAP(XX)
#undef XX
	HIST_DB_COUNT
};

const char *hist__db_name(enum hist__db db);

void hist__u64_to_be(uint64_t v, unsigned char out[8]);
uint64_t hist__be_to_u64(const unsigned char in[8]);
void hist__u32_to_be(uint32_t v, unsigned char out[4]);
uint32_t hist__be_to_u32(const unsigned char in[4]);

/*
 * ---- the record codec (hist-codec.c) ----
 * Every value the store writes is one JSON object: "v" (HIST_REC_VERSION)
 * first, then the members of its record table in table order. A field
 * table names each member, its type and where it lives in the C struct,
 * so one encoder and one decoder serve every record kind and the bytes of
 * each kind are fixed by its table (t-hist's codec_bytes holds them).
 */
enum hist__ftype {
	HF_STR,     /* char *: encode skips NULL; decode: absent or null -> NULL */
	HF_STR_REQ, /* char *: encode skips NULL; decode refuses absent or null */
	HF_I64,     /* int64_t: required */
	HF_U64,     /* uint64_t: required, not negative */
	HF_TIME_ISO, /* int64_t ms shown as ISO 8601 UTC, or null (views only) */
};

struct hist__field {
	const char *key;
	enum hist__ftype type;
	size_t off; /* offsetof the member in the record's struct */
};

struct hist__record {
	const char *what;
	const struct hist__field *f;
	size_t n;
	size_t size; /* sizeof the record's struct */
	/* Rules beyond the fields' types, run after them; NULL: none. */
	int (*check)(const void *obj, const char **why);
};

enum hist__codec_flags {
	/* A view, not a record: no "v", NULL strings as null, no size limit. */
	HIST_CODEC_VIEW = 1 << 0,
};

/*
 * Append obj's record (or view) to out. Invalid UTF-8 in strings is
 * replaced with U+FFFD; BG_ETOO_BIG when a record exceeds HIST_VALUE_MAX.
 */
int hist__rec_encode(const struct hist__record *r, const void *obj, unsigned flags,
		struct bg_buf *out);
/*
 * Fill obj (zeroed first; strings are new) from one stored record, or
 * return BG_EPARSE with a static reason in *why (why may be NULL) and obj
 * zeroed. Members the table does not name are ignored.
 */
int hist__rec_decode(const struct hist__record *r, const void *data, size_t len,
		void *obj, const char **why);
/* Free obj's strings and zero it. NULL-safe. */
void hist__rec_release(const struct hist__record *r, void *obj);

/* The record kinds (their bytes: docs/history.md). */
extern const struct hist__record hist__rec_entry;    /* struct hist_entry */
extern const struct hist__record hist__rec_version;  /* struct hist__version */
extern const struct hist__record hist__rec_plan;     /* struct hist__plan */
extern const struct hist__record hist__rec_plan_args; /* struct hist__plan, args_json only */
extern const struct hist__record hist__rec_mark;     /* struct hist__mark */
extern const struct hist__record hist__rec_applying; /* struct hist__applying */

/*
 * Journal entry <-> JSON record. encode writes every field of e (seq and
 * time_ms as given; NULL strings are left out), replacing invalid UTF-8
 * with U+FFFD; BG_ETOO_BIG beyond HIST_VALUE_MAX. decode fills e (new
 * strings; release with hist_entry_release) or returns BG_EPARSE with a
 * static reason in *why (why may be NULL) and e zeroed. "prev" is
 * optional in decode (entries of a format 1 journal have none) but must
 * be 64 lower-case hex digits when present.
 */
int hist__entry_encode(const struct hist_entry *e, struct bg_buf *out);
int hist__entry_decode(const void *data, size_t len, struct hist_entry *e,
		const char **why);

/* One immutable site version as stored in the versions database. */
struct hist__version {
	char *spec;      /* the spec hash */
	char *spec_json; /* redacted canonical spec, a JSON text kept verbatim */
	char *token;     /* the plan that first applied it, may be NULL */
	int64_t time_ms;
};
void hist__version_release(struct hist__version *v);
int hist__version_encode(const struct hist__version *v, struct bg_buf *out);
int hist__version_decode(const void *data, size_t len, struct hist__version *v,
		const char **why);

/* A printed plan (plans database, by token). */
struct hist__plan {
	char *args_json; /* what was asked, a JSON text kept verbatim */
	char *plan_text; /* may be NULL */
	int64_t time_ms;
};

/* A mark (tokens_used, rejected): when, by which process and actor. */
struct hist__mark {
	int64_t time_ms;
	int64_t pid;
	char *actor;
	uint64_t journal_seq; /* the journal's last seq when it was made */
};

/* An apply in progress (applying database, by token). */
struct hist__applying {
	int64_t pid;
	char *actor;
	uint64_t seq; /* its "apply started" entry */
	int64_t time_ms;
};

/*
 * Replace every invalid UTF-8 sequence (overlong forms, surrogates, code
 * points above U+10FFFF, truncated sequences) with U+FFFD. Returns NULL
 * when s is valid as it is, else a new string.
 */
char *hist__utf8_fix(const char *s);

/*
 * Rewrite one record of a format 1 journal as a chained one: the same JSON
 * object with "prev" set to prev (64 hex digits) added last. *out is
 * appended to. BG_EPARSE (with *why) when data is not a record.
 */
int hist__entry_link(const void *data, size_t len, const char *prev,
		struct bg_buf *out, const char **why);

/*
 * The chain checker shared by the store's and an export's verification:
 * fed the records in order, it keeps the first break in *v.
 */
struct hist__chain {
	struct hist_verify *v;
	uint64_t expect;      /* the seq the next record should have */
	char prev[65];        /* hash of the last record fed */
	uint64_t prev_line;   /* its line in an export (0: the store) */
};
void hist__chain_init(struct hist__chain *c, struct hist_verify *v);
/*
 * One record: key_seq is the seq it is stored under (the store) or 0 (an
 * export, where the position is line). Returns true when the record was
 * an entry (decoded), false when it was unreadable.
 */
bool hist__chain_feed(struct hist__chain *c, uint64_t key_seq, size_t line,
		const void *data, size_t len);

#endif /* BG_CONTROLLER_HIST_INT_H */
