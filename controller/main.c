/*
 * main: parses the global options (-c, --json, --trace) and dispatches to
 * the verb's cmd_* function through a sorted table. Everything else lives
 * in libbg, so tests and fuzzers link exactly the code the binary runs.
 */
#include "bg.h"
#include "bg-log.h"
#include "bg-util.h"
#include "cli.h"

#include <curl/curl.h>
#include <unistd.h>

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli *cli);
	const char *summary;
};

/* Sorted by name. */
static const struct cmd commands[] = {
	{"apply", cmd_apply, "converge exactly the plan with this token"},
	{"history", cmd_history, "the journal, newest last"},
	{"log", cmd_log, "convergence log; -f follows"},
	{"observe", cmd_observe, "print the observed state as a JSON snapshot"},
	{"plan", cmd_plan, "print the plan and its token"},
	{"rollback", cmd_rollback, "switch a site back to its previous colour"},
	{"status", cmd_status, "live colour, version, image, health per site"},
	{"validate", cmd_validate, "check the configuration"},
	{"watch", cmd_watch, "run the reconciling daemon"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bluegreen [-c CONFIG_DIR] [--json] [--trace=AREAS] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < BG_ARRAY_SIZE(commands); i++) {
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	}
	fprintf(f, "\nCONFIG_DIR defaults to $BLUEGREEN_CONFIG, else the current directory\n"
			"when it holds global.conf, else /etc/bluegreen.\n");
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
	/* Once, before any thread: curl's lazy global init is not thread-safe. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "bluegreen: error: cannot initialise libcurl\n");
		return BG_EXIT_ERROR;
	}
	atexit(curl_global_cleanup);
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
			printf("bluegreen %s\n", BG_VERSION_STRING);
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
	for (size_t k = 0; k < BG_ARRAY_SIZE(commands); k++) {
		if (strcmp(argv[i], commands[k].name) == 0) {
			/* Verbs also accept --json after their name. */
			for (int j = i + 1; j < argc; j++) {
				if (strcmp(argv[j], "--") == 0) {
					break;
				}
				if (strcmp(argv[j], "--json") == 0) {
					cli.json = true;
				}
			}
			int rc = commands[k].fn(argc - i, argv + i, &cli);
			fflush(stdout);
			return rc;
		}
	}
	usage(stderr);
	return cli_usage_error(&cli, "unknown command '%s'", argv[i]);
}
