/*
 * t-hist: the history store against real LMDB files and real processes:
 * the journal (order, filters, limits, JSON), versions, tokens (also raced
 * by forked processes), plans, rejected revisions, crash marks, map growth
 * from a tiny map, appenders in several processes and threads, and
 * processes killed with SIGKILL mid-append. After every ordeal the store
 * must open, and every committed entry must be there, intact, in order,
 * without gaps.
 *
 * HIST_TEST_SCALE (default 1) multiplies the sizes of the heavy tests.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-log.h"
#include "bg-util.h"
#include "hist.h"
#include "hist-int.h"
#include "obs.h"
#include "th.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <lmdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TINY_MAP ((size_t)64 << 10)

static unsigned scale(void)
{
	const char *s = getenv("HIST_TEST_SCALE");
	int v = s ? atoi(s) : 1;
	return v > 0 ? (unsigned)v : 1;
}

/* ---- helpers ---- */

struct fixture {
	char *tmp;
	char *state;
};

/*
 * Forked children _exit() from inside a test. Under valgrind that runs a
 * leak check in the child, where the parent's locals may look lost: keep
 * the fixture reachable from a global so only real leaks count.
 */
static struct fixture *fixture_live;

static void fixture_init(struct fixture *f, const char *tag)
{
	f->tmp = th_tmpdir(tag);
	f->state = bg_xasprintf("%s/state", f->tmp);
	fixture_live = bg_xmalloc(sizeof(*fixture_live));
	*fixture_live = *f;
}

static void fixture_release(struct fixture *f)
{
	th_rm_rf(f->tmp);
	free(f->tmp);
	free(f->state);
	free(fixture_live);
	fixture_live = NULL;
}

static struct hist *open_ok(const char *state, unsigned flags, size_t map)
{
	struct hist *h = NULL;
	struct hist_opts opts = {.map_size = map};
	struct bg_diag d;
	bg_diag_init(&d);
	int err = hist_open_ex(&h, state, flags, &opts, &d);
	if (err) {
		bg_diag_print(&d, stderr);
		fail_msg("hist_open %s: %s", state, bg_strerror(err));
	}
	bg_diag_release(&d);
	assert_non_null(h);
	return h;
}

static uint64_t append(struct hist *h, const char *action, const char *site,
		const char *token, const char *result, const char *details)
{
	struct hist_entry e = {
		.action = (char *)action,
		.site = (char *)site,
		.token = (char *)token,
		.result = (char *)result,
		.details = (char *)details,
	};
	uint64_t seq = 0;
	int err = hist_append(h, &e, &seq);
	if (err) {
		fail_msg("hist_append: %s", bg_strerror(err));
	}
	assert_true(seq > 0);
	return seq;
}

/* Every visited entry, copied. */
struct seen {
	struct hist_entry *v;
	size_t n, cap;
};

static int seen_cb(const struct hist_entry *e, void *arg)
{
	struct seen *s = arg;
	BG_GROW(s->v, s->cap, s->n + 1);
	struct hist_entry *c = &s->v[s->n++];
	c->seq = e->seq;
	c->time_ms = e->time_ms;
	c->actor = bg_xstrdup(e->actor);
	c->action = bg_xstrdup(e->action);
	c->site = bg_xstrdup(e->site);
	c->token = bg_xstrdup(e->token);
	c->result = bg_xstrdup(e->result);
	c->details = bg_xstrdup(e->details);
	c->sudo_user = bg_xstrdup(e->sudo_user);
	c->prev = bg_xstrdup(e->prev);
	return 0;
}

static void seen_release(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		hist_entry_release(&s->v[i]);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void walk(struct hist *h, const char *site, uint64_t after, size_t limit,
		struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(hist_foreach(h, site, after, limit, seen_cb, s), 0);
}

static void assert_seqs(const struct seen *s, const uint64_t *want, size_t n)
{
	assert_int_equal(s->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s->v[i].seq, want[i]);
	}
}

/* Self-checking details: "k=<k>;" then len copies of one letter. */
static char *pattern_make(unsigned k, size_t len)
{
	char head[32];
	int hl = snprintf(head, sizeof(head), "k=%u;", k);
	char *s = bg_xmalloc((size_t)hl + len + 1);
	memcpy(s, head, (size_t)hl);
	memset(s + hl, 'a' + (int)(k % 26), len);
	s[(size_t)hl + len] = '\0';
	return s;
}

static bool pattern_ok(const char *s, unsigned *k_out)
{
	unsigned k = 0;
	int used = 0;
	if (!s || sscanf(s, "k=%u;%n", &k, &used) != 1 || used == 0) {
		return false;
	}
	for (const char *p = s + used; *p; p++) {
		if (*p != 'a' + (int)(k % 26)) {
			return false;
		}
	}
	if (k_out) {
		*k_out = k;
	}
	return true;
}

static size_t pattern_len(unsigned k)
{
	return 100 + (k * 7919u) % 3000u;
}

/* The chain from entry 1 to the head is whole. */
static void assert_chain_intact(struct hist *h, uint64_t n)
{
	struct hist_verify v;
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	if (v.brk != HIST_INTACT) {
		fail_msg("chain broken at %" PRIu64 " (%s): %s", v.bad_seq,
				hist_break_name(v.brk), v.why);
	}
	assert_int_equal(v.entries, n);
	assert_int_equal(v.head_seq, n);
}

/*
 * The whole journal: seqs 1..last without a gap, each entry decodable,
 * and (for entries with pattern details) intact, and the chain whole.
 * Returns the count.
 */
static uint64_t verify_journal(struct hist *h)
{
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	for (size_t i = 0; i < s.n; i++) {
		if (s.v[i].seq != i + 1) {
			fail_msg("gap: entry %zu has seq %" PRIu64, i, s.v[i].seq);
		}
		if (s.v[i].details && strncmp(s.v[i].details, "k=", 2) == 0 &&
				!pattern_ok(s.v[i].details, NULL)) {
			fail_msg("entry %" PRIu64 " damaged", s.v[i].seq);
		}
	}
	uint64_t n = s.n;
	assert_int_equal(hist_last_seq(h), n);
	assert_chain_intact(h, n);
	seen_release(&s);
	return n;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fail_msg("stat %s: %s", path, strerror(errno));
	}
	return st.st_mode & 07777;
}

static void child_wait_ok(pid_t pid)
{
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fail_msg("child %ld failed: status 0x%x", (long)pid, st);
	}
}

/* ---- open, files, read-only ---- */

static void test_open_modes(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	/*
	 * Even with a permissive umask. A world-writable directory already
	 * there is refused, never chmod'ed; an existing state directory keeps
	 * its owner's mode (bg_state_dir_prepare).
	 */
	mode_t old = umask(0);
	assert_int_equal(bg_mkdir_p(f.state, 0755), 0);
	char *hdir = bg_xasprintf("%s/history", f.state);
	assert_int_equal(mkdir(hdir, 0777), 0);
	struct hist *h = NULL;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(hist_open(&h, f.state, 0, &d), BG_ERRNO(EPERM));
	assert_null(h);
	assert_true(d.n_errors > 0);
	bg_diag_release(&d);
	assert_int_equal(mode_of(hdir), 0777);
	assert_int_equal(rmdir(hdir), 0);

	h = open_ok(f.state, 0, 0);
	umask(old);
	append(h, "plan", NULL, "3f2a9c01bb7d", "pending", NULL);
	assert_int_equal(mode_of(f.state), 0755);
	assert_int_equal(mode_of(hdir), 0700);
	char *data = bg_xasprintf("%s/data.mdb", hdir);
	char *lock = bg_xasprintf("%s/lock.mdb", hdir);
	assert_int_equal(mode_of(data), 0600);
	assert_int_equal(mode_of(lock), 0600);
	hist_close(h);
	hist_close(NULL);

	/* The default map of a new store, and its persistence. */
	h = open_ok(f.state, 0, 0);
	struct hist_stats st;
	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_int_equal(st.map_size, HIST_MAPSIZE_DEFAULT);
	assert_int_equal(st.last_seq, 1);
	hist_close(h);

	free(data);
	free(lock);
	free(hdir);
	fixture_release(&f);
}

static void test_rdonly_missing(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct stat st;

	struct hist *h = open_ok(f.state, HIST_RDONLY, 0);
	assert_int_equal(stat(f.state, &st), -1); /* nothing created */
	assert_int_equal(hist_last_seq(h), 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 0);
	walk(h, "shop", 0, 5, &s);
	assert_int_equal(s.n, 0);
	assert_false(hist_token_used(h, "3f2a9c01bb7d"));
	char *args = (char *)"x";
	assert_int_equal(hist_plan_get(h, "3f2a9c01bb7d", &args), BG_ENOT_FOUND);
	assert_null(args);
	char *spec = NULL, *sj = NULL;
	assert_int_equal(hist_version_get(h, "shop", 1, &spec, &sj), BG_ENOT_FOUND);
	struct bg_strv open;
	bg_strv_init(&open);
	assert_int_equal(hist_applies_open(h, &open), 0);
	assert_int_equal(open.n, 0);
	struct obs o;
	obs_init(&o);
	assert_int_equal(hist_observe(h, &o), 0);
	assert_int_equal(o.n_hist, 0);
	obs_release(&o);
	struct hist_entry e = {.action = "plan"};
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EROFS));
	assert_int_equal(hist_token_use(h, "3f2a9c01bb7d"), BG_ERRNO(EROFS));
	struct hist_stats hs;
	assert_int_equal(hist_stats_get(h, &hs), 0);
	assert_int_equal(hs.last_seq, 0);
	hist_close(h);
	assert_int_equal(stat(f.state, &st), -1);

	/* A state directory without history: still nothing created. */
	assert_int_equal(bg_state_dir_ensure(f.state), 0);
	h = open_ok(f.state, HIST_RDONLY, 0);
	char *hdir = bg_xasprintf("%s/history", f.state);
	assert_int_equal(stat(hdir, &st), -1);
	hist_close(h);
	free(hdir);
	fixture_release(&f);
}

static void test_rdonly_existing(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	append(h, "plan", "shop", "tok1", "pending", "2 changes");
	unsigned v = 0;
	assert_int_equal(hist_version_record(h, "shop", "aa11", "{}", "tok1", &v), 0);
	hist_close(h);

	h = open_ok(f.state, HIST_RDONLY, 0);
	assert_int_equal(hist_last_seq(h), 1);
	struct seen s;
	walk(h, "shop", 0, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].details, "2 changes");
	seen_release(&s);
	struct hist_entry e = {.action = "plan"};
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EROFS));
	assert_int_equal(hist_version_record(h, "shop", "bb22", "{}", NULL, &v), BG_ERRNO(EROFS));
	/* A spec recorded before is only a lookup, which a reader may do. */
	v = 0;
	assert_int_equal(hist_version_record(h, "shop", "aa11", "{}", NULL, &v), 0);
	assert_int_equal(v, 1);
	hist_close(h);
	fixture_release(&f);
}

static void test_open_twice(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	struct hist *h2 = NULL;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(hist_open(&h2, f.state, HIST_RDONLY, &d), BG_ERRNO(EBUSY));
	assert_null(h2);
	th_assert_contains(d.items[0].msg, "already open in this process");
	bg_diag_release(&d);
	hist_close(h);
	h2 = open_ok(f.state, HIST_RDONLY, 0);
	hist_close(h2);
	fixture_release(&f);
}

