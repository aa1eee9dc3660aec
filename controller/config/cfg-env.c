/*
 * cfg-env: the env files sites name (env_file:), in docker's --env-file
 * format: KEY=VALUE lines, '#' comments, blank lines, values taken
 * literally. A relative file is read beneath the configuration directory,
 * an absolute one beneath secrets_dir, which must be trusted like the
 * configuration directory itself; links are not followed and nothing of
 * a line is ever echoed in a message, as any part of it may be a secret.
 * Every value read from a file is secret; `env:` overrides it. A site's
 * preview_auth.password_file is read by the same rules (its first line is
 * the password of the preview host).
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <sys/stat.h>

/* A variable set twice in an env_file is an error; the first one stays. */
static void drop_repeats(struct cfg__envfiles *l, struct cfg_env *e)
{
	const char **keys = bg_xcalloc(e->n ? e->n : 1, sizeof(*keys));
	for (size_t i = 0; i < e->n; i++) {
		keys[i] = e->v[i].key;
	}
	size_t *first = cfg__repeats(keys, e->n);
	size_t k = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (first[i]) {
			bg_diag_error(l->d, &e->v[i].loc, "variable '%s' is set twice (first at line %u)",
					e->v[i].key, e->v[first[i] - 1].loc.line);
			free(e->v[i].key);
			free(e->v[i].value);
		} else {
			e->v[k++] = e->v[i];
		}
	}
	e->n = k;
	free(first);
	free(keys);
}

/*
 * secrets_dir (global.conf): a directory outside the config directory that
 * an absolute env_file may name. Whoever can write there chooses what goes
 * into containers, so it must be trusted like the config directory itself:
 * an existing directory, not a link, ours or root's, not group/world-writable.
 */
void cfg__secrets_dir_check(struct cfg__envfiles *l, const struct cfg__node *merged)
{
	if (l->no_secrets) {
		return; /* nothing is read from it */
	}
	const struct cfg__node *n = cfg__map_get(merged, "secrets_dir");
	const char *sd = l->c->g.secrets_dir;
	struct bg_diag td;

	if (!n || !sd) {
		return;
	}
	l->secrets_dir = n;
	bg_diag_init(&td);
	int err = bg_dir_trusted(sd, "secrets_dir", true, &td);
	if (err == BG_ERRNO(ENOENT)) {
		bg_diag_error(l->d, &n->loc, "secrets_dir %s does not exist", sd);
	}
	for (size_t i = 0; i < td.n; i++) {
		bg_diag_error(l->d, &n->loc, "%s", td.items[i].msg);
	}
	if (err && err != BG_ERRNO(ENOENT) && !td.n) {
		bg_diag_error(l->d, &n->loc, "secrets_dir %s: %s", sd, bg_strerror(err));
	}
	bg_diag_release(&td);
	l->secrets_dir_ok = err == 0;
}

/*
 * Where an env_file (or another secret file read the same way, `what` in
 * messages: "password_file") is opened from: a relative one beneath the
 * config directory, an absolute one beneath secrets_dir (*rel then points
 * into ref->str past it). NULL after reporting why it may not be read.
 */
static const char *envfile_base(struct cfg__envfiles *l, const struct cfg__node *ref,
		const char *what, const char **rel)
{
	const char *sd = l->c->g.secrets_dir;
	char *q = NULL;

	*rel = ref->str;
	if (ref->str[0] != '/') {
		return l->c->dir;
	}
	q = cfg__quote(ref->str);
	if (!sd) {
		bg_diag_error(l->d, &ref->loc, "%s '%s' is an absolute path, and global.conf "
				"sets no secrets_dir: name a file inside the configuration directory %s, "
				"or set secrets_dir to the directory that holds it", what, q, l->c->dir);
		goto refused;
	}
	size_t n = strlen(sd);
	while (n > 1 && sd[n - 1] == '/') {
		n--;
	}
	if (!(strncmp(ref->str, sd, n) == 0 && (ref->str[n] == '/' || n == 1))) {
		bg_diag_error(l->d, &ref->loc, "%s '%s' must be inside secrets_dir %s (or, "
				"written relative, inside the configuration directory %s)", what, q, sd,
				l->c->dir);
		goto refused;
	}
	if (!l->secrets_dir_ok) {
		bg_diag_error(l->d, &ref->loc, "%s '%s' is not read: secrets_dir %s was "
				"refused (%s:%u:%u)", what, q, sd, l->secrets_dir->loc.file,
				l->secrets_dir->loc.line, l->secrets_dir->loc.col);
		goto refused;
	}
	free(q);
	*rel = ref->str + n;
	while (**rel == '/') {
		(*rel)++;
	}
	return sd;
refused:
	free(q);
	return NULL;
}

