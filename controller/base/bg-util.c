/*
 * bg-util: implementations of the helpers declared in bg-util.h that are
 * neither memory (bg-mem.c), files (bg-fs.c) nor processes (bg-spawn.c):
 * string vectors and comparisons, SHA-256, clocks, durations and the
 * actor. Nothing here knows about bluegreen's domain.
 */
#include "bg.h"
#include "bg-util.h"
#include "bg-err.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

void bg_strv_init(struct bg_strv *sv)
{
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

void bg_strv_release(struct bg_strv *sv)
{
	if (!sv) {
		return;
	}
	for (size_t i = 0; i < sv->n; i++) {
		free(sv->v[i]);
	}
	free(sv->v);
	bg_strv_init(sv);
}

void bg_strv_push_take(struct bg_strv *sv, char *s)
{
	BG_GROW(sv->v, sv->cap, sv->n + 2);
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void bg_strv_push(struct bg_strv *sv, const char *s)
{
	bg_strv_push_take(sv, bg_xstrdup(s));
}

void bg_strv_copy(struct bg_strv *dst, const struct bg_strv *src)
{
	for (size_t i = 0; i < src->n; i++) {
		bg_strv_push(dst, src->v[i]);
	}
}

bool bg_strv_contains(const struct bg_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++) {
		if (strcmp(sv->v[i], s) == 0) {
			return true;
		}
	}
	return false;
}

bool bg_strv_equal(const struct bg_strv *a, const struct bg_strv *b)
{
	if (a->n != b->n) {
		return false;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], b->v[i]) != 0) {
			return false;
		}
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void bg_strv_sort(struct bg_strv *sv)
{
	if (sv->n > 1) {
		qsort(sv->v, sv->n, sizeof(*sv->v), cmp_str);
	}
}

bool bg_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool bg_str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool bg_str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

unsigned bg_str_distance(const char *a, const char *b, unsigned max)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64) {
		return max + 1;
	}
	unsigned row[65];
	for (size_t j = 0; j <= lb; j++) {
		row[j] = (unsigned)j;
	}
	for (size_t i = 1; i <= la; i++) {
		unsigned prev = row[0];
		row[0] = (unsigned)i;
		unsigned best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned cur = row[j];
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = prev + cost;
			if (row[j] + 1 < v) {
				v = row[j] + 1;
			}
			if (row[j - 1] + 1 < v) {
				v = row[j - 1] + 1;
			}
			row[j] = v;
			prev = cur;
			if (v < best) {
				best = v;
			}
		}
		if (best > max) {
			return max + 1;
		}
	}
	return row[lb] > max ? max + 1 : row[lb];
}

bool bg_ct_streq(const char *given, const char *expected)
{
	/*
	 * Hash both sides first: the comparison then always covers 32 bytes,
	 * so neither the position of the first difference nor the length of
	 * the expected value leaks through timing.
	 */
	unsigned char hg[32], he[32];
	unsigned int lg = 0, le = 0;
	EVP_Digest(given, strlen(given), hg, &lg, EVP_sha256(), NULL);
	EVP_Digest(expected, strlen(expected), he, &le, EVP_sha256(), NULL);
	return CRYPTO_memcmp(hg, he, sizeof(hg)) == 0;
}

void bg_hex_encode(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *d = in;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool bg_hex_decode(const char *in, void *out, size_t n)
{
	unsigned char *o = out;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(in[2 * i]);
		int lo = hi < 0 ? -1 : hex_digit(in[2 * i + 1]); /* never past a NUL */
		if (lo < 0) {
			return false;
		}
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

void bg_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL)) {
		BG_BUG("EVP_Digest failed");
	}
	bg_hex_encode(md, 32, hex);
}

struct bg_sha256 {
	EVP_MD_CTX *ctx;
};

struct bg_sha256 *bg_sha256_new(void)
{
	struct bg_sha256 *h = bg_xmalloc(sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
		BG_BUG("EVP_DigestInit_ex failed");
	}
	return h;
}

