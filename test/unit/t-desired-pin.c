/*
 * t-desired-pin: des_build_args for `rollback SITE --to VERSION` (pure):
 * a site rebuilt from a recorded spec (what colour_spec stored when the
 * version was made) gets back exactly that spec hash and version number,
 * is created from the recorded image id with the recorded command, env
 * and port, takes today's value for a recorded secret key (and says so),
 * and is refused with a clear error when a secret key is gone, when the
 * record names no image id or cannot be read. The recorded limits
 * (resources) come back too, and a version recorded without limits gets
 * none, whatever the configuration says today. The refusal for an image
 * that is gone names the reference to pull and why its id must match.
 * Plans that are not --to plans are des_build's.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "plan.h"
#include "th.h"

#define SECRET "s3cr3t-value-never-printed"
#define SECRET2 "an0ther-s3cret-today"

static const char *global_conf =
	"install_mode: production\n"
	"state_dir: state\n"
	"edge:\n"
	"  kind: nginx\n"
	"  network: bgt-edge\n"
	"  nginx:\n"
	"    conf_dir: nginx\n"
	"    reload: [\"true\"]\n"
	"    test: []\n";

struct fx {
	char *dir;
	struct cfg *cfg;
	struct obs obs;
	const char *extra; /* more site keys ("resources: ...\n"), NULL: none */
};

/* The site shop with image, port, command and the API_TOKEN secret (or none). */
static void fx_load(struct fx *f, const char *image, unsigned port, const char *cmd,
		const char *secret)
{
	struct bg_diag d;
	bg_diag_init(&d);
	if (!f->dir) {
		f->dir = th_tmpdir("pin");
		th_write(f->dir, "global.conf", global_conf);
	}
	char *sc = bg_xasprintf("site: shop\ndomains: [shop.example.com]\nimage: %s\nport: %u\n"
			"command: %s\nenv:\n  NODE_ENV: production\n%s%s%s"
			"volumes: {uploads: /app/uploads}\n%s", image, port, cmd,
			secret ? "  API_TOKEN: " : "", secret ? secret : "", secret ? "\n" : "",
			f->extra ? f->extra : "");
	th_write(f->dir, "sites/shop.conf", sc);
	free(sc);
	cfg_destroy(f->cfg);
	f->cfg = NULL;
	if (cfg_load(&f->cfg, f->dir, 0, &d) != 0) {
		bg_diag_print(&d, stderr);
		fail_msg("config does not load");
	}
	bg_diag_release(&d);
	obs_release(&f->obs);
	obs_init(&f->obs);
	const char *refs[] = {"bluegreen-test/web:v1", "bluegreen-test/web:v2"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_image *im = obs_image_add(&f->obs);
		im->ref = bg_xstrdup(refs[i]);
		im->id = bg_xasprintf("sha256:%zu%zu%zu", i + 1, i + 1, i + 1);
	}
	obs_finish(&f->obs);
}

static void fx_release(struct fx *f)
{
	obs_release(&f->obs);
	cfg_destroy(f->cfg);
	th_rm_rf(f->dir);
	free(f->dir);
}

/* The history knows v1 = spec1 and v2 = spec2. */
static void fx_history(struct fx *f, const char *spec1, const char *spec2)
{
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = 2;
	bg_strv_init(&h->spec_versions);
	bg_strv_init(&h->rejected);
	bg_strv_push_take(&h->spec_versions, bg_xasprintf("%s=1", spec1));
	bg_strv_push_take(&h->spec_versions, bg_xasprintf("%s=2", spec2));
	bg_strv_sort(&h->spec_versions);
	bg_strv_push(&h->rejected, spec1); /* once rolled back: --to still brings it */
	obs_finish(&f->obs);
}

static void record(struct fx *f, char spec[65], char **json)
{
	struct desired des;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(des_build(&des, f->cfg, &f->obs, &d), 0);
	memcpy(spec, des.sites[0].spec, 65);
	*json = bg_xstrdup(des.sites[0].spec_json);
	des_release(&des);
	bg_diag_release(&d);
}

static void to_args(struct plan_args *a, const char *json)
{
	plan_args_init(a);
	a->kind = PLAN_ROLLBACK;
	a->to_version = 1;
	bg_strv_push(&a->sites, "shop");
	a->to_spec_json = json ? bg_xstrdup(json) : NULL;
}

static bool env_has(const struct bg_strv *env, const char *kv)
{
	return bg_strv_contains(env, kv);
}

