/*
 * bk: taking a backup (bk_create) and listing them (bk_list, bk_get); see
 * bk.h. Verify, retention and the restores are in bk-ops.c, the bytes on
 * disk in bk-io.c, the manifest's JSON in bk-manifest.c.
 *
 * bk_create writes into state_dir/backups/SITE/.ID.tmp/ and renames it to
 * ID/ only after every part, manifest.json and the directory itself are
 * fsynced; the history record comes last. A kill at any point leaves at
 * most a .tmp directory (swept by the next backup of the site, which runs
 * under the same state lock) or a renamed directory without a record:
 * neither is ever listed.
 */
#include "bg.h"
#include "bk.h"
#include "bk-int.h"
#include "bg-fs.h"
#include "bg-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Room kept free beyond the estimate: dumps have no size beforehand. */
#define SPACE_MARGIN ((uint64_t)64 << 20)

void bk_manifest_release(struct bk_manifest *m)
{
	if (!m) {
		return;
	}
	free(m->id);
	free(m->site);
	free(m->why);
	free(m->actor);
	free(m->live_colour);
	free(m->compression);
	for (size_t i = 0; i < m->n_parts; i++) {
		free(m->parts[i].file);
		free(m->parts[i].kind);
		free(m->parts[i].object);
	}
	free(m->parts);
	memset(m, 0, sizeof(*m));
}

void bk_manifests_free(struct bk_manifest *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		bk_manifest_release(&v[i]);
	}
	free(v);
}

/* What one bk_create is doing (the parts so far, the paths). */
struct job {
	struct rt *rt;
	const struct cfg *cfg;
	const struct cfg_site *site;
	const struct obs *o;
	struct bk_manifest *m;
	bool gz;
	char *tmp;
	struct bg_strv vols; /* short names of the site's existing volumes */
};

static struct bk_part *part_add(struct bk_manifest *m, const char *file, const char *kind,
		const char *object)
{
	m->parts = bg_xrealloc(m->parts, (m->n_parts + 1) * sizeof(*m->parts));
	struct bk_part *p = &m->parts[m->n_parts++];
	memset(p, 0, sizeof(*p));
	p->file = bg_xstrdup(file);
	p->kind = bg_xstrdup(kind);
	p->object = bg_xstrdup(object);
	return p;
}

/* The site's volumes (its own mounts and its services'), existing ones. */
static void volumes_collect(struct job *j)
{
	const struct cfg_site *s = j->site;

	for (size_t i = 0; i < s->n_mounts; i++) {
		if (!bg_strv_contains(&j->vols, s->mounts[i].volume)) {
			bg_strv_push(&j->vols, s->mounts[i].volume);
		}
	}
	for (size_t k = 0; k < s->n_services; k++) {
		for (size_t i = 0; i < s->services[k].n_mounts; i++) {
			const char *v = s->services[k].mounts[i].volume;
			if (!bg_strv_contains(&j->vols, v)) {
				bg_strv_push(&j->vols, v);
			}
		}
	}
	bg_strv_sort(&j->vols);
	/* One not created yet holds nothing to keep. */
	for (size_t i = 0; i < j->vols.n;) {
		char *full = bk__volume_name(s->name, j->vols.v[i]);
		bool have = obs_volume_find(j->o, full) != NULL;
		free(full);
		if (have) {
			i++;
			continue;
		}
		free(j->vols.v[i]);
		memmove(&j->vols.v[i], &j->vols.v[i + 1], (j->vols.n - i - 1) * sizeof(char *));
		j->vols.n--;
	}
}

