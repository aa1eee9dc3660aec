/*
 * cmd-status: `bluegreen status [SITE...]`. Per site: the live colour (as
 * the edge file says), its version and image, the health of its
 * containers, and what the other slot holds (a candidate waiting for the
 * switch, or the previous colour kept for rollback). Reads only.
 */
#include "bg.h"
#include "cli.h"
#include "desired.h"

#include <json-c/json.h>

struct slot_info {
	unsigned n, running, healthy, unhealthy;
	unsigned version;
	const char *image;
	const char *spec;
};

static void slot_info(const struct obs *o, const char *site, const char *colour,
		struct slot_info *si)
{
	memset(si, 0, sizeof(*si));
	if (!colour) {
		return;
	}
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (!c->site || strcmp(c->site, site) != 0 || !c->colour ||
				strcmp(c->colour, colour) != 0 || !c->role ||
				strcmp(c->role, "colour") != 0) {
			continue;
		}
		si->n++;
		si->running += c->state == OBS_CSTATE_RUNNING;
		si->healthy += c->health == OBS_HEALTH_HEALTHY;
		si->unhealthy += c->health == OBS_HEALTH_UNHEALTHY;
		if (!si->image || c->replica == 1) {
			si->version = c->version;
			si->image = c->image;
			si->spec = c->spec;
		}
	}
}

static char *health_word(const struct slot_info *si)
{
	if (si->n == 0) {
		return bg_xstrdup("no containers");
	}
	if (si->unhealthy) {
		return bg_xasprintf("unhealthy (%u/%u)", si->unhealthy, si->n);
	}
	if (si->running < si->n) {
		return bg_xasprintf("down (%u/%u running)", si->running, si->n);
	}
	if (si->healthy == si->n) {
		return bg_xasprintf("healthy (%u/%u)", si->healthy, si->n);
	}
	return bg_xasprintf("running (%u/%u)", si->running, si->n);
}

static struct json_object *slot_json(const char *colour, const struct slot_info *si, const char *role)
{
	if (!colour || si->n == 0) {
		return NULL;
	}
	struct json_object *o = json_object_new_object();
	char *h = health_word(si);
	json_object_object_add(o, "colour", json_object_new_string(colour));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "version", json_object_new_int((int)si->version));
	json_object_object_add(o, "image", si->image ? json_object_new_string(si->image) : NULL);
	json_object_object_add(o, "containers", json_object_new_int((int)si->n));
	json_object_object_add(o, "running", json_object_new_int((int)si->running));
	json_object_object_add(o, "health", json_object_new_string(h));
	free(h);
	return o;
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
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		}
		if (argv[i][0] == '-') {
			rc = cli_usage_error(cli, "status: unknown option '%s'", argv[i]);
			goto out;
		}
		bg_strv_push(&filter, argv[i]);
	}
	rc = cli_env_load(cli, &env, 0);
	if (!rc) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (!rc) {
		rc = cli_env_observe(cli, &env);
	}
	if (rc) {
		goto out;
	}
	for (size_t i = 0; i < filter.n; i++) {
		if (!cfg_site_find(env.cfg, filter.v[i])) {
			rc = cli_usage_error(cli, "status: no site named '%s'", filter.v[i]);
			goto out;
		}
	}
	cli_report_interrupted(cli, &env);
	des_build(&des, env.cfg, &env.obs, &d);
	struct json_object *root = json_object_new_object();
	struct json_object *sites = json_object_new_array();
	if (!cli->json) {
		fprintf(cli->out, "%-16s %-6s %-8s %-34s %-20s %s\n", "SITE", "LIVE", "VERSION",
				"IMAGE", "HEALTH", "OTHER COLOUR");
	}
	for (size_t i = 0; i < des.n_sites; i++) {
		const struct des_site *s = &des.sites[i];
		if (filter.n && !bg_strv_contains(&filter, s->name)) {
			continue;
		}
		const struct obs_edge *e = obs_edge_find(&env.obs, s->name);
		const char *live = e && e->exists && !e->error ? e->live : NULL;
		const char *other = live ? des_other_colour(live) : NULL;
		struct slot_info li, oi;
		slot_info(&env.obs, s->name, live, &li);
		slot_info(&env.obs, s->name, other, &oi);
		bool other_is_candidate = oi.n && oi.spec && strcmp(oi.spec, s->spec) == 0 &&
				!(li.spec && strcmp(li.spec, s->spec) == 0) && !s->rejected;
		const struct obs_hist_site *hs = obs_hist_find(&env.obs, s->name);
		bool other_rejected = oi.spec && hs && bg_strv_contains(&hs->rejected, oi.spec);
		const char *other_role = other_is_candidate ? "candidate"
				: other_rejected ? "rejected" : "previous";
		bool in_sync = li.spec && strcmp(li.spec, s->spec) == 0;
		char *lh = health_word(&li);
		if (cli->json) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "site", json_object_new_string(s->name));
			json_object_object_add(o, "live", live ? json_object_new_string(live) : NULL);
			json_object_object_add(o, "version", li.version
					? json_object_new_int((int)li.version) : NULL);
			json_object_object_add(o, "image", li.image ? json_object_new_string(li.image) : NULL);
			json_object_object_add(o, "health", json_object_new_string(live ? lh : "not deployed"));
			json_object_object_add(o, "candidate", other_is_candidate
					? slot_json(other, &oi, "candidate") : NULL);
			json_object_object_add(o, "previous", !other_is_candidate
					? slot_json(other, &oi, other_role) : NULL);
			json_object_object_add(o, "desired_rejected", json_object_new_boolean(s->rejected));
			json_object_object_add(o, "desired_version", json_object_new_int((int)s->version));
			json_object_object_add(o, "in_sync", json_object_new_boolean(in_sync));
			json_object_object_add(o, "edge_file", e && e->path ? json_object_new_string(e->path) : NULL);
			json_object_array_add(sites, o);
		} else {
			char ver[16] = "-";
			char *oh = NULL;
			if (li.version) {
				snprintf(ver, sizeof(ver), "v%u", li.version);
			}
			if (oi.n) {
				char *w = health_word(&oi);
				oh = bg_xasprintf("%s %s v%u, %s", other_role, other, oi.version, w);
				free(w);
			}
			fprintf(cli->out, "%-16s %-6s %-8s %-34s %-20s %s\n", s->name,
					live ? live : "-", ver, li.image ? li.image : "-",
					live ? lh : "not deployed", oh ? oh : "-");
			if (!in_sync && live && s->rejected) {
				fprintf(cli->out, "%-16s desired v%u was rolled back: not proposed again "
						"until %s changes (or `bluegreen plan --retry %s`)\n", "",
						s->version, s->cfg->path, s->name);
			} else if (!in_sync && live) {
				fprintf(cli->out, "%-16s desired v%u is not live yet: see `bluegreen plan %s`\n",
						"", s->version, s->name);
			}
			free(oh);
		}
		free(lh);
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
	rc = BG_EXIT_OK;
out:
	des_release(&des);
	bg_diag_release(&d);
	bg_strv_release(&filter);
	cli_env_release(&env);
	return rc;
}
