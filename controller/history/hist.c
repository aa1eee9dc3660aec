/*
 * hist: see hist.h; the on-disk format is in docs/history.md and the
 * reasons in docs/adr/0006-history-store.md. Every operation is one LMDB
 * transaction run by txn_run(), which begins and ends it, and retries it
 * after growing the map (MDB_MAP_FULL) or adopting another process's
 * growth (MDB_MAP_RESIZED). A resize must not overlap any transaction of
 * this process, so transactions hold h->rw shared and a resize holds it
 * exclusive. MDB_* codes are mapped here, at the module boundary, to
 * BG_EHISTORY (or BG_ERRNO for system errors) with mdb_strerror's text in
 * a log line or a diagnostic.
 *
 * The journal is a hash chain: journal_put links each entry to the head
 * kept in meta, hist_journal_verify and hist_export_verify check it with
 * one checker (hist__chain_feed), and journal_chain migrates a format 1
 * store once, inside the transaction that opens it.
 */
#include "bg.h"
#include "hist.h"
#include "hist-int.h"
#include "bg-log.h"
#include "bg-util.h"

#include <lmdb.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

/* An LMDB key is at most 511 bytes; site \0 spec is the longest we build. */
#define KEY_MAX (2 * HIST_NAME_MAX + 16)
/* Entries decoded per read transaction while walking the journal. */
#define WALK_BATCH 64
/* Retries of one transaction (each grows or adopts the map). */
#define TXN_ATTEMPTS 64
/* The map never grows past this; a history that big is a bug elsewhere. */
#define MAPSIZE_MAX ((size_t)1 << (sizeof(size_t) > 4 ? 40 : 30))
#define MAPSIZE_MIN ((size_t)32 << 10)

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
	/* Shared by transactions, exclusive for a resize (see above). */
	pthread_rwlock_t rw;
	bool rw_init;
	size_t map_size; /* written under rw exclusive */
	unsigned map_grows;
	int64_t format; /* of the store as opened (after any migration) */
};

typedef int (*txn_fn)(struct hist *h, MDB_txn *txn, void *arg);

static int journal_put(struct hist *h, MDB_txn *txn, const struct hist_entry *e,
		uint64_t *seq_out);

/* What the chain's head looks like (journal_head_read). */
enum head_state { HEAD_NONE, HEAD_OK, HEAD_BAD };
struct journal_head {
	uint64_t last;        /* the last key, 0: empty journal */
	char last_hash[65];   /* hash of its record ("" if empty) */
	enum head_state meta; /* meta's journal_head */
	uint64_t seq;         /* what meta names (HEAD_OK) */
	char hash[65];
};
static int journal_head_read(struct hist *h, MDB_txn *txn, struct journal_head *hd);
static bool journal_head_matches(const struct journal_head *hd);

static const char *const db_names[HIST_DB_COUNT] = {
#define XX(name, str) [HIST_DB_##name] = str,
	HIST_DB_MAP(XX)
#undef XX
};

const char *hist__db_name(enum hist__db db)
{
	return (unsigned)db < HIST_DB_COUNT ? db_names[db] : "?";
}

/*
 * ---- the one-open-per-process rule ----
 * Entries carry the pid that made them: a child after fork() inherits the
 * table but not the environments, and may open the store afresh.
 */

struct open_env {
	pid_t pid;
	dev_t dev;
	ino_t ino;
};

static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct open_env *open_tab;
static size_t open_n, open_cap;

static bool open_register(dev_t dev, ino_t ino)
{
	pid_t pid = getpid();
	bool ok = true;
	pthread_mutex_lock(&open_mu);
	for (size_t i = 0; i < open_n; i++) {
		if (open_tab[i].pid == pid && open_tab[i].dev == dev &&
				open_tab[i].ino == ino) {
			ok = false;
			goto out;
		}
	}
	BG_GROW(open_tab, open_cap, open_n + 1);
	open_tab[open_n].pid = pid;
	open_tab[open_n].dev = dev;
	open_tab[open_n].ino = ino;
	open_n++;
out:
	pthread_mutex_unlock(&open_mu);
	return ok;
}

static void open_unregister(dev_t dev, ino_t ino)
{
	pid_t pid = getpid();
	pthread_mutex_lock(&open_mu);
	for (size_t i = 0; i < open_n; i++) {
		if (open_tab[i].pid == pid && open_tab[i].dev == dev &&
				open_tab[i].ino == ino) {
			open_tab[i] = open_tab[--open_n];
			break;
		}
	}
	if (open_n == 0) {
		free(open_tab);
		open_tab = NULL;
		open_cap = 0;
	}
	pthread_mutex_unlock(&open_mu);
}

/* ---- small helpers ---- */

void hist__u64_to_be(uint64_t v, unsigned char out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint64_t hist__be_to_u64(const unsigned char in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = (v << 8) | in[i];
	}
	return v;
}

void hist__u32_to_be(uint32_t v, unsigned char out[4])
{
	for (int i = 3; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

uint32_t hist__be_to_u32(const unsigned char in[4])
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		v = (v << 8) | in[i];
	}
	return v;
}

static bool name_ok(const char *s)
{
	return s && *s && strlen(s) <= HIST_NAME_MAX;
}

/* site \0 followed by `tail` bytes: the composite keys. */
static size_t key_site(unsigned char *buf, const char *site, const void *tail,
		size_t tail_len)
{
	size_t sl = strlen(site);
	memcpy(buf, site, sl);
	buf[sl] = '\0';
	memcpy(buf + sl + 1, tail, tail_len);
	return sl + 1 + tail_len;
}

static bool key_has_site(const MDB_val *k, const char *site, size_t sl)
{
	return k->mv_size > sl && memcmp(k->mv_data, site, sl) == 0 &&
			((const unsigned char *)k->mv_data)[sl] == '\0';
}

/* Is rc one of LMDB's own codes (as opposed to ours or an errno)? */
static bool is_mdb_code(int rc)
{
	return rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE;
}

static int rc_map(int rc, const char *what)
{
	if (rc == 0) {
		return 0;
	}
	if (rc > 0) {
		bg_log(BG_LOG_ERROR, "history: %s: %s", what, mdb_strerror(rc));
		return BG_ERRNO(rc);
	}
	if (is_mdb_code(rc)) {
		bg_log(BG_LOG_ERROR, "history: %s: %s", what, mdb_strerror(rc));
		return BG_EHISTORY;
	}
	return rc;
}

static int corrupt(const char *db, const char *why)
{
	bg_log(BG_LOG_ERROR, "history: database '%s' is damaged: %s", db, why);
	return BG_EHISTORY;
}

/* ---- the map ---- */

static size_t env_map_size(MDB_env *env)
{
	MDB_envinfo info;
	if (mdb_env_info(env, &info) != 0) {
		return 0;
	}
	return info.me_mapsize;
}

/*
 * MDB_MAP_FULL: double the map. `seen` is the size the failed transaction
 * ran with; if another thread of ours grew it meanwhile, just retry.
 */
