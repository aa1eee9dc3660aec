/*
 * rec-edge: the edge file of each site, behind edge.h (Traefik or nginx).
 * The colour reconciler plans switches and preview changes; this one
 * plans a rewrite when the file on disk is not what bluegreen would write
 * for the current live colour: missing, edited by hand, domains changed,
 * or (nginx) upstream addresses that moved because a container was
 * recreated. apply renders from a fresh inspection of the colours, never
 * from the plan's snapshot, so the addresses written are the ones that
 * exist now; then installs atomically and, for a rollback, marks the
 * rolled-back revision rejected.
 */
#include "bg.h"
#include "bg-log.h"
#include "edge.h"
#include "hist-confirm.h"
#include "rec.h"
#include "rec-digest.h"

/* Managed objects name the sites bluegreen deployed: those with no site
 * file left are removed sites, whose edge files the plan takes away. */
static void observe_removed(const struct cfg *cfg, struct obs *o)
{
	struct bg_strv sites;
	bg_strv_init(&sites);
	for (size_t i = 0; i < o->n_containers + o->n_volumes; i++) {
		const struct obs_labels *l = i < o->n_containers ? &o->containers[i].labels
								 : &o->volumes[i - o->n_containers].labels;
		const char *site = obs_labels_get(l, BG_LABEL_SITE);
		if (site && !cfg_site_find(cfg, site) && !bg_strv_contains(&sites, site)) {
			bg_strv_push(&sites, site);
		}
	}
	for (size_t i = 0; i < sites.n; i++) {
		edge_observe_removed(cfg, sites.v[i], o);
	}
	bg_strv_release(&sites);
	obs_finish(o);
}

static int edge_rec_observe(struct rt *rt, const struct cfg *cfg, struct obs *o,
		struct bg_diag *d)
{
	(void)rt;
	int err = edge_observe(cfg, o, d);
	if (!err) {
		obs_finish(o);
		observe_removed(cfg, o);
	}
	return err;
}

static int replica_cmp(const void *a, const void *b)
{
	const struct obs_container *x = *(const struct obs_container *const *)a;
	const struct obs_container *y = *(const struct obs_container *const *)b;
	return (x->replica > y->replica) - (x->replica < y->replica);
}

/*
 * One container's upstream address. With published ports (the default) it
 * is 127.0.0.1:PORT from its io.bluegreen.hostport label (a Swarm task on
 * another node: that node's address, io.bluegreen.hostaddr), whatever its
 * state: the binding survives restarts and a stopped container refuses
 * connections rather than letting its address go to another container.
 * With addresses, its IP on the edge network while it runs.
 */
static char *upstream_of(const struct cfg *cfg, const struct obs_container *c,
		const char *network, unsigned port)
{
	if (edge_for(cfg)->publishes_ports(cfg)) {
		const char *hp = obs_labels_get(&c->labels, BG_LABEL_HOSTPORT);
		/* A Swarm task on another node publishes its port there. */
		const char *ha = obs_labels_get(&c->labels, BG_LABEL_HOSTADDR);
		if (hp && ha && *ha) {
			return bg_xasprintf(strchr(ha, ':') ? "[%s]:%s" : "%s:%s", ha, hp);
		}
		return hp ? bg_xasprintf("127.0.0.1:%s", hp) : NULL;
	}
	const char *ip = obs_container_ip(c, network);
	if (c->state != OBS_CSTATE_RUNNING || !ip || !*ip) {
		return NULL;
	}
	return bg_xasprintf("%s:%u", ip, port);
}

/* The upstream addresses of a colour's containers, in replica order. */
static void upstreams_of(const struct cfg *cfg, const struct obs_container *const *cs, size_t n,
		const char *colour, const char *network, unsigned port, struct bg_strv *out)
{
	const struct obs_container **pick = bg_xcalloc(n ? n : 1, sizeof(*pick));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct obs_container *c = cs[i];
		if (c->role && strcmp(c->role, "colour") == 0 && c->colour &&
				strcmp(c->colour, colour) == 0) {
			pick[k++] = c;
		}
	}
	if (k > 1) {
		qsort(pick, k, sizeof(*pick), replica_cmp);
	}
	for (size_t i = 0; i < k; i++) {
		char *u = upstream_of(cfg, pick[i], network, port);
		if (u) {
			bg_strv_push_take(out, u);
		}
	}
	free(pick);
}

/* Does this site's plan so far recreate (or, with addresses, restart) the colour? */
static bool slice_touches_colour(const struct plan *p, const struct plan_site *ps,
		const char *colour, bool start_counts)
{
	for (size_t i = ps->first_action; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_KIND_CONTAINER && a->colour && strcmp(a->colour, colour) == 0 &&
				(a->op == PLAN_OP_CREATE || (start_counts && a->op == PLAN_OP_START))) {
			return true;
		}
	}
	return false;
}

