/*
 * rec-service: a site's backing services (database, cache). They are not
 * coloured: both colours share them. They are created when missing and
 * started when stopped, but never recreated implicitly: a service whose
 * container no longer matches the site file is reported, and the operator
 * decides (its data lives in volumes, which bluegreen never deletes).
 */
#include "bg.h"
#include "rec.h"
#include "rec-orphan.h"

static int service_observe(struct rt *rt, const struct cfg *cfg, struct obs *o,
		struct bg_diag *d)
{
	struct bg_strv names;
	int err;
	bg_strv_init(&names);
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *s = &cfg->sites[i];
		for (size_t k = 0; k < s->n_services; k++) {
			bg_strv_push_take(&names,
					bg_xasprintf("%s-%s", s->name, s->services[k].name));
		}
	}
	err = rec_observe_conflicts(rt, o, "container", &names, d);
	bg_strv_release(&names);
	return err;
}

static int service_diff(struct rec_diff_ctx *ctx)
{
	if (!ctx->site) {
		return 0;
	}
	const struct des_site *s = ctx->site;
	for (size_t i = 0; i < s->n_services; i++) {
		const struct des_service *sv = &s->services[i];
		const char *svc = sv->cfg->name;
		const struct obs_container *c = rec_site_container(ctx, sv->container);
		if (c && (!c->role || strcmp(c->role, "service") != 0 || !c->service ||
				strcmp(c->service, svc) != 0)) {
			plan_note_add(ctx->plan, ctx->ps, "container '%s' is managed by bluegreen "
					"but is not service '%s' (labels differ): left alone",
					c->name, svc);
			continue;
		}
		if (!c) {
			struct plan_action *a = rec_image_need(ctx, sv->cfg->image,
					"image of service '%s' is not present locally", svc);
			if (a) {
				a->service = bg_xstrdup(svc);
			}
			a = plan_action_add(ctx->plan, PLAN_OP_CREATE,
					PLAN_KIND_SERVICE, s->name, sv->container,
					"backing service '%s' missing (image %s)", svc, sv->cfg->image);
			a->service = bg_xstrdup(svc);
			a->spec = bg_xstrdup(sv->spec);
			a = plan_action_add(ctx->plan, PLAN_OP_START, PLAN_KIND_SERVICE, s->name,
					sv->container, "start backing service '%s'", svc);
			a->service = bg_xstrdup(svc);
			continue;
		}
		if (!c->spec || strcmp(c->spec, sv->spec) != 0 ||
				!des_secrets_match(sv->secrets, &c->labels)) {
			plan_note_add(ctx->plan, ctx->ps, "service '%s' (%s) differs from %s: "
					"backing services are never recreated implicitly; to change it, "
					"remove the container yourself (its volumes are kept) and plan "
					"again", svc, c->name, s->cfg->path);
		}
		if (c->state != OBS_CSTATE_RUNNING) {
			struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_START,
					PLAN_KIND_SERVICE, s->name, c->name,
					"drift: %s is %s (exit code %d) outside bluegreen", c->name,
					obs_cstate_name(c->state), c->exit_code);
			a->service = bg_xstrdup(svc);
			a->target_id = bg_xstrdup(c->id);
		}
	}
	return 0;
}

static int service_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	int err = 0;
	if (rec_orphan_owns(ctx, a)) { /* a removed site (issue 13, helper D4) */
		return rec_orphan_container_apply(ctx, a, d);
	}
	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	if (a->op == PLAN_OP_CREATE) {
		const struct des_service *sv = NULL;
		for (size_t i = 0; i < s->n_services; i++) {
			if (strcmp(s->services[i].cfg->name, a->service) == 0) {
				sv = &s->services[i];
			}
		}
		if (!sv) {
			bg_diag_error(d, NULL, "service '%s' is no longer configured", a->service);
			return BG_ECONFIG;
		}
		struct des_create dc;
		char *id = NULL;
		des_service_create(ctx->des, s, sv, ctx->token, &dc);
		err = rt_create(ctx->rt, &dc.spec, &id, d);
		free(id);
		des_create_release(&dc);
		return err;
	}
	if (a->op == PLAN_OP_START) {
		return rt_start(ctx->rt, a->target_id ? a->target_id : a->name, d);
	}
	BG_BUG("service: unexpected op %s", plan_op_name(a->op));
}

static bool service_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_SERVICE;
}

const struct rec_impl rec_service_impl = {
	.kind = "service",
	.observe = service_observe,
	.diff = service_diff,
	.apply = service_apply,
	.handles = service_handles,
};
