/*
 * cmd-attest: `bluegreen attest key | export SITE [--version N] | verify
 * FILE [--trust PUBKEY]...` (issue 14, attest.h). key prints the public
 * half of this install's signing key (made on first use; the private key
 * is never printed); export prints the newest attestation of SITE (or of
 * version N) that this install signed, for a production install's
 * promotion.attestations directory; verify checks one file: exit 0 when a
 * trusted key (--trust, else this install's own) signed it unchanged, 1
 * when it is refused or cannot be read.
 */
#include "bg.h"
#include "cli.h"
#include "attest.h"
#include "bg-err.h"
#include "bg-fs.h"

static int own_key(struct cli *cli, struct cli_env *env, struct attest_key **k, bool create)
{
	char *why = NULL;
	bool created = false;
	int rc = cli_env_load(cli, env, 0);

	if (rc) {
		return rc;
	}
	if (create) {
		struct bg_diag d;
		bg_diag_init(&d);
		int err = bg_state_dir_prepare(env->cfg->g.state_dir, &d);
		cli_print_diag(cli, &d);
		bg_diag_release(&d);
		if (err) {
			return BG_EXIT_ERROR;
		}
	}
	if (attest_key_open(env->cfg->g.state_dir, k, &created, &why) != 0) {
		fprintf(cli->err, "bluegreen: error: attestation key: %s\n", why);
		free(why);
		return BG_EXIT_ERROR;
	}
	if (created) {
		fprintf(cli->err, "bluegreen: made a new attestation key in %s/%s (mode 0600)\n",
				env->cfg->g.state_dir, ATTEST_KEY_FILE);
	}
	return 0;
}

static int attest_key_cmd(struct cli *cli)
{
	struct cli_env env;
	struct attest_key *k = NULL;
	char *pem = NULL;

	cli_env_init(&env);
	int rc = own_key(cli, &env, &k, true);
	if (!rc && attest_key_public_pem(k, &pem) == 0) {
		fputs(pem, cli->out);
	} else if (!rc) {
		rc = BG_EXIT_ERROR;
	}
	free(pem);
	attest_key_destroy(k);
	cli_env_release(&env);
	return rc;
}

static int attest_export(struct cli *cli, const char *site, unsigned version)
{
	struct cli_env env;
	struct attest_key *k = NULL;
	struct attest_claim c;
	char *path = NULL, *why = NULL, *text = NULL;

	cli_env_init(&env);
	attest_claim_init(&c);
	int rc = own_key(cli, &env, &k, false);
	if (rc) {
		goto out;
	}
	char *dir = bg_xasprintf("%s/%s", env.cfg->g.state_dir, ATTEST_DIR);
	int err = attest_find(dir, &k, 1, site, NULL, version, &c, &path, &why);
	free(dir);
	if (err) {
		fprintf(cli->err, "bluegreen: error: no attestation of '%s'%s signed by this "
				"install: %s\n", site, version ? " at that version" : "", why);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	if (bg_file_read(path, ATTEST_MAX_BYTES, &text, NULL) != 0) {
		fprintf(cli->err, "bluegreen: error: cannot read %s\n", path);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	fputs(text, cli->out);
out:
	free(text);
	free(path);
	free(why);
	attest_claim_release(&c);
	attest_key_destroy(k);
	cli_env_release(&env);
	return rc;
}

static int attest_verify_cmd(struct cli *cli, const char *file, const struct bg_strv *trust)
{
	struct cli_env env;
	struct attest_key **keys = bg_xcalloc(trust->n + 1, sizeof(*keys));
	size_t n = 0;
	struct attest_claim c;
	char *text = NULL, *why = NULL;
	size_t len = 0;
	int rc = 0;

	cli_env_init(&env);
	attest_claim_init(&c);
	for (size_t i = 0; i < trust->n; i++) {
		if (attest_pubkey_load(trust->v[i], &keys[n], &why) != 0) {
			fprintf(cli->err, "bluegreen: error: --trust %s\n", why);
			rc = BG_EXIT_ERROR;
			goto out;
		}
		n++;
	}
	if (!n) {
		rc = own_key(cli, &env, &keys[0], false);
		if (rc) {
			goto out;
		}
		n = 1;
	}
	int err = bg_file_read(file, ATTEST_MAX_BYTES, &text, &len);
	if (err) {
		fprintf(cli->err, "bluegreen: error: %s: %s\n", file, bg_strerror(err));
		rc = BG_EXIT_ERROR;
		goto out;
	}
	if (attest_verify(text, len, keys, n, &c, &why) != 0) {
		fprintf(cli->err, "bluegreen: error: %s: refused: %s\n", file, why);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	fprintf(cli->out, "%s: valid: site %s v%u, image %s (%s), spec %.12s, checks passed: ",
			file, c.site, c.version, c.image, c.image_id, c.spec);
	for (size_t i = 0; i < c.checks.n; i++) {
		fprintf(cli->out, "%s%s", i ? ", " : "", c.checks.v[i]);
	}
	fprintf(cli->out, "; signed by key %s on %s (%s) at %s\n", c.key_id, c.host, c.mode,
			c.time);
out:
	free(text);
	free(why);
	for (size_t i = 0; i < n; i++) {
		attest_key_destroy(keys[i]);
	}
	free(keys);
	attest_claim_release(&c);
	cli_env_release(&env);
	return rc;
}

int cmd_attest(int argc, char **argv, struct cli *cli)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *arg = NULL;
	unsigned version = 0;
	struct bg_strv trust;
	int rc;

	bg_strv_init(&trust);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0 && i + 1 < argc) {
			char *end;
			unsigned long v = strtoul(argv[++i], &end, 10);
			if (*end || !v || v > UINT32_MAX) {
				rc = cli_usage_error(cli, "attest: --version takes a version number");
				goto out;
			}
			version = (unsigned)v;
		} else if (strcmp(argv[i], "--trust") == 0 && i + 1 < argc) {
			bg_strv_push(&trust, argv[++i]);
		} else if (argv[i][0] == '-' || arg) {
			rc = cli_usage_error(cli, "attest: unexpected argument '%s'", argv[i]);
			goto out;
		} else {
			arg = argv[i];
		}
	}
	if (sub && strcmp(sub, "key") == 0 && !arg) {
		rc = attest_key_cmd(cli);
	} else if (sub && strcmp(sub, "export") == 0 && arg) {
		rc = attest_export(cli, arg, version);
	} else if (sub && strcmp(sub, "verify") == 0 && arg) {
		rc = attest_verify_cmd(cli, arg, &trust);
	} else {
		rc = cli_usage_error(cli, "usage: bluegreen attest key | attest export SITE "
				"[--version N] | attest verify FILE [--trust PUBKEY]...");
	}
out:
	bg_strv_release(&trust);
	return rc;
}
