/*
 * cli: what the verbs share: finding and loading the configuration with
 * every diagnostic printed, opening the history and the Docker client,
 * observing, and printing plans. Keeping it here means `plan`, `apply`,
 * `rollback` and the daemon print the same plan the same way.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cli.h"
#include "desired.h"
#include "apply.h"
#include "ctlsock.h"
#include "lock.h"
#include "rec.h"

#include <curl/curl.h>
#include <time.h>
#include <unistd.h>

void cli_env_init(struct cli_env *env)
{
	memset(env, 0, sizeof(*env));
	obs_init(&env->obs);
}

void cli_env_release(struct cli_env *env)
{
	if (!env) {
		return;
	}
	obs_release(&env->obs);
	hist_close(env->hist);
	rt_destroy(env->rt);
	cfg_destroy(env->cfg);
	free(env->dir);
	cli_env_init(env);
}

void cli_print_diag(struct cli *cli, const struct bg_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct bg_diag_item *it = &d->items[i];
		int n = bg_diag_item_format(it, NULL, 0);
		char *line = bg_xmalloc((size_t)n + 1);
		bg_diag_item_format(it, line, (size_t)n + 1);
		fprintf(cli->err, "%s%s\n", it->file ? "" : "bluegreen: ", line);
		free(line);
	}
}

int cli_config_dir(struct cli *cli, char **out)
{
	const char *env = getenv("BLUEGREEN_CONFIG");
	bool chosen = (cli->config_dir_opt && *cli->config_dir_opt) || (env && *env);
	struct bg_diag d;

	*out = NULL;
	int err = cfg_dir_resolve(cli->config_dir_opt, out);
	if (err) {
		fprintf(cli->err, "bluegreen: error: cannot find the configuration directory: %s\n",
				bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	/*
	 * A global.conf in the current directory decides everything (even
	 * where the state lives): say so, every time, so nobody acts on a
	 * configuration they did not mean. cfg_dir_resolve falls back on
	 * /etc/bluegreen when the current directory has none.
	 */
	if (!chosen && strcmp(*out, "/etc/bluegreen") != 0) {
		fprintf(cli->err, "bluegreen: using the configuration in %s (global.conf in the "
				"current directory; -c DIR or BLUEGREEN_CONFIG choose another)\n", *out);
	}
	bg_diag_init(&d);
	err = bg_dir_trusted(*out, "configuration directory", false, &d);
	if (err && err != BG_ERRNO(ENOENT) && cli->offline) {
		/* Nothing will be executed or written: say it, and go on. */
		for (size_t i = 0; i < d.n; i++) {
			fprintf(cli->err, "bluegreen: warning: %s (only read here: nothing is "
					"executed)\n", d.items[i].msg);
		}
	} else if (err && err != BG_ERRNO(ENOENT)) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: refusing the configuration in %s: nothing "
				"was read or changed\n", *out);
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	/* A missing directory is cfg_load's to report (it names the file it wanted). */
	bg_diag_release(&d);
	return 0;
}

/* An existing state directory must be trustworthy before anything reads or writes it. */
static int state_dir_check(struct cli *cli, const char *state_dir)
{
	struct bg_diag d;
	bg_diag_init(&d);
	int err = bg_dir_trusted(state_dir, "state directory", true, &d);
	if (err && err != BG_ERRNO(ENOENT)) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: refusing the state directory %s: nothing "
				"was read or changed\n", state_dir);
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	return 0;
}

