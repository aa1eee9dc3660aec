/*
 * rec-backup: backups as steps of a plan (issue 12, ADR 0016).
 *
 * Before a switch: when a site's backup.before_switch is on (the default
 * in production) and its plan switches the live colour or changes an
 * existing backing service, the plan takes one `backup` step first. It
 * runs in phase 1, after the candidate passed its gate (so a candidate
 * that fails costs no backup), and before every switch (phase 2); when a
 * backing service is changed it goes before that service's first step
 * instead, since those run in phase 1 too. A failed backup stops the
 * apply there: no switch, exit 5. A first deploy (nothing live, no volume
 * of the site, no running service with a dump) has nothing to save.
 *
 * A restore (plan --restore SITE@ID, and rollback + restore) is a plan of
 * its own: a fresh backup (and a check of every hash of ID) first, then
 * the writers stopped (the colour containers, then the services that
 * mount a restored volume and have no dump), each volume put back, those
 * services started, each service dump fed to its running service, the
 * colours started and the live one gated. A service with a dump keeps
 * running (its restore needs it) and its own volumes come back through
 * the dump, never from a tar copied under a running database.
 *
 * The planner is pure: the backups a restore or a rollback needs come in
 * the observation (struct obs_backup, read from the history by
 * rec_backup_observe_hist in rec_observe).
 */
#include "bg.h"
#include "bk.h"
#include "rec.h"

#include <errno.h>

/* ---- observation ---- */

static void backup_obs_fill(struct obs_backup *b, const struct bk_manifest *m)
{
	b->id = bg_xstrdup(m->id);
	b->site = bg_xstrdup(m->site);
	b->why = bg_xstrdup(m->why ? m->why : "");
	b->live_version = m->live_colour ? m->live_version : 0;
	b->live_colour = m->live_colour ? bg_xstrdup(m->live_colour) : NULL;
	for (size_t k = 0; k < m->n_parts; k++) {
		const struct bk_part *pt = &m->parts[k];
		bg_strv_push_take(&b->parts, bg_xasprintf("%s %s %s %s", pt->kind, pt->object,
				pt->sha256, pt->file));
	}
}

int rec_backup_observe_hist(struct hist *h, struct obs *o, struct bg_diag *d)
{
	struct bk_manifest *v = NULL;
	size_t n = 0;
	struct bg_diag dd;

	bg_diag_init(&dd);
	int err = bk_list(h, NULL, &v, &n, &dd);
	if (err == BG_ERRNO(ENOTSUP)) {
		err = 0; /* no backup engine built in: nothing to know */
	} else if (err) {
		bg_diag_merge(d, &dd);
	}
	for (size_t i = 0; !err && i < n; i++) {
		backup_obs_fill(obs_backup_add(o), &v[i]);
	}
	bk_manifests_free(v, n);
	bg_diag_release(&dd);
	return err;
}

/* One part line of an obs_backup: kind, object, sha256, file (borrowed out of *buf). */
struct part {
	char *kind, *object, *sha, *file;
};

static bool part_split(const char *line, char **buf, struct part *pt)
{
	*buf = bg_xstrdup(line);
	char *save = NULL;
	pt->kind = strtok_r(*buf, " ", &save);
	pt->object = strtok_r(NULL, " ", &save);
	pt->sha = strtok_r(NULL, " ", &save);
	pt->file = strtok_r(NULL, " ", &save);
	return pt->kind && pt->object;
}

/* ---- what a backup would save now ---- */

/* The site's running service container of sv that has a dump, or NULL. */
static const struct obs_container *dumpable(const struct rec_diff_ctx *ctx,
		const struct des_service *sv)
{
	const struct obs_container *c = rec_site_container(ctx, sv->container);
	if (!sv->cfg->backup.command.n || !c || c->state != OBS_CSTATE_RUNNING) {
		return NULL;
	}
	return c;
}

