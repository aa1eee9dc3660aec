/*
 * cmd-plan: `bluegreen plan [SITE...] [--retry SITE] [--observed FILE]`,
 * `bluegreen plan --purge SITE` (a removed site's volumes, rec-orphan.c),
 * and `bluegreen plan --restore SITE@ID [--rollback]` (a restore plan:
 * docs/backups.md; with --rollback, the rollback plan and the restore).
 * Observes (or reads a snapshot), builds the plan, prints it with its
 * token, and journals it. Changes nothing else: no Docker object, no edge
 * file. Execution settings that changed since the last apply (or all of
 * them, from a snapshot) are shown first. Exit 0 nothing to do, 2 changes
 * pending, 1 error.
 */
#include "bg.h"
#include "cli.h"
#include "rec.h"

/* ---- plan --restore SITE@ID [--rollback] (issue 12) ---- */

/*
 * If argv[*i] is --restore SITE@ID (or --restore=SITE@ID) or --rollback,
 * record it in args (kind, sites, restore_id) and move *i past it.
 * Returns 0, or BG_EXIT_ERROR after printing the usage error.
 */
static int restore_arg(int argc, char **argv, int *i, struct cli *cli, struct plan_args *args,
		bool *used)
{
	const char *v = NULL;
	*used = true;
	if (strcmp(argv[*i], "--rollback") == 0) {
		args->kind = PLAN_ROLLBACK;
		return 0;
	}
	if (strcmp(argv[*i], "--restore") == 0 && *i + 1 < argc) {
		v = argv[++*i];
	} else if (bg_str_has_prefix(argv[*i], "--restore=")) {
		v = argv[*i] + strlen("--restore=");
	} else {
		*used = false;
		return 0;
	}
	const char *at = strrchr(v, '@');
	if (!at || at == v || !at[1] || args->restore_id) {
		return cli_usage_error(cli, "plan: --restore takes SITE@ID once (usage: bluegreen "
				"plan --restore SITE@ID [--rollback]; `bluegreen backups SITE` lists "
				"the ids)");
	}
	bg_strv_push_take(&args->sites, bg_xstrndup(v, (size_t)(at - v)));
	args->restore_id = bg_xstrdup(at + 1);
	if (args->kind != PLAN_ROLLBACK) {
		args->kind = PLAN_RESTORE;
	}
	return 0;
}

/* --rollback only with --restore, and --restore for its one site alone. */
static int restore_args_check(struct cli *cli, const struct plan_args *args)
{
	if (args->kind == PLAN_ROLLBACK && !args->restore_id) {
		return cli_usage_error(cli, "plan: --rollback goes with --restore SITE@ID (a "
				"plain rollback: bluegreen rollback SITE)");
	}
	if (args->restore_id && (args->sites.n != 1 || args->retry.n)) {
		return cli_usage_error(cli, "plan: --restore SITE@ID plans that one site: no "
				"other SITE or --retry with it");
	}
	return 0;
}

/*
 * The backup a restore plan names must be recorded and be SITE's: said
 * here, before any plan, with the words a person needs.
 */
static int restore_backup_check(struct cli *cli, const struct cli_env *env,
		const struct plan_args *args, bool snapshot)
{
	if (!args->restore_id) {
		return 0;
	}
	const struct obs_backup *b = obs_backup_find(&env->obs, args->restore_id);
	const char *site = args->sites.v[0];
	if (snapshot) {
		return cli_usage_error(cli, "plan: a restore plan needs this host's history "
				"(its backups): run it without --observed");
	}
	if (!b) {
		return cli_usage_error(cli, "plan: no backup '%s' is recorded (bluegreen backups %s "
				"lists them)", args->restore_id, site);
	}
	if (strcmp(b->site, site) != 0) {
		return cli_usage_error(cli, "plan: backup '%s' belongs to site '%s', not '%s'",
				args->restore_id, b->site, site);
	}
	return 0;
}

/*
 * Sites and --retry into args, --observed into *observed (borrowed from
 * argv). Returns 0, or BG_EXIT_ERROR after printing the usage error.
 */
