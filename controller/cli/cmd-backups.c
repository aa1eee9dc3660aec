/*
 * cmd-backups: `bluegreen backups [SITE] [--json]`: the complete backups
 * of every site or of one, newest first, from the history (no lock, no
 * engine): id, site, age, size, parts, and whether the last verify found
 * every part right ("verified"), never ran ("not verified") or found one
 * missing or changed ("FAILED"). --json prints the manifests.
 */
#include "bg.h"
#include "bk.h"
#include "cli.h"

#include <json-c/json.h>

static const char *state_word(const struct bk_manifest *m)
{
	return m->verify_failed ? "FAILED" : m->verified_ms ? "verified" : "not verified";
}

static void age_text(int64_t ms, char *buf, size_t n)
{
	int64_t s = ms / 1000;
	if (s < 120) {
		snprintf(buf, n, "%" PRId64 "s", s);
	} else if (s < 7200) {
		snprintf(buf, n, "%" PRId64 "m", s / 60);
	} else if (s < 172800) {
		snprintf(buf, n, "%" PRId64 "h", s / 3600);
	} else {
		snprintf(buf, n, "%" PRId64 "d", s / 86400);
	}
}

static void list_json(struct cli *cli, const struct bk_manifest *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		struct bg_buf b = BG_BUF_INIT;
		bk_manifest_to_json(&v[i], &b);
		json_object_array_add(a, json_tokener_parse(b.data));
		bg_buf_release(&b);
	}
	fprintf(cli->out, "%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
				JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(a);
}

static int list(struct cli *cli, struct cli_env *env, const char *site)
{
	struct bk_manifest *v = NULL;
	struct bg_diag d;
	size_t n = 0;
	int64_t now = bg_now_ms();

	if (cli_env_hist(cli, env, HIST_RDONLY)) {
		return BG_EXIT_ERROR;
	}
	bg_diag_init(&d);
	int err = bk_list(env->hist, site, &v, &n, &d);
	cli_print_diag(cli, &d);
	bg_diag_release(&d);
	if (err) {
		return BG_EXIT_ERROR;
	}
	if (cli->json) {
		list_json(cli, v, n);
	} else if (!n) {
		fprintf(cli->out, "no backups%s%s\n", site ? " of " : "", site ? site : "");
	} else {
		fprintf(cli->out, "%-22s %-16s %6s %10s %5s  %s\n", "ID", "SITE", "AGE", "SIZE",
				"PARTS", "STATE");
		for (size_t i = 0; i < n; i++) {
			char age[32];
			age_text(now - v[i].started_ms, age, sizeof(age));
			fprintf(cli->out, "%-22s %-16s %6s %8.1fMi %5zu  %s\n", v[i].id, v[i].site,
					age, (double)v[i].total_bytes / 1048576.0, v[i].n_parts,
					state_word(&v[i]));
		}
	}
	bk_manifests_free(v, n);
	return BG_EXIT_OK;
}

int cmd_backups(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	const char *site = NULL;
	int rc;

	cli_env_init(&env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (argv[i][0] == '-' || site) {
			rc = cli_usage_error(cli, "backups: unexpected argument '%s' (usage: "
					"bluegreen backups [SITE] [--json])", argv[i]);
			goto out;
		} else {
			site = argv[i];
		}
	}
	rc = cli_env_load(cli, &env, 0);
	if (!rc) {
		rc = list(cli, &env, site);
	}
out:
	cli_env_release(&env);
	return rc;
}
