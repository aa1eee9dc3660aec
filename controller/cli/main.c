/*
 * main: parses the global options (-c, --json, --trace) and dispatches to
 * the verb's cmd_* function through a sorted table. Everything else lives
 * in libbg, so tests and fuzzers link exactly the code the binary runs.
 * The table also holds each verb's usage, printed by `bluegreen help VERB`
 * and `bluegreen VERB --help`; docs/man/bluegreen.1.scd says the same, and
 * test/release/t-man.sh checks that both list the same commands and options.
 */
#include "bg.h"
#include "bg-log.h"
#include "bg-util.h"
#include "bg-version.h"
#include "cli.h"

#include <unistd.h>

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli *cli);
	const char *summary;
	const char *usage;   /* after "bluegreen " */
	const char *options; /* one "  OPTION  text" per line, or NULL */
};

/* Sorted by name. */
static const struct cmd commands[] = {
	{"apply", cmd_apply, "converge exactly the plan with this token",
		"apply TOKEN [--confirm TEXT]... [--wait SECONDS]",
		"  --confirm TEXT    a confirm phrase the plan asks for (repeatable)\n"
		"  --wait SECONDS    wait this long for the state lock (default 10, 0 to 86400)\n"
		"Exit 0 done, 3 token stale, unknown or used, 4 refused (install_mode\n"
		"unset, confirm phrase missing), 5 failed (live colour untouched).\n"},
	{"attest", cmd_attest, "staging attestations: this install's key, export, verify",
		"attest key | attest export SITE [--version N] | attest verify FILE [--trust PUBKEY]...",
		"  key               print this install's public key (made on first use)\n"
		"  export SITE       print the newest attestation of SITE this install signed\n"
		"  --version N       with export: that version's\n"
		"  verify FILE       check one attestation (default key: this install's)\n"
		"  --trust PUBKEY    with verify: a public key file to trust (repeatable)\n"
		"Exit 0 valid, 1 refused (tampered, untrusted) or error.\n"},
	{"backup", cmd_backup, "back up a site now, or verify a backup",
		"backup SITE [--no-compress] [--wait SECONDS] | backup verify ID",
		"  --no-compress     store the volume tars and dumps without gzip\n"
		"  --wait SECONDS    wait this long for the state lock (default 10)\n"
		"Exit 0 done (prints the id, size and duration), 1 failed (nothing kept);\n"
		"verify: 0 every part matches, 1 a part missing or changed (named).\n"},
	{"backups", cmd_backups, "the backups of every site or of one",
		"backups [SITE] [--json]", NULL},
	{"cockpit", cmd_cockpit, "the web view of the sites (safe: read-only; admin: approve, roll back)",
		"cockpit [--safe|--admin] [--listen ADDR:PORT] [--allow-remote] [--users FILE] "
		"[--publish-dir DIR]",
		"  --safe            read-only: no Docker, no control socket, history read-only\n"
		"  --admin           also approve the daemon's pending plan and roll back, through\n"
		"                    the watch daemon's control socket (needs a users file)\n"
		"                    (neither: global.conf's cockpit.mode, default safe)\n"
		"  --listen ADDR:PORT  where to serve (numeric; default cockpit.listen, else\n"
		"                    127.0.0.1:8077)\n"
		"  --allow-remote    serve a non-loopback address\n"
		"  --users FILE      the users file (default cockpit.users, else\n"
		"                    STATE_DIR/cockpit.users); with one, every page needs a login\n"
		"  --publish-dir DIR  safe mode: read only the daemon's publish directory\n"
		"                    (default cockpit.publish_dir), never the state directory,\n"
		"                    so the cockpit can run as an unprivileged user\n"
		"  --role viewer|admin  with `cockpit user add NAME`: the user's role (the\n"
		"                    password is read from stdin, never from argv)\n"
		"  --sites A,B       with `user add --role viewer`: the sites the viewer sees\n"
		"Users: cockpit user add NAME --role viewer|admin [--sites A,B] [--users FILE],\n"
		"cockpit user del NAME, cockpit user list (never prints a hash).\n"
		"Reads STATE_DIR/status.json (or the publish directory), which `bluegreen\n"
		"watch` writes. Runs until\n"
		"SIGINT or SIGTERM.\n"},
	{"history", cmd_history, "the journal, newest last",
		"history [SITE] [--limit N] [--details] | --verify [--from FILE] | --export [FILE]",
		"  --limit N         only the last N entries\n"
		"  --details         every further line of an entry's details, indented\n"
		"  --verify          check the journal's hash chain; name the first broken entry\n"
		"  --from FILE       with --verify: check an export instead (- for stdin)\n"
		"  --export [FILE]   write every entry with its chain, JSON lines (default -)\n"},
	{"log", cmd_log, "convergence log; -f follows",
		"log [-f] [-n LINES]",
		"  -f, --follow      print new lines as they are written\n"
		"  -n, --lines LINES only the last LINES lines\n"},
	{"logs", cmd_logs, "a site's container output; -f follows, across a switch",
		"logs SITE [--colour blue|green|live|candidate] [--service NAME] [-f] "
		"[--since DURATION] [--tail N] [--timestamps]",
		"  --colour COLOUR   blue, green, live (default) or candidate (the colour\n"
		"                    running the configured spec that is not live)\n"
		"  --service NAME    a backing service's container instead of a colour\n"
		"  -f, --follow      keep printing; with --colour live, follow a switch\n"
		"  --since DURATION  only lines of the last DURATION (30s, 10m, 2h, 1d)\n"
		"  --tail N          only the last N lines of each container\n"
		"  --timestamps      the engine's RFC 3339 time before each line\n"
		"stdout lines go to stdout, stderr lines to stderr; several containers\n"
		"are prefixed \"blue.1 | \". Values of secret variables show as <redacted>.\n"},
	{"observe", cmd_observe, "print the observed state as a JSON snapshot",
		"observe", NULL},
	{"plan", cmd_plan, "print the plan and its token",
		"plan [SITE...] [--retry SITE]... [--observed FILE] | plan --purge SITE | "
		"plan --restore SITE@ID [--rollback]",
		"  --observed FILE   plan against a snapshot (`bluegreen observe`), not Docker\n"
		"  --retry SITE      propose again a revision that was rolled back (repeatable)\n"
		"  --purge SITE      remove what is left of a removed site, its volumes too\n"
		"  --restore SITE@ID put backup ID of SITE back (`bluegreen backups SITE`)\n"
		"  --rollback        with --restore: roll back to the previous colour and restore\n"
		"Exit 0 nothing to do, 2 changes pending, 1 error.\n"},
	{"rollback", cmd_rollback, "switch a site back to its previous colour, or any version",
		"rollback SITE [--yes] | rollback SITE --to VERSION [--yes] [--confirm TEXT]... | "
		"rollback SITE --restore ID [--yes] [--confirm TEXT]...",
		"  -y, --yes         roll back now (without it: print the rollback plan)\n"
		"  --to VERSION      bring back this recorded version (bluegreen versions SITE)\n"
		"                    as a new candidate, gated, then switched to\n"
		"  --restore ID      roll back to the previous colour and restore backup ID\n"
		"                    (bluegreen backups SITE): rollback + restore, one plan\n"
		"  --confirm TEXT    with --to or --restore, and --yes: the site's confirm\n"
		"                    phrase (production)\n"
		"Exit without --yes as plan: 0 nothing to do, 2 rollback pending, 1 error;\n"
		"with --yes as apply: 0 done, 4 refused, 5 failed (live colour untouched).\n"},
	{"status", cmd_status, "live colour, version, image, health per site",
		"status [SITE...]", NULL},
	{"validate", cmd_validate, "check the configuration",
		"validate [--explain]",
		"  --explain         also print the effective configuration, value by value\n"},
	{"versions", cmd_versions, "a site's recorded versions: image, when live, restorable",
		"versions SITE", NULL},
	{"watch", cmd_watch, "run the reconciling daemon",
		"watch [--debounce MS]",
		"  --debounce MS     wait for edits to settle this long (1 to 60000, default 100)\n"},
};