void bg_sha256_update(struct bg_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void bg_sha256_update_str(struct bg_sha256 *h, const char *s)
{
	if (!s) {
		s = "";
	}
	EVP_DigestUpdate(h->ctx, s, strlen(s) + 1);
}

void bg_sha256_final_hex(struct bg_sha256 *h, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex(h->ctx, md, &n);
	EVP_MD_CTX_free(h->ctx);
	free(h);
	bg_hex_encode(md, 32, hex);
}

int64_t bg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bg_time_format_utc(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	/* Bounded fields keep -Wformat-truncation provably satisfied. */
	snprintf(buf, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
			(unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
			(unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
			(unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
			(unsigned)(ms % 1000));
}

int bg_duration_parse(const char *s, uint64_t *ms)
{
	const char *p = s;
	uint64_t v = 0;
	if (!isdigit((unsigned char)*p)) {
		return BG_EPARSE;
	}
	while (isdigit((unsigned char)*p)) {
		if (v > UINT64_MAX / 10 - 10) {
			return BG_EPARSE;
		}
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	uint64_t mult;
	if (strcmp(p, "ms") == 0) {
		mult = 1;
	} else if (strcmp(p, "s") == 0) {
		mult = 1000;
	} else if (strcmp(p, "m") == 0) {
		mult = 60 * 1000;
	} else if (strcmp(p, "h") == 0) {
		mult = 3600 * 1000;
	} else if (strcmp(p, "d") == 0) {
		mult = 24 * 3600 * 1000;
	} else {
		return BG_EPARSE;
	}
	if (v > UINT64_MAX / mult) {
		return BG_EPARSE;
	}
	*ms = v * mult;
	return 0;
}

void bg_duration_format(uint64_t ms, char buf[32])
{
	if (ms && ms % 86400000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "d", ms / 86400000);
	} else if (ms && ms % 3600000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "h", ms / 3600000);
	} else if (ms && ms % 60000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "m", ms / 60000);
	} else if (ms && ms % 1000 == 0) {
		snprintf(buf, 32, "%" PRIu64 "s", ms / 1000);
	} else {
		snprintf(buf, 32, "%" PRIu64 "ms", ms);
	}
}

static char actor_buf[256];
static char actor_claim[64];
static pthread_once_t actor_once = PTHREAD_ONCE_INIT;

/*
 * The actor is who the kernel says runs us: the real uid (getuid, which
 * sudo sets and a setuid bit does not change), by name, else "uid N".
 * $SUDO_USER is anyone's to set, so it is only kept beside it as a claim,
 * cut to 32 bytes of [A-Za-z0-9._-] (others become '?') so that it cannot
 * forge a line or a field of the journal.
 */
char *bg_actor_of_uid(long uid)
{
	char host[128] = "localhost", pwbuf[1024];
	struct passwd pw, *res = NULL;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (uid < 0) {
		return bg_xasprintf("unknown uid@%s", host);
	}
	if (getpwuid_r((uid_t)uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res &&
			res->pw_name && *res->pw_name) {
		return bg_xasprintf("%s@%s", res->pw_name, host);
	}
	return bg_xasprintf("uid %ld@%s", uid, host);
}

static void actor_init(void)
{
	const char *sudo = getenv("SUDO_USER");
	char *me = bg_actor_of_uid((long)getuid());

	snprintf(actor_buf, sizeof(actor_buf), "%s", me);
	free(me);
	for (size_t i = 0; sudo && sudo[i] && i < 32; i++) {
		char ch = sudo[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				(ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		actor_claim[i] = ok ? ch : '?';
	}
}

const char *bg_actor(void)
{
	/* Threads may journal (the daemon applies in a worker): initialise once. */
	pthread_once(&actor_once, actor_init);
	return actor_buf;
}

const char *bg_actor_claimed(void)
{
	pthread_once(&actor_once, actor_init);
	return actor_claim[0] ? actor_claim : NULL;
}

bool bg_cidr_valid(const char *s)
{
	char addr[64];
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
	size_t digits = strspn(b, "0123456789");
	if (digits == 0 || digits > 3 || b[digits] != '\0') {
		return false;
	}
	return strtoul(b, NULL, 10) <= (v6 ? 128u : 32u);
}

bool bg_quoted_path_valid(const char *s)
{
	if (!s || !s[0] || strlen(s) > 1024) {
		return false;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '$') {
			return false;
		}
	}
	return true;
}
