/*
 * t-cockpit: the cockpit's dispatcher without a server (controller/cockpit):
 * the route table (every route, 404s, names that are not site names), HTML
 * escaping of everything the snapshot or the history says, 403 for every
 * method that is not GET or HEAD on every path, each refusal logged as one
 * JSON line, the Prometheus text format of /metrics (HELP and TYPE before
 * samples, escaped labels, counters from a real history), the listen
 * address rules (loopback unless allowed), and the snapshot's absence
 * (503, not a crash). The history is a real LMDB store, written here and
 * then opened read-only as the cockpit opens it.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cockpit.h"
#include "hist.h"
#include "th.h"

#include <json-c/json.h>
#include <regex.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir, *snap_path, *refused_path;
static struct hist *H;
static struct cockpit *CK;

/* A snapshot as the daemon writes it, with markup and quotes in the values. */
static const char snap_json[] =
	"{\"format\": 1, \"written_at_ms\": 1765000000000, \"pid\": 1, \"plan_ok\": true,"
	" \"pending_changes\": 2, \"sites\": ["
	"{\"site\": \"shop\", \"live\": \"green\", \"version\": 3,"
	" \"image\": \"reg/<b>shop</b>:3\", \"health\": \"healthy (2/2)\","
	" \"candidate\": null, \"previous\": {\"colour\": \"blue\", \"role\": \"previous\","
	" \"version\": 2, \"image\": \"x\", \"containers\": 1, \"running\": 1,"
	" \"health\": \"healthy (1/1)\"}, \"desired_rejected\": false, \"desired_version\": 3,"
	" \"in_sync\": true, \"edge_file\": null, \"pending_changes\": 0, \"blocked\": null},"
	"{\"site\": \"blog\", \"live\": null, \"version\": null, \"image\": null,"
	" \"health\": \"not deployed\", \"candidate\": null, \"previous\": null,"
	" \"desired_rejected\": false, \"desired_version\": 1, \"in_sync\": false,"
	" \"edge_file\": null, \"pending_changes\": 2, \"blocked\": null}]}";

static void add(const char *action, const char *site, const char *result, const char *details)
{
	struct hist_entry e = {.action = (char *)action, .site = (char *)site,
		.result = (char *)result, .details = (char *)details};
	assert_int_equal(hist_append(H, &e, NULL), 0);
}

static int setup(void **state)
{
	dir = th_tmpdir("cockpit");
	snap_path = bg_xasprintf("%s/status.json", dir);
	refused_path = bg_xasprintf("%s/cockpit-refused.log", dir);
	assert_int_equal(hist_open(&H, dir, 0, NULL), 0);
	add("switch", "shop", "ok", "first deploy: blue (v1) is live");
	add("switch", "shop", "ok", "live blue (v1) -> green (v2)");
	add("apply-end", NULL, "ok", NULL);
	add("apply-end", NULL, "failed", NULL);
	add("apply-end", NULL, "ok", NULL);
	add("rollback", "shop", "ok", "live green (v2) -> blue (v1)");
	add("step", "shop", "ok", "<script>alert(1)</script> & \"q\"");
	hist_close(H);
	assert_int_equal(hist_open(&H, dir, HIST_RDONLY, NULL), 0);
	th_write(dir, "status.json", snap_json);
	struct cockpit_opts o = {.snapshot_path = snap_path, .refusal_log = refused_path,
		.hist = H};
	CK = cockpit_new(&o);
	return 0;
}

static int teardown(void **state)
{
	cockpit_free(CK);
	hist_close(H);
	th_rm_rf(dir);
	free(dir);
	free(snap_path);
	free(refused_path);
	return 0;
}

/* GET path; returns the status, *body a new string. */
static unsigned req(const char *method, const char *path, const char *query, char **body,
		const char **ctype)
{
	struct cockpit_reply r;
	cockpit_reply_init(&r);
	cockpit_handle(CK, method, path, query, "127.0.0.1", &r);
	unsigned st = r.status;
	if (body) {
		*body = bg_xstrdup(r.body.data);
	}
	if (ctype) {
		*ctype = r.ctype;
	}
	cockpit_reply_release(&r);
	return st;
}