/* "volumes a, b; dumps of services db" (a new string), "" when nothing. */
static char *saved_what(const struct rec_diff_ctx *ctx)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < ctx->n_vols; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : "volumes ", ctx->vols[i]->name);
	}
	bool first = true;
	for (size_t i = 0; i < ctx->site->n_services; i++) {
		const struct des_service *sv = &ctx->site->services[i];
		if (dumpable(ctx, sv)) {
			bg_buf_addf(&b, "%s%s", first ? (b.len ? "; dumps of service " :
					"dumps of service ") : ", ", sv->cfg->name);
			first = false;
		}
	}
	return bg_buf_detach(&b, NULL);
}

/* What a backup of the site holds now, in words. */
static const char *saved_words(const char *saved)
{
	return *saved ? saved : "the site's configuration only";
}

/* The backup step of ctx->site (appended; phase 1). */
static struct plan_action *backup_step(struct rec_diff_ctx *ctx, const char *saved,
		const char *reason)
{
	const char *site = ctx->site->name;
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_BACKUP, PLAN_KIND_BACKUP,
			site, site, "%s", reason);
	a->phase = PLAN_PHASE_BUILD;
	a->colour = ctx->ps->live_before ? bg_xstrdup(ctx->ps->live_before) : NULL;
	a->version = ctx->ps->version_before;
	plan_fact_add(ctx->plan, "backup %s saves=%s", site, saved);
	return a;
}

/* Move the last action of the plan to index at (within the current site's slice). */
static void action_move_last(struct plan *p, size_t at)
{
	struct plan_action last = p->actions[p->n_actions - 1];
	memmove(&p->actions[at + 1], &p->actions[at],
			(p->n_actions - 1 - at) * sizeof(p->actions[0]));
	p->actions[at] = last;
}

/* Move action i of the plan to its end (the current site's slice is last). */
static void action_to_end(struct plan *p, size_t i)
{
	struct plan_action a = p->actions[i];
	memmove(&p->actions[i], &p->actions[i + 1], (p->n_actions - 1 - i) * sizeof(a));
	p->actions[p->n_actions - 1] = a;
}

/* ---- before a switch ---- */

/*
 * What in this site's plan so far asks for a backup: a switch of its live
 * colour, or a change of a backing service that exists (any phase-1 step
 * on its container, except starting it again: a start changes no data,
 * and a stopped service could not be dumped). *at: where the step goes.
 */
static const char *switch_trigger(const struct rec_diff_ctx *ctx, size_t *at)
{
	const struct plan *p = ctx->plan;
	const char *why = NULL;
	*at = p->n_actions;
	for (size_t i = ctx->ps->first_action; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_KIND_SERVICE && a->phase == PLAN_PHASE_BUILD &&
				a->op != PLAN_OP_START && a->op != PLAN_OP_PULL &&
				rec_site_container(ctx, a->name)) {
			*at = i;
			return "before backing service changes";
		}
		if (a->op == PLAN_OP_SWITCH && a->kind == PLAN_KIND_EDGE) {
			why = "before the switch";
		}
		if (a->phase != PLAN_PHASE_BUILD && *at == p->n_actions) {
			*at = i; /* listed where it runs: after the gate, before the switch */
		}
	}
	return why;
}

/* Is there anything to save: something live, a volume, a running service with a dump? */
static bool site_has_data(const struct rec_diff_ctx *ctx)
{
	if (ctx->ps->live_before || ctx->n_vols) {
		return true;
	}
	for (size_t i = 0; i < ctx->site->n_services; i++) {
		if (dumpable(ctx, &ctx->site->services[i])) {
			return true;
		}
	}
	return false;
}

static int backup_switch_diff(struct rec_diff_ctx *ctx)
{
	size_t at;
	if (!ctx->site->cfg->backup.before_switch) {
		return 0;
	}
	const char *trigger = switch_trigger(ctx, &at);
	if (!trigger || !site_has_data(ctx)) {
		return 0; /* a first deploy: nothing was ever written */
	}
	char *saved = saved_what(ctx);
	char *reason = bg_xasprintf("back up %s: %s (backup.before_switch; the apply stops "
			"here if it fails)", trigger, saved_words(saved));
	backup_step(ctx, saved, reason);
	free(reason);
	free(saved);
	if (at < ctx->plan->n_actions - 1) {
		action_move_last(ctx->plan, at);
	}
	return 0;
}

