/*
 * hist-backup: the backups database of the history (id -> manifest JSON),
 * so that `bluegreen backups` lists without walking the backup directories
 * and `backup verify` can tell a changed file from a lost record. The
 * manifest's shape is controller/backup's (bk.h); the store keeps the text
 * as given. Ids sort by time, so a cursor walk is oldest first.
 */
#include "bg.h"
#include "hist.h"
#include "hist-db.h"
#include "bg-util.h"

struct bk_ctx {
	const char *id;
	const char *json;
	char *got;
	struct bg_strv *all;
};

static MDB_val id_key(const char *id)
{
	MDB_val k = {.mv_size = strlen(id), .mv_data = (void *)id};
	return k;
}

static int fn_put(struct hist *h, MDB_txn *txn, void *arg)
{
	struct bk_ctx *c = arg;
	MDB_val k = id_key(c->id);
	MDB_val v = {.mv_size = strlen(c->json), .mv_data = (void *)c->json};
	return mdb_put(txn, h->dbi[HIST_DB_BACKUPS], &k, &v, 0);
}

int hist_backup_put(struct hist *h, const char *id, const char *json)
{
	struct bk_ctx c = {.id = id, .json = json};
	if (!hist__name_ok(id) || !json) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, "recording a backup", fn_put, &c);
}

static int fn_get(struct hist *h, MDB_txn *txn, void *arg)
{
	struct bk_ctx *c = arg;
	MDB_val k = id_key(c->id), v;
	int rc = mdb_get(txn, h->dbi[HIST_DB_BACKUPS], &k, &v);

	if (rc == MDB_NOTFOUND) {
		return BG_ENOT_FOUND;
	}
	if (!rc) {
		free(c->got);
		c->got = bg_xstrndup(v.mv_data, v.mv_size);
	}
	return rc;
}

int hist_backup_get(struct hist *h, const char *id, char **json)
{
	struct bk_ctx c = {.id = id};
	int err;

	*json = NULL;
	if (!hist__name_ok(id) || !h->env || !hist__can_read(h, HIST_DB_BACKUPS)) {
		return BG_ENOT_FOUND;
	}
	err = hist__txn_run(h, MDB_RDONLY, "reading a backup", fn_get, &c);
	if (!err) {
		*json = c.got;
		c.got = NULL;
	}
	free(c.got);
	return err;
}

static int fn_del(struct hist *h, MDB_txn *txn, void *arg)
{
	struct bk_ctx *c = arg;
	MDB_val k = id_key(c->id);
	int rc = mdb_del(txn, h->dbi[HIST_DB_BACKUPS], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int hist_backup_del(struct hist *h, const char *id)
{
	struct bk_ctx c = {.id = id};
	if (!hist__name_ok(id)) {
		return BG_ERRNO(EINVAL);
	}
	if (!h->env) {
		return BG_ERRNO(EROFS);
	}
	return hist__txn_run(h, 0, "forgetting a backup", fn_del, &c);
}

static int fn_list(struct hist *h, MDB_txn *txn, void *arg)
{
	struct bk_ctx *c = arg;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, h->dbi[HIST_DB_BACKUPS], &cur);

	bg_strv_release(c->all);
	bg_strv_init(c->all);
	for (MDB_cursor_op op = MDB_FIRST; !rc; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &k, &v, op);
		if (!rc) {
			bg_strv_push_take(c->all, bg_xstrndup(v.mv_data, v.mv_size));
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int hist_backup_list(struct hist *h, struct bg_strv *jsons)
{
	struct bk_ctx c = {.all = jsons};
	if (!h->env || !hist__can_read(h, HIST_DB_BACKUPS)) {
		bg_strv_release(jsons);
		bg_strv_init(jsons);
		return 0;
	}
	return hist__txn_run(h, MDB_RDONLY, "listing backups", fn_list, &c);
}
