/*
 * apply: see apply.h. The order of checks matters and is deliberate:
 * install_mode (exit 4) before anything is observed; a used token (exit
 * 3) before the plan is compared, so a replay says "already used" rather
 * than "stale"; the constant-time token comparison; the confirm phrases
 * (exit 4); and only then the atomic "mark used", after which the run is
 * journaled step by step. A test hook (BLUEGREEN_FAULT, docs/testing.md),
 * compiled in only by -Dfault_injection=true, kills the process at a
 * chosen step to prove crash safety.
 */
#include "bg.h"
#include "bg-log.h"
#include "apply.h"
#include "clog.h"
#include "edge.h"

#include <ctype.h>
#include <signal.h>
#include <unistd.h>

void apply_outcome_init(struct apply_outcome *o)
{
	memset(o, 0, sizeof(*o));
	plan_init(&o->plan);
}

void apply_outcome_release(struct apply_outcome *o)
{
	if (!o) {
		return;
	}
	free(o->message);
	plan_release(&o->plan);
	apply_outcome_init(o);
}

bool apply_token_valid(const char *s)
{
	size_t n = 0;
	for (; s && s[n]; n++) {
		if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n])) {
			return false;
		}
	}
	return n == PLAN_TOKEN_LEN;
}

static void outcome(struct apply_outcome *out, int code, const char *fmt, ...)
	BG_PRINTF(3, 4);

static void outcome(struct apply_outcome *out, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(out->message);
	out->message = bg_xvasprintf(fmt, ap);
	va_end(ap);
	out->exit = code;
}

/* actor NULL: ours (bg_actor, with the $SUDO_USER claim); else who asked, alone. */
static void journal(struct hist *h, const char *actor, const char *action, const char *site,
		const char *token, const char *result, const char *fmt, ...) BG_PRINTF(7, 8);

static void journal(struct hist *h, const char *actor, const char *action, const char *site,
		const char *token, const char *result, const char *fmt, ...)
{
	char *details = NULL;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		details = bg_xvasprintf(fmt, ap);
		va_end(ap);
	}
	struct hist_entry e = {
		.actor = (char *)actor,
		.action = (char *)action,
		.site = (char *)site,
		.token = (char *)token,
		.result = (char *)result,
		.details = details,
	};
	int err = hist_append(h, &e, NULL);
	if (err) {
		/* The step already happened; say so loudly rather than hide it. */
		bg_log(BG_LOG_ERROR, "could not journal %s %s: %s", action, result, bg_strerror(err));
	}
	free(details);
}

#ifdef BG_FAULT_INJECTION
/*
 * Test hook: BLUEGREEN_FAULT=kill-before:N, kill-during:N or kill-after:N
 * (1-based step). Compiled in only with meson's -Dfault_injection=true (the
 * CI test builds): a shipped binary has no way to be killed by a variable.
 */
static void fault_point(const char *when, size_t step)
{
	const char *f = getenv("BLUEGREEN_FAULT");
	if (!f || !*f) {
		return;
	}
	size_t wl = strlen(when);
	if (strncmp(f, when, wl) == 0 && f[wl] == ':' && strtoul(f + wl + 1, NULL, 10) == step) {
		raise(SIGKILL);
	}
}
#else
#define fault_point(when, step) ((void)(step))
#endif

static void progress(const struct apply_opts *o, bool transient, const char *fmt, ...)
	BG_PRINTF(3, 4);

static void progress(const struct apply_opts *o, bool transient, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = bg_xvasprintf(fmt, ap);
	va_end(ap);
	if (o->progress) {
		o->progress(o->progress_arg, line, transient);
	}
	free(line);
}

/* Progress from inside a step goes to the caller and to the convergence log. */
struct step_progress {
	const struct apply_opts *opts;
	const char *state_dir;
	const char *token;
};

static void step_progress_cb(void *arg, const char *line, bool transient)
{
	struct step_progress *sp = arg;
	if (!transient) {
		clog_append(sp->state_dir, "apply %s %s", sp->token, line);
	}
	if (sp->opts->progress) {
		sp->opts->progress(sp->opts->progress_arg, line, transient);
	}
}