static int map_grow(struct hist *h, size_t seen)
{
	int err = 0;
	pthread_rwlock_wrlock(&h->rw);
	if (h->map_size != seen) {
		goto out;
	}
	if (seen >= MAPSIZE_MAX) {
		bg_log(BG_LOG_ERROR, "history: the map is full at %zu bytes and may not grow",
				seen);
		err = BG_EHISTORY;
		goto out;
	}
	/*
	 * Reader slots left by killed processes pin pages LMDB could reuse;
	 * free them while we are here (the growth happens regardless).
	 */
	int dead = 0;
	mdb_reader_check(h->env, &dead);
	size_t next = seen * 2 > MAPSIZE_MAX ? MAPSIZE_MAX : seen * 2;
	int rc = mdb_env_set_mapsize(h->env, next);
	if (rc) {
		err = rc_map(rc, "growing the map");
		goto out;
	}
	h->map_size = env_map_size(h->env);
	h->map_grows++;
	bg_log(BG_LOG_INFO, "history map grown from %zu to %zu bytes", seen, h->map_size);
out:
	pthread_rwlock_unlock(&h->rw);
	return err;
}

/* MDB_MAP_RESIZED: another process grew the map; adopt its size. */
static int map_adopt(struct hist *h)
{
	int err = 0;
	pthread_rwlock_wrlock(&h->rw);
	int rc = mdb_env_set_mapsize(h->env, 0);
	if (rc) {
		err = rc_map(rc, "adopting the map size");
	} else {
		bg_trace(HIST, "map adopted: %zu -> %zu bytes", h->map_size,
				env_map_size(h->env));
		h->map_size = env_map_size(h->env);
	}
	pthread_rwlock_unlock(&h->rw);
	return err;
}

/*
 * Run fn in one transaction (flags: 0 or MDB_RDONLY), commit if it
 * returns 0, abort otherwise, and retry the whole transaction after a map
 * change. fn may run more than once, so it must reset whatever it
 * produces. It returns 0, a bluegreen code, or an LMDB code (mapped here).
 */
static int txn_run(struct hist *h, unsigned flags, const char *what, txn_fn fn,
		void *arg)
{
	bool write = !(flags & MDB_RDONLY);
	int rc = 0;

	if (write && h->rdonly) {
		return BG_ERRNO(EROFS);
	}
	for (int attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
		MDB_txn *txn = NULL;
		pthread_rwlock_rdlock(&h->rw);
		size_t seen = h->map_size;
		rc = mdb_txn_begin(h->env, NULL, flags, &txn);
		if (rc == 0) {
			rc = fn(h, txn, arg);
			if (rc == 0) {
				/* A read-only commit keeps databases opened in it. */
				rc = mdb_txn_commit(txn);
			} else {
				mdb_txn_abort(txn);
			}
		}
		pthread_rwlock_unlock(&h->rw);
		if (rc == MDB_MAP_FULL && write) {
			int err = map_grow(h, seen);
			if (err) {
				return err;
			}
			continue;
		}
		if (rc == MDB_MAP_RESIZED) {
			int err = map_adopt(h);
			if (err) {
				return err;
			}
			continue;
		}
		return rc_map(rc, what);
	}
	bg_log(BG_LOG_ERROR, "history: %s: the map kept changing, gave up after %d attempts",
			what, TXN_ATTEMPTS);
	return BG_EHISTORY;
}

/* ---- open and close ---- */

/* "65536", "64K", "1M", "2G"; 0 when absent or not understood. */
static size_t mapsize_parse(const char *s)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s || *s < '0' || *s > '9') {
		return 0;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno) {
		return 0;
	}
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k') {
		shift = 10;
	} else if (*end == 'M' || *end == 'm') {
		shift = 20;
	} else if (*end == 'G' || *end == 'g') {
		shift = 30;
	}
	if (shift) {
		end++;
	}
	if (*end || v > (MAPSIZE_MAX >> shift)) {
		return 0;
	}
	return (size_t)(v << shift);
}

static size_t mapsize_initial(const struct hist_opts *opts)
{
	size_t want = opts && opts->map_size ? opts->map_size : 0;
	long page = sysconf(_SC_PAGESIZE);
	size_t ps = page > 0 ? (size_t)page : 4096;

	if (!want) {
		const char *env = getenv(HIST_MAPSIZE_ENV);
		want = mapsize_parse(env);
		if (env && *env && !want) {
			bg_log(BG_LOG_WARN, "ignoring %s='%s': not a size", HIST_MAPSIZE_ENV, env);
		}
	}
	if (!want) {
		want = HIST_MAPSIZE_DEFAULT;
	}
	if (want < MAPSIZE_MIN) {
		want = MAPSIZE_MIN;
	}
	if (want > MAPSIZE_MAX) {
		want = MAPSIZE_MAX;
	}
	return (want + ps - 1) / ps * ps;
}

/* The files LMDB created are ours alone, whatever the umask was. */
static int file_private(const char *dir, const char *name)
{
	char *path = bg_xasprintf("%s/%s", dir, name);
	struct stat st;
	int err = 0;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
			chmod(path, 0600) < 0) {
		err = BG_ERRNO(errno);
	}
	free(path);
	return err;
}

struct open_ctx {
	int64_t format; /* what meta says; 0 if nothing yet */
	const char *why;
	char why_buf[200];
	bool chain_failed;  /* the migration to a chained journal failed */
	uint64_t chained;   /* entries the migration chained */
	bool migrated;
	bool head_bad;      /* the last entry does not match the head */
	uint64_t head_seq;
};

static int meta_put_str(struct hist *h, MDB_txn *txn, const char *key, const char *val)
{
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
	MDB_val v = {.mv_size = strlen(val), .mv_data = (void *)val};
	return mdb_put(txn, h->dbi[HIST_DB_META], &k, &v, 0);
}

static int meta_put_format(struct hist *h, MDB_txn *txn)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", HIST_FORMAT);
	return meta_put_str(h, txn, "format", buf);
}

static int journal_head_put(struct hist *h, MDB_txn *txn, uint64_t seq, const char *hash)
{
	char buf[96];
	snprintf(buf, sizeof(buf), "%" PRIu64 " %s", seq, hash);
	return meta_put_str(h, txn, HIST_META_HEAD, buf);
}

/*
 * Format 1 -> 2, inside the opening write transaction (so all or
 * nothing, and LMDB's writer lock keeps every other process out): each
 * entry, oldest first, is rewritten as the same JSON object plus "prev",
 * the hash of the rewritten record before it; the head goes to meta; a
 * "migrate" entry says how many were chained; the format becomes 2. An
 * entry that is not a record stops the migration (the store stays format
 * 1, untouched): chaining it would bless whatever damaged it.
 */
static int journal_chain(struct hist *h, MDB_txn *txn, struct open_ctx *c)
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
	rc = journal_put(h, txn, &e, NULL);
	free(details);
	if (!rc) {
		rc = meta_put_format(h, txn);
	}
	c->migrated = rc == 0;
	return rc;
}

