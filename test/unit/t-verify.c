/*
 * t-verify: the watch window's verdict (controller/daemon/verify.c,
 * verify_judge), a pure function from figures: the error rate through the
 * edge against its limit (early once min_requests samples exist, at the
 * end otherwise), and the seeds' >20 % p95 degradation of the live colour
 * against the previous one, measured side by side, with the slack that
 * keeps millisecond noise from failing a window. And where the window
 * samples a colour's replicas directly (verify_colour_urls): the
 * runtime's probe address when it gives one (a Swarm task's published
 * port), never an overlay address this host cannot reach.
 */
#include "th.h"
#include "desired.h"
#include "obs.h"
#include "rt.h"
#include "verify.h"

static struct cfg_verify rules(void)
{
	struct cfg_verify r = {
		.window_ms = 30000, .compare = true, .on_failure = CFG_VERIFY_ALERT,
		.interval_ms = 1000, .timeout_ms = 2000, .error_rate = 10, .min_requests = 5,
		.slack_ms = 5,
	};
	return r;
}

static void test_error_rate(void **state)
{
	(void)state;
	struct cfg_verify r = rules();
	struct verify_figures ok = {.n = 20, .errors = 2, .p95_ms = 3};   /* 10 %: at the limit */
	struct verify_figures bad = {.n = 20, .errors = 3, .p95_ms = 3};  /* 15 % */
	char *why = NULL;

	assert_int_equal(verify_judge(&r, &ok, NULL, NULL, true, NULL), VERIFY_PASSED);
	assert_int_equal(verify_judge(&r, &bad, NULL, NULL, true, &why), VERIFY_FAILED_ERRORS);
	th_assert_contains(why, "20 requests through the edge, 3 errors (15 %, limit 10 %)");
	free(why);
	/* Early: not before min_requests samples, then at once. */
	struct verify_figures early = {.n = 4, .errors = 4};
	assert_int_equal(verify_judge(&r, &early, NULL, NULL, false, NULL), VERIFY_PENDING);
	early.n = early.errors = 5;
	assert_int_equal(verify_judge(&r, &early, NULL, NULL, false, NULL), VERIFY_FAILED_ERRORS);
	/* ... but a short window still judges what it has at its end. */
	early.n = early.errors = 2;
	assert_int_equal(verify_judge(&r, &early, NULL, NULL, true, NULL), VERIFY_FAILED_ERRORS);
	/* A window without a single sample proves nothing good. */
	struct verify_figures none = {0};
	assert_int_equal(verify_judge(&r, &none, NULL, NULL, true, NULL), VERIFY_FAILED_ERRORS);
	assert_int_equal(verify_judge(&r, &none, NULL, NULL, false, NULL), VERIFY_PENDING);
	/* error_rate 0: one error fails. */
	r.error_rate = 0;
	struct verify_figures one = {.n = 100, .errors = 1};
	assert_int_equal(verify_judge(&r, &one, NULL, NULL, true, NULL), VERIFY_FAILED_ERRORS);
}