/*
 * When the file on disk is what bluegreen writes for the other answer to
 * "can the certificate be served?", the only change is HTTPS coming or
 * going: say so in plain words (NULL otherwise).
 */
static const char *tls_why(const struct rec_diff_ctx *ctx, const struct edge_impl *impl,
		const struct edge_view *v, const struct obs_edge *e)
{
	if (!e || !e->content_sha || v->site->tls.mode == CFG_TLS_OFF) {
		return NULL;
	}
	struct edge_view flipped = *v;
	struct bg_buf other = BG_BUF_INIT;
	char sha[65];
	bool same = false;
	flipped.tls_ready = !v->tls_ready;
	if (impl->render(ctx->cfg, &flipped, &other) == 0) {
		bg_sha256_hex(other.data, other.len, sha);
		same = strcmp(sha, e->content_sha) == 0;
	}
	bg_buf_release(&other);
	if (!same) {
		return NULL;
	}
	if (!v->tls_ready) {
		return "serve HTTP only: the certificate is missing";
	}
	return "serve HTTPS: certificate present";
}

/*
 * Why the site's edge file must be rewritten, or NULL when it says what
 * bluegreen would write (sha). A reason built here is stored in *why_buf
 * for the caller to free.
 */
static const char *edge_why(const struct rec_diff_ctx *ctx, const struct edge_impl *impl,
		const struct edge_view *v, const struct obs_edge *e, const char *sha,
		char **why_buf)
{
	const struct bg_strv *live_up = v->live_upstreams;
	const struct plan_site *ps = ctx->ps;
	bool upstreams = impl->needs_upstreams(ctx->cfg);

	if (!e || !e->exists) {
		return "edge file missing";
	}
	if (upstreams && slice_touches_colour(ctx->plan, ps, ps->live_after,
				!impl->publishes_ports(ctx->cfg))) {
		return "refresh upstream addresses after the live colour is repaired";
	}
	if (e->content_sha && strcmp(e->content_sha, sha) == 0) {
		return NULL;
	}
	const char *tls = tls_why(ctx, impl, v, e);
	if (tls) {
		return tls;
	}
	/* The parser reports upstreams sorted; compare like with like. */
	struct bg_strv sorted;
	bg_strv_init(&sorted);
	bg_strv_copy(&sorted, live_up);
	bg_strv_sort(&sorted);
	bool moved = !bg_strv_equal(&e->upstreams, &sorted);
	bg_strv_release(&sorted);
	if (!upstreams || !moved) {
		return "edge file differs from what bluegreen writes (edited by hand, or "
		       "domains/preview changed in the site file)";
	}
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < live_up->n; i++) {
		bg_buf_addf(&b, "%s%s", i ? " " : "", live_up->v[i]);
	}
	*why_buf = bg_xasprintf("upstream addresses changed (a container was "
			"recreated or restarted): now %s", b.len ? b.data : "none");
	bg_buf_release(&b);
	return *why_buf;
}

/*
 * A planned switch that the edge makes without reloading (nginx: the file
 * on disk is already the one for both colours, so only its flag changes):
 * say so in the switch's line, which the token covers.
 */
static void switch_note(struct rec_diff_ctx *ctx)
{
	const struct edge_impl *impl = edge_for(ctx->cfg);
	const struct obs_edge *e = obs_edge_find(ctx->obs, ctx->site->name);
	const struct cfg_site *cs = ctx->site->cfg;
	struct plan_action *a = NULL;
	for (size_t i = ctx->ps->first_action; i < ctx->plan->n_actions; i++) {
		if (ctx->plan->actions[i].op == PLAN_OP_SWITCH &&
				ctx->plan->actions[i].kind == PLAN_KIND_EDGE) {
			a = &ctx->plan->actions[i];
		}
	}
	if (!impl->route || !a || !e || !e->exists || e->error || !e->content_sha ||
			!e->live || slice_touches_colour(ctx->plan, ctx->ps, a->colour, true)) {
		return;
	}
	struct bg_strv ups[2];
	struct bg_buf content = BG_BUF_INIT;
	bg_strv_init(&ups[0]);
	bg_strv_init(&ups[1]);
	upstreams_of(ctx->cfg, ctx->cs, ctx->n_cs, "blue", ctx->des->edge_network, cs->port,
			&ups[0]);
	upstreams_of(ctx->cfg, ctx->cs, ctx->n_cs, "green", ctx->des->edge_network, cs->port,
			&ups[1]);
	struct edge_view v = {.site = cs, .live = a->colour, .live_version = a->version,
			.preview = a->preview, .tls_ready = e->tls_ready,
			.blue_upstreams = &ups[0], .green_upstreams = &ups[1]};
	char sha[65];
	if (impl->render(ctx->cfg, &v, &content) == 0) {
		bg_sha256_hex(content.data, content.len, sha);
		if (strcmp(sha, e->content_sha) == 0) {
			char *r = bg_xasprintf("%s (flag, no reload)", a->reason);
			free(a->reason);
			a->reason = r;
		}
	}
	bg_buf_release(&content);
	bg_strv_release(&ups[0]);
	bg_strv_release(&ups[1]);
}

