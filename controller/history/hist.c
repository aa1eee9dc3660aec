/*
 * hist: the LMDB core of the history (see hist.h; the on-disk format is in
 * docs/history.md and the reasons in docs/adr/0006-history-store.md): the
 * environment, the map, the transactions, open and close. Every operation
 * is one LMDB transaction run by hist__txn_run(), which begins and ends
 * it, and retries it after growing the map (MDB_MAP_FULL) or adopting
 * another process's growth (MDB_MAP_RESIZED). A resize must not overlap
 * any transaction of this process, so transactions hold h->rw shared and
 * a resize holds it exclusive. MDB_* codes are mapped here, at the module
 * boundary, to BG_EHISTORY (or BG_ERRNO for system errors) with
 * mdb_strerror's text in a log line or a diagnostic.
 *
 * The journal lives in hist-journal.c, its verification in hist-chain.c,
 * the other databases in hist-store.c and the JSON records in
 * hist-codec.c; they reach the core through hist-db.h.
 */
#include "bg.h"
#include "hist.h"
#include "hist-db.h"
#include "bg-log.h"
#include "bg-util.h"

#include <sys/stat.h>
#include <unistd.h>

/* Retries of one transaction (each grows or adopts the map). */
#define TXN_ATTEMPTS 64
/* The map never grows past this; a history that big is a bug elsewhere. */
#define MAPSIZE_MAX ((size_t)1 << (sizeof(size_t) > 4 ? 40 : 30))
#define MAPSIZE_MIN ((size_t)32 << 10)

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

bool hist__name_ok(const char *s)
{
	return s && *s && strlen(s) <= HIST_NAME_MAX;
}

/* site \0 followed by `tail` bytes: the composite keys. */
size_t hist__key_site(unsigned char *buf, const char *site, const void *tail,
		size_t tail_len)
{
	size_t sl = strlen(site);
	memcpy(buf, site, sl);
	buf[sl] = '\0';
	memcpy(buf + sl + 1, tail, tail_len);
	return sl + 1 + tail_len;
}

bool hist__key_has_site(const MDB_val *k, const char *site, size_t sl)
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

int hist__corrupt(const char *db, const char *why)
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

/* hist-db.h. The only place a transaction begins and ends. */
int hist__txn_run(struct hist *h, unsigned flags, const char *what, hist__txn_fn fn,
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

int hist__meta_put(struct hist *h, MDB_txn *txn, const char *key, const char *val)
{
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
	MDB_val v = {.mv_size = strlen(val), .mv_data = (void *)val};
	return mdb_put(txn, h->dbi[HIST_DB_META], &k, &v, 0);
}

int hist__meta_put_format(struct hist *h, MDB_txn *txn)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", HIST_FORMAT);
	return hist__meta_put(h, txn, "format", buf);
}

/* The cheap check at open: does the last entry still match the head? */
static int head_check(struct hist *h, MDB_txn *txn, struct hist__open *c)
{
	struct hist__head hd;
	int rc = hist__head_read(h, txn, &hd);
	if (rc) {
		return rc;
	}
	c->head_bad = !hist__head_matches(&hd);
	c->head_seq = hd.meta == HIST_HEAD_OK ? hd.seq : 0;
	return 0;
}

static int fn_open(struct hist *h, MDB_txn *txn, void *arg)
{
	struct hist__open *c = arg;
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
		rc = hist__meta_put_format(h, txn);
		if (rc) {
			return rc;
		}
		snprintf(buf, sizeof(buf), "%" PRId64, bg_now_ms());
		c->format = HIST_FORMAT;
		return hist__meta_put(h, txn, "created_ms", buf);
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
		rc = hist__journal_migrate(h, txn, c);
		if (rc) {
			return rc;
		}
		c->format = HIST_FORMAT;
	}
	return c->format >= HIST_FORMAT_CHAINED ? head_check(h, txn, c) : 0;
}

/*
 * STATE_DIR/history, created (for writing) or looked up (read-only), and
 * registered under the one-open rule. *empty: read-only with no store yet
 * (the empty view); *fresh: no data file yet (a new store).
 */
