/*
 * t-cfgwatch: the file watcher against real inotify in a temporary
 * directory: what a change is called, that bursts are folded (debounce),
 * that a burst that never pauses is still delivered (max wait) and then
 * followed by a quiet batch, that editors' save-by-rename and a sites/
 * created after start are seen, that litter is ignored, and that closing
 * with a batch pending frees everything (valgrind).
 */
#include "bg.h"
#include "cfgwatch.h"
#include "th.h"

#include <unistd.h>

struct rec {
	uv_loop_t loop;
	struct cfgw *w;
	unsigned n_batches;
	unsigned kinds;           /* union of every batch's kinds */
	struct bg_strv config;    /* every config name seen, in order */
	struct bg_strv edge;
	unsigned n_forced;
	bool closed;
};

static char *dir, *edge;

/*
 * Every window and wait of a test, scaled together (x10 under valgrind,
 * times BG_TEST_TIME_SCALE): the batch counts depend on the ratio of the
 * pauses between edits to the debounce, which scaling keeps, not on the
 * absolute times a slow run stretches.
 */
static unsigned T(unsigned ms)
{
	return ms * (unsigned)th_time_scale() * (th_under_valgrind() ? 10 : 1);
}

static void on_batch(struct cfgw *w, const struct cfgw_batch *b, void *arg)
{
	struct rec *r = arg;
	r->n_batches++;
	r->kinds |= b->kinds;
	r->n_forced += b->forced;
	for (size_t i = 0; i < b->config_files.n; i++) {
		bg_strv_push(&r->config, b->config_files.v[i]);
	}
	for (size_t i = 0; i < b->edge_files.n; i++) {
		bg_strv_push(&r->edge, b->edge_files.v[i]);
	}
	assert_true(b->n_events >= 1 || b->forced == false);
	assert_true(b->last_ms >= b->first_ms);
}

static void on_closed(struct cfgw *w, void *arg)
{
	((struct rec *)arg)->closed = true;
}

static void on_stop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run the loop for ms (events are real: they need the loop to be read). */
static void spin(struct rec *r, unsigned ms)
{
	uv_timer_t t;
	uv_timer_init(&r->loop, &t);
	uv_timer_start(&t, on_stop, ms, 0);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&r->loop, UV_RUN_NOWAIT);
}

static void rec_start(struct rec *r, uint64_t debounce, uint64_t max_wait)
{
	struct bg_diag d;
	memset(r, 0, sizeof(*r));
	bg_strv_init(&r->config);
	bg_strv_init(&r->edge);
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(cfgw_create(&r->w, &r->loop, on_batch, r), 0);
	cfgw_set_timing(r->w, debounce, max_wait);
	cfgw_ignore(r->w, "state");
	bg_diag_init(&d);
	assert_int_equal(cfgw_watch(r->w, dir, edge, &d), 0);
	bg_diag_release(&d);
}

static void rec_stop(struct rec *r)
{
	cfgw_close(r->w, on_closed);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_true(r->closed);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	bg_strv_release(&r->config);
	bg_strv_release(&r->edge);
}

static int setup(void **state)
{
	dir = th_tmpdir("cfgw");
	edge = bg_xasprintf("%s/nginx/conf.d", dir);
	th_write(dir, "global.conf", "install_mode: development\n");
	th_write(dir, "nginx/conf.d/.keep", "");
	return 0;
}

static int teardown(void **state)
{
	th_rm_rf(dir);
	free(dir);
	free(edge);
	return 0;
}

static void t_names_and_kinds(void **state)
{
	struct rec r;
	rec_start(&r, T(50), T(1000));
	th_write(dir, "global.conf", "install_mode: staging\n");
	th_write(dir, "approve", "0123456789abcdef\n");
	th_write(dir, "nginx/conf.d/bluegreen-a.conf", "x\n");
	spin(&r, T(300));
	assert_int_equal(r.n_batches, 1); /* all within one debounce window */
	assert_int_equal(r.kinds, CFGW_CONFIG | CFGW_APPROVE | CFGW_EDGE);
	assert_true(bg_strv_contains(&r.config, "global.conf"));
	assert_false(bg_strv_contains(&r.config, "approve"));
	assert_true(bg_strv_contains(&r.edge, "bluegreen-a.conf"));
	rec_stop(&r);
}

