/*
 * approve: see approve.h. The grammar is pure and takes any bytes (the
 * file is edited by hand, and fuzz-approve feeds it garbage); the book
 * writes STATE_DIR/approve.seen before an approval is acted on, so that a
 * restart never acts on it twice.
 */
#include "bg.h"
#include "bg-buf.h"
#include "approve.h"
#include "apply.h"
#include "cfgwatch.h"
#include "hist.h"
#include "plan.h"
#include "queue.h"
#include "watch-int.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the grammar ---- */

void approve_list_init(struct approve_list *a)
{
	memset(a, 0, sizeof(*a));
}

void approve_list_release(struct approve_list *a)
{
	for (size_t i = 0; a && i < a->n; i++) {
		free(a->v[i].token);
		bg_strv_release(&a->v[i].confirms);
	}
	if (a) {
		free(a->v);
		approve_list_init(a);
	}
}

/*
 * The next word of s from *pos: blanks separate words, "..." quotes
 * (with \" and \\), an unquoted '#' at the start of a word ends the line.
 * NULL at the end of the line; *bad set on an unterminated quote.
 */
static char *next_word(const char *s, size_t *pos, unsigned *col, bool *bad)
{
	struct bg_buf b = BG_BUF_INIT;
	size_t i = *pos;
	while (s[i] == ' ' || s[i] == '\t') {
		i++;
	}
	*col = (unsigned)i + 1;
	if (!s[i] || s[i] == '#') {
		*pos = i;
		return NULL;
	}
	while (s[i] && s[i] != ' ' && s[i] != '\t') {
		if (s[i] != '"') {
			bg_buf_addch(&b, s[i++]);
			continue;
		}
		for (i++; s[i] && s[i] != '"'; i++) {
			if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\')) {
				i++;
			}
			bg_buf_addch(&b, s[i]);
		}
		if (s[i] != '"') {
			*bad = true;
			bg_buf_release(&b);
			*pos = i;
			return NULL;
		}
		i++;
	}
	*pos = i;
	return bg_buf_detach(&b, NULL);
}

static bool approve_line(const char *name, const char *line, unsigned lineno,
		struct approve_list *out, struct bg_diag *d)
{
	struct bg_loc loc = {.file = name, .line = lineno};
	struct approve_item ap = {.line = lineno};
	size_t pos = 0;
	bool bad = false;
	char *w = next_word(line, &pos, &loc.col, &bad);

	if (!w) {
		if (bad) {
			bg_diag_error(d, &loc, "unterminated quote");
		}
		return !bad;
	}
	if (!apply_token_valid(w)) {
		/* Never the word itself: the file may not be what it claims (issue 9). */
		bg_diag_error(d, &loc, "not a plan token (%d lowercase hex characters, "
				"as printed by `bluegreen plan`)", PLAN_TOKEN_LEN);
		free(w);
		return false;
	}
	ap.token = w;
	bg_strv_init(&ap.confirms);
	while ((w = next_word(line, &pos, &loc.col, &bad))) {
		if (strcmp(w, "--confirm") == 0) {
			free(w);
			unsigned c0 = loc.col;
			w = next_word(line, &pos, &loc.col, &bad);
			if (!w) {
				loc.col = c0;
				bg_diag_error(d, &loc, bad ? "unterminated quote"
						: "--confirm needs the phrase after it");
				goto fail;
			}
			bg_strv_push_take(&ap.confirms, w);
		} else if (bg_str_has_prefix(w, "--confirm=")) {
			bg_strv_push(&ap.confirms, w + strlen("--confirm="));
			free(w);
		} else {
			bg_diag_error(d, &loc, "unexpected word (an approval is: TOKEN "
					"[--confirm TEXT]...)");
			free(w);
			goto fail;
		}
	}
	if (bad) {
		bg_diag_error(d, &loc, "unterminated quote");
		goto fail;
	}
	BG_GROW(out->v, out->cap, out->n + 1);
	out->v[out->n++] = ap;
	return true;
fail:
	free(ap.token);
	bg_strv_release(&ap.confirms);
	return false;
}

