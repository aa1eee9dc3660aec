/*
 * fuzz-approve: the approval file's parser (approve_parse, approve.c) fed
 * arbitrary bytes, as a committed file (or whatever it points to) may hold
 * anything.
 *
 * Besides memory safety (ASan), it checks the parser's contract: every
 * approval has a valid token and a line within the file, lines ascend, the
 * count of bad lines matches the errors, every error is located
 * (approve:LINE:COL) and never quotes the file: no message contains a run
 * of the input's bytes longer than what the fixed messages could share
 * with it by chance (a "canary" check on the input's longest word). And
 * the approval key (approve.seen) is computed for each approval.
 */
#include "bg.h"
#include "bg-err.h"
#include "approve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The longest blank-separated word of the input that no fixed message holds. */
static char *longest_word(const char *s, size_t len)
{
	size_t best = 0, best_at = 0;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && s[j] > ' ' && s[j] != '"' && s[j] != '#' && s[j] != 0x7f) {
			j++;
		}
		if (j - i > best) {
			best = j - i;
			best_at = i;
		}
		i = j + 1;
	}
	/* Shorter words may well appear in the messages' own text. */
	return best >= 24 ? bg_xstrndup(s + best_at, best) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct approve_list a;
	struct bg_diag d;
	unsigned lines = 1;

	if (size > 64 * 1024) {
		return 0;
	}
	for (size_t i = 0; i < size; i++) {
		lines += data[i] == '\n';
	}
	approve_list_init(&a);
	bg_diag_init(&d);
	size_t bad = approve_parse("approve", s, size, &a, &d);
	if (bad != d.n_errors || bad != d.n) {
		abort();
	}
	unsigned last = 0;
	for (size_t i = 0; i < a.n; i++) {
		const struct approve_item *ap = &a.v[i];
		if (!ap->token || strlen(ap->token) != 16 || ap->line <= last || ap->line > lines ||
				strspn(ap->token, "0123456789abcdef") != 16) {
			abort();
		}
		last = ap->line;
		char *key = approve_key(ap->token, &ap->confirms);
		if (strncmp(key, ap->token, 16) != 0 || strlen(key) != 33) {
			abort();
		}
		free(key);
	}
	char *canary = longest_word(s, size);
	for (size_t i = 0; i < d.n; i++) {
		const struct bg_diag_item *it = &d.items[i];
		if (!it->file || strcmp(it->file, "approve") != 0 || it->line < 1 ||
				it->line > lines || it->col < 1) {
			abort();
		}
		if (canary && strstr(it->msg, canary)) {
			abort(); /* the message quotes the file */
		}
	}
	free(canary);
	approve_list_release(&a);
	bg_diag_release(&d);
	return 0;
}
