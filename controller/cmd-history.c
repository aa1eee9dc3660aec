/*
 * cmd-history: `bluegreen history [SITE] [--limit N]`: the journal, oldest
 * first so the newest entry is the last line (what a terminal shows).
 * --json prints one JSON object per line (docs/history.md).
 */
#include "bg.h"
#include "cli.h"

struct hist_print {
	struct cli *cli;
	size_t n;
};

static int print_entry(const struct hist_entry *e, void *arg)
{
	struct hist_print *hp = arg;
	struct cli *cli = hp->cli;
	hp->n++;
	if (cli->json) {
		struct bg_buf b = BG_BUF_INIT;
		hist_entry_to_json(e, &b);
		fprintf(cli->out, "%s\n", b.data);
		bg_buf_release(&b);
		return 0;
	}
	char ts[32];
	bg_time_format_utc(e->time_ms, ts);
	const char *details = e->details ? e->details : "";
	const char *nl = strchr(details, '\n');
	int dl = nl ? (int)(nl - details) : (int)strlen(details);
	fprintf(cli->out, "%6" PRIu64 "  %s  %-18s %-13s %-10s %-10s %.16s  %.*s\n", e->seq, ts,
			e->actor ? e->actor : "", e->action ? e->action : "",
			e->site ? e->site : "-", e->result ? e->result : "",
			e->token ? e->token : "-", dl, details);
	return 0;
}

int cmd_history(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	const char *site = NULL;
	size_t limit = 0;
	int rc;

	cli_env_init(&env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end = NULL;
			long v = strtol(argv[++i], &end, 10);
			if (!end || *end || v < 1) {
				rc = cli_usage_error(cli, "history: --limit needs a positive number");
				goto out;
			}
			limit = (size_t)v;
		} else if (argv[i][0] == '-' || site) {
			rc = cli_usage_error(cli, "history: unexpected argument '%s' (usage: bluegreen "
					"history [SITE] [--limit N])", argv[i]);
			goto out;
		} else {
			site = argv[i];
		}
	}
	rc = cli_env_load(cli, &env, 0);
	if (!rc) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (rc) {
		goto out;
	}
	cli_report_interrupted(cli, &env);
	struct hist_print hp = {.cli = cli};
	int err = hist_foreach(env.hist, site, 0, limit, print_entry, &hp);
	if (err) {
		fprintf(cli->err, "bluegreen: error: reading the history: %s\n", bg_strerror(err));
		rc = BG_EXIT_ERROR;
	} else if (hp.n == 0 && !cli->json) {
		fprintf(cli->err, "bluegreen: the history%s%s is empty\n", site ? " of " : "",
				site ? site : "");
	}
out:
	cli_env_release(&env);
	return rc;
}