size_t approve_parse(const char *name, const char *data, size_t len,
		struct approve_list *out, struct bg_diag *d)
{
	const char *p = data, *end = data + len;
	unsigned lineno = 0;
	size_t bad = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char *line = bg_xstrndup(p, (size_t)(le - p));
		size_t n = strlen(line);
		lineno++;
		if (n && line[n - 1] == '\r') {
			line[n - 1] = '\0';
		}
		if (!approve_line(name, line, lineno, out, d)) {
			bad++;
		}
		free(line);
		p = nl ? nl + 1 : end;
	}
	return bad;
}

/* ---- approvals already taken (STATE_DIR/approve.seen) ---- */

/*
 * An approval is its token and its --confirm phrases: the same approval
 * is acted on once, ever (docs/watch.md), but a line whose phrases changed,
 * say a phrase added after a refusal for a missing one, is new input. The
 * journal keeps "TOKEN HASH", HASH being 16 hex digits of the SHA-256 of
 * the sorted phrases (never the phrases). A bare "TOKEN" line, as older
 * daemons wrote, covers every approval of that token.
 */
char *approve_key(const char *token, const struct bg_strv *confirms)
{
	struct bg_strv sorted;
	struct bg_sha256 *h = bg_sha256_new();
	char hex[65];

	bg_strv_init(&sorted);
	if (confirms && confirms->n) {
		bg_strv_copy(&sorted, confirms);
		bg_strv_sort(&sorted);
	}
	for (size_t i = 0; i < sorted.n; i++) {
		bg_sha256_update_str(h, sorted.v[i]);
	}
	bg_sha256_final_hex(h, hex);
	bg_strv_release(&sorted);
	return bg_xasprintf("%s %.16s", token, hex);
}

bool approve_seen(const struct bg_strv *seen, const char *token,
		const struct bg_strv *confirms)
{
	if (bg_strv_contains(seen, token)) {
		return true;
	}
	char *key = approve_key(token, confirms);
	bool yes = bg_strv_contains(seen, key);
	free(key);
	return yes;
}

/* ---- the book (STATE_DIR/approve.seen) ---- */

void approve_book_init(struct approve_book *b, const char *state_dir)
{
	memset(b, 0, sizeof(*b));
	b->seen_path = state_dir ? bg_xasprintf("%s/%s", state_dir, APPROVE_SEEN_NAME) : NULL;
	bg_strv_init(&b->seen);
	bg_strv_init(&b->reported);
}

void approve_book_release(struct approve_book *b)
{
	if (!b) {
		return;
	}
	free(b->seen_path);
	bg_strv_release(&b->seen);
	bg_strv_release(&b->reported);
	memset(b, 0, sizeof(*b));
}

void approve_book_load(struct approve_book *b)
{
	char *data = NULL;
	if (b->seen_path && bg_file_read(b->seen_path, 64u * 1024 * 1024, &data, NULL) == 0) {
		char *save = NULL;
		for (char *t = strtok_r(data, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
			watch__strv_add_unique(&b->seen, t);
		}
	}
	free(data);
}

/* Append line to path, a regular file of ours: never through a link or into a FIFO. */
static int seen_append(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
			0600);
	struct stat st;
	int err = 0;
	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = BG_ERRNO(errno ? errno : EINVAL);
	} else if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) != 0) {
		err = BG_ERRNO(errno ? errno : EIO);
	}
	close(fd);
	return err;
}

int approve_book_add(struct approve_book *b, const char *token,
		const struct bg_strv *confirms)
{
	char *key = approve_key(token, confirms);
	char *line = bg_xasprintf("%s\n", key);
	watch__strv_add_unique(&b->seen, key);
	errno = 0;
	int err = seen_append(b->seen_path, line);
	free(line);
	free(key);
	return err;
}

/* ---- the file ---- */