/* ---- restore ---- */

static bool strv_has_volume(const struct bg_strv *vols, const char *name)
{
	return bg_strv_contains(vols, name);
}

/* The backup's parts of one kind: objects into out (volume objects as full names). */
static void backup_parts(const struct obs_backup *b, const char *site, const char *kind,
		struct bg_strv *out)
{
	for (size_t i = 0; i < b->parts.n; i++) {
		char *buf;
		struct part pt;
		if (part_split(b->parts.v[i], &buf, &pt) && strcmp(pt.kind, kind) == 0) {
			bg_strv_push_take(out, strcmp(kind, "volume") == 0
					? des_volume_name(site, pt.object) : bg_xstrdup(pt.object));
		}
		free(buf);
	}
}

static const struct des_service *service_by_name(const struct des_site *s, const char *name)
{
	for (size_t i = 0; i < s->n_services; i++) {
		if (strcmp(s->services[i].cfg->name, name) == 0) {
			return &s->services[i];
		}
	}
	return NULL;
}

/* Does service sv mount one of vols? */
static bool service_mounts(const struct des_service *sv, const struct bg_strv *vols)
{
	for (size_t i = 0; i < sv->volumes.n; i++) {
		if (strv_has_volume(vols, sv->volumes.v[i])) {
			return true;
		}
	}
	return false;
}

/* What a restore plan works on: the backup's parts, split as the steps need them. */
struct restore_set {
	const struct obs_backup *b;
	struct bg_strv vols;    /* full names put back from their tar */
	struct bg_strv kept;    /* full names not put back: a dumped service's data */
	struct bg_strv dumps;   /* service names whose dump is fed back */
	struct bg_strv stopped; /* service names stopped around the volume restores */
};

static void restore_set_release(struct restore_set *r)
{
	bg_strv_release(&r->vols);
	bg_strv_release(&r->kept);
	bg_strv_release(&r->dumps);
	bg_strv_release(&r->stopped);
}

/* Why the restore cannot be planned (a new string), or NULL with r filled. */
static char *restore_set_build(const struct rec_diff_ctx *ctx, struct restore_set *r)
{
	const struct des_site *s = ctx->site;
	const char *id = ctx->args->restore_id;
	struct bg_strv all;

	memset(r, 0, sizeof(*r));
	r->b = obs_backup_find(ctx->obs, id);
	if (!r->b) {
		return bg_xasprintf("no backup '%s' is recorded (bluegreen backups %s lists "
				"them)", id, s->name);
	}
	if (strcmp(r->b->site, s->name) != 0) {
		return bg_xasprintf("backup '%s' belongs to site '%s', not '%s'", id, r->b->site,
				s->name);
	}
	backup_parts(r->b, s->name, "dump", &r->dumps);
	for (size_t i = 0; i < r->dumps.n; i++) {
		const struct des_service *sv = service_by_name(s, r->dumps.v[i]);
		if (!sv || !dumpable(ctx, sv)) {
			return bg_xasprintf("backup '%s' holds a dump of service '%s', which is %s: "
					"its restore needs it running (plan, apply, then restore)", id,
					r->dumps.v[i], sv ? "not running" : "no longer configured");
		}
	}
	bg_strv_init(&all);
	backup_parts(r->b, s->name, "volume", &all);
	for (size_t i = 0; i < all.n; i++) {
		bool by_dump = false;
		for (size_t k = 0; k < r->dumps.n; k++) {
			const struct des_service *sv = service_by_name(s, r->dumps.v[k]);
			by_dump |= bg_strv_contains(&sv->volumes, all.v[i]);
		}
		bg_strv_push(by_dump ? &r->kept : &r->vols, all.v[i]);
	}
	bg_strv_release(&all);
	for (size_t i = 0; i < s->n_services; i++) {
		const struct des_service *sv = &s->services[i];
		if (!bg_strv_contains(&r->dumps, sv->cfg->name) && service_mounts(sv, &r->vols) &&
				rec_site_container(ctx, sv->container)) {
			bg_strv_push(&r->stopped, sv->cfg->name);
		}
	}
	return NULL;
}

