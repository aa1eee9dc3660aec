/*
 * t-services-plan: backing services and limits in the desired state and the
 * plan (issue 13). A site or service without `resources:` keeps the spec
 * hash it always had (pinned below, so an existing deployment sees no
 * change), one with limits gets a new hash and the limits in its create
 * request; a service whose image changes is planned as a recreate with its
 * downtime; a site's colour waits for the services it depends on.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "rt.h"
#include "plan-fx.h"
#include "th.h"

/* The shared plan fixture and the desired state built from it. */
struct fx {
	struct pfx pfx;
	struct desired des;
};

/* site: extra keys at the top level of the site; db: extra keys of service db. */
static void fx_load(struct fx *f, const char *db_image, const char *site_extra,
		const char *db_extra)
{
	struct bg_diag d;
	const char *refs[] = {"bluegreen-test/web:v1", "bluegreen-test/db:1", "bluegreen-test/db:2"};
	char *sc = bg_xasprintf(
		"site: shop\n"
		"domains: [shop.example.com]\n"
		"image: bluegreen-test/web:v1\n"
		"port: 8080\n"
		"env: {NODE_ENV: production}\n"
		"services:\n"
		"  db:\n"
		"    image: %s\n"
		"    volumes: {pgdata: /data}\n"
		"%s"
		"depends_on: [db]\n"
		"%s", db_image, db_extra ? db_extra : "", site_extra ? site_extra : "");
	char *g = pfx_global_conf("staging");
	pfx_load(&f->pfx, "services", g, sc, refs, 3);
	free(g);
	free(sc);
	obs_finish(&f->pfx.obs);
	bg_diag_init(&d);
	assert_int_equal(des_build(&f->des, f->pfx.cfg, &f->pfx.obs, &d), 0);
	bg_diag_release(&d);
}

static void fx_release(struct fx *f)
{
	des_release(&f->des);
	pfx_release(&f->pfx);
}

/*
 * The hashes of this configuration before limits existed (computed with
 * 2a9f8c7): a site without resources must keep them byte for byte.
 */
#define GOLDEN_COLOUR_SPEC "9c945ac6c85476e9c024275594d1c2228b1c41a2bedad3a90d74e5136b326be4"
#define GOLDEN_SERVICE_SPEC "b98392a9a80139f1a83e8b9da26933d8d84fc9f8835d9fa7a6d41b432d91058f"

static void test_spec_unchanged_without_resources(void **state)
{
	(void)state;
	struct fx f;
	fx_load(&f, "bluegreen-test/db:1", NULL, NULL);
	const struct des_site *s = &f.des.sites[0];
	th_assert_not_contains(s->spec_json, "resources");
	th_assert_not_contains(s->services[0].spec_json, "resources");
	assert_string_equal(s->spec, GOLDEN_COLOUR_SPEC);
	assert_string_equal(s->services[0].spec, GOLDEN_SERVICE_SPEC);
	struct des_create dc;
	des_colour_create(&f.des, s, "blue", 1, NULL, &dc);
	assert_true(dc.spec.memory_bytes == 0 && dc.spec.nano_cpus == 0 && dc.spec.pids_limit == 0);
	des_create_release(&dc);
	fx_release(&f);
}

static void test_spec_changes_with_resources(void **state)
{
	(void)state;
	struct fx f, g;
	fx_load(&f, "bluegreen-test/db:1", NULL, NULL);
	fx_load(&g, "bluegreen-test/db:1", "resources: {memory: 512m, cpus: \"1.5\", pids: 256}\n",
			"    resources: {memory: 1g}\n");
	const struct des_site *a = &f.des.sites[0], *b = &g.des.sites[0];
	assert_string_not_equal(a->spec, b->spec);
	assert_string_not_equal(a->services[0].spec, b->services[0].spec);
	th_assert_contains(b->spec_json,
			"\"resources\":{\"memory\":536870912,\"nano_cpus\":1500000000,\"pids\":256}");
	th_assert_contains(b->services[0].spec_json,
			"\"resources\":{\"memory\":1073741824,\"nano_cpus\":0,\"pids\":0}");
	struct des_create dc;
	des_colour_create(&g.des, b, "green", 2, NULL, &dc);
	assert_true(dc.spec.memory_bytes == 536870912ull);
	assert_true(dc.spec.nano_cpus == 1500000000ull);
	assert_int_equal(dc.spec.pids_limit, 256);
	des_create_release(&dc);
	des_service_create(&g.des, b, &b->services[0], NULL, &dc);
	assert_true(dc.spec.memory_bytes == 1073741824ull);
	assert_true(dc.spec.nano_cpus == 0 && dc.spec.pids_limit == 0);
	des_create_release(&dc);
	fx_release(&f);
	fx_release(&g);
}

/* Networks and volumes of shop, and its db container with spec and image. */
static void add_infra(struct fx *f, const char *db_spec, const char *db_image)
{
	pfx_add_shop_networks(&f->pfx);
	struct obs_volume *v = obs_volume_add(&f->pfx.obs);
	v->name = bg_xstrdup("shop-pgdata");
	obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	struct obs_container *c = obs_container_add(&f->pfx.obs);
	c->name = bg_xstrdup("shop-db");
	c->id = bg_xstrdup("id-shop-db");
	c->image = bg_xstrdup(db_image);
	c->state = OBS_CSTATE_RUNNING;
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_ROLE, "service");
	obs_labels_set(&c->labels, BG_LABEL_SERVICE, "db");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, db_spec);
	obs_labels_set(&c->labels, BG_LABEL_IMAGE, db_image);
}