/* The cheap check at open: does the last entry still match the head? */
static int head_check(struct hist *h, MDB_txn *txn, struct open_ctx *c)
{
	struct journal_head hd;
	int rc = journal_head_read(h, txn, &hd);
	if (rc) {
		return rc;
	}
	c->head_bad = !journal_head_matches(&hd);
	c->head_seq = hd.meta == HEAD_OK ? hd.seq : 0;
	return 0;
}

static int fn_open(struct hist *h, MDB_txn *txn, void *arg)
{
	struct open_ctx *c = arg;
	MDB_val k, v;
	int rc;

	c->format = 0;
	c->why = NULL;
	c->chain_failed = c->migrated = c->head_bad = false;
	for (int i = 0; i < HIST_DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], h->rdonly ? 0 : MDB_CREATE, &h->dbi[i]);
		if (rc == MDB_NOTFOUND && h->rdonly) {
			h->have[i] = false;
			continue;
		}
		if (rc) {
			return rc;
		}
		h->have[i] = true;
	}
	if (!h->have[HIST_DB_META]) {
		return 0;
	}
	k.mv_data = "format";
	k.mv_size = strlen("format");
	rc = mdb_get(txn, h->dbi[HIST_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		if (h->rdonly) {
			return 0;
		}
		char buf[32];
		rc = meta_put_format(h, txn);
		if (rc) {
			return rc;
		}
		snprintf(buf, sizeof(buf), "%" PRId64, bg_now_ms());
		c->format = HIST_FORMAT;
		return meta_put_str(h, txn, "created_ms", buf);
	}
	if (rc) {
		return rc;
	}
	char num[24];
	if (v.mv_size == 0 || v.mv_size >= sizeof(num)) {
		c->why = "the format version is unreadable";
		return BG_EHISTORY;
	}
	memcpy(num, v.mv_data, v.mv_size);
	num[v.mv_size] = '\0';
	char *end = NULL;
	long long f = strtoll(num, &end, 10);
	if (*end || f <= 0) {
		c->why = "the format version is unreadable";
		return BG_EHISTORY;
	}
	c->format = f;
	if (f > HIST_FORMAT) {
		c->why = "it was written by a newer bluegreen";
		return BG_EHISTORY;
	}
	if (f < HIST_FORMAT_CHAINED && !h->rdonly) {
		rc = journal_chain(h, txn, c);
		if (rc) {
			return rc;
		}
		c->format = HIST_FORMAT;
	}
	return c->format >= HIST_FORMAT_CHAINED ? head_check(h, txn, c) : 0;
}

int hist_open_ex(struct hist **out, const char *state_dir, unsigned flags,
		const struct hist_opts *opts, struct bg_diag *d)
{
	struct hist *h = bg_xcalloc(1, sizeof(*h));
	struct open_ctx oc = {0};
	char *data_path = NULL;
	struct stat st;
	bool fresh;
	int err = 0, rc, dead = 0;

	*out = NULL;
	if (pthread_rwlock_init(&h->rw, NULL) != 0) {
		BG_BUG("pthread_rwlock_init");
	}
	h->rw_init = true;
	h->rdonly = flags & HIST_RDONLY;
	h->dir = bg_xasprintf("%s/%s", state_dir, HIST_DIR_NAME);
	data_path = bg_xasprintf("%s/data.mdb", h->dir);

	if (h->rdonly) {
		if (stat(data_path, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR) {
				h->format = HIST_FORMAT;
				goto done; /* no history yet: the empty view */
			}
			err = BG_ERRNO(errno);
			bg_diag_error(d, NULL, "cannot read history '%s': %s", h->dir,
					bg_strerror(err));
			goto out;
		}
	} else {
		err = bg_state_dir_ensure(state_dir);
		if (!err) {
			err = bg_state_dir_ensure(h->dir);
		}
		if (err) {
			bg_diag_error(d, NULL, "cannot create history directory '%s': %s",
					h->dir, bg_strerror(err));
			goto out;
		}
	}
	fresh = stat(data_path, &st) < 0 && errno == ENOENT;
	if (stat(h->dir, &st) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot read history '%s': %s", h->dir,
				bg_strerror(err));
		goto out;
	}
	if (!open_register(st.st_dev, st.st_ino)) {
		err = BG_ERRNO(EBUSY);
		bg_diag_error(d, NULL, "history '%s' is already open in this process",
				h->dir);
		goto out;
	}
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->registered = true;

	rc = mdb_env_create(&h->env);
	if (!rc) {
		rc = mdb_env_set_maxdbs(h->env, HIST_DB_COUNT + 4);
	}
	/* An existing store keeps its own size (LMDB reads it from the file). */
	if (!rc && fresh) {
		rc = mdb_env_set_mapsize(h->env, mapsize_initial(opts));
	}
	if (!rc) {
		rc = mdb_env_open(h->env, h->dir, MDB_NOTLS | (h->rdonly ? MDB_RDONLY : 0),
				0600);
	}
	if (rc) {
		bg_diag_error(d, NULL, "cannot open history '%s': %s", h->dir,
				mdb_strerror(rc));
		err = rc > 0 ? BG_ERRNO(rc) : BG_EHISTORY;
		goto out;
	}
	if (!h->rdonly) {
		err = file_private(h->dir, "data.mdb");
		if (!err) {
			err = file_private(h->dir, "lock.mdb");
		}
		if (err) {
			bg_diag_error(d, NULL, "cannot make history '%s' private: %s", h->dir,
					bg_strerror(err));
			goto out;
		}
	}
	/* Reader slots of killed processes pin old pages: free them. */
	mdb_reader_check(h->env, &dead);
	if (dead > 0) {
		bg_trace(HIST, "cleared %d stale reader slots", dead);
	}
	h->map_size = env_map_size(h->env);

	err = txn_run(h, h->rdonly ? MDB_RDONLY : 0, "opening", fn_open, &oc);
	if (err) {
		if (oc.chain_failed) {
			bg_diag_error(d, NULL, "cannot chain the journal of history '%s' (format %"
					PRId64 " -> %d): %s; nothing was changed", h->dir, oc.format,
					HIST_FORMAT, oc.why);
		} else if (oc.why) {
			bg_diag_error(d, NULL, "cannot use history '%s': %s (format %" PRId64
					", this bluegreen reads format %d)",
					h->dir, oc.why, oc.format, HIST_FORMAT);
		} else {
			bg_diag_error(d, NULL, "cannot open history '%s': %s", h->dir,
					bg_strerror(err));
		}
		goto out;
	}
	h->format = oc.format;
	if (oc.migrated) {
		bg_log(BG_LOG_INFO, "history '%s': chained %" PRIu64 " journal entries (format %d)",
				h->dir, oc.chained, HIST_FORMAT);
	}
	if (oc.head_bad) {
		bg_log(BG_LOG_WARN, "history '%s': the journal's last entry does not match its "
				"recorded head (entry %" PRIu64 "): entries were changed or removed "
				"outside bluegreen; `bluegreen history --verify` names the first",
				h->dir, oc.head_seq);
	}
