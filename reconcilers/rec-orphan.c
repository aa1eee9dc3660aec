/*
 * rec-orphan: managed objects that no site file declares (issue 13).
 *
 * A site whose file was removed, and which the history knows (bluegreen
 * deployed it here), is taken down by the next full plan: its edge file
 * first (phase 2, so the proxy stops routing its domains before anything
 * stops), then its colour containers and backing services (phase 3, a
 * graceful stop then remove). Its volumes and network are kept: the plan
 * says so and names `bluegreen plan --purge SITE`, the only plan that
 * removes a site's volumes. Objects whose owner is not clear (a site the
 * history never saw: another installation on this host sharing the
 * engine, or a crashed run of one; a managed container with no site
 * label) are listed with the reason and never touched, and a purge of
 * such a site is refused.
 *
 * The actions are of the existing kinds, applied by the reconcilers that
 * own them: the colour and service reconcilers hand a removed site's stop
 * and remove to rec_orphan_container_apply (their own apply needs the
 * site's desired state, which a removed site no longer has), the edge
 * reconciler removes the edge file (op remove), the volume reconciler the
 * volumes of a purge (op remove).
 */
#include "bg.h"
#include "rec-orphan.h"

/* Docker's own default: the site file that said otherwise is gone. */
#define ORPHAN_STOP_TIMEOUT_S 10

static const char *role_of(const struct obs_container *c)
{
	return c->role ? c->role : "";
}

static char *volume_names(const struct obs_volume *const *vols, size_t n)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : "", vols[i]->name);
	}
	return bg_buf_detach(&b, NULL);
}

/* A removed site's containers, colours first (they use the services). */
static void containers_remove(struct rec_diff_ctx *ctx, const char *site)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ctx->n_cs; i++) {
			const struct obs_container *c = ctx->cs[i];
			bool service = strcmp(role_of(c), "service") == 0;
			if (service != (pass == 1)) {
				continue;
			}
			rec_fact_container(ctx->plan, c);
			struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_REMOVE,
					service ? PLAN_KIND_SERVICE : PLAN_KIND_CONTAINER, site,
					c->name, "%s %s has no site file: site '%s' was removed "
					"(stopped gracefully, then removed)", service ? "service"
					: "container", c->name, site);
			a->phase = PLAN_PHASE_RETIRE;
			a->target_id = bg_xstrdup(c->id);
			a->colour = bg_xstrdup(c->colour);
			a->service = bg_xstrdup(c->service);
			a->replica = c->replica;
		}
	}
}

/* Its edge file: gone before any container stops. */
static void edge_remove(struct rec_diff_ctx *ctx, const char *site)
{
	const struct obs_edge *e = obs_edge_find(ctx->obs, site);
	if (!e || !e->exists) {
		return;
	}
	plan_fact_add(ctx->plan, "edge %s removed-site sha=%s", site,
			e->content_sha ? e->content_sha : "");
	plan_action_add(ctx->plan, PLAN_OP_REMOVE, PLAN_KIND_EDGE, site, e->path,
			"site '%s' was removed: the edge stops routing its domains before its "
			"containers stop", site);
	ctx->ps->live_before = bg_xstrdup(e->live);
}

/* Neither kept nor removable: say what it is and leave it. */
static void unclear_note(struct rec_diff_ctx *ctx, const char *site)
{
	if (ctx->n_cs == 0) {
		return; /* volumes alone: kept, as every volume is */
	}
	/* Not their names: the note is part of the token, and a site of
	 * another installation may change its containers at any time (a
	 * switch), which must not make this installation's tokens stale. */
	plan_note_add(ctx->plan, NULL, "site '%s' has containers managed by bluegreen but "
			"no site file and no version history here (another installation on "
			"this host, or a history that was reset): they are left alone (restore "
			"sites/%s.conf, or remove them yourself; `docker ps -a --filter "
			"label=io.bluegreen.site=%s` lists them)", site, site, site);
	plan_fact_add(ctx->plan, "orphan %s", site);
}

/*
 * In production a removal or purge needs the phrase the site's file had,
 * kept by the history (hist-confirm.h): its file is gone, so only the
 * history can say it. A site deployed before phrases were kept has none.
 */
static void confirm_set(struct rec_diff_ctx *ctx, const char *site)
{
	const struct obs_hist_site *oh = obs_hist_find(ctx->obs, site);
	if (ctx->cfg->g.install_mode != CFG_MODE_PRODUCTION || ctx->ps->n_actions == 0) {
		return;
	}
	ctx->ps->needs_confirm = oh && oh->confirm_kept;
	if (!ctx->ps->needs_confirm) {
		plan_note_add(ctx->plan, ctx->ps, "no confirm phrase is kept for site '%s' "
				"(its file had none, or it was last deployed before phrases were "
				"kept): the token alone applies this", site);
	}
}

