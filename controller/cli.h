/*
 * cli: what every command receives, and the exit codes of SPEC §6. Each
 * verb is one function `int cmd_<verb>(int argc, char **argv, struct cli *)`
 * in cmd-<verb>.c and one row of the sorted table in main.c (git's
 * builtin.h + commands[]). argv[0] is the verb; options after it are the
 * verb's own.
 */
#ifndef BG_CONTROLLER_CLI_H
#define BG_CONTROLLER_CLI_H

#include "bg.h"

enum bg_exit {
	BG_EXIT_OK = 0,       /* done / valid / nothing to do */
	BG_EXIT_ERROR = 1,    /* invalid config, usage, engine unreachable, ... */
	BG_EXIT_PENDING = 2,  /* plan: changes pending */
	BG_EXIT_TOKEN = 3,    /* apply: token stale, unknown or used */
	BG_EXIT_REFUSED = 4,  /* apply: install_mode missing, confirm phrase missing */
	BG_EXIT_FAILED = 5,   /* apply: convergence failed, live colour untouched */
};

struct cli {
	const char *config_dir_opt; /* -c DIR, NULL if not given */
	bool json;                  /* --json */
	bool color;                 /* stdout is a terminal and NO_COLOR is unset */
	FILE *out;                  /* stdout */
	FILE *err;                  /* stderr */
};

int cmd_apply(int argc, char **argv, struct cli *cli);
int cmd_history(int argc, char **argv, struct cli *cli);
int cmd_log(int argc, char **argv, struct cli *cli);
int cmd_observe(int argc, char **argv, struct cli *cli);
int cmd_plan(int argc, char **argv, struct cli *cli);
int cmd_rollback(int argc, char **argv, struct cli *cli);
int cmd_status(int argc, char **argv, struct cli *cli);
int cmd_validate(int argc, char **argv, struct cli *cli);
int cmd_watch(int argc, char **argv, struct cli *cli);

/* "bluegreen: error: ..." on cli->err; returns BG_EXIT_ERROR. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) BG_PRINTF(2, 3);

#endif /* BG_CONTROLLER_CLI_H */
