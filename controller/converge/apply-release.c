/*
 * apply-release: see apply-release.h. Which step failed is read back
 * from the outcome message, which rec_exec_run writes as "step I/N failed
 * (OP KIND NAME)": the plan's own words, so the match is exact and needs
 * no new field in the executor's interface.
 */
#include "bg.h"
#include "apply-release.h"
#include "alert.h"
#include "bg-log.h"

const struct plan_action *apply_release_failed_step(const struct plan *p, const char *message)
{
	if (!message) {
		return NULL;
	}
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		char *needle = bg_xasprintf("failed (%s %s %s)", plan_op_name(a->op),
				plan_kind_name(a->kind), a->name);
		bool hit = strstr(message, needle) != NULL;
		free(needle);
		if (hit) {
			return a;
		}
	}
	return NULL;
}

/* gate-failed or backup-failed for the step that stopped the apply. */
static void alert_failure(const struct cfg *cfg, const struct plan *p, const char *message)
{
	const struct plan_action *a = apply_release_failed_step(p, message);
	int ev = -1;

	if (!a) {
		return;
	}
	if (a->op == PLAN_OP_HEALTH && a->kind == PLAN_KIND_CONTAINER) {
		ev = CFG_ALERT_GATE_FAILED;
	} else if (a->op == PLAN_OP_BACKUP) {
		ev = CFG_ALERT_BACKUP_FAILED;
	}
	if (ev < 0) {
		return;
	}
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "token", json_object_new_string(p->token));
	json_object_object_add(d, "message", json_object_new_string(message));
	json_object_object_add(d, "step", json_object_new_string(a->name));
	if (a->colour) {
		json_object_object_add(d, "colour", json_object_new_string(a->colour));
	}
	int failed = alert_emit(cfg, (enum cfg_alert_event)ev, a->site, d, 0);
	if (failed > 0) {
		bg_log(BG_LOG_WARN, "%d alert target%s could not be told of %s", failed,
				failed == 1 ? "" : "s", cfg_alert_event_name((enum cfg_alert_event)ev));
	}
}

void apply_release_after(const struct cfg *cfg, struct rt *rt, const struct plan *p,
		const struct obs *obs, int err, const char *message)
{
	(void)rt;
	(void)obs;
	if (err && err != BG_ECANCELLED) {
		alert_failure(cfg, p, message);
	}
}
