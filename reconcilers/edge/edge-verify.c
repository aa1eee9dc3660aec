/*
 * edge-verify: see edge-verify.h. The nginx listen value is read the way
 * nginx reads it: a port alone, ADDRESS:PORT, [IPV6]:PORT, or unix:PATH;
 * a wildcard address is asked on the loopback address.
 */
#include "bg.h"
#include "bg-util.h"
#include "edge-verify.h"

static char *nginx_base(const char *listen)
{
	size_t n = strcspn(listen, " \t");
	char *l = bg_xstrndup(listen, n);
	char *url = NULL;

	if (n && strspn(l, "0123456789") == n) {
		url = bg_xasprintf("http://127.0.0.1:%s", l);
	} else if (l[0] == '[') {
		char *end = strchr(l, ']');
		if (end && end[1] == ':') {
			*end = '\0';
			url = bg_xasprintf("http://[%s]:%s", strcmp(l + 1, "::") == 0 ? "::1" : l + 1,
					end + 2);
		}
	} else if (!bg_str_has_prefix(l, "unix:")) {
		char *colon = strrchr(l, ':');
		if (colon) {
			*colon = '\0';
			bool any = strcmp(l, "0.0.0.0") == 0 || strcmp(l, "*") == 0;
			url = bg_xasprintf("http://%s:%s", any ? "127.0.0.1" : l, colon + 1);
		}
	}
	free(l);
	return url;
}

char *edge_http_base(const struct cfg *cfg)
{
	if (!cfg || cfg->g.edge_kind != CFG_EDGE_NGINX) {
		return NULL;
	}
	return nginx_base(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
}