static void test_format_newer(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	hist_close(h);

	/* Pretend a newer bluegreen wrote it (raw LMDB, as that one would). */
	char *hdir = bg_xasprintf("%s/history", f.state);
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, hdir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	char newer[16];
	snprintf(newer, sizeof(newer), "%d", HIST_FORMAT + 1);
	MDB_val k = {.mv_size = 6, .mv_data = "format"};
	MDB_val v = {.mv_size = strlen(newer), .mv_data = newer};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	for (int ro = 0; ro < 2; ro++) {
		struct bg_diag d;
		bg_diag_init(&d);
		h = NULL;
		assert_int_equal(hist_open(&h, f.state, ro ? HIST_RDONLY : 0, &d), BG_EHISTORY);
		assert_null(h);
		th_assert_contains(d.items[0].msg, "written by a newer bluegreen");
		bg_diag_release(&d);
	}
	free(hdir);
	fixture_release(&f);
}

/* ---- journal ---- */

static void test_journal(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	struct seen s;

	assert_int_equal(hist_last_seq(h), 0);
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 0);

	int64_t before = bg_now_ms();
	/* seq:  1     2     3     4      5     6     7     8      9     10 */
	const char *sites[] = {NULL, "shop", "blog", "shop", NULL, "shop", "blog",
		"shop-eu", "shop", NULL};
	for (unsigned i = 0; i < BG_ARRAY_SIZE(sites); i++) {
		char det[32];
		snprintf(det, sizeof(det), "entry %u", i + 1);
		assert_int_equal(append(h, "step", sites[i], "tok", "ok", det), i + 1);
	}
	assert_int_equal(hist_last_seq(h), 10);

	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 10);
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.v[i].seq, i + 1);
		assert_true(s.v[i].time_ms >= before);
		assert_true(s.v[i].time_ms <= bg_now_ms());
		assert_string_equal(s.v[i].actor, bg_actor());
		assert_string_equal(s.v[i].action, "step");
		if (sites[i]) {
			assert_string_equal(s.v[i].site, sites[i]);
		} else {
			assert_null(s.v[i].site);
		}
	}
	seen_release(&s);

	/* Site filter: exact names only ("shop" is not "shop-eu"). */
	walk(h, "shop", 0, 0, &s);
	assert_seqs(&s, (uint64_t[]){2, 4, 6, 9}, 4);
	assert_string_equal(s.v[3].details, "entry 9");
	seen_release(&s);
	walk(h, "shop-eu", 0, 0, &s);
	assert_seqs(&s, (uint64_t[]){8}, 1);
	seen_release(&s);
	walk(h, "nope", 0, 0, &s);
	assert_int_equal(s.n, 0);

	/* after_seq */
	walk(h, NULL, 7, 0, &s);
	assert_seqs(&s, (uint64_t[]){8, 9, 10}, 3);
	seen_release(&s);
	walk(h, "shop", 4, 0, &s);
	assert_seqs(&s, (uint64_t[]){6, 9}, 2);
	seen_release(&s);
	walk(h, NULL, 10, 0, &s);
	assert_int_equal(s.n, 0);

	/* limit: the newest N, oldest first */
	walk(h, NULL, 0, 3, &s);
	assert_seqs(&s, (uint64_t[]){8, 9, 10}, 3);
	seen_release(&s);
	walk(h, "shop", 0, 2, &s);
	assert_seqs(&s, (uint64_t[]){6, 9}, 2);
	seen_release(&s);
	walk(h, "shop", 0, 100, &s);
	assert_seqs(&s, (uint64_t[]){2, 4, 6, 9}, 4);
	seen_release(&s);
	walk(h, NULL, 0, 100, &s);
	assert_int_equal(s.n, 10);
	seen_release(&s);
	/* limit and after_seq together */
	walk(h, NULL, 8, 5, &s);
	assert_seqs(&s, (uint64_t[]){9, 10}, 2);
	seen_release(&s);
	walk(h, "shop", 5, 3, &s);
	assert_seqs(&s, (uint64_t[]){6, 9}, 2);
	seen_release(&s);
	walk(h, "blog", 3, 1, &s);
	assert_seqs(&s, (uint64_t[]){7}, 1);
	seen_release(&s);

	/* Explicit time and actor are kept. */
	struct hist_entry e = {.time_ms = 1234, .actor = "ci@build", .action = "drift"};
	uint64_t seq = 0;
	assert_int_equal(hist_append(h, &e, &seq), 0);
	assert_int_equal(seq, 11);
	walk(h, NULL, 10, 0, &s);
	assert_int_equal(s.v[0].time_ms, 1234);
	assert_string_equal(s.v[0].actor, "ci@build");
	assert_null(s.v[0].token);
	assert_null(s.v[0].result);
	assert_null(s.v[0].details);
	seen_release(&s);

	/* Everything survives a reopen. */
	hist_close(h);
	h = open_ok(f.state, 0, 0);
	assert_int_equal(verify_journal(h), 11);
	walk(h, "shop", 0, 0, &s);
	assert_seqs(&s, (uint64_t[]){2, 4, 6, 9}, 4);
	seen_release(&s);
	hist_close(h);
	fixture_release(&f);
}

static int stop_at_3(const struct hist_entry *e, void *arg)
{
	int *n = arg;
	(*n)++;
	return e->seq == 3 ? 42 : 0;
}

struct append_during {
	struct hist *h;
	unsigned visited;
};

static int append_during_cb(const struct hist_entry *e, void *arg)
{
	struct append_during *a = arg;
	a->visited++;
	/* No transaction is open here: appending must neither deadlock nor
	 * make the walk run forever. */
	append(a->h, "step", "shop", NULL, "ok", "added during the walk");
	return 0;
}

static void test_journal_callbacks(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	for (int i = 0; i < 150; i++) {
		append(h, "step", "shop", NULL, "ok", NULL);
	}
	int n = 0;
	assert_int_equal(hist_foreach(h, NULL, 0, 0, stop_at_3, &n), 42);
	assert_int_equal(n, 3);

	/* A walk over more than one batch, appending as it goes. */
	struct append_during a = {.h = h};
	assert_int_equal(hist_foreach(h, "shop", 0, 0, append_during_cb, &a), 0);
	assert_int_equal(a.visited, 150);
	assert_int_equal(hist_last_seq(h), 300);
	a.visited = 0;
	assert_int_equal(hist_foreach(h, NULL, 0, 0, append_during_cb, &a), 0);
	assert_int_equal(a.visited, 300);
	assert_int_equal(verify_journal(h), 600);

	/* Limits and after_seq across batch boundaries, with and without site. */
	struct seen s;
	for (int by_site = 0; by_site < 2; by_site++) {
		const char *site = by_site ? "shop" : NULL;
		walk(h, site, 0, 70, &s);
		assert_int_equal(s.n, 70);
		for (size_t i = 0; i < s.n; i++) {
			assert_int_equal(s.v[i].seq, 531 + i);
		}
		seen_release(&s);
		walk(h, site, 500, 200, &s);
		assert_int_equal(s.n, 100);
		assert_int_equal(s.v[0].seq, 501);
		assert_int_equal(s.v[99].seq, 600);
		seen_release(&s);
		walk(h, site, 63, 0, &s);
		assert_int_equal(s.n, 537);
		assert_int_equal(s.v[0].seq, 64);
		seen_release(&s);
	}
	hist_close(h);
	fixture_release(&f);
}

static void test_append_invalid(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	char longname[HIST_NAME_MAX + 2];
	memset(longname, 's', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';

	struct hist_entry e = {0};
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EINVAL));
	e.action = "";
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EINVAL));
	e.action = "plan";
	e.site = longname;
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EINVAL));
	e.site = "";
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EINVAL));
	e.site = NULL;
	e.token = longname;
	assert_int_equal(hist_append(h, &e, NULL), BG_ERRNO(EINVAL));
	e.token = NULL;

	/* Oversized details are refused whole, never cut, never half-written. */
	size_t big = HIST_VALUE_MAX + 1;
	e.details = bg_xmalloc(big + 1);
	memset(e.details, 'x', big);
	e.details[big] = '\0';
	assert_int_equal(hist_append(h, &e, NULL), BG_ETOO_BIG);
	free(e.details);
	assert_int_equal(hist_last_seq(h), 0);

	/* Invalid UTF-8 is repaired, so the JSON output stays valid. */
	e.details = "bad \xff\xfe byte, overlong \xc0\xaf, ok \xc3\xa9";
	assert_int_equal(hist_append(h, &e, NULL), 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].details,
			"bad \xef\xbf\xbd\xef\xbf\xbd byte, "
			"overlong \xef\xbf\xbd\xef\xbf\xbd, ok \xc3\xa9");
	seen_release(&s);
	hist_close(h);
	fixture_release(&f);
}

static void test_entry_json(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	struct hist_entry e = {
		.seq = 42,
		.time_ms = INT64_C(1795710303123), /* 2026-11-26T16:25:03.123Z */
		.actor = "ops@host",
		.action = "switch",
		.site = "shop",
		.token = NULL,
		.result = "ok",
		.details = "live \"blue\" -> green\n",
	};
	assert_int_equal(hist_entry_to_json(&e, &b), 0);
	th_assert_not_contains(b.data, "\n");
	json_object *o = json_tokener_parse(b.data);
	assert_non_null(o);
	json_object *v = NULL;
	assert_true(json_object_object_get_ex(o, "seq", &v));
	assert_int_equal(json_object_get_int64(v), 42);
	assert_true(json_object_object_get_ex(o, "time", &v));
	assert_string_equal(json_object_get_string(v), "2026-11-26T16:25:03.123Z");
	assert_true(json_object_object_get_ex(o, "time_ms", &v));
	assert_int_equal(json_object_get_int64(v), INT64_C(1795710303123));
	assert_true(json_object_object_get_ex(o, "action", &v));
	assert_string_equal(json_object_get_string(v), "switch");
	assert_true(json_object_object_get_ex(o, "token", &v));
	assert_null(v); /* present, null */
	assert_true(json_object_object_get_ex(o, "details", &v));
	assert_string_equal(json_object_get_string(v), "live \"blue\" -> green\n");
	json_object_put(o);
	/* Keys in the documented order. */
	const char *head = "{\"seq\":42,\"time\":\"2026-11-26T16:25:03.123Z\",\"time_ms\":";
	assert_true(strncmp(b.data, head, strlen(head)) == 0);

	/* The stored form decodes back to the same entry. */
	bg_buf_reset(&b);
	assert_int_equal(hist__entry_encode(&e, &b), 0);
	struct hist_entry d;
	const char *why = NULL;
	assert_int_equal(hist__entry_decode(b.data, b.len, &d, &why), 0);
	assert_int_equal(d.seq, 42);
	assert_string_equal(d.details, e.details);
	assert_null(d.token);
	hist_entry_release(&d);
	/* Damaged records are refused with a reason. */
	const char *bad[] = {"", "{", "[]", "{\"v\":1}", "{\"v\":2,\"seq\":1}",
		"{\"v\":1,\"seq\":0,\"time_ms\":1,\"actor\":\"a\",\"action\":\"b\"}",
		"{\"v\":1,\"seq\":-1,\"time_ms\":1,\"actor\":\"a\",\"action\":\"b\"}",
		"{\"v\":1,\"seq\":1,\"time_ms\":1,\"actor\":\"a\",\"action\":7}",
		"{\"v\":1,\"seq\":1,\"time_ms\":1,\"actor\":\"a\",\"action\":\"a\\u0000b\"}",
		"{\"v\":1,\"seq\":1,\"time_ms\":1,\"actor\":\"a\",\"action\":\"b\"}x",
		"{\"v\":1,\"seq\":1,\"time_ms\":1,\"actor\":\"a\",\"action\":\"b\"}{}",
		"{\"v\":1,\"seq\":1,\"time_ms\":1,\"actor\":\"a\",\"action\":\"b\",}",
		"{\"v\":1,\"seq\":1.5,\"time_ms\":1,\"actor\":\"a\",\"action\":\"b\"}",
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
		why = NULL;
		assert_int_equal(hist__entry_decode(bad[i], strlen(bad[i]), &d, &why), BG_EPARSE);
		assert_non_null(why);
		assert_null(d.action);
	}
	const char *good = "{\"v\":1,\"seq\":1,\"time_ms\":1,\"actor\":\"a\","
			"\"action\":\"b\",\"future\":[1]}";
	assert_int_equal(hist__entry_decode(good, strlen(good), &d, NULL), 0);
	hist_entry_release(&d);
	bg_buf_release(&b);
}

