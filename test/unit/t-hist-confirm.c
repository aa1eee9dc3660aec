/*
 * t-hist-confirm: a site's confirm phrase kept in the history
 * (hist-confirm.c): the right phrase matches, a wrong or empty one does
 * not, a site with none kept says so, the store never holds the phrase
 * in clear, a changed phrase replaces the kept one, NULL forgets it, and
 * a read-only history answers but cannot keep. hist_observe says which
 * known sites have a kept phrase (obs_hist_site.confirm_kept, what the
 * plan of a removed site needs), and a snapshot keeps that.
 */
#include "bg.h"
#include "hist-confirm.h"
#include "obs.h"
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

/* Two deployed sites, a phrase kept for one: the observation says which. */
static void test_observe_confirm_kept(void **state)
{
	(void)state;
	char *dir = th_tmpdir("hist-confirm-obs");
	struct hist *h = NULL;
	struct bg_diag d;
	unsigned v = 0;
	struct obs o, back;
	struct bg_buf json = BG_BUF_INIT;
	bg_diag_init(&d);
	assert_int_equal(hist_open(&h, dir, 0, &d), 0);
	assert_int_equal(hist_version_record(h, "shop", "aa11", "{}", NULL, &v), 0);
	assert_int_equal(hist_version_record(h, "blog", "bb22", "{}", NULL, &v), 0);
	assert_int_equal(hist_confirm_keep(h, "shop", PHRASE), 0);
	obs_init(&o);
	assert_int_equal(hist_observe(h, &o), 0);
	obs_finish(&o);
	assert_true(obs_hist_find(&o, "shop")->confirm_kept);
	assert_false(obs_hist_find(&o, "blog")->confirm_kept);
	/* A snapshot (plan --observed) keeps it. */
	o.engine_version = bg_xstrdup("20.10.24");
	o.api_version = bg_xstrdup("1.41");
	assert_int_equal(obs_to_json(&o, &json), 0);
	obs_init(&back);
	assert_int_equal(obs_from_json(&back, json.data, json.len, &d), 0);
	assert_true(obs_hist_find(&back, "shop")->confirm_kept);
	assert_false(obs_hist_find(&back, "blog")->confirm_kept);
	obs_release(&back);
	obs_release(&o);
	/* Forgotten: no longer kept. */
	assert_int_equal(hist_confirm_keep(h, "shop", NULL), 0);
	obs_init(&o);
	assert_int_equal(hist_observe(h, &o), 0);
	obs_finish(&o);
	assert_false(obs_hist_find(&o, "shop")->confirm_kept);
	obs_release(&o);
	hist_close(h);
	bg_buf_release(&json);
	bg_diag_release(&d);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keep_and_check),
		cmocka_unit_test(test_observe_confirm_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
