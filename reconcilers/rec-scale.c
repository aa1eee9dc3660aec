/*
 * rec-scale: `replicas` changed and nothing else, so the live colour is
 * scaled where it stands rather than rebuilt beside it and switched
 * (issue 13; see rec-scale.h and ADR "Scaling the live colour"). Up:
 * create, start and gate the new replicas (build phase), then one edge
 * write that names them (switch phase). Down: one edge write without the
 * extras first (switch phase; nginx's old workers are waited for by the
 * install, as for a switch), then drain and remove them (retire phase),
 * so no request is sent to a replica that is going away. The edge write
 * carries the count in its `replica` member: rec-edge.c then leaves out
 * the replicas above it, which still exist when it runs.
 */
#include "bg.h"
#include "edge.h"
#include "rec.h"
#include "rec-scale.h"

static bool live_member_fits(const struct des_site *s, const char *base,
		const struct obs_container *c)
{
	return c->spec && des_spec_base_matches(s, base, &c->labels);
}

bool rec_scale_fits(const struct rec_diff_ctx *ctx, const struct rec_scale_live *lv)
{
	const struct des_site *s = ctx->site;
	unsigned present = 0;
	char base[65];

	if (!s || !lv->version) {
		return false;
	}
	des_colour_spec_base(ctx->des, s, base);
	for (unsigned r = 1; r <= lv->max; r++) {
		if (lv->rep[r] && !live_member_fits(s, base, lv->rep[r])) {
			return false;
		}
		present += lv->rep[r] != NULL;
	}
	for (size_t i = 0; i < lv->n_extra; i++) {
		/* A duplicate of a wanted replica number is no scale: leave it to the candidate path. */
		if (lv->extra[i]->replica <= s->cfg->replicas ||
				!live_member_fits(s, base, lv->extra[i])) {
			return false;
		}
	}
	return present > 0;
}

/* The gate of the replicas this plan starts (the ones already serving pass at once). */
static void scale_gate(struct rec_diff_ctx *ctx, const struct rec_scale_live *lv)
{
	const struct cfg_site *cs = ctx->site->cfg;
	char iv[32];
	bg_duration_format(cs->health.interval_ms, iv);
	char *name = bg_xasprintf("%s-%s", ctx->site->name, lv->colour);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_HEALTH, PLAN_KIND_CONTAINER,
			ctx->site->name, name, "gate the new replicas before the edge sends them "
			"requests: GET %s must answer %u (up to %u tries, every %s; the image's "
			"HEALTHCHECK if it has one)", cs->health.path, cs->health.status,
			cs->health.retries, iv);
	a->colour = bg_xstrdup(lv->colour);
	a->version = lv->version;
	free(name);
}

/*
 * The one edge write of a scale: the live colour stays live, with replicas
 * 1..want (a->replica). Its routing, rendered without addresses, is a fact
 * of the token, as for a switch (rec-colour.c edge_action).
 */
static void scale_edge(struct rec_diff_ctx *ctx, const struct rec_scale_live *lv,
		unsigned from, unsigned want)
{
	const struct des_site *s = ctx->site;
	const struct obs_edge *e = obs_edge_find(ctx->obs, s->name);
	const char *preview = s->cfg->preview ? lv->colour : NULL;
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_WRITE, PLAN_KIND_EDGE, s->name,
			e && e->path ? e->path : s->name, "scale: %s (v%u) is served by %u "
			"replica%s instead of %u; live colour unchanged, no switch", lv->colour,
			lv->version, want, want == 1 ? "" : "s", from);
	a->colour = bg_xstrdup(lv->colour);
	a->preview = bg_xstrdup(preview);
	a->version = lv->version;
	a->replica = want;
	ctx->switching = true; /* this write is the site's edge step: rec-edge plans none */

	struct bg_buf content = BG_BUF_INIT;
	struct edge_view v = {.site = s->cfg, .live = lv->colour, .live_version = lv->version,
			.preview = preview, .tls_ready = e && e->tls_ready};
	if (edge_for(ctx->cfg)->render(ctx->cfg, &v, &content) == 0) {
		char sha[65];
		bg_sha256_hex(content.data, content.len, sha);
		plan_fact_add(ctx->plan, "edge %s route=%s", s->name, sha);
	} else {
		plan_fact_add(ctx->plan, "edge %s route=unrenderable", s->name);
	}
	bg_buf_release(&content);
}