/* After a pull, the image is local: its id joins the desired spec. */
static int refresh_image(struct dk_client *dk, struct obs *obs, const char *ref,
		struct bg_diag *d)
{
	char *id = NULL;
	int err = dk_image_id(dk, ref, &id, d);
	if (err) {
		return err;
	}
	for (size_t i = 0; i < obs->n_images; i++) {
		if (strcmp(obs->images[i].ref, ref) == 0) {
			free(obs->images[i].id);
			obs->images[i].id = id;
			return 0;
		}
	}
	struct obs_image *im = obs_image_add(obs);
	im->ref = bg_xstrdup(ref);
	im->id = id;
	obs_finish(obs);
	return 0;
}

/* A candidate that failed its gate is stopped: it serves nothing, and the
 * next plan then proposes to start and gate it again instead of a switch. */
static void stop_failed_colour(struct rec_apply_ctx *ctx, const struct des_site *s,
		const char *colour)
{
	for (unsigned r = 1; r <= s->cfg->replicas; r++) {
		char *name = des_colour_container_name(s->name, colour, r);
		struct bg_diag dd;
		bg_diag_init(&dd);
		dk_container_stop(ctx->dk, name, 2, &dd);
		bg_diag_release(&dd);
		free(name);
	}
}

static const char *live_now(const struct cfg *cfg, const char *site, char **buf)
{
	struct obs o;
	struct bg_diag d;
	obs_init(&o);
	bg_diag_init(&d);
	*buf = NULL;
	if (edge_observe(cfg, &o, &d) == 0) {
		obs_finish(&o);
		const struct obs_edge *e = obs_edge_find(&o, site);
		if (e && e->live) {
			*buf = bg_xstrdup(e->live);
		}
	}
	bg_diag_release(&d);
	obs_release(&o);
	return *buf ? *buf : "nothing";
}

static void live_summary(const struct cfg *cfg, const struct plan *p, struct bg_buf *b)
{
	for (size_t i = 0; i < p->n_sites; i++) {
		char *buf = NULL;
		bg_buf_addf(b, "%s%s: %s", i ? ", " : "", p->sites[i].site,
				live_now(cfg, p->sites[i].site, &buf));
		free(buf);
	}
}

static bool confirms_ok(const struct cfg *cfg, const struct plan *p, const struct bg_strv *given,
		const char **missing)
{
	for (size_t i = 0; i < p->n_sites; i++) {
		if (!p->sites[i].needs_confirm) {
			continue;
		}
		const struct cfg_site *cs = cfg_site_find(cfg, p->sites[i].site);
		bool found = false;
		for (size_t k = 0; given && k < given->n; k++) {
			/* No early exit: every phrase is compared in constant time. */
			found |= bg_ct_streq(given->v[k], cs->confirm);
		}
		if (!found) {
			*missing = p->sites[i].site;
			return false;
		}
	}
	return true;
}

/*
 * A plan made with --retry SITE deploys a rolled-back revision again: once
 * its first step succeeded, the mark is cleared (and journaled), so later
 * plans, the daemon's included, carry on with it without --retry.
 */
static void retry_clear(struct hist *h, const struct plan *p, const struct desired *des,
		const struct plan_action *a, const char *token, const char *actor)
{
	if (!a->site || !bg_strv_contains(&p->args.retry, a->site)) {
		return;
	}
	const struct des_site *s = des_site_find(des, a->site);
	if (!s || !s->rejected || (a->spec && strcmp(a->spec, s->spec) != 0)) {
		return;
	}
	if (hist_rejected_clear(h, s->name, s->spec) == 0) {
		((struct des_site *)s)->rejected = false;
		journal(h, actor, "retry", s->name, token, "ok", "v%u was rolled back before; deployed "
				"again on request (plan --retry): no longer rejected", s->version);
	}
}

/*
 * Did this apply create or start the colour before step `upto`? Only such a
 * colour is stopped when its gate fails: one that was running before (a
 * re-check before a switch) may be serving through an edge we cannot see.
 */
static bool started_here(const struct plan *p, size_t upto, const char *site,
		const char *colour)
{
	for (size_t i = 0; i < upto; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_KIND_CONTAINER && a->site && strcmp(a->site, site) == 0 &&
				a->colour && strcmp(a->colour, colour) == 0 &&
				(a->op == PLAN_OP_CREATE || a->op == PLAN_OP_START)) {
			return true;
		}
	}
	return false;
}

