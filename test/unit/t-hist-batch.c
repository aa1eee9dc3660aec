/*
 * t-hist-batch: the end of an apply and its outcome entry written in one
 * transaction (hist-batch.h, issue 11: one commit, so one fdatasync, fewer
 * on the switch's path). The records and their order are those of the two
 * separate calls it replaces (apply-end, then the outcome); the
 * in-progress mark is cleared; an outcome entry that cannot be written
 * leaves nothing written, the apply still open (so the next start reports
 * it as interrupted rather than losing it); the chain still verifies.
 * The same for what an apply holds back until its end
 * (hist_apply_end_after: those entries, then the end, then the outcome),
 * for several entries at once (hist_append_all), and for the token's use
 * with the apply's start (hist_apply_begin_used: a used token is refused
 * and nothing is written), and for the start with the first step's intent
 * (hist_apply_begin_then: the start first; a used token or an invalid
 * entry writes nothing).
 */
#include "bg.h"
#include "bg-util.h"
#include "hist.h"
#include "hist-batch.h"
#include "th.h"

struct seen {
	struct bg_strv what; /* "action result site" per entry */
};

static int collect(const struct hist_entry *e, void *arg)
{
	struct seen *s = arg;
	bg_strv_push_take(&s->what, bg_xasprintf("%s %s %s", e->action,
				e->result ? e->result : "-", e->site ? e->site : "-"));
	return 0;
}

static void journal_is(struct hist *h, const char *const *want, size_t n)
{
	struct seen s;
	bg_strv_init(&s.what);
	assert_int_equal(hist_foreach(h, NULL, 0, 0, collect, &s), 0);
	if (s.what.n != n) {
		fail_msg("%zu entries, expected %zu (last: %s)", s.what.n, n,
				s.what.n ? s.what.v[s.what.n - 1] : "-");
	}
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(s.what.v[i], want[i]);
	}
	bg_strv_release(&s.what);
}

static size_t open_applies(struct hist *h)
{
	struct bg_strv open;
	bg_strv_init(&open);
	assert_int_equal(hist_applies_open(h, &open), 0);
	size_t n = open.n;
	bg_strv_release(&open);
	return n;
}

static void test_end_with(void **state)
{
	(void)state;
	char *dir = th_tmpdir("hist-batch");
	struct hist *h = NULL;
	const char *tok = "ab12ab12ab12ab12";
	assert_int_equal(hist_open(&h, dir, 0, NULL), 0);
	assert_int_equal(hist_apply_begin_as(h, tok, "alice@here", NULL), 0);
	assert_int_equal(open_applies(h), 1);

	/* Not writable (no action): nothing at all is written, the apply stays open. */
	struct hist_entry bad = {.token = (char *)tok, .result = "ok"};
	assert_int_not_equal(hist_apply_end_with(h, tok, "ok", "alice@here", &bad), 0);
	const char *before[] = {"apply started -"};
	journal_is(h, before, 1);
	assert_int_equal(open_applies(h), 1);

	struct hist_entry fin = {.action = "rollback", .site = "shop", .token = (char *)tok,
			.result = "ok", .details = "applied"};
	assert_int_equal(hist_apply_end_with(h, tok, "ok", "alice@here", &fin), 0);
	const char *after[] = {"apply started -", "apply-end ok -", "rollback ok shop"};
	journal_is(h, after, 3);
	assert_int_equal(open_applies(h), 0);
	hist_close(h);

	/* Another process sees both after a reopen, and the chain holds. */
	assert_int_equal(hist_open(&h, dir, HIST_RDONLY, NULL), 0);
	journal_is(h, after, 3);
	struct hist_verify v;
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	assert_int_equal(v.brk, HIST_INTACT);
	assert_int_equal(v.entries, 3);
	hist_close(h);
	th_rm_rf(dir);
	free(dir);
}

static bool token_used(struct hist *h, const char *tok)
{
	return hist_token_used(h, tok);
}

