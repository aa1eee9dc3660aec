/*
 * apply: see apply.h. The order of checks matters and is deliberate:
 * install_mode (exit 4) before anything is observed; a used token (exit
 * 3) before the plan is compared, so a replay says "already used" rather
 * than "stale"; the constant-time token comparison; the confirm phrases
 * (exit 4); and only then the atomic "mark used", after which the run is
 * journaled as begun and the steps are executed by rec_exec_run (rec.h,
 * which also holds the BLUEGREEN_FAULT kill points of test builds). Each
 * stage is one function: refuse_early, plan_now, token_check, converge
 * and record.
 */
#include "bg.h"
#include "bg-log.h"
#include "apply.h"
#include "hist-batch.h"
#include "clog.h"
#include "hist-confirm.h"
#include "rec-batch.h"
#include "apply-release.h"

#include <ctype.h>

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

/* What each site's edge file says is live now ("nothing": none), read
 * once for all sites. */
static void live_summary(const struct cfg *cfg, const struct plan *p, struct bg_buf *b)
{
	struct obs o;

	obs_init(&o);
	bool read = rec_edge_read(cfg, &o) == 0;
	for (size_t i = 0; i < p->n_sites; i++) {
		const struct obs_edge *e = read ? obs_edge_find(&o, p->sites[i].site) : NULL;
		bg_buf_addf(b, "%s%s: %s", i ? ", " : "", p->sites[i].site,
				e && e->live ? e->live : "nothing");
	}
	obs_release(&o);
}

static bool confirms_ok(const struct cfg *cfg, struct hist *h, const struct plan *p,
		const struct bg_strv *given, const char **missing)
{
	for (size_t i = 0; i < p->n_sites; i++) {
		if (!p->sites[i].needs_confirm) {
			continue;
		}
		const struct cfg_site *cs = cfg_site_find(cfg, p->sites[i].site);
		bool found = false;
		for (size_t k = 0; given && k < given->n; k++) {
			/* No early exit: every phrase is compared in constant time. A
			 * removed site (no file) is checked against the phrase its file
			 * had, kept hashed in the history; an error counts as wrong. */
			bool ok = false;
			if (cs) {
				ok = bg_ct_streq(given->v[k], cs->confirm);
			} else if (hist_confirm_check(h, p->sites[i].site, given->v[k], &ok)) {
				ok = false;
			}
			found |= ok;
		}
		if (!found) {
			*missing = p->sites[i].site;
			return false;
		}
	}
	return true;
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

/* Would exec_record write anything? */
static bool exec_any_changed(const struct plan *p)
{
	for (size_t i = 0; i < p->n_exec; i++) {
		if (p->exec[i].state != PLAN_EXEC_SAME) {
			return true;
		}
	}
	return false;
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
		rec_journal_append(h, actor, "settings", NULL, token, first ? "recorded" : "changed",
				"execution settings %s: %s", first ? "of this installation"
				: "changed since the last apply", b.data);
		free(json);
	}
	bg_buf_release(&b);
}

char *apply_mode_refusal(const char *dir)
{
	return bg_xasprintf("install_mode is not set in %s%sglobal.conf (production, staging or "
			"development): bluegreen does not guess where it runs", dir ? dir : "",
			dir ? "/" : "");
}

/* What apply_run carries from one stage to the next. */
struct run {
	const struct cfg *cfg;
	struct rt *rt;
	struct hist *h;
	const struct apply_opts *opts;
	struct apply_outcome *out;
	struct bg_diag *d;
	struct plan_args args; /* what the plan is made with: the stored plan's, or rollback */
	struct obs obs;
	char *stored;          /* the plan printed with the token, if this history has it */
	bool use_at_begin;     /* the token is marked used with the apply's start (one commit) */
	struct rec_batch batch; /* the run's held-back journal entries (rec-batch.h) */
	bool begun;            /* the apply's start is committed */
	int begin_err;         /* why it could not be (the run stopped before its first step) */
};

enum early { EARLY_GO, EARLY_STOP, EARLY_REPLAN };

/*
 * The refusals that need no observation: install_mode (exit 4, and the
 * only check on the rollback path), a malformed token, a used token (exit
 * 3: then the current plan is shown). Also loads the args the token's plan
 * was printed with.
 */
