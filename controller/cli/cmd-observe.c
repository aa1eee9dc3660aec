/*
 * cmd-observe: `bluegreen observe`. Prints the observed state (managed
 * Docker objects, edge files read back, history facts) as a canonical
 * JSON snapshot, the input of `plan --observed FILE` (CI, code review).
 * Reads only.
 */
#include "bg.h"
#include "cli.h"

int cmd_observe(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct bg_buf out = BG_BUF_INIT;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0) {
			return cli_usage_error(cli, "observe: unknown argument '%s'", argv[i]);
		}
	}
	cli_env_init(&env);
	rc = cli_env_load(cli, &env, 0);
	if (!rc) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (!rc) {
		rc = cli_env_observe(cli, &env);
	}
	if (!rc) {
		obs_to_json(&env.obs, &out);
		fputs(out.data, cli->out);
	}
	bg_buf_release(&out);
	cli_env_release(&env);
	return rc;
}
