/*
 * t-obs: the observed-state snapshot: lookups after obs_finish, derived
 * label fields, and the JSON form: canonical (the same facts in any order
 * give the same bytes), a faithful round trip, and malformed snapshots
 * refused with a message instead of a crash.
 */
#include "bg.h"
#include "obs.h"
#include "th.h"

static struct obs_container *add_c(struct obs *o, const char *name, const char *site,
		const char *colour, const char *state)
{
	struct obs_container *c = obs_container_add(o);
	c->name = bg_xstrdup(name);
	c->id = bg_xasprintf("id-%s", name);
	c->image = bg_xstrdup("bluegreen-test/web:v1");
	c->image_id = bg_xstrdup("sha256:abc");
	c->state = obs_cstate_parse(state);
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, site);
	obs_labels_set(&c->labels, BG_LABEL_ROLE, "colour");
	obs_labels_set(&c->labels, BG_LABEL_COLOUR, colour);
	obs_labels_set(&c->labels, BG_LABEL_VERSION, "3");
	obs_labels_set(&c->labels, BG_LABEL_REPLICA, "1");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, "feedface");
	c->nets = bg_xcalloc(2, sizeof(*c->nets));
	c->nets[0].network = bg_xstrdup("shop-net");
	c->nets[0].ip = bg_xstrdup("172.20.0.2");
	c->nets[1].network = bg_xstrdup("bluegreen-edge");
	c->nets[1].ip = bg_xstrdup("172.21.0.2");
	c->n_nets = 2;
	return c;
}

static void fill(struct obs *o, bool reversed)
{
	const char *names[] = {"shop-blue", "shop-green", "blog-blue"};
	const char *sites[] = {"shop", "shop", "blog"};
	const char *colours[] = {"blue", "green", "blue"};
	for (int k = 0; k < 3; k++) {
		int i = reversed ? 2 - k : k;
		add_c(o, names[i], sites[i], colours[i], i == 1 ? "exited" : "running");
	}
	o->engine_version = bg_xstrdup("20.10.24");
	o->api_version = bg_xstrdup("1.41");
	o->edge_kind = bg_xstrdup("nginx");
	struct obs_network *n = obs_network_add(o);
	n->name = bg_xstrdup("shop-net");
	n->id = bg_xstrdup("n1");
	obs_labels_set(&n->labels, BG_LABEL_MANAGED, "true");
	struct obs_volume *v = obs_volume_add(o);
	v->name = bg_xstrdup("shop-uploads");
	struct obs_image *im = obs_image_add(o);
	im->ref = bg_xstrdup("bluegreen-test/web:v1");
	im->id = bg_xstrdup("sha256:abc");
	im = obs_image_add(o);
	im->ref = bg_xstrdup("absent:1");
	struct obs_edge *e = obs_edge_add(o);
	e->site = bg_xstrdup("shop");
	e->path = bg_xstrdup("/etc/nginx/conf.d/bluegreen-shop.conf");
	e->exists = true;
	e->live = bg_xstrdup("blue");
	e->content_sha = bg_xstrdup("00ff");
	bg_strv_push(&e->upstreams, "172.21.0.2:8080");
	struct obs_hist_site *h = obs_hist_add(o);
	h->site = bg_xstrdup("shop");
	h->last_version = 3;
	bg_strv_push(&h->spec_versions, reversed ? "feedface=3" : "cafe=2");
	bg_strv_push(&h->spec_versions, reversed ? "cafe=2" : "feedface=3");
	bg_strv_push(&h->rejected, "cafe");
	obs_conflict_add(o, "container", "blog-green");
	obs_finish(o);
}

