/*
 * cmd-cockpit: `bluegreen cockpit --safe [--listen ADDR:PORT]
 * [--allow-remote]`, the web view of the sites (controller/cockpit,
 * docs/cockpit.md). Only safe mode exists this round, and it is asked for
 * by name so that the day admin mode comes, nobody gets it by default.
 * It loads the configuration (for the state directory), opens the history
 * read-only and serves; it never makes a runtime (no Docker) and never
 * connects to the daemon's control socket.
 */
#include "bg.h"
#include "cli.h"
#include "cockpit.h"
#include "pubsnap.h"

#include <signal.h>

static volatile int cockpit_stop;

static void cockpit_on_signal(int sig)
{
	(void)sig;
	cockpit_stop = 1;
}

static void cockpit_listening(unsigned port, void *arg)
{
	struct cli *cli = arg;
	/* The port is printed: a test (or an operator) passing port 0 learns it here. */
	fprintf(cli->out, "cockpit: safe mode (read-only), listening on port %u\n", port);
	fflush(cli->out);
}

struct cockpit_args {
	bool safe, allow_remote;
	const char *listen;
};

static int cockpit_parse(int argc, char **argv, struct cli *cli, struct cockpit_args *a)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--safe") == 0) {
			a->safe = true;
		} else if (strcmp(argv[i], "--allow-remote") == 0) {
			a->allow_remote = true;
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			a->listen = argv[++i];
		} else if (bg_str_has_prefix(argv[i], "--listen=")) {
			a->listen = argv[i] + strlen("--listen=");
		} else {
			return cli_usage_error(cli, "cockpit: unknown argument '%s'", argv[i]);
		}
	}
	if (!a->safe) {
		return cli_usage_error(cli, "cockpit: only safe mode exists yet: "
				"`bluegreen cockpit --safe`");
	}
	return 0;
}

int cmd_cockpit(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct cockpit_args a = {0};
	struct bg_diag d;
	char *snap = NULL, *refused = NULL;
	cli_env_init(&env);
	bg_diag_init(&d);
	int rc = cockpit_parse(argc, argv, cli, &a);
	if (!rc) {
		rc = cli_env_load(cli, &env, 0);
	}
	if (!rc) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (rc) {
		goto out;
	}
	snap = bg_xasprintf("%s/%s", env.cfg->g.state_dir, PUBSNAP_FILE);
	refused = bg_xasprintf("%s/%s", env.cfg->g.state_dir, COCKPIT_REFUSED_FILE);
	struct cockpit_opts o = {
		.snapshot_path = snap, .refusal_log = refused, .hist = env.hist,
		.listen = a.listen, .allow_remote = a.allow_remote, .stop = &cockpit_stop,
		.on_listen = cockpit_listening, .on_listen_arg = cli,
		.cfg = &env.cfg->g.cockpit, /* issue 15 (E): global.conf's cockpit: */
	};
	struct sigaction sa = {.sa_handler = cockpit_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = cockpit_serve(&o, &d) ? BG_EXIT_ERROR : BG_EXIT_OK;
	cli_print_diag(cli, &d);
out:
	free(snap);
	free(refused);
	bg_diag_release(&d);
	cli_env_release(&env);
	return rc;
}
