/*
 * rec-exec: the executor (see rec.h). One generic loop over a verified
 * plan: in phase order, each step is journaled as started, written to the
 * convergence log, announced, applied by its reconciler, then journaled
 * ok (with its reconciler's `after`) or failed (with its `failed`), and
 * the first failure stops the run. What is special about a kind (a pull
 * refreshes the image, a failed gate stops its candidate, a switch is
 * journaled) lives in that kind's hooks, not here. A test hook
 * (BLUEGREEN_FAULT, docs/testing.md), compiled in only by
 * -Dfault_injection=true, kills the process around a chosen step to prove
 * crash safety.
 */
#include "bg.h"
#include "bg-log.h"
#include "rec.h"
#include "clog.h"
#include "hist-batch.h"
#include "rec-batch.h"

#include <signal.h>

static _Thread_local struct rec_batch *batch_cur;

void rec_batch_open(struct rec_batch *b, struct hist *h)
{
	memset(b, 0, sizeof(*b));
	b->h = h;
	batch_cur = b;
}

struct rec_batch *rec_batch_current(void)
{
	return batch_cur;
}

static void batch_entry_free(struct hist_entry *e)
{
	free(e->actor);
	free(e->action);
	free(e->site);
	free(e->token);
	free(e->result);
	free(e->details);
}

int rec_batch_flush(struct rec_batch *b)
{
	if (b && b->first) {
		int (*first)(struct rec_batch *, void *) = b->first;
		b->first = NULL;
		int ferr = first(b, b->first_arg);
		for (size_t i = 0; i < b->n; i++) {
			batch_entry_free(&b->v[i]);
		}
		b->n = 0;
		return ferr;
	}
	if (!b || !b->n) {
		return 0;
	}
	int err = hist_append_all(b->h, b->v, b->n);
	if (err) {
		bg_log(BG_LOG_ERROR, "could not journal %zu entr%s of this apply: %s", b->n,
				b->n == 1 ? "y" : "ies", bg_strerror(err));
	}
	for (size_t i = 0; i < b->n; i++) {
		batch_entry_free(&b->v[i]);
	}
	b->n = 0;
	return 0;
}

void rec_batch_close(struct rec_batch *b)
{
	if (batch_cur == b) {
		batch_cur = NULL;
	}
}

void rec_batch_release(struct rec_batch *b)
{
	if (!b) {
		return;
	}
	rec_batch_close(b);
	for (size_t i = 0; i < b->n; i++) {
		batch_entry_free(&b->v[i]);
	}
	free(b->v);
	memset(b, 0, sizeof(*b));
}