/* Why the file ref names (key `what`) could not be read from base/rel (err, why). */
static void envfile_read_error(struct cfg__envfiles *l, const struct cfg__node *ref,
		const char *what, const char *base, const char *rel, int err, const char *why)
{
	char *q = cfg__quote(ref->str);
	const char *where = base == l->c->dir ? "the configuration directory" : "secrets_dir";

	if (err == BG_ERRNO(ENOENT)) {
		bg_diag_error(l->d, &ref->loc, "%s '%s' not found (looked for %s/%s)", what, q,
				base, rel);
	} else if (err == BG_EREFUSED && (!rel[0] || bg_file_why_outside(why))) {
		bg_diag_error(l->d, &ref->loc, "%s '%s' must be inside %s %s (%s)", what, q,
				where, base, why);
	} else if (err == BG_ETOO_BIG) {
		bg_diag_error(l->d, &ref->loc, "%s '%s': file is too large (over %d "
				"bytes)", what, q, CFG_MAX_FILE_BYTES);
	} else {
		bg_diag_error(l->d, &ref->loc, "%s '%s': %s", what, q, why);
	}
	free(q);
}

/* The KEY=VALUE lines of data (file, for locations) appended to out;
 * each bad line is reported without echoing any of it. */
static void envfile_parse(struct cfg__envfiles *l, const char *file, const char *data,
		size_t len, struct cfg_env *out)
{
	const char *p = data, *end = data + len;
	for (unsigned lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct bg_loc loc = {.file = file, .line = lineno, .col = 1};
		if (le > p && le[-1] == '\r') {
			le--;
		}
		const char *s = p;
		p = nl ? nl + 1 : end;
		while (s < le && (*s == ' ' || *s == '\t')) {
			s++;
		}
		if (s == le || *s == '#') {
			continue;
		}
		if (memchr(s, '\0', (size_t)(le - s))) {
			bg_diag_error(l->d, &loc, "NUL byte in env_file: is this a text file?");
			continue;
		}
		const char *eq = memchr(s, '=', (size_t)(le - s));
		if (!eq) {
			bg_diag_error(l->d, &loc, "malformed line: expected KEY=VALUE");
			continue;
		}
		char *key = bg_xstrndup(s, (size_t)(eq - s));
		if (!cfg__env_key_valid(key)) {
			bg_diag_error(l->d, &loc, "malformed line: invalid variable name before '=' "
					"(letters, digits and '_', not starting with a digit)");
			free(key);
			continue;
		}
		out->v = bg_xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		struct cfg_env_var *v = &out->v[out->n++];
		v->key = key;
		v->value = bg_xstrndup(eq + 1, (size_t)(le - eq - 1));
		v->secret = true;
		v->loc = loc;
	}
}

/*
 * Read the secret file ref names (key `what` in messages) into *data,
 * *len bytes: beneath the configuration directory (or secrets_dir) only, links not
 * followed (a "../" path or a link would let one site's file read another's
 * secrets); a FIFO or device is refused instead of blocking. 0, or an
 * error already reported at ref (*data NULL).
 */