static int execute(const struct cfg *cfg, struct dk_client *dk, struct hist *h,
		const struct apply_opts *opts, struct apply_outcome *out, struct obs *obs,
		struct bg_diag *d)
{
	const struct plan *p = &out->plan;
	const char *token = p->token;
	const char *actor = opts->actor;
	struct desired des;
	struct step_progress sp = {.opts = opts, .state_dir = cfg->g.state_dir, .token = token};
	size_t n = p->n_actions;
	int err = 0;

	err = des_build(&des, cfg, obs, d);
	if (err) {
		return err;
	}
	struct rec_apply_ctx ctx = {
		.cfg = cfg, .des = &des, .obs = obs, .dk = dk, .hist = h, .token = token,
		.progress = step_progress_cb, .progress_arg = &sp, .cancel = opts->cancel,
		.plan = p,
	};
	bg_strv_init(&ctx.ports);
	/* Execution order: by phase, plan order within a phase (see plan.h). */
	size_t *order = bg_xcalloc(n ? n : 1, sizeof(*order));
	size_t k = 0;
	for (unsigned ph = PLAN_PHASE_BUILD; ph <= PLAN_PHASE_RETIRE; ph++) {
		for (size_t j = 0; j < n; j++) {
			if (p->actions[j].phase == ph) {
				order[k++] = j;
			}
		}
	}
	struct bg_strv switched;
	bg_strv_init(&switched);
	for (size_t i = 0; i < n; i++) {
		const struct plan_action *a = &p->actions[order[i]];
		const struct rec_impl *impl = rec_for_kind(a->kind);
		struct bg_diag sd;
		int64_t t0 = bg_mono_ms();

		if (opts->cancel && atomic_load(opts->cancel)) {
			err = BG_ECANCELLED;
			bg_diag_error(d, NULL, "cancelled by a signal before step %zu/%zu", i + 1, n);
			break;
		}
		fault_point("kill-before", i + 1);
		journal(h, actor, "step", a->site, token, "started", "%zu/%zu %s %s %s: %s", i + 1, n,
				plan_op_name(a->op), plan_kind_name(a->kind), a->name, a->reason);
		clog_append(cfg->g.state_dir, "apply %s [%zu/%zu] %s %s %s ...", token, i + 1, n,
				plan_op_name(a->op), plan_kind_name(a->kind), a->name);
		progress(opts, false, "[%zu/%zu] %s %s %s", i + 1, n, plan_op_name(a->op),
				plan_kind_name(a->kind), a->name);
		fault_point("kill-during", i + 1);
		bg_diag_init(&sd);
		err = impl->apply(&ctx, a, &sd);
		int64_t ms = bg_mono_ms() - t0;
		if (!err && a->kind == PLAN_KIND_IMAGE && a->op == PLAN_OP_PULL) {
			err = refresh_image(dk, obs, a->name, &sd);
			if (!err) {
				des_release(&des);
				err = des_build(&des, cfg, obs, &sd);
				ctx.des = &des;
			}
		}
		if (err) {
			char *msg = NULL;
			if (sd.n) {
				int len = bg_diag_item_format(&sd.items[0], NULL, 0);
				msg = bg_xmalloc((size_t)len + 1);
				bg_diag_item_format(&sd.items[0], msg, (size_t)len + 1);
			}
			journal(h, actor, "step", a->site, token, "failed", "%zu/%zu %s %s %s: %s", i + 1, n,
					plan_op_name(a->op), plan_kind_name(a->kind), a->name,
					msg ? msg : bg_strerror(err));
			clog_append(cfg->g.state_dir, "apply %s [%zu/%zu] %s %s %s: FAILED: %s", token,
					i + 1, n, plan_op_name(a->op), plan_kind_name(a->kind), a->name,
					msg ? msg : bg_strerror(err));
			free(msg);
			bg_diag_merge(d, &sd);
			bg_diag_release(&sd);
			if (a->op == PLAN_OP_HEALTH && a->colour && err == BG_EHEALTH &&
					started_here(p, order[i], a->site, a->colour)) {
				const struct des_site *s = des_site_find(&des, a->site);
				const struct plan_site *ps = plan_site_find(p, a->site);
				/* Never stop what serves: only a colour that is not live. */
				if (s && ps && (!ps->live_before || strcmp(ps->live_before, a->colour) != 0)) {
					stop_failed_colour(&ctx, s, a->colour);
					journal(h, actor, "candidate", a->site, token, "failed",
							"%s-%s v%u failed its health gate and was stopped",
							a->site, a->colour, a->version);
				}
			}
			if (switched.n) {
				/* Honest about what did change before the failure. */
				struct bg_buf b = BG_BUF_INIT;
				for (size_t j = 0; j < switched.n; j++) {
					bg_buf_addf(&b, "%s%s", j ? ", " : "", switched.v[j]);
				}
				out->message = bg_xasprintf("step %zu/%zu failed (%s %s %s) after the "
						"live colour of %s had already been switched (that part "
						"succeeded; the next plan finishes the rest)", i + 1, n,
						plan_op_name(a->op), plan_kind_name(a->kind), a->name,
						b.data);
				bg_buf_release(&b);
			} else {
				out->message = bg_xasprintf("step %zu/%zu failed (%s %s %s)", i + 1, n,
						plan_op_name(a->op), plan_kind_name(a->kind), a->name);
			}
			break;
		}
		bg_diag_release(&sd);
		retry_clear(h, p, &des, a, token, opts->actor);
		journal(h, actor, "step", a->site, token, "ok", "%zu/%zu %s %s %s (%" PRId64 "ms)",
				i + 1, n, plan_op_name(a->op), plan_kind_name(a->kind), a->name, ms);
		clog_append(cfg->g.state_dir, "apply %s [%zu/%zu] %s %s %s: ok (%" PRId64 "ms)",
				token, i + 1, n, plan_op_name(a->op), plan_kind_name(a->kind), a->name, ms);
		if (a->op == PLAN_OP_HEALTH && a->colour) {
			const struct plan_site *ps = plan_site_find(p, a->site);
			if (ps && ps->candidate_after && strcmp(ps->candidate_after, a->colour) == 0) {
				journal(h, actor, "candidate", a->site, token, "healthy", "%s-%s v%u is healthy "
						"and waits for the switch (promote: manual)", a->site,
						a->colour, a->version);
			}
		}
		if (a->op == PLAN_OP_SWITCH) {
			bg_strv_push(&switched, a->site);
			const struct plan_site *ps = plan_site_find(p, a->site);
			const char *from = ps && ps->live_before ? ps->live_before : "nothing";
			if (a->reject_spec) {
				journal(h, actor, "rollback", a->site, token, "ok", "live %s (v%u) -> %s (v%u); "
						"v%u marked rejected", from, ps ? ps->version_before : 0,
						a->colour, a->version, a->reject_version);
			} else if (ps && ps->live_before) {
				journal(h, actor, "switch", a->site, token, "ok", "live %s (v%u) -> %s (v%u)",
						from, ps->version_before, a->colour, a->version);
			} else {
				journal(h, actor, "switch", a->site, token, "ok", "first deploy: %s (v%u) is live",
						a->colour, a->version);
			}
		}
		fault_point("kill-after", i + 1);
	}
	bg_strv_release(&switched);
	bg_strv_release(&ctx.ports);
	free(order);
	des_release(&des);
	return err;
}