/* Once per plan: why this host's switches reload (the edge's words). */
static void route_note(struct rec_diff_ctx *ctx)
{
	const struct edge_impl *impl = edge_for(ctx->cfg);
	char *note = impl->route_note ? impl->route_note(ctx->cfg) : NULL;
	if (note && !bg_strv_contains(&ctx->plan->notes, note)) {
		plan_note_add(ctx->plan, NULL, "%s", note);
	}
	free(note);
}

static int edge_diff(struct rec_diff_ctx *ctx)
{
	if (ctx->site) {
		route_note(ctx);
	}
	if (ctx->site && ctx->switching && !ctx->ps->blocked) {
		switch_note(ctx);
	}
	if (!ctx->site || ctx->switching || ctx->ps->blocked || !ctx->ps->live_after) {
		return 0;
	}
	const struct des_site *s = ctx->site;
	const struct cfg_site *cs = s->cfg;
	struct plan_site *ps = ctx->ps;
	const struct edge_impl *impl = edge_for(ctx->cfg);
	const struct obs_edge *e = obs_edge_find(ctx->obs, s->name);
	const char *preview = cs->preview ? (ps->candidate_after ? ps->candidate_after
								 : ps->live_after)
					  : NULL;
	struct bg_strv live_up, prev_up, ups[2];
	struct bg_buf content = BG_BUF_INIT;
	char sha[65];

	bg_strv_init(&live_up);
	bg_strv_init(&prev_up);
	bg_strv_init(&ups[0]);
	bg_strv_init(&ups[1]);
	upstreams_of(ctx->cfg, ctx->cs, ctx->n_cs, "blue", ctx->des->edge_network, cs->port,
			&ups[0]);
	upstreams_of(ctx->cfg, ctx->cs, ctx->n_cs, "green", ctx->des->edge_network, cs->port,
			&ups[1]);
	upstreams_of(ctx->cfg, ctx->cs, ctx->n_cs, ps->live_after, ctx->des->edge_network,
			cs->port, &live_up);
	if (preview) {
		upstreams_of(ctx->cfg, ctx->cs, ctx->n_cs, preview, ctx->des->edge_network,
				cs->port, &prev_up);
	}
	struct edge_view v = {
		.site = cs,
		.live = ps->live_after,
		.live_version = ps->version_after,
		.preview = preview,
		.live_upstreams = &live_up,
		.preview_upstreams = &prev_up,
		.tls_ready = e && e->tls_ready,
		.blue_upstreams = &ups[0],
		.green_upstreams = &ups[1],
	};
	int err = impl->render(ctx->cfg, &v, &content);
	if (err) {
		goto out;
	}
	bg_sha256_hex(content.data, content.len, sha);
	plan_fact_add(ctx->plan, "edge %s want=%s", s->name, sha);

	char *why_buf = NULL;
	const char *why = edge_why(ctx, impl, &v, e, sha, &why_buf);
	if (why) {
		struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_WRITE, PLAN_KIND_EDGE,
				s->name, e && e->path ? e->path : s->name, "%s", why);
		a->colour = bg_xstrdup(ps->live_after);
		a->preview = bg_xstrdup(preview);
		a->version = ps->version_after;
	}
	free(why_buf);
out:
	bg_strv_release(&live_up);
	bg_strv_release(&prev_up);
	bg_strv_release(&ups[0]);
	bg_strv_release(&ups[1]);
	bg_buf_release(&content);
	return err;
}

/*
 * Inspect a colour's containers now and collect "ip:port" of the running
 * ones. cap (the write's `replica`, set by a scale down, rec-scale.c): only
 * replicas 1..cap, the extras being still there when the edge drops them.
 */
