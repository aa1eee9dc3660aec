/*
 * cmd-rollback: `bluegreen rollback SITE [--yes]`. Without --yes it prints
 * the rollback plan (a switch back to the previous colour, which is still
 * running) and its token, to apply with `bluegreen apply TOKEN`. With
 * --yes it does it now: the switch is an edge change only, so it takes
 * milliseconds. The rolled-back revision is marked rejected. No confirm
 * phrase is asked: --yes is the confirmation, and a rollback restores.
 *
 * `rollback SITE --to VERSION [--yes] [--confirm TEXT]` brings back any
 * recorded version: its recorded spec (from the history) is the desired
 * site of the plan, built as a new candidate in the idle colour, gated,
 * then switched to. That is a new container, so it follows the token rules
 * of any plan: the token, and in production the confirm phrase.
 *
 * `rollback SITE --restore ID [--yes] [--confirm TEXT]` is "rollback +
 * restore backup ID" (issue 12): the rollback plan with the restore of the
 * backup taken before the switch (the plan of `plan --restore SITE@ID
 * --rollback`). A rollback switches code only and never restores data on
 * its own; this is the explicit choice the plain rollback plan offers when
 * the database may have been migrated since. Data is replaced, so it
 * follows the token rules of a restore: the token, and in production the
 * confirm phrase, with or without --yes.
 */
#include "bg.h"
#include "apply.h"
#include "cli.h"
#include "versions.h"

/* --yes: roll back now, through the watch daemon if one holds the lock. */
static int rollback_now(struct cli *cli, struct cli_env *env, const char *site)
{
	int64_t t0 = bg_mono_ms();
	int rc;

	if (cli_handoff(cli, env, NULL, site, NULL, 10000, &rc)) {
		if (rc == BG_EXIT_OK) {
			fprintf(cli->out, "rollback of %s took %" PRId64 " ms (through the "
					"watch daemon)\n", site, bg_mono_ms() - t0);
		}
		return rc;
	}
	char *what = bg_xasprintf("rollback %s", site);
	struct apply_opts opts = {
		.rollback_site = site, .progress = cli_progress, .progress_arg = cli,
	};
	rc = cli_converge(cli, env, &opts, 10000, what);
	if (rc == BG_EXIT_OK) {
		fprintf(cli->out, "rollback of %s took %" PRId64 " ms\n", site, bg_mono_ms() - t0);
	}
	free(what);
	return rc;
}

/*
 * The backup --restore names must be recorded and be SITE's, and the plan
 * must restore it: said with the words a person needs, never a rollback
 * that quietly leaves the data as it is.
 */
static int restore_check(struct cli *cli, const struct cli_env *env, const char *site,
		const char *id)
{
	const struct obs_backup *b = obs_backup_find(&env->obs, id);
	if (!b) {
		fprintf(cli->err, "bluegreen: error: rollback: no backup '%s' is recorded "
				"(bluegreen backups %s lists them)\n", id, site);
		return BG_EXIT_ERROR;
	}
	if (strcmp(b->site, site) != 0) {
		fprintf(cli->err, "bluegreen: error: rollback: backup '%s' belongs to site '%s', "
				"not '%s'\n", id, b->site, site);
		return BG_EXIT_ERROR;
	}
	return 0;
}

static bool plan_has(const struct plan *p, enum plan_op op)
{
	for (size_t i = 0; i < p->n_actions; i++) {
		if (p->actions[i].op == op) {
			return true;
		}
	}
	return false;
}

/*
 * A --restore plan that would not switch back, or not restore: refused
 * (exit 1), so that --yes never applies a half of what was asked.
 */
static int restore_plan_check(struct cli *cli, const struct plan *p, const char *site,
		const char *id, int rc)
{
	if (rc != BG_EXIT_OK && rc != BG_EXIT_PENDING) {
		return rc;
	}
	if (!plan_has(p, PLAN_OP_SWITCH)) {
		fprintf(cli->err, "bluegreen: error: rollback: %s has no previous colour to "
				"switch back to, so there is no rollback to restore with (a restore "
				"alone: bluegreen plan --restore %s@%s)\n", site, site, id);
		return BG_EXIT_ERROR;
	}
	if (!plan_has(p, PLAN_OP_RESTORE)) {
		fprintf(cli->err, "bluegreen: error: rollback: this plan cannot restore backup "
				"'%s' (the reason is above); nothing was changed\n", id);
		return BG_EXIT_ERROR;
	}
	return rc;
}