/* ---- versions, plans, tokens, rejected ---- */

static void test_versions(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	unsigned v = 0;

	assert_int_equal(hist_version_record(h, "a", "s1", "{\"image\":\"a:1\"}", "t1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(hist_version_record(h, "a", "s1", "{\"ignored\":1}", "t9", &v), 0);
	assert_int_equal(v, 1); /* idempotent: the same spec keeps its number */
	assert_int_equal(hist_version_record(h, "a", "s2", "{\"image\":\"a:2\"}", "t2", &v), 0);
	assert_int_equal(v, 2);
	/* Neighbouring site names never share numbers. */
	assert_int_equal(hist_version_record(h, "ab", "s1", "{}", NULL, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(hist_version_record(h, "a-b", "s9", "{}", NULL, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(hist_version_record(h, "a", "s3", "{}", NULL, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(hist_version_record(h, "ab", "s2", "{}", NULL, &v), 0);
	assert_int_equal(v, 2);
	/* Going back to an older spec keeps its old number. */
	assert_int_equal(hist_version_record(h, "a", "s1", "{}", NULL, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(hist_version_record(h, "", "s1", "{}", NULL, &v), BG_ERRNO(EINVAL));
	assert_int_equal(hist_version_record(h, "a", "s1", NULL, NULL, &v), BG_ERRNO(EINVAL));

	char *spec = NULL, *sj = NULL;
	assert_int_equal(hist_version_get(h, "a", 2, &spec, &sj), 0);
	assert_string_equal(spec, "s2");
	assert_string_equal(sj, "{\"image\":\"a:2\"}");
	free(spec);
	free(sj);
	assert_int_equal(hist_version_get(h, "a", 1, NULL, &sj), 0);
	assert_string_equal(sj, "{\"image\":\"a:1\"}"); /* the first record stays */
	free(sj);
	assert_int_equal(hist_version_get(h, "a", 4, &spec, &sj), BG_ENOT_FOUND);
	assert_null(spec);
	assert_null(sj);
	assert_int_equal(hist_version_get(h, "zz", 1, &spec, NULL), BG_ENOT_FOUND);
	assert_int_equal(hist_version_get(h, "a", 0, &spec, NULL), BG_ENOT_FOUND);

	hist_close(h);
	h = open_ok(f.state, 0, 0);
	assert_int_equal(hist_version_record(h, "a", "s4", "{}", NULL, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(hist_version_record(h, "a", "s2", "{}", NULL, &v), 0);
	assert_int_equal(v, 2);
	hist_close(h);
	fixture_release(&f);
}

static void test_plans_tokens(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	char *args = NULL;

	assert_int_equal(hist_plan_get(h, "3f2a9c01bb7d", &args), BG_ENOT_FOUND);
	assert_int_equal(hist_plan_store(h, "3f2a9c01bb7d", "{\"sites\":[\"shop\"]}",
			"plan: 2 changes"), 0);
	assert_int_equal(hist_plan_get(h, "3f2a9c01bb7d", &args), 0);
	assert_string_equal(args, "{\"sites\":[\"shop\"]}");
	free(args);
	assert_int_equal(hist_plan_store(h, "3f2a9c01bb7d", "{\"sites\":[]}", NULL), 0);
	assert_int_equal(hist_plan_get(h, "3f2a9c01bb7d", &args), 0);
	assert_string_equal(args, "{\"sites\":[]}");
	free(args);
	assert_int_equal(hist_plan_store(h, "", "{}", NULL), BG_ERRNO(EINVAL));

	assert_false(hist_token_used(h, "3f2a9c01bb7d"));
	assert_int_equal(hist_token_use(h, "3f2a9c01bb7d"), 0);
	assert_true(hist_token_used(h, "3f2a9c01bb7d"));
	assert_int_equal(hist_token_use(h, "3f2a9c01bb7d"), BG_ETOKEN_USED);
	assert_false(hist_token_used(h, "3f2a9c01bb7e"));
	hist_close(h);
	h = open_ok(f.state, 0, 0);
	assert_int_equal(hist_token_use(h, "3f2a9c01bb7d"), BG_ETOKEN_USED);
	assert_int_equal(hist_token_use(h, "3f2a9c01bb7e"), 0);
	hist_close(h);
	fixture_release(&f);
}

/*
 * Several processes race to use the same token at the same moment: each
 * opened the store, then all are released together through one pipe.
 * Exactly one may win, every round.
 */
static void test_token_race(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	enum { RACERS = 4 };
	unsigned rounds = 20 * scale();
	struct hist *h = open_ok(f.state, 0, 0);
	hist_close(h);

	for (unsigned r = 0; r < rounds; r++) {
		char token[32];
		pid_t pids[RACERS];
		int go[2];
		snprintf(token, sizeof(token), "race%08u", r);
		assert_int_equal(pipe(go), 0);
		for (int i = 0; i < RACERS; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0) {
				struct hist *ch = NULL;
				char c;
				close(go[1]);
				if (hist_open(&ch, f.state, 0, NULL)) {
					_exit(10);
				}
				if (read(go[0], &c, 1) != 0) { /* EOF: go */
					_exit(11);
				}
				int err = hist_token_use(ch, token);
				hist_close(ch);
				_exit(err == 0 ? 0 : err == BG_ETOKEN_USED ? 1 : 12);
			}
		}
		close(go[0]);
		usleep(20000); /* let them all open and block on the pipe */
		close(go[1]);
		int winners = 0, losers = 0;
		for (int i = 0; i < RACERS; i++) {
			int st = 0;
			assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
			assert_true(WIFEXITED(st));
			if (WEXITSTATUS(st) == 0) {
				winners++;
			} else if (WEXITSTATUS(st) == 1) {
				losers++;
			} else {
				fail_msg("racer exited with %d", WEXITSTATUS(st));
			}
		}
		assert_int_equal(winners, 1);
		assert_int_equal(losers, RACERS - 1);
	}
	h = open_ok(f.state, 0, 0);
	for (unsigned r = 0; r < rounds; r++) {
		char token[32];
		snprintf(token, sizeof(token), "race%08u", r);
		assert_true(hist_token_used(h, token));
	}
	hist_close(h);
	fixture_release(&f);
}

static void test_rejected_observe(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	unsigned v;
	struct obs o;

	assert_int_equal(hist_version_record(h, "shop", "ffee", "{}", NULL, &v), 0);
	assert_int_equal(hist_version_record(h, "shop", "aa01", "{}", NULL, &v), 0);
	assert_int_equal(hist_version_record(h, "shop", "c3c3", "{}", NULL, &v), 0);
	assert_int_equal(hist_version_record(h, "blog", "0b0b", "{}", NULL, &v), 0);
	assert_int_equal(hist_rejected_add(h, "shop", "c3c3"), 0);
	assert_int_equal(hist_rejected_add(h, "shop", "c3c3"), 0); /* idempotent */
	assert_int_equal(hist_rejected_add(h, "shop", "aa01"), 0);
	assert_int_equal(hist_rejected_add(h, "api", "dead"), 0); /* rejected only */
	assert_int_equal(hist_rejected_add(h, "shop", ""), BG_ERRNO(EINVAL));

	obs_init(&o);
	assert_int_equal(hist_observe(h, &o), 0);
	obs_finish(&o);
	assert_int_equal(o.n_hist, 3);
	const struct obs_hist_site *s = obs_hist_find(&o, "shop");
	assert_non_null(s);
	assert_int_equal(s->last_version, 3);
	assert_int_equal(s->spec_versions.n, 3);
	assert_string_equal(s->spec_versions.v[0], "aa01=2");
	assert_string_equal(s->spec_versions.v[1], "c3c3=3");
	assert_string_equal(s->spec_versions.v[2], "ffee=1");
	assert_int_equal(s->rejected.n, 2);
	assert_string_equal(s->rejected.v[0], "aa01");
	assert_string_equal(s->rejected.v[1], "c3c3");
	s = obs_hist_find(&o, "blog");
	assert_non_null(s);
	assert_int_equal(s->last_version, 1);
	assert_int_equal(s->rejected.n, 0);
	s = obs_hist_find(&o, "api");
	assert_non_null(s);
	assert_int_equal(s->last_version, 0);
	assert_int_equal(s->spec_versions.n, 0);
	assert_int_equal(s->rejected.n, 1);
	obs_release(&o);

	assert_int_equal(hist_rejected_clear(h, "shop", "c3c3"), 0);
	assert_int_equal(hist_rejected_clear(h, "shop", "c3c3"), 0); /* idempotent */
	assert_int_equal(hist_rejected_clear(h, "api", "dead"), 0);
	obs_init(&o);
	assert_int_equal(hist_observe(h, &o), 0);
	obs_finish(&o);
	assert_int_equal(o.n_hist, 2); /* api has no history left */
	s = obs_hist_find(&o, "shop");
	assert_int_equal(s->rejected.n, 1);
	assert_string_equal(s->rejected.v[0], "aa01");
	obs_release(&o);
	hist_close(h);
	fixture_release(&f);
}

/* ---- crash marks ---- */

static void log_sink(enum bg_log_level lvl, const char *subsys, const char *file,
		int line, const char *msg, void *arg)
{
	bg_buf_addf(arg, "%s\n", msg);
}

static void test_apply_marks(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	struct bg_strv open;
	struct seen s;
	uint64_t seq = 0;

	bg_strv_init(&open);
	assert_int_equal(hist_apply_begin(h, "tok1", &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(hist_apply_begin(h, "tok1", NULL), BG_ETOKEN_USED);
	assert_int_equal(hist_applies_open(h, &open), 0);
	assert_int_equal(open.n, 1);
	assert_string_equal(open.v[0], "tok1");
	bg_strv_release(&open);
	append(h, "step", "shop", "tok1", "ok", "candidate green started");
	assert_int_equal(hist_apply_end(h, "tok1", "ok"), 0);
	bg_strv_init(&open);
	assert_int_equal(hist_applies_open(h, &open), 0);
	assert_int_equal(open.n, 0);

	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].action, "apply");
	assert_string_equal(s.v[0].result, "started");
	assert_string_equal(s.v[0].token, "tok1");
	assert_string_equal(s.v[2].action, "apply-end");
	assert_string_equal(s.v[2].result, "ok");
	assert_string_equal(s.v[2].details, "apply began at seq 1");
	seen_release(&s);

	/* An end without a begin is still journaled, with a warning. */
	struct bg_buf logs = BG_BUF_INIT;
	bg_log_init(BG_LOG_WARN, log_sink, &logs);
	assert_int_equal(hist_apply_end(h, "tok0", "failed"), 0);
	bg_log_init(BG_LOG_WARN, NULL, NULL);
	th_assert_contains(logs.data,
			"apply of token tok0 ended, but its start was never recorded");
	bg_buf_release(&logs);
	walk(h, NULL, 3, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].action, "apply-end");
	assert_string_equal(s.v[0].result, "failed");
	assert_string_equal(s.v[0].details, "no apply in progress was recorded for this token");
	seen_release(&s);
	assert_int_equal(hist_apply_interrupted(h, "tok0"), BG_ENOT_FOUND);
	assert_int_equal(hist_apply_begin(h, "tok2", NULL), 0);
	hist_close(h);

	/* A converger that dies mid-apply (kill -9) leaves its mark. */
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hist *ch = NULL;
		uint64_t cs = 0;
		close(ready[0]);
		if (hist_open(&ch, f.state, 0, NULL) || hist_apply_begin(ch, "tok3", &cs)) {
			_exit(2);
		}
		if (write(ready[1], &cs, sizeof(cs)) != sizeof(cs)) {
			_exit(3);
		}
		for (;;) {
			pause();
		}
	}
	close(ready[1]);
	uint64_t child_seq = 0;
	assert_int_equal(read(ready[0], &child_seq, sizeof(child_seq)), sizeof(child_seq));
	close(ready[0]);
	kill(pid, SIGKILL);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);

	h = open_ok(f.state, 0, 0);
	bg_strv_init(&open);
	assert_int_equal(hist_applies_open(h, &open), 0);
	assert_int_equal(open.n, 2);
	assert_string_equal(open.v[0], "tok2");
	assert_string_equal(open.v[1], "tok3");
	bg_strv_release(&open);
	assert_int_equal(hist_apply_interrupted(h, "tok3"), 0);
	assert_int_equal(hist_apply_interrupted(h, "tok3"), BG_ENOT_FOUND);
	uint64_t last = hist_last_seq(h);
	walk(h, NULL, last - 1, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].action, "interrupted");
	assert_string_equal(s.v[0].result, "interrupted");
	assert_string_equal(s.v[0].token, "tok3");
	char *want = bg_xasprintf("apply began at seq %" PRIu64 " by pid %ld (%s) at ",
			child_seq, (long)pid, bg_actor());
	th_assert_contains(s.v[0].details, want);
	th_assert_contains(s.v[0].details, "and never ended");
	free(want);
	seen_release(&s);
	bg_strv_init(&open);
	assert_int_equal(hist_applies_open(h, &open), 0);
	assert_int_equal(open.n, 1);
	bg_strv_release(&open);
	verify_journal(h);
	hist_close(h);
	fixture_release(&f);
}

/* ---- growth, concurrency, crashes ---- */

static void test_map_growth(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	unsigned n = 1500 * scale();
	struct hist *h = open_ok(f.state, 0, TINY_MAP);
	struct hist_stats st;

	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_int_equal(st.map_size, TINY_MAP);
	int64_t t0 = bg_mono_ms();
	for (unsigned k = 0; k < n; k++) {
		char *det = pattern_make(k, pattern_len(k));
		assert_int_equal(append(h, "grow", k % 2 ? "shop" : NULL, NULL, "ok", det), k + 1);
		free(det);
	}
	int64_t ms = bg_mono_ms() - t0;
	assert_int_equal(hist_stats_get(h, &st), 0);
	print_message("# %u appends in %" PRId64 " ms (%.0f/s); map %zu -> %zu bytes, "
			"grown %u times, %zu bytes used\n", n, ms,
			ms > 0 ? n * 1000.0 / (double)ms : 0.0, TINY_MAP, st.map_size,
			st.map_grows, st.used_bytes);
	assert_true(st.map_grows >= 4);
	assert_true(st.map_size >= TINY_MAP << 4);
	assert_true(st.used_bytes <= st.map_size);
	size_t grown = st.map_size;
	hist_close(h);

	/* Reopening asks for the tiny map again: the store keeps its size. */
	h = open_ok(f.state, 0, TINY_MAP);
	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_int_equal(st.map_size, grown);
	assert_int_equal(st.map_grows, 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, n);
	for (unsigned k = 0; k < n; k++) {
		unsigned got = 0;
		assert_int_equal(s.v[k].seq, k + 1);
		assert_true(pattern_ok(s.v[k].details, &got));
		assert_int_equal(got, k);
		size_t head_len = (size_t)snprintf(NULL, 0, "k=%u;", k);
		assert_int_equal(strlen(s.v[k].details), head_len + pattern_len(k));
	}
	seen_release(&s);
	walk(h, "shop", 0, 5, &s);
	assert_seqs(&s, (uint64_t[]){n - 8, n - 6, n - 4, n - 2, n}, 5);
	seen_release(&s);
	hist_close(h);

	/* The environment variable sets the map of a new store. */
	char *other = bg_xasprintf("%s/other", f.tmp);
	setenv(HIST_MAPSIZE_ENV, "96K", 1);
	h = NULL;
	assert_int_equal(hist_open(&h, other, 0, NULL), 0);
	unsetenv(HIST_MAPSIZE_ENV);
	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_int_equal(st.map_size, (size_t)96 << 10);
	hist_close(h);
	free(other);
	fixture_release(&f);
}

/*
 * Another process grows the map while we hold the store open with the old
 * size: our next transaction meets MDB_MAP_RESIZED and must adopt it.
 */
static void test_map_resized_elsewhere(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, TINY_MAP);
	append(h, "first", NULL, NULL, NULL, NULL);
	hist_close(h);

	int go[2];
	assert_int_equal(pipe(go), 0);
	unsigned n = 1000 * scale();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 0) {
			_exit(2);
		}
		struct hist *ch = NULL;
		if (hist_open(&ch, f.state, 0, NULL)) {
			_exit(3);
		}
		for (unsigned k = 0; k < n; k++) {
			char *det = pattern_make(k, 1000);
			struct hist_entry e = {.action = "grow", .details = det};
			int err = hist_append(ch, &e, NULL);
			free(det);
			if (err) {
				_exit(4);
			}
		}
		hist_close(ch);
		_exit(0);
	}
	close(go[0]);
	h = open_ok(f.state, HIST_RDONLY, 0);
	struct hist_stats st;
	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_int_equal(st.map_size, TINY_MAP);
	assert_int_equal(st.last_seq, 1);
	close(go[1]);
	child_wait_ok(pid);

	assert_int_equal(hist_last_seq(h), n + 1); /* adopts the new size */
	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_true(st.map_size > TINY_MAP << 3);
	assert_int_equal(verify_journal(h), n + 1);
	hist_close(h);
	/* And a writer that still has the old size: */
	h = open_ok(f.state, 0, 0);
	append(h, "after", NULL, NULL, NULL, NULL);
	assert_int_equal(verify_journal(h), n + 2);
	hist_close(h);
	fixture_release(&f);
}

/* Appenders in K processes, N each, on a tiny map they all must grow. */
static void test_concurrent_processes(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	enum { K = 3 };
	unsigned n = 200 * scale();
	struct hist *h = open_ok(f.state, 0, TINY_MAP);
	hist_close(h);

	int go[2];
	pid_t pids[K];
	assert_int_equal(pipe(go), 0);
	for (int c = 0; c < K; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] == 0) {
			struct hist *ch = NULL;
			char b;
			close(go[1]);
			if (hist_open(&ch, f.state, 0, NULL)) {
				_exit(2);
			}
			if (read(go[0], &b, 1) != 0) {
				_exit(3);
			}
			for (unsigned i = 0; i < n; i++) {
				char *det = bg_xasprintf("c=%d i=%u %0*d", c, i, 400, 0);
				struct hist_entry e = {.action = "conc", .details = det};
				int err = hist_append(ch, &e, NULL);
				free(det);
				if (err) {
					_exit(4);
				}
			}
			hist_close(ch);
			_exit(0);
		}
	}
	close(go[0]);
	usleep(20000);
	int64_t t0 = bg_mono_ms();
	close(go[1]);
	for (int c = 0; c < K; c++) {
		child_wait_ok(pids[c]);
	}
	int64_t ms = bg_mono_ms() - t0;

	h = open_ok(f.state, HIST_RDONLY, 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, (size_t)n * K);
	unsigned next[K] = {0};
	for (size_t j = 0; j < s.n; j++) {
		int c = -1;
		unsigned i = 0;
		assert_int_equal(s.v[j].seq, j + 1); /* unique and gapless */
		assert_int_equal(sscanf(s.v[j].details, "c=%d i=%u", &c, &i), 2);
		assert_true(c >= 0 && c < K);
		assert_int_equal(i, next[c]); /* each process's own order is kept */
		next[c]++;
	}
	for (int c = 0; c < K; c++) {
		assert_int_equal(next[c], n);
	}
	seen_release(&s);
	struct hist_stats st;
	assert_int_equal(hist_stats_get(h, &st), 0);
	print_message("# %d processes x %u appends in %" PRId64 " ms (%.0f/s); map now %zu bytes\n",
			K, n, ms, ms > 0 ? K * n * 1000.0 / (double)ms : 0.0, st.map_size);
	assert_true(st.map_size > TINY_MAP);
	hist_close(h);
	fixture_release(&f);
}

struct thread_arg {
	struct hist *h;
	int id;
	unsigned n;
	int err;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	for (unsigned i = 0; i < a->n && !a->err; i++) {
		char *det = bg_xasprintf("t=%d i=%u %0*d", a->id, i, 300, 0);
		struct hist_entry e = {.action = "thread", .site = a->id % 2 ? "odd" : NULL,
			.details = det};
		a->err = hist_append(a->h, &e, NULL);
		free(det);
		if (i % 50 == 0 && !a->err) {
			/* Readers in the same process while others write and grow. */
			a->err = hist_last_seq(a->h) == 0 ? -1 : 0;
		}
	}
	return NULL;
}

/* The daemon's case: threads of one process share one handle. */
static void test_threads(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	enum { T = 4 };
	unsigned n = 100 * scale();
	struct hist *h = open_ok(f.state, 0, TINY_MAP);
	pthread_t th[T];
	struct thread_arg args[T];

	for (int i = 0; i < T; i++) {
		args[i] = (struct thread_arg){.h = h, .id = i, .n = n};
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].err, 0);
	}
	struct hist_stats st;
	assert_int_equal(hist_stats_get(h, &st), 0);
	assert_true(st.map_grows >= 2);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, (size_t)T * n);
	unsigned next[T] = {0};
	for (size_t j = 0; j < s.n; j++) {
		int t = -1;
		unsigned i = 0;
		assert_int_equal(s.v[j].seq, j + 1);
		assert_int_equal(sscanf(s.v[j].details, "t=%d i=%u", &t, &i), 2);
		assert_true(t >= 0 && t < T);
		assert_int_equal(i, next[t]);
		next[t]++;
	}
	seen_release(&s);
	walk(h, "odd", 0, 0, &s);
	assert_int_equal(s.n, (size_t)n * (T / 2));
	seen_release(&s);
	hist_close(h);
	fixture_release(&f);
}