/* `help` itself: not in the table (main dispatches it first), same shape. */
static const struct cmd help_cmd = {"help", NULL, "a command's usage and options",
	"help [COMMAND]",
	"  COMMAND           one of the commands above; without it: the list of commands\n"};

static const struct cmd *cmd_find(const char *name)
{
	for (size_t k = 0; k < BG_ARRAY_SIZE(commands); k++) {
		if (strcmp(name, commands[k].name) == 0) {
			return &commands[k];
		}
	}
	return NULL;
}

/*
 * The verbs that may hand their work to the watch daemon: they initialise
 * libcurl (cli_curl_init) only when they talk to Docker themselves, so a
 * hand-off does not pay for it (issue 11: OpenSSL's init and config file).
 */
static bool late_curl(const struct cmd *c)
{
	return c->fn == cmd_apply || c->fn == cmd_rollback;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bluegreen [-c CONFIG_DIR] [--json] [--trace=AREAS] COMMAND [ARGS]\n"
			"       bluegreen help [COMMAND] | --version\n\n");
	for (size_t i = 0; i < BG_ARRAY_SIZE(commands); i++) {
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	}
	fprintf(f, "  %-10s %s\n", help_cmd.name, help_cmd.summary);
	fprintf(f, "\noptions:\n"
			"  -c, --config CONFIG_DIR  the configuration directory\n"
			"  --json                   JSON output (also accepted after the command)\n"
			"  --trace=AREAS            debug trace: dk, plan, apply, hist, edge, loop, cfg, all\n"
			"  -h, --help               this help (COMMAND --help: that command's)\n"
			"  --version                the version (and the commit it was built from)\n");
	fprintf(f, "\nCONFIG_DIR defaults to $BLUEGREEN_CONFIG, else the current directory\n"
			"when it holds global.conf, else /etc/bluegreen. See bluegreen(1).\n");
}