static void test_pin_gives_back_the_recorded_spec(void **state)
{
	struct fx f = {0};
	char spec1[65], spec2[65];
	char *json1 = NULL, *json2 = NULL;
	struct plan_args a;
	struct desired des;
	struct des_create dc;
	struct bg_diag d;

	fx_load(&f, "bluegreen-test/web:v1", 8080, "[httpd, -f]", SECRET);
	record(&f, spec1, &json1);
	th_assert_not_contains(json1, SECRET);
	/* v2: another image, port, command and today's secret value. */
	fx_load(&f, "bluegreen-test/web:v2", 9090, "[httpd, -f, -v]", SECRET2);
	record(&f, spec2, &json2);
	fx_history(&f, spec1, spec2);
	assert_string_not_equal(spec1, spec2);

	to_args(&a, json1);
	bg_diag_init(&d);
	assert_int_equal(des_build_args(&des, f.cfg, &f.obs, &a, &d), 0);
	const struct des_site *s = &des.sites[0];
	/* Same spec as recorded (the secret's value is not in the spec hash). */
	assert_string_equal(s->spec, spec1);
	assert_int_equal(s->version, 1);
	assert_false(s->version_new);
	assert_true(s->rejected);
	assert_int_equal(s->pinned_from, 1);
	assert_string_equal(s->cfg->image, "bluegreen-test/web:v1");
	assert_int_equal(s->cfg->port, 8080);
	assert_string_equal(s->create_image, "sha256:111");
	assert_string_equal(s->pin_secret_keys, "API_TOKEN");
	assert_string_equal(s->spec_json, json1);
	/* The container: recorded image id, command, port; today's secret value. */
	assert_int_equal(des_colour_create(&des, s, "green", 1, NULL, &dc), 0);
	assert_string_equal(dc.spec.image, "sha256:111");
	assert_int_equal(dc.spec.expose_port, 8080);
	assert_int_equal(dc.cmd.n, 2);
	assert_string_equal(dc.cmd.v[1], "-f");
	assert_true(env_has(&dc.env, "API_TOKEN=" SECRET2));
	assert_true(env_has(&dc.env, "NODE_ENV=production"));
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_IMAGE), "bluegreen-test/web:v1");
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_VERSION), "1");
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_SPEC), spec1);
	des_create_release(&dc);
	des_release(&des);
	plan_args_release(&a);

	/* Not a --to plan: the configuration's site, as des_build makes it. */
	plan_args_init(&a);
	a.kind = PLAN_ROLLBACK;
	bg_strv_push(&a.sites, "shop");
	assert_int_equal(des_build_args(&des, f.cfg, &f.obs, &a, &d), 0);
	assert_string_equal(des.sites[0].spec, spec2);
	assert_int_equal(des.sites[0].pinned_from, 0);
	assert_null(des.sites[0].create_image);
	des_release(&des);
	plan_args_release(&a);
	bg_diag_release(&d);
	free(json1);
	free(json2);
	fx_release(&f);
}

static void test_pin_refusals(void **state)
{
	struct fx f = {0};
	char spec1[65];
	char *json1 = NULL;
	struct plan_args a;
	struct desired des;
	struct bg_diag d;

	fx_load(&f, "bluegreen-test/web:v1", 8080, "[httpd]", SECRET);
	record(&f, spec1, &json1);
	/* Today's configuration has no API_TOKEN: its value is nowhere. */
	fx_load(&f, "bluegreen-test/web:v2", 8080, "[httpd]", NULL);
	to_args(&a, json1);
	bg_diag_init(&d);
	assert_int_equal(des_build_args(&des, f.cfg, &f.obs, &a, &d), BG_ECONFIG);
	assert_true(d.n > 0);
	th_assert_contains(d.items[0].msg, "had the secret API_TOKEN");
	th_assert_not_contains(d.items[0].msg, SECRET);
	bg_diag_release(&d);
	plan_args_release(&a);

	/* No image id recorded; not a colour spec; not JSON; no record at all. */
	static const char *const bad[] = {
		"{\"kind\":\"colour\",\"image\":\"x:1\",\"image_id\":null,\"port\":80,\"replicas\":1}",
		"{\"kind\":\"service\",\"image\":\"x:1\",\"image_id\":\"sha256:1\",\"port\":80,"
		"\"replicas\":1}",
		"not json",
		NULL,
		/* limits that are not the numbers des_build records */
		"{\"kind\":\"colour\",\"image\":\"x:1\",\"image_id\":\"sha256:1\",\"port\":80,"
		"\"replicas\":1,\"resources\":{\"memory\":-5,\"nano_cpus\":0,\"pids\":0}}",
		"{\"kind\":\"colour\",\"image\":\"x:1\",\"image_id\":\"sha256:1\",\"port\":80,"
		"\"replicas\":1,\"resources\":\"512m\"}",
	};
	static const char *const why[] = {"recorded no image id", "not a colour spec",
		"not a colour spec", "does not carry the recorded spec", "not a colour spec",
		"not a colour spec"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
		to_args(&a, bad[i]);
		bg_diag_init(&d);
		assert_int_not_equal(des_build_args(&des, f.cfg, &f.obs, &a, &d), 0);
		assert_true(d.n > 0);
		th_assert_contains(d.items[0].msg, why[i]);
		bg_diag_release(&d);
		plan_args_release(&a);
	}
	free(json1);
	fx_release(&f);
}