static void test_routes(void **state)
{
	static const struct {
		const char *path;
		unsigned status;
		const char *ctype_prefix, *contains;
	} cases[] = {
		{"/", 200, "text/html", "href=\"/sites/shop\""},
		{"/sites/shop", 200, "text/html", "Recent history"},
		{"/sites/nosuch", 404, "text/html", "no such site"},
		{"/sites/../etc", 404, "text/html", "no such page"},
		{"/sites/", 404, "text/html", "no such page"},
		{"/sites/Shop", 404, "text/html", "no such page"},
		{"/api/v1/sites", 200, "application/json", "\"site\": \"shop\""},
		{"/api/v1/sites/shop", 200, "application/json", "\"history\""},
		{"/api/v1/sites/nosuch", 404, "application/json", "no such site"},
		{"/api/v1/history", 200, "application/json", "\"entries\""},
		{"/api/v2/sites", 404, "application/json", "no such route"},
		{"/metrics", 200, "text/plain; version=0.0.4", "bluegreen_site_live"},
		{"/admin", 404, "text/html", "no such page"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		char *body;
		const char *ct;
		unsigned st = req("GET", cases[i].path, NULL, &body, &ct);
		if (st != cases[i].status || !bg_str_has_prefix(ct, cases[i].ctype_prefix) ||
				!strcasestr(body, cases[i].contains)) {
			fail_msg("GET %s: %u %s, want %u %s with \"%s\":\n%s", cases[i].path, st, ct,
					cases[i].status, cases[i].ctype_prefix, cases[i].contains, body);
		}
		free(body);
		/* HEAD answers as GET (libmicrohttpd drops the body). */
		assert_int_equal(req("HEAD", cases[i].path, NULL, NULL, NULL), cases[i].status);
	}
}

static void test_api_fields(void **state)
{
	char *body;
	assert_int_equal(req("GET", "/api/v1/sites/shop", NULL, &body, NULL), 200);
	struct json_object *o = json_tokener_parse(body), *v;
	assert_non_null(o);
	/* status --json's fields, as the snapshot has them. */
	static const char *const keys[] = {"site", "live", "version", "image", "health",
		"candidate", "previous", "desired_version", "in_sync", "history"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(keys); i++) {
		if (!json_object_object_get_ex(o, keys[i], &v)) {
			fail_msg("no \"%s\" in %s", keys[i], body);
		}
	}
	json_object_object_get_ex(o, "history", &v);
	assert_int_equal(json_object_array_length(v), 4); /* the shop entries */
	json_object_put(o);
	free(body);
	/* history: the journal's JSON fields, limit and site filter. */
	assert_int_equal(req("GET", "/api/v1/history", "limit=2", &body, NULL), 200);
	o = json_tokener_parse(body);
	json_object_object_get_ex(o, "entries", &v);
	assert_int_equal(json_object_array_length(v), 2);
	struct json_object *e = json_object_array_get_idx(v, 1), *f;
	assert_true(json_object_object_get_ex(e, "seq", &f));
	assert_int_equal(json_object_get_int64(f), 7);
	assert_true(json_object_object_get_ex(e, "actor", &f));
	assert_true(json_object_object_get_ex(e, "time", &f));
	json_object_put(o);
	free(body);
	assert_int_equal(req("GET", "/api/v1/history", "site=x/../y", &body, NULL), 400);
	free(body);
}

static void test_html_escaped(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	cockpit_html_esc(&b, "<a href=\"x\">'&'</a>");
	assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
	bg_buf_release(&b);
	char *body;
	assert_int_equal(req("GET", "/sites/shop", NULL, &body, NULL), 200);
	/* The journal's markup is text, never markup. */
	assert_null(strstr(body, "<script>"));
	assert_non_null(strstr(body, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
	/* No inline script, no outside resource: readable without JavaScript, no
	 * CDN. The one script is the binary's own live-update file (issue 15). */
	const char *sc = strstr(body, "<script");
	assert_non_null(sc);
	assert_true(bg_str_has_prefix(sc, "<script src=\"/static/cockpit.js\" data-page=\"site\""));
	assert_null(strstr(sc + 1, "<script"));
	assert_null(strstr(body, "http://"));
	assert_null(strstr(body, "https://"));
	assert_non_null(strstr(body, "name=\"viewport\""));
	/* Last switch: the rollback (time of the newest switch or rollback). */
	assert_non_null(strstr(body, "<span class=\"green\">green</span>"));
	free(body);
}

static void test_mutations_refused(void **state)
{
	static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	static const char *const paths[] = {"/", "/sites/shop", "/api/v1/sites",
		"/api/v1/sites/shop", "/api/v1/history", "/metrics", "/api/v1/plan", "/nosuch"};
	unlink(refused_path);
	size_t n = 0;
	for (size_t m = 0; m < BG_ARRAY_SIZE(methods); m++) {
		for (size_t p = 0; p < BG_ARRAY_SIZE(paths); p++, n++) {
			char *body;
			unsigned st = req(methods[m], paths[p], NULL, &body, NULL);
			if (st != 403) {
				fail_msg("%s %s: %u, want 403", methods[m], paths[p], st);
			}
			assert_non_null(strstr(body, "safe mode"));
			free(body);
		}
	}
	char *log = th_read(refused_path);
	assert_non_null(log);
	assert_int_equal(th_count(log, "\n"), n);
	char *save = NULL;
	for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct json_object *o = json_tokener_parse(l), *v;
		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "result", &v));
		assert_string_equal(json_object_get_string(v), "refused");
		assert_true(json_object_object_get_ex(o, "actor", &v));
		assert_string_equal(json_object_get_string(v), "cockpit:127.0.0.1");
		json_object_put(o);
	}
	free(log);
	/* The history was not written (it cannot be: read-only). */
	assert_int_equal(hist_last_seq(H), 7);
}