static int open_dir(struct hist *h, const char *state_dir, const char *data_path,
		bool *fresh, bool *empty, struct bg_diag *d)
{
	struct stat st;
	int err;

	if (h->rdonly) {
		if (stat(data_path, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR) {
				*empty = true;
				return 0;
			}
			err = BG_ERRNO(errno);
			bg_diag_error(d, NULL, "cannot read history '%s': %s", h->dir,
					bg_strerror(err));
			return err;
		}
	} else {
		err = bg_state_dir_ensure(state_dir);
		if (!err) {
			err = bg_state_dir_ensure(h->dir);
		}
		if (err) {
			bg_diag_error(d, NULL, "cannot create history directory '%s': %s",
					h->dir, bg_strerror(err));
			return err;
		}
	}
	*fresh = stat(data_path, &st) < 0 && errno == ENOENT;
	if (stat(h->dir, &st) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot read history '%s': %s", h->dir,
				bg_strerror(err));
		return err;
	}
	if (!open_register(st.st_dev, st.st_ino)) {
		bg_diag_error(d, NULL, "history '%s' is already open in this process",
				h->dir);
		return BG_ERRNO(EBUSY);
	}
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->registered = true;
	return 0;
}

/* The LMDB environment: created, sized (a new store only), opened, private. */
static int open_env(struct hist *h, bool fresh, const struct hist_opts *opts,
		struct bg_diag *d)
{
	int err = 0, dead = 0;
	int rc = mdb_env_create(&h->env);

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
		return rc > 0 ? BG_ERRNO(rc) : BG_EHISTORY;
	}
	if (!h->rdonly) {
		err = file_private(h->dir, "data.mdb");
		if (!err) {
			err = file_private(h->dir, "lock.mdb");
		}
		if (err) {
			bg_diag_error(d, NULL, "cannot make history '%s' private: %s", h->dir,
					bg_strerror(err));
			return err;
		}
	}
	/* Reader slots of killed processes pin old pages: free them. */
	mdb_reader_check(h->env, &dead);
	if (dead > 0) {
		bg_trace(HIST, "cleared %d stale reader slots", dead);
	}
	h->map_size = env_map_size(h->env);
	return 0;
}

/* The opening transaction failed (err): say why in *d. */
static void open_refused(struct hist *h, const struct hist__open *oc, int err,
		struct bg_diag *d)
{
	if (oc->chain_failed) {
		bg_diag_error(d, NULL, "cannot chain the journal of history '%s' (format %"
				PRId64 " -> %d): %s; nothing was changed", h->dir, oc->format,
				HIST_FORMAT, oc->why);
	} else if (oc->why) {
		bg_diag_error(d, NULL, "cannot use history '%s': %s (format %" PRId64
				", this bluegreen reads format %d)",
				h->dir, oc->why, oc->format, HIST_FORMAT);
	} else {
		bg_diag_error(d, NULL, "cannot open history '%s': %s", h->dir,
				bg_strerror(err));
	}
}

/* The opening transaction succeeded: log a migration or a head mismatch. */
static void open_opened(struct hist *h, const struct hist__open *oc)
{
	if (oc->migrated) {
		bg_log(BG_LOG_INFO, "history '%s': chained %" PRIu64 " journal entries (format %d)",
				h->dir, oc->chained, HIST_FORMAT);
	}
	if (oc->head_bad) {
		bg_log(BG_LOG_WARN, "history '%s': the journal's last entry does not match its "
				"recorded head (entry %" PRIu64 "): entries were changed or removed "
				"outside bluegreen; `bluegreen history --verify` names the first",
				h->dir, oc->head_seq);
	}
}

int hist_open_ex(struct hist **out, const char *state_dir, unsigned flags,
		const struct hist_opts *opts, struct bg_diag *d)
{
	struct hist *h = bg_xcalloc(1, sizeof(*h));
	struct hist__open oc = {0};
	char *data_path = NULL;
	bool fresh = false, empty = false;
	int err = 0;

	*out = NULL;
	if (pthread_rwlock_init(&h->rw, NULL) != 0) {
		BG_BUG("pthread_rwlock_init");
	}
	h->rw_init = true;
	h->rdonly = flags & HIST_RDONLY;
	h->dir = bg_xasprintf("%s/%s", state_dir, HIST_DIR_NAME);
	data_path = bg_xasprintf("%s/data.mdb", h->dir);

	err = open_dir(h, state_dir, data_path, &fresh, &empty, d);
	if (err) {
		goto out;
	}
	if (empty) {
		h->format = HIST_FORMAT;
		goto done; /* no history yet: the empty view */
	}
	err = open_env(h, fresh, opts, d);
	if (err) {
		goto out;
	}
	err = hist__txn_run(h, h->rdonly ? MDB_RDONLY : 0, "opening", fn_open, &oc);
	if (err) {
		open_refused(h, &oc, err, d);
		goto out;
	}
	h->format = oc.format;
	open_opened(h, &oc);
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
bool hist__can_read(struct hist *h, enum hist__db db)
{
	return h->env && h->have[db];
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

