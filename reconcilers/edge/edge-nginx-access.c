/*
 * edge-nginx-access: who may reach what through the nginx edge, rendered
 * into the site's file by edge-nginx.c: the preview host's protection
 * (preview_allow networks, preview_auth basic auth with nginx's
 * `satisfy any`) and the trusted proxies whose X-Forwarded-For names the
 * client (edge.nginx.real_ip_from). Pure: the same site and settings
 * always give the same bytes (docs/adr/0015).
 */
#include "bg.h"
#include "edge-int.h"

void edge__nginx_access_render(struct bg_buf *b, const struct cfg *cfg,
		const struct cfg_site *site)
{
	/* Filled in by issue 11's preview protection. */
	(void)b;
	(void)cfg;
	(void)site;
}

void edge__nginx_realip_render(struct bg_buf *b, const struct cfg *cfg)
{
	(void)b;
	(void)cfg;
}
