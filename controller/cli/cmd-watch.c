/*
 * cmd-watch: `bluegreen watch [--debounce MS]`, the reconciling daemon
 * (loop.h). It runs in the foreground, prints plans and convergence on
 * stdout (journald or a terminal), and exits 0 on SIGTERM or SIGINT; see
 * docs/watch.md and examples/systemd/bluegreen.service.
 */
#include "bg.h"
#include "cli.h"
#include "loop.h"

int cmd_watch(int argc, char **argv, struct cli *cli)
{
	struct ctl_opts opts = {0};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--debounce") == 0 && i + 1 < argc) {
			char *end = NULL;
			unsigned long long ms = strtoull(argv[++i], &end, 10);
			if (!end || *end || ms < 1 || ms > 60000) {
				return cli_usage_error(cli, "watch: --debounce takes milliseconds in "
						"1..60000, not '%s'", argv[i]);
			}
			opts.debounce_ms = ms;
		} else if (strcmp(argv[i], "--json") == 0) {
			return cli_usage_error(cli, "watch: --json is not supported: the daemon "
					"prints text (plans as `bluegreen plan` shows them); use "
					"`bluegreen plan --json` or `bluegreen history --json`");
		} else {
			return cli_usage_error(cli, "watch: unexpected argument '%s' (usage: "
					"bluegreen watch [--debounce MS])", argv[i]);
		}
	}
	if (cli->json) {
		return cli_usage_error(cli, "watch: --json is not supported: the daemon prints "
				"text; use `bluegreen plan --json` or `bluegreen history --json`");
	}
	return ctl_run(cli, &opts);
}