/* Refuse when the filesystem cannot take the volumes' size plus a margin. */
static int space_check(struct job *j, struct bg_diag *d)
{
	uint64_t need = SPACE_MARGIN;
	struct statvfs sv;

	for (size_t i = 0; i < j->vols.n; i++) {
		char *full = bk__volume_name(j->site->name, j->vols.v[i]);
		int64_t b = -1;
		if (rt_volume_usage(j->rt, full, &b, NULL) == 0 && b > 0) {
			need += (uint64_t)b;
		}
		free(full);
	}
#ifdef BG_FAULT_INJECTION
	/* Test builds only (t-backup): pretend an estimate to see the refusal. */
	const char *over = getenv("BLUEGREEN_FAULT_BACKUP_NEED");
	if (over && *over) {
		need = strtoull(over, NULL, 10);
	}
#endif
	if (statvfs(j->tmp, &sv) != 0) {
		return BG_ERRNO(errno);
	}
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < need) {
		bg_diag_error(d, NULL, "not enough room for a backup of %s in %s: about %" PRIu64
				" MiB needed (volumes + %" PRIu64 " MiB margin), %" PRIu64
				" MiB free", j->site->name, j->cfg->g.state_dir, need >> 20,
				SPACE_MARGIN >> 20, avail >> 20);
		return BG_ERRNO(ENOSPC);
	}
	return 0;
}

/* The image of one of the site's containers: present locally by definition. */
static const char *helper_image(const struct job *j)
{
	for (size_t i = 0; i < j->o->n_containers; i++) {
		const struct obs_container *c = &j->o->containers[i];
		if (c->site && strcmp(c->site, j->site->name) == 0 && c->image_id) {
			return c->image_id;
		}
	}
	return j->site->image;
}

/* Stream every volume through one never-started helper mounting them read-only. */
static int volumes_save(struct job *j, struct bg_diag *d)
{
	struct obs_labels labels = {0};
	struct bg_strv binds = {0};
	char *name = bg_xasprintf("bluegreen-backup-%s-%s", j->site->name, j->m->id);
	char *id = NULL;
	int err = 0;

	if (!j->vols.n) {
		free(name);
		return 0;
	}
	bk__helper_labels(&labels, j->site->name, j->m->id);
	for (size_t i = 0; i < j->vols.n; i++) {
		char *full = bk__volume_name(j->site->name, j->vols.v[i]);
		bg_strv_push_take(&binds, bg_xasprintf("%s:/v/%s:ro", full, j->vols.v[i]));
		free(full);
	}
	char *const argv[] = {"true", NULL};
	struct dk_helper h = {.name = name, .image = helper_image(j), .argv = argv,
		.labels = &labels, .binds = (const char *const *)binds.v};
	err = rt_helper_create(j->rt, &h, &id, d);
	for (size_t i = 0; !err && i < j->vols.n; i++) {
		const char *v = j->vols.v[i];
		char *file = bg_xasprintf("volume-%s.tar%s", v, j->gz ? ".gz" : "");
		char *path = bg_xasprintf("/v/%s", v);
		struct bk__writer *w = NULL;
		struct bk_part *p = part_add(j->m, file, "volume", v);
		err = bk__writer_open(&w, j->tmp, file, j->gz, d);
		if (!err) {
			err = rt_archive_get(j->rt, id, path, bk__writer_sink, w, d);
			if (err) {
				bk__writer_abort(w);
				bg_diag_error(d, NULL, "reading volume %s of %s failed", v,
						j->site->name);
			} else {
				err = bk__writer_close(w, &p->bytes, p->sha256, d);
			}
		}
		free(path);
		free(file);
	}
	if (id) {
		rt_helper_remove(j->rt, id, NULL);
	}
	free(id);
	free(name);
	bg_strv_release(&binds);
	obs_labels_release(&labels);
	return err;
}

/* The running container of a service of the site, NULL if none. */
static const struct obs_container *service_container(const struct obs *o, const char *site,
		const char *service)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (c->site && c->role && c->service && strcmp(c->site, site) == 0 &&
				strcmp(c->role, "service") == 0 &&
				strcmp(c->service, service) == 0 &&
				c->state == OBS_CSTATE_RUNNING) {
			return c;
		}
	}
	return NULL;
}