done:
	*out = h;
	h = NULL;
out:
	hist_close(h);
	free(data_path);
	return err;
}

int hist_open(struct hist **out, const char *state_dir, unsigned flags,
		struct bg_diag *d)
{
	return hist_open_ex(out, state_dir, flags, NULL, d);
}

void hist_close(struct hist *h)
{
	if (!h) {
		return;
	}
	if (h->env) {
		mdb_env_close(h->env);
	}
	if (h->registered) {
		open_unregister(h->dev, h->ino);
	}
	if (h->rw_init) {
		pthread_rwlock_destroy(&h->rw);
	}
	free(h->dir);
	free(h);
}

/* May this handle read database db? (A read-only view may lack some.) */
static bool can_read(struct hist *h, enum hist__db db)
{
	return h->env && h->have[db];
}

/* ---- journal ---- */

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
			rc = corrupt("journal", "a key is not a sequence number");
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

static int journal_last(struct hist *h, MDB_txn *txn, uint64_t *last)
{
	return journal_last_entry(h, txn, last, NULL);
}

/* meta's "SEQ HASH"; HEAD_BAD when it is there but not that. */
static int head_meta_get(struct hist *h, MDB_txn *txn, struct journal_head *hd)
{
	MDB_val k = {.mv_size = strlen(HIST_META_HEAD), .mv_data = HIST_META_HEAD}, v;
	char buf[96], *end = NULL;

	hd->meta = HEAD_NONE;
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
	hd->meta = HEAD_BAD;
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
	hd->meta = HEAD_OK;
	return 0;
}

/* The last entry (key and the hash of its record) and meta's head. */
static int journal_head_read(struct hist *h, MDB_txn *txn, struct journal_head *hd)
{
	memset(hd, 0, sizeof(*hd));
	if (!h->have[HIST_DB_JOURNAL]) {
		return head_meta_get(h, txn, hd);
	}
	int rc = journal_last_entry(h, txn, &hd->last, hd->last_hash);
	return rc ? rc : head_meta_get(h, txn, hd);
}