/* A step on the site's running colour containers: stop or start each, live colour `first`. */
static void colour_steps(struct rec_diff_ctx *ctx, enum plan_op op, const char *first,
		const char *why)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ctx->n_cs; i++) {
			const struct obs_container *c = ctx->cs[i];
			if (!c->role || strcmp(c->role, "colour") != 0 || !c->colour ||
					c->state != OBS_CSTATE_RUNNING ||
					(first && (strcmp(c->colour, first) == 0) != (pass == 0)) ||
					(!first && pass == 1)) {
				continue;
			}
			struct plan_action *a = plan_action_add(ctx->plan, op, PLAN_KIND_CONTAINER,
					ctx->site->name, c->name, "%s", why);
			a->phase = PLAN_PHASE_BUILD;
			a->colour = bg_xstrdup(c->colour);
			a->replica = c->replica;
			a->version = c->version;
			a->target_id = bg_xstrdup(c->id);
		}
	}
}

/* Stop or start the services of r->stopped (kind backup: the service kind only creates). */
static void service_steps(struct rec_diff_ctx *ctx, const struct restore_set *r,
		enum plan_op op)
{
	for (size_t i = 0; i < r->stopped.n; i++) {
		const struct des_service *sv = service_by_name(ctx->site, r->stopped.v[i]);
		const struct obs_container *c = rec_site_container(ctx, sv->container);
		struct plan_action *a = plan_action_add(ctx->plan, op, PLAN_KIND_BACKUP,
				ctx->site->name, sv->container, op == PLAN_OP_STOP
				? "service '%s' mounts a volume being restored: stopped first"
				: "start service '%s' again on its restored volumes", sv->cfg->name);
		a->phase = PLAN_PHASE_BUILD;
		a->service = bg_xstrdup(sv->cfg->name);
		a->target_id = bg_xstrdup(c->id);
	}
}

/* The restore steps proper: volumes (between the service stop and start), then dumps. */
static void restore_steps(struct rec_diff_ctx *ctx, const struct restore_set *r)
{
	const char *id = r->b->id;
	service_steps(ctx, r, PLAN_OP_STOP);
	for (size_t i = 0; i < r->vols.n; i++) {
		struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_RESTORE,
				PLAN_KIND_BACKUP, ctx->site->name, r->vols.v[i], "replace the "
				"contents of volume %s with its copy in backup %s", r->vols.v[i], id);
		a->phase = PLAN_PHASE_BUILD;
	}
	service_steps(ctx, r, PLAN_OP_START);
	for (size_t i = 0; i < r->dumps.n; i++) {
		const struct des_service *sv = service_by_name(ctx->site, r->dumps.v[i]);
		struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_RESTORE,
				PLAN_KIND_BACKUP, ctx->site->name, sv->container, "replace the "
				"databases of service '%s' with its dump in backup %s (fed to %s "
				"in its running container)", sv->cfg->name, id,
				sv->cfg->backup.restore.n ? sv->cfg->backup.restore.v[0] : "?");
		a->phase = PLAN_PHASE_BUILD;
		a->service = bg_xstrdup(sv->cfg->name);
	}
}

/* The health gate of colour `live` after the restart (the colour kind runs it). */
static void gate_step(struct rec_diff_ctx *ctx, const char *live, unsigned version)
{
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_HEALTH, PLAN_KIND_CONTAINER,
			ctx->site->name, live, "gate: %s must answer its health check on the "
			"restored data", live);
	a->phase = PLAN_PHASE_BUILD;
	a->colour = bg_xstrdup(live);
	a->version = version;
}