static int fresh_upstreams(struct rec_apply_ctx *ctx, const struct des_site *s,
		const char *colour, unsigned cap, struct bg_strv *out, struct bg_diag *d)
{
	struct bg_strv names;
	bg_strv_init(&names);
	for (unsigned r = 1; r <= s->cfg->replicas; r++) {
		bg_strv_push_take(&names, des_colour_container_name(s->name, colour, r));
	}
	/* A rolled-back-to colour may have a different replica count: use what exists. */
	for (size_t i = 0; i < ctx->obs->n_containers; i++) {
		const struct obs_container *c = &ctx->obs->containers[i];
		if (c->site && strcmp(c->site, s->name) == 0 && c->colour &&
				strcmp(c->colour, colour) == 0 && !bg_strv_contains(&names, c->name) &&
				(!cap || c->replica <= cap)) {
			bg_strv_push(&names, c->name);
		}
	}
	int err = 0;
	for (size_t i = 0; i < names.n && !err; i++) {
		struct obs_container c = {0};
		struct bg_diag dd;
		bg_diag_init(&dd);
		err = rt_inspect(ctx->rt, names.v[i], &c, &dd);
		if (err == BG_ENOT_FOUND) {
			err = 0;
		} else if (err) {
			bg_diag_merge(d, &dd);
		} else {
			char *u = upstream_of(ctx->cfg, &c, ctx->des->edge_network, s->cfg->port);
			if (u) {
				bg_strv_push_take(out, u);
			}
		}
		bg_diag_release(&dd);
		obs_container_release(&c);
	}
	bg_strv_release(&names);
	return err;
}

/* A removed site (rec-orphan.c): its route goes before its containers stop. */
static int edge_remove(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	if (des_site_find(ctx->des, a->site)) {
		/* The site file came back between plan and apply. */
		bg_diag_error(d, NULL, "site '%s' is configured again: its edge file is kept",
				a->site);
		return BG_ECONFIG;
	}
	int err = edge_for(ctx->cfg)->remove(ctx->cfg, a->site, d);
	if (!err) {
		rec_progress(ctx, false, "%s: %s removed: the edge no longer routes its domains",
				a->site, a->name);
	}
	return err;
}

/* Does a later step of this apply stop or remove site's colour? */
static bool colour_retired(const struct rec_apply_ctx *ctx, const char *site,
		const char *colour)
{
	for (size_t i = ctx->step + 1; ctx->plan && i < ctx->plan->n_actions; i++) {
		const struct plan_action *a = &ctx->plan->actions[i];
		if (a->kind == PLAN_KIND_CONTAINER && a->site && strcmp(a->site, site) == 0 &&
				a->colour && strcmp(a->colour, colour) == 0 &&
				(a->op == PLAN_OP_STOP || a->op == PLAN_OP_REMOVE)) {
			return true;
		}
	}
	return false;
}

/* The addresses a's file lists now: the live colour's, the preview's, and
 * with both_colours the other colour's too. */
static int apply_upstreams(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, bool both_colours, struct bg_strv *live_up,
		struct bg_strv *prev_up, struct bg_strv *other_up, struct bg_diag *d)
{
	const char *other = strcmp(a->colour, "blue") == 0 ? "green" : "blue";
	int err = fresh_upstreams(ctx, s, a->colour, a->replica, live_up, d);
	if (!err && a->preview && strcmp(a->preview, a->colour) == 0) {
		/* The same colour and cap: the same addresses, not asked twice (issue 11). */
		for (size_t i = 0; i < live_up->n; i++) {
			bg_strv_push(prev_up, live_up->v[i]);
		}
	} else if (!err && a->preview) {
		err = fresh_upstreams(ctx, s, a->preview, 0, prev_up, d);
	}
	/* An edge that switches by route (nginx) lists both colours, so that
	 * the next switch between them is a flag change; not a colour this
	 * apply stops or removes later (the next plan would find the file
	 * naming containers that are gone, and rewrite it). */
	if (!err && both_colours && !colour_retired(ctx, s->name, other)) {
		err = fresh_upstreams(ctx, s, other, 0, other_up, d);
	}
	return err;
}

