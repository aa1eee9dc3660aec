/*
 * rec-colour: the blue/green state machine (SPEC §4). Each site has two
 * colour slots. The live colour is what the edge file says; the other is
 * the candidate (a newer spec, on the preview domain) or the previous
 * colour (kept warm for an instant rollback). A change of spec never
 * touches the live colour: the idle slot is (re)built with the new spec,
 * started and health-gated; only a switch, an edge change, makes it live.
 *
 * diff decides, from the observation alone, which colour is live before
 * and after, and emits: the pull (through rec_image_need), create/start of
 * the candidate's replicas, the health gate, the preview write or the
 * switch, and (keep_previous: false) the drain and removal of the old
 * colour after the switch. The rollback plan is a switch back to a
 * previous colour that still runs. rec-colour-apply.c executes the
 * container steps and the health gate; rec-image.c observes and pulls the
 * images.
 */
#include "bg.h"
#include "bg-log.h"
#include "edge.h"
#include "health.h"
#include "rec.h"
#include "rec-colour-int.h"
#include "rec-scale.h"

#include <time.h>
#include <unistd.h>


/* What one colour slot of a site holds. */
struct slot {
	const char *colour;
	const struct obs_container *rep[MAX_REPLICAS + 1]; /* by replica number, [0] unused */
	const struct obs_container *extra[2 * MAX_REPLICAS];
	size_t n_extra;
	size_t n_found;
	bool all_match;   /* every desired replica exists with the desired spec */
	bool all_running; /* every found replica is running */
	bool any_running; /* some container of the slot runs */
	bool any_unhealthy;
	const char *spec; /* spec of the first replica found */
	unsigned version;
	const char *image;
};

/* Does this container hold the desired revision (spec, and secret values where known)? */
static bool holds_desired(const struct obs_container *c, const struct des_site *s)
{
	return c && c->spec && strcmp(c->spec, s->spec) == 0 &&
			des_secrets_match(s->secrets, &c->labels);
}

static void slot_fill(struct slot *sl, const struct rec_diff_ctx *ctx, const char *colour)
{
	const struct des_site *s = ctx->site;
	unsigned want = s->cfg->replicas;

	memset(sl, 0, sizeof(*sl));
	sl->colour = colour;
	for (size_t i = 0; i < ctx->n_cs; i++) {
		const struct obs_container *c = ctx->cs[i];
		if (!c->role || strcmp(c->role, "colour") != 0 || !c->colour ||
				strcmp(c->colour, colour) != 0) {
			continue;
		}
		if (c->replica >= 1 && c->replica <= want && c->replica <= MAX_REPLICAS &&
				!sl->rep[c->replica]) {
			sl->rep[c->replica] = c;
		} else if (sl->n_extra < BG_ARRAY_SIZE(sl->extra)) {
			sl->extra[sl->n_extra++] = c;
		}
		/* A scaled colour holds two hashes (rec-scale.c): it is the desired one. */
		if (!sl->spec || (c->spec && strcmp(c->spec, s->spec) == 0 &&
				strcmp(sl->spec, s->spec) != 0)) {
			sl->spec = c->spec;
			sl->version = c->version;
			sl->image = c->image;
		}
		sl->any_running |= c->state == OBS_CSTATE_RUNNING;
		sl->n_found++;
	}
	sl->all_match = true;
	sl->all_running = true;
	for (unsigned r = 1; r <= want && r <= MAX_REPLICAS; r++) {
		const struct obs_container *c = sl->rep[r];
		if (!holds_desired(c, s)) {
			sl->all_match = false;
		}
		if (c && c->state != OBS_CSTATE_RUNNING) {
			sl->all_running = false;
		}
		if (c && c->health == OBS_HEALTH_UNHEALTHY) {
			sl->any_unhealthy = true;
		}
	}
	if (sl->n_extra) {
		sl->all_match = false;
	}
}

static char *short_spec(const char *spec)
{
	return bg_xstrndup(spec ? spec : "?", DES_SPEC_SHORT);
}

struct plan_action *rec_colour_container_action(struct rec_diff_ctx *ctx, enum plan_op op,
		const char *colour, unsigned replica, const struct obs_container *c,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *reason = bg_xvasprintf(fmt, ap);
	va_end(ap);
	char *name = c ? bg_xstrdup(c->name)
		       : des_colour_container_name(ctx->site->name, colour, replica);
	struct plan_action *a = plan_action_add(ctx->plan, op, PLAN_KIND_CONTAINER,
			ctx->site->name, name, "%s", reason);
	a->colour = bg_xstrdup(colour);
	a->replica = replica;
	if (c) {
		a->target_id = bg_xstrdup(c->id);
	}
	free(name);
	free(reason);
	return a;
}

