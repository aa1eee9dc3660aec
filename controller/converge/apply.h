/*
 * apply: converge exactly one plan. The same code path serves
 * `bluegreen apply TOKEN`, `rollback SITE --yes`, the approval file and
 * tokens handed to the daemon: re-observe, rebuild the plan the token was
 * printed for, compare the tokens in constant time, check the confirm
 * phrases, mark the token used, then run the steps in order with intent
 * journaled before each step and its result after. A failed step stops
 * the run; nothing before the switch touches the live colour, so a
 * failure before it leaves the live colour serving (exit 5).
 *
 * The caller holds the state lock (lock.h) and an open history.
 */
#ifndef BG_CONTROLLER_APPLY_H
#define BG_CONTROLLER_APPLY_H

#include "bg.h"
#include "cfg.h"
#include "hist.h"
#include "plan.h"
#include "rec.h"
#include "rt.h"

#include <stdatomic.h>

struct apply_opts {
	const char *token;         /* the token to apply; NULL with rollback_site */
	const char *rollback_site; /* rollback --yes: plan and apply this site's rollback now */
	const struct bg_strv *confirms; /* --confirm phrases given (may be NULL) */
	/*
	 * user@host the journal names for this apply; NULL: ours (bg_actor(),
	 * with our $SUDO_USER claim beside it). The watch daemon passes the
	 * user of its control-socket client's uid (SO_PEERCRED), with no claim.
	 */
	const char *actor;
	rec_progress_cb progress;  /* step lines and transient status */
	void *progress_arg;
	/*
	 * Set (to non-zero) by another thread to stop at the next safe point:
	 * the daemon's loop thread sets it from its SIGTERM/SIGINT callback
	 * (libuv runs those on the loop, outside the signal handler) while
	 * apply_run runs in the thread pool. volatile gives no ordering and no
	 * atomicity between threads; atomic_int does. It is lock-free (checked
	 * below), so a real signal handler could store to it too.
	 */
	atomic_int *cancel;
	/*
	 * The managed containers as already known (the watch daemon's snapshot,
	 * as new as its event stream: snap_containers_fresh), or NULL. Taken
	 * (emptied): the apply then observes everything else (networks,
	 * volumes, images, edge files, history) but does not list or inspect
	 * the containers. The token is still checked against a plan built from
	 * this one observation, so a stale token stays stale.
	 */
	struct obs *known;
};
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "apply_opts.cancel must be a lock-free atomic");

struct apply_outcome {
	int exit;        /* BG_EXIT_OK, _TOKEN, _REFUSED, _FAILED, _ERROR */
	char *message;   /* one line for humans */
	struct plan plan; /* the current plan (printed by the caller on exit 3) */
	bool have_plan;
};

void apply_outcome_init(struct apply_outcome *o);
void apply_outcome_release(struct apply_outcome *o);

/*
 * Run. Never returns an error code: everything lands in *out (exit code,
 * message) and d (detail).
 */
void apply_run(const struct cfg *cfg, struct rt *rt, struct hist *h,
		const struct apply_opts *opts, struct apply_outcome *out, struct bg_diag *d);

/*
 * Find applies that began and never ended (the caller holds the lock, so
 * their process is gone) and journal them as interrupted. Returns how
 * many; *report gets one line per apply (a new string, NULL if none).
 */
size_t apply_recover(struct hist *h, const char *state_dir, char **report);

/*
 * Why an apply is refused when global.conf has no install_mode: "install_mode
 * is not set in DIR/global.conf (...): bluegreen does not guess where it
 * runs" (dir NULL: "global.conf"). A new string; each caller adds its own
 * "refused: " and "; nothing was changed", so the three refusals (apply_run,
 * `bluegreen apply`, the daemon) share one wording.
 */
char *apply_mode_refusal(const char *dir);

/* Whether s looks like a token (hex, PLAN_TOKEN_LEN chars). */
bool apply_token_valid(const char *s);

#endif /* BG_CONTROLLER_APPLY_H */
