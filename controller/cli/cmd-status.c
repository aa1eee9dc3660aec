/*
 * cmd-status: `bluegreen status [SITE...]`. Per site: the live colour (as
 * the edge file says), its version and image, the health of its
 * containers, and what the other slot holds (a candidate waiting for the
 * switch, or the previous colour kept for rollback). Reads only.
 */
#include "bg.h"
#include "cli.h"
#include "desired.h"
#include "sview.h"
#include "status-limits.h"

#include <json-c/json.h>

/* The site's row of the table, and a line when the desired spec is not live. */
static void site_print(struct cli *cli, const struct sview *v)
{
	const struct des_site *s = v->s;
	char *lh = sview_health_word(&v->li);
	char ver[16] = "-";
	char *oh = NULL;
	if (v->li.version) {
		snprintf(ver, sizeof(ver), "v%u", v->li.version);
	}
	if (v->oi.n) {
		char *w = sview_health_word(&v->oi);
		oh = bg_xasprintf("%s %s v%u, %s", v->other_role, v->other, v->oi.version, w);
		free(w);
	}
	fprintf(cli->out, "%-16s %-6s %-8s %-34s %-20s %s\n", s->name,
			v->live ? v->live : "-", ver, v->li.image ? v->li.image : "-",
			v->live ? lh : "not deployed", oh ? oh : "-");
	if (!v->in_sync && v->live && s->rejected) {
		fprintf(cli->out, "%-16s desired v%u was rolled back: not proposed again "
				"until %s changes (or `bluegreen plan --retry %s`)\n", "",
				v->desired_version, s->cfg->path, s->name);
	} else if (!v->in_sync && v->live) {
		fprintf(cli->out, "%-16s desired v%u is not live yet: see `bluegreen plan %s`\n",
				"", v->desired_version, s->name);
	}
	char *tls = sview_tls_words(s->cfg, v->cert);
	if (tls) {
		fprintf(cli->out, "%-16s tls: %s\n", "", tls);
	}
	free(tls);
	free(oh);
	free(lh);
}

/* Every site of des (only those in filter, when it is not empty): a table or --json. */
static void status_print(struct cli *cli, struct rt *rt, const struct obs *o,
		const struct desired *des, const struct bg_strv *filter)
{
	struct json_object *root = json_object_new_object();
	struct json_object *sites = json_object_new_array();
	if (!cli->json) {
		fprintf(cli->out, "%-16s %-6s %-8s %-34s %-20s %s\n", "SITE", "LIVE", "VERSION",
				"IMAGE", "HEALTH", "OTHER COLOUR");
	}
	for (size_t i = 0; i < des->n_sites; i++) {
		const struct des_site *s = &des->sites[i];
		if (filter->n && !bg_strv_contains(filter, s->name)) {
			continue;
		}
		struct sview v;
		sview_fill(&v, o, des, s);
		/* Limits (issue 13): usage against the limit of each limited
		 * container; the key or lines appear only when there is one. */
		if (cli->json) {
			struct json_object *sj = sview_site_json(&v), *lim = status_limits_json(rt, o, s);
			if (lim) {
				json_object_object_add(sj, "limits", lim);
			}
			json_object_array_add(sites, sj);
		} else {
			site_print(cli, &v);
			status_limits_print(cli, rt, o, s);
		}
	}
	if (cli->json) {
		json_object_object_add(root, "sites", sites);
		fprintf(cli->out, "%s\n", json_object_to_json_string_ext(root,
				JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		json_object_put(sites);
	}
	json_object_put(root);
}

/* Site names into filter; BG_EXIT_ERROR after printing an unknown option. */
static int parse_args(int argc, char **argv, struct cli *cli, struct bg_strv *filter)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		}
		if (argv[i][0] == '-') {
			return cli_usage_error(cli, "status: unknown option '%s'", argv[i]);
		}
		bg_strv_push(filter, argv[i]);
	}
	return 0;
}

/*
 * Configuration, history (read-only) and observation into env, then every
 * name in filter checked against the configuration. Returns 0, or an exit
 * code after printing.
 */
static int status_observe(struct cli *cli, struct cli_env *env, const struct bg_strv *filter)
{
	int rc = cli_env_load(cli, env, 0);
	if (!rc) {
		rc = cli_env_hist(cli, env, HIST_RDONLY);
	}
	if (!rc) {
		rc = cli_env_observe(cli, env);
	}
	if (rc) {
		return rc;
	}
	for (size_t i = 0; i < filter->n; i++) {
		if (!cfg_site_find(env->cfg, filter->v[i])) {
			return cli_usage_error(cli, "status: no site named '%s'", filter->v[i]);
		}
	}
	return 0;
}

int cmd_status(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct bg_strv filter;
	struct desired des;
	struct bg_diag d;
	int rc;

	cli_env_init(&env);
	bg_strv_init(&filter);
	bg_diag_init(&d);
	memset(&des, 0, sizeof(des));
	rc = parse_args(argc, argv, cli, &filter);
	if (!rc) {
		rc = status_observe(cli, &env, &filter);
	}
	if (rc) {
		goto out;
	}
	cli_report_interrupted(cli, &env);
	des_build(&des, env.cfg, &env.obs, &d);
	status_print(cli, env.rt, &env.obs, &des, &filter);
	rc = BG_EXIT_OK;
out:
	des_release(&des);
	bg_diag_release(&d);
	bg_strv_release(&filter);
	cli_env_release(&env);
	return rc;
}