/* Up: the missing replicas join at the live version and spec; stopped ones start. */
static bool scale_up(struct rec_diff_ctx *ctx, const struct rec_scale_live *lv, unsigned want,
		bool *created)
{
	const struct des_site *s = ctx->site;
	bool gate = false, pulled = false;
	for (unsigned r = 1; r <= want && r <= lv->max; r++) {
		const struct obs_container *c = lv->rep[r];
		if (c && c->state != OBS_CSTATE_RUNNING) {
			rec_colour_container_action(ctx, PLAN_OP_START, lv->colour, r, c, "live %s is %s (exit "
					"code %d)", c->name, obs_cstate_name(c->state), c->exit_code);
			gate = true;
			continue;
		}
		if (c) {
			continue;
		}
		if (!pulled) {
			rec_image_need(ctx, s->cfg->image, "image is not present locally");
			pulled = true;
		}
		struct plan_action *a = rec_colour_container_action(ctx, PLAN_OP_CREATE, lv->colour, r, NULL,
				"scale up: replica %u of live %s, v%u (same spec but the count, "
				"not a new version)", r, lv->colour, lv->version);
		a->version = lv->version;
		a->spec = bg_xstrdup(s->spec);
		rec_colour_container_action(ctx, PLAN_OP_START, lv->colour, r, NULL, "start replica %u of %s",
				r, lv->colour);
		gate = *created = true;
	}
	return gate;
}

/* Down: after the edge write, let in-flight requests finish, then the extras go. */
static void scale_down(struct rec_diff_ctx *ctx, const struct rec_scale_live *lv)
{
	const struct cfg_site *cs = ctx->site->cfg;
	char d[32];
	bg_duration_format(cs->drain_ms, d);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_DRAIN, PLAN_KIND_CONTAINER,
			ctx->site->name, lv->colour, "let in-flight requests on the %zu replica%s "
			"taken off the edge finish (%s) before they stop", lv->n_extra,
			lv->n_extra == 1 ? "" : "s", d);
	a->colour = bg_xstrdup(lv->colour);
	a->ms = cs->drain_ms;
	a->phase = PLAN_PHASE_RETIRE;
	for (size_t i = 0; i < lv->n_extra; i++) {
		const struct obs_container *c = lv->extra[i];
		a = rec_colour_container_action(ctx, PLAN_OP_REMOVE, lv->colour, c->replica, c, "scale down: "
				"replica %u of live %s is no longer wanted (replicas: %u)", c->replica,
				lv->colour, cs->replicas);
		a->phase = PLAN_PHASE_RETIRE;
	}
}

void rec_scale_plan(struct rec_diff_ctx *ctx, const struct rec_scale_live *lv)
{
	const struct des_site *s = ctx->site;
	unsigned want = s->cfg->replicas, from = (unsigned)lv->n_extra;
	bool created = false;

	for (unsigned r = 1; r <= lv->max; r++) {
		from += lv->rep[r] != NULL;
	}
	if (from != want) {
		plan_note_add(ctx->plan, ctx->ps, "scale live %s (v%u) from %u to %u replica%s, "
				"no switch: only `replicas` changed in %s", lv->colour, lv->version,
				from, want, want == 1 ? "" : "s", s->cfg->path);
	}
	if (scale_up(ctx, lv, want, &created)) {
		scale_gate(ctx, lv);
	}
	if (created || lv->n_extra) {
		scale_edge(ctx, lv, from, want);
	}
	if (lv->n_extra) {
		scale_down(ctx, lv);
	}
}