/*
 * Compare the plan's execution settings with those of the last apply, so
 * a plan printed after a refusal says which changed. A record that cannot
 * be read leaves every setting "not compared", which shows them all.
 */
static void exec_compare(struct hist *h, struct plan *p)
{
	char *last = NULL;
	int err = hist_exec_settings_get(h, &last);
	if (err == 0 || err == BG_ENOT_FOUND) {
		plan_exec_compare(p, last);
	}
	free(last);
}

/*
 * This apply's token is used: record the execution settings it runs with,
 * and journal those that changed since the last apply, so the history
 * says when a command bluegreen runs as root, its socket or a directory
 * it writes changed, and in which apply (ADR 0012).
 */
static void exec_record(struct hist *h, const char *token, const struct plan *p,
		const char *actor)
{
	struct bg_buf b = BG_BUF_INIT;
	bool first = true;
	for (size_t i = 0; i < p->n_exec; i++) {
		const struct plan_exec *e = &p->exec[i];
		first &= e->state != PLAN_EXEC_CHANGED && e->state != PLAN_EXEC_SAME;
		if (e->state == PLAN_EXEC_SAME) {
			continue;
		}
		bg_buf_addf(&b, "%s%s: ", b.len ? "; " : "", e->key);
		if (e->state == PLAN_EXEC_CHANGED) {
			bg_buf_addf(&b, "%s -> ", e->previous_shown);
		}
		bg_buf_adds(&b, e->shown);
	}
	if (b.len) {
		char *json = plan_exec_to_json(p);
		int err = hist_exec_settings_store(h, json);
		if (err) {
			bg_log(BG_LOG_ERROR, "could not record the execution settings of apply %s: "
					"%s", token, bg_strerror(err));
		}
		journal(h, actor, "settings", NULL, token, first ? "recorded" : "changed",
				"execution settings %s: %s", first ? "of this installation"
				: "changed since the last apply", b.data);
		free(json);
	}
	bg_buf_release(&b);
}

