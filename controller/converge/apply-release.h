/*
 * apply-release: what an apply does for release checks (issue 14) once
 * its outcome is known, called once from apply.c's record(): a failed
 * health gate or backup step is alerted (gate-failed, backup-failed);
 * in install_mode staging, every site a successful apply made live after
 * its gate gets an attestation (attest.h). Neither ever changes the
 * apply's outcome or exit code: their failures are logged.
 *
 * The watch-window work (verify-failed, auto-revert) calls alert_emit
 * itself, and apply_release_attest once its post-switch checks passed
 * when it wants them in the attestation.
 */
#ifndef BG_CONTROLLER_APPLY_RELEASE_H
#define BG_CONTROLLER_APPLY_RELEASE_H

#include "bg.h"
#include "cfg.h"
#include "obs.h"
#include "plan.h"
#include "rt.h"

/*
 * After apply_run's steps: err is rec_exec_run's result, message the
 * outcome line (it names the failed step). Blocking: alerts are sent
 * synchronously, each bounded by its target's timeout (in the daemon
 * this runs in the job's worker thread, never on the loop).
 */
void apply_release_after(const struct cfg *cfg, struct rt *rt, const struct plan *p,
		const struct obs *obs, int err, const char *message);

/*
 * Sign and store (attest.h) that site's colour, live as version, passed
 * checks: the image ID and spec label are read from its first container
 * through rt. *path gets the file (a new string) on success. Failures are
 * logged and returned; they never undo anything.
 */
int apply_release_attest(const struct cfg *cfg, struct rt *rt, const char *site,
		const char *colour, unsigned version, const struct bg_strv *checks, char **path);

/* The failed step of p that message names, or NULL. */
const struct plan_action *apply_release_failed_step(const struct plan *p, const char *message);

#endif /* BG_CONTROLLER_APPLY_RELEASE_H */