/* The facts of the backup being restored: a changed backup makes the token stale. */
static void restore_facts(struct rec_diff_ctx *ctx, const struct restore_set *r)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < r->b->parts.n; i++) {
		bg_buf_addf(&b, "%s%s", i ? "," : "", r->b->parts.v[i]);
	}
	plan_fact_add(ctx->plan, "restore %s backup=%s live=%s v%u parts=%s", ctx->site->name,
			r->b->id, r->b->live_colour ? r->b->live_colour : "", r->b->live_version,
			b.data ? b.data : "");
	bg_buf_release(&b);
}

/* What the restore replaces, in the plan's words (a note). */
static void restore_note(struct rec_diff_ctx *ctx, const struct restore_set *r,
		const char *live)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < r->vols.n; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : "volumes ", r->vols.v[i]);
	}
	for (size_t i = 0; i < r->dumps.n; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : (b.len ? "; databases of service " :
				"databases of service "), r->dumps.v[i]);
	}
	plan_note_add(ctx->plan, ctx->ps, "restore of backup %s (%s, taken while %s v%u was "
			"live) replaces %s; %s is stopped meanwhile (the site does not answer) "
			"and started again", r->b->id, r->b->why, r->b->live_colour ?
			r->b->live_colour : "nothing", r->b->live_version, b.len ? b.data :
			"nothing but the configuration copy", live ? live : "no colour");
	for (size_t i = 0; i < r->kept.n; i++) {
		plan_note_add(ctx->plan, ctx->ps, "volume %s is not put back from its tar: it "
				"holds a service's data, which comes back through that service's "
				"dump", r->kept.v[i]);
	}
	bg_buf_release(&b);
}

/*
 * The steps of restoring ctx->args->restore_id into ctx->site: a fresh
 * backup, writers stopped, volumes and dumps put back, writers started,
 * `gate` (the colour that is live after the plan) gated. Returns false
 * (the site blocked) when the backup cannot be restored here.
 */
static bool restore_plan(struct rec_diff_ctx *ctx, const char *gate, unsigned gate_version)
{
	struct restore_set r;
	char *why = restore_set_build(ctx, &r);
	if (why) {
		ctx->ps->blocked = why;
		plan_fact_add(ctx->plan, "blocked %s: %s", ctx->site->name, why);
		restore_set_release(&r);
		return false;
	}
	restore_facts(ctx, &r);
	char *saved = saved_what(ctx);
	char *reason = bg_xasprintf("back up %s now (%s), then check every hash of backup "
			"%s, before anything is stopped", ctx->site->name, saved_words(saved),
			r.b->id);
	backup_step(ctx, saved, reason);
	free(reason);
	free(saved);
	colour_steps(ctx, PLAN_OP_STOP, ctx->ps->live_before, "restore: writers stop first");
	restore_steps(ctx, &r);
	colour_steps(ctx, PLAN_OP_START, gate, "start again on the restored data");
	if (gate) {
		gate_step(ctx, gate, gate_version);
	}
	restore_note(ctx, &r, ctx->ps->live_before);
	restore_set_release(&r);
	return true;
}

/* The colour and version the edge says are live (plan --restore changes neither). */
static void restore_live(struct rec_diff_ctx *ctx)
{
	const struct obs_edge *e = obs_edge_find(ctx->obs, ctx->site->name);
	struct plan_site *ps = ctx->ps;
	if (!e || !e->live) {
		return;
	}
	char *name = des_colour_container_name(ctx->site->name, e->live, 1);
	const struct obs_container *c = rec_site_container(ctx, name);
	free(name);
	ps->live_before = bg_xstrdup(e->live);
	ps->live_after = bg_xstrdup(e->live);
	ps->version_before = ps->version_after = c ? c->version : 0;
}

