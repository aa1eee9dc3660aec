/*
 * t-logs-args: the options of `bluegreen logs` (cmd-logs.c), called in
 * process: every refusal is a usage error (exit 1) naming what was wrong,
 * before any configuration is read; accepted options get past parsing to
 * the configuration (a directory that does not exist here). What the
 * options do against Docker is test/docker/t-logs.c.
 */
#include "bg.h"
#include "cli.h"
#include "th.h"

/* main.c's, which the library leaves out (main.c is not linked here). */
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

/* Run cmd_logs(argv) with -c pointing nowhere; *err gets its stderr. */
static int run(char **err, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	char *buf = NULL, *obuf = NULL;
	size_t len = 0, olen = 0;
	struct cli cli = {.config_dir_opt = "/nonexistent/bg-t-logs-args"};

	argv[argc++] = "logs";
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;) {
		if (strcmp(a, "--json") == 0) {
			cli.json = true;
			continue;
		}
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	cli.err = open_memstream(&buf, &len);
	cli.out = open_memstream(&obuf, &olen);
	int rc = cmd_logs(argc, argv, &cli);
	fclose(cli.err);
	fclose(cli.out);
	free(obuf);
	*err = buf;
	return rc;
}

static void refused(const char *want, ...)
{
	/* Up to three arguments, NULL-terminated. */
	va_list ap;
	char *a[4] = {NULL, NULL, NULL, NULL};
	va_start(ap, want);
	for (int i = 0; i < 3 && (a[i] = va_arg(ap, char *)) != NULL; i++) {
	}
	va_end(ap);
	char *err = NULL;
	assert_int_equal(run(&err, a[0], a[1], a[2], NULL), BG_EXIT_ERROR);
	th_assert_contains(err, want);
	th_assert_not_contains(err, "/nonexistent"); /* refused before loading */
	free(err);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("which site?", NULL);
	refused("which site?", "--tail", "5", NULL);
	refused("--tail takes a number of lines (1 or more), not '0'", "shop", "--tail", "0", NULL);
	refused("--tail takes a number of lines (1 or more), not 'x'", "shop", "--tail=x", NULL);
	refused("--tail takes a number", "shop", "--tail", "-3", NULL);
	refused("--since takes a duration such as 30s, 10m, 2h or 1d, not '10'", "shop",
			"--since", "10", NULL);
	refused("--since takes a duration", "shop", "--since=soon", NULL);
	refused("--colour takes blue, green, live or candidate, not 'red'", "shop",
			"--colour", "red", NULL);
	refused("--service and --colour do not go together", "shop", "--service=db",
			"--colour=blue", NULL);
	refused("unknown option '--bogus'", "shop", "--bogus", NULL);
	refused("unexpected argument 'other'", "shop", "other", NULL);
	refused("--json is not supported", "shop", "--json", NULL);
}

static void test_accepted(void **state)
{
	static const char *const ok[][4] = {
		{"shop", NULL},
		{"shop", "-f", "--timestamps", NULL},
		{"shop", "--follow", "--colour", "candidate"},
		{"shop", "--colour=green", "--tail=20", NULL},
		{"shop", "--since", "10m", NULL},
		{"--since=1d", "shop", "--service", "db"},
	};
	(void)state;
	for (size_t i = 0; i < BG_ARRAY_SIZE(ok); i++) {
		char *err = NULL;
		assert_int_equal(run(&err, ok[i][0], ok[i][1], ok[i][2], ok[i][3], NULL),
				BG_EXIT_ERROR);
		/* Past the options: it is the configuration that is missing. */
		th_assert_contains(err, "/nonexistent/bg-t-logs-args");
		th_assert_not_contains(err, "logs:");
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