/* Apply the printed plan by its token, as `bluegreen apply` would. */
static int plan_apply(struct cli *cli, struct cli_env *env, const struct plan *p,
		const struct bg_strv *confirms);

/*
 * Without --yes: print the rollback plan and its token, and journal it.
 * With --restore ID: the plan also restores backup ID, and --yes applies
 * it by its token (with the confirm phrases given).
 */
static int rollback_plan(struct cli *cli, struct cli_env *env, const char *site,
		const char *restore_id, bool yes, const struct bg_strv *confirms)
{
	struct plan_args args;
	struct plan p;
	struct bg_diag d;
	int rc;

	plan_args_init(&args);
	plan_init(&p);
	bg_diag_init(&d);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, site);
	args.restore_id = restore_id ? bg_xstrdup(restore_id) : NULL;
	rc = cli_env_hist(cli, env, HIST_RDONLY);
	if (!rc) {
		rc = cli_env_observe(cli, env);
	}
	if (!rc && restore_id) {
		rc = restore_check(cli, env, site, restore_id);
	}
	if (!rc) {
		if (rec_plan_build(&p, env->cfg, &env->obs, &args, &d) != 0) {
			cli_print_diag(cli, &d);
			rc = BG_EXIT_ERROR;
		} else {
			cli_plan_exec_compare(cli, env->hist, &p);
			cli_plan_print(cli, env->cfg, &p);
			hist_close(env->hist);
			env->hist = NULL;
			cli_plan_journal(cli, env, &p);
			rc = cli_plan_exit(&p);
		}
	}
	if (restore_id) {
		rc = restore_plan_check(cli, &p, site, restore_id, rc);
	}
	if (yes && rc == BG_EXIT_PENDING) {
		rc = plan_apply(cli, env, &p, confirms);
	}
	bg_diag_release(&d);
	plan_release(&p);
	plan_args_release(&args);
	return rc;
}

/* ---- rollback --to VERSION ---- */

/*
 * The recorded spec of version `to`, checked: known, its image id still
 * here. Prints why not and returns BG_EXIT_ERROR; else 0 with *spec_json.
 */
static int to_spec_load(struct cli *cli, struct cli_env *env, const char *site, unsigned to,
		char **spec_json)
{
	char *image = NULL, *id = NULL, *have = NULL;
	struct bg_diag d;
	int rc = BG_EXIT_ERROR;

	bg_diag_init(&d);
	int err = hist_version_get(env->hist, site, to, NULL, spec_json);
	if (err) {
		fprintf(cli->err, "bluegreen: error: rollback: %s has no version %u%s (bluegreen "
				"versions %s lists them)\n", site, to,
				err == BG_ENOT_FOUND ? "" : ": the history cannot be read", site);
		goto out;
	}
	if (ver_spec_image(*spec_json, &image, &id) != 0 || !id) {
		fprintf(cli->err, "bluegreen: error: rollback: v%u of %s records no image id: "
				"bluegreen cannot tell which image it ran\n", to, site);
		goto out;
	}
	if (rt_image_id(env->rt, id, &have, &d) != 0) {
		cli_print_diag(cli, &d);
		goto out;
	}
	if (!have && ver_restore_pull(cli, env->hist, site, to, spec_json) != 0) {
		char *m = des_pin_image_gone_explain(site, to, image, id);
		fprintf(cli->err, "bluegreen: error: rollback: %s\n", m);
		free(m);
		goto out;
	}
	rc = 0;
out:
	if (rc) {
		free(*spec_json);
		*spec_json = NULL;
	}
	free(image);
	free(id);
	free(have);
	bg_diag_release(&d);
	return rc;
}

static int plan_apply(struct cli *cli, struct cli_env *env, const struct plan *p,
		const struct bg_strv *confirms)
{
	int rc;
	/* The converger opens its own history and engine client, as `apply` does
	 * (a store is opened once per process). */
	hist_close(env->hist);
	env->hist = NULL;
	rt_destroy(env->rt);
	env->rt = NULL;
	if (cli_handoff(cli, env, p->token, NULL, confirms, 10000, &rc)) {
		return rc;
	}
	struct apply_opts opts = {
		.token = p->token, .confirms = confirms, .progress = cli_progress,
		.progress_arg = cli,
	};
	char *what = bg_xasprintf("apply %s", p->token);
	rc = cli_converge(cli, env, &opts, 10000, what);
	free(what);
	return rc;
}