int cli_env_load(struct cli *cli, struct cli_env *env, unsigned cfg_flags)
{
	struct bg_diag d;
	int rc = cli_config_dir(cli, &env->dir);
	if (rc) {
		return rc;
	}
	bg_diag_init(&d);
	int err = des_cfg_load(&env->cfg, env->dir, cfg_flags, &d);
	env->cfg_errors = d.n_errors;
	cli_print_diag(cli, &d);
	if (err && !(cfg_flags & CFG_LOAD_PARTIAL && env->cfg)) {
		fprintf(cli->err, "bluegreen: %s: invalid configuration (%zu error%s): nothing "
				"was changed\n", env->dir, d.n_errors, d.n_errors == 1 ? "" : "s");
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	return env->cfg && !cli->offline ? state_dir_check(cli, env->cfg->g.state_dir) : 0;
}

int cli_env_hist(struct cli *cli, struct cli_env *env, unsigned hist_flags)
{
	struct bg_diag d;
	bg_diag_init(&d);
	int err = hist_open(&env->hist, env->cfg->g.state_dir, hist_flags, &d);
	if (err) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: cannot open the history in %s: %s\n",
				env->cfg->g.state_dir, bg_strerror(err));
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	return 0;
}

int cli_curl_init(struct cli *cli)
{
	static bool done;

	if (done) {
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(cli->err, "bluegreen: error: cannot initialise libcurl\n");
		return BG_EXIT_ERROR;
	}
	atexit(curl_global_cleanup);
	done = true;
	return 0;
}