static enum early refuse_early(struct run *r)
{
	const char *token = r->opts->token;
	const char *actor = r->opts->actor;

	if (r->cfg->g.install_mode == CFG_MODE_UNSET) {
		char *why = apply_mode_refusal(NULL);
		outcome(r->out, BG_EXIT_REFUSED, "refused: %s", why);
		free(why);
		rec_journal_append(r->h, actor, "apply", NULL,
				apply_token_valid(token) ? token : NULL, "refused", "install_mode missing");
		return EARLY_STOP;
	}
	if (r->opts->rollback_site) {
		r->args.kind = PLAN_ROLLBACK;
		bg_strv_push(&r->args.sites, r->opts->rollback_site);
		return EARLY_GO;
	}
	if (!apply_token_valid(token)) {
		outcome(r->out, BG_EXIT_TOKEN, "'%s' is not a plan token (%d lowercase hex "
				"characters, as printed by `bluegreen plan`)", token ? token : "",
				PLAN_TOKEN_LEN);
		return EARLY_STOP;
	}
	if (hist_token_used(r->h, token)) {
		outcome(r->out, BG_EXIT_TOKEN, "token %s was already used: a plan is applied "
				"at most once; here is the current plan", token);
		rec_journal_append(r->h, actor, "apply", NULL, token, "refused", "token already used");
		return EARLY_REPLAN;
	}
	if (hist_plan_get(r->h, token, &r->stored) == 0) {
		if (plan_args_from_json(&r->args, r->stored) != 0) {
			plan_args_release(&r->args);
			plan_args_init(&r->args);
		}
	}
	return EARLY_GO;
}

/* The current plan: the secrets key, a fresh observation, the plan itself. */
static bool plan_now(struct run *r)
{
	struct apply_outcome *out = r->out;
	/* The key of io.bluegreen.secrets: made on the first apply that needs one. */
	int err = des_secrets_create(r->cfg->g.state_dir);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot read or create %s/%s: %s", r->cfg->g.state_dir,
				DES_SECRETS_KEY_FILE, bg_strerror(err));
		return false;
	}
	unsigned flags = 0;
	if (r->opts->known) {
		/* The containers the daemon's events keep; everything else is read now. */
		obs_release(&r->obs);
		r->obs = *r->opts->known;
		obs_init(r->opts->known);
		flags = REC_OBSERVE_NO_CONTAINERS;
	}
	bg_trace(APPLY, "observe: containers %s", flags ? "from the daemon's snapshot, not listed"
			: "listed");
	err = rec_observe(r->rt, r->cfg, r->h, &r->obs, flags, r->d);
	bg_trace(APPLY, "observed: %zu containers; plan next", r->obs.n_containers);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot observe the current state: %s",
				bg_strerror(err));
		return false;
	}
	err = rec_plan_build(&out->plan, r->cfg, &r->obs, &r->args, r->d);
	if (err) {
		outcome(out, BG_EXIT_ERROR, "cannot plan: %s", bg_strerror(err));
		return false;
	}
	out->have_plan = true;
	exec_compare(r->h, &out->plan);
	return true;
}

/*
 * Is the current plan the one the token was printed for (compared in
 * constant time), and are the confirm phrases given? Then the token is
 * marked used, atomically (a concurrent apply loses), and the execution
 * settings are recorded. false: refused, or nothing to do (*out says).
 */
