/*
 * t-went-live: the "went live" fact of issue 13, the pure parts. Which
 * journal entries say a version went live (hist_live_version) and how a
 * kept registry digest reads back (hist_digest_parse); went_live in the
 * observation's JSON (written only when known, read back); and the
 * planner with it: an idle colour holding a version OLDER than the live
 * one that never went live is not restarted and is no rollback target,
 * while the same colour whose version did go live stays warm as before,
 * and an observation without the fact (an older snapshot) keeps the old
 * rule.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "hist-live.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "th.h"

static void fx_load(struct pfx *f)
{
	const char *refs[] = {"bluegreen-test/web:v1", "bluegreen-test/web:v2"};
	char *g = pfx_global_conf("development");
	pfx_load(f, "wentlive", g, "site: shop\ndomains: [shop.example.com]\n"
			"image: bluegreen-test/web:v2\nport: 8080\n", refs, 2);
	free(g);
	pfx_add_shop_networks(f);
	obs_finish(&f->obs);
}

static void add_colour(struct pfx *f, const char *colour, const char *spec, unsigned version,
		const char *state)
{
	char *name = bg_xasprintf("shop-%s", colour);
	bool up = obs_cstate_parse(state) == OBS_CSTATE_RUNNING;
	pfx_add_container(f, name, "colour", colour, 1, spec, version,
			state, !up ? NULL : strcmp(colour, "blue") == 0 ? "10.0.0.2" : "10.0.0.3");
	free(name);
}

/* live: NULL (fact unknown) or a space-separated list of versions that went live. */
static void add_hist(struct pfx *f, unsigned last, const char *live)
{
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = last;
	h->live_known = live != NULL;
	for (const char *p = live; p && *p;) {
		size_t n = strcspn(p, " ");
		bg_strv_push_take(&h->went_live, bg_xstrndup(p, n));
		p += n + (p[n] == ' ');
	}
	obs_finish(&f->obs);
}

/* Live green v2 (desired), idle blue v1 stopped. */
static void fx_scene(struct pfx *f, const char *live)
{
	fx_load(f);
	char *spec = pfx_spec(f, -1);
	add_colour(f, "green", spec, 2, "running");
	add_colour(f, "blue", "v1spec", 1, "exited");
	pfx_add_edge(f, "green", NULL, 2, "10.0.0.3:8080", NULL);
	add_hist(f, 2, live);
	free(spec);
}

static const char *blocked_rollback(struct pfx *f, struct plan *p)
{
	struct plan_args args;
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(f, &args, p);
	plan_args_release(&args);
	const struct plan_site *ps = plan_site_find(p, "shop");
	assert_non_null(ps);
	return ps->blocked;
}

static void test_older_never_live(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;

	/* v1 never went live (only v2 did): not restarted, no rollback target. */
	fx_scene(&f, "2");
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, true, "");
	plan_release(&p);
	const char *b = blocked_rollback(&f, &p);
	assert_non_null(b);
	th_assert_contains(b, "no rollback target");
	th_assert_contains(b, "never went live");
	plan_release(&p);
	pfx_release(&f);

	/* v1 went live before v2: the warm previous, as today. */
	fx_scene(&f, "1 2");
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, true, "start container shop-blue\n");
	th_assert_contains(p.actions[0].reason, "so a rollback stays instant");
	plan_release(&p);
	b = blocked_rollback(&f, &p);
	assert_non_null(b); /* stopped: not instant, the old reason */
	th_assert_contains(b, "is not running");
	plan_release(&p);
	pfx_release(&f);

	/* Unknown (an older snapshot): older than live counts as previous, as before. */
	fx_scene(&f, NULL);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, true, "start container shop-blue\n");
	plan_release(&p);
	pfx_release(&f);
}

static void test_went_live_json(void **state)
{
	(void)state;
	struct obs o, back;
	struct bg_buf b = BG_BUF_INIT;
	struct bg_diag d;
	obs_init(&o);
	obs_init(&back);
	bg_diag_init(&d);
	struct obs_hist_site *h = obs_hist_add(&o);
	h->site = bg_xstrdup("shop");
	h->last_version = 3;
	struct obs_hist_site *h2 = obs_hist_add(&o);
	h2->site = bg_xstrdup("blog");
	h2->last_version = 1;
	h2->live_known = true;
	bg_strv_push(&h2->went_live, "1");
	obs_finish(&o);
	assert_int_equal(obs_to_json(&o, &b), 0);
	/* Only where known: a snapshot of an unread site stays as before. */
	assert_int_equal(th_count(b.data, "went_live"), 1);
	assert_int_equal(obs_from_json(&back, b.data, b.len, &d), 0);
	obs_finish(&back);
	assert_int_equal(obs_hist_went_live(&back, "blog", 1), 1);
	assert_int_equal(obs_hist_went_live(&back, "blog", 2), 0);
	assert_int_equal(obs_hist_went_live(&back, "shop", 1), -1);
	assert_int_equal(obs_hist_went_live(&back, "nosite", 1), -1);
	assert_int_equal(obs_hist_went_live(&back, "blog", 0), -1);
	bg_buf_release(&b);
	bg_diag_release(&d);
	obs_release(&o);
	obs_release(&back);
}

static void test_entries(void **state)
{
	(void)state;
	struct hist_entry e = {.action = "switch", .result = "ok",
		.details = "first deploy: blue (v1) is live"};
	assert_int_equal(hist_live_version(&e), 1);
	e.details = "live blue (v1) -> green (v12)";
	assert_int_equal(hist_live_version(&e), 12);
	e.action = "rollback";
	e.details = "live green (v2) -> blue (v1); v2 marked rejected";
	assert_int_equal(hist_live_version(&e), 1);
	e.result = "refused";
	assert_int_equal(hist_live_version(&e), 0);
	e.result = "ok";
	e.action = "step";
	assert_int_equal(hist_live_version(&e), 0);
	e.action = "switch";
	e.details = "live blue (vX) -> green (v)";
	assert_int_equal(hist_live_version(&e), 0);

	char *det = hist_digest_details(3, "reg:5000/shop:1", "sha256:0123456789abcdef0123",
			"reg:5000/shop@sha256:feed");
	struct hist_entry g = {.action = HIST_DIGEST_ACTION, .result = "ok", .details = det};
	unsigned v = 0;
	char *dg = NULL;
	assert_true(hist_digest_parse(&g, &v, &dg));
	assert_int_equal(v, 3);
	assert_string_equal(dg, "reg:5000/shop@sha256:feed");
	free(dg);
	g.action = "switch";
	assert_false(hist_digest_parse(&g, &v, &dg));
	assert_null(dg);
	free(det);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_went_live_json),
		cmocka_unit_test(test_older_never_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
