/*
 * rec-plan: the planner. It builds the desired state, then walks the
 * registry: a shared pass first (networks, edge network), then each site
 * in name order (every kind's diff, or every kind's rollback for a
 * rollback plan), and hands the result to plan_finish for the token.
 * Name conflicts with objects bluegreen does not manage block a site here,
 * before any kind diffs it, so no reconciler can plan to touch someone
 * else's object. The plan model itself (controller/model/plan.c) knows
 * nothing of the reconcilers.
 */
#include "bg.h"
#include "rec.h"
#include "rec-orphan.h"
#include "rec-promote.h"

/* Sites a plan covers: all, or the filter's (unknown names were refused earlier). */
static bool site_selected(const struct plan_args *args, const char *site)
{
	return args->sites.n == 0 || bg_strv_contains(&args->sites, site);
}

static const char *vol_site(const struct obs_volume *v)
{
	const char *s = obs_labels_get(&v->labels, BG_LABEL_SITE);
	return s ? s : "";
}

static int vol_site_cmp(const void *a, const void *b)
{
	const struct obs_volume *x = *(const struct obs_volume *const *)a;
	const struct obs_volume *y = *(const struct obs_volume *const *)b;
	int c = strcmp(vol_site(x), vol_site(y));
	return c ? c : strcmp(x->name, y->name);
}

static int cs_site_cmp(const void *a, const void *b)
{
	const struct obs_container *x = *(const struct obs_container *const *)a;
	const struct obs_container *y = *(const struct obs_container *const *)b;
	int c = strcmp(x->site ? x->site : "", y->site ? y->site : "");
	return c ? c : strcmp(x->name, y->name);
}

/* Managed, but labelled for another site (another installation on this host). */
static bool other_site(const struct obs_labels *l, const char *site)
{
	const char *owner = obs_labels_get(l, BG_LABEL_SITE);
	return owner && strcmp(owner, site) != 0;
}

/* A name of the site held by an object it must not use; adds to b. */
static void conflict_check(struct bg_buf *b, struct bg_buf *foreign, const struct obs *o,
		const char *kind, const char *name, const char *site)
{
	if (rec_conflict(o, kind, name)) {
		bg_buf_addf(b, "%s%s '%s'", b->len ? ", " : "", kind, name);
		return;
	}
	const struct obs_labels *l = NULL;
	if (strcmp(kind, "network") == 0) {
		const struct obs_network *n = obs_network_find(o, name);
		l = n ? &n->labels : NULL;
	} else if (strcmp(kind, "volume") == 0) {
		const struct obs_volume *v = obs_volume_find(o, name);
		l = v ? &v->labels : NULL;
	} else {
		const struct obs_container *c = obs_container_find(o, name);
		l = c ? &c->labels : NULL;
	}
	if (l && other_site(l, site)) {
		bg_buf_addf(foreign, "%s%s '%s' (site '%s')", foreign->len ? ", " : "", kind,
				name, obs_labels_get(l, BG_LABEL_SITE));
	}
}

/* Why the site cannot be planned because of names others hold, or NULL. */
static char *site_conflicts(const struct obs *o, const struct des_site *s)
{
	struct bg_buf b = BG_BUF_INIT, foreign = BG_BUF_INIT;
	static const char *const colours[] = {"blue", "green"};
	char *why = NULL;

	conflict_check(&b, &foreign, o, "network", s->network, s->name);
	for (size_t i = 0; i < s->volumes.n; i++) {
		conflict_check(&b, &foreign, o, "volume", s->volumes.v[i], s->name);
	}
	for (size_t c = 0; c < 2; c++) {
		for (unsigned r = 1; r <= s->cfg->replicas; r++) {
			char *n = des_colour_container_name(s->name, colours[c], r);
			conflict_check(&b, &foreign, o, "container", n, s->name);
			free(n);
		}
	}
	for (size_t i = 0; i < s->n_services; i++) {
		conflict_check(&b, &foreign, o, "container", s->services[i].container, s->name);
	}
	if (b.len) {
		bool many = strchr(b.data, ',') != NULL;
		why = bg_xasprintf("%s already exist%s and %s not managed by bluegreen (no "
				"io.bluegreen.managed label): bluegreen never touches objects it "
				"does not manage; rename or remove %s", b.data, many ? "" : "s",
				many ? "are" : "is", many ? "them" : "it");
	} else if (foreign.len) {
		why = bg_xasprintf("%s belong%s to another site managed by bluegreen (another "
				"installation on this host?): two sites must never share a Docker "
				"object; rename one of the sites", foreign.data,
				strchr(foreign.data, ',') ? "" : "s");
	}
	bg_buf_release(&b);
	bg_buf_release(&foreign);
	return why;
}

