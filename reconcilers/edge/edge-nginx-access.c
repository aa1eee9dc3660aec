/*
 * edge-nginx-access: who may reach what through the nginx edge, rendered
 * into the site's file by edge-nginx.c: the preview host's protection
 * (preview_allow networks, preview_auth basic auth with nginx's
 * `satisfy any`) and the trusted proxies whose X-Forwarded-For names the
 * client (edge.nginx.real_ip_from). Pure: the same site and settings
 * always give the same bytes (docs/adr/0015). The password is never in
 * the file: only the path of the htpasswd file edge-auth.c writes and a
 * tag of its line, so the file (and the plan) changes with the password.
 */
#include "bg.h"
#include "bg-buf.h"
#include "edge-int.h"

#include <arpa/inet.h>

/* "ADDR" or "ADDR/BITS" (IPv4 or IPv6), as cfg checked it: rechecked here
 * because it goes into the file as a bare word. */
static bool cidr_ok(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof(addr)) {
		return false;
	}
	memcpy(addr, s, n);
	addr[n] = '\0';
	bool v6 = strchr(addr, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) {
		return false;
	}
	if (!slash) {
		return true;
	}
	const char *b = slash + 1;
	if (!*b || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b)) {
		return false;
	}
	return atoi(b) <= (v6 ? 128 : 32);
}

static bool cidrs_ok(const struct bg_strv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		if (!cidr_ok(v->v[i])) {
			return false;
		}
	}
	return true;
}

/* A path nginx reads as one word: no quote, space, ';', '{', '$' (a
 * variable in auth_basic_user_file) or anything else that could end or
 * change the directive. */
static bool path_word_ok(const char *s)
{
	if (!s || s[0] != '/' || strlen(s) > 1024) {
		return false;
	}
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			"/._+@-") == strlen(s);
}

char *edge__nginx_auth_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/%s.htpasswd", cfg->g.nginx.auth_dir, site);
}

int edge__nginx_access_check(const struct cfg *cfg, const struct cfg_site *site)
{
	if (!cidrs_ok(&cfg->g.nginx.real_ip_from) || !cidrs_ok(&site->preview_allow)) {
		return BG_ECONFIG;
	}
	if (site->preview_auth.user && !path_word_ok(cfg->g.nginx.auth_dir)) {
		return BG_ECONFIG;
	}
	return 0;
}

void edge__nginx_access_render(struct bg_buf *b, const struct cfg *cfg,
		const struct cfg_site *site)
{
	bool auth = site->preview_auth.user != NULL;

	if (edge__nginx_access_check(cfg, site) != 0) {
		/* Never rendered after a failed check; if it were: nobody in. */
		bg_buf_adds(b, "\tdeny all;\n");
		return;
	}
	/*
	 * The listed networks pass; with preview_auth everyone else is asked
	 * for the password (satisfy any: either check suffices), without it
	 * everyone else gets 403.
	 */
	if (auth) {
		bg_buf_adds(b, "\tsatisfy any;\n");
	}
	for (size_t i = 0; i < site->preview_allow.n; i++) {
		bg_buf_addf(b, "\tallow %s;\n", site->preview_allow.v[i]);
	}
	bg_buf_adds(b, "\tdeny all;\n");
	if (!auth) {
		return;
	}
	char *path = edge__nginx_auth_path(cfg, site->name);
	char *tag = edge__auth_tag(site);
	bg_buf_addf(b, "\tauth_basic \"preview %s\";\n", site->name);
	bg_buf_addf(b, "\tauth_basic_user_file %s;\n", path);
	/* nginx reads the htpasswd file on every request: this line is for
	 * the file's checksum and the plan, which must see a new password. */
	bg_buf_addf(b, "\t# bluegreen-auth: %s\n", tag ? tag : "none");
	free(tag);
	free(path);
}

void edge__nginx_realip_render(struct bg_buf *b, const struct cfg *cfg)
{
	const struct bg_strv *from = &cfg->g.nginx.real_ip_from;

	if (!from->n || !cidrs_ok(from)) {
		return;
	}
	/*
	 * Only these proxies may name the client; recursive: the client is
	 * the last address in X-Forwarded-For that is not one of them, so a
	 * client cannot choose its address by sending the header itself.
	 */
	for (size_t i = 0; i < from->n; i++) {
		bg_buf_addf(b, "\tset_real_ip_from %s;\n", from->v[i]);
	}
	bg_buf_adds(b, "\treal_ip_header X-Forwarded-For;\n\treal_ip_recursive on;\n");
}

void edge__nginx_access_open_render(struct bg_buf *b)
{
	/* Rules of a location replace the server's; auth_basic off lifts the
	 * password, satisfy any then lets allow all decide. */
	bg_buf_adds(b, "\t\tallow all;\n\t\tauth_basic off;\n");
}