static void cmd_usage(FILE *f, const struct cmd *c)
{
	fprintf(f, "usage: bluegreen [-c CONFIG_DIR] [--json] %s\n\n%s\n", c->usage, c->summary);
	if (c->options) {
		fprintf(f, "\n%s", c->options);
	}
}

/* `bluegreen help [COMMAND]`: one COMMAND at most; `help help` and
 * `help --help` are help's own usage. */
static int help(int argc, char **argv, struct cli *cli)
{
	if (argc < 2) {
		usage(cli->out);
		return BG_EXIT_OK;
	}
	if (argc > 2) {
		return cli_usage_error(cli, "help takes one COMMAND, not '%s' too "
				"(usage: bluegreen help [COMMAND])", argv[2]);
	}
	const char *name = argv[1];
	const struct cmd *c = cmd_find(name);
	if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		c = &help_cmd;
	}
	if (!c) {
		usage(cli->err);
		return cli_usage_error(cli, "help: unknown command '%s'", name);
	}
	cmd_usage(cli->out, c);
	return BG_EXIT_OK;
}

static void version(void)
{
	/* "none": built outside git from a tree without .commit (meson.build). */
	if (BG_COMMIT[0] && strcmp(BG_COMMIT, "none") != 0) {
		printf("bluegreen %s (git %s)\n", BG_RELEASE, BG_COMMIT);
	} else {
		printf("bluegreen %s\n", BG_RELEASE);
	}
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	fprintf(cli->err, "bluegreen: error: ");
	va_start(ap, fmt);
	vfprintf(cli->err, fmt, ap);
	va_end(ap);
	fputc('\n', cli->err);
	return BG_EXIT_ERROR;
}

int main(int argc, char **argv)
{
	struct cli cli = {.out = stdout, .err = stderr};
	const char *nc = getenv("NO_COLOR");
	int i = 1;

	cli.color = isatty(STDOUT_FILENO) && !(nc && *nc);
	bg_log_init(BG_LOG_WARN, NULL, NULL);
	const char *trace = getenv("BLUEGREEN_TRACE");
	if (trace && *trace && bg_log_trace_parse(trace) < 0) {
		fprintf(stderr, "bluegreen: warning: unknown area in BLUEGREEN_TRACE\n");
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				return cli_usage_error(&cli, "%s needs a directory", a);
			}
			cli.config_dir_opt = argv[++i];
		} else if (bg_str_has_prefix(a, "--config=")) {
			cli.config_dir_opt = a + strlen("--config=");
		} else if (strcmp(a, "--json") == 0) {
			cli.json = true;
		} else if (bg_str_has_prefix(a, "--trace=")) {
			if (bg_log_trace_parse(a + strlen("--trace=")) < 0) {
				return cli_usage_error(&cli, "unknown trace area in '%s' "
						"(known: dk, plan, apply, hist, edge, loop, cfg, all)", a);
			}
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return BG_EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			version();
			return BG_EXIT_OK;
		} else {
			usage(stderr);
			return cli_usage_error(&cli, "unknown option '%s'", a);
		}
	}
	if (i >= argc) {
		usage(stderr);
		return BG_EXIT_ERROR;
	}
	if (strcmp(argv[i], "help") == 0) {
		return help(argc - i, argv + i, &cli);
	}
	const struct cmd *c = cmd_find(argv[i]);
	if (!c) {
		usage(stderr);
		return cli_usage_error(&cli, "unknown command '%s'", argv[i]);
	}
	/* Verbs also accept --json after their name; --help anywhere is theirs. */
	for (int j = i + 1; j < argc; j++) {
		if (strcmp(argv[j], "--") == 0) {
			break;
		}
		if (strcmp(argv[j], "--json") == 0) {
			cli.json = true;
		} else if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
			cmd_usage(stdout, c);
			return BG_EXIT_OK;
		}
	}
	/* Before any thread: curl's lazy global init is not thread-safe. apply
	 * and rollback do it themselves once they know they converge here. */
	if (!late_curl(c) && cli_curl_init(&cli) != 0) {
		return BG_EXIT_ERROR;
	}
	int rc = c->fn(argc - i, argv + i, &cli);
	fflush(stdout);
	return rc;
}
