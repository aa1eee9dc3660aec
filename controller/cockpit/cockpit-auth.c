/*
 * cockpit-auth: the users file and password hashes (cockpit-auth.h). The
 * file is parsed by hand because it is our own four-field format, one
 * user per line; it is read only through bg_file_read_safe (no link
 * followed, regular files only) and refused unless its mode is exactly
 * 0600 and it is ours: a users file anyone else can read gives away
 * hashes, one anyone else can write gives away admin.
 */
#include "cockpit-auth.h"

#include "bg-buf.h"
#include "bg-fs.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

/* The users file is a few lines per user: anything larger is refused. */
#define CK_USERS_MAX (1u << 20)
/* scrypt's memory bound: 128 * r * N plus room (EVP_PBE_scrypt's default is 32 MiB). */
#define CK_SCRYPT_MAXMEM (64u << 20)

void ck_users_init(struct ck_users *u)
{
	memset(u, 0, sizeof(*u));
}

static void ck_user_release(struct ck_user *x)
{
	free(x->name);
	bg_strv_release(&x->sites);
	if (x->hash) {
		explicit_bzero(x->hash, strlen(x->hash));
	}
	free(x->hash);
}

void ck_users_release(struct ck_users *u)
{
	if (!u) {
		return;
	}
	for (size_t i = 0; i < u->n; i++) {
		ck_user_release(&u->v[i]);
	}
	free(u->v);
	ck_users_init(u);
}

bool ck_user_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 32 || !((name[0] >= 'a' && name[0] <= 'z') ||
			(name[0] >= '0' && name[0] <= '9'))) {
		return false;
	}
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
				c == '-')) {
			return false;
		}
	}
	return true;
}

const char *ck_role_name(enum ck_role role)
{
	return role == CK_ROLE_ADMIN ? "admin" : "viewer";
}

int ck_role_parse(const char *s, enum ck_role *out)
{
	if (s && strcmp(s, "admin") == 0) {
		*out = CK_ROLE_ADMIN;
	} else if (s && strcmp(s, "viewer") == 0) {
		*out = CK_ROLE_VIEWER;
	} else {
		return BG_ERRNO(EINVAL);
	}
	return 0;
}

const struct ck_user *ck_users_find(const struct ck_users *u, const char *name)
{
	for (size_t i = 0; u && name && i < u->n; i++) {
		if (strcmp(u->v[i].name, name) == 0) {
			return &u->v[i];
		}
	}
	return NULL;
}

void ck_users_put(struct ck_users *u, const char *name, enum ck_role role,
		const struct bg_strv *sites, const char *hash)
{
	struct ck_user *x = (struct ck_user *)ck_users_find(u, name);
	if (x) {
		ck_user_release(x);
	} else {
		BG_GROW(u->v, u->cap, u->n + 1);
		x = &u->v[u->n++];
	}
	memset(x, 0, sizeof(*x));
	x->name = bg_xstrdup(name);
	x->role = role;
	bg_strv_init(&x->sites);
	if (sites && role == CK_ROLE_VIEWER) {
		bg_strv_copy(&x->sites, sites);
	}
	x->hash = bg_xstrdup(hash);
}

bool ck_users_del(struct ck_users *u, const char *name)
{
	struct ck_user *x = (struct ck_user *)ck_users_find(u, name);
	if (!x) {
		return false;
	}
	ck_user_release(x);
	size_t i = (size_t)(x - u->v);
	memmove(&u->v[i], &u->v[i + 1], (u->n - i - 1) * sizeof(*x));
	u->n--;
	return true;
}

bool ck_user_sees(const struct ck_user *u, const char *site)
{
	return u && site && (u->role == CK_ROLE_ADMIN || bg_strv_contains(&u->sites, site));
}

/* ---- the file ---- */