/*
 * A child appends as fast as it can, telling us each seq it got back
 * (committed), and is killed with SIGKILL at a random moment, again and
 * again: mid-commit, mid-growth, mid-open. Each time the store must open
 * and hold every committed entry, intact and gapless.
 */
static void test_kill9(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	unsigned rounds = 40 * scale();
	struct hist *h = open_ok(f.state, 0, TINY_MAP);
	hist_close(h);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	uint64_t total_reported = 0, prev_n = 0;
	unsigned torn = 0;

	for (unsigned r = 0; r < rounds; r++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct hist *ch = NULL;
			close(p[0]);
			if (hist_open(&ch, f.state, 0, NULL)) {
				_exit(2);
			}
			for (unsigned k = r * 100000u;; k++) {
				char *det = pattern_make(k, pattern_len(k));
				struct hist_entry e = {.action = "crash",
					.site = k % 3 ? "shop" : NULL, .details = det};
				uint64_t seq = 0;
				if (hist_append(ch, &e, &seq)) {
					_exit(3);
				}
				free(det);
				if (write(p[1], &seq, sizeof(seq)) != sizeof(seq)) {
					_exit(4);
				}
			}
		}
		close(p[1]);
		uint64_t seq, max_seq = 0, count = 0;
		/*
		 * Most rounds let the child commit once first, so the kill
		 * lands in its append loop however slow the machine (valgrind);
		 * every fourth kills blind, possibly during the open.
		 */
		if (r % 4 != 0) {
			ssize_t got = read(p[0], &seq, sizeof(seq));
			if (got != sizeof(seq)) {
				fail_msg("round %u: the appender stopped before committing", r);
			}
			max_seq = seq;
			count++;
		}
		usleep((useconds_t)(rand() % 50000));
		kill(pid, SIGKILL);
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st)) {
			fail_msg("round %u: the appender died by itself (status 0x%x)", r, st);
		}
		while (read(p[0], &seq, sizeof(seq)) == sizeof(seq)) {
			max_seq = seq > max_seq ? seq : max_seq;
			count++;
		}
		close(p[0]);
		total_reported += count;

		h = open_ok(f.state, 0, 0);
		uint64_t n = verify_journal(h);
		/* Everything reported committed is there; at most one more
		 * (committed, killed before it could tell us). */
		uint64_t known = max_seq > prev_n ? max_seq : prev_n;
		assert_true(n >= known);
		assert_true(n <= known + 1);
		torn += n > known;
		prev_n = n;
		struct seen s;
		walk(h, "shop", 0, 3, &s);
		for (size_t i = 0; i < s.n; i++) {
			assert_true(pattern_ok(s.v[i].details, NULL));
		}
		seen_release(&s);
		hist_close(h);
	}
	h = open_ok(f.state, 0, 0);
	struct hist_stats st;
	assert_int_equal(hist_stats_get(h, &st), 0);
	print_message("# %u kills; %" PRIu64 " entries committed and reported, %" PRIu64
			" in the store, %u kills between commit and report; map %zu bytes\n",
			rounds, total_reported, st.last_seq, torn, st.map_size);
	assert_true(st.last_seq >= total_reported);
	assert_true(total_reported > rounds); /* the children did work */
	hist_close(h);
	fixture_release(&f);
}