/*
 * Managed containers and volumes indexed by site once: a per-site scan of
 * every container would make planning quadratic in the number of sites.
 * Both are sorted by (site, name) and walked by a cursor in step with the
 * sites, which come in name order too.
 */
struct site_index {
	const struct obs_container **cs; /* managed containers that carry a site */
	size_t n_cs, at;
	const struct obs_volume **vols;  /* every volume, by its site label ("" if none) */
	size_t n_vols, vat;
};

static void site_index_build(struct site_index *ix, const struct obs *obs)
{
	memset(ix, 0, sizeof(*ix));
	ix->cs = bg_xcalloc(obs->n_containers ? obs->n_containers : 1, sizeof(*ix->cs));
	for (size_t i = 0; i < obs->n_containers; i++) {
		if (obs->containers[i].site) {
			ix->cs[ix->n_cs++] = &obs->containers[i];
		}
	}
	if (ix->n_cs > 1) {
		qsort(ix->cs, ix->n_cs, sizeof(*ix->cs), cs_site_cmp);
	}
	/* The same for volumes, so a site's unused volumes are found without a scan. */
	ix->vols = bg_xcalloc(obs->n_volumes ? obs->n_volumes : 1, sizeof(*ix->vols));
	for (size_t i = 0; i < obs->n_volumes; i++) {
		ix->vols[i] = &obs->volumes[i];
	}
	ix->n_vols = obs->n_volumes;
	if (ix->n_vols > 1) {
		qsort(ix->vols, ix->n_vols, sizeof(*ix->vols), vol_site_cmp);
	}
}

static void site_index_release(struct site_index *ix)
{
	free(ix->cs);
	free(ix->vols);
	memset(ix, 0, sizeof(*ix));
}

/* Move both cursors past site: its containers and volumes go into ctx (borrowed). */
static void site_index_take(struct site_index *ix, const char *site, struct rec_diff_ctx *ctx)
{
	while (ix->at < ix->n_cs && strcmp(ix->cs[ix->at]->site, site) < 0) {
		ix->at++;
	}
	size_t end = ix->at;
	while (end < ix->n_cs && strcmp(ix->cs[end]->site, site) == 0) {
		end++;
	}
	while (ix->vat < ix->n_vols && strcmp(vol_site(ix->vols[ix->vat]), site) < 0) {
		ix->vat++;
	}
	size_t vend = ix->vat;
	while (vend < ix->n_vols && strcmp(vol_site(ix->vols[vend]), site) == 0) {
		vend++;
	}
	ctx->cs = &ix->cs[ix->at];
	ctx->n_cs = end - ix->at;
	ctx->vols = &ix->vols[ix->vat];
	ctx->n_vols = vend - ix->vat;
	ix->at = end;
	ix->vat = vend;
}

/*
 * Issue 14: the colour live now holds the desired revision and that
 * revision is marked rejected. Only a failed watch window with
 * `verify.on_failure: alert` does that (controller/daemon/verify.c): a
 * rollback marks the revision it leaves, and a rejected revision is never
 * proposed again. The live colour's name, or NULL.
 */
static const char *live_rejected(const struct rec_diff_ctx *ctx, const struct des_site *s)
{
	if (!s->rejected || ctx->args->kind != PLAN_CONVERGE) {
		return NULL;
	}
	const struct obs_edge *e = obs_edge_find(ctx->obs, s->name);
	if (!e || !e->live || e->error) {
		return NULL;
	}
	for (size_t k = 0; k < ctx->n_cs; k++) {
		const struct obs_container *c = ctx->cs[k];
		if (c->colour && strcmp(c->colour, e->live) == 0 && c->spec &&
				strcmp(c->spec, s->spec) == 0) {
			return e->live;
		}
	}
	return NULL;
}

/*
 * A failed watch window (on_failure: alert): the plan proposes the
 * rollback for this site, said at the plan's top, and approved like any
 * plan (its token, and the confirm phrase in production). With plan
 * --retry SITE the operator keeps the revision instead: a re-check of the
 * live colour, whose success lifts the mark (rec-exec.c retry_clear).
 */