/* "a,b" into sites; every name must be a site name ([a-z0-9][a-z0-9-]*). */
static bool ck_sites_parse(const char *s, struct bg_strv *sites)
{
	const char *p = s;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *one = bg_xstrndup(p, n);
		bool ok = n > 0 && n <= 63 && ((one[0] >= 'a' && one[0] <= 'z') ||
				(one[0] >= '0' && one[0] <= '9'));
		for (size_t i = 0; ok && i < n; i++) {
			ok = (one[i] >= 'a' && one[i] <= 'z') || (one[i] >= '0' && one[i] <= '9') ||
					one[i] == '-';
		}
		if (!ok) {
			free(one);
			return false;
		}
		bg_strv_push_take(sites, one);
		p = comma ? comma + 1 : p + n;
	}
	return sites->n > 0;
}

/* One line "NAME ROLE SITES HASH" into u; the reason for a bad one in *why. */
static bool ck_users_line(struct ck_users *u, char *line, const char **why)
{
	char *f[5] = {0}, *save = NULL;
	size_t n = 0;
	for (char *t = strtok_r(line, " \t", &save); t && n < 5; t = strtok_r(NULL, " \t", &save)) {
		f[n++] = t;
	}
	enum ck_role role;
	struct bg_strv sites;
	bg_strv_init(&sites);
	*why = "expected `NAME ROLE SITES HASH`";
	if (n != 4) {
		return false;
	}
	*why = "not a user name ([a-z0-9][a-z0-9._-], at most 32)";
	if (!ck_user_name_ok(f[0])) {
		return false;
	}
	*why = "the role is `viewer` or `admin`";
	if (ck_role_parse(f[1], &role) != 0) {
		return false;
	}
	*why = role == CK_ROLE_ADMIN ? "an admin's sites are `-` (an admin sees every site)"
				     : "a viewer's sites are `a,b,...` (site names)";
	if (role == CK_ROLE_ADMIN ? strcmp(f[2], "-") != 0 : !ck_sites_parse(f[2], &sites)) {
		bg_strv_release(&sites);
		return false;
	}
	*why = "the hash is not `scrypt$...`";
	if (!bg_str_has_prefix(f[3], "scrypt$")) {
		bg_strv_release(&sites);
		return false;
	}
	*why = "this user is listed twice";
	if (ck_users_find(u, f[0])) {
		bg_strv_release(&sites);
		return false;
	}
	ck_users_put(u, f[0], role, &sites, f[3]);
	bg_strv_release(&sites);
	return true;
}

int ck_users_load(struct ck_users *u, const char *path, struct bg_diag *d)
{
	char *text = NULL;
	struct stat st;
	const char *why = NULL;
	int err = bg_file_read_safe(NULL, path, CK_USERS_MAX, &text, NULL, &st, &why);
	if (err == BG_ERRNO(ENOENT)) {
		return err;
	}
	if (err) {
		bg_diag_error(d, NULL, "%s: %s", path, why ? why : bg_strerror(err));
		return err == BG_ETOO_BIG ? err : BG_EREFUSED;
	}
	if ((st.st_mode & 07777) != 0600 || st.st_uid != geteuid()) {
		bg_diag_error(d, NULL, "%s: refused: it holds password hashes, so it must be mode 0600 "
				"and owned by this user (it is %04o, uid %ld): chmod 600 it",
				path, (unsigned)(st.st_mode & 07777), (long)st.st_uid);
		explicit_bzero(text, strlen(text));
		free(text);
		return BG_EREFUSED;
	}
	unsigned lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++; /* strtok_r skips empty lines: numbers count non-empty ones only */
		while (*line == ' ' || *line == '\t') {
			line++;
		}
		if (!*line || *line == '#') {
			continue;
		}
		if (!ck_users_line(u, line, &why)) {
			struct bg_loc loc = {path, lineno, 1};
			bg_diag_error(d, &loc, "%s", why);
			err = BG_EPARSE;
		}
	}
	explicit_bzero(text, strlen(text));
	free(text);
	return err;
}

