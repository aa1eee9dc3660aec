/*
 * rec-network: the networks. One shared edge network (the one the edge
 * proxy reaches colours on) and one network per site (colours and their
 * backing services). An edge network that already exists without our
 * label is used as it is and never modified: operators often create it for
 * Traefik before bluegreen arrives. A site network held by someone else
 * blocks the site (rec.c).
 */
#include "bg.h"
#include "rec.h"

static int network_observe(struct rt *rt, const struct cfg *cfg, struct obs *o,
		struct bg_diag *d)
{
	struct bg_strv names;
	int err = rt_observe(rt, o, RT_NETWORKS, d);
	if (err) {
		return err;
	}
	/* Sorted now, so the lookups below bisect. */
	obs_finish(o);
	bg_strv_init(&names);
	for (size_t i = 0; i < cfg->n_sites; i++) {
		bg_strv_push_take(&names, bg_xasprintf("%s-net", cfg->sites[i].name));
	}
	err = rec_observe_conflicts(rt, o, "network", &names, d);
	bg_strv_release(&names);
	if (err) {
		return err;
	}
	if (!obs_network_find(o, cfg->g.edge_network)) {
		bool exists = false, managed = false;
		err = rt_name_taken(rt, "network", cfg->g.edge_network, &exists, &managed, d);
		if (!err && exists && !managed) {
			bg_strv_push(&o->unmanaged_networks, cfg->g.edge_network);
		}
	}
	return err;
}

static int network_diff(struct rec_diff_ctx *ctx)
{
	const struct obs *o = ctx->obs;
	if (!ctx->site) {
		const char *edge = ctx->des->edge_network;
		if (obs_network_find(o, edge)) {
			plan_fact_add(ctx->plan, "network %s managed", edge);
		} else if (bg_strv_contains(&o->unmanaged_networks, edge)) {
			plan_fact_add(ctx->plan, "network %s unmanaged", edge);
			plan_note_add(ctx->plan, NULL, "edge network '%s' exists and is not managed "
					"by bluegreen: it is used as it is and never modified", edge);
		} else if (ctx->des->n_sites > 0) {
			plan_fact_add(ctx->plan, "network %s absent", edge);
			plan_action_add(ctx->plan, PLAN_OP_CREATE, PLAN_KIND_NETWORK, NULL, edge,
					"edge network missing: the edge proxy reaches colours on it");
		}
		return 0;
	}
	const char *net = ctx->site->network;
	const struct obs_network *n = obs_network_find(o, net);
	if (n) {
		plan_fact_add(ctx->plan, "network %s managed", net);
		return 0;
	}
	plan_fact_add(ctx->plan, "network %s absent", net);
	plan_action_add(ctx->plan, PLAN_OP_CREATE, PLAN_KIND_NETWORK, ctx->site->name, net,
			"site network missing: colours and services of '%s' talk on it",
			ctx->site->name);
	return 0;
}

static int network_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	struct obs_labels labels = {0};
	int err;
	if (a->op != PLAN_OP_CREATE) {
		BG_BUG("network: unexpected op %s", plan_op_name(a->op));
	}
	obs_labels_set(&labels, BG_LABEL_MANAGED, "true");
	if (a->site) {
		obs_labels_set(&labels, BG_LABEL_SITE, a->site);
	} else {
		obs_labels_set(&labels, BG_LABEL_ROLE, "edge");
	}
	if (ctx->token) {
		obs_labels_set(&labels, BG_LABEL_PLAN, ctx->token);
	}
	err = rt_network_create(ctx->rt, a->name, &labels, false, d);
	obs_labels_release(&labels);
	return err;
}

static bool network_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_NETWORK;
}

const struct rec_impl rec_network_impl = {
	.kind = "network",
	.observe = network_observe,
	.diff = network_diff,
	.apply = network_apply,
	.handles = network_handles,
};