static bool token_check(struct run *r)
{
	struct apply_outcome *out = r->out;
	const char *actor = r->opts->actor;
	const char *token = r->opts->rollback_site ? out->plan.token : r->opts->token;
	const char *missing = NULL;

	if (r->opts->rollback_site) {
		const struct plan_site *ps = plan_site_find(&out->plan, r->opts->rollback_site);
		if (ps && ps->blocked) {
			outcome(out, BG_EXIT_FAILED, "cannot roll back %s: %s", ps->site, ps->blocked);
			rec_journal_append(r->h, actor, "rollback", ps->site, token, "refused", "%s",
					ps->blocked);
			return false;
		}
	} else if (!bg_ct_streq(token, out->plan.token)) {
		if (r->stored) {
			outcome(out, BG_EXIT_TOKEN, "token %s is stale: something changed since that "
					"plan was printed (configuration, containers or edge files); here "
					"is the current plan, token %s", token, out->plan.token);
			rec_journal_append(r->h, actor, "apply", NULL, token, "refused",
					"stale token; current plan %s", out->plan.token);
		} else {
			outcome(out, BG_EXIT_TOKEN, "token %s is unknown: no plan printed here had "
					"it, and it does not match the current plan (token %s)", token,
					out->plan.token);
			rec_journal_append(r->h, actor, "apply", NULL, token, "refused", "unknown token");
		}
		return false;
	}
	if (!r->opts->rollback_site &&
			!confirms_ok(r->cfg, r->h, &out->plan, r->opts->confirms, &missing)) {
		outcome(out, BG_EXIT_REFUSED, "refused: site '%s' requires its confirm phrase in "
				"install_mode production: add --confirm \"<phrase from its site file>\"",
				missing);
		rec_journal_append(r->h, actor, "apply", missing, token, "refused",
				"confirm phrase missing or wrong");
		return false;
	}
	if (plan_changes(&out->plan) && !exec_any_changed(&out->plan)) {
		/* Nothing to journal between the use and the start: one commit (converge). */
		r->use_at_begin = true;
		return true;
	}
	int err = hist_token_use(r->h, token);
	if (err) {
		outcome(out, BG_EXIT_TOKEN, err == BG_ETOKEN_USED
				? "token %s was already used (by a concurrent apply)"
				: "cannot record the use of token %s", token);
		return false;
	}
	exec_record(r->h, token, &out->plan, actor);
	if (plan_changes(&out->plan) == 0) {
		outcome(out, BG_EXIT_OK, "nothing to do: everything matches the configuration");
		rec_journal_append(r->h, actor, "apply", NULL, token, "ok", "nothing to do");
		return false;
	}
	return true;
}

/* How a run that started ended: the outcome, the end mark, the journal, the log. */
static void record(struct run *r, int err)
{
	struct apply_outcome *out = r->out;
	const struct apply_opts *opts = r->opts;
	const char *token = out->plan.token;
	struct bg_buf live = BG_BUF_INIT;
	const char *what = !err ? "ok" : err == BG_ECANCELLED ? "cancelled" : "failed";

	live_summary(r->cfg, &out->plan, &live);
	if (err) {
		char *why = out->message ? out->message : bg_xstrdup(bg_strerror(err));
		out->message = NULL;
		outcome(out, BG_EXIT_FAILED, "apply %s %s: %s; live now: %s", token, what, why,
				live.data);
		free(why);
	} else {
		outcome(out, BG_EXIT_OK, "applied %s: %zu step%s; live now: %s", token,
				plan_changes(&out->plan), plan_changes(&out->plan) == 1 ? "" : "s",
				live.data);
	}
	/* The end mark and the outcome entry in one commit (hist-batch.h): one
	 * fdatasync fewer before the command returns. */
	struct hist_entry fin = {
		.actor = (char *)opts->actor,
		.action = !err && opts->rollback_site ? "rollback" : "apply",
		.site = (char *)opts->rollback_site,
		.token = (char *)token,
		.result = (char *)what,
		.details = out->message,
	};
	rec_batch_close(&r->batch);
	int herr = hist_apply_end_after(r->h, r->batch.v, r->batch.n, token, what, opts->actor,
			&fin);
	if (herr && r->batch.n) {
		/* One held-back entry refused must not cost the end mark: one by one. */
		for (size_t i = 0; i < r->batch.n; i++) {
			if (hist_append(r->h, &r->batch.v[i], NULL) != 0) {
				bg_log(BG_LOG_ERROR, "could not journal %s %s of apply %s",
						r->batch.v[i].action, r->batch.v[i].result, token);
			}
		}
		herr = hist_apply_end_with(r->h, token, what, opts->actor, &fin);
	}
	if (herr) {
		bg_log(BG_LOG_ERROR, "could not journal the end of apply %s", token);
	}
	clog_append(r->cfg->g.state_dir, "%s", out->message);
	/* Issue 14: alert a failed gate or backup; attest in staging. */
	apply_release_after(r->cfg, r->rt, &out->plan, &r->obs, err, out->message);
	bg_buf_release(&live);
}