static int dump_one(struct job *j, const struct cfg_service *s, struct bg_diag *d)
{
	const struct obs_container *c = service_container(j->o, j->site->name, s->name);
	char *file = bg_xasprintf("dump-%s%s", s->name, j->gz ? ".gz" : "");
	struct bk__writer *w = NULL;
	struct bg_buf errb = BG_BUF_INIT;
	int err;

	if (!c) {
		bg_diag_error(d, NULL, "cannot dump service %s of %s: it is not running",
				s->name, j->site->name);
		free(file);
		return BG_ENOT_FOUND;
	}
	struct bk_part *p = part_add(j->m, file, "dump", s->name);
	err = bk__writer_open(&w, j->tmp, file, j->gz, d);
	if (!err) {
		struct bg_strv argv = {0};
		bg_strv_copy(&argv, &s->backup.command);
		struct dk_exec x = {.argv = argv.v, .out = bk__writer_sink, .out_arg = w,
			.err = &errb};
		err = rt_exec(j->rt, c->id, &x, d);
		if (!err && x.exit_code != 0) {
			bg_buf_addch(&errb, '\0');
			bg_diag_error(d, NULL, "the dump of service %s of %s (%s) exited with "
					"%d: %.300s", s->name, j->site->name, argv.v[0],
					x.exit_code, errb.data ? errb.data : "");
			err = BG_EREFUSED;
		}
		if (err) {
			bk__writer_abort(w);
		} else {
			err = bk__writer_close(w, &p->bytes, p->sha256, d);
		}
		bg_strv_release(&argv);
	}
	bg_buf_release(&errb);
	free(file);
	return err;
}

static int dumps_save(struct job *j, struct bg_diag *d)
{
	for (size_t k = 0; k < j->site->n_services; k++) {
		const struct cfg_service *s = &j->site->services[k];
		if (s->backup.command.n) {
			int err = dump_one(j, s, d);
			if (err) {
				return err;
			}
		}
	}
	return 0;
}

/* The site's effective configuration, secrets redacted: what it was then. */
static struct json_object *env_json(const struct cfg *cfg, const struct cfg_env *e)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; i < e->n; i++) {
		bool secret = e->v[i].secret || cfg_key_is_secret(cfg, e->v[i].key);
		json_object_object_add(o, e->v[i].key,
				json_object_new_string(secret ? BG_REDACTED : e->v[i].value));
	}
	return o;
}

static struct json_object *mounts_json(const struct cfg_mount *m, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "volume", json_object_new_string(m[i].volume));
		json_object_object_add(o, "target", json_object_new_string(m[i].target));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *strv_json(const struct bg_strv *v)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < v->n; i++) {
		json_object_array_add(a, json_object_new_string(v->v[i]));
	}
	return a;
}

static int config_save(struct job *j, struct bg_diag *d)
{
	const struct cfg_site *s = j->site;
	struct json_object *o = json_object_new_object(), *svcs = json_object_new_array();
	struct bk__writer *w = NULL;
	int err;

	json_object_object_add(o, "site", json_object_new_string(s->name));
	json_object_object_add(o, "domains", strv_json(&s->domains));
	json_object_object_add(o, "image", json_object_new_string(s->image));
	json_object_object_add(o, "port", json_object_new_int((int)s->port));
	json_object_object_add(o, "command", strv_json(&s->command));
	json_object_object_add(o, "env", env_json(j->cfg, &s->env));
	json_object_object_add(o, "mounts", mounts_json(s->mounts, s->n_mounts));
	for (size_t k = 0; k < s->n_services; k++) {
		const struct cfg_service *v = &s->services[k];
		struct json_object *so = json_object_new_object();
		json_object_object_add(so, "name", json_object_new_string(v->name));
		json_object_object_add(so, "image", json_object_new_string(v->image));
		json_object_object_add(so, "command", strv_json(&v->command));
		json_object_object_add(so, "env", env_json(j->cfg, &v->env));
		json_object_object_add(so, "mounts", mounts_json(v->mounts, v->n_mounts));
		json_object_object_add(so, "backup_command", strv_json(&v->backup.command));
		json_object_object_add(so, "restore_command", strv_json(&v->backup.restore));
		json_object_array_add(svcs, so);
	}
	json_object_object_add(o, "services", svcs);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct bk_part *p = part_add(j->m, "config.json", "config", "site");
	err = bk__writer_open(&w, j->tmp, "config.json", false, d);
	if (!err) {
		err = bk__writer_sink(w, text, strlen(text));
		if (err) {
			bk__writer_abort(w);
		} else {
			err = bk__writer_close(w, &p->bytes, p->sha256, d);
		}
	}
	json_object_put(o);
	return err;
}