/* ---- the chain ---- */

/* Raw LMDB access to a store, as someone editing data.mdb would do it. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi journal, meta, bysite;
};

static void raw_begin(struct raw *r, const char *state)
{
	char *hdir = bg_xasprintf("%s/history", state);
	memset(r, 0, sizeof(*r));
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
	assert_int_equal(mdb_env_open(r->env, hdir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "journal", MDB_CREATE, &r->journal), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "meta", MDB_CREATE, &r->meta), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "journal_by_site", MDB_CREATE, &r->bysite), 0);
	free(hdir);
}

static void raw_commit(struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
	memset(r, 0, sizeof(*r));
}

static MDB_val seq_key(uint64_t seq, unsigned char be[8])
{
	hist__u64_to_be(seq, be);
	MDB_val k = {.mv_size = 8, .mv_data = be};
	return k;
}

/* The record of entry seq exactly as stored, a new string. */
static char *raw_get(struct raw *r, uint64_t seq)
{
	unsigned char be[8];
	MDB_val k = seq_key(seq, be), v;
	assert_int_equal(mdb_get(r->txn, r->journal, &k, &v), 0);
	return bg_xstrndup(v.mv_data, v.mv_size);
}

static void raw_put(struct raw *r, uint64_t seq, const char *rec)
{
	unsigned char be[8];
	MDB_val k = seq_key(seq, be);
	MDB_val v = {.mv_size = strlen(rec), .mv_data = (void *)rec};
	assert_int_equal(mdb_put(r->txn, r->journal, &k, &v, 0), 0);
}

static void raw_del(struct raw *r, uint64_t seq)
{
	unsigned char be[8];
	MDB_val k = seq_key(seq, be);
	assert_int_equal(mdb_del(r->txn, r->journal, &k, NULL), 0);
}

static char *raw_meta(struct raw *r, const char *key)
{
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key}, v;
	if (mdb_get(r->txn, r->meta, &k, &v) != 0) {
		return NULL;
	}
	return bg_xstrndup(v.mv_data, v.mv_size);
}

