/*
 * watch-out: the daemon's output (watch-int.h). Every line the daemon
 * prints goes through its struct watch_printer, so the daemon never needs
 * the CLI's printing functions: cmd-watch.c lends them. Notes go to out,
 * problems to err, each flushed at once (journald and a terminal see them
 * in order, and a crash loses none).
 */
#include "bg.h"
#include "bg-buf.h"
#include "cfgwatch.h"
#include "hist.h"
#include "plan.h"
#include "watch-int.h"

void watch__note(const struct watch_printer *pr, const char *fmt, ...)
{
	va_list ap;
	fputs("watch: ", pr->out);
	va_start(ap, fmt);
	vfprintf(pr->out, fmt, ap);
	va_end(ap);
	fputc('\n', pr->out);
	fflush(pr->out);
}

void watch__complain(const struct watch_printer *pr, const char *level, const char *fmt, ...)
{
	va_list ap;
	fflush(pr->out);
	fprintf(pr->err, "watch: %s: ", level);
	va_start(ap, fmt);
	vfprintf(pr->err, fmt, ap);
	va_end(ap);
	fputc('\n', pr->err);
	fflush(pr->err);
}

void watch__diag(const struct watch_printer *pr, const struct bg_diag *d)
{
	fflush(pr->out);
	pr->diag(pr->arg, d);
	fflush(pr->err);
}

char *watch__diag_text(const struct bg_diag *d)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < d->n; i++) {
		int n = bg_diag_item_format(&d->items[i], NULL, 0);
		char *line = bg_xmalloc((size_t)n + 1);
		bg_diag_item_format(&d->items[i], line, (size_t)n + 1);
		bg_buf_addf(&b, "%s\n", line);
		free(line);
	}
	return bg_buf_detach(&b, NULL);
}

char *watch__join_some(const struct bg_strv *v, size_t shown, const char *sep)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < v->n && i < shown; i++) {
		bg_buf_addf(&b, "%s%s", i ? sep : "", v->v[i]);
	}
	if (v->n > shown) {
		bg_buf_addf(&b, " and %zu more", v->n - shown);
	}
	return bg_buf_detach(&b, NULL);
}

void watch__strv_remove(struct bg_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->v[i], s) == 0) {
			free(v->v[i]);
			memmove(&v->v[i], &v->v[i + 1], (v->n - i) * sizeof(v->v[0]));
			v->n--;
			return;
		}
	}
}

void watch__strv_add_unique(struct bg_strv *v, const char *s)
{
	if (!bg_strv_contains(v, s)) {
		bg_strv_push(v, s);
	}
}

/* ---- the journal of printed plans ---- */

void watch__journal_plan(struct hist *h, const struct watch_printer *pr,
		const struct plan *p, const char *action, const char *why)
{
	struct bg_buf sum = BG_BUF_INIT;
	char *args = plan_args_to_json(&p->args);
	plan_render_summary(p, &sum);
	char *details = why ? bg_xasprintf("why: %s\n%s", why, sum.data) : bg_xstrdup(sum.data);
	struct hist_entry e = {
		.action = (char *)action,
		.token = (char *)p->token,
		.result = plan_changes(p) ? "pending" : "nothing-to-do",
		.details = details,
		.site = p->args.sites.n == 1 ? p->args.sites.v[0] : NULL,
	};
	int err = hist_plan_store(h, p->token, args, sum.data);
	if (!err) {
		err = hist_append(h, &e, NULL);
	}
	if (err) {
		watch__complain(pr, "warning", "plan %s was not journaled (%s): it can still be applied",
				p->token, bg_strerror(err));
	}
	free(details);
	free(args);
	bg_buf_release(&sum);
}

void watch__plan_show(const struct watch_printer *pr, const struct cfg *cfg, struct hist *h,
		const char *dir, struct plan *p, const char *why, bool drift)
{
	char ts[32];
	bg_time_format_utc(bg_now_ms(), ts);
	fprintf(pr->out, "\n=== plan %s at %s\nwhy: %s\n", p->token, ts, why);
	pr->plan(pr->arg, cfg, h, p);
	if (plan_changes(p) > 0) {
		fprintf(pr->out, "  or approve it: echo %s >> %s/%s\n", p->token, dir,
				CFGW_APPROVE_NAME);
	}
	fflush(pr->out);
	watch__journal_plan(h, pr, p, drift ? "drift" : "plan", why);
}
