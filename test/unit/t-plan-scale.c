/*
 * t-plan-scale: issue 13's scale, the planner's decision (from a real
 * configuration and an observation built in code, the fixture style of
 * t-plan.c). A change of `replicas` alone scales the live colour in place:
 * up creates, starts and gates the new replicas then writes the edge once;
 * down writes the edge first (capped to the wanted count), then drains and
 * removes the extras; no switch, the live colour and version unchanged.
 * The plan after either is empty although the live replicas then carry
 * two spec hashes. Containers without the spec-base label (made before
 * it) and any other change still get a blue/green candidate.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "edge.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "th.h"

struct specs {
	char spec[65], base[65];
};

static char *site_conf(unsigned replicas, const char *image)
{
	return bg_xasprintf("site: shop\n"
			"domains: [shop.example.com]\n"
			"image: %s\n"
			"port: 8080\n"
			"replicas: %u\n", image, replicas);
}

static void fx_load(struct pfx *f, unsigned replicas, const char *image)
{
	const char *refs[] = {"bluegreen-test/web:v1", "bluegreen-test/web:v2"};
	char *sc = site_conf(replicas, image);
	char *g = pfx_global_conf("development");
	pfx_load(f, "planscale", g, sc, refs, 2);
	free(g);
	free(sc);
	pfx_add_shop_networks(f);
}

/* The spec and spec-base the configuration with this count (image v1) gives. */
static void specs_of(unsigned replicas, struct specs *out)
{
	struct pfx f;
	struct desired des;
	struct bg_diag d;
	bg_diag_init(&d);
	fx_load(&f, replicas, "bluegreen-test/web:v1");
	obs_finish(&f.obs);
	assert_int_equal(des_build(&des, f.cfg, &f.obs, &d), 0);
	memcpy(out->spec, des.sites[0].spec, 65);
	des_colour_spec_base(&des, &des.sites[0], out->base);
	des_release(&des);
	bg_diag_release(&d);
	pfx_release(&f);
}

/* Replica r of colour, running, labelled as bluegreen creates it (base NULL: an older one). */
static void add_replica(struct pfx *f, const char *colour, unsigned r, const char *spec,
		const char *base, unsigned version)
{
	struct obs_container *c = obs_container_add(&f->obs);
	char buf[16];
	c->name = des_colour_container_name("shop", colour, r);
	c->id = bg_xasprintf("id-%s", c->name);
	c->image = bg_xstrdup("bluegreen-test/web:v1");
	c->state = OBS_CSTATE_RUNNING;
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_ROLE, "colour");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, spec);
	if (base) {
		obs_labels_set(&c->labels, DES_LABEL_SPEC_BASE, base);
	}
	obs_labels_set(&c->labels, BG_LABEL_COLOUR, colour);
	snprintf(buf, sizeof(buf), "%u", r);
	obs_labels_set(&c->labels, BG_LABEL_REPLICA, buf);
	snprintf(buf, sizeof(buf), "%u", version);
	obs_labels_set(&c->labels, BG_LABEL_VERSION, buf);
	c->nets = bg_xcalloc(1, sizeof(*c->nets));
	c->nets[0].network = bg_xstrdup("bgt-edge");
	c->nets[0].ip = bg_xasprintf("10.0.%d.%u", strcmp(colour, "blue") == 0 ? 1 : 2, r);
	c->n_nets = 1;
}

/* The edge file bluegreen writes for live colour with replicas 1..n. */
static void add_edge(struct pfx *f, const char *live, unsigned version, unsigned n)
{
	struct bg_strv lu, pu;
	struct bg_buf content = BG_BUF_INIT;
	char sha[65];
	bg_strv_init(&lu);
	bg_strv_init(&pu);
	for (unsigned r = 1; r <= n; r++) {
		bg_strv_push_take(&lu, bg_xasprintf("10.0.%d.%u:8080",
				strcmp(live, "blue") == 0 ? 1 : 2, r));
	}
	struct edge_view v = {.site = &f->cfg->sites[0], .live = live, .live_version = version,
			.live_upstreams = &lu, .preview_upstreams = &pu};
	assert_int_equal(edge_nginx_impl.render(f->cfg, &v, &content), 0);
	bg_sha256_hex(content.data, content.len, sha);
	struct obs_edge *e = obs_edge_add(&f->obs);
	e->site = bg_xstrdup("shop");
	e->path = edge_nginx_impl.path(f->cfg, "shop");
	e->exists = true;
	e->live = bg_xstrdup(live);
	e->content_sha = bg_xstrdup(sha);
	bg_strv_copy(&e->upstreams, &lu);
	bg_strv_sort(&e->upstreams);
	bg_strv_release(&lu);
	bg_strv_release(&pu);
	bg_buf_release(&content);
}

