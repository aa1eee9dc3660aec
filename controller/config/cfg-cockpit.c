/*
 * cfg-cockpit: the `cockpit:` key of global.conf (issue 15, docs/cockpit.md):
 * its table, its value language (a numeric listen address: the cockpit
 * never resolves a name, so what is checked here is what it binds), the rule
 * across keys a schema row cannot say (tls names both files or neither) and
 * the release. Only the values are read here; what `mode` and `users` do is
 * the cockpit's business.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <arpa/inet.h>

bool cfg_cockpit_listen_valid(const char *s)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char host[64];
	unsigned char bin[16];
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host)) {
		return false;
	}
	size_t pl = strlen(colon + 1);
	if (pl < 1 || pl > 5 || strspn(colon + 1, "0123456789") != pl ||
			strtoul(colon + 1, NULL, 10) > 65535) {
		return false;
	}
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']') {
			return false;
		}
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		return inet_pton(AF_INET6, host, bin) == 1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	return inet_pton(AF_INET, host, bin) == 1;
}

static const char *const cockpit_modes[] = {"safe", "admin", NULL};
static const char *const def_empty[] = {NULL};

const char *cfg_cockpit_mode_name(enum cfg_cockpit_mode m)
{
	return m == CFG_COCKPIT_ADMIN ? "admin" : "safe";
}

#define G(field) offsetof(struct cfg_global, field)

static const struct cfg__key cockpit_tls_keys[] = {
	{.name = "cert", .type = K_PATH, .off = G(cockpit.tls_cert), .off2 = G(cockpit.tls_cert_rel),
		.doc = "certificate chain (PEM) the cockpit serves HTTPS with; relative to the "
		       "config directory unless absolute"},
	{.name = "key", .type = K_PATH, .off = G(cockpit.tls_key), .off2 = G(cockpit.tls_key_rel),
		.doc = "its private key (PEM); must not be readable by group or others"},
	{0},
};

const struct cfg__key cfg__cockpit_keys[] = {
	{.name = "listen", .type = K_STR, .off = G(cockpit.listen), .def = "127.0.0.1:8077",
		.check = cfg_cockpit_listen_valid,
		.expect = "a numeric address and port such as 127.0.0.1:8077 or [::1]:8077",
		.doc = "address the cockpit listens on; --listen overrides it"},
	{.name = "mode", .type = K_ENUM, .off = G(cockpit.mode), .defs = cockpit_modes,
		.def = "safe", .doc = "safe (read-only) or admin; --safe overrides it"},
	{.name = "users", .type = K_PATH, .off = G(cockpit.users), .off2 = G(cockpit.users_rel),
		.doc = "users file (mode 0600): names, roles and password hashes; relative to "
		       "the config directory unless absolute"},
	{.name = "tls", .type = K_MAP, .sub = cockpit_tls_keys,
		.doc = "HTTPS for the cockpit itself: cert and key, both or neither"},
	{.name = "trusted_proxies", .type = K_STRLIST, .off = G(cockpit.trusted_proxies),
		.defs = def_empty, .check = bg_cidr_valid, .expect = "a network such as 10.0.0.0/8",
		.doc = "reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed "
		       "(by the address of the peer); [] believes none"},
	/* issue 15 (P): the publish directory of an unprivileged safe cockpit */
	{.name = "publish_dir", .type = K_PATH, .off = G(cockpit.publish_dir),
		.off2 = G(cockpit.publish_dir_rel),
		.doc = "directory (0750) where `bluegreen watch` publishes the status and the "
		       "journal for a safe cockpit run as another user; relative to the config "
		       "directory unless absolute; none: not published"},
	{.name = "group", .type = K_STR, .off = G(cockpit.group), .check = cfg_cockpit_group_valid,
		.expect = "a group name such as bluegreen-cockpit, or a numeric gid",
		.doc = "group that may read publish_dir (its files are 0640); none: the daemon's group"},
	{0},
};

void cfg__cockpit_check(const struct cfg__node *cockpit, struct bg_diag *d)
{
	const struct cfg__pair *tls = cfg__map_pair(cockpit, "tls");
	if (!tls || tls->val->kind != CFG__MAP) {
		return;
	}
	bool cert = cfg__map_get(tls->val, "cert") != NULL;
	bool key = cfg__map_get(tls->val, "key") != NULL;
	if (cert != key) {
		bg_diag_error(d, &tls->key->loc, "cockpit.tls has a %s but no %s: give both "
				"files (certificate chain and private key), or neither for plain HTTP",
				cert ? "cert" : "key", cert ? "key" : "cert");
	}
}

void cfg__cockpit_release(struct cfg_cockpit *c)
{
	free(c->listen);
	free(c->users);
	free(c->tls_cert);
	free(c->tls_key);
	bg_strv_release(&c->trusted_proxies);
	free(c->publish_dir); /* issue 15 (P) */
	free(c->group);
}

/* issue 15 (P): a group name as useradd allows it, or a numeric gid. */
bool cfg_cockpit_group_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 32) {
		return false;
	}
	if (strspn(s, "0123456789") == n) {
		return true;
	}
	return (s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')) &&
			strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}