/* Every sample's family has HELP and TYPE before it; names and labels are well-formed. */
static void test_metrics_format(void **state)
{
	char *body;
	regex_t sample;
	assert_int_equal(regcomp(&sample, "^([a-z_]+)(\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\\})? "
			"-?[0-9.]+(e[+-]?[0-9]+)?$", REG_EXTENDED), 0);
	assert_int_equal(req("GET", "/metrics", NULL, &body, NULL), 200);
	struct bg_strv typed;
	bg_strv_init(&typed);
	char *save = NULL, *copy = bg_xstrdup(body);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[128];
		if (sscanf(l, "# TYPE %127s", name) == 1) {
			bg_strv_push(&typed, name);
			continue;
		}
		if (l[0] == '#') {
			continue;
		}
		regmatch_t m[2];
		if (regexec(&sample, l, 2, m, 0) != 0) {
			fail_msg("not a sample line: %s", l);
		}
		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), l);
		/* A histogram's samples are NAME_bucket, NAME_sum, NAME_count (issue 15). */
		static const char *const hsuf[] = {"_bucket", "_sum", "_count"};
		for (size_t k = 0; k < 3 && !bg_strv_contains(&typed, name); k++) {
			if (bg_str_has_suffix(name, hsuf[k])) {
				name[strlen(name) - strlen(hsuf[k])] = '\0';
			}
		}
		if (!bg_strv_contains(&typed, name)) {
			fail_msg("sample before its TYPE: %s", l);
		}
	}
	free(copy);
	bg_strv_release(&typed);
	regfree(&sample);
	assert_non_null(strstr(body, "bluegreen_site_live{site=\"shop\",colour=\"green\"} 1\n"));
	assert_non_null(strstr(body, "bluegreen_site_live{site=\"shop\",colour=\"blue\"} 0\n"));
	assert_non_null(strstr(body, "bluegreen_site_version{site=\"shop\"} 3\n"));
	assert_non_null(strstr(body, "bluegreen_site_healthy{site=\"blog\"} 0\n"));
	assert_non_null(strstr(body, "bluegreen_site_pending_changes{site=\"blog\"} 2\n"));
	assert_non_null(strstr(body, "bluegreen_applies_total{result=\"ok\"} 2\n"));
	assert_non_null(strstr(body, "bluegreen_applies_total{result=\"failed\"} 1\n"));
	assert_non_null(strstr(body, "bluegreen_switches_total{result=\"ok\"} 2\n"));
	assert_non_null(strstr(body, "bluegreen_rollbacks_total{result=\"ok\"} 1\n"));
	assert_non_null(strstr(body, "bluegreen_snapshot_age_seconds "));
	free(body);
}

static void test_no_snapshot(void **state)
{
	char *moved = bg_xasprintf("%s.away", snap_path);
	assert_int_equal(rename(snap_path, moved), 0);
	char *body;
	assert_int_equal(req("GET", "/", NULL, &body, NULL), 503);
	assert_non_null(strstr(body, "bluegreen watch"));
	free(body);
	assert_int_equal(req("GET", "/api/v1/sites", NULL, &body, NULL), 503);
	free(body);
	assert_int_equal(req("GET", "/metrics", NULL, &body, NULL), 200);
	assert_non_null(strstr(body, "bluegreen_snapshot_present 0\n"));
	free(body);
	th_write(dir, "status.json", "{\"format\": 2, \"sites\": []}");
	assert_int_equal(req("GET", "/", NULL, &body, NULL), 503);
	assert_non_null(strstr(body, "format"));
	free(body);
	th_write(dir, "status.json", "{\"sites\": 3}");
	assert_int_equal(req("GET", "/", NULL, &body, NULL), 503);
	assert_non_null(strstr(body, "not valid"));
	free(body);
	assert_int_equal(rename(moved, snap_path), 0);
	free(moved);
}

