/*
 * cfg-secrets: a site's `secrets:` key (issue 17, docs/swarm.md): whether
 * its secret env values (env_file values, keys matching `redact`) reach
 * the containers as env (`as: env`, the default and the behaviour before
 * the key) or as files (`as: files`: Swarm secrets mounted at
 * /run/secrets/KEY, the env carrying KEY_FILE instead), and the owner and
 * mode of those files. Files need docker.mode swarm: one engine has no
 * secret store, so that combination is an error at `secrets.as`. The
 * table is here so that cfg-keys.c, near its size limit, only names it.
 */
#include "bg.h"
#include "cfg-int.h"

static const char *const secrets_as[] = {"env", "files", NULL};
/* The file modes offered: owner read, plus group, plus others. */
static const char *const secrets_modes[] = {"0400", "0440", "0444", NULL};

_Static_assert(sizeof(enum cfg_secrets_as) == sizeof(int), "enum as int");

#define S(field) offsetof(struct cfg_site, field)

const struct cfg__key cfg__secrets_keys[] = {
	{.name = "as", .type = K_ENUM, .off = S(secrets.as), .defs = secrets_as, .def = "env",
		.doc = "env: secret values in the environment; files (docker.mode swarm): Swarm "
		       "secrets mounted at /run/secrets/KEY, the environment gets KEY_FILE"},
	{.name = "uid", .type = K_INT, .off = S(secrets.uid), .def = "0", .min = 0,
		.max = 2147483647, .doc = "owner of the secret files (as: files)"},
	{.name = "gid", .type = K_INT, .off = S(secrets.gid), .def = "0", .min = 0,
		.max = 2147483647, .doc = "group of the secret files (as: files)"},
	{.name = "mode", .type = K_ENUM, .off = S(secrets.mode), .defs = secrets_modes,
		.def = "0400", .doc = "mode of the secret files (as: files): 0400, 0440 or 0444"},
	{0},
};

unsigned cfg_secrets_file_mode(const struct cfg_secrets *s)
{
	static const unsigned modes[] = {0400, 0440, 0444};
	return s->mode >= 0 && s->mode < 3 ? modes[s->mode] : 0400;
}

void cfg__secrets_check(const struct cfg_global *g, const struct cfg_site *s,
		const struct cfg__node *root, struct bg_diag *d)
{
	if (s->secrets.as != CFG_SECRETS_FILES || g->docker_mode == CFG_DOCKER_SWARM) {
		return;
	}
	const struct cfg__node *sn = cfg__map_get(root, "secrets");
	const struct cfg__node *as = cfg__map_get(sn, "as");
	struct bg_loc at = as ? as->loc : sn ? sn->loc : s->loc;
	bg_diag_error(d, &at, "secrets.as files needs docker.mode swarm in global.conf: the "
			"files are Swarm secrets, and one Docker engine has no secret store "
			"(write secrets.as: env, or keep the values in env_file)");
}
