/*
 * rec-service: a site's backing services (database, cache). They are not
 * coloured: both colours share them. They are created when missing and
 * started when stopped, then health-checked (rec-service-health.c) before
 * the colours that depend on them are created. A service whose container
 * no longer matches the site file is recreated only through a plan that
 * says so, with the downtime stated (its data lives in volumes, which
 * bluegreen never deletes); in production that plan also takes a backup
 * first (rec-backup.c).
 */
#include "bg.h"
#include "rec.h"
#include "rec-orphan.h"
#include "rec-service-int.h"

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

static struct plan_action *svc_action(struct rec_diff_ctx *ctx, enum plan_op op,
		const struct des_site *s, const struct des_service *sv, const char *target_id,
		const char *fmt, const char *arg)
{
	struct plan_action *a = plan_action_add(ctx->plan, op, PLAN_KIND_SERVICE, s->name,
			sv->container, fmt, arg);
	a->service = bg_xstrdup(sv->cfg->name);
	if (target_id) {
		a->target_id = bg_xstrdup(target_id);
	}
	return a;
}

/* Pull sv's image when it is not present locally. */
static void plan_pull(struct rec_diff_ctx *ctx, const struct des_service *sv)
{
	struct plan_action *a = rec_image_need(ctx, sv->cfg->image,
			"image of service '%s' is not present locally", sv->cfg->name);
	if (a) {
		a->service = bg_xstrdup(sv->cfg->name);
	}
}

/* create, start and health of sv (its image pulled by the caller). */
static void plan_create(struct rec_diff_ctx *ctx, const struct des_site *s,
		const struct des_service *sv, const char *why)
{
	const char *svc = sv->cfg->name;
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_CREATE, PLAN_KIND_SERVICE, s->name,
			sv->container, "%s (image %s)", why, sv->cfg->image);
	a->service = bg_xstrdup(svc);
	a->spec = bg_xstrdup(sv->spec);
	svc_action(ctx, PLAN_OP_START, s, sv, NULL, "start backing service '%s'", svc);
	svc_action(ctx, PLAN_OP_HEALTH, s, sv, NULL,
			"wait until service '%s' is healthy, before anything that depends on it", svc);
}

/* What differs between the running service c and the site file, in words. */
static char *change_words(const struct des_service *sv, const struct obs_container *c)
{
	if (c->image && strcmp(c->image, sv->cfg->image) != 0) {
		return bg_xasprintf("image %s -> %s", c->image, sv->cfg->image);
	}
	if (c->spec && strcmp(c->spec, sv->spec) == 0) {
		return bg_xstrdup("its secret values changed");
	}
	return bg_xstrdup("its image id, command, env, volumes or resources changed");
}

/*
 * A service that no longer matches the site file is recreated, in the
 * open: stop and remove the old container (its volumes stay), create,
 * start and health-check the new one, with the downtime said plainly.
 */
static void plan_recreate(struct rec_diff_ctx *ctx, const struct des_site *s,
		const struct des_service *sv, const struct obs_container *c)
{
	const char *svc = sv->cfg->name;
	char *what = change_words(sv, c);
	unsigned down = rec_service_downtime_s(sv);
	char *why = bg_xasprintf("recreate backing service '%s' (%s): %s will be stopped for "
			"about %u s", svc, what, svc, down);
	plan_pull(ctx, sv); /* before the stop: a pull is not downtime */
	svc_action(ctx, PLAN_OP_STOP, s, sv, c->id, "%s", why);
	svc_action(ctx, PLAN_OP_REMOVE, s, sv, c->id,
			"remove the old container of service '%s' (its volumes are kept)", svc);
	plan_create(ctx, s, sv, "create backing service with the new spec");
	plan_note_add(ctx->plan, ctx->ps, "service '%s' will be recreated (%s): %s will be "
			"stopped for about %u s (up to 30 s stop grace, about 1 s to create and "
			"start, one %" PRIu64 " ms health interval; longer if its health check "
			"needs more tries, at most %" PRIu64 " s)", svc, what, svc, down,
			sv->cfg->health.interval_ms,
			(sv->cfg->health.retries * sv->cfg->health.interval_ms + 999) / 1000);
	free(why);
	free(what);
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
			char *why = bg_xasprintf("backing service '%s' missing", svc);
			plan_pull(ctx, sv);
			plan_create(ctx, s, sv, why);
			free(why);
			continue;
		}
		if (!c->spec || strcmp(c->spec, sv->spec) != 0 ||
				!des_secrets_match(sv->secrets, &c->labels)) {
			plan_recreate(ctx, s, sv, c);
			continue;
		}
		if (c->state != OBS_CSTATE_RUNNING) {
			char *why = bg_xasprintf("drift: %s is %s (exit code %d) outside bluegreen",
					c->name, obs_cstate_name(c->state), c->exit_code);
			svc_action(ctx, PLAN_OP_START, s, sv, c->id, "%s", why);
			free(why);
			svc_action(ctx, PLAN_OP_HEALTH, s, sv, NULL, "wait until service '%s' is "
					"healthy, before anything that depends on it", svc);
		}
	}
	return 0;
}

static const struct des_service *service_find(const struct des_site *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_services; i++) {
		if (strcmp(s->services[i].cfg->name, name) == 0) {
			return &s->services[i];
		}
	}
	return NULL;
}

static int service_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	if (rec_orphan_owns(ctx, a)) { /* a removed site (issue 13, helper D4) */
		return rec_orphan_container_apply(ctx, a, d);
	}
	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	const struct des_service *sv = service_find(s, a->service);
	if (!sv && (a->op == PLAN_OP_CREATE || a->op == PLAN_OP_HEALTH)) {
		bg_diag_error(d, NULL, "service '%s' is no longer configured", a->service);
		return BG_ECONFIG;
	}
	switch (a->op) {
	case PLAN_OP_CREATE: {
		struct des_create dc;
		char *id = NULL;
		des_service_create(ctx->des, s, sv, ctx->token, &dc);
		int err = rt_create(ctx->rt, &dc.spec, &id, d);
		free(id);
		des_create_release(&dc);
		return err;
	}
	case PLAN_OP_START:
		return rt_start(ctx->rt, a->target_id ? a->target_id : a->name, d);
	case PLAN_OP_STOP:
		return rt_stop(ctx->rt, a->target_id, 30, d);
	case PLAN_OP_REMOVE:
		return rt_remove(ctx->rt, a->target_id, d);
	case PLAN_OP_HEALTH:
		return rec_service_health(ctx, s, sv, d);
	default:
		BG_BUG("service: unexpected op %s", plan_op_name(a->op));
	}
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
