/*
 * watch-int.h: what the daemon's files (watch, approve, queue, snap, job)
 * share and nobody else uses: the daemon's output, every line of which
 * goes through its struct watch_printer (watch.h), and a few string-list
 * helpers. Implemented in watch-out.c.
 */
#ifndef BG_CONTROLLER_DAEMON_WATCH_INT_H
#define BG_CONTROLLER_DAEMON_WATCH_INT_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"
#include "watch.h"

struct cfg;
struct hist;
struct plan;

/* "watch: ..." on pr->out, flushed: what the daemon did. */
void watch__note(const struct watch_printer *pr, const char *fmt, ...) BG_PRINTF(2, 3);
/* "watch: LEVEL: ..." on pr->err, after flushing pr->out: what went wrong. */
void watch__complain(const struct watch_printer *pr, const char *level, const char *fmt, ...)
	BG_PRINTF(3, 4);
/* Diagnostics through pr->diag, both streams flushed around them. */
void watch__diag(const struct watch_printer *pr, const struct bg_diag *d);
/* Diagnostics as text, one formatted item a line (a new string). */
char *watch__diag_text(const struct bg_diag *d);
/* "a, b, c and 4 more" (a new string). */
char *watch__join_some(const struct bg_strv *v, size_t shown, const char *sep);
void watch__strv_remove(struct bg_strv *v, const char *s);
void watch__strv_add_unique(struct bg_strv *v, const char *s);
/*
 * Journal a printed plan (action "plan" or "drift", why on the first line
 * of its details) and store its arguments so `apply TOKEN` can rebuild it.
 * A history that cannot be written is a warning on pr: the plan stays
 * valid.
 */
void watch__journal_plan(struct hist *h, const struct watch_printer *pr,
		const struct plan *p, const char *action, const char *why);

/*
 * Print a new plan p of cfg, built for why (a "=== plan" header, the plan
 * through pr->plan, how to approve it from dir), and journal it, as
 * "drift" when only drift explains it.
 */
void watch__plan_show(const struct watch_printer *pr, const struct cfg *cfg, struct hist *h,
		const char *dir, struct plan *p, const char *why, bool drift);

/*
 * An event of a runtime whose rule says relist (rt.h, issue 17: a Swarm):
 * container, service and node events re-list the containers (need_full)
 * and, unless ours, add their drift reason. Returns false, doing nothing,
 * when rule is NULL or the event is another kind (watch-relist.c).
 */
struct rt_watch_rule;
struct snap;
struct dk_event;
bool watch__relist_event(struct snap *s, const struct rt_watch_rule *rule,
		const struct dk_event *e, bool ours);

#endif /* BG_CONTROLLER_DAEMON_WATCH_INT_H */
