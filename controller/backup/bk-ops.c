/*
 * bk-ops: what is done with a backup once taken (bk.h): verify (every
 * part's sha256 recomputed from the disk), retention, and putting bytes
 * back (a volume through a helper container, a dump through its service's
 * restore command). Stopping writers and health gates are the plan's.
 *
 * Emptying a volume before extracting needs a command in a container: the
 * helper runs `find /v/NAME -mindepth 1 -delete` (argv, no shell) from an
 * image of the site, trying the images of the services that mount the
 * volume first, then the site's, then the other services', and moves on
 * when an image has no find (ADR 0016).
 *
 * A postgres preset dump goes through bk__pg_filter (bk-io.c): the lines of
 * pg_dumpall's script that drop and create the restoring role itself would
 * stop psql under ON_ERROR_STOP.
 */
#include "bg.h"
#include "bk.h"
#include "bk-int.h"
#include "bg-util.h"

static int record(struct hist *h, const struct bk_manifest *m)
{
	struct bg_buf b = BG_BUF_INIT;
	bk_manifest_to_json(m, &b);
	int err = hist_backup_put(h, m->id, b.data);
	bg_buf_release(&b);
	return err;
}

int bk_verify(const struct cfg *cfg, struct hist *h, const char *id, struct bg_diag *d)
{
	struct bk_manifest m;
	int err = bk_get(h, id, &m, d);

	if (err) {
		return err;
	}
	char *dir = bk__dir(cfg, m.site, m.id);
	for (size_t i = 0; i < m.n_parts && !err; i++) {
		const struct bk_part *p = &m.parts[i];
		char *path = bg_xasprintf("%s/%s", dir, p->file);
		char sha[65];
		uint64_t bytes = 0;
		int e = bk__file_hash(path, &bytes, sha);
		if (e) {
			bg_diag_error(d, NULL, "backup %s: part %s is missing or unreadable (%s): %s",
					m.id, p->file, path, bg_strerror(e));
			err = BG_ECORRUPT;
		} else if (bytes != p->bytes || strcmp(sha, p->sha256) != 0) {
			bg_diag_error(d, NULL, "backup %s: part %s changed: %" PRIu64 " bytes, "
					"sha256 %.12s..., the manifest says %" PRIu64 " bytes, %.12s...",
					m.id, p->file, bytes, sha, p->bytes, p->sha256);
			err = BG_ECORRUPT;
		}
		free(path);
	}
	m.verify_failed = err != 0;
	if (!err) {
		m.verified_ms = bg_now_ms();
	}
	int rerr = record(h, &m);
	if (rerr && !err) {
		bg_diag_error(d, NULL, "cannot record the verification of %s: %s", m.id,
				bg_strerror(rerr));
		err = rerr;
	}
	free(dir);
	bk_manifest_release(&m);
	return err;
}

int bk_prune(const struct cfg *cfg, const struct cfg_site *site, struct hist *h,
		size_t *removed, struct bg_diag *d)
{
	struct bk_manifest *v = NULL;
	size_t n = 0, gone = 0;
	int err = bk_list(h, site->name, &v, &n, d);

	if (removed) {
		*removed = 0;
	}
	if (err) {
		return err;
	}
	bool *drop = bg_xcalloc(n ? n : 1, sizeof(*drop));
	bk_prune_choose(v, n, site->backup.keep, site->backup.max_age_ms, bg_now_ms(), drop);
	for (size_t i = 0; i < n && !err; i++) {
		if (!drop[i]) {
			continue;
		}
		/* The record goes first: a kill in between leaves files that are
		 * not listed, never a listed backup without its files. */
		err = hist_backup_del(h, v[i].id);
		if (!err) {
			char *dir = bk__dir(cfg, v[i].site, v[i].id);
			bk__dir_remove(dir);
			free(dir);
			gone++;
		}
	}
	if (removed) {
		*removed = gone;
	}
	free(drop);
	bk_manifests_free(v, n);
	return err;
}

static const struct bk_part *part_find(const struct bk_manifest *m, const char *kind,
		const char *object)
{
	for (size_t i = 0; i < m->n_parts; i++) {
		if (strcmp(m->parts[i].kind, kind) == 0 && strcmp(m->parts[i].object, object) == 0) {
			return &m->parts[i];
		}
	}
	return NULL;
}

static bool mounts_have(const struct cfg_mount *m, size_t n, const char *vol)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].volume, vol) == 0) {
			return true;
		}
	}
	return false;
}

/* Images to try for the emptying helper, best first. */
static void helper_images(const struct cfg_site *s, const char *vol, struct bg_strv *out)
{
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 1 && !bg_strv_contains(out, s->image)) {
			bg_strv_push(out, s->image);
		}
		for (size_t k = 0; pass != 1 && k < s->n_services; k++) {
			const struct cfg_service *v = &s->services[k];
			bool mounts = mounts_have(v->mounts, v->n_mounts, vol);
			if ((pass == 0) == mounts && !bg_strv_contains(out, v->image)) {
				bg_strv_push(out, v->image);
			}
		}
	}
}