/* plan --restore SITE@ID: the restore, then the edge file written again. */
static int backup_restore_diff(struct rec_diff_ctx *ctx)
{
	restore_live(ctx);
	struct plan_site *ps = ctx->ps;
	if (!restore_plan(ctx, ps->live_before, ps->version_before) || !ps->live_before) {
		return 0;
	}
	/* A restarted container may get another address: the edge reads them again. */
	const struct obs_edge *e = obs_edge_find(ctx->obs, ctx->site->name);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_WRITE, PLAN_KIND_EDGE,
			ctx->site->name, e && e->path ? e->path : ctx->site->name,
			"serve %s again at its addresses after the restart", ps->live_before);
	a->colour = bg_xstrdup(ps->live_before);
	a->preview = e && e->preview ? bg_xstrdup(e->preview) : NULL;
	a->version = ps->version_before;
	return 0;
}

static int backup_diff(struct rec_diff_ctx *ctx)
{
	if (!ctx->site || ctx->ps->blocked) {
		return 0;
	}
	if (ctx->args->kind == PLAN_RESTORE) {
		return backup_restore_diff(ctx);
	}
	return ctx->args->kind == PLAN_CONVERGE ? backup_switch_diff(ctx) : 0;
}

/* ---- rollback across a migration ---- */

/* The newest backup of site taken while version was live, or NULL. */
static const struct obs_backup *backup_while_live(const struct obs *o, const char *site,
		unsigned version)
{
	const struct obs_backup *hit = NULL;
	for (size_t i = 0; i < o->n_backups; i++) {
		const struct obs_backup *b = &o->backups[i];
		if (strcmp(b->site, site) == 0 && b->live_version == version && version) {
			hit = b;
		}
	}
	return hit;
}

/*
 * A rollback switches code, never data: when a backup was taken while the
 * version rolled back to was live (before the switch away from it), the
 * newer version may have migrated the database since. Said plainly; the
 * restore happens only when asked (plan --restore SITE@ID --rollback).
 */
static int backup_rollback(struct rec_diff_ctx *ctx)
{
	struct plan_site *ps = ctx->ps;
	if (!ctx->site || ps->blocked || !ps->live_after || !ps->live_before ||
			strcmp(ps->live_before, ps->live_after) == 0) {
		return 0;
	}
	const char *site = ctx->site->name;
	if (ctx->args->restore_id) {
		size_t sw = ctx->plan->n_actions;
		if (restore_plan(ctx, ps->live_after, ps->version_after)) {
			/* Listed in the order apply runs them: the switch (phase 2) last. */
			for (size_t i = ps->first_action; i < sw; i++) {
				if (ctx->plan->actions[i].op == PLAN_OP_SWITCH) {
					action_to_end(ctx->plan, i);
					break;
				}
			}
			const struct obs_backup *b = obs_backup_find(ctx->obs, ctx->args->restore_id);
			if (b->live_version != ps->version_after) {
				plan_note_add(ctx->plan, ps, "backup %s was taken while v%u was live, "
						"not v%u: check that v%u works with that data", b->id,
						b->live_version, ps->version_after, ps->version_after);
			}
		}
		return 0;
	}
	const struct obs_backup *b = backup_while_live(ctx->obs, site, ps->version_after);
	if (b) {
		plan_note_add(ctx->plan, ps, "the database may have been migrated by v%u: backup "
				"%s was taken while v%u was live, before that switch; this rollback "
				"switches the code only and restores no data; rollback + restore "
				"backup %s: bluegreen rollback %s --restore %s (the same plan as "
				"bluegreen plan --restore %s@%s --rollback)", ps->version_before,
				b->id, ps->version_after, b->id, site, b->id, site, b->id);
	}
	return 0;
}

/* ---- apply ---- */

/* The backup to restore, as recorded now, and checked to be the site's. */
static int restore_manifest(struct rec_apply_ctx *ctx, const char *site,
		struct bk_manifest *m, struct bg_diag *d)
{
	const char *id = ctx->plan->args.restore_id;
	int err = bk_get(ctx->hist, id, m, d);
	if (!err && strcmp(m->site, site) != 0) {
		bg_diag_error(d, NULL, "backup '%s' belongs to site '%s'", id, m->site);
		err = BG_ECONFIG;
	}
	return err;
}