int cli_env_observe(struct cli *cli, struct cli_env *env)
{
	struct bg_diag d;
	int err;

	if (!env->rt) {
		if (cli_curl_init(cli) != 0) {
			return BG_EXIT_ERROR;
		}
		err = rt_open(&env->rt, &env->cfg->g);
		if (err) {
			fprintf(cli->err, "bluegreen: error: docker client: %s\n", bg_strerror(err));
			return BG_EXIT_ERROR;
		}
	}
	obs_release(&env->obs);
	bg_diag_init(&d);
	err = rec_observe(env->rt, env->cfg, env->hist, &env->obs, 0, &d);
	if (err) {
		cli_print_diag(cli, &d);
		if (d.n_errors == 0) {
			fprintf(cli->err, "bluegreen: error: cannot observe: %s\n", bg_strerror(err));
		}
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	env->observed = true;
	return 0;
}

void cli_plan_exec_compare(struct cli *cli, struct hist *h, struct plan *p)
{
	char *last = NULL;
	int err = hist_exec_settings_get(h, &last);
	if (err == 0 || err == BG_ENOT_FOUND) {
		err = plan_exec_compare(p, last);
	}
	if (err) {
		fprintf(cli->err, "bluegreen: warning: cannot read the execution settings of the "
				"last apply (%s): every setting is shown\n", bg_strerror(err));
	}
	free(last);
}

void cli_plan_print(struct cli *cli, const struct cfg *cfg, const struct plan *p)
{
	struct bg_buf out = BG_BUF_INIT;
	if (cli->json) {
		plan_render_json(p, cfg, &out);
		fputs(out.data, cli->out);
		bg_buf_release(&out);
		return;
	}
	plan_render_text(p, cfg, cli->color, &out);
	fputs(out.data, cli->out);
	if (plan_changes(p) > 0) {
		fprintf(cli->out, "\nTo apply exactly this plan:\n  bluegreen apply %s", p->token);
		for (size_t i = 0; i < p->n_sites; i++) {
			if (p->sites[i].needs_confirm) {
				fprintf(cli->out, " --confirm \"<confirm phrase of %s>\"", p->sites[i].site);
			}
		}
		fputc('\n', cli->out);
	} else if (p->errors.n == 0) {
		bool notes = p->notes.n > 0;
		for (size_t i = 0; i < p->n_sites; i++) {
			notes |= p->sites[i].notes.n > 0;
		}
		fprintf(cli->out, notes ? "\nNothing to do (see the notes above).\n"
					: "\nNothing to do: everything matches the configuration.\n");
	}
	bg_buf_release(&out);
}

int cli_plan_exit(const struct plan *p)
{
	if (p->errors.n) {
		return BG_EXIT_ERROR;
	}
	return plan_changes(p) ? BG_EXIT_PENDING : BG_EXIT_OK;
}

void cli_plan_journal(struct cli *cli, struct cli_env *env, const struct plan *p)
{
	struct bg_buf sum = BG_BUF_INIT;
	struct bg_diag d;
	int err = 0;

	if (!env->hist) {
		bg_diag_init(&d);
		err = hist_open(&env->hist, env->cfg->g.state_dir, 0, &d);
		bg_diag_release(&d);
	}
	if (!err) {
		/*
		 * While nobody converges (the lock is free), an apply left open is
		 * one whose process died: journal it as interrupted now, so a crash
		 * is recorded even when the next plan has nothing left to do.
		 */
		struct bg_lock *lk = NULL;
		if (lock_acquire(&lk, env->cfg->g.state_dir, "plan", 0, NULL) == 0) {
			char *report = NULL;
			if (apply_recover(env->hist, env->cfg->g.state_dir, &report)) {
				fprintf(cli->err, "bluegreen: warning: %s", report);
				free(report);
			}
			lock_release(lk);
		}
		char *args = plan_args_to_json(&p->args);
		plan_render_summary(p, &sum);
		struct hist_entry e = {
			.action = p->args.kind == PLAN_ROLLBACK ? "plan-rollback" : "plan",
			.token = (char *)p->token,
			.result = plan_changes(p) ? "pending" : "nothing-to-do",
			.details = sum.data,
			.site = p->args.sites.n == 1 ? p->args.sites.v[0] : NULL,
		};
		err = hist_plan_store(env->hist, p->token, args, sum.data);
		if (!err) {
			err = hist_append(env->hist, &e, NULL);
		}
		free(args);
	}
	if (err) {
		fprintf(cli->err, "bluegreen: warning: this plan was not journaled (%s in %s): "
				"it can still be applied\n", bg_strerror(err), env->cfg->g.state_dir);
	}
	bg_buf_release(&sum);
}

void cli_report_interrupted(struct cli *cli, struct cli_env *env)
{
	struct bg_strv open;
	char *holder = NULL;
	long pid = 0;

	if (!env->hist) {
		return;
	}
	bg_strv_init(&open);
	if (hist_applies_open(env->hist, &open) == 0 && open.n &&
			lock_holder(env->cfg->g.state_dir, &holder, &pid) == 0 && !holder) {
		for (size_t i = 0; i < open.n; i++) {
			fprintf(cli->err, "bluegreen: warning: apply %s was interrupted before it "
					"finished (crash or kill); the live colour is what the edge files "
					"say, and `bluegreen plan` shows what remains\n", open.v[i]);
		}
	}
	free(holder);
	bg_strv_release(&open);
}

void cli_progress(void *arg, const char *line, unsigned flags)
{
	struct cli *cli = arg;
	static bool pending;
	if (flags & REC_PROGRESS_TRANSIENT) {
		if (isatty(fileno(cli->err))) {
			fprintf(cli->err, "\r\033[K  %s", line);
			fflush(cli->err);
			pending = true;
		}
		return;
	}
	if (pending) {
		fprintf(cli->err, "\r\033[K");
		pending = false;
	}
	fprintf(cli->out, "%s\n", line);
	fflush(cli->out);
}

/*
 * The converger shared by `apply` and `rollback --yes`: lock, history,
 * recovery report, apply_run, and the outcome printed. Returns an exit code.
 */
int cli_converge(struct cli *cli, struct cli_env *env, const struct apply_opts *opts,
		uint64_t wait_ms, const char *what)
{
	struct bg_lock *lk = NULL;
	struct apply_outcome out;
	struct bg_diag d;
	char *report = NULL;
	int err;

	bg_diag_init(&d);
	apply_outcome_init(&out);
	err = bg_state_dir_ensure(env->cfg->g.state_dir);
	if (err) {
		fprintf(cli->err, "bluegreen: error: state directory %s: %s\n",
				env->cfg->g.state_dir, bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	err = lock_acquire(&lk, env->cfg->g.state_dir, what, wait_ms, &d);
	if (err) {
		cli_print_diag(cli, &d);
		bg_diag_release(&d);
		fprintf(cli->err, "bluegreen: error: another converger is running: nothing was "
				"changed\n");
		return BG_EXIT_ERROR;
	}
	int rc = cli_env_hist(cli, env, 0);
	if (rc) {
		lock_release(lk);
		return rc;
	}
	if (apply_recover(env->hist, env->cfg->g.state_dir, &report)) {
		fprintf(cli->err, "bluegreen: warning: %s", report);
		free(report);
	}
	if (cli_curl_init(cli) != 0) {
		lock_release(lk);
		return BG_EXIT_ERROR;
	}
	err = rt_open(&env->rt, &env->cfg->g);
	if (err) {
		lock_release(lk);
		fprintf(cli->err, "bluegreen: error: docker client: %s\n", bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	apply_run(env->cfg, env->rt, env->hist, opts, &out, &d);
	lock_release(lk);

	if (out.exit == BG_EXIT_OK) {
		fprintf(cli->out, "%s\n", out.message);
	} else {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: %s\n", out.message ? out.message : "failed");
		if (out.exit == BG_EXIT_TOKEN && out.have_plan) {
			struct cli_env tmp = *env;
			fputc('\n', cli->out);
			cli_plan_print(cli, env->cfg, &out.plan);
			/* The plan shown is journaled like any printed plan. */
			cli_plan_journal(cli, &tmp, &out.plan);
			env->hist = tmp.hist;
		}
	}
	rc = out.exit;
	apply_outcome_release(&out);
	bg_diag_release(&d);
	return rc;
}

/* How often to look for a daemon's socket while the daemon is starting. */
#define CLI_HANDOFF_STEP_MS 100

static bool no_daemon(int err)
{
	return err == BG_ERRNO(ENOENT) || err == BG_ERRNO(ECONNREFUSED) ||
			err == BG_ERRNO(ENAMETOOLONG);
}

/* Is the lock holder a watch daemon? ("pid N (watch, actor, since T)") */
static bool daemon_holds_lock(const char *state_dir)
{
	char *holder = NULL;
	bool watch = lock_holder(state_dir, &holder, NULL) == 0 && holder &&
			strstr(holder, "(watch,") != NULL;
	free(holder);
	return watch;
}

bool cli_handoff(struct cli *cli, struct cli_env *env, const char *token,
		const char *rollback_site, const struct bg_strv *confirms, uint64_t wait_ms,
		int *rc)
{
	struct ctls_request req;
	char *path = bg_xasprintf("%s/%s", env->cfg->g.state_dir, CTLS_SOCKET_NAME);
	bool handed = false;
	int err;

	ctls_request_init(&req);
	req.token = bg_xstrdup(token);
	req.rollback_site = bg_xstrdup(rollback_site);
	if (confirms) {
		bg_strv_copy(&req.confirms, confirms);
	}
	req.json = cli->json;
	req.color = cli->color;
	for (uint64_t waited = 0;; waited += CLI_HANDOFF_STEP_MS) {
		err = ctls_client_apply(path, &req, cli->out, cli->err, rc);
		if (!no_daemon(err) || err == BG_ERRNO(ENAMETOOLONG)) {
			break;
		}
		/* A daemon that holds the lock but is not listening yet is starting up. */
		if (waited >= wait_ms || !daemon_holds_lock(env->cfg->g.state_dir)) {
			break;
		}
		struct timespec ts = {.tv_nsec = CLI_HANDOFF_STEP_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (err == 0) {
		handed = true;
	} else if (!no_daemon(err)) {
		fprintf(cli->err, "bluegreen: error: cannot reach the watch daemon's control socket "
				"%s: %s: nothing was changed\n", path, bg_strerror(err));
		*rc = BG_EXIT_ERROR;
		handed = true;
	}
	ctls_request_release(&req);
	free(path);
	return handed;
}