/* Which colour was live (the edge) and its version (its containers). */
static void live_note(struct job *j)
{
	const struct obs_edge *e = obs_edge_find(j->o, j->site->name);

	if (!e || !e->live) {
		return;
	}
	j->m->live_colour = bg_xstrdup(e->live);
	for (size_t i = 0; i < j->o->n_containers; i++) {
		const struct obs_container *c = &j->o->containers[i];
		if (c->site && c->colour && strcmp(c->site, j->site->name) == 0 &&
				strcmp(c->colour, e->live) == 0 && c->version) {
			j->m->live_version = c->version;
			break;
		}
	}
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	if (fsync(fd) != 0) {
		err = BG_ERRNO(errno);
	}
	close(fd);
	return err;
}

/* The manifest, fsynced, then the directory; rename; record. */
static int seal(struct job *j, struct hist *h, struct bg_diag *d)
{
	struct bg_buf b = BG_BUF_INIT;
	char *site_dir = bk__site_dir(j->cfg, j->site->name);
	char *final = bk__dir(j->cfg, j->site->name, j->m->id);
	struct bk__writer *w = NULL;
	char sha[65];
	uint64_t bytes;
	int err;

	j->m->total_bytes = 0;
	for (size_t i = 0; i < j->m->n_parts; i++) {
		j->m->total_bytes += j->m->parts[i].bytes;
	}
	bk_manifest_to_json(j->m, &b);
	err = bk__writer_open(&w, j->tmp, "manifest.json", false, d);
	if (!err) {
		err = bk__writer_sink(w, b.data, b.len);
		err = err ? (bk__writer_abort(w), err) : bk__writer_close(w, &bytes, sha, d);
	}
	err = err ? err : fsync_dir(j->tmp);
	if (!err && rename(j->tmp, final) != 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot rename %s to %s: %s", j->tmp, final,
				strerror(errno));
	}
	err = err ? err : fsync_dir(site_dir);
	if (!err) {
		err = hist_backup_put(h, j->m->id, b.data);
		if (err) {
			bg_diag_error(d, NULL, "cannot record backup %s in the history: %s",
					j->m->id, bg_strerror(err));
			bk__dir_remove(final);
		}
	}
	bg_buf_release(&b);
	free(site_dir);
	free(final);
	return err;
}

/* Half backups of earlier runs (killed): never listed, removed now. */
static void sweep_tmp(const char *site_dir)
{
	DIR *dp = opendir(site_dir);
	struct dirent *e;

	while (dp && (e = readdir(dp))) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' && n > 5 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
			char *p = bg_xasprintf("%s/%s", site_dir, e->d_name);
			bk__dir_remove(p);
			free(p);
		}
	}
	if (dp) {
		closedir(dp);
	}
}