/*
 * issue 15 (P): the daemon's pending changes per site, from the snapshot,
 * in the overview and the site page (a "Pending" cell), the API and
 * /metrics; and the footer names the mode served (safe here).
 */
static void test_pending_and_footer(void **state)
{
	char *body;
	assert_int_equal(req("GET", "/", NULL, &body, NULL), 200);
	th_assert_contains(body, "<th>Pending</th>");
	th_assert_contains(body, "<td data-h=\"Pending\">none</td>");                  /* shop: 0 */
	th_assert_contains(body, "<td data-h=\"Pending\" class=\"bad\">2 changes</td>"); /* blog */
	th_assert_contains(body, "<footer>bluegreen cockpit, safe mode: read-only.");
	th_assert_not_contains(body, "admin mode");
	free(body);
	assert_int_equal(req("GET", "/sites/blog", NULL, &body, NULL), 200);
	th_assert_contains(body, "<td data-h=\"Pending\" class=\"bad\">2 changes</td>");
	free(body);
	assert_int_equal(req("GET", "/api/v1/sites/blog", NULL, &body, NULL), 200);
	th_assert_contains(body, "\"pending_changes\": 2");
	free(body);
	assert_int_equal(req("GET", "/metrics", NULL, &body, NULL), 200);
	th_assert_contains(body, "bluegreen_site_pending_changes{site=\"shop\"} 0\n");
	th_assert_contains(body, "bluegreen_site_pending_changes{site=\"blog\"} 2\n");
	free(body);
	/* A site the daemon could not plan for (null), and a blocked one. */
	th_write(dir, "status.json",
			"{\"format\": 1, \"written_at_ms\": 1, \"sites\": ["
			"{\"site\": \"shop\", \"pending_changes\": null, \"blocked\": null},"
			"{\"site\": \"blog\", \"pending_changes\": null, \"blocked\": \"<no image>\"}]}");
	assert_int_equal(req("GET", "/", NULL, &body, NULL), 200);
	th_assert_contains(body, "<td data-h=\"Pending\">unknown</td>");
	th_assert_contains(body, "<td data-h=\"Pending\" class=\"bad\">blocked: &lt;no image&gt;</td>");
	free(body);
	th_write(dir, "status.json", snap_json);
}

/*
 * issue 15 (P): a cockpit given a publish directory and no history reads
 * the journal window (journal.json) there: history with hist_foreach's
 * rules (newest N, oldest first, per site), the daemon's whole-journal
 * counters in /metrics, the versions on the site page, the last switch.
 */