static int parse_args(int argc, char **argv, struct cli *cli, struct plan_args *args,
		const char **observed)
{
	bool used;
	int rc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--observed") == 0 && i + 1 < argc) {
			*observed = argv[++i];
		} else if (bg_str_has_prefix(argv[i], "--observed=")) {
			*observed = argv[i] + strlen("--observed=");
		} else if (strcmp(argv[i], "--retry") == 0 && i + 1 < argc) {
			bg_strv_push(&args->retry, argv[++i]);
		} else if (strcmp(argv[i], "--purge") == 0 && i + 1 < argc) {
			/* --purge SITE (issue 13): a removed site's volumes; alone. */
			if (args->kind == PLAN_PURGE || args->sites.n || args->retry.n) {
				return cli_usage_error(cli, "plan: --purge SITE takes one site and "
						"no other site or --retry");
			}
			args->kind = PLAN_PURGE;
			bg_strv_push(&args->sites, argv[++i]);
			continue;
		} else if ((rc = restore_arg(argc, argv, &i, cli, args, &used)) != 0) {
			return rc;
		} else if (used) {
			continue;
		} else if (argv[i][0] == '-') {
			return cli_usage_error(cli, "plan: unknown option '%s' (usage: bluegreen plan "
					"[SITE...] [--retry SITE] [--observed FILE], bluegreen plan --purge "
					"SITE, or bluegreen plan --restore SITE@ID [--rollback])", argv[i]);
		} else if (args->kind == PLAN_PURGE) {
			return cli_usage_error(cli, "plan: --purge SITE takes no other site");
		} else {
			bg_strv_push(&args->sites, argv[i]);
		}
	}
	return 0;
}

/*
 * env->obs from the snapshot file `observed` (made by `bluegreen observe`),
 * plus this host's secrets key. Returns 0, or BG_EXIT_ERROR after printing.
 */
static int snapshot_load(struct cli *cli, struct cli_env *env, const char *observed)
{
	char *data = NULL;
	size_t len = 0;
	struct bg_diag d;
	bg_diag_init(&d);
	const char *why = NULL;
	/* A regular file only: a FIFO given here must not hang `plan`. */
	int err = bg_file_read_safe(NULL, observed, 256u * 1024 * 1024, &data, &len, NULL, &why);
	if (err) {
		return cli_usage_error(cli, "cannot read snapshot %s: %s%s", observed, why,
				err == BG_ETOO_BIG ? " (over 256 MiB)" : "");
	}
	err = obs_from_json(&env->obs, data, len, &d);
	free(data);
	/* The key is this host's, never in a snapshot: a plan from one made
	 * here compares secrets as the live plan does (ADR 0010). */
	if (!err && env->cfg->g.state_dir) {
		des_secrets_observe(env->cfg->g.state_dir, &env->obs.secrets);
	}
	if (err) {
		cli_print_diag(cli, &d);
		bg_diag_release(&d);
		return cli_usage_error(cli, "%s is not a bluegreen snapshot (make one with "
				"`bluegreen observe`)", observed);
	}
	bg_diag_release(&d);
	return 0;
}

/* The live observation: history read-only, then Docker and the edge. */
static int live_observe(struct cli *cli, struct cli_env *env)
{
	int rc = cli_env_hist(cli, env, HIST_RDONLY);
	if (!rc) {
		rc = cli_env_observe(cli, env);
	}
	return rc;
}

/*
 * Build, print and (when live) journal the plan; returns the plan's exit
 * code, or BG_EXIT_ERROR after printing why it could not be built.
 */
static int plan_show(struct cli *cli, struct cli_env *env, const struct plan_args *args,
		struct plan *p, bool live)
{
	struct bg_diag d;
	bg_diag_init(&d);
	int err = rec_plan_build(p, env->cfg, &env->obs, args, &d);
	if (err) {
		cli_print_diag(cli, &d);
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	if (live) {
		cli_plan_exec_compare(cli, env->hist, p);
	}
	cli_plan_print(cli, env->cfg, p);
	if (live) {
		/* The read-only handle cannot journal: reopen for writing. */
		hist_close(env->hist);
		env->hist = NULL;
		cli_plan_journal(cli, env, p);
	}
	return cli_plan_exit(p);
}

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
	rc = parse_args(argc, argv, cli, &args, &observed);
	if (!rc) {
		rc = restore_args_check(cli, &args);
	}
	if (rc) {
		goto out;
	}
	/* From a snapshot nothing is executed and no state is read or written. */
	cli->offline = observed != NULL;
	rc = cli_env_load(cli, &env, 0);
	if (rc) {
		goto out;
	}
	rc = observed ? snapshot_load(cli, &env, observed) : live_observe(cli, &env);
	if (!rc) {
		rc = restore_backup_check(cli, &env, &args, observed != NULL);
	}
	if (rc) {
		goto out;
	}
	rc = plan_show(cli, &env, &args, &p, !observed);
out:
	plan_release(&p);
	plan_args_release(&args);
	cli_env_release(&env);
	return rc;
}