static void health_action(struct rec_diff_ctx *ctx, const char *colour, const char *why)
{
	const struct cfg_site *cs = ctx->site->cfg;
	char iv[32];
	bg_duration_format(cs->health.interval_ms, iv);
	char *name = bg_xasprintf("%s-%s", ctx->site->name, colour);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_HEALTH, PLAN_KIND_CONTAINER,
			ctx->site->name, name, "%s: GET %s must answer %u (up to %u tries, every %s"
			"; the image's HEALTHCHECK if it has one)", why, cs->health.path,
			cs->health.status, cs->health.retries, iv);
	a->colour = bg_xstrdup(colour);
	a->version = ctx->site->version;
	free(name);
}

/*
 * Make a slot hold the desired spec: remove what does not match, create
 * what is missing, start what is stopped. Returns true when the slot must
 * then pass the health gate (something was created or started).
 */
static bool slot_converge(struct rec_diff_ctx *ctx, const struct slot *sl, const char *why)
{
	const struct des_site *s = ctx->site;
	unsigned want = s->cfg->replicas;
	bool gate = false, pulled = false;
	char *sp = short_spec(s->spec);

	for (size_t i = 0; i < sl->n_extra; i++) {
		rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, sl->extra[i]->replica, sl->extra[i],
				"not part of the desired %s slot (replicas: %u)", sl->colour, want);
	}
	for (unsigned r = 1; r <= want; r++) {
		const struct obs_container *c = sl->rep[r];
		if (holds_desired(c, s)) {
			if (c->state != OBS_CSTATE_RUNNING) {
				rec_colour_container_action(ctx, PLAN_OP_START, sl->colour, r, c,
						"%s is %s (exit code %d)", c->name,
						obs_cstate_name(c->state), c->exit_code);
				gate = true;
			}
			continue;
		}
		if (c && c->spec && strcmp(c->spec, s->spec) == 0) {
			rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, r, c,
					"holds v%u with other secret values (env_file or redacted env "
					"changed), replaced", c->version);
		} else if (c) {
			char *old = short_spec(c->spec);
			rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, r, c,
					"holds v%u (spec %s, %s), replaced by v%u", c->version, old,
					c->image ? c->image : "?", s->version);
			free(old);
		}
		if (!pulled) {
			rec_image_need(ctx, s->cfg->image, "image is not present locally");
			pulled = true;
		}
		struct plan_action *a = rec_colour_container_action(ctx, PLAN_OP_CREATE, sl->colour, r, NULL,
				"%s: v%u, image %s, spec %s", why, s->version, s->cfg->image, sp);
		a->version = s->version;
		a->spec = bg_xstrdup(s->spec);
		rec_colour_container_action(ctx, PLAN_OP_START, sl->colour, r, NULL, "start %s v%u",
				sl->colour, s->version);
		gate = true;
	}
	free(sp);
	return gate;
}

static struct plan_action *edge_action(struct rec_diff_ctx *ctx, enum plan_op op,
		const char *live, const char *preview, unsigned live_version,
		const char *fmt, ...) BG_PRINTF(6, 7);

static struct plan_action *edge_action(struct rec_diff_ctx *ctx, enum plan_op op,
		const char *live, const char *preview, unsigned live_version,
		const char *fmt, ...)
{
	const struct obs_edge *e = obs_edge_find(ctx->obs, ctx->site->name);
	va_list ap;
	va_start(ap, fmt);
	char *reason = bg_xvasprintf(fmt, ap);
	va_end(ap);
	struct plan_action *a = plan_action_add(ctx->plan, op, PLAN_KIND_EDGE, ctx->site->name,
			e && e->path ? e->path : ctx->site->name, "%s", reason);
	a->colour = bg_xstrdup(live);
	a->preview = bg_xstrdup(preview);
	a->version = live_version;
	ctx->switching = true;
	free(reason);
	/*
	 * The routing this action installs (domains, preview host, entrypoints,
	 * certresolver, listen, TLS and its certificate paths...) is part of what is approved: render it
	 * without the container addresses (refreshed at apply time) and put its
	 * hash among the facts, so an edit of any of it makes the token stale.
	 */
	struct bg_buf content = BG_BUF_INIT;
	struct edge_view v = {.site = ctx->site->cfg, .live = live, .live_version = live_version,
			.preview = preview,
			.tls_ready = e && e->tls_ready};
	if (edge_for(ctx->cfg)->render(ctx->cfg, &v, &content) == 0) {
		char sha[65];
		bg_sha256_hex(content.data, content.len, sha);
		plan_fact_add(ctx->plan, "edge %s route=%s", ctx->site->name, sha);
	} else {
		plan_fact_add(ctx->plan, "edge %s route=unrenderable", ctx->site->name);
	}
	bg_buf_release(&content);
	return a;
}

/* Remove every container of a slot, each with the same reason. */
static void remove_slot(struct rec_diff_ctx *ctx, const struct slot *sl, const char *why)
{
	for (unsigned r = 1; r <= MAX_REPLICAS; r++) {
		if (sl->rep[r]) {
			rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, r, sl->rep[r], "%s v%u %s",
					sl->colour, sl->rep[r]->version, why);
		}
	}
	for (size_t i = 0; i < sl->n_extra; i++) {
		rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, sl->extra[i]->replica,
				sl->extra[i], "%s %s", sl->colour, why);
	}
}