/* SHA-256 of line lineno (1-based) of data: a bad line is reported again once changed. */
static void approve_line_hash(const char *data, size_t len, unsigned lineno, char hex[65])
{
	const char *p = data, *end = data + len;
	for (unsigned n = 1; n < lineno && p < end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	bg_sha256_hex(p, (size_t)((nl ? nl : end) - p), hex);
}

/* Each bad line once, until it changes: the daemon reads the file on every edit. */
static void report_bad_lines(struct approve_book *b, const char *data, size_t len,
		const struct bg_diag *d, const struct watch_printer *pr)
{
	for (size_t i = 0; i < d->n; i++) {
		int n = bg_diag_item_format(&d->items[i], NULL, 0);
		char *line = bg_xmalloc((size_t)n + 1);
		char hex[65];
		bg_diag_item_format(&d->items[i], line, (size_t)n + 1);
		approve_line_hash(data, len, d->items[i].line, hex);
		char *key = bg_xasprintf("%s %s", line, hex);
		if (!bg_strv_contains(&b->reported, key)) {
			fflush(pr->out);
			fprintf(pr->err, "%s (line skipped)\n", line);
			bg_strv_push(&b->reported, key);
		}
		free(key);
		free(line);
	}
}

/*
 * Read and parse DIR/approve into out, on the loop thread. That is safe
 * because bg_file_read_safe never blocks: O_NONBLOCK open, a regular file
 * only (a FIFO, device or socket is refused before any read), at most
 * APPROVE_MAX_BYTES, and no link followed (the file is committed, and git
 * stores links: one to a root-only file must not be read, nor printed).
 * Messages name line:col and never quote the file.
 */
static void file_read(struct approve_book *b, const char *dir,
		const struct watch_printer *pr, struct approve_list *out)
{
	char *path = bg_xasprintf("%s/%s", dir, CFGW_APPROVE_NAME);
	char *data = NULL;
	size_t len = 0;
	const char *why = NULL;
	struct bg_diag d;

	int err = bg_file_read_safe(NULL, path, APPROVE_MAX_BYTES, &data, &len, NULL, &why);
	if (err) {
		if (err == BG_ETOO_BIG) {
			watch__complain(pr, "error", "%s: file is too large (over %u bytes): approvals "
					"ignored", path, APPROVE_MAX_BYTES);
		} else if (err != BG_ERRNO(ENOENT)) {
			watch__complain(pr, "error", "%s: %s: approvals ignored", path, why);
		}
		free(path);
		return;
	}
	bg_diag_init(&d);
	approve_parse(CFGW_APPROVE_NAME, data, len, out, &d);
	report_bad_lines(b, data, len, &d, pr);
	bg_diag_release(&d);
	free(data);
	free(path);
}

void approve_book_mark(struct approve_book *b, const char *token,
		const struct bg_strv *confirms, const struct watch_printer *pr)
{
	int err = approve_book_add(b, token, confirms);
	if (err) {
		watch__complain(pr, "warning", "cannot record approval %s in %s (%s): after a "
				"restart it would be tried again (a used token is refused anyway)", token,
				b->seen_path, bg_strerror(err));
	}
}

void approve_take(struct approve_book *b, const char *dir, struct hist *h, struct queue *q,
		const struct queue_req *running, const struct watch_printer *pr)
{
	struct approve_list a;

	approve_list_init(&a);
	file_read(b, dir, pr, &a);
	for (size_t i = 0; i < a.n; i++) {
		struct approve_item *ap = &a.v[i];
		if (approve_seen(&b->seen, ap->token, &ap->confirms) ||
				queue_same(q, running, ap->token, NULL, &ap->confirms)) {
			continue;
		}
		if (hist_token_used(h, ap->token)) {
			approve_book_mark(b, ap->token, &ap->confirms, pr);
			watch__note(pr, "approve: line %u: token %s was already used: skipped",
					ap->line, ap->token);
			continue;
		}
		queue_push(q, queue_req_from_approval(ap), running != NULL);
	}
	approve_list_release(&a);
}
