/*
 * cockpit-net: the client behind a request (peer, trusted proxies,
 * X-Forwarded-For/-Proto) and the TLS files (cockpit-net.h). Addresses
 * are compared as bytes after inet_pton, never as text, so "::ffff:10.0.0.1"
 * or a leading zero cannot slip past a CIDR.
 */
#include "cockpit-net.h"

#include "bg-fs.h"
#include "bg-util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <sys/stat.h>

/* Keys and certificates are small; anything larger is not one. */
#define CK_PEM_MAX (1u << 20)

/* addr into 16 bytes (IPv4 as ::ffff:a.b.c.d); false if not numeric. */
static bool ck_addr_bytes(const char *addr, unsigned char out[16])
{
	unsigned char v4[4];
	if (inet_pton(AF_INET6, addr, out) == 1) {
		return true;
	}
	if (inet_pton(AF_INET, addr, v4) != 1) {
		return false;
	}
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
	return true;
}

static bool ck_cidr_match(const char *cidr, const unsigned char a[16])
{
	char host[64];
	unsigned char net[16];
	const char *slash = strchr(cidr, '/');
	size_t hl = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (hl >= sizeof(host)) {
		return false;
	}
	memcpy(host, cidr, hl);
	host[hl] = '\0';
	if (!ck_addr_bytes(host, net)) {
		return false;
	}
	bool v4 = strchr(host, ':') == NULL;
	unsigned bits = slash ? (unsigned)strtoul(slash + 1, NULL, 10) : (v4 ? 32 : 128);
	bits += v4 ? 96 : 0;
	for (unsigned i = 0; i < 16 && bits; i++) {
		unsigned take = bits >= 8 ? 8 : bits;
		unsigned char mask = (unsigned char)(0xff << (8 - take));
		if ((a[i] & mask) != (net[i] & mask)) {
			return false;
		}
		bits -= take;
	}
	return true;
}

bool ck_addr_trusted(const struct bg_strv *trusted, const char *addr)
{
	unsigned char a[16];
	if (!trusted || !addr || !ck_addr_bytes(addr, a)) {
		return false;
	}
	for (size_t i = 0; i < trusted->n; i++) {
		if (ck_cidr_match(trusted->v[i], a)) {
			return true;
		}
	}
	return false;
}

bool ck_xff_client(const struct bg_strv *trusted, const char *xff, char out[64])
{
	char *copy = bg_xstrdup(xff ? xff : "");
	bool found = false;
	/* Right to left: each hop appends the address it saw. */
	for (;;) {
		char *comma = strrchr(copy, ',');
		char *item = comma ? comma + 1 : copy;
		item += strspn(item, " \t");
		item[strcspn(item, " \t")] = '\0';
		unsigned char a[16];
		if (!ck_addr_bytes(item, a)) {
			break; /* garbage: stop at the last address we could read */
		}
		snprintf(out, 64, "%s", item);
		found = true;
		if (!comma || !ck_addr_trusted(trusted, item)) {
			break;
		}
		*comma = '\0';
	}
	free(copy);
	return found;
}

static void ck_peer_addr(struct MHD_Connection *c, char out[64])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
			MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, 64, "?");
	if (ci && ci->client_addr) {
		socklen_t sl = ci->client_addr->sa_family == AF_INET6
				? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		getnameinfo(ci->client_addr, sl, out, 64, NULL, 0, NI_NUMERICHOST);
	}
}

void ck_client_get(const struct bg_strv *trusted, bool tls, struct MHD_Connection *c,
		struct ck_client *out)
{
	memset(out, 0, sizeof(*out));
	ck_peer_addr(c, out->peer);
	snprintf(out->addr, sizeof(out->addr), "%s", out->peer);
	out->secure = tls;
	out->proxied = ck_addr_trusted(trusted, out->peer);
	if (!out->proxied) {
		return;
	}
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	const char *proto = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-Proto");
	if (xff) {
		ck_xff_client(trusted, xff, out->addr);
	}
	if (proto) {
		/* The first hop's word: "https" or "https, http". */
		size_t n = strcspn(proto, ", \t");
		out->secure = n == 5 && strncasecmp(proto, "https", 5) == 0;
	}
}

int ck_tls_files_read(const char *cert, const char *key, struct ck_tls_files *out,
		struct bg_diag *d)
{
	struct stat st;
	const char *why = NULL;
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	int err = bg_file_read_safe(NULL, cert, CK_PEM_MAX, &out->cert, &len, NULL, &why);
	if (err) {
		bg_diag_error(d, NULL, "cockpit: tls.cert %s: %s", cert, why ? why : bg_strerror(err));
		return err;
	}
	err = bg_file_read_safe(NULL, key, CK_PEM_MAX, &out->key, &out->key_len, &st, &why);
	if (err) {
		bg_diag_error(d, NULL, "cockpit: tls.key %s: %s", key, why ? why : bg_strerror(err));
		ck_tls_files_release(out);
		return err;
	}
	if (st.st_mode & 077) {
		bg_diag_error(d, NULL, "cockpit: tls.key %s: readable by group or others (mode "
				"%04o): it is a private key, `chmod 600` it", key,
				(unsigned)(st.st_mode & 07777));
		ck_tls_files_release(out);
		return BG_EREFUSED;
	}
	return 0;
}

void ck_tls_files_release(struct ck_tls_files *t)
{
	if (!t) {
		return;
	}
	if (t->key) {
		explicit_bzero(t->key, t->key_len);
	}
	free(t->key);
	free(t->cert);
	memset(t, 0, sizeof(*t));
}