/* After a switch with keep_previous: false, the old colour drains then goes. */
static void retire_slot(struct rec_diff_ctx *ctx, const struct slot *old)
{
	const struct cfg_site *cs = ctx->site->cfg;
	if (cs->keep_previous || old->n_found == 0) {
		return;
	}
	char d[32];
	bg_duration_format(cs->drain_ms, d);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_DRAIN, PLAN_KIND_CONTAINER,
			ctx->site->name, old->colour, "let in-flight requests on %s finish (%s) "
			"before it stops (keep_previous: false)", old->colour, d);
	a->colour = bg_xstrdup(old->colour);
	a->ms = cs->drain_ms;
	a->phase = PLAN_PHASE_RETIRE;
	size_t first = ctx->plan->n_actions;
	remove_slot(ctx, old, "retired after the switch (keep_previous: false)");
	for (size_t i = first; i < ctx->plan->n_actions; i++) {
		ctx->plan->actions[i].phase = PLAN_PHASE_RETIRE;
	}
}

/* Restart live replicas that stopped; recreate missing ones when the spec allows. */
static bool repair_live(struct rec_diff_ctx *ctx, const struct slot *live, bool same_spec)
{
	const struct des_site *s = ctx->site;
	bool gate = false;
	for (unsigned r = 1; r <= s->cfg->replicas; r++) {
		const struct obs_container *c = live->rep[r];
		if (c && c->state != OBS_CSTATE_RUNNING) {
			rec_colour_container_action(ctx, PLAN_OP_START, live->colour, r, c,
					"drift: live %s is %s (exit code %d) outside bluegreen", c->name,
					obs_cstate_name(c->state), c->exit_code);
			gate = true;
		} else if (!c && same_spec) {
			struct plan_action *a = rec_colour_container_action(ctx, PLAN_OP_CREATE, live->colour, r,
					NULL, "drift: live replica %u of %s was removed outside bluegreen",
					r, live->colour);
			a->version = s->version;
			a->spec = bg_xstrdup(s->spec);
			rec_colour_container_action(ctx, PLAN_OP_START, live->colour, r, NULL,
					"start the recreated live replica");
			gate = true;
		} else if (!c) {
			char *n = des_colour_container_name(s->name, live->colour, r);
			plan_note_add(ctx->plan, ctx->ps, "drift: live container %s (v%u) was removed "
					"outside bluegreen and cannot be rebuilt (its spec is no longer the "
					"desired one): the site is degraded until the candidate goes live",
					n, live->version);
			free(n);
		}
	}
	return gate;
}

/*
 * With nothing live: a colour that already holds the desired spec, else
 * one whose containers all stopped (a first deploy that failed its gate:
 * it never went live, so it is no rollback target and the candidate
 * replaces it), else an empty one. (Both colours populated is blocked
 * before: nothing running is ever removed on this path.)
 */
static const char *pick_first_colour(const struct slot *blue, const struct slot *green)
{
	if (blue->all_match) {
		return "blue";
	}
	if (green->all_match) {
		return "green";
	}
	if (blue->n_found && !blue->any_running) {
		return "blue";
	}
	if (green->n_found && !green->any_running) {
		return "green";
	}
	return blue->n_found == 0 ? "blue" : "green";
}

/*
 * The idle colour never went live: no switch or rollback ever made its
 * version live (the history says, obs_hist_went_live), whether it is
 * newer or older than the live one (a failed first deploy is older than
 * the version that went live after it). Such a colour is a failed or
 * waiting candidate, never a rollback target: it is not kept warm and
 * the next candidate replaces it. Without that fact (an observation from
 * an older snapshot): newer than the live version and not rolled back.
 */
static bool never_live(const struct rec_diff_ctx *ctx, const struct slot *lv,
		const struct slot *idle)
{
	if (!idle->n_found || !idle->version) {
		return false;
	}
	int went = obs_hist_went_live(ctx->obs, ctx->site->name, idle->version);
	if (went >= 0) {
		return went == 0;
	}
	const struct obs_hist_site *hs = obs_hist_find(ctx->obs, ctx->site->name);
	bool rejected = idle->spec && hs && bg_strv_contains(&hs->rejected, idle->spec);
	return lv->version && idle->version > lv->version && !rejected;
}

static bool retry_asked(const struct rec_diff_ctx *ctx)
{
	return bg_strv_contains(&ctx->args->retry, ctx->site->name);
}

/*
 * Both colour slots of ctx->site, and the edge that says which one is
 * live (NULL: none observed), whose facts join the plan. The diff and the
 * rollback start alike.
 */
static const struct obs_edge *slots_load(struct rec_diff_ctx *ctx, struct slot *blue,
		struct slot *green)
{
	const struct des_site *s = ctx->site;
	const struct obs_edge *e = obs_edge_find(ctx->obs, s->name);