/*
 * The apply's start (and the in-progress mark), with what b holds (the
 * first step's intent) in the same commit. When that fails for another
 * reason than a used token, the start alone, then the entries one by one:
 * an entry refused must not stop the apply.
 */
static int begin(struct rec_batch *b, void *arg)
{
	struct run *r = arg;
	const char *token = r->out->plan.token;
	const char *actor = r->opts->actor;
	int err = hist_apply_begin_then(r->h, token, actor, r->use_at_begin, b->v, b->n);
	if (err && err != BG_ETOKEN_USED && b->n) {
		err = r->use_at_begin ? hist_apply_begin_used(r->h, token, actor)
				: hist_apply_begin_as(r->h, token, actor, NULL);
		for (size_t i = 0; !err && i < b->n; i++) {
			if (hist_append(r->h, &b->v[i], NULL) != 0) {
				bg_log(BG_LOG_ERROR, "could not journal %s %s of apply %s",
						b->v[i].action, b->v[i].result, token);
			}
		}
	}
	if (err == BG_ETOKEN_USED && r->use_at_begin) {
		outcome(r->out, BG_EXIT_TOKEN, "token %s was already used (by a concurrent "
				"apply)", token);
	} else if (err) {
		outcome(r->out, BG_EXIT_ERROR, "cannot journal the start of apply %s: %s; "
				"nothing was changed", token, bg_strerror(err));
	}
	r->begun = !err;
	r->begin_err = err;
	if (!err) {
		clog_append(r->cfg->g.state_dir, "%s %s started by %s: %zu step%s",
				r->opts->rollback_site ? "rollback" : "apply", token,
				actor ? actor : bg_actor(), plan_changes(&r->out->plan),
				plan_changes(&r->out->plan) == 1 ? "" : "s");
	}
	return err;
}

/*
 * Journal the intent, run the steps (rec_exec_run), record how it ended.
 * The intent is journaled (and the in-progress mark set) before the first
 * step, in the commit of that step's own intent (issue 11: one commit
 * fewer); if it cannot be recorded, nothing is done: a crash later would
 * leave no trace to recover from.
 */
static void converge(struct run *r)
{
	const struct apply_opts *opts = r->opts;
	struct apply_outcome *out = r->out;
	struct rec_exec_opts eo = {
		.actor = opts->actor, .progress = opts->progress,
		.progress_arg = opts->progress_arg, .cancel = opts->cancel,
	};
	/* Step results are held back and committed with the next intent or the end. */
	rec_batch_open(&r->batch, r->h);
	r->batch.first = begin;
	r->batch.first_arg = r;
	int err = rec_exec_run(&eo, r->cfg, r->rt, r->h, &out->plan, &r->obs, &out->message,
			r->d);
	if (!r->begun && !r->begin_err) {
		/* Stopped before its first step (cancelled, refused): the start
		 * still goes before the end, so that the journal pairs them. */
		(void)rec_batch_flush(&r->batch);
	}
	if (r->begun) {
		record(r, err);
	}
	rec_batch_release(&r->batch);
}

void apply_run(const struct cfg *cfg, struct rt *rt, struct hist *h,
		const struct apply_opts *opts, struct apply_outcome *out, struct bg_diag *d)
{
	struct run r = {.cfg = cfg, .rt = rt, .h = h, .opts = opts, .out = out, .d = d};

	plan_args_init(&r.args);
	obs_init(&r.obs);
	switch (refuse_early(&r)) {
	case EARLY_GO:
		if (plan_now(&r) && token_check(&r)) {
			converge(&r);
		}
		break;
	case EARLY_REPLAN:
		/* Show the current plan after a refusal; failures here are only lost detail. */
		if (rec_observe(rt, cfg, h, &r.obs, 0, d) == 0 &&
				rec_plan_build(&out->plan, cfg, &r.obs, &r.args, d) == 0) {
			out->have_plan = true;
			exec_compare(h, &out->plan);
		}
		break;
	case EARLY_STOP:
		break;
	}
	free(r.stored);
	obs_release(&r.obs);
	plan_args_release(&r.args);
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