/* Keep e (its strings copied, its time now) in the open batch of h; false: none open. */
static bool batch_keep(struct hist *h, const struct hist_entry *e)
{
	struct rec_batch *b = batch_cur;
	if (!b || b->h != h || !h) {
		return false;
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->v = bg_xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	b->v[b->n++] = (struct hist_entry){
		.time_ms = bg_now_ms(),
		.actor = bg_xstrdup(e->actor),
		.action = bg_xstrdup(e->action),
		.site = bg_xstrdup(e->site),
		.token = bg_xstrdup(e->token),
		.result = bg_xstrdup(e->result),
		.details = bg_xstrdup(e->details),
	};
	return true;
}

static void journal_va(struct hist *h, const char *actor, const char *action, const char *site,
		const char *token, const char *result, const char *fmt, va_list ap)
	BG_PRINTF(7, 0);

static void journal_va(struct hist *h, const char *actor, const char *action, const char *site,
		const char *token, const char *result, const char *fmt, va_list ap)
{
	char *details = fmt ? bg_xvasprintf(fmt, ap) : NULL;
	struct hist_entry e = {
		.actor = (char *)actor,
		.action = (char *)action,
		.site = (char *)site,
		.token = (char *)token,
		.result = (char *)result,
		.details = details,
	};
	if (batch_keep(h, &e)) {
		free(details);
		return;
	}
	int err = hist_append(h, &e, NULL);
	if (err) {
		/* The step already happened; say so loudly rather than hide it. */
		bg_log(BG_LOG_ERROR, "could not journal %s %s: %s", action, result, bg_strerror(err));
	}
	free(details);
}

void rec_journal_append(struct hist *h, const char *actor, const char *action,
		const char *site, const char *token, const char *result, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	journal_va(h, actor, action, site, token, result, fmt, ap);
	va_end(ap);
}

void rec_journal(struct rec_apply_ctx *ctx, const char *action, const char *site,
		const char *result, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	journal_va(ctx->hist, ctx->actor, action, site, ctx->token, result, fmt, ap);
	va_end(ap);
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

/* Progress from inside a step goes to the caller and to the convergence log. */
struct step_progress {
	const struct rec_exec_opts *o;
	const char *state_dir;
	const char *token;
};

static void step_progress_cb(void *arg, const char *line, unsigned flags)
{
	struct step_progress *sp = arg;
	if (!(flags & (REC_PROGRESS_TRANSIENT | REC_PROGRESS_SECRET))) {
		clog_append(sp->state_dir, "apply %s %s", sp->token, line);
	}
	if (sp->o->progress) {
		sp->o->progress(sp->o->progress_arg, line, flags);
	}
}

/* The executor's own step line goes to the caller only (the log has its own). */
static void step_announce(const struct rec_exec_opts *o, size_t i, size_t n,
		const struct plan_action *a)
{
	if (!o->progress) {
		return;
	}
	char *line = bg_xasprintf("[%zu/%zu] %s %s %s", i + 1, n, plan_op_name(a->op),
			plan_kind_name(a->kind), a->name);
	o->progress(o->progress_arg, line, false);
	free(line);
}

/*
 * A plan made with --retry SITE deploys a rolled-back revision again: once
 * its first step succeeded, the mark is cleared (and journaled), so later
 * plans, the daemon's included, carry on with it without --retry.
 */
static void retry_clear(struct rec_apply_ctx *ctx, const struct plan_action *a)
{
	if (!a->site || !bg_strv_contains(&ctx->plan->args.retry, a->site)) {
		return;
	}
	const struct des_site *s = des_site_find(ctx->des, a->site);
	if (!s || !s->rejected || (a->spec && strcmp(a->spec, s->spec) != 0)) {
		return;
	}
	if (hist_rejected_clear(ctx->hist, s->name, s->spec) == 0) {
		((struct des_site *)s)->rejected = false;
		rec_journal(ctx, "retry", s->name, "ok", "v%u was rolled back before; deployed "
				"again on request (plan --retry): no longer rejected", s->version);
	}
}

/* The hooks of a step's reconciler (NULL: nothing to do). */
static int step_after(struct rec_apply_ctx *ctx, const struct rec_impl *impl,
		const struct plan_action *a, struct bg_diag *d)
{
	return impl->after ? impl->after(ctx, a, d) : 0;
}

static void step_failed_hook(struct rec_apply_ctx *ctx, const struct rec_impl *impl,
		const struct plan_action *a, int err)
{
	if (impl->failed) {
		impl->failed(ctx, a, err);
	}
}

/* Journal and log a failed step, run its `failed` hook and say what failed. */
static void step_failed(struct rec_apply_ctx *ctx, const struct rec_impl *impl, size_t i,
		int err, struct bg_diag *sd, char **message, struct bg_diag *d)
{
	const struct plan *p = ctx->plan;
	const struct plan_action *a = &p->actions[ctx->step];
	size_t n = p->n_actions;
	char *msg = NULL;

	if (sd->n) {
		int len = bg_diag_item_format(&sd->items[0], NULL, 0);
		msg = bg_xmalloc((size_t)len + 1);
		bg_diag_item_format(&sd->items[0], msg, (size_t)len + 1);
	}
	rec_journal(ctx, "step", a->site, "failed", "%zu/%zu %s %s %s: %s", i + 1, n,
			plan_op_name(a->op), plan_kind_name(a->kind), a->name,
			msg ? msg : bg_strerror(err));
	clog_append(ctx->cfg->g.state_dir, "apply %s [%zu/%zu] %s %s %s: FAILED: %s", ctx->token,
			i + 1, n, plan_op_name(a->op), plan_kind_name(a->kind), a->name,
			msg ? msg : bg_strerror(err));
	free(msg);
	bg_diag_merge(d, sd);
	step_failed_hook(ctx, impl, a, err);
	free(*message);
	if (ctx->switched.n) {
		/* Honest about what did change before the failure. */
		struct bg_buf b = BG_BUF_INIT;
		for (size_t j = 0; j < ctx->switched.n; j++) {
			bg_buf_addf(&b, "%s%s", j ? ", " : "", ctx->switched.v[j]);
		}
		*message = bg_xasprintf("step %zu/%zu failed (%s %s %s) after the live colour "
				"of %s had already been switched (that part succeeded; the next "
				"plan finishes the rest)", i + 1, n, plan_op_name(a->op),
				plan_kind_name(a->kind), a->name, b.data);
		bg_buf_release(&b);
	} else {
		*message = bg_xasprintf("step %zu/%zu failed (%s %s %s)", i + 1, n,
				plan_op_name(a->op), plan_kind_name(a->kind), a->name);
	}
}

/* Step i (0-based, in execution order) of the run; ctx->step is its plan index. */
static int step_run(const struct rec_exec_opts *o, struct rec_apply_ctx *ctx, size_t i,
		char **message, struct bg_diag *d)
{
	const struct plan_action *a = &ctx->plan->actions[ctx->step];
	const struct rec_impl *impl = rec_for_kind(a->kind);
	const char *state_dir = ctx->cfg->g.state_dir;
	size_t n = ctx->plan->n_actions;
	struct bg_diag sd;
	int64_t t0 = bg_mono_ms();
	int err;

	if (o->cancel && atomic_load(o->cancel)) {
		bg_diag_error(d, NULL, "cancelled by a signal before step %zu/%zu", i + 1, n);
		return BG_ECANCELLED;
	}
	fault_point("kill-before", i + 1);
	rec_journal(ctx, "step", a->site, "started", "%zu/%zu %s %s %s: %s", i + 1, n,
			plan_op_name(a->op), plan_kind_name(a->kind), a->name, a->reason);
	/* The intent (with what the step before held back, or with the apply's
	 * start for the first step) is on disk before the step runs. */
	err = rec_batch_flush(rec_batch_current());
	if (err) {
		return err; /* the start could not be recorded: its caller says why */
	}
	clog_append(state_dir, "apply %s [%zu/%zu] %s %s %s ...", ctx->token, i + 1, n,
			plan_op_name(a->op), plan_kind_name(a->kind), a->name);
	step_announce(o, i, n, a);
	fault_point("kill-during", i + 1);
	bg_diag_init(&sd);
	err = impl->apply(ctx, a, &sd);
	int64_t ms = bg_mono_ms() - t0;
	if (err) {
		step_failed(ctx, impl, i, err, &sd, message, d);
		bg_diag_release(&sd);
		return err;
	}
	bg_diag_release(&sd);
	retry_clear(ctx, a);
	rec_journal(ctx, "step", a->site, "ok", "%zu/%zu %s %s %s (%" PRId64 "ms)", i + 1, n,
			plan_op_name(a->op), plan_kind_name(a->kind), a->name, ms);
	clog_append(state_dir, "apply %s [%zu/%zu] %s %s %s: ok (%" PRId64 "ms)", ctx->token,
			i + 1, n, plan_op_name(a->op), plan_kind_name(a->kind), a->name, ms);
	/*
	 * The step happened and is journaled: a failing hook (bookkeeping only)
	 * is logged, and neither undoes the step nor stops the run.
	 */
	bg_diag_init(&sd);
	if (step_after(ctx, impl, a, &sd) != 0) {
		bg_log(BG_LOG_ERROR, "step %zu/%zu %s %s %s: %s", i + 1, n, plan_op_name(a->op),
				plan_kind_name(a->kind), a->name,
				sd.n ? sd.items[0].msg : "its follow-up failed");
	}
	bg_diag_release(&sd);
	fault_point("kill-after", i + 1);
	return 0;
}

int rec_exec_run(const struct rec_exec_opts *o, const struct cfg *cfg, struct rt *rt,
		struct hist *h, const struct plan *p, struct obs *obs, char **message,
		struct bg_diag *d)
{
	struct desired des;
	struct step_progress sp = {.o = o, .state_dir = cfg->g.state_dir, .token = p->token};
	size_t n = p->n_actions, k = 0;
	int err = des_build_args(&des, cfg, obs, &p->args, d);

	if (err) {
		return err;
	}
	struct rec_apply_ctx ctx = {
		.cfg = cfg, .des = &des, .obs = obs, .rt = rt, .hist = h, .token = p->token,
		.actor = o->actor, .progress = step_progress_cb, .progress_arg = &sp,
		.cancel = o->cancel, .plan = p,
	};
	bg_strv_init(&ctx.ports);
	bg_strv_init(&ctx.switched);
	bg_strv_init(&ctx.not_done);
	/* Execution order: by phase, plan order within a phase (see plan.h). */
	size_t *order = bg_xcalloc(n ? n : 1, sizeof(*order));
	for (unsigned ph = PLAN_PHASE_BUILD; ph <= PLAN_PHASE_RETIRE; ph++) {
		for (size_t j = 0; j < n; j++) {
			if (p->actions[j].phase == ph) {
				order[k++] = j;
			}
		}
	}
	for (size_t i = 0; i < n && !err; i++) {
		ctx.step = order[i];
		err = step_run(o, &ctx, i, message, d);
	}
	if (!err && ctx.not_done.n) {
		/* Every other step ran: say what did not, and fail the apply (exit 5). */
		struct bg_buf b = BG_BUF_INIT;
		for (size_t i = 0; i < ctx.not_done.n; i++) {
			bg_buf_addf(&b, "%s%s", i ? ", " : "", ctx.not_done.v[i]);
		}
		free(*message);
		*message = bg_xasprintf("every other step was done; not done: %s (see above)",
				b.data);
		bg_buf_release(&b);
		err = BG_EPARTIAL;
	}
	bg_strv_release(&ctx.not_done);
	bg_strv_release(&ctx.switched);
	bg_strv_release(&ctx.ports);
	free(order);
	des_release(ctx.des);
	return err;
}

/* Issue 16: to the waiting operator only (step_progress_cb skips the log). */
void rec_progress_secret(struct rec_apply_ctx *ctx, const char *line)
{
	if (ctx->progress) {
		ctx->progress(ctx->progress_arg, line, REC_PROGRESS_SECRET);
	}
}