	slot_fill(blue, ctx, "blue");
	slot_fill(green, ctx, "green");
	if (e) {
		plan_fact_add(ctx->plan, "edge %s exists=%d live=%s preview=%s sha=%s", s->name,
				e->exists, e->live ? e->live : "", e->preview ? e->preview : "",
				e->content_sha ? e->content_sha : "");
	}
	return e;
}

/* A revision that was rolled back is not proposed again: said, nothing planned. */
static void rejected_note(struct rec_diff_ctx *ctx)
{
	const struct des_site *s = ctx->site;
	plan_note_add(ctx->plan, ctx->ps, "revision v%u was rolled back: it is not proposed "
			"again until %s changes (or: bluegreen plan --retry %s)", s->version,
			s->cfg->path, s->name);
}

/* Nothing is live yet: a colour goes live directly, once it passed the gate. */
static int decide_first_deploy(struct rec_diff_ctx *ctx, const struct slot *blue,
		const struct slot *green, bool rejected)
{
	const struct des_site *s = ctx->site;
	const struct cfg_site *cs = s->cfg;
	struct plan_site *ps = ctx->ps;
	const char *t = pick_first_colour(blue, green);
	const struct slot *sl = strcmp(t, "blue") == 0 ? blue : green;

	ps->live_after = bg_xstrdup(t);
	ps->version_after = s->version;
	if (rejected) {
		rejected_note(ctx);
		free(ps->live_after);
		ps->live_after = NULL;
		return 0;
	}
	bool any = sl->n_found > 0;
	if (slot_converge(ctx, sl, "first deploy") || !sl->all_running) {
		health_action(ctx, t, "gate before going live");
	} else {
		health_action(ctx, t, "re-check before going live");
	}
	edge_action(ctx, PLAN_OP_SWITCH, t, cs->preview ? t : NULL, s->version,
			any && sl->all_match
				? "no edge file: %s (v%u) already runs the desired spec and goes live"
				: "first deploy: nothing is live yet, %s (v%u) goes live directly",
			t, s->version);
	return 0;
}

/*
 * The edge points at a colour with no containers at all: nothing is
 * serving, so, as for a first deploy, there is nothing to protect.
 * Rebuild the live slot in place rather than wait for a switch.
 */
static int decide_rebuild_live(struct rec_diff_ctx *ctx, const struct slot *lv,
		const char *live)
{
	plan_note_add(ctx->plan, ctx->ps, "drift: live colour %s has no containers (removed "
			"outside bluegreen): the site is down; it is rebuilt in place with "
			"v%u", live, ctx->site->version);
	slot_converge(ctx, lv, "drift: rebuild the live colour");
	health_action(ctx, live, "gate the rebuilt live colour");
	ctx->ps->version_after = ctx->site->version;
	return 0;
}

static int keep_idle(struct rec_diff_ctx *ctx, const struct slot *lv, const struct slot *idle);

/* The desired spec is live: keep it healthy, keep the previous warm. */
static int decide_repair(struct rec_diff_ctx *ctx, const struct slot *lv,
		const struct slot *idle, const char *live)
{
	if (repair_live(ctx, lv, true)) {
		health_action(ctx, live, "live colour repaired");
	}
	return keep_idle(ctx, lv, idle);
}

/* The other colour beside a live colour that holds the desired revision. */
static int keep_idle(struct rec_diff_ctx *ctx, const struct slot *lv, const struct slot *idle)
{
	if (!ctx->site->cfg->keep_previous) {
		remove_slot(ctx, idle, "(previous colour) not kept (keep_previous: false)");
		return 0;
	}
	if (never_live(ctx, lv, idle)) {
		/* A failed candidate: not warm, not previous; the next one replaces it. */
		return 0;
	}
	for (unsigned r = 1; r <= MAX_REPLICAS; r++) {
		const struct obs_container *c = idle->rep[r];
		if (c && c->state != OBS_CSTATE_RUNNING) {
			rec_colour_container_action(ctx, PLAN_OP_START, idle->colour, r, c,
					"previous colour %s is %s outside bluegreen: restarted "
					"so a rollback stays instant", c->name,
					obs_cstate_name(c->state));
		}
	}
	return 0;
}

/* The plan switched to idle: it is live after, and the old live colour retires. */
static void switched(struct rec_diff_ctx *ctx, const struct slot *lv, const struct slot *idle)
{
	struct plan_site *ps = ctx->ps;
	free(ps->live_after);
	ps->live_after = bg_xstrdup(idle->colour);
	ps->version_after = ctx->site->version;
	free(ps->candidate_after);
	ps->candidate_after = NULL;
	retire_slot(ctx, lv);
}

