/*
 * t-loop: the pure part of the daemon, the approval file's grammar
 * (docs/watch.md): one `TOKEN [--confirm TEXT]...` per line, comments and
 * blank lines skipped, quoting, and a located error for each bad line
 * while the good lines still count. The daemon itself is tested end to
 * end in test/docker/t-watch.c.
 */
#include "bg.h"
#include "loop.h"
#include "th.h"

#define TOK_A "0123456789abcdef"
#define TOK_B "fedcba9876543210"

static void t_good_lines(void **state)
{
	const char *f =
		"# approvals for prod\n"
		"\n"
		TOK_A "\n"
		"  " TOK_B " --confirm \"DEPLOY SHOP PROD\" --confirm=blog   # alice, v1.4.2\r\n"
		TOK_A " --confirm \"say \\\"hi\\\" \\\\ now\"\n"
		TOK_B " --confirm=\"two words\"";  /* no final newline */
	struct ctl_approvals a;
	struct bg_diag d;
	ctl_approvals_init(&a);
	bg_diag_init(&d);
	assert_int_equal(ctl_approve_parse("approve", f, strlen(f), &a, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(a.n, 4);
	assert_string_equal(a.v[0].token, TOK_A);
	assert_int_equal(a.v[0].line, 3);
	assert_int_equal(a.v[0].confirms.n, 0);
	assert_string_equal(a.v[1].token, TOK_B);
	assert_int_equal(a.v[1].line, 4);
	assert_int_equal(a.v[1].confirms.n, 2);
	assert_string_equal(a.v[1].confirms.v[0], "DEPLOY SHOP PROD");
	assert_string_equal(a.v[1].confirms.v[1], "blog");
	assert_string_equal(a.v[2].confirms.v[0], "say \"hi\" \\ now");
	assert_string_equal(a.v[3].confirms.v[0], "two words");
	assert_int_equal(a.v[3].line, 6);
	ctl_approvals_release(&a);
	bg_diag_release(&d);
}

static void t_bad_lines_are_located(void **state)
{
	const char *f =
		"not-a-token\n"
		TOK_A "\n"
		"0123456789ABCDEF\n"
		TOK_B " --confirm\n"
		TOK_B " --yes\n"
		TOK_B " --confirm \"unterminated\n"
		TOK_B "\n";
	struct ctl_approvals a;
	struct bg_diag d;
	char buf[512];
	ctl_approvals_init(&a);
	bg_diag_init(&d);
	assert_int_equal(ctl_approve_parse("approve", f, strlen(f), &a, &d), 5);
	assert_int_equal(a.n, 2);
	assert_int_equal(a.v[0].line, 2);
	assert_int_equal(a.v[1].line, 7);
	assert_int_equal(d.n, 5);
	bg_diag_item_format(&d.items[0], buf, sizeof(buf));
	th_assert_contains(buf, "approve:1:1: error: 'not-a-token' is not a plan token");
	bg_diag_item_format(&d.items[1], buf, sizeof(buf));
	th_assert_contains(buf, "approve:3:1: error:"); /* upper case is not a token */
	bg_diag_item_format(&d.items[2], buf, sizeof(buf));
	th_assert_contains(buf, "approve:4:18: error: --confirm needs the phrase");
	bg_diag_item_format(&d.items[3], buf, sizeof(buf));
	th_assert_contains(buf, "approve:5:18: error: unexpected '--yes'");
	bg_diag_item_format(&d.items[4], buf, sizeof(buf));
	th_assert_contains(buf, "approve:6:");
	th_assert_contains(buf, "unterminated quote");
	ctl_approvals_release(&a);
	bg_diag_release(&d);
}

static void t_empty_and_binary(void **state)
{
	struct ctl_approvals a;
	struct bg_diag d;
	ctl_approvals_init(&a);
	bg_diag_init(&d);
	assert_int_equal(ctl_approve_parse("approve", "", 0, &a, &d), 0);
	assert_int_equal(a.n, 0);
	/* A NUL ends its line's text; nothing crashes, the next line still counts. */
	const char f[] = TOK_A "\0junk\n" TOK_B "\n";
	assert_int_equal(ctl_approve_parse("approve", f, sizeof(f) - 1, &a, &d), 0);
	assert_int_equal(a.n, 2);
	ctl_approvals_release(&a);
	bg_diag_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_good_lines),
		cmocka_unit_test(t_bad_lines_are_located),
		cmocka_unit_test(t_empty_and_binary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
