/*
 * t-bk: the pure parts of controller/backup: backup ids (shape, order by
 * time), the manifest's JSON both ways (and what it refuses: a part name
 * with a slash, an id of another shape), retention's choice (keep N,
 * max_age, never the newest good one), and a backup's record in the
 * history (put, get, list in id order, delete). The postgres preset's
 * restore filter: the restoring role's own DROP/CREATE ROLE lines left out
 * of the globals section only, a line longer than its buffer and the rest
 * of the script passed byte for byte, read in small pieces.
 */
#include "bg.h"
#include "bk.h"
#include "bk-int.h"
#include "th.h"

static void test_id(void **state)
{
	char a[BK_ID_MAX], b[BK_ID_MAX];
	/* 2026-12-06 22:15:00.123 UTC */
	bk_id_make(1796595300123LL, 0xabcd, a);
	assert_string_equal(a, "20261206T221500Z-07bd");
	assert_true(bk_id_valid(a));
	bk_id_make(1796595300124LL, 0, b);
	assert_true(strcmp(a, b) < 0); /* one ms later sorts after */
	assert_false(bk_id_valid("20261206T221500Z-07b"));
	assert_false(bk_id_valid("20261206T221500Z-07bG"));
	assert_false(bk_id_valid("../../etc/passwd"));
	assert_false(bk_id_valid(NULL));
}

static void test_manifest_roundtrip(void **state)
{
	struct bk_part parts[2] = {
		{.file = "volume-uploads.tar.gz", .kind = "volume", .object = "uploads",
			.bytes = 1234},
		{.file = "dump-db.gz", .kind = "dump", .object = "db", .bytes = 5},
	};
	memset(parts[0].sha256, 'a', 64);
	memset(parts[1].sha256, 'b', 64);
	struct bk_manifest m = {.id = "20261206T221500Z-07bd", .site = "shop", .why = "manual",
		.actor = "root@h", .started_ms = 1796595300123LL, .duration_ms = 42,
		.live_colour = "blue", .live_version = 3, .compression = "gzip", .parts = parts,
		.n_parts = 2, .total_bytes = 1239, .verified_ms = 7};
	struct bg_buf b = BG_BUF_INIT;
	struct bk_manifest g = {0};
	bk_manifest_to_json(&m, &b);
	assert_int_equal(bk_manifest_from_json(b.data, &g, NULL), 0);
	assert_string_equal(g.id, m.id);
	assert_string_equal(g.site, "shop");
	assert_string_equal(g.live_colour, "blue");
	assert_int_equal(g.live_version, 3);
	assert_int_equal(g.n_parts, 2);
	assert_string_equal(g.parts[1].file, "dump-db.gz");
	assert_int_equal(g.parts[0].bytes, 1234);
	assert_memory_equal(g.parts[0].sha256, parts[0].sha256, 65);
	assert_int_equal(g.started_ms, m.started_ms);
	assert_int_equal(g.verified_ms, 7);
	assert_false(g.verify_failed);
	bk_manifest_release(&g);
	bg_buf_release(&b);

	/* No live colour: null, read back as NULL. */
	m.live_colour = NULL;
	bk_manifest_to_json(&m, &b);
	assert_int_equal(bk_manifest_from_json(b.data, &g, NULL), 0);
	assert_null(g.live_colour);
	bk_manifest_release(&g);
	bg_buf_release(&b);

	/* A part that would leave the directory is refused. */
	parts[0].file = "../x";
	bk_manifest_to_json(&m, &b);
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(bk_manifest_from_json(b.data, &g, &d), BG_EPARSE);
	assert_true(d.n > 0);
	assert_null(g.id);
	bg_diag_release(&d);
	bg_buf_release(&b);
	assert_int_equal(bk_manifest_from_json("[]", &g, NULL), BG_EPARSE);
	assert_int_equal(bk_manifest_from_json("{\"id\": \"x\"}", &g, NULL), BG_EPARSE);
}

