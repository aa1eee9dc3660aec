/*
 * t-buf: bg_buf's invariants (never NULL, always terminated), its size
 * limit (a refused append changes nothing), JSON string escaping, secret
 * redaction (longest value first, no match inside a mark), and the
 * diagnostics list's ordering and format.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "th.h"

static void test_invariants(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(bg_buf_adds(&b, "abc"), 0);
	assert_int_equal(bg_buf_addf(&b, "-%d-", 42), 0);
	assert_int_equal(bg_buf_addch(&b, 'z'), 0);
	assert_string_equal(b.data, "abc-42-z");
	assert_int_equal(b.len, 8);
	size_t len = 0;
	char *d = bg_buf_detach(&b, &len);
	assert_string_equal(d, "abc-42-z");
	assert_int_equal(len, 8);
	assert_string_equal(b.data, "");
	free(d);
	bg_buf_release(&b);
}

static void test_limit(void **state)
{
	struct bg_buf b;
	bg_buf_init(&b, 8);
	assert_int_equal(bg_buf_adds(&b, "12345"), 0);
	assert_int_equal(bg_buf_adds(&b, "6789"), BG_ETOO_BIG);
	assert_string_equal(b.data, "12345");
	assert_int_equal(bg_buf_addf(&b, "%s", "abcd"), BG_ETOO_BIG);
	assert_string_equal(b.data, "12345");
	assert_int_equal(bg_buf_adds(&b, "678"), 0);
	assert_string_equal(b.data, "12345678");
	bg_buf_release(&b);
}

static void test_json_str(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(bg_buf_add_json_str(&b, "a\"b\\c\nd\x01"), 0);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
	bg_buf_release(&b);
}

static void test_redacted(void **state)
{
	/* "hunter2x" contains "hunter2": it goes whole; "red" must not match
	 * inside an inserted mark; an empty secret changes nothing. */
	const char *sec[] = {"hunter2", "red", "hunter2x", ""};
	struct bg_buf b = BG_BUF_INIT;
	const char *text = "pw=hunter2x and hunter2, colour red!";
	assert_int_equal(bg_buf_add_redacted(&b, text, strlen(text), sec, 4), 0);
	assert_string_equal(b.data, "pw=<redacted> and <redacted>, colour <redacted>!");
	bg_buf_reset(&b);
	assert_int_equal(bg_buf_add_redacted(&b, "plain", 5, NULL, 0), 0);
	assert_string_equal(b.data, "plain");
	bg_buf_reset(&b);
	/* Only len bytes are read: a secret past the end is not matched. */
	assert_int_equal(bg_buf_add_redacted(&b, "xhunter2", 6, sec, 3), 0);
	assert_string_equal(b.data, "xhunte");
	bg_buf_release(&b);
}

static void test_diag(void **state)
{
	struct bg_diag d;
	bg_diag_init(&d);
	struct bg_loc l2 = {"b.conf", 3, 1};
	struct bg_loc l1 = {"a.conf", 9, 7};
	struct bg_loc l0 = {"a.conf", 2, 5};
	bg_diag_error(&d, &l2, "unknown key '%s'", "imgae");
	bg_diag_warn(&d, &l1, "module 'cockpit' is not built yet");
	bg_diag_error(&d, &l0, "port must be an integer in 1..65535, not '%s'", "http");
	bg_diag_error(&d, NULL, "summary");
	assert_int_equal(d.n_errors, 3);
	bg_diag_sort(&d);
	char line[256];
	bg_diag_item_format(&d.items[0], line, sizeof(line));
	assert_string_equal(line, "a.conf:2:5: error: port must be an integer in 1..65535, not 'http'");
	bg_diag_item_format(&d.items[1], line, sizeof(line));
	assert_string_equal(line, "a.conf:9:7: warning: module 'cockpit' is not built yet");
	bg_diag_item_format(&d.items[2], line, sizeof(line));
	assert_string_equal(line, "b.conf:3:1: error: unknown key 'imgae'");
	bg_diag_item_format(&d.items[3], line, sizeof(line));
	assert_string_equal(line, "error: summary");
	struct bg_diag e;
	bg_diag_init(&e);
	bg_diag_merge(&e, &d);
	assert_int_equal(e.n, 4);
	assert_int_equal(e.n_errors, 3);
	bg_diag_release(&e);
	bg_diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_redacted),
		cmocka_unit_test(test_diag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