static int verify_failed_plan(struct rec_diff_ctx *ctx, const struct des_site *s,
		const char *live)
{
	int err = 0;
	if (bg_strv_contains(&ctx->args->retry, s->name)) {
		char *name = bg_xasprintf("%s-%s", s->name, live);
		struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_HEALTH,
				PLAN_KIND_CONTAINER, s->name, name, "keep v%u live (plan --retry) after "
				"its failed watch window: GET %s must answer %u; then it is no longer "
				"rejected", s->version, s->cfg->health.path, s->cfg->health.status);
		a->colour = bg_xstrdup(live);
		a->version = s->version;
		free(name);
		return 0;
	}
	for (size_t k = 0; k < rec_registry_len && !err; k++) {
		if (rec_registry[k]->rollback) {
			err = rec_registry[k]->rollback(ctx);
		}
	}
	const struct plan_site *ps = ctx->ps;
	if (ps->blocked) {
		plan_note_add(ctx->plan, NULL, "%s: v%u (live, %s) failed its watch window (verify: "
				"bluegreen history %s): no rollback can be proposed: %s", s->name,
				s->version, live, s->name, ps->blocked);
	} else {
		plan_note_add(ctx->plan, NULL, "%s: v%u (live, %s) failed its watch window (verify: "
				"bluegreen history %s): this plan ROLLS BACK to %s (v%u), as `bluegreen "
				"rollback %s` would; to keep v%u instead: bluegreen plan --retry %s",
				s->name, s->version, live, s->name, ps->live_after ? ps->live_after : "?",
				ps->version_after, s->name, s->version, s->name);
	}
	return err;
}

/* One site's part of the plan: its facts, then its block or every kind's diff. */
static int site_plan(struct rec_diff_ctx *ctx, const struct des_site *s)
{
	struct plan *p = ctx->plan;
	int err = 0;

	ctx->site = s;
	ctx->switching = false;
	ctx->ps = plan_site_add(p, s->name, s->cfg->path);
	ctx->ps->first_action = p->n_actions;
	plan_fact_add(p, "desired %s spec=%s version=%u new=%d rejected=%d", s->name,
			s->spec, s->version, s->version_new, s->rejected);
	for (size_t k = 0; k < ctx->n_cs; k++) {
		rec_fact_container(p, ctx->cs[k]);
	}
	char *conflicts = site_conflicts(ctx->obs, s);
	if (!conflicts) {
		conflicts = rec_promote_check(ctx); /* issue 14: promotion.require */
	}
	if (conflicts) {
		ctx->ps->blocked = conflicts;
		plan_fact_add(p, "blocked %s: %s", s->name, conflicts);
	} else if (live_rejected(ctx, s)) {
		err = verify_failed_plan(ctx, s, live_rejected(ctx, s)); /* issue 14 */
	} else if (ctx->args->kind == PLAN_RESTORE) {
		/* plan --restore SITE@ID: the backup reconciler plans it alone. */
		err = rec_backup_impl.diff(ctx);
	} else if (ctx->args->kind == PLAN_ROLLBACK) {
		for (size_t k = 0; k < rec_registry_len && !err; k++) {
			if (rec_registry[k]->rollback) {
				err = rec_registry[k]->rollback(ctx);
			}
		}
	} else {
		for (size_t k = 0; k < rec_registry_len && !err; k++) {
			if (rec_registry[k]->diff) {
				err = rec_registry[k]->diff(ctx);
			}
		}
	}
	ctx->ps->n_actions = p->n_actions - ctx->ps->first_action;
	return err;
}

/*
 * Sites that managed containers or volumes name but no site file declares,
 * in name order (both index lists are sorted by site), into out.
 */
static void undeclared_sites(const struct desired *des, const struct site_index *ix,
		struct bg_strv *out)
{
	for (size_t i = 0; i < ix->n_cs + ix->n_vols; i++) {
		const char *site = i < ix->n_cs ? ix->cs[i]->site : vol_site(ix->vols[i - ix->n_cs]);
		if (*site && !des_site_find(des, site) && !bg_strv_contains(out, site)) {
			bg_strv_push(out, site);
		}
	}
	bg_strv_sort(out);
}

/* Removed sites (a full plan) or the one a purge names: rec-orphan.c. */
static int orphans_plan(struct rec_diff_ctx *ctx, const struct desired *des,
		struct site_index *ix)
{
	struct bg_strv sites;
	int err = 0;