/* One helper that empties the volume; *id kept for the extraction. */
static int empty_with(struct rt *rt, const char *image, const char *name, const char *bind,
		const char *dir, const struct obs_labels *labels, char **id, struct bg_diag *d)
{
	char *const argv[] = {"find", (char *)dir, "-mindepth", "1", "-delete", NULL};
	const char *binds[] = {bind, NULL};
	struct dk_helper hp = {.name = name, .image = image, .argv = argv, .labels = labels,
		.binds = binds};
	int code = -1;
	int err = rt_helper_create(rt, &hp, id, d);

	err = err ? err : rt_start(rt, *id, d);
	err = err ? err : rt_wait(rt, *id, &code, d);
	if (!err && code != 0) {
		bg_diag_error(d, NULL, "emptying %s with find in %s exited with %d", dir, image,
				code);
		err = BG_EREFUSED;
	}
	if (err && *id) {
		rt_helper_remove(rt, *id, NULL);
		free(*id);
		*id = NULL;
	}
	return err;
}

int bk_restore_volume(struct rt *rt, const struct cfg *cfg, const struct bk_manifest *m,
		const char *volume, struct bg_diag *d)
{
	const struct bk_part *p = part_find(m, "volume", volume);
	const struct cfg_site *s = cfg_site_find(cfg, m->site);
	struct obs_labels labels = {0};
	struct bg_strv images = {0};
	struct bk__reader *r = NULL;
	char *full, *bind, *dir, *name, *path, *id = NULL;
	int err = BG_ENOT_FOUND;

	if (!p || !s) {
		bg_diag_error(d, NULL, "backup %s has no volume %s%s", m->id, volume,
				s ? "" : " (and its site is not configured)");
		return BG_ENOT_FOUND;
	}
	full = bk__volume_name(m->site, volume);
	bind = bg_xasprintf("%s:/v/%s", full, volume);
	dir = bg_xasprintf("/v/%s", volume);
	name = bg_xasprintf("bluegreen-restore-%s-%s", m->site, m->id);
	path = bk__dir(cfg, m->site, m->id);
	bk__helper_labels(&labels, m->site, m->id);
	helper_images(s, volume, &images);
	for (size_t i = 0; i < images.n && !id; i++) {
		struct bg_diag tries;
		bg_diag_init(&tries);
		err = empty_with(rt, images.v[i], name, bind, dir, &labels, &id, &tries);
		if (err && i + 1 == images.n) {
			bg_diag_merge(d, &tries);
		}
		bg_diag_release(&tries);
	}
	if (!err) {
		char *file = bg_xasprintf("%s/%s", path, p->file);
		err = bk__reader_open(&r, file, d);
		err = err ? err : rt_archive_put(rt, id, "/v", bk__reader_source, r, d);
		bk__reader_close(r);
		free(file);
	}
	if (err) {
		bg_diag_error(d, NULL, "restoring volume %s of %s from backup %s failed", full,
				m->site, m->id);
	}
	if (id) {
		rt_helper_remove(rt, id, NULL);
	}
	free(id);
	free(full);
	free(bind);
	free(dir);
	free(name);
	free(path);
	bg_strv_release(&images);
	obs_labels_release(&labels);
	return err;
}

int bk_restore_dump(struct rt *rt, const struct cfg *cfg, const struct cfg_site *site,
		const struct obs *o, const struct bk_manifest *m, const char *service,
		struct bg_diag *d)
{
	const struct bk_part *p = part_find(m, "dump", service);
	const struct cfg_service *sv = NULL;
	const struct obs_container *c = NULL;
	struct bk__reader *r = NULL;
	struct bk__pg_filter *pg = NULL;
	struct bg_buf errb = BG_BUF_INIT;
	int err;

	for (size_t k = 0; k < site->n_services; k++) {
		if (strcmp(site->services[k].name, service) == 0) {
			sv = &site->services[k];
		}
	}
	for (size_t i = 0; i < o->n_containers && sv; i++) {
		const struct obs_container *x = &o->containers[i];
		if (x->site && x->service && strcmp(x->site, site->name) == 0 &&
				strcmp(x->service, service) == 0 && x->state == OBS_CSTATE_RUNNING) {
			c = x;
		}
	}
	if (!p || !sv || !sv->backup.restore.n || !c) {
		bg_diag_error(d, NULL, "cannot restore the dump of %s from backup %s: %s", service,
				m->id, !p ? "the backup has no dump of it"
				: !sv ? "no such service" : !sv->backup.restore.n
				? "it has no backup.restore" : "it is not running");
		return BG_ENOT_FOUND;
	}
	char *file = bg_xasprintf("%s/%s/%s/%s/%s", cfg->g.state_dir, "backups", m->site, m->id,
			p->file);
	err = bk__reader_open(&r, file, d);
	if (!err) {
		/* The postgres preset restores as role postgres (cfg.c's argv). */
		pg = sv->backup.preset == CFG_BACKUP_POSTGRES ? bk__pg_filter_new(r, "postgres")
				: NULL;
		struct dk_exec x = {.argv = sv->backup.restore.v,
			.in = pg ? bk__pg_filter_source : bk__reader_source,
			.in_arg = pg ? (void *)pg : (void *)r, .err = &errb};
		err = rt_exec(rt, c->id, &x, d);
		if (!err && x.exit_code != 0) {
			bg_buf_addch(&errb, '\0');
			bg_diag_error(d, NULL, "the restore of service %s (%s) exited with %d: %.300s",
					service, sv->backup.restore.v[0], x.exit_code,
					errb.data ? errb.data : "");
			err = BG_EREFUSED;
		}
	}
	bk__pg_filter_free(pg);
	bk__reader_close(r);
	bg_buf_release(&errb);
	free(file);
	return err;
}