/* The candidate holds the desired spec: restart, preview or switch to it. */
static int decide_switch(struct rec_diff_ctx *ctx, const struct obs_edge *e,
		const struct slot *lv, const struct slot *idle, const char *live)
{
	const struct des_site *s = ctx->site;
	const struct cfg_site *cs = s->cfg;
	bool auto_promote = cs->promote == CFG_PROMOTE_AUTO;
	bool previewed = e->preview && strcmp(e->preview, idle->colour) == 0;

	ctx->ps->candidate_after = bg_xstrdup(idle->colour);
	if (!idle->all_running) {
		slot_converge(ctx, idle, "candidate");
		health_action(ctx, idle->colour, "candidate restarted");
		if (!auto_promote) {
			if (cs->preview && !previewed) {
				edge_action(ctx, PLAN_OP_WRITE, live, idle->colour, lv->version,
						"%s -> %s (candidate v%u)", cs->preview, idle->colour,
						s->version);
			}
			return 0;
		}
	} else if (idle->any_unhealthy) {
		plan_note_add(ctx->plan, ctx->ps, "candidate %s (v%u) reports unhealthy (the "
				"image's HEALTHCHECK): it will not go live; fix the image or change "
				"%s", idle->colour, s->version, cs->path);
		return 0;
	} else if (!auto_promote && cs->preview && !previewed) {
		/*
		 * Healthy, but the preview host does not show it (an apply
		 * was interrupted between the gate and the preview write):
		 * promote: manual means the operator looks at the candidate
		 * there before switching, so finish that first.
		 */
		health_action(ctx, idle->colour, "re-check before the preview");
		edge_action(ctx, PLAN_OP_WRITE, live, idle->colour, lv->version,
				"%s -> %s (candidate v%u); %s stays live (promote: manual)",
				cs->preview, idle->colour, s->version, live);
		return 0;
	} else {
		health_action(ctx, idle->colour, "re-check before the switch");
	}
	edge_action(ctx, PLAN_OP_SWITCH, idle->colour, cs->preview ? idle->colour : NULL,
			s->version, "live %s (v%u) -> %s (v%u)%s", live, lv->version,
			idle->colour, s->version,
			cs->keep_previous ? "; the previous colour stays running for rollback" : "");
	switched(ctx, lv, idle);
	return 0;
}

/* Build the candidate in the idle slot; with promote: auto, switch once healthy. */
static int decide_candidate(struct rec_diff_ctx *ctx, const struct slot *lv,
		const struct slot *idle, const char *live)
{
	const struct des_site *s = ctx->site;
	const struct cfg_site *cs = s->cfg;

	if (idle->n_found && idle->version && lv->version && idle->version < lv->version &&
			!never_live(ctx, lv, idle)) {
		plan_note_add(ctx->plan, ctx->ps, "the previous colour %s (v%u) is replaced by the "
				"candidate: after this, a rollback to v%u is no longer possible",
				idle->colour, idle->version, idle->version);
	}
	slot_converge(ctx, idle, "candidate");
	health_action(ctx, idle->colour, "gate before the candidate may go live");
	ctx->ps->candidate_after = bg_xstrdup(idle->colour);
	if (cs->promote == CFG_PROMOTE_AUTO) {
		edge_action(ctx, PLAN_OP_SWITCH, idle->colour, cs->preview ? idle->colour : NULL,
				s->version, "promote: auto: live %s (v%u) -> %s (v%u) once healthy",
				live, lv->version, idle->colour, s->version);
		switched(ctx, lv, idle);
	} else if (cs->preview) {
		edge_action(ctx, PLAN_OP_WRITE, live, idle->colour, lv->version,
				"%s -> %s (candidate v%u); %s stays live (promote: manual)",
				cs->preview, idle->colour, s->version, live);
	} else {
		/* An edge that switches by flag (nginx) lists the candidate now,
		 * live unchanged, so that the switch the next plan proposes is a
		 * flag change, not a reload (issue 11); not where its switches
		 * reload anyway (route_note says why). */
		const struct edge_impl *edge = edge_for(ctx->cfg);
		char *why = edge->route && edge->route_note ? edge->route_note(ctx->cfg) : NULL;
		if (edge->route && !why) {
			edge_action(ctx, PLAN_OP_WRITE, live, NULL, lv->version,
					"list candidate %s (v%u) for the switch; %s stays live "
					"(promote: manual)", idle->colour, s->version, live);
		}
		free(why);
		plan_note_add(ctx->plan, ctx->ps, "promote: manual: once the candidate is healthy, "
				"the next plan proposes the switch");
	}
	return 0;
}

/* The live slot as rec-scale.c sees it. */
static struct rec_scale_live scale_view(const struct slot *lv, unsigned want)
{
	return (struct rec_scale_live){.colour = lv->colour, .rep = lv->rep,
			.max = want < MAX_REPLICAS ? want : MAX_REPLICAS, .extra = lv->extra,
			.n_extra = lv->n_extra, .version = lv->version};
}

/* Is the live slot the desired revision but for its replica count? */
static bool scale_fits(const struct rec_diff_ctx *ctx, const struct slot *lv)
{
	struct rec_scale_live sv = scale_view(lv, ctx->site->cfg->replicas);
	return !ctx->site->pinned_from && rec_scale_fits(ctx, &sv);
}

/*
 * Where a colour's replicas run, when the runtime has nodes (a Swarm's
 * tasks carry BG_LABEL_NODE): "green: 3/3 replicas running on node-a,
 * node-b". Nothing for containers of one engine, which carry no node.
 */