	bg_strv_init(&sites);
	if (ctx->args->kind == PLAN_PURGE) {
		bg_strv_copy(&sites, &ctx->args->sites);
	} else {
		undeclared_sites(des, ix, &sites);
		rec_orphan_unlabelled(ctx->plan, ctx->obs);
	}
	ix->at = ix->vat = 0;
	for (size_t i = 0; i < sites.n && !err; i++) {
		site_index_take(ix, sites.v[i], ctx);
		err = rec_orphan_site(ctx, sites.v[i]);
	}
	bg_strv_release(&sites);
	return err;
}

/* Run every diff over the configuration: the shared pass, then each selected site. */
static int diff_all(struct plan *p, const struct cfg *cfg, const struct obs *obs,
		const struct desired *des, const struct plan_args *args)
{
	struct rec_diff_ctx ctx = {
		.cfg = cfg, .obs = obs, .des = des, .args = args, .plan = p,
	};
	struct site_index ix = {0};
	int err = 0;

	plan_fact_add(p, "history tokens_used=%" PRIu64, obs->hist_tokens_used);
	if (args->kind == PLAN_CONVERGE) {
		for (size_t i = 0; i < rec_registry_len; i++) {
			err = rec_registry[i]->diff ? rec_registry[i]->diff(&ctx) : 0;
			if (err) {
				goto out;
			}
		}
	}
	site_index_build(&ix, obs);
	for (size_t i = 0; i < des->n_sites; i++) {
		const struct des_site *s = &des->sites[i];
		site_index_take(&ix, s->name, &ctx);
		if (!site_selected(args, s->name)) {
			continue;
		}
		err = site_plan(&ctx, s);
		if (err) {
			goto out;
		}
	}
	if ((args->kind == PLAN_CONVERGE && args->sites.n == 0) || args->kind == PLAN_PURGE) {
		err = orphans_plan(&ctx, des, &ix);
	}
out:
	site_index_release(&ix);
	return err;
}

/* Why the plan could not compare secret values (des.secrets_uncompared). */
static char *secrets_why(const struct cfg *cfg, const struct desired *des)
{
	const char *dir = cfg->g.state_dir ? cfg->g.state_dir : "STATE_DIR";
	switch (des->secrets_state) {
	case OBS_SECRETS_ABSENT:
		return bg_xasprintf("%s/%s does not exist yet (the first apply makes it)", dir,
				DES_SECRETS_KEY_FILE);
	case OBS_SECRETS_UNREADABLE:
		return bg_xasprintf("cannot read %s/%s (%s): plan as the user that applies", dir,
				DES_SECRETS_KEY_FILE, bg_strerror(des->secrets_err));
	default:
		return bg_xasprintf("the key (%s/%s) was not observed", dir, DES_SECRETS_KEY_FILE);
	}
}

int rec_plan_build(struct plan *p, const struct cfg *cfg, const struct obs *obs,
		const struct plan_args *args, struct bg_diag *d)
{
	struct desired des;
	int err;

	plan_init(p);
	p->args.kind = args->kind;
	bg_strv_copy(&p->args.sites, &args->sites);
	bg_strv_copy(&p->args.retry, &args->retry);
	p->args.restore_id = args->restore_id ? bg_xstrdup(args->restore_id) : NULL;
	p->args.to_version = args->to_version;
	p->args.to_spec_json = args->to_spec_json ? bg_xstrdup(args->to_spec_json) : NULL;
	bg_strv_sort(&p->args.sites);
	bg_strv_sort(&p->args.retry);
	p->install_mode = cfg->g.install_mode;
	for (size_t i = 0; i < args->sites.n; i++) {
		const struct cfg_site *cs = cfg_site_find(cfg, args->sites.v[i]);
		if (args->kind == PLAN_PURGE) {
			/* Only a site whose file is gone: its data is what a purge deletes. */
			if (cs) {
				bg_diag_error(d, NULL, "site %s still has %s; remove it first",
						cs->name, cs->path);
				return BG_ECONFIG;
			}
			continue;
		}
		if (!cs) {
			bg_diag_error(d, NULL, "no site named '%s' in %s", args->sites.v[i], cfg->dir);
			return BG_ENOT_FOUND;
		}
	}
	err = des_build_args(&des, cfg, obs, &p->args, d);
	if (err) {
		return err;
	}
	if (des.secrets_uncompared) {
		p->secrets_why = secrets_why(cfg, &des);
	}
	err = diff_all(p, cfg, obs, &des, &p->args);
	if (!err) {
		plan_finish(p, cfg);
	}
	des_release(&des);
	return err;
}

