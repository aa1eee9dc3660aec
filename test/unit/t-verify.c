/*
 * t-verify: the watch window's verdict (controller/daemon/verify.c,
 * verify_judge), a pure function from figures: the error rate through the
 * edge against its limit (early once min_requests samples exist, at the
 * end otherwise), and the seeds' >20 % p95 degradation of the live colour
 * against the previous one, measured side by side, with the slack that
 * keeps millisecond noise from failing a window.
 */
#include "th.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_rate),
		cmocka_unit_test(test_latency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