static void test_latency(void **state)
{
	(void)state;
	struct cfg_verify r = rules();
	struct verify_figures edge = {.n = 30, .errors = 0, .p95_ms = 40};
	struct verify_figures prev = {.n = 30, .errors = 0, .p95_ms = 100};
	struct verify_figures live = {.n = 30, .errors = 0, .p95_ms = 120}; /* +20 %: allowed */
	char *why = NULL;

	assert_int_equal(verify_judge(&r, &edge, &live, &prev, true, NULL), VERIFY_PASSED);
	live.p95_ms = 121; /* +21 % and 21 ms */
	assert_int_equal(verify_judge(&r, &edge, &live, &prev, true, &why), VERIFY_FAILED_LATENCY);
	th_assert_contains(why, "p95 121 ms on the live colour vs 100 ms on the previous "
			"(+21 %, limit +20 %");
	free(why);
	/* Judged at the end only: a slow start is not a verdict. */
	assert_int_equal(verify_judge(&r, &edge, &live, &prev, false, NULL), VERIFY_PENDING);
	/* compare: false never fails on latency. */
	r.compare = false;
	assert_int_equal(verify_judge(&r, &edge, &live, &prev, true, NULL), VERIFY_PASSED);
	r.compare = true;
	/* The slack: 2 ms -> 4 ms is +100 % but only 2 ms. */
	struct verify_figures p2 = {.n = 30, .p95_ms = 2}, l4 = {.n = 30, .p95_ms = 4};
	assert_int_equal(verify_judge(&r, &edge, &l4, &p2, true, NULL), VERIFY_PASSED);
	r.slack_ms = 0;
	assert_int_equal(verify_judge(&r, &edge, &l4, &p2, true, NULL), VERIFY_FAILED_LATENCY);
	/* No previous colour (a first deploy), or one that never answered: not compared. */
	assert_int_equal(verify_judge(&r, &edge, &l4, NULL, true, &why), VERIFY_PASSED);
	th_assert_contains(why, "latency not compared (no previous colour to measure)");
	free(why);
	struct verify_figures dead = {.n = 30, .errors = 30};
	assert_int_equal(verify_judge(&r, &edge, &l4, &dead, true, NULL), VERIFY_PASSED);
	/* Errors come first in the verdict. */
	struct verify_figures bad = {.n = 30, .errors = 10, .p95_ms = 40};
	assert_int_equal(verify_judge(&r, &bad, &l4, &p2, true, NULL), VERIFY_FAILED_ERRORS);
}


static void replica_add(struct obs *o, unsigned r, enum obs_cstate st, const char *probe,
		const char *edge_ip)
{
	struct obs_container *c = obs_container_add(o);
	c->name = des_colour_container_name("shop", "green", r);
	c->id = bg_xasprintf("id-%u", r);
	c->state = st;
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_COLOUR, "green");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, "spec-green");
	if (probe) {
		obs_labels_set(&c->labels, RT_LABEL_PROBE, probe);
	}
	if (edge_ip) {
		c->nets = bg_xcalloc(1, sizeof(*c->nets));
		c->nets[0].network = bg_xstrdup("bluegreen-edge");
		c->nets[0].ip = bg_xstrdup(edge_ip);
		c->n_nets = 1;
	}
	obs_container_derive(c);
}

/* Swarm tasks are sampled at their probe address; engine containers at their edge address. */
static void test_colour_urls(void **state)
{
	(void)state;
	struct cfg cfg = {0};
	struct cfg_site cs = {0};
	struct obs o;
	struct bg_strv urls = {0};
	char *spec = NULL;

	cfg.g.edge_network = "bluegreen-edge";
	cs.name = "shop";
	cs.port = 8080;
	cs.replicas = 4;
	obs_init(&o);
	replica_add(&o, 1, OBS_CSTATE_RUNNING, "10.250.3.2:30001", "10.0.9.4"); /* a remote task */
	replica_add(&o, 2, OBS_CSTATE_RUNNING, "", "10.0.9.5");  /* Swarm: not running yet */
	replica_add(&o, 3, OBS_CSTATE_RUNNING, NULL, "172.18.0.7"); /* an engine container */
	replica_add(&o, 4, OBS_CSTATE_EXITED, NULL, "172.18.0.8");  /* stopped: not sampled */
	obs_finish(&o);

	verify_colour_urls(&cfg, &cs, &o, "green", &urls, &spec);
	assert_int_equal(urls.n, 2);
	assert_string_equal(urls.v[0], "http://10.250.3.2:30001");
	assert_string_equal(urls.v[1], "http://172.18.0.7:8080");
	assert_string_equal(spec, "spec-green");
	free(spec);
	bg_strv_release(&urls);
	obs_release(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_rate),
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_colour_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
