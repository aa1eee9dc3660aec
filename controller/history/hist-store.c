/*
 * hist-store: the history's databases beside the journal (hist.h): the
 * immutable site versions and their spec index, the printed plans (and
 * the last apply's execution settings), the used tokens, the rejected
 * revisions, the applies in progress, and the facts the planner reads
 * from them (hist_observe). Each operation is one transaction of the core
 * (hist-db.h); each value is a record of the codec (hist-int.h).
 */
#include "bg.h"
#include "hist.h"
#include "hist-db.h"
#include "hist-batch.h"
#include "bg-log.h"
#include "bg-util.h"

#include <unistd.h>

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
	unsigned char kbuf[HIST_KEY_MAX];
	MDB_val k, v;
	k.mv_size = hist__key_site(kbuf, c->site, c->spec, strlen(c->spec));
	k.mv_data = kbuf;
	int rc = mdb_get(txn, h->dbi[HIST_DB_SPEC_INDEX], &k, &v);
	if (rc) {
		return rc;
	}
	if (v.mv_size != 4) {
		return hist__corrupt("spec_index", "a version number is malformed");
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
	unsigned char kbuf[HIST_KEY_MAX], be[4];
	size_t sl = strlen(site);
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, h->dbi[HIST_DB_VERSIONS], &cur);
	if (rc) {
		return rc;
	}
	*last = 0;
	hist__u32_to_be(UINT32_MAX, be);
	k.mv_size = hist__key_site(kbuf, site, be, 4);
	k.mv_data = kbuf;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && k.mv_size == sl + 5 && hist__key_has_site(&k, site, sl) &&
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
	if (rc == 0 && hist__key_has_site(&k, site, sl)) {
		if (k.mv_size != sl + 5) {
			rc = hist__corrupt("versions", "a key is malformed");
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
	unsigned char kbuf[HIST_KEY_MAX], be[4];
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
		return hist__corrupt("versions", "the version numbers are exhausted");
	}
	c->version = last + 1;
	rc = hist__version_encode(&rec, &b);
	if (rc) {
		goto out;
	}
	hist__u32_to_be(c->version, be);
	k.mv_size = hist__key_site(kbuf, c->site, be, 4);
	k.mv_data = kbuf;
	v.mv_data = b.data;
	v.mv_size = b.len;
	rc = mdb_put(txn, h->dbi[HIST_DB_VERSIONS], &k, &v, MDB_NOOVERWRITE);
	if (rc) {
		goto out;
	}
	k.mv_size = hist__key_site(kbuf, c->site, c->spec, strlen(c->spec));
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

	if (!hist__name_ok(site) || !hist__name_ok(spec) || !spec_json || (token && !hist__name_ok(token))) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	/* Most calls find a known spec: answer those without the writer lock. */
	err = hist__txn_run(h, MDB_RDONLY, "reading versions", fn_version_lookup, &c);
	if (!err && c.version == 0) {
		err = hist__txn_run(h, 0, "recording a version", fn_version_record, &c);
	}
	if (!err && version) {
		*version = c.version;
	}
	return err;
}