/* A new image for db: a recreate in the open, with its downtime, never a note only. */
static void test_service_image_change_is_recreate(void **state)
{
	(void)state;
	struct fx old, f;
	struct plan p;
	fx_load(&old, "bluegreen-test/db:1", NULL, NULL);
	fx_load(&f, "bluegreen-test/db:2", NULL, "    health: {interval: 2s, retries: 10}\n");
	add_infra(&f, old.des.sites[0].services[0].spec, "bluegreen-test/db:1");
	pfx_plan_ok(&f.pfx, NULL, &p);
	char *got = pfx_ops(&p, false);
	th_assert_contains(got,
		"stop service shop-db\n"
		"remove service shop-db\n"
		"create service shop-db\n"
		"start service shop-db\n"
		"health service shop-db\n"
		"create container shop-blue\n");
	for (size_t i = 0; i < p.n_actions; i++) {
		const struct plan_action *a = &p.actions[i];
		if (a->kind == PLAN_KIND_SERVICE) {
			assert_string_equal(a->service, "db");
			assert_int_equal(a->phase, PLAN_PHASE_BUILD);
		}
		if (a->kind == PLAN_KIND_SERVICE && a->op == PLAN_OP_STOP) {
			assert_string_equal(a->target_id, "id-shop-db");
			th_assert_contains(a->reason, "image bluegreen-test/db:1 -> bluegreen-test/db:2");
			/* 30 s stop grace + 1 s create and start + 2 s health interval */
			th_assert_contains(a->reason, "db will be stopped for about 33 s");
		}
	}
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_int_equal(ps->notes.n, 1);
	th_assert_contains(ps->notes.v[0], "db will be stopped for about 33 s");
	th_assert_contains(ps->notes.v[0], "at most 20 s");
	free(got);
	plan_release(&p);
	/* An image not present yet is pulled before the stop: a pull is not downtime. */
	struct fx g;
	fx_load(&g, "bluegreen-test/db:3", NULL, NULL);
	add_infra(&g, old.des.sites[0].services[0].spec, "bluegreen-test/db:1");
	pfx_plan_ok(&g.pfx, NULL, &p);
	got = pfx_ops(&p, false);
	th_assert_contains(got, "pull image bluegreen-test/db:3\nstop service shop-db\n");
	free(got);
	plan_release(&p);
	fx_release(&g);
	fx_release(&old);
	fx_release(&f);
}

/* One stats document as Docker 20.10 on cgroup v2 answers it (trimmed). */
static void test_parse_stats(void **state)
{
	(void)state;
	const char *doc = "{\"memory_stats\":{\"usage\":90177536,\"limit\":536870912,"
		"\"stats\":{\"inactive_file\":5242880}},\"pids_stats\":{\"current\":7,"
		"\"limit\":512},\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":3000000000},"
		"\"system_cpu_usage\":200000000000,\"online_cpus\":2},\"precpu_stats\":"
		"{\"cpu_usage\":{\"total_usage\":2000000000},\"system_cpu_usage\":"
		"100000000000}}";
	struct json_object *j = json_tokener_parse(doc);
	struct dk_stats st;
	assert_non_null(j);
	dk_parse_stats(j, &st);
	assert_true(st.mem_usage == 90177536ull - 5242880ull);
	assert_true(st.mem_limit == 536870912ull);
	assert_true(st.pids == 7 && st.pids_limit == 512);
	assert_true(st.has_cpu);
	assert_true(st.cpu_percent > 1.99 && st.cpu_percent < 2.01); /* 1e9/1e11 x 2 CPUs */
	json_object_put(j);
	/* A stopped container's sample: zeros, no cpu. */
	j = json_tokener_parse("{\"memory_stats\":{},\"precpu_stats\":{}}");
	dk_parse_stats(j, &st);
	assert_false(st.has_cpu);
	assert_true(st.mem_usage == 0 && st.pids_limit == 0);
	json_object_put(j);
}

/* depends_on: the service's health step comes before the colour's create. */
static void test_depends_on_order(void **state)
{
	(void)state;
	struct fx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/db:1", NULL, "    health: {tcp: 5432}\n");
	pfx_plan_ok(&f.pfx, NULL, &p);
	char *got = pfx_ops(&p, false);
	th_assert_contains(got,
		"create service shop-db\n"
		"start service shop-db\n"
		"health service shop-db\n"
		"create container shop-blue\n");
	free(got);
	plan_release(&p);
	/* A stopped service is started and checked again before anything else. */
	struct fx g;
	fx_load(&g, "bluegreen-test/db:1", NULL, NULL);
	add_infra(&g, g.des.sites[0].services[0].spec, "bluegreen-test/db:1");
	g.pfx.obs.containers[0].state = OBS_CSTATE_EXITED;
	pfx_plan_ok(&g.pfx, NULL, &p);
	got = pfx_ops(&p, false);
	th_assert_contains(got, "start service shop-db\nhealth service shop-db\n"
			"create container shop-blue\n");
	free(got);
	plan_release(&p);
	fx_release(&f);
	fx_release(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_unchanged_without_resources),
		cmocka_unit_test(test_spec_changes_with_resources),
		cmocka_unit_test(test_service_image_change_is_recreate),
		cmocka_unit_test(test_depends_on_order),
		cmocka_unit_test(test_parse_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
