/*
 * cmd-plan: `bluegreen plan [SITE...] [--retry SITE] [--observed FILE]`.
 * Observes (or reads a snapshot), builds the plan, prints it with its
 * token, and journals it. Changes nothing else: no Docker object, no edge
 * file. Execution settings that changed since the last apply (or all of
 * them, from a snapshot) are shown first. Exit 0 nothing to do, 2 changes
 * pending, 1 error.
 */
#include "bg.h"
#include "cli.h"
#include "rec.h"

int cmd_plan(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct plan_args args;
	struct plan p;
	const char *observed = NULL;
	int rc;

	cli_env_init(&env);
	plan_args_init(&args);
	plan_init(&p);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--observed") == 0 && i + 1 < argc) {
			observed = argv[++i];
		} else if (bg_str_has_prefix(argv[i], "--observed=")) {
			observed = argv[i] + strlen("--observed=");
		} else if (strcmp(argv[i], "--retry") == 0 && i + 1 < argc) {
			bg_strv_push(&args.retry, argv[++i]);
		} else if (argv[i][0] == '-') {
			rc = cli_usage_error(cli, "plan: unknown option '%s' (usage: bluegreen plan "
					"[SITE...] [--retry SITE] [--observed FILE])", argv[i]);
			goto out;
		} else {
			bg_strv_push(&args.sites, argv[i]);
		}
	}
	/* From a snapshot nothing is executed and no state is read or written. */
	cli->offline = observed != NULL;
	rc = cli_env_load(cli, &env, 0);
	if (rc) {
		goto out;
	}
	if (observed) {
		char *data = NULL;
		size_t len = 0;
		struct bg_diag d;
		bg_diag_init(&d);
		const char *why = NULL;
		/* A regular file only: a FIFO given here must not hang `plan`. */
		int err = bg_file_read_safe(NULL, observed, 256u * 1024 * 1024, &data, &len, NULL,
				&why);
		if (err) {
			rc = cli_usage_error(cli, "cannot read snapshot %s: %s%s", observed, why,
					err == BG_ETOO_BIG ? " (over 256 MiB)" : "");
			goto out;
		}
		err = obs_from_json(&env.obs, data, len, &d);
		free(data);
		/* The key is this host's, never in a snapshot: a plan from one made
		 * here compares secrets as the live plan does (ADR 0010). */
		if (!err && env.cfg->g.state_dir) {
			des_secrets_observe(env.cfg->g.state_dir, &env.obs.secrets);
		}
		if (err) {
			cli_print_diag(cli, &d);
			bg_diag_release(&d);
			rc = cli_usage_error(cli, "%s is not a bluegreen snapshot (make one with "
					"`bluegreen observe`)", observed);
			goto out;
		}
		bg_diag_release(&d);
	} else {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
		if (!rc) {
			rc = cli_env_observe(cli, &env);
		}
		if (rc) {
			goto out;
		}
	}
	struct bg_diag d;
	bg_diag_init(&d);
	int err = rec_plan_build(&p, env.cfg, &env.obs, &args, &d);
	if (err) {
		cli_print_diag(cli, &d);
		bg_diag_release(&d);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	bg_diag_release(&d);
	if (!observed) {
		cli_plan_exec_compare(cli, env.hist, &p);
	}
	cli_plan_print(cli, env.cfg, &p);
	if (!observed) {
		/* The read-only handle cannot journal: reopen for writing. */
		hist_close(env.hist);
		env.hist = NULL;
		cli_plan_journal(cli, &env, &p);
	}
	rc = cli_plan_exit(&p);
out:
	plan_release(&p);
	plan_args_release(&args);
	cli_env_release(&env);
	return rc;
}