/* A purge removes the volumes; a removal keeps them and says how to delete them. */
static void notes_and_volumes(struct rec_diff_ctx *ctx, const char *site, const char *vols,
		bool purge)
{
	if (purge) {
		for (size_t i = 0; i < ctx->n_vols; i++) {
			plan_fact_add(ctx->plan, "volume %s present", ctx->vols[i]->name);
			struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_REMOVE,
					PLAN_KIND_VOLUME, site, ctx->vols[i]->name, "purge of removed "
					"site '%s': its data is deleted", site);
			a->phase = PLAN_PHASE_RETIRE;
		}
		plan_note_add(ctx->plan, ctx->ps, "certificates of '%s' and its network "
				"%s-net are kept (no data; remove them yourself if unwanted)", site,
				site);
	} else {
		plan_note_add(ctx->plan, ctx->ps, "site '%s' has no site file: it is taken down "
				"(edge file first, then its containers); its network and "
				"certificates are kept", site);
		if (ctx->n_vols) {
			plan_note_add(ctx->plan, ctx->ps, "volumes are kept: %s (`bluegreen plan "
					"--purge %s` deletes them)", vols, site);
		}
	}
}

int rec_orphan_site(struct rec_diff_ctx *ctx, const char *site)
{
	const struct cfg *cfg = ctx->cfg;
	bool purge = ctx->args->kind == PLAN_PURGE;
	bool known = obs_hist_find(ctx->obs, site) != NULL;
	const struct obs_edge *e = obs_edge_find(ctx->obs, site);
	bool has_edge = e && e->exists;

	if (!purge && !known) {
		unclear_note(ctx, site);
		return 0;
	}
	char *vols = volume_names(ctx->vols, ctx->n_vols);
	if (!purge && ctx->n_cs == 0 && !has_edge) {
		/* Already taken down: only its volumes are left. */
		if (ctx->n_vols) {
			plan_note_add(ctx->plan, NULL, "site '%s' was removed; its volumes are "
					"kept: %s (`bluegreen plan --purge %s` deletes them)", site,
					vols, site);
		}
		free(vols);
		return 0;
	}
	char *path = bg_xasprintf("%s/sites/%s.conf", cfg->dir ? cfg->dir : ".", site);
	ctx->site = NULL;
	ctx->switching = false;
	ctx->ps = plan_site_add(ctx->plan, site, path);
	ctx->ps->first_action = ctx->plan->n_actions;
	free(path);
	if (!known) {
		/* Labels alone do not say whose data it is: another installation on
		 * this engine may use the same site name. */
		ctx->ps->blocked = bg_xasprintf("site '%s' has no version in this history: "
				"bluegreen did not deploy it from this state directory, so its "
				"volumes (%s) are not purged here", site, *vols ? vols : "none");
		plan_fact_add(ctx->plan, "blocked %s: unknown to the history", site);
		free(vols);
		return 0;
	}
	plan_fact_add(ctx->plan, "removed %s known=%d purge=%d", site, known, purge);
	edge_remove(ctx, site);
	containers_remove(ctx, site);
	notes_and_volumes(ctx, site, vols, purge);
	if (ctx->plan->n_actions == ctx->ps->first_action) {
		plan_note_add(ctx->plan, ctx->ps, "nothing is left of site '%s'", site);
	}
	ctx->ps->n_actions = ctx->plan->n_actions - ctx->ps->first_action;
	confirm_set(ctx, site);
	free(vols);
	return 0;
}

void rec_orphan_unlabelled(struct plan *p, const struct obs *obs)
{
	for (size_t i = 0; i < obs->n_containers; i++) {
		const struct obs_container *c = &obs->containers[i];
		/* A backup's helper container (controller/backup) has no site
		 * label and lives only while its backup or restore runs. */
		if (!c->site && !(c->role && strcmp(c->role, "backup") == 0)) {
			plan_note_add(p, NULL, "container %s is managed by bluegreen but belongs to "
					"no site (no io.bluegreen.site label): left alone", c->name);
		}
	}
}

/* ---- apply: a removed site's containers ---- */

bool rec_orphan_owns(const struct rec_apply_ctx *ctx, const struct plan_action *a)
{
	return a->site && !des_site_find(ctx->des, a->site) &&
			(a->op == PLAN_OP_REMOVE || a->op == PLAN_OP_STOP);
}

int rec_orphan_container_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const char *target = a->target_id ? a->target_id : a->name;
	/* Stop gracefully first: remove would SIGKILL a running container. */
	int err = rt_stop(ctx->rt, target, ORPHAN_STOP_TIMEOUT_S, d);
	if (err == BG_ENOT_FOUND && a->op == PLAN_OP_REMOVE) {
		return 0; /* already gone: what the step wanted */
	}
	if (err || a->op == PLAN_OP_STOP) {
		return err;
	}
	return rt_remove(ctx->rt, target, d);
}