static void test_begin_used_and_end_after(void **state)
{
	(void)state;
	char *dir = th_tmpdir("hist-batch2");
	struct hist *h = NULL;
	const char *tok = "cd34cd34cd34cd34";
	assert_int_equal(hist_open(&h, dir, 0, NULL), 0);
	assert_int_equal(hist_apply_begin_used(h, tok, "bob@here"), 0);
	assert_true(token_used(h, tok));
	assert_int_equal(open_applies(h), 1);
	/* Used already: refused, nothing written. */
	assert_int_equal(hist_apply_begin_used(h, tok, "bob@here"), BG_ETOKEN_USED);
	const char *begun[] = {"apply started -"};
	journal_is(h, begun, 1);

	struct hist_entry two[] = {
		{.action = "step", .site = "shop", .token = (char *)tok, .result = "started"},
		{.action = "step", .site = "shop", .token = (char *)tok, .result = "ok"},
	};
	assert_int_equal(hist_append_all(h, two, 1), 0);
	struct hist_entry held[] = {
		two[1],
		{.action = "switch", .site = "shop", .token = (char *)tok, .result = "ok"},
		{.token = (char *)tok, .result = "ok"}, /* no action: not writable */
	};
	struct hist_entry fin = {.action = "apply", .token = (char *)tok, .result = "ok"};
	/* One held-back entry is invalid: nothing at all, the apply stays open. */
	assert_int_not_equal(hist_apply_end_after(h, held, 3, tok, "ok", NULL, &fin), 0);
	const char *mid[] = {"apply started -", "step started shop"};
	journal_is(h, mid, 2);
	assert_int_equal(open_applies(h), 1);
	assert_int_equal(hist_apply_end_after(h, held, 2, tok, "ok", NULL, &fin), 0);
	const char *after[] = {"apply started -", "step started shop", "step ok shop",
			"switch ok shop", "apply-end ok -", "apply ok -"};
	journal_is(h, after, 6);
	assert_int_equal(open_applies(h), 0);
	struct hist_verify v;
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	assert_int_equal(v.brk, HIST_INTACT);
	hist_close(h);
	th_rm_rf(dir);
	free(dir);
}

static void test_begin_then(void **state)
{
	(void)state;
	char *dir = th_tmpdir("hist-batch3");
	struct hist *h = NULL;
	const char *tok = "ef56ef56ef56ef56", *tok2 = "0a0b0a0b0a0b0a0b";
	assert_int_equal(hist_open(&h, dir, 0, NULL), 0);
	struct hist_entry intent[] = {
		{.action = "step", .site = "shop", .token = (char *)tok, .result = "started"},
		{.token = (char *)tok, .result = "started"}, /* no action: not writable */
	};
	/* An invalid entry: nothing, not even the start or the token's use. */
	assert_int_not_equal(hist_apply_begin_then(h, tok, "bob@here", true, intent, 2), 0);
	assert_false(token_used(h, tok));
	assert_int_equal(open_applies(h), 0);
	journal_is(h, NULL, 0);
	assert_int_equal(hist_apply_begin_then(h, tok, "bob@here", true, intent, 1), 0);
	assert_true(token_used(h, tok));
	assert_int_equal(open_applies(h), 1);
	const char *begun[] = {"apply started -", "step started shop"};
	journal_is(h, begun, 2);
	/* Used already: refused, nothing more written. */
	assert_int_equal(hist_apply_begin_then(h, tok, "bob@here", true, intent, 1),
			BG_ETOKEN_USED);
	journal_is(h, begun, 2);
	/* Without the token's use (it was recorded before): the start and the entry. */
	assert_int_equal(hist_token_use(h, tok2), 0);
	intent[0].token = (char *)tok2;
	assert_int_equal(hist_apply_begin_then(h, tok2, NULL, false, intent, 1), 0);
	assert_int_equal(open_applies(h), 2);
	const char *both[] = {"apply started -", "step started shop", "apply started -",
			"step started shop"};
	journal_is(h, both, 4);
	struct hist_verify v;
	assert_int_equal(hist_journal_verify(h, NULL, NULL, &v), 0);
	assert_int_equal(v.brk, HIST_INTACT);
	hist_close(h);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_with),
		cmocka_unit_test(test_begin_used_and_end_after),
		cmocka_unit_test(test_begin_then),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