static void t_debounce_folds_a_burst(void **state)
{
	struct rec r;
	rec_start(&r, T(100), T(2000));
	for (int i = 0; i < 50; i++) {
		char *c = bg_xasprintf("install_mode: development\n# %d\n", i);
		th_write(dir, "global.conf", c);
		free(c);
		usleep(T(2) * 1000);
	}
	spin(&r, T(400));
	assert_int_equal(r.n_batches, 1);
	assert_int_equal(r.n_forced, 0);
	assert_int_equal(r.config.n, 1);
	rec_stop(&r);
}

static void t_max_wait_and_quiet_followup(void **state)
{
	struct rec r;
	rec_start(&r, T(100), T(250));
	/* Edits every 40 ms for 800 ms: never 100 ms of quiet. */
	for (int i = 0; i < 20; i++) {
		char *c = bg_xasprintf("install_mode: development\n# %d\n", i);
		th_write(dir, "global.conf", c);
		free(c);
		spin(&r, T(40));
	}
	spin(&r, T(400));
	/* Delivered during the burst (forced), and once more after it, quiet. */
	assert_true(r.n_forced >= 2);
	assert_true(r.n_batches > r.n_forced);
	assert_true(r.n_batches <= 20 / 6 + 3);
	rec_stop(&r);
}

static void t_save_by_rename_and_litter(void **state)
{
	struct rec r;
	th_write(dir, "sites/a.conf", "site: a\n");
	rec_start(&r, T(50), T(1000));
	/* Editor litter alone is not a change. */
	th_write(dir, "sites/.a.conf.swp", "junk");
	th_write(dir, "sites/a.conf~", "junk");
	th_write(dir, "4913", "");
	spin(&r, T(200));
	assert_int_equal(r.n_batches, 0);
	/* vim-style save: write aside, rename over the original. */
	th_write(dir, "sites/.a.conf.new", "site: a\nport: 1\n");
	char *from = bg_xasprintf("%s/sites/.a.conf.new", dir);
	char *to = bg_xasprintf("%s/sites/a.conf", dir);
	assert_int_equal(rename(from, to), 0);
	spin(&r, T(200));
	assert_int_equal(r.n_batches, 1);
	assert_true(bg_strv_contains(&r.config, "sites/a.conf"));
	/* Removed site file. */
	assert_int_equal(unlink(to), 0);
	spin(&r, T(200));
	assert_int_equal(r.n_batches, 2);
	free(from);
	free(to);
	rec_stop(&r);
	char *s = bg_xasprintf("%s/sites", dir);
	th_rm_rf(s);
	free(s);
}

static void t_directory_created_later(void **state)
{
	struct rec r;
	char *profiles = bg_xasprintf("%s/profiles", dir);
	th_rm_rf(profiles);
	rec_start(&r, T(50), T(1000));
	/* profiles/ appears: the batch names it and the watcher re-arms... */
	th_write(dir, "profiles/p.conf", "a: 1\n");
	spin(&r, T(200));
	assert_true(r.n_batches >= 1);
	assert_true(bg_strv_contains(&r.config, "profiles"));
	/* ...so a later edit inside it is seen by name. */
	th_write(dir, "profiles/p.conf", "a: 2\n");
	spin(&r, T(200));
	assert_true(bg_strv_contains(&r.config, "profiles/p.conf"));
	/* The ignored name (a state directory) never counts. */
	unsigned n = r.n_batches;
	th_write(dir, "state/x", "1");
	char *st = bg_xasprintf("%s/state", dir);
	th_rm_rf(st);
	free(st);
	spin(&r, T(200));
	assert_int_equal(r.n_batches, n);
	rec_stop(&r);
	free(profiles);
}