/* The limits a --to is expected to bring back (the strings: NULL for none). */
struct want_limits {
	uint64_t memory_bytes, nano_cpus;
	unsigned pids;
	const char *memory, *cpus;
};

/* Build v1 with limits1, v2 with limits2, go back to v1: its spec and its
 * create request carry v1's limits (w), never today's (v2's). */
static void pin_limits(const char *limits1, const char *limits2, const struct want_limits *w)
{
	struct fx f = {0};
	char spec1[65], spec2[65];
	char *json1 = NULL, *json2 = NULL;
	struct plan_args a;
	struct desired des;
	struct des_create dc;
	struct bg_diag d;

	f.extra = limits1;
	fx_load(&f, "bluegreen-test/web:v1", 8080, "[httpd]", NULL);
	record(&f, spec1, &json1);
	f.extra = limits2;
	fx_load(&f, "bluegreen-test/web:v2", 8080, "[httpd]", NULL);
	record(&f, spec2, &json2);
	fx_history(&f, spec1, spec2);
	assert_string_not_equal(spec1, spec2);

	to_args(&a, json1);
	bg_diag_init(&d);
	assert_int_equal(des_build_args(&des, f.cfg, &f.obs, &a, &d), 0);
	const struct des_site *s = &des.sites[0];
	/* The recorded limits are part of the spec: the same hash, version 1. */
	assert_string_equal(s->spec, spec1);
	assert_string_equal(s->spec_json, json1);
	assert_int_equal(s->version, 1);
	assert_false(s->version_new);
	assert_int_equal(des_colour_create(&des, s, "green", 1, NULL, &dc), 0);
	assert_int_equal(dc.spec.memory_bytes, w->memory_bytes);
	assert_int_equal(dc.spec.nano_cpus, w->nano_cpus);
	assert_int_equal(dc.spec.pids_limit, w->pids);
	/* The pinned configuration says the same (status shows it). */
	const struct cfg_resources *r = &s->cfg->resources;
	assert_int_equal(r->memory_bytes, w->memory_bytes);
	assert_int_equal(r->nano_cpus, w->nano_cpus);
	assert_int_equal(r->pids, w->pids);
	if (w->memory) {
		assert_string_equal(r->memory, w->memory);
	} else {
		assert_null(r->memory);
	}
	if (w->cpus) {
		assert_string_equal(r->cpus, w->cpus);
	} else {
		assert_null(r->cpus);
	}
	des_create_release(&dc);
	des_release(&des);
	plan_args_release(&a);
	bg_diag_release(&d);
	free(json1);
	free(json2);
	fx_release(&f);
}

static void test_pin_limits_are_the_recorded_ones(void **state)
{
	static const char *today = "resources: {memory: 1g, cpus: \"2\", pids: 900}\n";

	/* v1 had limits, today's are others: v1's come back. */
	pin_limits("resources: {memory: 256m, cpus: \"0.5\", pids: 100}\n", today,
			&(struct want_limits){256ull << 20, 500000000ull, 100, "268435456", "0.5"});
	/* Only some limits recorded: the others are none, not today's. */
	pin_limits("resources: {cpus: \"1.25\"}\n", today,
			&(struct want_limits){0, 1250000000ull, 0, NULL, "1.25"});
	pin_limits("resources: {pids: 64}\n", today,
			&(struct want_limits){0, 0, 64, NULL, NULL});
	/* v1 was recorded without limits: it gets none, not today's. */
	pin_limits(NULL, today, &(struct want_limits){0});
	(void)state;
}

/* The refusal when the recorded image id is gone names what to pull and
 * why the id, not the name, must match. */
static void test_pin_image_gone_says_what_to_pull(void **state)
{
	static const char *id =
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char *m = des_pin_image_gone_explain("shop", 2, "bluegreen-test/web:v1", id);
	th_assert_contains(m, "v2 of shop ran bluegreen-test/web:v1 with image id ");
	th_assert_contains(m, id); /* whole, to compare with `docker image inspect` */
	th_assert_contains(m, "pull bluegreen-test/web:v1 again (docker pull "
			"bluegreen-test/web:v1), then retry");
	th_assert_contains(m, "must have exactly that id");
	th_assert_contains(m, "spec hash covers the id");
	th_assert_contains(m, "if bluegreen-test/web:v1 now names another build");
	free(m);
	/* No reference recorded: nothing to pull by, and it says so. */
	m = des_pin_image_gone_explain("shop", 2, NULL, id);
	th_assert_contains(m, "no name was recorded to pull it by");
	th_assert_contains(m, id);
	th_assert_not_contains(m, "(null)");
	free(m);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_gives_back_the_recorded_spec),
		cmocka_unit_test(test_pin_refusals),
		cmocka_unit_test(test_pin_limits_are_the_recorded_ones),
		cmocka_unit_test(test_pin_image_gone_says_what_to_pull),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
