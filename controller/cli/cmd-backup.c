/*
 * cmd-backup: `bluegreen backup SITE` (one backup now, journaled as action
 * "backup") and `bluegreen backup verify ID` (recompute every part's
 * hash). The list, `bluegreen backups`, is cmd-backups.c.
 *
 * A backup takes the state lock, like apply: a backup taken while an
 * apply replaces containers or restores volumes would catch a half state,
 * and retention must not race another backup of the same site. When the
 * watch daemon holds the lock the backup waits --wait seconds and then
 * says who holds it. Verify needs no lock (it writes only its own
 * record, in one LMDB transaction).
 */
#include "bg.h"
#include "bk.h"
#include "cli.h"
#include "bg-fs.h"
#include "lock.h"


static void journal(struct hist *h, const char *site, const char *result, const char *details)
{
	struct hist_entry e = {.action = (char *)"backup", .site = (char *)site,
		.result = (char *)result, .details = (char *)details};
	hist_append(h, &e, NULL);
}

static int backup_now(struct cli *cli, struct cli_env *env, const struct cfg_site *site,
		uint64_t wait_ms, bool compress)
{
	struct bg_lock *lk = NULL;
	struct bk_manifest m = {0};
	struct bk_opts opts = {.why = "manual", .compress = compress};
	struct bg_diag d;
	size_t pruned = 0;
	char *what = bg_xasprintf("backup %s", site->name);
	int err, rc = BG_EXIT_ERROR;

	bg_diag_init(&d);
	err = bg_state_dir_ensure(env->cfg->g.state_dir);
	err = err ? err : lock_acquire(&lk, env->cfg->g.state_dir, what, wait_ms, &d);
	if (err) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: cannot take the state lock for a backup: %s\n",
				bg_strerror(err));
		goto out;
	}
	if (cli_env_hist(cli, env, 0) || cli_env_observe(cli, env)) {
		goto out;
	}
	int64_t t0 = bg_mono_ms();
	err = bk_create(env->rt, env->cfg, site, &env->obs, env->hist, &opts, &m, &d);
	if (err) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: backup of %s failed: %s (nothing was kept)\n",
				site->name, bg_strerror(err));
		char *det = bg_xasprintf("failed: %s", d.n ? d.items[0].msg : bg_strerror(err));
		journal(env->hist, site->name, "failed", det);
		free(det);
		goto out;
	}
	bg_diag_release(&d);
	bg_diag_init(&d);
	if (bk_prune(env->cfg, site, env->hist, &pruned, &d) != 0) {
		cli_print_diag(cli, &d); /* the backup itself is good */
	}
	char *det = bg_xasprintf("%s: %zu parts, %" PRIu64 " bytes, %" PRIu64 " ms, %zu pruned",
			m.id, m.n_parts, m.total_bytes, m.duration_ms, pruned);
	journal(env->hist, site->name, "ok", det);
	free(det);
	fprintf(cli->out, "backup %s of %s: %zu parts, %.1f MiB, %.1f s%s\n", m.id, site->name,
			m.n_parts, (double)m.total_bytes / 1048576.0,
			(double)(bg_mono_ms() - t0) / 1000.0, opts.compress ? ", gzip" : "");
	if (pruned) {
		fprintf(cli->out, "retention: %zu older backup%s removed\n", pruned,
				pruned == 1 ? "" : "s");
	}
	rc = BG_EXIT_OK;
out:
	lock_release(lk);
	bk_manifest_release(&m);
	bg_diag_release(&d);
	free(what);
	return rc;
}

static int verify(struct cli *cli, struct cli_env *env, const char *id)
{
	struct bg_diag d;
	int err;

	if (cli_env_hist(cli, env, 0)) {
		return BG_EXIT_ERROR;
	}
	bg_diag_init(&d);
	err = bk_verify(env->cfg, env->hist, id, &d);
	cli_print_diag(cli, &d);
	bg_diag_release(&d);
	if (err) {
		fprintf(cli->err, "bluegreen: error: backup %s: %s\n", id, bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	fprintf(cli->out, "backup %s: every part matches its manifest\n", id);
	return BG_EXIT_OK;
}

int cmd_backup(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	const char *args[2] = {NULL, NULL};
	uint64_t wait_ms = 10000;
	bool compress = true;
	size_t n = 0;
	int rc;

	cli_env_init(&env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--no-compress") == 0) {
			compress = false;
		} else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			wait_ms = strtoull(argv[++i], NULL, 10) * 1000;
		} else if (argv[i][0] == '-' || n == 2) {
			rc = cli_usage_error(cli, "backup: unexpected argument '%s' (usage: "
					"bluegreen backup SITE [--no-compress] | backup verify ID)", argv[i]);
			goto out;
		} else {
			args[n++] = argv[i];
		}
	}
	bool is_verify = n == 2 && strcmp(args[0], "verify") == 0;
	if (n == 0 || (n == 2 && !is_verify)) {
		rc = cli_usage_error(cli, "backup: usage: bluegreen backup SITE [--no-compress] [--wait SECONDS] | "
				"backup verify ID");
		goto out;
	}
	rc = cli_env_load(cli, &env, 0);
	if (rc) {
		goto out;
	}
	if (is_verify) {
		rc = verify(cli, &env, args[1]);
		goto out;
	}
	const struct cfg_site *site = cfg_site_find(env.cfg, args[0]);
	if (!site) {
		rc = cli_usage_error(cli, "backup: no site named '%s' in %s", args[0], env.dir);
		goto out;
	}
	rc = backup_now(cli, &env, site, wait_ms, compress);
out:
	cli_env_release(&env);
	return rc;
}
