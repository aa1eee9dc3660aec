/*
 * rec-volume: the named volumes a site and its services mount. Shared by
 * both colours and never deleted implicitly: a volume the site file no
 * longer mentions is reported and kept (only `plan --purge` of a removed
 * site removes volumes, rec-orphan.c). Creating one is always safe, so a
 * volume removed outside bluegreen is simply created again (and the plan
 * says so).
 */
#include "bg.h"
#include "rec.h"

static int volume_observe(struct rt *rt, const struct cfg *cfg, struct obs *o,
		struct bg_diag *d)
{
	struct bg_strv names;
	int err = rt_observe(rt, o, RT_VOLUMES, d);
	if (err) {
		return err;
	}
	/* Sorted now, so the lookups below bisect. */
	obs_finish(o);
	bg_strv_init(&names);
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *s = &cfg->sites[i];
		for (size_t k = 0; k < s->n_mounts + s->n_services; k++) {
			/* Site mounts first, then each service's. */
			const struct cfg_mount *m;
			size_t nm;
			if (k < s->n_mounts) {
				m = &s->mounts[k];
				nm = 1;
			} else {
				m = s->services[k - s->n_mounts].mounts;
				nm = s->services[k - s->n_mounts].n_mounts;
			}
			for (size_t j = 0; j < nm; j++) {
				char *n = des_volume_name(s->name, m[j].volume);
				if (bg_strv_contains(&names, n)) {
					free(n); /* a volume shared by the site and a service */
				} else {
					bg_strv_push_take(&names, n);
				}
			}
		}
	}
	err = rec_observe_conflicts(rt, o, "volume", &names, d);
	bg_strv_release(&names);
	return err;
}

static int volume_diff(struct rec_diff_ctx *ctx)
{
	if (!ctx->site) {
		return 0;
	}
	const struct des_site *s = ctx->site;
	for (size_t i = 0; i < s->volumes.n; i++) {
		const char *name = s->volumes.v[i];
		if (obs_volume_find(ctx->obs, name)) {
			plan_fact_add(ctx->plan, "volume %s present", name);
			continue;
		}
		plan_fact_add(ctx->plan, "volume %s absent", name);
		plan_action_add(ctx->plan, PLAN_OP_CREATE, PLAN_KIND_VOLUME, s->name, name,
				"declared in %s and missing", s->cfg->path);
	}
	/* Volumes of this site nobody mounts any more: kept, and said. */
	for (size_t i = 0; i < ctx->n_vols; i++) {
		const struct obs_volume *v = ctx->vols[i];
		if (!bg_strv_contains(&s->volumes, v->name)) {
			plan_note_add(ctx->plan, ctx->ps, "volume '%s' is no longer used by %s: "
					"kept (volumes are never deleted implicitly)", v->name,
					s->cfg->path);
		}
	}
	return 0;
}

static int volume_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	struct obs_labels labels = {0};
	if (a->op == PLAN_OP_REMOVE) {
		/* Only a purge plans this (rec-orphan.c), for a site with no file. */
		if (des_site_find(ctx->des, a->site)) {
			bg_diag_error(d, NULL, "site '%s' is configured again: volume %s is kept",
					a->site, a->name);
			return BG_ECONFIG;
		}
		return rt_volume_remove(ctx->rt, a->name, d);
	}
	if (a->op != PLAN_OP_CREATE) {
		BG_BUG("volume: unexpected op %s", plan_op_name(a->op));
	}
	des_base_labels(&labels, a->site);
	if (ctx->token) {
		obs_labels_set(&labels, BG_LABEL_PLAN, ctx->token);
	}
	int err = rt_volume_create(ctx->rt, a->name, &labels, d);
	obs_labels_release(&labels);
	return err;
}

static bool volume_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_VOLUME;
}

const struct rec_impl rec_volume_impl = {
	.kind = "volume",
	.observe = volume_observe,
	.diff = volume_diff,
	.apply = volume_apply,
	.handles = volume_handles,
};
