/*
 * cli: what every command receives, and the exit codes of SPEC §6. Each
 * verb is one function `int cmd_<verb>(int argc, char **argv, struct cli *)`
 * in cmd-<verb>.c and one row of the sorted table in main.c (git's
 * builtin.h + commands[]). argv[0] is the verb; options after it are the
 * verb's own. The exit codes (enum bg_exit) live in bg.h.
 */
#ifndef BG_CONTROLLER_CLI_H
#define BG_CONTROLLER_CLI_H

#include "bg.h"

struct cli {
	const char *config_dir_opt; /* -c DIR, NULL if not given */
	bool json;                  /* --json */
	bool color;                 /* stdout is a terminal and NO_COLOR is unset */
	FILE *out;                  /* stdout */
	FILE *err;                  /* stderr */
	/*
	 * Set by a verb that executes nothing and touches no state (validate,
	 * plan --observed): an untrusted configuration directory is a warning,
	 * not a refusal (a CI checkout owned by another uid, a umask-002 tree),
	 * and the state directory is not checked (it is not used).
	 */
	bool offline;
};

int cmd_apply(int argc, char **argv, struct cli *cli);
int cmd_attest(int argc, char **argv, struct cli *cli); /* issue 14 */
int cmd_backup(int argc, char **argv, struct cli *cli);
int cmd_backups(int argc, char **argv, struct cli *cli);
int cmd_cockpit(int argc, char **argv, struct cli *cli);
int cmd_history(int argc, char **argv, struct cli *cli);
int cmd_log(int argc, char **argv, struct cli *cli);
int cmd_logs(int argc, char **argv, struct cli *cli);
int cmd_observe(int argc, char **argv, struct cli *cli);
int cmd_plan(int argc, char **argv, struct cli *cli);
int cmd_rollback(int argc, char **argv, struct cli *cli);
int cmd_status(int argc, char **argv, struct cli *cli);
int cmd_validate(int argc, char **argv, struct cli *cli);
int cmd_versions(int argc, char **argv, struct cli *cli);
int cmd_watch(int argc, char **argv, struct cli *cli);

/* "bluegreen: error: ..." on cli->err; returns BG_EXIT_ERROR. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) BG_PRINTF(2, 3);
/* libcurl's global init, once per process and before any thread (its own
 * lazy init is not thread-safe); nonzero (message printed) when it fails.
 * Verbs that may hand their work to the watch daemon call it only when
 * they talk to Docker themselves: the hand-off saves its cost. */
int cli_curl_init(struct cli *cli);


/* ---- shared plumbing for the verbs (cli.c) ---- */

#include "cfg.h"
#include "hist.h"
#include "obs.h"
#include "plan.h"
#include "rt.h"

struct cli_env {
	char *dir;            /* config directory */
	struct cfg *cfg;
	struct rt *rt;        /* the container runtime, made on first use */
	struct hist *hist;
	struct obs obs;
	bool observed;
	size_t cfg_errors; /* errors found while loading (CFG_LOAD_PARTIAL keeps cfg) */
};

void cli_env_init(struct cli_env *env);
void cli_env_release(struct cli_env *env);

/*
 * The configuration directory (cfg_dir_resolve) into *out (a new string,
 * set even on failure, or NULL), refused unless bg_dir_trusted accepts it.
 * When it came from the current directory (no -c, no BLUEGREEN_CONFIG),
 * one line on cli->err says which directory is used. Returns 0, or
 * BG_EXIT_ERROR after printing why.
 */
int cli_config_dir(struct cli *cli, char **out);
/*
 * Resolve (cli_config_dir) and load the configuration; prints diagnostics
 * (warnings too) on cli->err. An existing state directory that
 * bg_dir_trusted refuses is refused here, before anything touches it.
 * Returns 0, or an exit code (BG_EXIT_ERROR) after printing.
 */
int cli_env_load(struct cli *cli, struct cli_env *env, unsigned cfg_flags);
/* Open the history (HIST_RDONLY or not); prints why on failure. */
int cli_env_hist(struct cli *cli, struct cli_env *env, unsigned hist_flags);
/* Observe Docker + edge + history into env->obs; prints why on failure. */
int cli_env_observe(struct cli *cli, struct cli_env *env);

/*
 * Say so when an apply was interrupted (crash, kill -9) and nobody holds the
 * lock now. Read-only: the next converger journals it.
 */
void cli_report_interrupted(struct cli *cli, struct cli_env *env);

/* Progress printer for apply: lines on out, transient status on a terminal only. */
void cli_progress(void *arg, const char *line, unsigned flags);

/*
 * When a `bluegreen watch` daemon holds the state lock, waiting for the lock
 * would never end: hand the token (or, with rollback_site, a rollback --yes)
 * to the daemon over its control socket (ctlsock.h); it converges through
 * the same apply_run and streams back the lines and the exit code, printed
 * here as if this command had converged itself. Returns true with *rc set
 * when a daemon took it (or refused us for a reason worth reporting); false
 * when no daemon listens, so the caller converges by itself.
 */
bool cli_handoff(struct cli *cli, struct cli_env *env, const char *token,
		const char *rollback_site, const struct bg_strv *confirms, uint64_t wait_ms,
		int *rc);

struct apply_opts;
/*
 * The converger shared by `apply` and `rollback --yes`: state lock (waiting
 * up to wait_ms, then naming the holder), history, interrupted-apply
 * report, apply_run, outcome printed. Returns an exit code.
 */
int cli_converge(struct cli *cli, struct cli_env *env, const struct apply_opts *opts,
		uint64_t wait_ms, const char *what);

/* Print a diagnostics list with a "bluegreen: " prefix on unlocated errors. */
void cli_print_diag(struct cli *cli, const struct bg_diag *d);

/* Print a plan (text or --json) to cli->out, and the apply hint in text. */
void cli_plan_print(struct cli *cli, const struct cfg *cfg, const struct plan *p);
/*
 * Mark which execution settings of p changed since the last apply recorded
 * in h (all of them when none was). A plan from a snapshot (--observed)
 * may come from another host and is not compared: it shows every setting.
 * A failure to read the record is a warning on cli->err.
 */
void cli_plan_exec_compare(struct cli *cli, struct hist *h, struct plan *p);
/* Exit code of a printed plan: 0 nothing to do, 2 changes, 1 blocked sites. */
int cli_plan_exit(const struct plan *p);
/*
 * Journal a printed plan and store what it was asked for, so `apply TOKEN`
 * can rebuild it. A history that cannot be written is a warning: the plan
 * itself stays valid (its token is recomputed at apply time).
 */
void cli_plan_journal(struct cli *cli, struct cli_env *env, const struct plan *p);

#endif /* BG_CONTROLLER_CLI_H */