static int job_run(struct job *j, struct hist *h, struct bg_diag *d)
{
	char *site_dir = bk__site_dir(j->cfg, j->site->name);
	int err = bg_mkdir_p(site_dir, 0700);

	if (err) {
		bg_diag_error(d, NULL, "cannot create %s: %s", site_dir, bg_strerror(err));
		free(site_dir);
		return err;
	}
	sweep_tmp(site_dir);
	j->tmp = bg_xasprintf("%s/.%s.tmp", site_dir, j->m->id);
	free(site_dir);
	if (mkdir(j->tmp, 0700) != 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot create %s: %s", j->tmp, strerror(errno));
		free(j->tmp);
		j->tmp = NULL;
		return err;
	}
	volumes_collect(j);
	err = space_check(j, d);
	err = err ? err : volumes_save(j, d);
	err = err ? err : dumps_save(j, d);
	err = err ? err : config_save(j, d);
	if (!err) {
		live_note(j);
		j->m->duration_ms = (uint64_t)(bg_now_ms() - j->m->started_ms);
		err = seal(j, h, d);
	}
	if (err) {
		bk__dir_remove(j->tmp);
	}
	return err;
}

int bk_create(struct rt *rt, const struct cfg *cfg, const struct cfg_site *site,
		const struct obs *o, struct hist *h, const struct bk_opts *opts,
		struct bk_manifest *out, struct bg_diag *d)
{
	struct bk_manifest m = {0};
	struct job j = {.rt = rt, .cfg = cfg, .site = site, .o = o, .m = &m};
	unsigned rnd = 0;
	char id[BK_ID_MAX];
	int err;

	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rnd = (unsigned)bg_mono_ms() ^ (unsigned)getpid();
	}
	m.started_ms = bg_now_ms();
	bk_id_make(m.started_ms, rnd, id);
	m.id = bg_xstrdup(id);
	m.site = bg_xstrdup(site->name);
	m.why = bg_xstrdup(opts && opts->why ? opts->why : "manual");
	m.actor = bg_xstrdup(opts && opts->actor ? opts->actor : bg_actor());
	j.gz = opts && opts->compress;
	m.compression = bg_xstrdup(j.gz ? "gzip" : "none");
	err = job_run(&j, h, d);
	if (!err && out) {
		*out = m;
		memset(&m, 0, sizeof(m));
	}
	bk_manifest_release(&m);
	bg_strv_release(&j.vols);
	free(j.tmp);
	return err;
}

/* Newest first: by start time, then id. */
static int newest_first(const void *a, const void *b)
{
	const struct bk_manifest *x = a, *y = b;
	if (x->started_ms != y->started_ms) {
		return x->started_ms < y->started_ms ? 1 : -1;
	}
	return -strcmp(x->id, y->id);
}

int bk_list(struct hist *h, const char *site, struct bk_manifest **out, size_t *n,
		struct bg_diag *d)
{
	struct bg_strv all = {0};
	int err = hist_backup_list(h, &all);

	*out = NULL;
	*n = 0;
	if (err) {
		bg_diag_error(d, NULL, "cannot read the backups from the history: %s",
				bg_strerror(err));
		return err;
	}
	*out = bg_xcalloc(all.n ? all.n : 1, sizeof(**out));
	for (size_t i = all.n; i-- > 0;) {
		struct bk_manifest m = {0};
		if (bk_manifest_from_json(all.v[i], &m, d) != 0) {
			continue; /* said in d; the others still list */
		}
		if (site && strcmp(site, m.site) != 0) {
			bk_manifest_release(&m);
			continue;
		}
		(*out)[(*n)++] = m;
	}
	qsort(*out, *n, sizeof(**out), newest_first);
	bg_strv_release(&all);
	return 0;
}

int bk_get(struct hist *h, const char *id, struct bk_manifest *out, struct bg_diag *d)
{
	char *json = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if (!bk_id_valid(id)) {
		bg_diag_error(d, NULL, "'%s' is not a backup id (like 20261206T221500Z-3f2a)", id);
		return BG_ENOT_FOUND;
	}
	err = hist_backup_get(h, id, &json);
	if (err == BG_ENOT_FOUND) {
		bg_diag_error(d, NULL, "no backup %s in the history", id);
	}
	if (!err) {
		err = bk_manifest_from_json(json, out, d);
	}
	free(json);
	return err;
}