static int fn_version_get(struct hist *h, MDB_txn *txn, void *arg)
{
	struct version_ctx *c = arg;
	unsigned char kbuf[HIST_KEY_MAX], be[4];
	const char *why = NULL;
	MDB_val k, v;

	hist__version_release(&c->got);
	hist__u32_to_be(c->version, be);
	k.mv_size = hist__key_site(kbuf, c->site, be, 4);
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
	if (!hist__name_ok(site) || version == 0 || !hist__can_read(h, HIST_DB_VERSIONS)) {
		return BG_ENOT_FOUND;
	}
	err = hist__txn_run(h, MDB_RDONLY, "reading versions", fn_version_get, &c);
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
	if (!hist__name_ok(token) || !args_json) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, "storing a plan", fn_plan_store, &c);
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
	if (!hist__name_ok(token) || !hist__can_read(h, HIST_DB_PLANS)) {
		return BG_ENOT_FOUND;
	}
	err = hist__txn_run(h, MDB_RDONLY, "reading a plan", fn_plan_get, &c);
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
	int rc = hist__journal_last(h, txn, &last);
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
	if (!hist__name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, "marking a token used", fn_token_use, &c);
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
	if (!hist__name_ok(token) || !hist__can_read(h, HIST_DB_TOKENS_USED)) {
		return false;
	}
	if (hist__txn_run(h, MDB_RDONLY, "reading used tokens", fn_token_used, &c)) {
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
	unsigned char kbuf[HIST_KEY_MAX];
	MDB_val k, v;
	int rc;

	k.mv_size = hist__key_site(kbuf, c->site, c->spec, strlen(c->spec));
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
	if (!hist__name_ok(site) || !hist__name_ok(spec)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, add ? "marking a revision rejected" :
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
	rc = hist__journal_put(h, txn, &e, &c->seq);
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
	if (!hist__name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	err = hist__txn_run(h, 0, "recording an apply", fn_apply_begin, &c);
	if (!err && seq_out) {
		*seq_out = c.seq;
	}
	return err;
}

struct begin_used_ctx {
	struct token_ctx t;
	struct apply_ctx a;
};

static int fn_apply_begin_used(struct hist *h, MDB_txn *txn, void *arg)
{
	struct begin_used_ctx *c = arg;
	int rc = fn_token_use(h, txn, &c->t);
	return rc ? rc : fn_apply_begin(h, txn, &c->a);
}

/* hist-batch.h: hist_token_use then hist_apply_begin_as, one commit. */
int hist_apply_begin_used(struct hist *h, const char *token, const char *actor)
{
	int64_t now = bg_now_ms();
	struct begin_used_ctx c = {.t = {.token = token, .now = now},
		.a = {.token = token, .now = now}};
	apply_ctx_actor(&c.a, actor);
	if (!hist__name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, "marking a token used and recording its apply",
			fn_apply_begin_used, &c);
}

struct begin_then_ctx {
	struct begin_used_ctx b;
	bool use;
	const struct hist_entry *then; /* prepared (hist__entry_prepare) */
	size_t n;
};

static int fn_apply_begin_then(struct hist *h, MDB_txn *txn, void *arg)
{
	struct begin_then_ctx *c = arg;
	int rc = c->use ? fn_apply_begin_used(h, txn, &c->b) : fn_apply_begin(h, txn, &c->b.a);
	for (size_t i = 0; !rc && i < c->n; i++) {
		rc = hist__journal_put(h, txn, &c->then[i], NULL);
	}
	return rc;
}

/* hist-batch.h: the start of an apply and what follows it at once, one commit. */
int hist_apply_begin_then(struct hist *h, const char *token, const char *actor, bool use,
		const struct hist_entry *then, size_t n)
{
	int64_t now = bg_now_ms();
	/* The entries were kept before this commit: the start is no later than they are. */
	for (size_t i = 0; i < n; i++) {
		if (then[i].time_ms > 0 && then[i].time_ms < now) {
			now = then[i].time_ms;
		}
	}
	struct begin_then_ctx c = {.b = {.t = {.token = token, .now = now},
		.a = {.token = token, .now = now}}, .use = use, .n = n};
	struct hist_entry *prep = n ? bg_xcalloc(n, sizeof(*prep)) : NULL;
	int err = 0;
	for (size_t i = 0; !err && i < n; i++) {
		err = hist__entry_prepare(&then[i], &prep[i]);
	}
	apply_ctx_actor(&c.b.a, actor);
	if (err || !hist__name_ok(token) || !h->env) {
		free(prep);
		return err ? err : !h->env ? BG_ERRNO(EROFS) : BG_ERRNO(EINVAL);
	}
	c.then = prep;
	err = hist__txn_run(h, 0, "recording an apply and its first step", fn_apply_begin_then,
			&c);
	free(prep);
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
	rc = hist__journal_put(h, txn, &e, &c->seq);
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
	if (!hist__name_ok(token)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	err = hist__txn_run(h, 0, "recording the end of an apply", fn_apply_end, &c);
	if (!err && !c.had_mark) {
		bg_log(BG_LOG_WARN, "history: apply of token %s ended, but its start was "
				"never recorded", token);
	}
	return err;
}

struct end_with_ctx {
	struct apply_ctx a;
	const struct hist_entry *before; /* prepared (hist__entry_prepare) */
	size_t n_before;
	const struct hist_entry *then;
};

static int fn_apply_end_with(struct hist *h, MDB_txn *txn, void *arg)
{
	struct end_with_ctx *c = arg;
	int rc = 0;
	for (size_t i = 0; !rc && i < c->n_before; i++) {
		rc = hist__journal_put(h, txn, &c->before[i], NULL);
	}
	if (!rc) {
		rc = fn_apply_end(h, txn, &c->a);
	}
	if (!rc && c->then) {
		rc = hist__journal_put(h, txn, c->then, NULL);
	}
	return rc;
}

/* hist-batch.h: the end of an apply and its outcome entry, one commit. */
int hist_apply_end_with(struct hist *h, const char *token, const char *result,
		const char *actor, const struct hist_entry *then)
{
	return hist_apply_end_after(h, NULL, 0, token, result, actor, then);
}

/* hist-batch.h: entries held back, the end and the outcome, one commit. */
int hist_apply_end_after(struct hist *h, const struct hist_entry *before, size_t n_before,
		const char *token, const char *result, const char *actor,
		const struct hist_entry *then)
{
	struct end_with_ctx c = {.a = {.token = token, .result = result, .now = bg_now_ms()}};
	struct hist_entry full;
	struct hist_entry *prep = n_before ? bg_xcalloc(n_before, sizeof(*prep)) : NULL;
	int err = then ? hist__entry_prepare(then, &full) : 0;
	for (size_t i = 0; !err && i < n_before; i++) {
		err = hist__entry_prepare(&before[i], &prep[i]);
	}
	c.before = prep;
	c.n_before = n_before;
	apply_ctx_actor(&c.a, actor);
	if (err || !hist__name_ok(token) || !h->env) {
		free(prep);
		return err ? err : !h->env ? BG_ERRNO(EROFS) : BG_ERRNO(EINVAL);
	}
	c.then = then ? &full : NULL;
	err = hist__txn_run(h, 0, "recording the end of an apply", fn_apply_end_with, &c);
	free(prep);
	if (!err && !c.a.had_mark) {
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
			rc = hist__corrupt("applying", "a token is malformed");
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
	if (!hist__can_read(h, HIST_DB_APPLYING)) {
		return 0;
	}
	bg_strv_init(&c.got);
	err = hist__txn_run(h, MDB_RDONLY, "listing applies in progress", fn_applies_open, &c);
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
	rc = hist__journal_put(h, txn, &e, &c->seq);
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
	if (!hist__name_ok(token)) {
		return BG_ENOT_FOUND;
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, "recording an interrupted apply", fn_apply_interrupted, &c);
}

/* ---- facts for the planner ---- */

struct site_facts {
	char *site;
	unsigned last_version;
	struct bg_strv spec_versions;
	struct bg_strv rejected;
	bool confirm_kept;
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

/* Which known sites have a kept confirm phrase (hist-confirm.c's key). */
static int observe_confirms(struct hist *h, MDB_txn *txn, struct observe_ctx *c)
{
	for (size_t i = 0; h->have[HIST_DB_META] && i < c->n; i++) {
		char *key = bg_xasprintf("confirm:%s", c->v[i].site);
		MDB_val k = {.mv_size = strlen(key), .mv_data = key}, v;
		int rc = mdb_get(txn, h->dbi[HIST_DB_META], &k, &v);
		free(key);
		if (rc && rc != MDB_NOTFOUND) {
			return rc;
		}
		c->v[i].confirm_kept = rc == 0;
	}
	return 0;
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
				rc = hist__corrupt("spec_index", "a record is malformed");
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
				rc = hist__corrupt("rejected", "a key is malformed");
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
	rc = observe_confirms(h, txn, c);
	if (rc) {
		return rc;
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
	err = hist__txn_run(h, MDB_RDONLY, "reading versions", fn_observe, &c);
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
		oh->confirm_kept = s->confirm_kept;
		oh->spec_versions = s->spec_versions;
		bg_strv_init(&s->spec_versions);
		oh->rejected = s->rejected;
		bg_strv_init(&s->rejected);
	}
	observe_reset(&c);
	return err;
}