static void test_lookups(void **state)
{
	struct obs o;
	obs_init(&o);
	fill(&o, false);
	const struct obs_container *c = obs_container_find(&o, "shop-green");
	assert_non_null(c);
	assert_string_equal(c->site, "shop");
	assert_string_equal(c->colour, "green");
	assert_string_equal(c->role, "colour");
	assert_int_equal(c->version, 3);
	assert_int_equal(c->replica, 1);
	assert_int_equal(c->state, OBS_CSTATE_EXITED);
	assert_string_equal(obs_container_ip(c, "bluegreen-edge"), "172.21.0.2");
	assert_null(obs_container_ip(c, "other"));
	assert_null(obs_container_find(&o, "nope"));
	assert_non_null(obs_network_find(&o, "shop-net"));
	assert_non_null(obs_volume_find(&o, "shop-uploads"));
	assert_null(obs_image_find(&o, "absent:1")->id);
	assert_string_equal(obs_edge_find(&o, "shop")->live, "blue");
	assert_true(obs_conflict_has(&o, "container", "blog-green"));
	assert_false(obs_conflict_has(&o, "volume", "blog-green"));
	assert_int_equal(obs_hist_find(&o, "shop")->last_version, 3);
	obs_release(&o);
}

static void test_bad_labels_are_absent(void **state)
{
	struct obs o;
	obs_init(&o);
	struct obs_container *c = add_c(&o, "x-blue", "x", "purple", "running");
	obs_labels_set(&c->labels, BG_LABEL_VERSION, "12abc");
	obs_labels_set(&c->labels, BG_LABEL_REPLICA, "99999999999999");
	obs_finish(&o);
	c = &o.containers[0];
	assert_null(c->colour);
	assert_int_equal(c->version, 0);
	assert_int_equal(c->replica, 0);
	obs_release(&o);
}

static void test_canonical_roundtrip(void **state)
{
	struct obs a, b, c;
	struct bg_buf ja = BG_BUF_INIT, jb = BG_BUF_INIT, jc = BG_BUF_INIT;
	struct bg_diag d;
	obs_init(&a);
	obs_init(&b);
	obs_init(&c);
	bg_diag_init(&d);
	fill(&a, false);
	fill(&b, true);
	assert_int_equal(obs_to_json(&a, &ja), 0);
	assert_int_equal(obs_to_json(&b, &jb), 0);
	/* Same facts, inserted in another order: same bytes. */
	assert_string_equal(ja.data, jb.data);
	assert_int_equal(obs_from_json(&c, ja.data, ja.len, &d), 0);
	assert_int_equal(obs_to_json(&c, &jc), 0);
	assert_string_equal(ja.data, jc.data);
	th_assert_contains(ja.data, "\"bluegreen_observe\": 1");
	bg_buf_release(&ja);
	bg_buf_release(&jb);
	bg_buf_release(&jc);
	obs_release(&a);
	obs_release(&b);
	obs_release(&c);
	bg_diag_release(&d);
}

static void expect_bad(const char *json, const char *msg)
{
	struct obs o;
	struct bg_diag d;
	obs_init(&o);
	bg_diag_init(&d);
	assert_int_equal(obs_from_json(&o, json, strlen(json), &d), BG_EPARSE);
	assert_true(d.n > 0);
	th_assert_contains(d.items[0].msg, msg);
	obs_release(&o);
	bg_diag_release(&d);
}

static void test_malformed(void **state)
{
	expect_bad("", "not valid JSON");
	expect_bad("[1,2]", "expected a JSON object");
	expect_bad("{\"containers\": []}", "missing 'bluegreen_observe'");
	expect_bad("{\"bluegreen_observe\": 2}", "format 2 is not supported");
	expect_bad("{\"bluegreen_observe\": 1, \"containers\": {}}", "'containers' has the wrong type");
	expect_bad("{\"bluegreen_observe\": 1, \"containers\": [1]}", "entries must be objects");
	expect_bad("{\"bluegreen_observe\": 1, \"containers\": [{\"id\": \"x\"}]}", "missing 'name'");
	expect_bad("{\"bluegreen_observe\": 1, \"containers\": [{\"name\": \"a\", \"id\": \"x\", "
			"\"labels\": {\"k\": 1}}]}", "label values must be strings");
	expect_bad("{\"bluegreen_observe\": 1} trailing", "trailing data");
	expect_bad("{\"bluegreen_observe\": 1, \"history\": [{\"site\": \"s\", \"last_version\": -4}]}",
			"last_version out of range");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_bad_labels_are_absent),
		cmocka_unit_test(test_canonical_roundtrip),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