static void node_note(struct rec_diff_ctx *ctx, const struct slot *sl)
{
	struct bg_strv nodes;
	unsigned running = 0, want = ctx->site->cfg->replicas;
	bg_strv_init(&nodes);
	for (unsigned r = 1; r <= want && r <= MAX_REPLICAS; r++) {
		const struct obs_container *c = sl->rep[r];
		const char *node = c ? obs_labels_get(&c->labels, BG_LABEL_NODE) : NULL;
		if (!node || c->state != OBS_CSTATE_RUNNING) {
			continue;
		}
		running++;
		if (!bg_strv_contains(&nodes, node)) {
			bg_strv_push(&nodes, node);
		}
	}
	if (nodes.n) {
		struct bg_buf list = BG_BUF_INIT;
		bg_strv_sort(&nodes);
		for (size_t i = 0; i < nodes.n; i++) {
			bg_buf_addf(&list, "%s%s", i ? ", " : "", nodes.v[i]);
		}
		plan_note_add(ctx->plan, ctx->ps, "%s: %u/%u replica%s running on %s", sl->colour,
				running, want, want == 1 ? "" : "s", list.data);
		bg_buf_release(&list);
	}
	bg_strv_release(&nodes);
}

static int colour_diff(struct rec_diff_ctx *ctx)
{
	if (!ctx->site) {
		return 0;
	}
	const struct des_site *s = ctx->site;
	struct plan_site *ps = ctx->ps;
	struct slot blue, green;
	const struct obs_edge *e = slots_load(ctx, &blue, &green);
	node_note(ctx, &blue);
	node_note(ctx, &green);

	if (e && e->exists && (e->error || !e->live)) {
		ps->blocked = bg_xasprintf("edge file %s cannot be understood (%s): bluegreen "
				"will not guess which colour is live; restore it or remove it",
				e->path, e->error ? e->error : "no live colour in it");
		return 0;
	}
	const char *live = e && e->exists ? e->live : NULL;
	bool rejected = s->rejected && !retry_asked(ctx);

	if (!live && blue.n_found && green.n_found) {
		ps->blocked = bg_xasprintf("no edge file for '%s', but both colours have containers "
				"(blue v%u, green v%u): bluegreen will not guess which one was live; "
				"restore the edge file, or remove the colour that must not serve",
				s->name, blue.version, green.version);
		return 0;
	}
	if (!live) {
		return decide_first_deploy(ctx, &blue, &green, rejected);
	}
	const struct slot *lv = strcmp(live, "blue") == 0 ? &blue : &green;
	const struct slot *idle = lv == &blue ? &green : &blue;
	ps->live_before = bg_xstrdup(live);
	ps->version_before = lv->version;
	ps->live_after = bg_xstrdup(live);
	ps->version_after = lv->version;
	if (lv->n_found == 0 && !rejected) {
		return decide_rebuild_live(ctx, lv, live);
	}
	if (lv->all_match) {
		return decide_repair(ctx, lv, idle, live);
	}
	if (!rejected && scale_fits(ctx, lv)) {
		/* Only `replicas` differs: scale the live colour in place (issue 13). */
		struct rec_scale_live sv = scale_view(lv, s->cfg->replicas);
		rec_scale_plan(ctx, &sv);
		return keep_idle(ctx, lv, idle);
	}
	/* The desired spec is not live. Keep what is live serving. */
	repair_live(ctx, lv, false);
	if (rejected) {
		rejected_note(ctx);
		return 0;
	}
	if (idle->all_match) {
		return decide_switch(ctx, e, lv, idle, live);
	}
	return decide_candidate(ctx, lv, idle, live);
}

/*
 * Why the previous colour cannot take over in a rollback, or NULL. A
 * rollback goes back, never forward: the other colour must hold a
 * revision that was live before, not the candidate waiting for its
 * switch, not a revision already rolled back, not a newer version.
 */
