/*
 * cmd-rollback: `bluegreen rollback SITE [--yes]`. Without --yes it prints
 * the rollback plan (a switch back to the previous colour, which is still
 * running) and its token, to apply with `bluegreen apply TOKEN`. With
 * --yes it does it now: the switch is an edge change only, so it takes
 * milliseconds. The rolled-back revision is marked rejected. No confirm
 * phrase is asked: --yes is the confirmation, and a rollback restores.
 */
#include "bg.h"
#include "apply.h"
#include "cli.h"

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

/* Without --yes: print the rollback plan and its token, and journal it. */
static int rollback_plan(struct cli *cli, struct cli_env *env, const char *site)
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
	rc = cli_env_hist(cli, env, HIST_RDONLY);
	if (!rc) {
		rc = cli_env_observe(cli, env);
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
	bg_diag_release(&d);
	plan_release(&p);
	plan_args_release(&args);
	return rc;
}

int cmd_rollback(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	const char *site = NULL;
	bool yes = false;
	int rc;

	cli_env_init(&env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0) {
			yes = true;
		} else if (argv[i][0] == '-' || site) {
			rc = cli_usage_error(cli, "rollback: unexpected argument '%s' (usage: "
					"bluegreen rollback SITE [--yes])", argv[i]);
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
	rc = yes ? rollback_now(cli, &env, site) : rollback_plan(cli, &env, site);
out:
	cli_env_release(&env);
	return rc;
}