static bool journal_head_matches(const struct journal_head *hd)
{
	if (hd->meta == HEAD_OK) {
		return hd->last == hd->seq && strcmp(hd->last_hash, hd->hash) == 0;
	}
	return hd->meta == HEAD_NONE && hd->last == 0;
}

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
static int journal_put(struct hist *h, MDB_txn *txn, const struct hist_entry *e,
		uint64_t *seq_out)
{
	struct bg_buf b = BG_BUF_INIT;
	struct hist_entry copy = *e;
	struct journal_head hd;
	unsigned char kbuf[KEY_MAX];
	char hash[65];
	MDB_val k, v;
	int rc = journal_head_read(h, txn, &hd);

	if (rc) {
		return rc;
	}
	if (!journal_head_matches(&hd)) {
		/* Appending goes on (an audit trail must not stop deploys), but loudly. */
		bg_log(BG_LOG_ERROR, "history: the journal's last entry (%" PRIu64 ") does not "
				"match its recorded head (%s): entries were changed or removed outside "
				"bluegreen; `bluegreen history --verify` names the first break",
				hd.last, hd.meta == HEAD_OK ? "another entry or hash" :
				hd.meta == HEAD_BAD ? "unreadable" : "missing");
	}
	if (hd.meta == HEAD_OK) {
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
		k.mv_size = key_site(kbuf, e->site, be, 8);
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

static int entry_check(const struct hist_entry *e)
{
	if (!e || !e->action || !*e->action) {
		return BG_ERRNO(EINVAL);
	}
	if ((e->site && !name_ok(e->site)) || (e->token && !name_ok(e->token))) {
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

struct append_ctx {
	const struct hist_entry *e;
	uint64_t seq;
};

static int fn_append(struct hist *h, MDB_txn *txn, void *arg)
{
	struct append_ctx *c = arg;
	return journal_put(h, txn, c->e, &c->seq);
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
	err = txn_run(h, 0, "appending to the journal", fn_append, &c);
	if (!err && seq_out) {
		*seq_out = c.seq;
	}
	return err;
}

struct last_ctx {
	uint64_t last;
};

static int fn_last(struct hist *h, MDB_txn *txn, void *arg)
{
	struct last_ctx *c = arg;
	return journal_last(h, txn, &c->last);
}

uint64_t hist_last_seq(struct hist *h)
{
	struct last_ctx c = {0};
	if (!can_read(h, HIST_DB_JOURNAL)) {
		return 0;
	}
	if (txn_run(h, MDB_RDONLY, "reading the journal", fn_last, &c)) {
		return 0;
	}
	return c.last;
}

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
	unsigned char kbuf[KEY_MAX], be[8];
	MDB_val k, v;
	size_t count = 0;
	int rc = journal_last(h, txn, &w->bound);

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
	k.mv_size = key_site(kbuf, w->site, be, 8);
	k.mv_data = kbuf;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	while (rc == 0 && key_has_site(&k, w->site, w->site_len)) {
		if (k.mv_size != w->site_len + 9) {
			rc = corrupt("journal_by_site", "a key is malformed");
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
	unsigned char kbuf[KEY_MAX], be[8];
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
		k.mv_size = key_site(kbuf, w->site, be, 8);
		k.mv_data = kbuf;
	} else {
		k.mv_size = 8;
		k.mv_data = be;
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && w->n < WALK_BATCH) {
		uint64_t seq;
		if (by_site) {
			if (!key_has_site(&k, w->site, w->site_len)) {
				rc = MDB_NOTFOUND;
				break;
			}
			if (k.mv_size != w->site_len + 9) {
				rc = corrupt("journal_by_site", "a key is malformed");
				break;
			}
			seq = hist__be_to_u64((const unsigned char *)k.mv_data + w->site_len + 1);
		} else {
			if (k.mv_size != 8) {
				rc = corrupt("journal", "a key is not a sequence number");
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
				rc = corrupt("journal_by_site", "an index key names no entry");
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

	if (!can_read(h, HIST_DB_JOURNAL)) {
		return 0;
	}
	if (site && !name_ok(site)) {
		return 0; /* no such site can have been stored */
	}
	w = bg_xcalloc(1, sizeof(*w));
	w->site = site;
	w->site_len = site ? strlen(site) : 0;
	w->after = after_seq;
	w->limit = limit;
	err = txn_run(h, MDB_RDONLY, "reading the journal", fn_walk_start, w);
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
		err = txn_run(h, MDB_RDONLY, "reading the journal", fn_walk_batch, w);
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
static void chain_head_check(struct hist__chain *c, const struct journal_head *hd)
{
	struct hist_verify *v = c->v;
	uint64_t last = c->expect - 1;

	if (v->brk != HIST_INTACT || (hd->meta == HEAD_NONE && last == 0)) {
		return;
	}
	if (hd->meta != HEAD_OK) {
		chain_break(v, HIST_BREAK_CHANGED, last, 0, "the journal's head (meta '%s') "
				"is %s, so entry %" PRIu64 " (the last) cannot be checked",
				HIST_META_HEAD, hd->meta == HEAD_NONE ? "missing" : "unreadable", last);
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
	struct journal_head hd;
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
	rc = journal_head_read(h, txn, &hd);
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
	if (!can_read(h, HIST_DB_JOURNAL)) {
		return 0; /* no journal: nothing to break */
	}
	/*
	 * One read transaction: the entries and the head are one snapshot.
	 * A read transaction is never retried after fn ran (only MDB_MAP_RESIZED
	 * at its start is), so cb sees each record once.
	 */
	return txn_run(h, MDB_RDONLY, "verifying the journal", fn_verify, &c);
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

/* ---- site versions ---- */

struct version_ctx {
	const char *site, *spec, *spec_json, *token;
	int64_t now;
	unsigned version;
	/* hist_version_get */
	struct hist__version got;
};

static int spec_index_get(struct hist *h, MDB_txn *txn, struct version_ctx *c)
{
	unsigned char kbuf[KEY_MAX];
	MDB_val k, v;
	k.mv_size = key_site(kbuf, c->site, c->spec, strlen(c->spec));
	k.mv_data = kbuf;
	int rc = mdb_get(txn, h->dbi[HIST_DB_SPEC_INDEX], &k, &v);
	if (rc) {
		return rc;
	}
	if (v.mv_size != 4) {
		return corrupt("spec_index", "a version number is malformed");
	}
	c->version = hist__be_to_u32(v.mv_data);
	return 0;
}

static int fn_version_lookup(struct hist *h, MDB_txn *txn, void *arg)
{
	struct version_ctx *c = arg;
	int rc = spec_index_get(h, txn, arg);
	if (rc == MDB_NOTFOUND) {
		c->version = 0;
		rc = 0;
	}
	return rc;
}

/* The highest version recorded for c->site, 0 if none. */
static int version_last(struct hist *h, MDB_txn *txn, const char *site, unsigned *last)
{
	MDB_cursor *cur = NULL;
	unsigned char kbuf[KEY_MAX], be[4];
	size_t sl = strlen(site);
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, h->dbi[HIST_DB_VERSIONS], &cur);
	if (rc) {
		return rc;
	}
	*last = 0;
	hist__u32_to_be(UINT32_MAX, be);
	k.mv_size = key_site(kbuf, site, be, 4);
	k.mv_data = kbuf;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == sl + 5 && key_has_site(&k, site, sl) &&
			hist__be_to_u32((const unsigned char *)k.mv_data + sl + 1) == UINT32_MAX) {
		*last = UINT32_MAX;
		goto out;
	}
	if (rc == 0) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	if (rc == MDB_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc == 0 && key_has_site(&k, site, sl)) {
		if (k.mv_size != sl + 5) {
			rc = corrupt("versions", "a key is malformed");
			goto out;
		}
		*last = hist__be_to_u32((const unsigned char *)k.mv_data + sl + 1);
	}
out:
	mdb_cursor_close(cur);
	return rc;
}

static int fn_version_record(struct hist *h, MDB_txn *txn, void *arg)
{
	struct version_ctx *c = arg;
	struct hist__version rec = {
		.spec = (char *)c->spec,
		.spec_json = (char *)c->spec_json,
		.token = (char *)c->token,
		.time_ms = c->now,
	};
	struct bg_buf b = BG_BUF_INIT;
	unsigned char kbuf[KEY_MAX], be[4];
	unsigned last = 0;
	MDB_val k, v;

	int rc = spec_index_get(h, txn, c);
	if (rc != MDB_NOTFOUND) {
		return rc; /* known spec (0), or an error */
	}
	rc = version_last(h, txn, c->site, &last);
	if (rc) {
		return rc;
	}
	if (last == UINT32_MAX) {
		return corrupt("versions", "the version numbers are exhausted");
	}
	c->version = last + 1;
	rc = hist__version_encode(&rec, &b);
	if (rc) {
		goto out;
	}
	hist__u32_to_be(c->version, be);
	k.mv_size = key_site(kbuf, c->site, be, 4);
	k.mv_data = kbuf;
	v.mv_data = b.data;
	v.mv_size = b.len;
	rc = mdb_put(txn, h->dbi[HIST_DB_VERSIONS], &k, &v, MDB_NOOVERWRITE);
	if (rc) {
		goto out;
	}
	k.mv_size = key_site(kbuf, c->site, c->spec, strlen(c->spec));
	v.mv_data = be;
	v.mv_size = 4;
	rc = mdb_put(txn, h->dbi[HIST_DB_SPEC_INDEX], &k, &v, MDB_NOOVERWRITE);
out:
	bg_buf_release(&b);
	return rc;
}

int hist_version_record(struct hist *h, const char *site, const char *spec,
		const char *spec_json, const char *token, unsigned *version)
{
	struct version_ctx c = {
		.site = site, .spec = spec, .spec_json = spec_json, .token = token,
		.now = bg_now_ms(),
	};
	int err;

	if (!name_ok(site) || !name_ok(spec) || !spec_json || (token && !name_ok(token))) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	/* Most calls find a known spec: answer those without the writer lock. */
	err = txn_run(h, MDB_RDONLY, "reading versions", fn_version_lookup, &c);
	if (!err && c.version == 0) {
		err = txn_run(h, 0, "recording a version", fn_version_record, &c);
	}
	if (!err && version) {
		*version = c.version;
	}
	return err;
}

static int fn_version_get(struct hist *h, MDB_txn *txn, void *arg)
{
	struct version_ctx *c = arg;
	unsigned char kbuf[KEY_MAX], be[4];
	const char *why = NULL;
	MDB_val k, v;

	hist__version_release(&c->got);
	hist__u32_to_be(c->version, be);
	k.mv_size = key_site(kbuf, c->site, be, 4);
	k.mv_data = kbuf;
	int rc = mdb_get(txn, h->dbi[HIST_DB_VERSIONS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return BG_ENOT_FOUND;
	}
	if (rc) {
		return rc;
	}
	if (hist__version_decode(v.mv_data, v.mv_size, &c->got, &why)) {
		bg_log(BG_LOG_ERROR, "history: version %u of '%s' is unreadable: %s",
				c->version, c->site, why);
		return BG_EHISTORY;
	}
	return 0;
}

int hist_version_get(struct hist *h, const char *site, unsigned version,
		char **spec, char **spec_json)
{
	struct version_ctx c = {.site = site, .version = version};
	int err;

	if (spec) {
		*spec = NULL;
	}
	if (spec_json) {
		*spec_json = NULL;
	}
	if (!name_ok(site) || version == 0 || !can_read(h, HIST_DB_VERSIONS)) {
		return BG_ENOT_FOUND;
	}
	err = txn_run(h, MDB_RDONLY, "reading versions", fn_version_get, &c);
	if (!err) {
		if (spec) {
			*spec = c.got.spec;
			c.got.spec = NULL;
		}
		if (spec_json) {
			*spec_json = c.got.spec_json;
			c.got.spec_json = NULL;
		}
	}
	hist__version_release(&c.got);
	return err;
}

/* ---- plans and tokens ---- */

struct token_ctx {
	const char *token;
	const char *args_json, *plan_text;
	int64_t now;
	char *got;   /* hist_plan_get */
	bool found;  /* hist_token_used */
};

static MDB_val token_key(const char *token)
{
	MDB_val k = {.mv_size = strlen(token), .mv_data = (void *)token};
	return k;
}

static int fn_plan_store(struct hist *h, MDB_txn *txn, void *arg)
{
	struct token_ctx *c = arg;
	struct bg_buf b = BG_BUF_INIT;
	struct hist__plan rec = {
		.args_json = (char *)c->args_json,
		.plan_text = (char *)c->plan_text,
		.time_ms = c->now,
	};
	MDB_val k = token_key(c->token), v;
	int rc = hist__rec_encode(&hist__rec_plan, &rec, 0, &b);
	if (!rc) {
		v.mv_data = b.data;
		v.mv_size = b.len;
		rc = mdb_put(txn, h->dbi[HIST_DB_PLANS], &k, &v, 0);
	}
	bg_buf_release(&b);
	return rc;
}

int hist_plan_store(struct hist *h, const char *token, const char *args_json,
		const char *plan_text)
{
	struct token_ctx c = {.token = token, .args_json = args_json,
		.plan_text = plan_text, .now = bg_now_ms()};
	if (!name_ok(token) || !args_json) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return txn_run(h, 0, "storing a plan", fn_plan_store, &c);
}

static int fn_plan_get(struct hist *h, MDB_txn *txn, void *arg)
{
	struct token_ctx *c = arg;
	MDB_val k = token_key(c->token), v;
	const char *why = NULL;
	struct hist__plan rec;

	free(c->got);
	c->got = NULL;
	int rc = mdb_get(txn, h->dbi[HIST_DB_PLANS], &k, &v);
	if (rc == MDB_NOTFOUND) {
		return BG_ENOT_FOUND;
	}
	if (rc) {
		return rc;
	}
	if (hist__rec_decode(&hist__rec_plan_args, v.mv_data, v.mv_size, &rec, &why)) {
		bg_log(BG_LOG_ERROR, "history: the plan of token %s is unreadable: %s",
				c->token, why);
		return BG_EHISTORY;
	}
	c->got = rec.args_json;
	return 0;
}

int hist_plan_get(struct hist *h, const char *token, char **args_json)
{
	struct token_ctx c = {.token = token};
	int err;

	*args_json = NULL;
	if (!name_ok(token) || !can_read(h, HIST_DB_PLANS)) {
		return BG_ENOT_FOUND;
	}
	err = txn_run(h, MDB_RDONLY, "reading a plan", fn_plan_get, &c);
	if (!err) {
		*args_json = c.got;
		c.got = NULL;
	}
	free(c.got);
	return err;
}

/*
 * The last apply's execution settings live beside the printed plans,
 * under a key no token can take (tokens are lowercase hex), so they need
 * no database of their own.
 */
#define EXEC_SETTINGS_KEY "execution-settings"

int hist_exec_settings_store(struct hist *h, const char *json)
{
	return hist_plan_store(h, EXEC_SETTINGS_KEY, json, NULL);
}

int hist_exec_settings_get(struct hist *h, char **json)
{
	return hist_plan_get(h, EXEC_SETTINGS_KEY, json);
}

/* The JSON kept with a mark (token used, rejected): when, by whom. */
static int mark_value(struct hist *h, MDB_txn *txn, int64_t now, struct bg_buf *b)
{
	uint64_t last = 0;
	int rc = journal_last(h, txn, &last);
	if (rc) {
		return rc;
	}
	struct hist__mark rec = {
		.time_ms = now,
		.pid = (int64_t)getpid(),
		.actor = (char *)bg_actor(),
		.journal_seq = last,
	};
	return hist__rec_encode(&hist__rec_mark, &rec, 0, b);
}

static int fn_token_use(struct hist *h, MDB_txn *txn, void *arg)
{
	struct token_ctx *c = arg;
	struct bg_buf b = BG_BUF_INIT;
	MDB_val k = token_key(c->token), v;
	int rc = mark_value(h, txn, c->now, &b);
	if (!rc) {
		v.mv_data = b.data;
		v.mv_size = b.len;
		/* The check and the mark are this one put. */
		rc = mdb_put(txn, h->dbi[HIST_DB_TOKENS_USED], &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST) {
			rc = BG_ETOKEN_USED;
		}
	}
	bg_buf_release(&b);
	return rc;
}

int hist_token_use(struct hist *h, const char *token)
{
	struct token_ctx c = {.token = token, .now = bg_now_ms()};
	if (!name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return txn_run(h, 0, "marking a token used", fn_token_use, &c);
}

static int fn_token_used(struct hist *h, MDB_txn *txn, void *arg)
{
	struct token_ctx *c = arg;
	MDB_val k = token_key(c->token), v;
	int rc = mdb_get(txn, h->dbi[HIST_DB_TOKENS_USED], &k, &v);
	c->found = rc == 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

bool hist_token_used(struct hist *h, const char *token)
{
	struct token_ctx c = {.token = token};
	if (!name_ok(token) || !can_read(h, HIST_DB_TOKENS_USED)) {
		return false;
	}
	if (txn_run(h, MDB_RDONLY, "reading used tokens", fn_token_used, &c)) {
		return false;
	}
	return c.found;
}

/* ---- rejected revisions ---- */

struct rejected_ctx {
	const char *site, *spec;
	int64_t now;
	bool add;
};

static int fn_rejected(struct hist *h, MDB_txn *txn, void *arg)
{
	struct rejected_ctx *c = arg;
	unsigned char kbuf[KEY_MAX];
	MDB_val k, v;
	int rc;

	k.mv_size = key_site(kbuf, c->site, c->spec, strlen(c->spec));
	k.mv_data = kbuf;
	if (!c->add) {
		rc = mdb_del(txn, h->dbi[HIST_DB_REJECTED], &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	struct bg_buf b = BG_BUF_INIT;
	rc = mark_value(h, txn, c->now, &b);
	if (!rc) {
		v.mv_data = b.data;
		v.mv_size = b.len;
		rc = mdb_put(txn, h->dbi[HIST_DB_REJECTED], &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST) {
			rc = 0; /* already rejected: keep the first mark */
		}
	}
	bg_buf_release(&b);
	return rc;
}

static int rejected_set(struct hist *h, const char *site, const char *spec, bool add)
{
	struct rejected_ctx c = {.site = site, .spec = spec, .now = bg_now_ms(), .add = add};
	if (!name_ok(site) || !name_ok(spec)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return txn_run(h, 0, add ? "marking a revision rejected" :
			"clearing a rejected revision", fn_rejected, &c);
}

int hist_rejected_add(struct hist *h, const char *site, const char *spec)
{
	return rejected_set(h, site, spec, true);
}

int hist_rejected_clear(struct hist *h, const char *site, const char *spec)
{
	return rejected_set(h, site, spec, false);
}

/* ---- applies in progress ---- */

struct apply_ctx {
	const char *token;
	const char *result;
	int64_t now;
	const char *actor;
	const char *claim; /* $SUDO_USER beside our own actor; NULL beside another's */
	uint64_t seq;
	bool had_mark;
};

/* The actor of the entries: ours with our $SUDO_USER claim, or the one given alone. */
static void apply_ctx_actor(struct apply_ctx *c, const char *actor)
{
	c->actor = actor ? actor : bg_actor();
	c->claim = actor ? NULL : bg_actor_claimed();
}

/* What an applying mark says; an unreadable one says nothing (zeroed). */
static int apply_mark_read(struct hist *h, MDB_txn *txn, const char *token,
		struct hist__applying *m)
{
	MDB_val k = token_key(token), v;
	const char *why = NULL;
	memset(m, 0, sizeof(*m));
	int rc = mdb_get(txn, h->dbi[HIST_DB_APPLYING], &k, &v);
	if (rc) {
		return rc;
	}
	if (hist__rec_decode(&hist__rec_applying, v.mv_data, v.mv_size, m, &why)) {
		bg_log(BG_LOG_WARN, "history: the in-progress mark of token %s is unreadable: %s",
				token, why);
	}
	return 0;
}

static int fn_apply_begin(struct hist *h, MDB_txn *txn, void *arg)
{
	struct apply_ctx *c = arg;
	struct hist__applying m;
	struct bg_buf b = BG_BUF_INIT;
	char details[64];
	MDB_val k = token_key(c->token), v;

	int rc = apply_mark_read(h, txn, c->token, &m);
	if (rc == 0) {
		free(m.actor);
		return BG_ETOKEN_USED;
	}
	if (rc != MDB_NOTFOUND) {
		return rc;
	}
	snprintf(details, sizeof(details), "started by pid %ld", (long)getpid());
	struct hist_entry e = {
		.time_ms = c->now,
		.actor = (char *)c->actor,
		.sudo_user = (char *)c->claim,
		.action = "apply",
		.token = (char *)c->token,
		.result = "started",
		.details = details,
	};
	rc = journal_put(h, txn, &e, &c->seq);
	if (rc) {
		return rc;
	}
	struct hist__applying rec = {
		.pid = (int64_t)getpid(),
		.actor = (char *)c->actor,
		.seq = c->seq,
		.time_ms = c->now,
	};
	rc = hist__rec_encode(&hist__rec_applying, &rec, 0, &b);
	if (!rc) {
		v.mv_data = b.data;
		v.mv_size = b.len;
		rc = mdb_put(txn, h->dbi[HIST_DB_APPLYING], &k, &v, MDB_NOOVERWRITE);
	}
	bg_buf_release(&b);
	return rc;
}

int hist_apply_begin(struct hist *h, const char *token, uint64_t *seq_out)
{
	return hist_apply_begin_as(h, token, NULL, seq_out);
}

int hist_apply_begin_as(struct hist *h, const char *token, const char *actor,
		uint64_t *seq_out)
{
	struct apply_ctx c = {.token = token, .now = bg_now_ms()};
	int err;
	apply_ctx_actor(&c, actor);
	if (!name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	err = txn_run(h, 0, "recording an apply", fn_apply_begin, &c);
	if (!err && seq_out) {
		*seq_out = c.seq;
	}
	return err;
}

static int fn_apply_end(struct hist *h, MDB_txn *txn, void *arg)
{
	struct apply_ctx *c = arg;
	struct hist__applying m;
	char *details = NULL;
	MDB_val k = token_key(c->token);

	int rc = apply_mark_read(h, txn, c->token, &m);
	if (rc && rc != MDB_NOTFOUND) {
		return rc;
	}
	c->had_mark = rc == 0;
	if (c->had_mark) {
		details = bg_xasprintf("apply began at seq %" PRIu64, m.seq);
	} else {
		details = bg_xstrdup("no apply in progress was recorded for this token");
	}
	struct hist_entry e = {
		.time_ms = c->now,
		.actor = (char *)c->actor,
		.sudo_user = (char *)c->claim,
		.action = "apply-end",
		.token = (char *)c->token,
		.result = (char *)c->result,
		.details = details,
	};
	rc = journal_put(h, txn, &e, &c->seq);
	if (!rc && c->had_mark) {
		rc = mdb_del(txn, h->dbi[HIST_DB_APPLYING], &k, NULL);
	}
	free(details);
	free(m.actor);
	return rc;
}

int hist_apply_end(struct hist *h, const char *token, const char *result)
{
	return hist_apply_end_as(h, token, result, NULL);
}

int hist_apply_end_as(struct hist *h, const char *token, const char *result,
		const char *actor)
{
	struct apply_ctx c = {.token = token, .result = result, .now = bg_now_ms()};
	int err;
	apply_ctx_actor(&c, actor);
	if (!name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	err = txn_run(h, 0, "recording the end of an apply", fn_apply_end, &c);
	if (!err && !c.had_mark) {
		bg_log(BG_LOG_WARN, "history: apply of token %s ended, but its start was "
				"never recorded", token);
	}
	return err;
}

struct open_list_ctx {
	struct bg_strv got;
};

static int fn_applies_open(struct hist *h, MDB_txn *txn, void *arg)
{
	struct open_list_ctx *c = arg;
	MDB_cursor *cur = NULL;
	MDB_val k, v;

	bg_strv_release(&c->got);
	bg_strv_init(&c->got);
	int rc = mdb_cursor_open(txn, h->dbi[HIST_DB_APPLYING], &cur);
	if (rc) {
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > HIST_NAME_MAX ||
				memchr(k.mv_data, '\0', k.mv_size)) {
			rc = corrupt("applying", "a token is malformed");
			break;
		}
		bg_strv_push_take(&c->got, bg_xstrndup(k.mv_data, k.mv_size));
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int hist_applies_open(struct hist *h, struct bg_strv *out)
{
	struct open_list_ctx c;
	int err;
	if (!can_read(h, HIST_DB_APPLYING)) {
		return 0;
	}
	bg_strv_init(&c.got);
	err = txn_run(h, MDB_RDONLY, "listing applies in progress", fn_applies_open, &c);
	for (size_t i = 0; !err && i < c.got.n; i++) {
		bg_strv_push(out, c.got.v[i]);
	}
	bg_strv_release(&c.got);
	return err;
}

static int fn_apply_interrupted(struct hist *h, MDB_txn *txn, void *arg)
{
	struct apply_ctx *c = arg;
	struct hist__applying m;
	char when[32] = "an unknown time";
	MDB_val k = token_key(c->token);

	int rc = apply_mark_read(h, txn, c->token, &m);
	if (rc == MDB_NOTFOUND) {
		return BG_ENOT_FOUND;
	}
	if (rc) {
		return rc;
	}
	if (m.time_ms > 0) {
		bg_time_format_utc(m.time_ms, when);
	}
	char *details = bg_xasprintf("apply began at seq %" PRIu64 " by pid %" PRId64
			" (%s) at %s and never ended", m.seq, m.pid,
			m.actor ? m.actor : "unknown actor", when);
	struct hist_entry e = {
		.time_ms = c->now,
		.actor = (char *)c->actor,
		.sudo_user = (char *)c->claim,
		.action = "interrupted",
		.token = (char *)c->token,
		.result = "interrupted",
		.details = details,
	};
	rc = journal_put(h, txn, &e, &c->seq);
	if (!rc) {
		rc = mdb_del(txn, h->dbi[HIST_DB_APPLYING], &k, NULL);
	}
	free(details);
	free(m.actor);
	return rc;
}

int hist_apply_interrupted(struct hist *h, const char *token)
{
	struct apply_ctx c = {.token = token, .now = bg_now_ms()};
	apply_ctx_actor(&c, NULL);
	if (!name_ok(token)) {
		return BG_ENOT_FOUND;
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return txn_run(h, 0, "recording an interrupted apply", fn_apply_interrupted, &c);
}

/* ---- facts for the planner ---- */

struct site_facts {
	char *site;
	unsigned last_version;
	struct bg_strv spec_versions;
	struct bg_strv rejected;
};

struct observe_ctx {
	struct site_facts *v;
	size_t n, cap;
	uint64_t tokens_used;
};

static void observe_reset(struct observe_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].site);
		bg_strv_release(&c->v[i].spec_versions);
		bg_strv_release(&c->v[i].rejected);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* Both databases are sorted by site, so a site is usually the last one. */
static struct site_facts *observe_site(struct observe_ctx *c, const char *site, size_t len)
{
	for (size_t i = c->n; i-- > 0;) {
		if (strlen(c->v[i].site) == len && memcmp(c->v[i].site, site, len) == 0) {
			return &c->v[i];
		}
	}
	BG_GROW(c->v, c->cap, c->n + 1);
	struct site_facts *s = &c->v[c->n++];
	memset(s, 0, sizeof(*s));
	s->site = bg_xstrndup(site, len);
	bg_strv_init(&s->spec_versions);
	bg_strv_init(&s->rejected);
	return s;
}

/* Split "site \0 rest" keys; false when malformed. */
static bool key_split(const MDB_val *k, size_t *site_len, const char **rest, size_t *rest_len)
{
	const char *p = k->mv_data;
	const char *nul = memchr(p, '\0', k->mv_size);
	if (!nul || nul == p) {
		return false;
	}
	*site_len = (size_t)(nul - p);
	*rest = nul + 1;
	*rest_len = k->mv_size - *site_len - 1;
	return *rest_len > 0 && !memchr(*rest, '\0', *rest_len);
}

static int fn_observe(struct hist *h, MDB_txn *txn, void *arg)
{
	struct observe_ctx *c = arg;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = 0;

	observe_reset(c);
	if (h->have[HIST_DB_SPEC_INDEX]) {
		rc = mdb_cursor_open(txn, h->dbi[HIST_DB_SPEC_INDEX], &cur);
		if (rc) {
			return rc;
		}
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
				rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			size_t sl, specl;
			const char *spec;
			if (!key_split(&k, &sl, &spec, &specl) || v.mv_size != 4) {
				rc = corrupt("spec_index", "a record is malformed");
				break;
			}
			struct site_facts *s = observe_site(c, k.mv_data, sl);
			unsigned ver = hist__be_to_u32(v.mv_data);
			if (ver > s->last_version) {
				s->last_version = ver;
			}
			bg_strv_push_take(&s->spec_versions,
					bg_xasprintf("%.*s=%u", (int)specl, spec, ver));
		}
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND) {
			return rc;
		}
	}
	if (h->have[HIST_DB_REJECTED]) {
		rc = mdb_cursor_open(txn, h->dbi[HIST_DB_REJECTED], &cur);
		if (rc) {
			return rc;
		}
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
				rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			size_t sl, specl;
			const char *spec;
			if (!key_split(&k, &sl, &spec, &specl)) {
				rc = corrupt("rejected", "a key is malformed");
				break;
			}
			struct site_facts *s = observe_site(c, k.mv_data, sl);
			bg_strv_push_take(&s->rejected, bg_xstrndup(spec, specl));
		}
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND) {
			return rc;
		}
	}
	/*
	 * How many tokens were ever used: it changes when an apply starts and
	 * never when a plan is printed, so a plan identical to one whose apply
	 * was interrupted still gets a new token (the old one is used).
	 */
	if (h->have[HIST_DB_TOKENS_USED]) {
		MDB_stat ms;
		rc = mdb_stat(txn, h->dbi[HIST_DB_TOKENS_USED], &ms);
		if (rc) {
			return rc;
		}
		c->tokens_used = ms.ms_entries;
	}
	return 0;
}

int hist_observe(struct hist *h, struct obs *o)
{
	struct observe_ctx c = {0};
	int err = 0;

	if (!h->env) {
		return 0;
	}
	err = txn_run(h, MDB_RDONLY, "reading versions", fn_observe, &c);
	if (!err) {
		o->hist_tokens_used = c.tokens_used;
	}
	for (size_t i = 0; !err && i < c.n; i++) {
		struct site_facts *s = &c.v[i];
		struct obs_hist_site *oh = obs_hist_add(o);
		bg_strv_sort(&s->spec_versions);
		bg_strv_sort(&s->rejected);
		oh->site = s->site;
		s->site = NULL;
		oh->last_version = s->last_version;
		oh->spec_versions = s->spec_versions;
		bg_strv_init(&s->spec_versions);
		oh->rejected = s->rejected;
		bg_strv_init(&s->rejected);
	}
	observe_reset(&c);
	return err;
}

/* ---- stats ---- */

int hist_stats_get(struct hist *h, struct hist_stats *st)
{
	MDB_envinfo info;
	MDB_stat ms;

	memset(st, 0, sizeof(*st));
	if (!h->env) {
		return 0;
	}
	/* Both read the map: not during a resize. */
	pthread_rwlock_rdlock(&h->rw);
	int rc = mdb_env_info(h->env, &info);
	if (!rc) {
		rc = mdb_env_stat(h->env, &ms);
	}
	if (!rc) {
		st->map_size = info.me_mapsize;
		st->used_bytes = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
	}
	st->map_grows = h->map_grows;
	pthread_rwlock_unlock(&h->rw);
	if (rc) {
		return rc_map(rc, "reading statistics");
	}
	st->last_seq = hist_last_seq(h);
	return 0;
}
