/*
 * t-hist-confirm: a site's confirm phrase kept in the history
 * (hist-confirm.c): the right phrase matches, a wrong or empty one does
 * not, a site with none kept says so, the store never holds the phrase
 * in clear, a changed phrase replaces the kept one, NULL forgets it, and
 * a read-only history answers but cannot keep.
 */
#include "bg.h"
#include "hist-confirm.h"
#include "th.h"

#define PHRASE "TAKE DOWN SHOP"

static void test_keep_and_check(void **state)
{
	(void)state;
	char *dir = th_tmpdir("hist-confirm");
	struct hist *h = NULL;
	struct bg_diag d;
	bool ok = true;
	bg_diag_init(&d);
	assert_int_equal(hist_open(&h, dir, 0, &d), 0);
	assert_int_equal(hist_confirm_check(h, "shop", PHRASE, &ok), BG_ENOT_FOUND);
	assert_false(ok);
	assert_int_equal(hist_confirm_keep(h, "shop", PHRASE), 0);
	assert_int_equal(hist_confirm_check(h, "shop", PHRASE, &ok), 0);
	assert_true(ok);
	assert_int_equal(hist_confirm_check(h, "shop", "take down shop", &ok), 0);
	assert_false(ok);
	assert_int_equal(hist_confirm_check(h, "shop", "", &ok), 0);
	assert_false(ok);
	assert_int_equal(hist_confirm_check(h, "other", PHRASE, &ok), BG_ENOT_FOUND);
	/* Kept again: unchanged. Changed: the old one no longer matches. */
	assert_int_equal(hist_confirm_keep(h, "shop", PHRASE), 0);
	assert_int_equal(hist_confirm_keep(h, "shop", "NEW PHRASE"), 0);
	assert_int_equal(hist_confirm_check(h, "shop", PHRASE, &ok), 0);
	assert_false(ok);
	assert_int_equal(hist_confirm_check(h, "shop", "NEW PHRASE", &ok), 0);
	assert_true(ok);
	hist_close(h);
	/* Never in clear on disk. */
	char *path = bg_xasprintf("%s/history/data.mdb", dir);
	struct th_run r;
	char *argv[] = {"grep", "-c", "NEW PHRASE", path, NULL};
	th_run_argv(argv, NULL, &r);
	assert_int_equal(r.status, 1); /* 1: read, no match (2: not read) */
	th_run_release(&r);
	char *argv2[] = {"grep", "-c", "pbkdf2-sha256", path, NULL};
	th_run_argv(argv2, NULL, &r);
	assert_int_equal(r.status, 0); /* the record is there, hashed */
	th_run_release(&r);
	free(path);
	/* Read-only: answers, cannot keep. */
	assert_int_equal(hist_open(&h, dir, HIST_RDONLY, &d), 0);
	assert_int_equal(hist_confirm_check(h, "shop", "NEW PHRASE", &ok), 0);
	assert_true(ok);
	assert_int_not_equal(hist_confirm_keep(h, "shop", "X"), 0);
	hist_close(h);
	/* Forget. */
	assert_int_equal(hist_open(&h, dir, 0, &d), 0);
	assert_int_equal(hist_confirm_keep(h, "shop", NULL), 0);
	assert_int_equal(hist_confirm_check(h, "shop", "NEW PHRASE", &ok), BG_ENOT_FOUND);
	hist_close(h);
	bg_diag_release(&d);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_and_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
