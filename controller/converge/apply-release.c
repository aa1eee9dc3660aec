/*
 * apply-release: see apply-release.h. Which step failed is read back
 * from the outcome message, which rec_exec_run writes as "step I/N failed
 * (OP KIND NAME)": the plan's own words, so the match is exact and needs
 * no new field in the executor's interface.
 */
#include "bg.h"
#include "apply-release.h"
#include "alert.h"
#include "attest.h"
#include "bg-log.h"
#include "desired.h"

#include <unistd.h>

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

int apply_release_attest(const struct cfg *cfg, struct rt *rt, const char *site,
		const char *colour, unsigned version, const struct bg_strv *checks, char **path)
{
	struct obs_container c = {0};
	struct attest_key *k = NULL;
	struct attest_claim cl;
	char *why = NULL, *text = NULL, host[256] = "", when[32];
	char *name = des_colour_container_name(site, colour, 1);
	const struct cfg_site *cs = cfg_site_find(cfg, site);
	struct bg_diag d;

	*path = NULL;
	bg_diag_init(&d);
	attest_claim_init(&cl);
	/* What runs live now, as the engine says: the image ID and spec label. */
	int err = rt_inspect(rt, name, &c, &d);
	if (err || !c.image_id) {
		bg_log(BG_LOG_WARN, "attestation of %s v%u not written: cannot inspect %s: %s",
				site, version, name, bg_strerror(err ? err : BG_ENOT_FOUND));
		err = err ? err : BG_ENOT_FOUND;
		goto out;
	}
	obs_container_derive(&c);
	err = attest_key_open(cfg->g.state_dir, &k, NULL, &why);
	if (err) {
		bg_log(BG_LOG_WARN, "attestation of %s v%u not written: %s", site, version, why);
		goto out;
	}
	gethostname(host, sizeof(host) - 1);
	bg_time_format_utc(bg_now_ms(), when);
	cl.site = bg_xstrdup(site);
	cl.version = version;
	cl.image = bg_xstrdup(cs ? cs->image : c.image);
	cl.image_id = bg_xstrdup(c.image_id);
	cl.spec = bg_xstrdup(c.spec ? c.spec : "");
	bg_strv_copy(&cl.checks, checks);
	cl.time = bg_xstrdup(when);
	cl.mode = bg_xstrdup(cfg_install_mode_name(cfg->g.install_mode));
	cl.host = bg_xstrdup(host);
	err = attest_sign(k, &cl, &text);
	if (!err) {
		err = attest_store(cfg->g.state_dir, &cl, text, path);
	}
	if (err) {
		bg_log(BG_LOG_WARN, "attestation of %s v%u not written: %s", site, version,
				bg_strerror(err));
	}
out:
	free(text);
	free(why);
	free(name);
	attest_key_destroy(k);
	attest_claim_release(&cl);
	obs_container_release(&c);
	bg_diag_release(&d);
	return err;
}

/*
 * What the gate of site s proved in this apply, into checks: "health",
 * then the name of each of its checks when this plan ran them (a
 * candidate's health action carries them, plan_action_checks). The apply
 * succeeded, so every one of them passed.
 */
static void attest_checks(const struct cfg *cfg, const struct plan *p,
		const struct plan_site *s, struct bg_strv *checks)
{
	bg_strv_push(checks, "health");
	for (size_t i = s->first_action; i < s->first_action + s->n_actions; i++) {
		const struct cfg_site *cs = plan_action_checks(p, &p->actions[i], cfg);
		for (size_t k = 0; cs && k < cs->n_checks; k++) {
			if (!bg_strv_contains(checks, cs->checks[k].name)) {
				bg_strv_push(checks, cs->checks[k].name);
			}
		}
	}
}

/* Staging: each site this apply made live (a new version after its gate). */
static void attest_switched(const struct cfg *cfg, struct rt *rt, const struct plan *p)
{
	if (cfg->g.install_mode != CFG_MODE_STAGING || p->args.kind != PLAN_CONVERGE) {
		return;
	}
	for (size_t i = 0; i < p->n_sites; i++) {
		const struct plan_site *s = &p->sites[i];
		bool switched = s->live_after && (!s->live_before ||
				strcmp(s->live_before, s->live_after) != 0 ||
				s->version_before != s->version_after);
		if (!switched || s->blocked) {
			continue;
		}
		struct bg_strv checks;
		char *path = NULL;
		bg_strv_init(&checks);
		attest_checks(cfg, p, s, &checks);
		if (apply_release_attest(cfg, rt, s->site, s->live_after, s->version_after, &checks,
				&path) == 0) {
			bg_log(BG_LOG_INFO, "attested %s v%u: %s", s->site, s->version_after, path);
		}
		bg_strv_release(&checks);
		free(path);
	}
}

void apply_release_after(const struct cfg *cfg, struct rt *rt, const struct plan *p,
		const struct obs *obs, int err, const char *message)
{
	(void)obs;
	if (err && err != BG_ECANCELLED) {
		alert_failure(cfg, p, message);
	} else if (!err) {
		attest_switched(cfg, rt, p);
	}
}