static char *rollback_refusal(const struct rec_diff_ctx *ctx, const struct slot *lv,
		const struct slot *prev)
{
	const struct des_site *s = ctx->site;
	bool ready = true;
	/*
	 * Before "not running": a colour the history says never went live is
	 * no target at all, running or not (the candidate keeps its message).
	 */
	if (prev->n_found && obs_hist_went_live(ctx->obs, s->name, prev->version) == 0 &&
			!(prev->spec && strcmp(prev->spec, s->spec) == 0)) {
		return bg_xasprintf("no rollback target: the other colour %s holds v%u, which "
				"never went live (a candidate that failed its gate or was never "
				"switched to); `bluegreen versions %s` lists the versions that "
				"rollback --to can bring back", prev->colour, prev->version,
				s->name);
	}
	for (unsigned r = 1; r <= MAX_REPLICAS; r++) {
		if (prev->rep[r] && prev->rep[r]->state != OBS_CSTATE_RUNNING) {
			ready = false;
		}
	}
	if (!ready || !prev->rep[1]) {
		return bg_xasprintf("the previous colour %s (v%u) is not running: a "
				"rollback would not be instant; start it first (plan proposes that "
				"when keep_previous is true)", prev->colour, prev->version);
	}
	const struct obs_hist_site *hs = obs_hist_find(ctx->obs, s->name);
	bool prev_is_candidate = prev->spec && strcmp(prev->spec, s->spec) == 0 &&
			!(lv->spec && strcmp(lv->spec, s->spec) == 0);
	bool prev_rejected = prev->spec && hs && bg_strv_contains(&hs->rejected, prev->spec);
	bool prev_newer = prev->version && lv->version && prev->version > lv->version;
	if (prev_is_candidate || prev_rejected || prev_newer) {
		return bg_xasprintf("the other colour %s holds v%u, %s: a rollback only "
				"goes back to a revision that was live before; to abandon a "
				"candidate, change %s back (or remove the container yourself)",
				prev->colour, prev->version,
				prev_rejected ? "a revision already rolled back"
				: prev_is_candidate ? "the candidate that never went live"
						    : "a newer version than the live one",
				s->cfg->path);
	}
	if (prev->any_unhealthy) {
		return bg_xasprintf("the previous colour %s (v%u) reports unhealthy (its "
				"image's HEALTHCHECK): switching to it would not restore service",
				prev->colour, prev->version);
	}
	return NULL;
}

/*
 * rollback --to: the idle slot rebuilt with the recorded version (the
 * desired site is pinned to it, des_build_args). Containers come from the
 * recorded image id. The CLI checked it is present, or found the registry
 * digest kept when that version went live: then the image is pulled by
 * digest first (des_pin_pull_ref), so the very build comes back.
 */
static bool pinned_converge(struct rec_diff_ctx *ctx, const struct slot *sl)
{
	const struct des_site *s = ctx->site;
	bool gate = false, pulled = false;
	char *sp = short_spec(s->spec);

	for (size_t i = 0; i < sl->n_extra; i++) {
		rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, sl->extra[i]->replica,
				sl->extra[i], "not part of v%u (replicas: %u)", s->pinned_from,
				s->cfg->replicas);
	}
	for (unsigned r = 1; r <= s->cfg->replicas; r++) {
		const struct obs_container *c = sl->rep[r];
		if (holds_desired(c, s)) {
			if (c->state != OBS_CSTATE_RUNNING) {
				rec_colour_container_action(ctx, PLAN_OP_START, sl->colour, r, c, "%s holds "
						"v%u but is %s", c->name, s->version,
						obs_cstate_name(c->state));
				gate = true;
			}
			continue;
		}
		const char *pull = pulled ? NULL : des_pin_pull_ref(s);
		if (pull) { /* before the first replica is replaced: a failed pull leaves it */
			rec_image_need(ctx, pull, "rollback --to %u: the image of v%u (id %.19s) is "
					"no longer here; pulled by the registry digest kept when it "
					"went live", s->pinned_from, s->version, s->create_image);
			pulled = true;
		}
		if (c) {
			rec_colour_container_action(ctx, PLAN_OP_REMOVE, sl->colour, r, c, "holds v%u (%s), "
					"replaced by v%u (rollback --to %u)", c->version,
					c->image ? c->image : "?", s->version, s->pinned_from);
		}
		struct plan_action *a = rec_colour_container_action(ctx, PLAN_OP_CREATE, sl->colour, r, NULL,
				"rollback --to %u: v%u, image %s (id %.19s), spec %s", s->pinned_from,
				s->version, s->cfg->image, s->create_image, sp);
		a->version = s->version;
		a->spec = bg_xstrdup(s->spec);
		rec_colour_container_action(ctx, PLAN_OP_START, sl->colour, r, NULL, "start %s v%u",
				sl->colour, s->version);
		gate = true;
	}
	free(sp);
	return gate;
}

/* What a rollback --to plan says besides its steps. */
static void pinned_notes(struct rec_diff_ctx *ctx, const struct slot *lv)
{
	const struct des_site *s = ctx->site;
	struct plan_site *ps = ctx->ps;

	if (s->version != s->pinned_from) {
		plan_note_add(ctx->plan, ps, "v%u is recreated from its record as v%u: its spec "
				"no longer hashes the same (the edge settings or the secret keys "
				"changed since)", s->pinned_from, s->version);
	}
	if (s->pin_secret_keys) {
		plan_note_add(ctx->plan, ps, "secret values are never stored in the history: "
				"%s take%s today's value%s", s->pin_secret_keys,
				strchr(s->pin_secret_keys, ',') ? "" : "s",
				strchr(s->pin_secret_keys, ',') ? "s" : "");
	}
	plan_note_add(ctx->plan, ps, "v%u (live now) is marked rejected: plan keeps v%u live "
			"and does not propose the configuration's spec again until %s changes (or: "
			"bluegreen plan --retry %s)", lv->version, s->version, s->cfg->path, s->name);
}