void apply_run(const struct cfg *cfg, struct dk_client *dk, struct hist *h,
		const struct apply_opts *opts, struct apply_outcome *out, struct bg_diag *d)
{
	struct plan_args args;
	struct obs obs;
	char *stored = NULL;
	const char *token = opts->token;
	const char *actor = opts->actor;
	int err;

	plan_args_init(&args);
	obs_init(&obs);
	if (cfg->g.install_mode == CFG_MODE_UNSET) {
		outcome(out, BG_EXIT_REFUSED, "refused: install_mode is not set in global.conf "
				"(production, staging or development): bluegreen does not guess where "
				"it runs");
		journal(h, actor, "apply", NULL, apply_token_valid(token) ? token : NULL, "refused",
				"install_mode missing");
		goto out;
	}
	if (opts->rollback_site) {
		args.kind = PLAN_ROLLBACK;
		bg_strv_push(&args.sites, opts->rollback_site);
	} else {
		if (!apply_token_valid(token)) {
			outcome(out, BG_EXIT_TOKEN, "'%s' is not a plan token (%d lowercase hex "
					"characters, as printed by `bluegreen plan`)", token ? token : "",
					PLAN_TOKEN_LEN);
			goto out;
		}
		if (hist_token_used(h, token)) {
			outcome(out, BG_EXIT_TOKEN, "token %s was already used: a plan is applied "
					"at most once; here is the current plan", token);
			journal(h, actor, "apply", NULL, token, "refused", "token already used");
			goto replan_for_display;
		}
		if (hist_plan_get(h, token, &stored) == 0) {
			if (plan_args_from_json(&args, stored) != 0) {
				plan_args_release(&args);
				plan_args_init(&args);
			}
		}
	}
	/* The key of io.bluegreen.secrets: made on the first apply that needs one. */
	err = des_secrets_key_load(cfg->g.state_dir, true);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot read or create %s/%s: %s", cfg->g.state_dir,
				DES_SECRETS_KEY_FILE, bg_strerror(err));
		goto out;
	}
	err = rec_observe_all(dk, cfg, h, &obs, d);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot observe the current state: %s",
				bg_strerror(err));
		goto out;
	}
	err = plan_build(&out->plan, cfg, &obs, &args, d);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot plan: %s", bg_strerror(err));
		goto out;
	}
	out->have_plan = true;
	exec_compare(h, &out->plan);
	if (opts->rollback_site) {
		token = out->plan.token;
		const struct plan_site *ps = plan_site_find(&out->plan, opts->rollback_site);
		if (ps && ps->blocked) {
			outcome(out, BG_EXIT_FAILED, "cannot roll back %s: %s", ps->site, ps->blocked);
			journal(h, actor, "rollback", ps->site, token, "refused", "%s", ps->blocked);
			goto out;
		}
	} else if (!bg_ct_streq(token, out->plan.token)) {
		if (stored) {
			outcome(out, BG_EXIT_TOKEN, "token %s is stale: something changed since that "
					"plan was printed (configuration, containers or edge files); here "
					"is the current plan, token %s", token, out->plan.token);
			journal(h, actor, "apply", NULL, token, "refused", "stale token; current plan %s",
					out->plan.token);
		} else {
			outcome(out, BG_EXIT_TOKEN, "token %s is unknown: no plan printed here had "
					"it, and it does not match the current plan (token %s)", token,
					out->plan.token);
			journal(h, actor, "apply", NULL, token, "refused", "unknown token");
		}
		goto out;
	}
	const char *missing = NULL;
	if (!opts->rollback_site && !confirms_ok(cfg, &out->plan, opts->confirms, &missing)) {
		outcome(out, BG_EXIT_REFUSED, "refused: site '%s' requires its confirm phrase in "
				"install_mode production: add --confirm \"<phrase from its site file>\"",
				missing);
		journal(h, actor, "apply", missing, token, "refused", "confirm phrase missing or wrong");
		goto out;
	}
	err = hist_token_use(h, token);
	if (err) {
		outcome(out, BG_EXIT_TOKEN, err == BG_ETOKEN_USED
				? "token %s was already used (by a concurrent apply)"
				: "cannot record the use of token %s", token);
		goto out;
	}
	exec_record(h, token, &out->plan, opts->actor);
	if (plan_changes(&out->plan) == 0) {
		outcome(out, BG_EXIT_OK, "nothing to do: everything matches the configuration");
		journal(h, actor, "apply", NULL, token, "ok", "nothing to do");
		goto out;
	}
	/*
	 * The intent is journaled (and the in-progress mark set) before the
	 * first step; if that cannot be recorded, nothing is done: a crash
	 * later would leave no trace to recover from.
	 */
	err = hist_apply_begin_as(h, token, actor, NULL);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot journal the start of apply %s: %s; nothing "
				"was changed", token, bg_strerror(err));
		goto out;
	}
	clog_append(cfg->g.state_dir, "%s %s started by %s: %zu step%s",
			opts->rollback_site ? "rollback" : "apply", token, actor ? actor : bg_actor(),
			plan_changes(&out->plan), plan_changes(&out->plan) == 1 ? "" : "s");

	err = execute(cfg, dk, h, opts, out, &obs, d);

	struct bg_buf live = BG_BUF_INIT;
	live_summary(cfg, &out->plan, &live);
	if (err) {
		const char *what = err == BG_ECANCELLED ? "cancelled" : "failed";
		char *why = out->message ? out->message : bg_xstrdup(bg_strerror(err));
		out->message = NULL;
		outcome(out, BG_EXIT_FAILED, "apply %s %s: %s; live now: %s", token, what, why,
				live.data);
		free(why);
		if (hist_apply_end_as(h, token, what, actor) != 0) {
			bg_log(BG_LOG_ERROR, "could not journal the end of apply %s", token);
		}
		journal(h, actor, "apply", opts->rollback_site, token, what, "%s", out->message);
		clog_append(cfg->g.state_dir, "%s", out->message);
	} else {
		outcome(out, BG_EXIT_OK, "applied %s: %zu step%s; live now: %s", token,
				plan_changes(&out->plan), plan_changes(&out->plan) == 1 ? "" : "s",
				live.data);
		if (hist_apply_end_as(h, token, "ok", actor) != 0) {
			bg_log(BG_LOG_ERROR, "could not journal the end of apply %s", token);
		}
		journal(h, actor, opts->rollback_site ? "rollback" : "apply", opts->rollback_site, token,
				"ok", "%s", out->message);
		clog_append(cfg->g.state_dir, "%s", out->message);
	}
	bg_buf_release(&live);
	goto out;