/* s with the first `from` replaced by `to` (which must be there). */
static char *str_sub(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	if (!at) {
		fail_msg("'%s' not in '%s'", from, s);
	}
	return bg_xasprintf("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

/* Change one stored entry's bytes, as an editor of data.mdb would. */
static void tamper_entry(const char *state, uint64_t seq, const char *from, const char *to)
{
	struct raw r;
	raw_begin(&r, state);
	char *rec = raw_get(&r, seq);
	char *changed = str_sub(rec, from, to);
	raw_put(&r, seq, changed);
	raw_commit(&r);
	free(changed);
	free(rec);
}

/* n entries "entry K ok", every other one for site shop. */
static void fill(struct hist *h, unsigned n)
{
	for (unsigned k = 1; k <= n; k++) {
		char det[32];
		snprintf(det, sizeof(det), "entry %u ok", k);
		assert_int_equal(append(h, "step", k % 2 ? "shop" : NULL, NULL, "ok", det), k);
	}
}

static void expect_break(const char *state, enum hist_break want, uint64_t seq,
		const char *why_part)
{
	struct hist *h = open_ok(state, HIST_RDONLY, 0);
	struct hist_verify v;
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	if (v.brk != want || v.bad_seq != seq) {
		fail_msg("want %s at entry %" PRIu64 ", got %s at %" PRIu64 ": %s",
				hist_break_name(want), seq, hist_break_name(v.brk), v.bad_seq, v.why);
	}
	assert_int_equal(v.bad_line, 0);
	th_assert_contains(v.why, why_part);
	hist_close(h);
}

/* Each entry links to the bytes of the one before; meta holds the head. */
static void test_chain_links(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	fill(h, 3);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	hist_close(h);

	struct raw r;
	char hash[65];
	raw_begin(&r, f.state);
	char *prev = bg_xstrdup(HIST_GENESIS);
	for (uint64_t k = 1; k <= 3; k++) {
		char *rec = raw_get(&r, k);
		char *want = bg_xasprintf("\"prev\":\"%s\"", prev);
		th_assert_contains(rec, want);
		assert_string_equal(s.v[k - 1].prev, prev);
		bg_sha256_hex(rec, strlen(rec), hash);
		free(prev);
		prev = bg_xstrdup(hash);
		free(want);
		free(rec);
	}
	char *head = raw_meta(&r, HIST_META_HEAD);
	char *want_head = bg_xasprintf("3 %s", hash);
	assert_non_null(head);
	assert_string_equal(head, want_head);
	char *format = raw_meta(&r, "format");
	assert_string_equal(format, "2");
	raw_commit(&r);

	/* The chain is in --json too. */
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(hist_entry_to_json(&s.v[1], &b), 0);
	th_assert_contains(b.data, "\"prev\":\"");
	bg_buf_release(&b);

	h = open_ok(f.state, HIST_RDONLY, 0);
	assert_chain_intact(h, 3);
	struct hist_verify v;
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	assert_string_equal(v.head_hash, hash);
	hist_close(h);
	free(format);
	free(head);
	free(want_head);
	free(prev);
	seen_release(&s);
	fixture_release(&f);
}

/*
 * An entry edited in place (mdb_put on its raw record) is named; the next
 * append does not launder it into the chain; an edited last entry is
 * caught by the head.
 */
static void test_chain_changed(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	fill(h, 10);
	assert_chain_intact(h, 10);
	hist_close(h);

	tamper_entry(f.state, 4, "entry 4 ok", "entry 4 OK");
	expect_break(f.state, HIST_BREAK_CHANGED, 4, "entry 4 was changed");

	/* An append after the edit: the break stays where it is. */
	h = open_ok(f.state, 0, 0);
	assert_int_equal(append(h, "step", NULL, NULL, "ok", "after"), 11);
	hist_close(h);
	expect_break(f.state, HIST_BREAK_CHANGED, 4, "entry 4 was changed");
	/* Undo it: intact again (the chain holds the original bytes). */
	tamper_entry(f.state, 4, "entry 4 OK", "entry 4 ok");
	h = open_ok(f.state, HIST_RDONLY, 0);
	assert_chain_intact(h, 11);
	hist_close(h);

	/* The last entry has no successor: the head in meta catches it. */
	tamper_entry(f.state, 11, "after", "AFTER");
	expect_break(f.state, HIST_BREAK_CHANGED, 11, "entry 11 (the last) was changed");
	/* A writer appending now links to the head as written, not to the edit. */
	h = open_ok(f.state, 0, 0);
	assert_int_equal(append(h, "step", NULL, NULL, "ok", "later"), 12);
	hist_close(h);
	expect_break(f.state, HIST_BREAK_CHANGED, 11, "entry 11 was changed");
	fixture_release(&f);
}

/* A removed entry is named: in the middle (a gap) and at the end (the head). */
static void test_chain_removed(void **state)
{
	struct fixture f;
	struct raw r;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	fill(h, 8);
	hist_close(h);

	raw_begin(&r, f.state);
	raw_del(&r, 5);
	raw_commit(&r);
	expect_break(f.state, HIST_BREAK_MISSING, 5, "entry 5 is missing");

	/* The tail: entries 7 and 8 removed leave a chain that looks whole. */
	fixture_release(&f);
	fixture_init(&f, "hist");
	h = open_ok(f.state, 0, 0);
	fill(h, 8);
	hist_close(h);
	raw_begin(&r, f.state);
	raw_del(&r, 8);
	raw_del(&r, 7);
	raw_commit(&r);
	expect_break(f.state, HIST_BREAK_MISSING, 7, "entries 7 to 8 are missing");
	/* The next append does not reuse their numbers: the gap stays visible. */
	h = open_ok(f.state, 0, 0);
	assert_int_equal(append(h, "step", NULL, NULL, "ok", "next"), 9);
	hist_close(h);
	expect_break(f.state, HIST_BREAK_MISSING, 7, "entries 7 to 8 are missing");
	fixture_release(&f);
}

/* Two records swapped under their keys. */
static void test_chain_reordered(void **state)
{
	struct fixture f;
	struct raw r;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	fill(h, 6);
	hist_close(h);
	raw_begin(&r, f.state);
	char *r3 = raw_get(&r, 3), *r4 = raw_get(&r, 4);
	raw_put(&r, 3, r4);
	raw_put(&r, 4, r3);
	raw_commit(&r);
	expect_break(f.state, HIST_BREAK_REORDERED, 3, "stored as entry 3 is entry 4");
	free(r3);
	free(r4);
	fixture_release(&f);
}

/*
 * A store written by the code before the chain (format 1: records without
 * "prev", no head), made here with that encoding: read-only it reports
 * "unchained"; the first writable open chains it in one transaction and
 * journals a "migrate" entry; a second open does nothing more.
 */
static void old_store(const char *state, unsigned n, bool damaged)
{
	struct raw r;
	struct bg_buf b = BG_BUF_INIT;
	char *hdir = bg_xasprintf("%s/history", state);
	assert_int_equal(bg_mkdir_p(hdir, 0700), 0);
	raw_begin(&r, state);
	for (int i = 0; i < HIST_DB_COUNT; i++) {
		MDB_dbi dbi;
		assert_int_equal(mdb_dbi_open(r.txn, hist__db_name(i), MDB_CREATE, &dbi), 0);
	}
	MDB_val k = {.mv_size = 6, .mv_data = "format"}, v = {.mv_size = 1, .mv_data = "1"};
	assert_int_equal(mdb_put(r.txn, r.meta, &k, &v, 0), 0);
	for (unsigned i = 1; i <= n; i++) {
		char det[32];
		snprintf(det, sizeof(det), "old %u", i);
		struct hist_entry e = {.seq = i, .time_ms = 1795710303000 + i,
			.actor = "ops@old", .action = "step", .site = i % 2 ? "shop" : NULL,
			.result = "ok", .details = det};
		bg_buf_reset(&b);
		assert_int_equal(hist__entry_encode(&e, &b), 0);
		th_assert_not_contains(b.data, "prev");
		if (damaged && i == 3) {
			bg_buf_reset(&b);
			bg_buf_adds(&b, "{\"v\":1,\"seq\":3,");
		}
		raw_put(&r, i, b.data);
		if (e.site) {
			unsigned char key[16];
			memcpy(key, "shop", 5);
			hist__u64_to_be(i, key + 5);
			MDB_val sk = {.mv_size = 13, .mv_data = key}, sv = {.mv_size = 0, .mv_data = ""};
			assert_int_equal(mdb_put(r.txn, r.bysite, &sk, &sv, 0), 0);
		}
	}
	raw_commit(&r);
	bg_buf_release(&b);
	free(hdir);
}

static void test_chain_migrate(void **state)
{
	struct fixture f;
	struct hist_verify v;
	struct raw r;
	fixture_init(&f, "hist");
	old_store(f.state, 5, false);

	/* Read-only: readable as before, reported as not chained. */
	struct hist *h = open_ok(f.state, HIST_RDONLY, 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 5);
	assert_null(s.v[0].prev);
	seen_release(&s);
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	assert_int_equal(v.brk, HIST_BREAK_UNCHAINED);
	assert_int_equal(v.entries, 5);
	hist_close(h);
	raw_begin(&r, f.state);
	char *rec1 = raw_get(&r, 1);
	raw_commit(&r);
	th_assert_not_contains(rec1, "prev");

	/* Writable: chained once, the migration journaled, content unchanged. */
	h = open_ok(f.state, 0, 0);
	assert_chain_intact(h, 6);
	walk(h, NULL, 0, 0, &s);
	assert_int_equal(s.n, 6);
	for (unsigned i = 0; i < 5; i++) {
		char det[32];
		snprintf(det, sizeof(det), "old %u", i + 1);
		assert_string_equal(s.v[i].details, det);
		assert_string_equal(s.v[i].actor, "ops@old");
		assert_int_equal(s.v[i].time_ms, 1795710303000 + i + 1);
		assert_non_null(s.v[i].prev);
	}
	assert_string_equal(s.v[0].prev, HIST_GENESIS);
	assert_string_equal(s.v[5].action, "migrate");
	assert_string_equal(s.v[5].result, "ok");
	th_assert_contains(s.v[5].details, "chained 5 entries");
	assert_string_equal(s.v[5].actor, bg_actor());
	seen_release(&s);
	/* The site index still works. */
	walk(h, "shop", 0, 0, &s);
	assert_int_equal(s.n, 3);
	seen_release(&s);
	assert_int_equal(append(h, "step", NULL, NULL, "ok", "new"), 7);
	hist_close(h);

	/* Once only. */
	h = open_ok(f.state, 0, 0);
	assert_chain_intact(h, 7);
	hist_close(h);
	raw_begin(&r, f.state);
	char *format = raw_meta(&r, "format");
	assert_string_equal(format, "2");
	raw_commit(&r);
	free(format);
	free(rec1);
	fixture_release(&f);

	/* An unreadable old entry stops the migration, which changes nothing. */
	fixture_init(&f, "hist");
	old_store(f.state, 5, true);
	struct bg_diag d;
	bg_diag_init(&d);
	h = NULL;
	assert_int_equal(hist_open(&h, f.state, 0, &d), BG_EHISTORY);
	assert_null(h);
	assert_true(d.n_errors > 0);
	th_assert_contains(d.items[0].msg, "journal entry 3 is unreadable");
	bg_diag_release(&d);
	raw_begin(&r, f.state);
	format = raw_meta(&r, "format");
	assert_string_equal(format, "1");
	char *again = raw_get(&r, 1);
	th_assert_not_contains(again, "prev");
	char *head = raw_meta(&r, HIST_META_HEAD);
	assert_null(head);
	raw_commit(&r);
	free(again);
	free(format);
	fixture_release(&f);
}

static int export_cb(uint64_t seq, const void *rec, size_t len, void *arg)
{
	struct bg_buf *b = arg;
	bg_buf_add(b, rec, len);
	bg_buf_addch(b, '\n');
	return 0;
}

/* Line `line` (1-based) of text, a new string without its newline. */
static char *line_of(const char *text, unsigned line)
{
	const char *p = text;
	for (unsigned i = 1; i < line; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	const char *nl = strchr(p, '\n');
	return bg_xstrndup(p, nl ? (size_t)(nl - p) : strlen(p));
}

static void expect_export(const char *text, enum hist_break want, uint64_t seq,
		size_t line, const char *why_part)
{
	struct hist_verify v;
	assert_int_equal(hist_export_verify(text, strlen(text), &v), 0);
	if (v.brk != want || v.bad_seq != seq || v.bad_line != line) {
		fail_msg("want %s at entry %" PRIu64 " line %zu, got %s at %" PRIu64
				" line %zu: %s", hist_break_name(want), seq, line,
				hist_break_name(v.brk), v.bad_seq, v.bad_line, v.why);
	}
	th_assert_contains(v.why, why_part);
}

/* The export verifies offline; an edited, removed or moved line is named. */
static void test_chain_export(void **state)
{
	struct fixture f;
	struct hist_verify v, sv;
	struct bg_buf x = BG_BUF_INIT;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	fill(h, 8);
	assert_int_equal(hist_journal_verify(h, export_cb, &x, &sv), 0);
	assert_int_equal(sv.brk, HIST_INTACT);
	hist_close(h);
	assert_int_equal(th_count(x.data, "\n"), 8);

	assert_int_equal(hist_export_verify(x.data, x.len, &v), 0);
	assert_int_equal(v.brk, HIST_INTACT);
	assert_int_equal(v.entries, 8);
	assert_int_equal(v.head_seq, 8);
	assert_string_equal(v.head_hash, sv.head_hash);

	/* One line edited. */
	char *t = str_sub(x.data, "entry 3 ok", "entry 3 OK");
	expect_export(t, HIST_BREAK_CHANGED, 3, 3, "entry 3 was changed");
	free(t);
	/* One line removed. */
	char *l5 = line_of(x.data, 5);
	char *l5nl = bg_xasprintf("%s\n", l5);
	t = str_sub(x.data, l5nl, "");
	expect_export(t, HIST_BREAK_MISSING, 5, 5, "entry 5 is missing");
	free(t);
	/* Two lines swapped. */
	char *l2 = line_of(x.data, 2), *l3 = line_of(x.data, 3);
	char *pair = bg_xasprintf("%s\n%s\n", l2, l3);
	char *swapped = bg_xasprintf("%s\n%s\n", l3, l2);
	t = str_sub(x.data, pair, swapped);
	expect_export(t, HIST_BREAK_REORDERED, 2, 2, "entry 2 belongs at line 2 but is at line 3");
	free(t);
	/* A line that is not a record. */
	char *l4 = line_of(x.data, 4);
	t = str_sub(x.data, l4, "{\"v\":1,");
	expect_export(t, HIST_BREAK_UNREADABLE, 4, 4, "entry 4 is not a journal record");
	free(t);
	/* The limit: a removed last line leaves a whole chain, one entry shorter;
	 * only the head kept apart tells. */
	char *l8 = line_of(x.data, 8);
	char *l8nl = bg_xasprintf("%s\n", l8);
	t = str_sub(x.data, l8nl, "");
	assert_int_equal(hist_export_verify(t, strlen(t), &v), 0);
	assert_int_equal(v.brk, HIST_INTACT);
	assert_int_equal(v.head_seq, 7);
	assert_string_not_equal(v.head_hash, sv.head_hash);
	free(t);

	free(l2);
	free(l3);
	free(l4);
	free(l5);
	free(l5nl);
	free(l8);
	free(l8nl);
	free(pair);
	free(swapped);
	bg_buf_release(&x);
	fixture_release(&f);
}

/* ---- the actor ---- */

/* This test program, for children that must start afresh (argv[0]). */
static char *self_path;

/* `t-hist --child-append STATE`: one entry with the default actor. */
static int child_append(const char *state_dir)
{
	struct hist *h = NULL;
	struct hist_entry e = {.action = "actor-test", .result = "ok"};
	if (hist_open(&h, state_dir, 0, NULL) || hist_append(h, &e, NULL)) {
		return 1;
	}
	hist_close(h);
	return 0;
}

/*
 * `t-hist --child-apply-as STATE`: an apply begun and ended as another
 * actor (the watch daemon's control-socket client), then one as ours.
 */
static int child_apply_as(const char *state_dir)
{
	struct hist *h = NULL;
	const char *t1 = "ab12ab12ab12ab12", *t2 = "cd34cd34cd34cd34";
	int err = hist_open(&h, state_dir, 0, NULL);
	if (!err) {
		err = hist_apply_begin_as(h, t1, "alice@elsewhere", NULL);
	}
	if (!err) {
		err = hist_apply_end_as(h, t1, "ok", "alice@elsewhere");
	}
	if (!err) {
		err = hist_apply_begin_as(h, t2, NULL, NULL);
	}
	if (!err) {
		err = hist_apply_end_as(h, t2, "failed", NULL);
	}
	hist_close(h);
	return err ? 1 : 0;
}

/* user@host of the real uid, found independently of bg_actor(). */
static char *real_actor(void)
{
	char host[128] = "localhost";
	struct passwd *pw = getpwuid(getuid());
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (!pw) {
		return bg_xasprintf("uid %lu@%s", (unsigned long)getuid(), host);
	}
	return bg_xasprintf("%s@%s", pw->pw_name, host);
}

/*
 * The actor is the real uid's user whatever SUDO_USER says; SUDO_USER is
 * kept beside it as a claim (sanitised), and shown as one. Each child is a
 * fresh process (bg_actor reads its environment once).
 */
static void test_actor_sudo(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	hist_close(h);
	char *const argv[] = {self_path, "--child-append", f.state, NULL};
	const char *claims[] = {"SUDO_USER=alice", "SUDO_USER=eve\nroot x:", "SUDO_USER="};
	for (size_t i = 0; i < BG_ARRAY_SIZE(claims); i++) {
		char *const env[] = {(char *)claims[i], NULL};
		struct th_run r;
		if (th_run_argv(argv, env, &r) != 0) {
			fail_msg("child: %s", r.err);
		}
		th_run_release(&r);
	}
	h = open_ok(f.state, HIST_RDONLY, 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	hist_close(h);
	assert_int_equal(s.n, 3);
	char *actor = real_actor();
	for (size_t i = 0; i < s.n; i++) {
		assert_string_equal(s.v[i].action, "actor-test");
		assert_string_equal(s.v[i].actor, actor);
		th_assert_not_contains(s.v[i].actor, "alice");
	}
	assert_string_equal(s.v[0].sudo_user, "alice");
	assert_string_equal(s.v[1].sudo_user, "eve?root?x?");
	assert_null(s.v[2].sudo_user);
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(hist_entry_to_json(&s.v[0], &b), 0);
	th_assert_contains(b.data, "\"sudo_user\":\"alice\"");
	char *want = bg_xasprintf("\"actor\":\"%s\"", actor);
	th_assert_contains(b.data, want);
	free(want);
	bg_buf_release(&b);
	free(actor);
	seen_release(&s);
	fixture_release(&f);
}

/*
 * An apply run for someone else (the daemon's client) is journaled as
 * theirs, start and end, and our $SUDO_USER claim is not put beside it: it
 * says nothing about them. Without an actor, ours and our claim, as ever.
 */
static void test_apply_actor_given(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	struct hist *h = open_ok(f.state, 0, 0);
	hist_close(h);
	char *const argv[] = {self_path, "--child-apply-as", f.state, NULL};
	char *const env[] = {"SUDO_USER=mallory", NULL};
	struct th_run r;
	if (th_run_argv(argv, env, &r) != 0 || r.status != 0) {
		fail_msg("child: %s", r.err);
	}
	th_run_release(&r);
	h = open_ok(f.state, HIST_RDONLY, 0);
	struct seen s;
	walk(h, NULL, 0, 0, &s);
	struct bg_strv open;
	bg_strv_init(&open);
	assert_int_equal(hist_applies_open(h, &open), 0);
	assert_int_equal(open.n, 0);
	bg_strv_release(&open);
	hist_close(h);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.v[0].action, "apply");
	assert_string_equal(s.v[0].result, "started");
	assert_string_equal(s.v[1].action, "apply-end");
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(s.v[i].token, "ab12ab12ab12ab12");
		assert_string_equal(s.v[i].actor, "alice@elsewhere");
		assert_null(s.v[i].sudo_user);
	}
	char *actor = real_actor();
	for (size_t i = 2; i < 4; i++) {
		assert_string_equal(s.v[i].token, "cd34cd34cd34cd34");
		assert_string_equal(s.v[i].actor, actor);
		assert_string_equal(s.v[i].sudo_user, "mallory");
	}
	free(actor);
	seen_release(&s);
	fixture_release(&f);
}

#define CODEC_HASH1 "4d8c668f454bee14ace24774b19c0f818dc260e41e366790b93cbcc467c47741"
#define CODEC_HASH2 "86dc32df60a454b8fae597ba5f5dff06d978ddfe4b27136604d6e8207299d55c"

/* ---- the exact bytes of every stored record (the codec's golden) ---- */

/* One stored value, exactly as stored (a new string; NULL: absent). */
static char *raw_value_n(const char *state, const char *db, const void *key, size_t klen,
		size_t *len)
{
	char *hdir = bg_xasprintf("%s/history", state);
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	char *out = NULL;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, hdir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
	if (mdb_get(txn, dbi, &k, &v) == 0) {
		out = bg_xmalloc(v.mv_size + 1);
		memcpy(out, v.mv_data, v.mv_size);
		out[v.mv_size] = '\0';
		*len = v.mv_size;
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	free(hdir);
	return out;
}

static char *raw_value(const char *state, const char *db, const void *key, size_t klen)
{
	size_t n = 0;
	char *s = raw_value_n(state, db, key, klen, &n);
	assert_non_null(s);
	assert_int_equal(strlen(s), n); /* a record holds no NUL */
	return s;
}

/* site \0 tail: the composite keys, as docs/history.md lays them out. */
static size_t site_key(unsigned char *buf, const char *site, const void *tail, size_t n)
{
	size_t sl = strlen(site);
	memcpy(buf, site, sl + 1);
	memcpy(buf + sl + 1, tail, n);
	return sl + 1 + n;
}

/*
 * rec with the number after "time_ms": replaced by "T", after checking it
 * lies in lo..hi (a time taken by the store itself). A new string.
 */
static char *time_take(char *rec, int64_t lo, int64_t hi)
{
	assert_non_null(rec);
	char *at = strstr(rec, "\"time_ms\":");
	assert_non_null(at);
	at += strlen("\"time_ms\":");
	char *end = NULL;
	long long t = strtoll(at, &end, 10);
	assert_true(t >= lo && t <= hi);
	char *out = bg_xasprintf("%.*sT%s", (int)(at - rec), rec, end);
	free(rec);
	return out;
}

static void assert_encoded(int (*enc)(const void *, struct bg_buf *), const void *obj,
		const char *want)
{
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(enc(obj, &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_string_equal(b.data, want);
	bg_buf_release(&b);
}

static int enc_entry(const void *o, struct bg_buf *b)
{
	return hist__entry_encode(o, b);
}

static int enc_version(const void *o, struct bg_buf *b)
{
	return hist__version_encode(o, b);
}

static int enc_entry_json(const void *o, struct bg_buf *b)
{
	return hist_entry_to_json(o, b);
}

/* The pure encoders: key order, NULLs left out, UTF-8 repaired, escapes. */
static void codec_bytes_encoders(void)
{
	struct hist_entry full = {
		.seq = 42,
		.time_ms = INT64_C(1795710303123),
		.actor = "ops@host",
		.action = "switch",
		.site = "shop",
		.token = "3f2a9c01bb7d",
		.result = "ok",
		.details = "live \"blue\" -> green/\n\t\x01 bad \xff\xc0\xaf ok \xc3\xa9 \\",
		.sudo_user = "alice",
		.prev = HIST_GENESIS,
	};
	struct hist_entry bare = {
		.seq = UINT64_MAX, .time_ms = -5, .actor = "a", .action = "b",
	};
	assert_encoded(enc_entry, &full, "{\"v\":1,\"seq\":42,\"time_ms\":1795710303123,"
			"\"actor\":\"ops@host\",\"action\":\"switch\",\"site\":\"shop\","
			"\"token\":\"3f2a9c01bb7d\",\"result\":\"ok\",\"details\":\"live \\\"blue\\\" "
			"-> green/\\n\\t\\u0001 bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9 "
			"\\\\\",\"sudo_user\":\"alice\",\"prev\":\"" HIST_GENESIS "\"}");
	assert_encoded(enc_entry, &bare, "{\"v\":1,\"seq\":18446744073709551615,"
			"\"time_ms\":-5,\"actor\":\"a\",\"action\":\"b\"}");
	assert_encoded(enc_entry_json, &full, "{\"seq\":42,\"time\":"
			"\"2026-11-26T16:25:03.123Z\",\"time_ms\":1795710303123,"
			"\"actor\":\"ops@host\",\"action\":\"switch\",\"site\":\"shop\","
			"\"token\":\"3f2a9c01bb7d\",\"result\":\"ok\",\"details\":\"live \\\"blue\\\" "
			"-> green/\\n\\t\\u0001 bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9 "
			"\\\\\",\"sudo_user\":\"alice\",\"prev\":\"" HIST_GENESIS "\"}");
	assert_encoded(enc_entry_json, &bare, "{\"seq\":18446744073709551615,\"time\":null,"
			"\"time_ms\":-5,\"actor\":\"a\",\"action\":\"b\",\"site\":null,"
			"\"token\":null,\"result\":null,\"details\":null,\"sudo_user\":null,"
			"\"prev\":null}");

	struct hist__version ver = {
		.spec = "9c1e", .spec_json = "{\"image\":\"a:1\",\"env\":[\"X=\\u00e9\"]}",
		.token = "3f2a9c01bb7d", .time_ms = INT64_C(1795710303123),
	};
	assert_encoded(enc_version, &ver, "{\"v\":1,\"spec\":\"9c1e\",\"spec_json\":"
			"\"{\\\"image\\\":\\\"a:1\\\",\\\"env\\\":[\\\"X=\\\\u00e9\\\"]}\","
			"\"token\":\"3f2a9c01bb7d\",\"time_ms\":1795710303123}");
	ver.token = NULL;
	ver.time_ms = 0;
	assert_encoded(enc_version, &ver, "{\"v\":1,\"spec\":\"9c1e\",\"spec_json\":"
			"\"{\\\"image\\\":\\\"a:1\\\",\\\"env\\\":[\\\"X=\\\\u00e9\\\"]}\","
			"\"time_ms\":0}");

	/* The migration's relink: the same object, unknown members kept, "prev" last. */
	const char *old = "{\"v\":1,\"seq\":3,\"prev\":\"" HIST_GENESIS "\",\"time_ms\":1,"
			"\"actor\":\"a\",\"action\":\"b\",\"future\":[1,{\"x\":\"\\u00e9/\"}]}";
	const char *hash = "ab0c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a";
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(hist__entry_link(old, strlen(old), hash, &b, NULL), 0);
	assert_string_equal(b.data, "{\"v\":1,\"seq\":3,\"time_ms\":1,\"actor\":\"a\","
			"\"action\":\"b\",\"future\":[1,{\"x\":\"\xc3\xa9/\"}],\"prev\":\""
			"ab0c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a\"}");
	bg_buf_release(&b);
}

/* Two entries with every field given: their bytes, hashes and the head. */
static void codec_bytes_journal(const char *state_dir)
{
	struct hist *h = open_ok(state_dir, 0, 0);
	struct hist_entry e1 = {
		.time_ms = INT64_C(1795710303123), .actor = "ops@host", .action = "plan",
		.token = "tok", .result = "ok", .details = "2 changes",
	};
	struct hist_entry e2 = {
		.time_ms = INT64_C(1795710303124), .actor = "ops@host", .action = "switch",
		.site = "shop", .result = "ok", .sudo_user = "alice",
	};
	assert_int_equal(hist_append(h, &e1, NULL), 0);
	assert_int_equal(hist_append(h, &e2, NULL), 0);
	hist_close(h);

	unsigned char be[8];
	char hash[65];
	hist__u64_to_be(1, be);
	char *r1 = raw_value(state_dir, "journal", be, 8);
	assert_string_equal(r1, "{\"v\":1,\"seq\":1,\"time_ms\":1795710303123,"
			"\"actor\":\"ops@host\",\"action\":\"plan\",\"token\":\"tok\","
			"\"result\":\"ok\",\"details\":\"2 changes\",\"prev\":\"" HIST_GENESIS "\"}");
	bg_sha256_hex(r1, strlen(r1), hash);
	assert_string_equal(hash, CODEC_HASH1);
	hist__u64_to_be(2, be);
	char *r2 = raw_value(state_dir, "journal", be, 8);
	assert_string_equal(r2, "{\"v\":1,\"seq\":2,\"time_ms\":1795710303124,"
			"\"actor\":\"ops@host\",\"action\":\"switch\",\"site\":\"shop\","
			"\"result\":\"ok\",\"sudo_user\":\"alice\",\"prev\":\"" CODEC_HASH1 "\"}");
	bg_sha256_hex(r2, strlen(r2), hash);
	assert_string_equal(hash, CODEC_HASH2);
	char *head = raw_value(state_dir, "meta", HIST_META_HEAD, strlen(HIST_META_HEAD));
	assert_string_equal(head, "2 " CODEC_HASH2);
	unsigned char k[64];
	char *idx = raw_value(state_dir, "journal_by_site", k, site_key(k, "shop", be, 8));
	assert_string_equal(idx, "");
	free(idx);
	free(head);
	free(r2);
	free(r1);
}

/* The store's own records (versions, plans, marks), times taken by it. */
static void codec_bytes_store(const char *state_dir)
{
	struct hist *h = open_ok(state_dir, 0, 0);
	int64_t t0 = bg_now_ms();
	unsigned ver = 0;
	uint64_t seq = 0;
	long pid = (long)getpid();
	const char *me = bg_actor();

	assert_int_equal(hist_version_record(h, "shop", "9c1e", "{\"image\":\"a:1\"}", "tok",
			&ver), 0);
	assert_int_equal(ver, 1);
	assert_int_equal(hist_plan_store(h, "tok", "{\"sites\":[\"shop\"]}",
			"plan: 1 change\n"), 0);
	assert_int_equal(hist_exec_settings_store(h, "{\"parallel\":1}"), 0);
	assert_int_equal(hist_token_use(h, "tok"), 0);
	assert_int_equal(hist_rejected_add(h, "shop", "9c1e"), 0);
	assert_int_equal(hist_apply_begin_as(h, "tok2", "ci@runner", &seq), 0);
	assert_int_equal(seq, 3);
	hist_close(h);
	int64_t t1 = bg_now_ms();

	unsigned char k[64], be[8];
	hist__u32_to_be(1, be);
	char *got = time_take(raw_value(state_dir, "versions", k, site_key(k, "shop", be, 4)),
			t0, t1);
	assert_string_equal(got, "{\"v\":1,\"spec\":\"9c1e\",\"spec_json\":"
			"\"{\\\"image\\\":\\\"a:1\\\"}\",\"token\":\"tok\",\"time_ms\":T}");
	free(got);
	size_t n = 0;
	got = raw_value_n(state_dir, "spec_index", k, site_key(k, "shop", "9c1e", 4), &n);
	assert_int_equal(n, 4);
	assert_int_equal(memcmp(got, be, 4), 0);
	free(got);
	got = time_take(raw_value(state_dir, "plans", "tok", 3), t0, t1);
	assert_string_equal(got, "{\"v\":1,\"args_json\":\"{\\\"sites\\\":[\\\"shop\\\"]}\","
			"\"plan_text\":\"plan: 1 change\\n\",\"time_ms\":T}");
	free(got);
	got = time_take(raw_value(state_dir, "plans", "execution-settings", 18), t0, t1);
	assert_string_equal(got, "{\"v\":1,\"args_json\":\"{\\\"parallel\\\":1}\","
			"\"time_ms\":T}");
	free(got);
	char *mark = bg_xasprintf("{\"v\":1,\"time_ms\":T,\"pid\":%ld,\"actor\":\"%s\","
			"\"journal_seq\":2}", pid, me);
	got = time_take(raw_value(state_dir, "tokens_used", "tok", 3), t0, t1);
	assert_string_equal(got, mark);
	free(got);
	got = time_take(raw_value(state_dir, "rejected", k, site_key(k, "shop", "9c1e", 4)),
			t0, t1);
	assert_string_equal(got, mark);
	free(got);
	free(mark);
	char *want = bg_xasprintf("{\"v\":1,\"pid\":%ld,\"actor\":\"ci@runner\",\"seq\":3,"
			"\"time_ms\":T}", pid);
	got = time_take(raw_value(state_dir, "applying", "tok2", 4), t0, t1);
	assert_string_equal(got, want);
	free(got);
	free(want);
	hist__u64_to_be(3, be);
	want = bg_xasprintf("{\"v\":1,\"seq\":3,\"time_ms\":T,\"actor\":\"ci@runner\","
			"\"action\":\"apply\",\"token\":\"tok2\",\"result\":\"started\","
			"\"details\":\"started by pid %ld\",\"prev\":\"" CODEC_HASH2 "\"}", pid);
	got = time_take(raw_value(state_dir, "journal", be, 8), t0, t1);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/*
 * The bytes every record kind is stored as, and the chain's hashes, fixed
 * here before the codec became table-driven: a refactor that changes one
 * byte breaks every store's chain, so it must fail this test first.
 */
static void test_codec_bytes(void **state)
{
	struct fixture f;
	fixture_init(&f, "hist");
	codec_bytes_encoders();
	codec_bytes_journal(f.state);
	codec_bytes_store(f.state);
	fixture_release(&f);
}

/* ---- the command line, on a real state directory (no Docker needed) ---- */

static void test_cli_verify(void **state)
{
	struct fixture f;
	struct th_run r;
	struct bg_buf x = BG_BUF_INIT;
	struct hist_verify v;
	fixture_init(&f, "hist");
	char *cfg = bg_xasprintf("%s/cfg", f.tmp);
	char *conf = bg_xasprintf("install_mode: development\nstate_dir: %s\n"
			"edge:\n  traefik:\n    dynamic_dir: %s/dynamic\n", f.state, f.tmp);
	th_write(cfg, "global.conf", conf);
	struct hist *h = open_ok(f.state, 0, 0);
	fill(h, 5);
	struct hist_entry e = {.action = "switch", .site = "shop", .result = "ok",
		.sudo_user = "alice"};
	assert_int_equal(hist_append(h, &e, NULL), 0);
	assert_int_equal(hist_journal_verify(h, export_cb, &x, &v), 0);
	hist_close(h);

	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--verify", NULL), 0);
	th_assert_contains(r.out, "the journal is intact: 6 entries, head entry 6 sha256:");
	th_assert_contains(r.out, v.head_hash);
	th_run_release(&r);
	assert_int_equal(th_bg(&r, "-c", cfg, "--json", "history", "--verify", NULL), 0);
	json_object *o = json_tokener_parse(r.out), *m = NULL;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "intact", &m));
	assert_true(json_object_get_boolean(m));
	assert_true(json_object_object_get_ex(o, "entries", &m));
	assert_int_equal(json_object_get_int64(m), 6);
	json_object_put(o);
	th_run_release(&r);

	/* The listing shows the claim as one. */
	assert_int_equal(th_bg(&r, "-c", cfg, "history", NULL), 0);
	th_assert_contains(r.out, " (sudo: alice, claimed)");
	th_run_release(&r);
	assert_int_equal(th_bg(&r, "-c", cfg, "--json", "history", NULL), 0);
	th_assert_contains(r.out, "\"sudo_user\":\"alice\"");
	th_assert_contains(r.out, "\"prev\":\"" HIST_GENESIS "\"");
	th_run_release(&r);

	/* Export to a file and to stdout: the records verbatim. */
	char *out = bg_xasprintf("%s/journal.jsonl", f.tmp);
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--export", out, NULL), 0);
	th_assert_contains(r.err, "exported 6 entries to ");
	th_assert_contains(r.err, v.head_hash);
	th_run_release(&r);
	char *got = th_read(out);
	assert_string_equal(got, x.data);
	assert_int_equal(mode_of(out), 0600);
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--export", NULL), 0);
	assert_string_equal(r.out, x.data);
	th_run_release(&r);

	/* A directory others may write (like /tmp): a new file only. */
	char *pub = bg_xasprintf("%s/pub", f.tmp);
	char *pub_out = bg_xasprintf("%s/journal.jsonl", pub);
	assert_int_equal(mkdir(pub, 0700), 0);
	assert_int_equal(chmod(pub, 01777), 0);
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--export", pub_out, NULL), 0);
	th_run_release(&r);
	char *pub_got = th_read(pub_out);
	assert_string_equal(pub_got, x.data);
	assert_int_equal(mode_of(pub_out), 0600);
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--export", pub_out, NULL), 1);
	th_assert_contains(r.err, "it exists, and its directory is not private");
	th_run_release(&r);
	free(pub_got);
	free(pub_out);
	free(pub);

	/* Offline: no configuration, no state directory. */
	th_rm_rf(cfg);
	assert_int_equal(th_bg(&r, "history", "--verify", "--from", out, NULL), 0);
	th_assert_contains(r.out, "is intact: 6 entries");
	th_run_release(&r);
	char *t = str_sub(got, "entry 3 ok", "entry 3 OK");
	char *bad = bg_xasprintf("%s/tampered.jsonl", f.tmp);
	th_write(f.tmp, "tampered.jsonl", t);
	assert_int_equal(th_bg(&r, "history", "--verify", "--from", bad, NULL), 1);
	char *where = bg_xasprintf("%s:3:1: error: entry 3 was changed", bad);
	th_assert_contains(r.err, where);
	th_run_release(&r);

	/* The store itself, edited with the LMDB API. */
	th_write(cfg, "global.conf", conf);
	tamper_entry(f.state, 2, "entry 2 ok", "entry 2 OK");
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--verify", NULL), 1);
	th_assert_contains(r.err, "the journal is broken: entry 2 was changed");
	th_run_release(&r);
	assert_int_equal(th_bg(&r, "-c", cfg, "--json", "history", "--verify", NULL), 1);
	th_assert_contains(r.out, "\"intact\":false");
	th_assert_contains(r.out, "\"seq\":2,\"line\":null,\"problem\":\"changed\"");
	th_run_release(&r);
	/* Exported as found (evidence), but the exit says it is not intact. */
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--export", out, NULL), 1);
	th_assert_contains(r.err, "not intact at entry 2 (changed)");
	th_run_release(&r);
	char *got2 = th_read(out);
	assert_int_equal(th_count(got2, "\n"), 6);
	assert_int_equal(th_bg(&r, "history", "--verify", "--from", out, NULL), 1);
	th_run_release(&r);

	/* Usage. */
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "shop", "--verify", NULL), 1);
	th_run_release(&r);
	assert_int_equal(th_bg(&r, "-c", cfg, "history", "--from", out, NULL), 1);
	th_run_release(&r);

	free(got2);
	free(where);
	free(bad);
	free(t);
	free(got);
	free(out);
	free(conf);
	free(cfg);
	bg_buf_release(&x);
	fixture_release(&f);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child-append") == 0) {
		return child_append(argv[2]);
	}
	if (argc == 3 && strcmp(argv[1], "--child-apply-as") == 0) {
		return child_apply_as(argv[2]);
	}
	self_path = realpath(argv[0], NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_modes),
		cmocka_unit_test(test_rdonly_missing),
		cmocka_unit_test(test_rdonly_existing),
		cmocka_unit_test(test_open_twice),
		cmocka_unit_test(test_format_newer),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_journal_callbacks),
		cmocka_unit_test(test_append_invalid),
		cmocka_unit_test(test_entry_json),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_plans_tokens),
		cmocka_unit_test(test_token_race),
		cmocka_unit_test(test_rejected_observe),
		cmocka_unit_test(test_apply_marks),
		cmocka_unit_test(test_map_growth),
		cmocka_unit_test(test_map_resized_elsewhere),
		cmocka_unit_test(test_concurrent_processes),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_kill9),
		cmocka_unit_test(test_chain_links),
		cmocka_unit_test(test_chain_changed),
		cmocka_unit_test(test_chain_removed),
		cmocka_unit_test(test_chain_reordered),
		cmocka_unit_test(test_chain_migrate),
		cmocka_unit_test(test_chain_export),
		cmocka_unit_test(test_actor_sudo),
		cmocka_unit_test(test_apply_actor_given),
		cmocka_unit_test(test_cli_verify),
		cmocka_unit_test(test_codec_bytes),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(self_path);
	return rc;
}