static void add_hist(struct pfx *f, unsigned last, const char *spec, unsigned v)
{
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = last;
	bg_strv_push_take(&h->spec_versions, bg_xasprintf("%s=%u", spec, v));
}

static char *text_of(struct pfx *f, const struct plan *p)
{
	struct bg_buf text = BG_BUF_INIT;
	plan_render_text(p, f->cfg, false, &text);
	return bg_buf_detach(&text, NULL);
}

static const struct plan_action *find_op(const struct plan *p, enum plan_op op)
{
	for (size_t i = 0; i < p->n_actions; i++) {
		if (p->actions[i].op == op) {
			return &p->actions[i];
		}
	}
	return NULL;
}

/* No switch: blue stays live at v1, nothing is a candidate. */
static void assert_live_stays(const struct plan *p)
{
	const struct plan_site *ps = plan_site_find(p, "shop");
	assert_non_null(ps);
	assert_string_equal(ps->live_before, "blue");
	assert_string_equal(ps->live_after, "blue");
	assert_int_equal(ps->version_before, 1);
	assert_int_equal(ps->version_after, 1);
	assert_null(ps->candidate_after);
	assert_null(find_op(p, PLAN_OP_SWITCH));
}

static void test_scale_up(void **state)
{
	(void)state;
	struct specs s1;
	struct pfx f;
	struct plan p;
	specs_of(1, &s1);
	fx_load(&f, 3, "bluegreen-test/web:v1");
	add_replica(&f, "blue", 1, s1.spec, s1.base, 1);
	add_edge(&f, "blue", 1, 1);
	add_hist(&f, 1, s1.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, false,
		"create container shop-blue-2\n"
		"start container shop-blue-2\n"
		"create container shop-blue-3\n"
		"start container shop-blue-3\n"
		"health container shop-blue\n"
		"write edge EDGE\n");
	assert_live_stays(&p);
	const struct plan_action *c = find_op(&p, PLAN_OP_CREATE);
	assert_int_equal(c->version, 1); /* the live version: a scale is no new version */
	assert_string_equal(c->colour, "blue");
	const struct plan_action *w = find_op(&p, PLAN_OP_WRITE);
	assert_int_equal(w->phase, PLAN_PHASE_SWITCH);
	assert_int_equal(w->replica, 3);
	assert_int_equal(find_op(&p, PLAN_OP_HEALTH)->phase, PLAN_PHASE_BUILD);
	char *text = text_of(&f, &p);
	th_assert_contains(text, "scale live blue (v1) from 1 to 3 replicas, no switch");
	th_assert_not_contains(text, "shop-green");
	free(text);
	plan_release(&p);
	pfx_release(&f);
}

/* After the scale up: replica 1 holds the 1-replica hash, 2 and 3 the new one. */
static void test_empty_after_scale_up(void **state)
{
	(void)state;
	struct specs s1, s3;
	struct pfx f;
	struct plan p;
	specs_of(1, &s1);
	specs_of(3, &s3);
	assert_string_equal(s1.base, s3.base);
	assert_string_not_equal(s1.spec, s3.spec);
	fx_load(&f, 3, "bluegreen-test/web:v1");
	add_replica(&f, "blue", 1, s1.spec, s1.base, 1);
	add_replica(&f, "blue", 2, s3.spec, s3.base, 1);
	add_replica(&f, "blue", 3, s3.spec, s3.base, 1);
	add_edge(&f, "blue", 1, 3);
	add_hist(&f, 1, s1.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, false, "");
	assert_int_equal(plan_site_find(&p, "shop")->notes.n, 0);
	assert_live_stays(&p);
	plan_release(&p);

	/* Replica 3 removed outside bluegreen: recreated at the live version. */
	pfx_release(&f);
	fx_load(&f, 3, "bluegreen-test/web:v1");
	add_replica(&f, "blue", 1, s1.spec, s1.base, 1);
	add_replica(&f, "blue", 2, s3.spec, s3.base, 1);
	add_edge(&f, "blue", 1, 3);
	add_hist(&f, 1, s1.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, false,
		"create container shop-blue-3\n"
		"start container shop-blue-3\n"
		"health container shop-blue\n"
		"write edge EDGE\n");
	assert_live_stays(&p);
	plan_release(&p);
	pfx_release(&f);
}