/* The backup step: bk_create, prune, and (in a restore) the check of the backup to restore. */
static int apply_backup(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	const char *rid = ctx->plan->args.restore_id;
	char *why = rid ? bg_xasprintf("before restore of %s", rid)
			: bg_xasprintf("before switch (token %s)", ctx->token);
	struct bk_opts opts = {.why = why, .actor = ctx->actor, .compress = true};
	struct bk_manifest m = {0};
	size_t removed = 0;

	rec_progress(ctx, true, "%s: backing up (%s)", s->name, a->reason);
	int err = bk_create(ctx->rt, ctx->cfg, s->cfg, ctx->obs, ctx->hist, &opts, &m, d);
	if (err) {
		rec_journal(ctx, "backup", s->name, "failed", "%s: %s", why,
				d->n ? d->items[d->n - 1].msg : bg_strerror(err));
		goto out;
	}
	rec_journal(ctx, "backup", s->name, "ok", "%s %s: %zu parts, %" PRIu64 " bytes", m.id,
			why, m.n_parts, m.total_bytes);
	rec_progress(ctx, false, "%s: backup %s taken (%zu parts, %" PRIu64 " bytes)", s->name,
			m.id, m.n_parts, m.total_bytes);
	struct bg_diag pd;
	bg_diag_init(&pd);
	if (bk_prune(ctx->cfg, s->cfg, ctx->hist, &removed, &pd) != 0) {
		/* Retention is housekeeping: a failure is said, never a reason to stop. */
		rec_progress(ctx, false, "%s: old backups not pruned: %s", s->name,
				pd.n ? pd.items[0].msg : "?");
	} else if (removed) {
		rec_journal(ctx, "backup", s->name, "pruned", "%zu old backup%s removed", removed,
				removed == 1 ? "" : "s");
	}
	bg_diag_release(&pd);
	if (rid) {
		err = bk_verify(ctx->cfg, ctx->hist, rid, d);
		rec_journal(ctx, "backup", s->name, err ? "failed" : "ok", "verify %s before "
				"restore%s", rid, err ? ": a part is missing or changed" : "");
	}
out:
	bk_manifest_release(&m);
	free(why);
	return err;
}

static int apply_restore(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	struct bk_manifest m = {0};
	int err = restore_manifest(ctx, s->name, &m, d);
	if (err) {
		return err;
	}
	rec_progress(ctx, true, "%s: restoring %s from %s", s->name, a->name, m.id);
	if (a->service) {
		err = bk_restore_dump(ctx->rt, ctx->cfg, s->cfg, ctx->obs, &m, a->service, d);
	} else {
		/* The manifest names a volume by its short name (the site's prefix off). */
		size_t pl = strlen(s->name) + 1;
		const char *vol = strlen(a->name) > pl ? a->name + pl : a->name;
		err = bk_restore_volume(ctx->rt, ctx->cfg, &m, vol, d);
	}
	rec_journal(ctx, "restore", s->name, err ? "failed" : "ok", "%s %s from backup %s",
			a->service ? "databases of service" : "volume",
			a->service ? a->service : a->name, m.id);
	bk_manifest_release(&m);
	return err;
}

static int backup_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	switch (a->op) {
	case PLAN_OP_BACKUP:
		return apply_backup(ctx, s, a, d);
	case PLAN_OP_RESTORE:
		return apply_restore(ctx, s, a, d);
	case PLAN_OP_STOP:
		return rt_stop(ctx->rt, a->target_id ? a->target_id : a->name,
				des_stop_timeout_s(s->cfg->stop_timeout_ms), d);
	case PLAN_OP_START:
		return rt_start(ctx->rt, a->target_id ? a->target_id : a->name, d);
	default:
		BG_BUG("backup: unexpected op %s", plan_op_name(a->op));
	}
}

static bool backup_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_BACKUP;
}

const struct rec_impl rec_backup_impl = {
	.kind = "backup",
	.diff = backup_diff,
	.apply = backup_apply,
	.handles = backup_handles,
	.rollback = backup_rollback,
};