static int secret_file_read(struct cfg__envfiles *l, const struct cfg__node *ref,
		const char *what, char **data, size_t *len)
{
	struct stat st;
	const char *why = NULL, *rel = NULL;

	*data = NULL;
	*len = 0;
	const char *base = envfile_base(l, ref, what, &rel);
	if (!base) {
		return BG_ECONFIG;
	}
	int err = bg_file_read_safe(base, rel, CFG_MAX_FILE_BYTES, data, len, &st, &why);
	if (err) {
		envfile_read_error(l, ref, what, base, rel, err, why);
		free(*data);
		*data = NULL;
		return err;
	}
	if (st.st_mode & 044) {
		char *q = cfg__quote(ref->str);
		bg_diag_warn(l->d, &ref->loc, "%s '%s' is readable by group or others "
				"(mode %04o): it holds secrets, chmod 600 it", what, q,
				(unsigned)st.st_mode & 07777);
		free(q);
	}
	return 0;
}

static void envfile_load(struct cfg__envfiles *l, const struct cfg__node *ref,
		struct cfg_env *out)
{
	const char *file = cfg__pool_intern(l->pool, ref->str);
	char *data = NULL;
	size_t len = 0;

	if (secret_file_read(l, ref, "env_file", &data, &len) != 0) {
		return;
	}
	envfile_parse(l, file, data, len, out);
	drop_repeats(l, out);
	free(data);
}

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_env_var *)a)->key, ((const struct cfg_env_var *)b)->key);
}

/*
 * env_file values first, `env:` over them (cfg.h): both sorted and without
 * repeats, merged in one pass into *env; file_vars is emptied.
 */
static void env_overlay(struct cfg_env *file_vars, struct cfg_env *env)
{
	struct cfg_env out = {0};
	size_t i = 0, j = 0;

	if (file_vars->n > 1) {
		qsort(file_vars->v, file_vars->n, sizeof(*file_vars->v), env_cmp);
	}
	out.v = bg_xcalloc(file_vars->n + env->n + 1, sizeof(*out.v));
	while (i < file_vars->n || j < env->n) {
		int r = i == file_vars->n ? 1 : j == env->n ? -1
				: strcmp(file_vars->v[i].key, env->v[j].key);
		if (r < 0) {
			out.v[out.n++] = file_vars->v[i++];
			continue;
		}
		if (r == 0) {
			free(file_vars->v[i].key);
			free(file_vars->v[i].value);
			i++;
		}
		out.v[out.n++] = env->v[j++];
	}
	free(file_vars->v);
	free(env->v);
	memset(file_vars, 0, sizeof(*file_vars));
	*env = out;
}

void cfg__env_with_file(struct cfg__envfiles *l, struct cfg_env *env, const struct cfg__node *ref)
{
	/* Without secrets the site is as if it had no env_file: `env:` alone. */
	if (!ref || !cfg__is_string(ref) || !ref->str[0] || l->no_secrets) {
		return;
	}
	struct cfg_env fv = {0};
	envfile_load(l, ref, &fv);
	env_overlay(&fv, env);
}

/*
 * The password is the file's first line as written (a trailing \r
 * dropped, nothing else trimmed: spaces may be part of it). Errors are
 * located at the password_file key and never quote the file.
 */
void cfg__password_file_read(struct cfg__envfiles *l, const struct cfg__node *ref,
		char **password)
{
	char *data = NULL;
	size_t len = 0;

	if (!ref || !cfg__is_string(ref) || !ref->str[0] || l->no_secrets ||
			secret_file_read(l, ref, "password_file", &data, &len) != 0) {
		return;
	}
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;
	if (n && data[n - 1] == '\r') {
		n--;
	}
	char *q = cfg__quote(ref->str);
	if (memchr(data, '\0', n)) {
		bg_diag_error(l->d, &ref->loc, "password_file '%s': NUL byte in its first line: "
				"is this a text file?", q);
	} else if (n == 0) {
		bg_diag_error(l->d, &ref->loc, "password_file '%s': the first line (the password) "
				"is empty", q);
	} else {
		*password = bg_xstrndup(data, n);
	}
	free(q);
	explicit_bzero(data, len);
	free(data);
}