static void test_scale_down(void **state)
{
	(void)state;
	struct specs s3;
	struct pfx f;
	struct plan p;
	specs_of(3, &s3);
	fx_load(&f, 1, "bluegreen-test/web:v1");
	for (unsigned r = 1; r <= 3; r++) {
		add_replica(&f, "blue", r, s3.spec, s3.base, 1);
	}
	add_edge(&f, "blue", 1, 3);
	add_hist(&f, 1, s3.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	/* The edge first, then drain, then the extras go: no request meets a stopping replica. */
	pfx_assert_ops(&p, false,
		"write edge EDGE\n"
		"drain container blue\n"
		"remove container shop-blue-2\n"
		"remove container shop-blue-3\n");
	assert_live_stays(&p);
	const struct plan_action *w = find_op(&p, PLAN_OP_WRITE);
	assert_int_equal(w->phase, PLAN_PHASE_SWITCH);
	assert_int_equal(w->replica, 1);
	assert_int_equal(find_op(&p, PLAN_OP_DRAIN)->phase, PLAN_PHASE_RETIRE);
	for (size_t i = 0; i < p.n_actions; i++) {
		if (p.actions[i].op == PLAN_OP_REMOVE) {
			assert_int_equal(p.actions[i].phase, PLAN_PHASE_RETIRE);
		}
	}
	char *text = text_of(&f, &p);
	th_assert_contains(text, "scale live blue (v1) from 3 to 1 replica, no switch");
	free(text);
	plan_release(&p);
	pfx_release(&f);

	/* Afterwards: one replica with the 3-replica hash, edge names one. Empty. */
	fx_load(&f, 1, "bluegreen-test/web:v1");
	add_replica(&f, "blue", 1, s3.spec, s3.base, 1);
	add_edge(&f, "blue", 1, 1);
	add_hist(&f, 1, s3.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, false, "");
	assert_live_stays(&p);
	plan_release(&p);
	pfx_release(&f);
}

/* A scale up whose gate failed left replicas 2 and 3 stopped: started and gated again, then the edge. */
static void test_after_failed_scale_gate(void **state)
{
	(void)state;
	struct specs s1, s3;
	struct pfx f;
	struct plan p;
	specs_of(1, &s1);
	specs_of(3, &s3);
	fx_load(&f, 3, "bluegreen-test/web:v1");
	add_replica(&f, "blue", 1, s1.spec, s1.base, 1);
	for (unsigned r = 2; r <= 3; r++) {
		add_replica(&f, "blue", r, s3.spec, s3.base, 1);
		struct obs_container *c = &f.obs.containers[f.obs.n_containers - 1];
		c->state = OBS_CSTATE_EXITED;
	}
	add_edge(&f, "blue", 1, 1);
	add_hist(&f, 1, s1.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, false,
		"start container shop-blue-2\n"
		"start container shop-blue-3\n"
		"health container shop-blue\n"
		"write edge EDGE\n");
	assert_live_stays(&p);
	assert_int_equal(find_op(&p, PLAN_OP_HEALTH)->phase, PLAN_PHASE_BUILD);
	assert_int_equal(find_op(&p, PLAN_OP_WRITE)->phase, PLAN_PHASE_SWITCH);
	plan_release(&p);
	pfx_release(&f);
}

/* Older containers (no spec-base label) and other changes: a candidate, as before. */
static void test_candidate_otherwise(void **state)
{
	(void)state;
	struct specs s1;
	struct pfx f;
	struct plan p;
	specs_of(1, &s1);
	fx_load(&f, 3, "bluegreen-test/web:v1");
	add_replica(&f, "blue", 1, s1.spec, NULL, 1);
	add_edge(&f, "blue", 1, 1);
	add_hist(&f, 1, s1.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	char *ops = pfx_ops(&p, true);
	th_assert_contains(ops, "create container shop-green\n");
	th_assert_contains(ops, "create container shop-green-3\n");
	th_assert_not_contains(ops, "shop-blue-");
	free(ops);
	assert_non_null(plan_site_find(&p, "shop")->candidate_after);
	plan_release(&p);
	pfx_release(&f);

	/* The image changes with the count: not a scale. */
	fx_load(&f, 3, "bluegreen-test/web:v2");
	add_replica(&f, "blue", 1, s1.spec, s1.base, 1);
	add_edge(&f, "blue", 1, 1);
	add_hist(&f, 1, s1.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	ops = pfx_ops(&p, true);
	th_assert_contains(ops, "create container shop-green-3\n");
	th_assert_not_contains(ops, "shop-blue-");
	free(ops);
	plan_release(&p);
	pfx_release(&f);
}

/* A rollback from a scaled live colour rejects the desired revision, not the older hash. */
static void test_rollback_rejects_desired(void **state)
{
	(void)state;
	struct specs s1, s3, s0;
	struct pfx f;
	struct plan p;
	struct plan_args args;
	specs_of(1, &s1);
	specs_of(3, &s3);
	specs_of(2, &s0); /* the previous colour: any other revision */
	fx_load(&f, 3, "bluegreen-test/web:v1");
	add_replica(&f, "green", 1, s0.spec, s0.base, 1);
	add_replica(&f, "blue", 1, s1.spec, s1.base, 2);
	add_replica(&f, "blue", 2, s3.spec, s3.base, 2);
	add_replica(&f, "blue", 3, s3.spec, s3.base, 2);
	add_edge(&f, "blue", 2, 3);
	add_hist(&f, 2, s1.spec, 2);
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(&f, &args, &p);
	const struct plan_action *sw = find_op(&p, PLAN_OP_SWITCH);
	assert_non_null(sw);
	assert_string_equal(sw->colour, "green");
	assert_string_equal(sw->reject_spec, s3.spec);
	plan_release(&p);
	pfx_release(&f);

	/* Scaled down to 1: its one replica still carries the 3-replica hash. */
	fx_load(&f, 1, "bluegreen-test/web:v1");
	add_replica(&f, "green", 1, s0.spec, s0.base, 1);
	add_replica(&f, "blue", 1, s3.spec, s3.base, 2);
	add_edge(&f, "blue", 2, 1);
	add_hist(&f, 2, s3.spec, 2);
	pfx_plan_ok(&f, &args, &p);
	sw = find_op(&p, PLAN_OP_SWITCH);
	assert_non_null(sw);
	assert_string_equal(sw->reject_spec, s1.spec);
	plan_release(&p);
	plan_args_release(&args);
	pfx_release(&f);
}

/* Replicas that say which node they run on (a Swarm's tasks) get a note per
 * colour; the plan is otherwise the same (steady: no action). */
static void test_node_note(void **state)
{
	(void)state;
	struct specs s3;
	struct pfx f;
	struct plan p;
	const char *nodes[] = {"node-b", "node-a", "node-b"};
	specs_of(3, &s3);
	fx_load(&f, 3, "bluegreen-test/web:v1");
	for (unsigned r = 1; r <= 3; r++) {
		add_replica(&f, "blue", r, s3.spec, s3.base, 1);
		obs_labels_set(&f.obs.containers[f.obs.n_containers - 1].labels, BG_LABEL_NODE,
				nodes[r - 1]);
	}
	add_edge(&f, "blue", 1, 3);
	add_hist(&f, 1, s3.spec, 1);
	pfx_plan_ok(&f, NULL, &p);
	pfx_assert_ops(&p, false, "");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_int_equal(ps->notes.n, 1);
	assert_string_equal(ps->notes.v[0], "blue: 3/3 replicas running on node-a, node-b");
	plan_release(&p);
	pfx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_up),
		cmocka_unit_test(test_empty_after_scale_up),
		cmocka_unit_test(test_scale_down),
		cmocka_unit_test(test_after_failed_scale_gate),
		cmocka_unit_test(test_candidate_otherwise),
		cmocka_unit_test(test_rollback_rejects_desired),
		cmocka_unit_test(test_node_note),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