static void test_publish_dir_reader(void **state)
{
	char *pub = bg_xasprintf("%s/pub", dir);
	assert_int_equal(mkdir(pub, 0750), 0);
	th_write(pub, "status.json", snap_json);
	th_write(pub, "journal.json",
			"{\"format\": 1, \"last_seq\": 90, \"entries\": ["
			"{\"seq\": 40, \"time_ms\": 1765000000000, \"action\": \"switch\", \"site\": \"shop\","
			" \"result\": \"ok\", \"details\": \"live blue -> green\"},"
			"{\"seq\": 80, \"time_ms\": 1765000001000, \"action\": \"plan\", \"result\": \"pending\"},"
			"{\"seq\": 85, \"time_ms\": 1765000002000, \"action\": \"step\", \"site\": \"blog\","
			" \"result\": \"ok\", \"details\": \"pulled\"},"
			"{\"seq\": 90, \"time_ms\": 1765000003000, \"action\": \"step\", \"site\": \"shop\","
			" \"result\": \"ok\", \"details\": \"published-step\"}],"
			" \"counts\": [{\"action\": \"apply-end\", \"result\": \"ok\", \"n\": 41},"
			" {\"action\": \"switch\", \"result\": \"ok\", \"n\": 17}],"
			" \"versions\": [{\"site\": \"shop\", \"last_version\": 3, \"spec_versions\":"
			" [\"aaaaaaaaaaaaaaaa=1\", \"bbbbbbbbbbbbbbbb=2\", \"cccccccccccccccc=3\"],"
			" \"rejected\": [\"bbbbbbbbbbbbbbbb\"]}]}");
	char *ps = bg_xasprintf("%s/status.json", pub);
	struct cockpit_opts o = {.snapshot_path = ps, .publish_dir = pub};
	struct cockpit *ck = cockpit_new(&o);
	struct cockpit_reply r;
	cockpit_reply_init(&r);
	cockpit_handle(ck, "GET", "/api/v1/history", "limit=2", NULL, &r);
	assert_int_equal(r.status, 200);
	/* the newest two, oldest first */
	const char *a = strstr(r.body.data, "\"seq\": 85"), *b = strstr(r.body.data, "\"seq\": 90");
	assert_true(a && b && a < b);
	th_assert_not_contains(r.body.data, "\"seq\": 80");
	cockpit_reply_release(&r);
	cockpit_reply_init(&r);
	cockpit_handle(ck, "GET", "/api/v1/history", "site=shop", NULL, &r);
	assert_int_equal(th_count(r.body.data, "\"seq\""), 2);
	th_assert_not_contains(r.body.data, "\"plan\"");
	cockpit_reply_release(&r);
	cockpit_reply_init(&r);
	cockpit_handle(ck, "GET", "/metrics", NULL, NULL, &r);
	th_assert_contains(r.body.data, "bluegreen_applies_total{result=\"ok\"} 41\n");
	th_assert_contains(r.body.data, "bluegreen_switches_total{result=\"ok\"} 17\n");
	th_assert_contains(r.body.data, "bluegreen_history_last_seq 90\n");
	cockpit_reply_release(&r);
	cockpit_reply_init(&r);
	cockpit_handle(ck, "GET", "/sites/shop", NULL, NULL, &r);
	th_assert_contains(r.body.data, "published-step");
	th_assert_contains(r.body.data, "<td data-h=\"Version\">v2</td><td data-h=\"Spec\">bbbbbbbbbbbb</td>"
			"<td data-h=\"State\">rolled back</td>");
	th_assert_contains(r.body.data, "<td data-h=\"Last switch\">2025-12-06 05:46:40 UTC</td>");
	cockpit_reply_release(&r);
	/* A link in its place is not followed: the window stays as read. */
	char *j = bg_xasprintf("%s/journal.json", pub), *elsewhere = bg_xasprintf("%s/other.json", dir);
	th_write(dir, "other.json", "{\"format\": 1, \"last_seq\": 99, \"entries\": []}");
	assert_int_equal(unlink(j) | symlink(elsewhere, j), 0);
	cockpit_reply_init(&r);
	cockpit_handle(ck, "GET", "/api/v1/history", NULL, NULL, &r);
	assert_int_equal(th_count(r.body.data, "\"seq\""), 4);
	cockpit_reply_release(&r);
	cockpit_free(ck);
	free(elsewhere);
	free(j);
	free(ps);
	free(pub);
}

static void test_listen_rules(void **state)
{
	struct sockaddr_storage ss;
	unsigned len;
	const char *why;
	assert_int_equal(cockpit_listen_parse("127.0.0.1:8077", false, &ss, &len, &why), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(cockpit_listen_parse("[::1]:0", false, &ss, &len, &why), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(cockpit_listen_parse("0.0.0.0:8077", false, &ss, &len, &why), BG_EREFUSED);
	assert_non_null(strstr(why, "--allow-remote"));
	assert_int_equal(cockpit_listen_parse("0.0.0.0:8077", true, &ss, &len, &why), 0);
	static const char *const bad[] = {"localhost:80", "127.0.0.1", ":80", "127.0.0.1:",
		"127.0.0.1:70000", "127.0.0.1:8x", "[::1:80", "1.2.3.4.5:1"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
		if (cockpit_listen_parse(bad[i], true, &ss, &len, &why) != BG_EUSAGE) {
			fail_msg("%s was accepted", bad[i]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_api_fields),
		cmocka_unit_test(test_html_escaped),
		cmocka_unit_test(test_mutations_refused),
		cmocka_unit_test(test_metrics_format),
		cmocka_unit_test(test_no_snapshot),
		cmocka_unit_test(test_listen_rules),
		cmocka_unit_test(test_pending_and_footer), /* issue 15 (P) */
		cmocka_unit_test(test_publish_dir_reader),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