int ck_users_save(const struct ck_users *u, const char *path, struct bg_diag *d)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *why = NULL;
	bg_buf_adds(&b, "# bluegreen cockpit users: NAME ROLE SITES HASH (`bluegreen cockpit user`)\n");
	for (size_t i = 0; i < u->n; i++) {
		const struct ck_user *x = &u->v[i];
		bg_buf_addf(&b, "%s %s ", x->name, ck_role_name(x->role));
		for (size_t k = 0; k < x->sites.n; k++) {
			bg_buf_addf(&b, "%s%s", k ? "," : "", x->sites.v[k]);
		}
		bg_buf_addf(&b, "%s %s\n", x->sites.n ? "" : "-", x->hash);
	}
	int err = bg_file_write_atomic_why(path, NULL, b.data, b.len, 0600, &why);
	if (err) {
		bg_diag_error(d, NULL, "%s: cannot write: %s", path, why ? why : bg_strerror(err));
	}
	explicit_bzero(b.data, b.len);
	bg_buf_release(&b);
	return err;
}

/* ---- hashes ---- */

static bool ck_unhex(const char *in, unsigned char *out, size_t n)
{
	return strlen(in) == 2 * n && bg_hex_decode(in, out, n);
}

static int ck_scrypt(const char *password, const unsigned char *salt, unsigned log2n,
		unsigned r, unsigned p, unsigned char key[CK_KEY_LEN])
{
	size_t pl = strnlen(password, CK_PASSWORD_MAX + 1);
	if (pl > CK_PASSWORD_MAX || log2n < 10 || log2n > 22 || r < 1 || r > 32 || p < 1 || p > 16) {
		return BG_ERRNO(EINVAL);
	}
	if (EVP_PBE_scrypt(password, pl, salt, CK_SALT_LEN, (uint64_t)1 << log2n, r, p,
			CK_SCRYPT_MAXMEM << (log2n > 16 ? log2n - 16 : 0), key, CK_KEY_LEN) != 1) {
		return BG_ERRNO(EINVAL);
	}
	return 0;
}

int ck_password_hash(const char *password, char **out)
{
	unsigned char salt[CK_SALT_LEN], key[CK_KEY_LEN];
	char sh[2 * CK_SALT_LEN + 1], kh[2 * CK_KEY_LEN + 1];
	*out = NULL;
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		return BG_ERRNO(EIO);
	}
	int err = ck_scrypt(password, salt, CK_SCRYPT_LOG2N, CK_SCRYPT_R, CK_SCRYPT_P, key);
	if (err) {
		return err;
	}
	bg_hex_encode(salt, sizeof(salt), sh);
	bg_hex_encode(key, sizeof(key), kh);
	*out = bg_xasprintf("scrypt$%u$%u$%u$%s$%s", CK_SCRYPT_LOG2N, CK_SCRYPT_R, CK_SCRYPT_P,
			sh, kh);
	explicit_bzero(key, sizeof(key));
	return 0;
}

bool ck_password_verify(const char *password, const char *stored)
{
	unsigned log2n = 0, r = 0, p = 0;
	char sh[2 * CK_SALT_LEN + 2] = "", kh[2 * CK_KEY_LEN + 2] = "";
	unsigned char salt[CK_SALT_LEN] = {0}, want[CK_KEY_LEN] = {0}, got[CK_KEY_LEN];
	bool ok = stored && sscanf(stored, "scrypt$%u$%u$%u$%33[0-9a-f]$%65[0-9a-f]",
			&log2n, &r, &p, sh, kh) == 5 && ck_unhex(sh, salt, sizeof(salt)) &&
			ck_unhex(kh, want, sizeof(want));
	if (!ok) {
		/* The same work as a real check: no user is told apart by the time. */
		log2n = CK_SCRYPT_LOG2N, r = CK_SCRYPT_R, p = CK_SCRYPT_P;
	}
	if (ck_scrypt(password ? password : "", salt, log2n, r, p, got) != 0) {
		ok = false;
	}
	ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0 && ok;
	explicit_bzero(got, sizeof(got));
	return ok;
}
