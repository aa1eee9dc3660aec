/*
 * cockpit-net: who is asking, and over what (docs/cockpit.md "TLS" and
 * "Behind a reverse proxy"). The client's address is the TCP peer's,
 * unless the peer is one of cockpit.trusted_proxies: then it is the
 * nearest untrusted address of X-Forwarded-For, and X-Forwarded-Proto
 * says whether the browser's side is HTTPS. Anyone else's X-Forwarded-*
 * is ignored, so a client cannot claim another address or a secure
 * channel. Also the cockpit's own TLS files, read as secrets are.
 */
#ifndef BG_CONTROLLER_COCKPIT_NET_H
#define BG_CONTROLLER_COCKPIT_NET_H

#include "cockpit.h"
#include "bg-util.h"

struct MHD_Connection;
struct cfg_cockpit;

struct ck_client {
	char peer[64]; /* the TCP peer, numeric */
	char addr[64]; /* the client: peer, or X-Forwarded-For's from a trusted proxy */
	bool proxied;  /* the peer is a trusted proxy */
	/* The browser's channel is HTTPS: our own TLS, or a trusted proxy's
	 * X-Forwarded-Proto: https. A session cookie gets Secure when true. */
	bool secure;
};

/* Fill *out for connection c of a cockpit serving with tls on or off. */
void ck_client_get(const struct bg_strv *trusted, bool tls, struct MHD_Connection *c,
		struct ck_client *out);
/* Whether the numeric address addr lies in one of the CIDRs of trusted. */
bool ck_addr_trusted(const struct bg_strv *trusted, const char *addr);
/*
 * The client's address from an X-Forwarded-For value sent by a trusted
 * peer: walking from the right, the first address not in trusted (all
 * trusted: the leftmost). false when xff holds no valid address.
 */
bool ck_xff_client(const struct bg_strv *trusted, const char *xff, char out[64]);

/*
 * Read the cockpit's certificate and key (PEM) for MHD_OPTION_HTTPS_MEM_*:
 * regular files only, no symbolic link followed, and the key refused when
 * group or others may read it (it is a secret; say `chmod 600`). The key's
 * text is wiped when freed (ck_tls_files_release). Errors go to d.
 */
struct ck_tls_files {
	char *cert, *key;
	size_t key_len;
};
int ck_tls_files_read(const char *cert, const char *key, struct ck_tls_files *out,
		struct bg_diag *d);
void ck_tls_files_release(struct ck_tls_files *t);

#endif /* BG_CONTROLLER_COCKPIT_NET_H */