/*
 * rollback --to: any recorded version, as a new candidate in the idle
 * colour, gated, then the switch (the live colour stays warm as the
 * previous one). The live revision is marked rejected, as in a rollback.
 */
static int colour_rollback_to(struct rec_diff_ctx *ctx, const struct obs_edge *e,
		const struct slot *lv, const struct slot *idle)
{
	const struct des_site *s = ctx->site;
	struct plan_site *ps = ctx->ps;

	struct rec_scale_live sv = scale_view(lv, s->cfg->replicas);
	/* A scaled live colour is still its version (a scale is no new version). */
	if (lv->all_match || (lv->version == s->pinned_from && rec_scale_fits(ctx, &sv))) {
		ps->blocked = bg_xasprintf("v%u is live already (%s): there is nothing to roll "
				"back to", s->pinned_from, e->live);
		return 0;
	}
	if (pinned_converge(ctx, idle) || !idle->all_running) {
		health_action(ctx, idle->colour, "gate before the old version goes live again");
	} else {
		health_action(ctx, idle->colour, "re-check before the switch");
	}
	struct plan_action *a = edge_action(ctx, PLAN_OP_SWITCH, idle->colour,
			s->cfg->preview ? idle->colour : NULL, s->version,
			"rollback --to %u: live %s (v%u) -> %s (v%u); v%u is marked rejected%s",
			s->pinned_from, e->live, lv->version, idle->colour, s->version,
			lv->version, s->cfg->keep_previous ? "; it stays running for rollback" : "");
	a->reject_spec = bg_xstrdup(lv->spec ? lv->spec : "");
	a->reject_version = lv->version;
	pinned_notes(ctx, lv);
	switched(ctx, lv, idle);
	return 0;
}

/* The rollback plan for one site: a switch back to the previous colour. */
static int colour_rollback(struct rec_diff_ctx *ctx)
{
	const struct des_site *s = ctx->site;
	struct plan_site *ps = ctx->ps;
	struct slot blue, green;
	const struct obs_edge *e = slots_load(ctx, &blue, &green);

	if (!e || !e->exists || !e->live || e->error) {
		ps->blocked = bg_xasprintf("nothing is live for '%s' (no readable edge file): "
				"there is nothing to roll back", s->name);
		return 0;
	}
	const struct slot *lv = strcmp(e->live, "blue") == 0 ? &blue : &green;
	const struct slot *prev = lv == &blue ? &green : &blue;
	ps->live_before = bg_xstrdup(e->live);
	ps->version_before = lv->version;
	ps->live_after = bg_xstrdup(e->live);
	ps->version_after = lv->version;
	if (s->pinned_from) {
		return colour_rollback_to(ctx, e, lv, prev);
	}
	free(ps->live_after);
	ps->live_after = NULL;
	if (prev->n_found == 0) {
		ps->blocked = bg_xasprintf("no previous colour: %s has no containers, so there is "
				"nothing to switch back to", prev->colour);
		return 0;
	}
	ps->blocked = rollback_refusal(ctx, lv, prev);
	if (ps->blocked) {
		return 0;
	}
	ps->live_after = bg_xstrdup(prev->colour);
	ps->version_after = prev->version;
	struct plan_action *a = edge_action(ctx, PLAN_OP_SWITCH, prev->colour,
			s->cfg->preview ? prev->colour : NULL, prev->version,
			"rollback: live %s (v%u) -> %s (v%u); v%u is marked rejected", e->live,
			lv->version, prev->colour, prev->version, lv->version);
	/* A live colour scaled to the desired count is the desired revision: that one
	 * is what must not come back (its replicas may still carry the older hash). */
	a->reject_spec = bg_xstrdup(scale_fits(ctx, lv) ? s->spec : lv->spec ? lv->spec : "");
	a->reject_version = lv->version;
	plan_note_add(ctx->plan, ps, "v%u will not be proposed again until %s changes (or: "
			"bluegreen plan --retry %s)", lv->version, s->cfg->path, s->name);
	return 0;
}

/* ---- observe ---- */

/* Name conflicts of the colour containers (the images are rec-image.c's). */
static int colour_observe(struct rt *rt, const struct cfg *cfg, struct obs *o,
		struct bg_diag *d)
{
	struct bg_strv names;
	static const char *const colours[] = {"blue", "green"};
	int err;

	bg_strv_init(&names);
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *s = &cfg->sites[i];
		for (size_t c = 0; c < 2; c++) {
			for (unsigned r = 1; r <= s->replicas; r++) {
				bg_strv_push_take(&names,
						des_colour_container_name(s->name, colours[c], r));
			}
		}
	}
	err = rec_observe_conflicts(rt, o, "container", &names, d);
	bg_strv_release(&names);
	return err;
}

static bool colour_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_CONTAINER;
}

const struct rec_impl rec_colour_impl = {
	.kind = "colour",
	.observe = colour_observe,
	.diff = colour_diff,
	.rollback = colour_rollback,
	.apply = rec_colour__apply,
	.handles = colour_handles,
	.after = rec_colour__after,
	.failed = rec_colour__failed,
};