static int edge_rec_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	const struct edge_impl *impl = edge_for(ctx->cfg);
	struct bg_strv live_up, prev_up, other_up;
	struct bg_buf content = BG_BUF_INIT;
	char *path = NULL;
	int err;

	if (a->op == PLAN_OP_REMOVE) {
		return edge_remove(ctx, a, d);
	}
	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	bg_strv_init(&live_up);
	bg_strv_init(&prev_up);
	bg_strv_init(&other_up);
	err = apply_upstreams(ctx, s, a, impl->route != NULL, &live_up, &prev_up, &other_up, d);
	if (err) {
		goto out;
	}
	if (live_up.n == 0 && impl->needs_upstreams(ctx->cfg)) {
		/* Never point the domains at nothing: the old file keeps serving. */
		bg_diag_error(d, NULL, "no container of %s-%s has an upstream address (%s): "
				"the edge file is left as it was", s->name, a->colour,
				impl->publishes_ports(ctx->cfg) ? "no published port"
							       : "not running on the edge network");
		err = BG_EEDGE;
		goto out;
	}
	struct edge_view v = {
		.site = s->cfg,
		.live = a->colour,
		.live_version = a->version,
		.preview = a->preview,
		.live_upstreams = &live_up,
		.preview_upstreams = &prev_up,
		/* The disk now, not the plan's view: a certificate that is not
		 * (or no longer) there gives an HTTP-only file nginx accepts. */
		.tls_ready = edge_tls_ready(ctx->cfg, s->cfg),
	};
	if (impl->route) {
		bool blue = strcmp(a->colour, "blue") == 0;
		v.blue_upstreams = blue ? &live_up : &other_up;
		v.green_upstreams = blue ? &other_up : &live_up;
	}
	err = impl->render(ctx->cfg, &v, &content);
	if (err) {
		bg_diag_error(d, NULL, "cannot render the edge file of '%s': %s", s->name,
				bg_strerror(err));
		goto out;
	}
	err = impl->route ? impl->route(ctx->cfg, s->name, a->colour, a->preview, content.data,
				    content.len, d)
			  : impl->install(ctx->cfg, s->name, content.data, content.len, d);
	if (err) {
		goto out;
	}
	path = impl->path(ctx->cfg, s->name);
	rec_progress(ctx, false, "%s: %s now serves %s (v%u)%s%s", s->name, path, a->colour,
			a->version, a->preview ? ", preview -> " : "", a->preview ? a->preview : "");
	if (a->reject_spec && *a->reject_spec && ctx->hist) {
		err = hist_rejected_add(ctx->hist, s->name, a->reject_spec);
		if (err) {
			bg_diag_error(d, NULL, "switched back, but could not mark v%u rejected: %s",
					a->reject_version, bg_strerror(err));
		}
	}
out:
	free(path);
	bg_strv_release(&live_up);
	bg_strv_release(&prev_up);
	bg_strv_release(&other_up);
	bg_buf_release(&content);
	return err;
}

/*
 * Keep the site's confirm phrase (a salted hash) in the history, so that
 * removing the site once its file is gone can still require it (issue 13).
 * A failure is logged: the switch it follows already happened.
 */
static void confirm_keep(struct rec_apply_ctx *ctx, const char *site)
{
	const struct cfg_site *cs = cfg_site_find(ctx->cfg, site);
	if (!ctx->hist || !cs) {
		return;
	}
	int err = hist_confirm_keep(ctx->hist, site, cs->confirm);
	if (err) {
		bg_log(BG_LOG_WARN, "%s: cannot keep its confirm phrase in the history: %s", site,
				bg_strerror(err));
	}
}

/* An edge write or a switch succeeded: keep the confirm phrase; after a
 * switch (or a rollback) journal which colour is live now and remember
 * the site in ctx->switched. */
static int edge_rec_after(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	if (a->op == PLAN_OP_WRITE) {
		confirm_keep(ctx, a->site);
	}
	if (a->op != PLAN_OP_SWITCH) {
		return 0;
	}
	confirm_keep(ctx, a->site);
	bg_strv_push(&ctx->switched, a->site);
	const struct plan_site *ps = plan_site_find(ctx->plan, a->site);
	const char *from = ps && ps->live_before ? ps->live_before : "nothing";
	if (a->reject_spec) {
		rec_journal(ctx, "rollback", a->site, "ok", "live %s (v%u) -> %s (v%u); v%u marked "
				"rejected", from, ps ? ps->version_before : 0, a->colour, a->version,
				a->reject_version);
	} else if (ps && ps->live_before) {
		rec_journal(ctx, "switch", a->site, "ok", "live %s (v%u) -> %s (v%u)", from,
				ps->version_before, a->colour, a->version);
	} else {
		rec_journal(ctx, "switch", a->site, "ok", "first deploy: %s (v%u) is live",
				a->colour, a->version);
	}
	rec_digest_keep(ctx, a); /* issue 13: rollback --to can pull it back by digest */
	return 0;
}

static bool edge_rec_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_EDGE;
}

const struct rec_impl rec_edge_impl = {
	.kind = "edge",
	.observe = edge_rec_observe,
	.diff = edge_diff,
	.apply = edge_rec_apply,
	.handles = edge_rec_handles,
	.after = edge_rec_after,
};