static void test_prune_choose(void **state)
{
	int64_t day = 86400000LL, now = 100 * day;
	struct bk_manifest v[5] = {0};
	bool drop[5];
	for (int i = 0; i < 5; i++) {
		v[i].started_ms = now - i * day; /* newest first */
	}
	/* keep 2: the three oldest go. */
	assert_int_equal(bk_prune_choose(v, 5, 2, 0, now, drop), 3);
	assert_false(drop[0]);
	assert_false(drop[1]);
	assert_true(drop[2] && drop[3] && drop[4]);
	/* max_age 2.5 days: ages 3 and 4 days go even with keep 10. */
	assert_int_equal(bk_prune_choose(v, 5, 10, 5 * day / 2, now, drop), 2);
	assert_true(drop[3] && drop[4] && !drop[2]);
	/* The newest two failed verify: the newest good one (index 2) stays
	 * even beyond keep 1 and older than max_age. */
	v[0].verify_failed = v[1].verify_failed = true;
	assert_int_equal(bk_prune_choose(v, 5, 1, day / 2, now, drop), 3);
	assert_false(drop[0]); /* within keep */
	assert_true(drop[1]);
	assert_false(drop[2]); /* the last good one */
	assert_true(drop[3] && drop[4]);
	/* Everything old and only one: it stays. */
	v[0].verify_failed = false;
	assert_int_equal(bk_prune_choose(v, 1, 1, 1, now + 10 * day, drop), 0);
	assert_int_equal(bk_prune_choose(v, 0, 1, 0, now, drop), 0);
}

static void test_hist_records(void **state)
{
	char *dir = th_tmpdir("t-bk");
	struct hist *h = NULL;
	struct bg_strv all = {0};
	char *json = NULL;
	assert_int_equal(hist_open(&h, dir, 0, NULL), 0);
	assert_int_equal(hist_backup_put(h, "20261206T221500Z-0002", "{\"b\":1}"), 0);
	assert_int_equal(hist_backup_put(h, "20261206T221500Z-0001", "{\"a\":1}"), 0);
	assert_int_equal(hist_backup_get(h, "20261206T221500Z-0002", &json), 0);
	assert_string_equal(json, "{\"b\":1}");
	free(json);
	assert_int_equal(hist_backup_get(h, "20261206T221500Z-0009", &json), BG_ENOT_FOUND);
	assert_int_equal(hist_backup_list(h, &all), 0);
	assert_int_equal(all.n, 2);
	assert_string_equal(all.v[0], "{\"a\":1}"); /* id order */
	bg_strv_release(&all);
	assert_int_equal(hist_backup_del(h, "20261206T221500Z-0001"), 0);
	assert_int_equal(hist_backup_del(h, "20261206T221500Z-0001"), 0);
	assert_int_equal(hist_backup_list(h, &all), 0);
	assert_int_equal(all.n, 1);
	bg_strv_release(&all);
	hist_close(h);
	th_rm_rf(dir);
	free(dir);
}

static void test_pg_filter(void **state)
{
	char *dir = th_tmpdir("pgf");
	char *path = bg_xasprintf("%s/dump.sql", dir);
	char longline[6000];
	memset(longline, 'x', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	const char *head = "DROP DATABASE IF EXISTS shop;\n"
		"DROP ROLE IF EXISTS app;\nDROP ROLE IF EXISTS postgres;\n"
		"CREATE ROLE app;\nCREATE ROLE postgres;\nCREATE ROLE postgresx;\n"
		"ALTER ROLE postgres WITH SUPERUSER;\n";
	const char *tail = "\\connect shop\nCOPY t (s) FROM stdin;\nCREATE ROLE postgres;\n"
		"DROP ROLE postgres;\n\\.\n";
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(head, fp);
	fputs(longline, fp);
	fputs(tail, fp);
	fclose(fp);
	struct bk__reader *r = NULL;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(bk__reader_open(&r, path, &d), 0);
	struct bk__pg_filter *f = bk__pg_filter_new(r, "postgres");
	struct bg_buf out = BG_BUF_INIT;
	char piece[7];
	ssize_t n;
	while ((n = bk__pg_filter_source(f, piece, sizeof(piece))) > 0) {
		bg_buf_add(&out, piece, (size_t)n);
	}
	assert_int_equal(n, 0);
	bg_buf_addch(&out, '\0');
	char *want = bg_xasprintf("DROP DATABASE IF EXISTS shop;\nDROP ROLE IF EXISTS app;\n"
			"CREATE ROLE app;\nCREATE ROLE postgresx;\n"
			"ALTER ROLE postgres WITH SUPERUSER;\n%s%s", longline, tail);
	assert_string_equal(out.data, want);
	free(want);
	bg_buf_release(&out);
	bk__pg_filter_free(f);
	bk__reader_close(r);
	bg_diag_release(&d);
	th_rm_rf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_manifest_roundtrip),
		cmocka_unit_test(test_prune_choose),
		cmocka_unit_test(test_hist_records),
		cmocka_unit_test(test_pg_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