/*
 * Issue 11: nginx is switched by a flag in EDGE_DIR/.bluegreen-live, not by
 * its file. The flag directory appears after start (the first switch): it
 * is picked up, and a flag renamed by hand is an edge event by name at
 * once, not at the next full observation.
 */
static void t_edge_flag_dir(void **state)
{
	struct rec r;
	char *flags = bg_xasprintf("%s/" CFGW_EDGE_FLAG_DIR, edge);
	th_rm_rf(flags);
	rec_start(&r, T(50), T(1000));
	th_write(edge, CFGW_EDGE_FLAG_DIR "/shop.live-blue", "");
	spin(&r, T(200));
	assert_true(r.n_batches >= 1);
	assert_true(bg_strv_contains(&r.edge, CFGW_EDGE_FLAG_DIR));
	unsigned n = r.n_batches;
	char *from = bg_xasprintf("%s/shop.live-blue", flags);
	char *to = bg_xasprintf("%s/shop.live-green", flags);
	assert_int_equal(rename(from, to), 0);
	spin(&r, T(200));
	assert_int_equal(r.n_batches, n + 1);
	assert_true(r.kinds & CFGW_EDGE);
	assert_true(bg_strv_contains(&r.edge, CFGW_EDGE_FLAG_DIR "/shop.live-green"));
	rec_stop(&r);
	th_rm_rf(flags);
	free(to);
	free(from);
	free(flags);
}

static void t_flush_and_close_pending(void **state)
{
	struct rec r;
	rec_start(&r, T(5000), T(10000));
	th_write(dir, "global.conf", "install_mode: production\n");
	spin(&r, T(100));
	assert_int_equal(r.n_batches, 0);
	assert_true(cfgw_pending(r.w));
	cfgw_flush(r.w);
	assert_int_equal(r.n_batches, 1);
	/* A pending batch dropped by close: nothing leaks, no callback after. */
	th_write(dir, "global.conf", "install_mode: development\n");
	spin(&r, T(100));
	assert_true(cfgw_pending(r.w));
	rec_stop(&r);
	assert_int_equal(r.n_batches, 1);
}

static void t_unwatchable_dir(void **state)
{
	struct rec r;
	struct bg_diag d;
	memset(&r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&r.loop), 0);
	assert_int_equal(cfgw_create(&r.w, &r.loop, on_batch, &r), 0);
	bg_diag_init(&d);
	assert_true(cfgw_watch(r.w, "/nonexistent/bluegreen", NULL, &d) < 0);
	assert_true(bg_diag_has_errors(&d));
	bg_diag_release(&d);
	cfgw_close(r.w, on_closed);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_true(r.closed);
	assert_int_equal(uv_loop_close(&r.loop), 0);
}

static void t_ignored_names(void **state)
{
	assert_true(cfgw_name_ignored(".hidden"));
	assert_true(cfgw_name_ignored("a.conf~"));
	assert_true(cfgw_name_ignored("a.conf.swp"));
	assert_true(cfgw_name_ignored("4913"));
	assert_true(cfgw_name_ignored("#a.conf#"));
	assert_true(cfgw_name_ignored(""));
	assert_false(cfgw_name_ignored("a.conf"));
	assert_false(cfgw_name_ignored("global.conf"));
	assert_false(cfgw_name_ignored("approve"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_ignored_names),
		cmocka_unit_test(t_names_and_kinds),
		cmocka_unit_test(t_debounce_folds_a_burst),
		cmocka_unit_test(t_max_wait_and_quiet_followup),
		cmocka_unit_test(t_save_by_rename_and_litter),
		cmocka_unit_test(t_directory_created_later),
		cmocka_unit_test(t_edge_flag_dir),
		cmocka_unit_test(t_flush_and_close_pending),
		cmocka_unit_test(t_unwatchable_dir),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
