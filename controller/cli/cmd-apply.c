/*
 * cmd-apply: `bluegreen apply TOKEN [--confirm TEXT]... [--wait SECONDS]`.
 * Takes the state lock (waiting a bounded time, then naming the holder),
 * reports interrupted applies, and runs apply_run (apply.h). Exit codes
 * are SPEC §6's: 0 done, 3 token stale/unknown/used (the current plan is
 * printed), 4 refused, 5 failed with the live colour untouched.
 *
 * When a `bluegreen watch` daemon holds the state lock, waiting for the
 * lock would never end: the token is handed to the daemon over its control
 * socket instead (ctlsock.h), the daemon converges through the same
 * apply_run, and this command prints what it streams back and exits with
 * its exit code, exactly as if it had converged itself.
 */
#include "bg.h"
#include "apply.h"
#include "cli.h"

#define APPLY_LOCK_WAIT_MS 10000

int cmd_apply(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct bg_strv confirms;
	const char *token = NULL;
	uint64_t wait_ms = APPLY_LOCK_WAIT_MS;
	int rc;

	bg_strv_init(&confirms);
	cli_env_init(&env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--confirm") == 0 && i + 1 < argc) {
			bg_strv_push(&confirms, argv[++i]);
		} else if (bg_str_has_prefix(argv[i], "--confirm=")) {
			bg_strv_push(&confirms, argv[i] + strlen("--confirm="));
		} else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			char *end = NULL;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (!end || *end || argv[i][0] == '-' || v > 86400) {
				rc = cli_usage_error(cli, "apply: --wait takes seconds, 0 to 86400");
				goto out;
			}
			wait_ms = (uint64_t)v * 1000;
		} else if (argv[i][0] == '-' || token) {
			rc = cli_usage_error(cli, "apply: unexpected argument '%s' (usage: bluegreen "
					"apply TOKEN [--confirm TEXT] [--wait SECONDS])", argv[i]);
			goto out;
		} else {
			token = argv[i];
		}
	}
	if (!token) {
		rc = cli_usage_error(cli, "apply: which plan? give the token `bluegreen plan` "
				"printed (usage: bluegreen apply TOKEN [--confirm TEXT])");
		goto out;
	}
	rc = cli_env_load(cli, &env, CFG_LOAD_PARTIAL);
	if (rc) {
		goto out;
	}
	if (env.cfg->g.install_mode == CFG_MODE_UNSET) {
		char *why = apply_mode_refusal(env.dir);
		fprintf(cli->err, "bluegreen: refused: %s; nothing was changed\n", why);
		free(why);
		rc = BG_EXIT_REFUSED;
		goto out;
	}
	if (env.cfg_errors) {
		fprintf(cli->err, "bluegreen: %s: invalid configuration: nothing was changed\n",
				env.dir);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	if (cli_handoff(cli, &env, token, NULL, &confirms, wait_ms, &rc)) {
		goto out;
	}
	char *what = bg_xasprintf("apply %s", token);
	struct apply_opts opts = {
		.token = token, .confirms = &confirms, .progress = cli_progress, .progress_arg = cli,
	};
	rc = cli_converge(cli, &env, &opts, wait_ms, what);
	free(what);
out:
	bg_strv_release(&confirms);
	cli_env_release(&env);
	return rc;
}