replan_for_display:
	/* Show the current plan after a refusal; failures here are only lost detail. */
	if (rec_observe_all(dk, cfg, h, &obs, d) == 0 &&
			plan_build(&out->plan, cfg, &obs, &args, d) == 0) {
		out->have_plan = true;
		exec_compare(h, &out->plan);
	}
out:
	free(stored);
	obs_release(&obs);
	plan_args_release(&args);
}

size_t apply_recover(struct hist *h, const char *state_dir, char **report)
{
	struct bg_strv open;
	struct bg_buf b = BG_BUF_INIT;
	bg_strv_init(&open);
	*report = NULL;
	if (hist_applies_open(h, &open) != 0) {
		return 0;
	}
	for (size_t i = 0; i < open.n; i++) {
		hist_apply_interrupted(h, open.v[i]);
		clog_append(state_dir, "apply %s was interrupted (its process died): the next "
				"plan shows what remains", open.v[i]);
		bg_buf_addf(&b, "apply %s was interrupted before it finished (crash or kill); "
				"the live colour is what the edge files say, and `bluegreen plan` "
				"shows what remains\n", open.v[i]);
	}
	size_t n = open.n;
	bg_strv_release(&open);
	if (n) {
		*report = bg_buf_detach(&b, NULL);
	} else {
		bg_buf_release(&b);
	}
	return n;
}