/* The --to plan (the site rebuilt from the record), printed; applied with --yes. */
static int rollback_to(struct cli *cli, struct cli_env *env, const char *site, unsigned to,
		bool yes, const struct bg_strv *confirms)
{
	struct plan_args args;
	struct plan p;
	struct bg_diag d;

	plan_args_init(&args);
	plan_init(&p);
	bg_diag_init(&d);
	args.kind = PLAN_ROLLBACK;
	args.to_version = to;
	bg_strv_push(&args.sites, site);
	/* Asked for by number: a rejected mark on it is lifted once it is built. */
	bg_strv_push(&args.retry, site);
	int rc = cli_env_hist(cli, env, HIST_RDONLY);
	if (!rc) {
		rc = cli_env_observe(cli, env);
	}
	if (!rc) {
		rc = to_spec_load(cli, env, site, to, &args.to_spec_json);
	}
	if (!rc && rec_plan_build(&p, env->cfg, &env->obs, &args, &d) != 0) {
		cli_print_diag(cli, &d);
		rc = BG_EXIT_ERROR;
	} else if (!rc) {
		cli_plan_exec_compare(cli, env->hist, &p);
		cli_plan_print(cli, env->cfg, &p);
		hist_close(env->hist);
		env->hist = NULL;
		cli_plan_journal(cli, env, &p);
		rc = cli_plan_exit(&p);
		if (yes && rc == BG_EXIT_PENDING) {
			rc = plan_apply(cli, env, &p, confirms);
		}
	}
	bg_diag_release(&d);
	plan_release(&p);
	plan_args_release(&args);
	return rc;
}

static int to_parse(struct cli *cli, const char *s, unsigned *to)
{
	char *end = NULL;
	unsigned long v = strtoul(s[0] == 'v' ? s + 1 : s, &end, 10);
	if (!end || *end || v == 0 || v > UINT32_MAX || s[0] == '-') {
		return cli_usage_error(cli, "rollback: --to takes a version number (1, 2, ... or "
				"v1, v2, ...; bluegreen versions SITE lists them)");
	}
	*to = (unsigned)v;
	return 0;
}

int cmd_rollback(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct bg_strv confirms;
	const char *site = NULL, *restore_id = NULL;
	unsigned to = 0;
	bool yes = false;
	int rc;

	cli_env_init(&env);
	bg_strv_init(&confirms);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0) {
			yes = true;
		} else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
			rc = to_parse(cli, argv[++i], &to);
			if (rc) {
				goto out;
			}
		} else if (strcmp(argv[i], "--restore") == 0 && i + 1 < argc && !restore_id) {
			restore_id = argv[++i];
		} else if (strcmp(argv[i], "--confirm") == 0 && i + 1 < argc) {
			bg_strv_push(&confirms, argv[++i]);
		} else if (argv[i][0] == '-' || site) {
			rc = cli_usage_error(cli, "rollback: unexpected argument '%s' (usage: "
					"bluegreen rollback SITE [--to VERSION | --restore ID] [--yes])", argv[i]);
			goto out;
		} else {
			site = argv[i];
		}
	}
	if (!site) {
		rc = cli_usage_error(cli, "rollback: which site? (usage: bluegreen rollback SITE [--yes])");
		goto out;
	}
	rc = cli_env_load(cli, &env, 0);
	if (rc) {
		goto out;
	}
	if (!cfg_site_find(env.cfg, site)) {
		rc = cli_usage_error(cli, "rollback: no site named '%s' in %s", site, env.dir);
		goto out;
	}
	if (to && restore_id) {
		rc = cli_usage_error(cli, "rollback: --restore goes with a rollback to the previous "
				"colour, not with --to (restore after it: bluegreen plan --restore "
				"%s@%s)", site, restore_id);
	} else if (to) {
		rc = rollback_to(cli, &env, site, to, yes, &confirms);
	} else if (restore_id) {
		rc = rollback_plan(cli, &env, site, restore_id, yes, &confirms);
	} else if (confirms.n) {
		rc = cli_usage_error(cli, "rollback: --confirm goes with --to or --restore (a "
				"switch back to the previous colour asks for none)");
	} else {
		rc = yes ? rollback_now(cli, &env, site) : rollback_plan(cli, &env, site, NULL,
				false, NULL);
	}
out:
	bg_strv_release(&confirms);
	cli_env_release(&env);
	return rc;
}
