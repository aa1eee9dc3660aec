/*
 * t-remove: removing a site (issue 13), end to end through real Docker,
 * the real bluegreen binary and a real nginx edge. A site with a volume
 * and a backing service is deployed and serves its domain; its site file
 * is deleted; the next plan takes it down (edge file first, then its
 * containers) and says the volumes are kept and how to delete them; after
 * the apply its containers and edge file are gone, nginx answers the
 * domain with its default server (404 "no site") and both volumes still
 * exist. `plan --purge SITE` is refused while the site file exists, and
 * once it is gone plans the volumes' removal, which the apply does.
 * In install_mode production the removal and the purge need the confirm
 * phrase the site file had (kept hashed in the history): without it, or
 * with a wrong one, apply refuses (exit 4) and nothing is removed; with it
 * the same token applies.
 *
 * Needs: dockerd, nginx, curl.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <unistd.h>

static bool volume_exists(const char *name)
{
	struct th_run r;
	th_docker(&r, "volume", "inspect", name, NULL);
	bool ok = r.status == 0;
	th_run_release(&r);
	return ok;
}

/* The token printed by a plan's output ("bluegreen apply TOKEN"), or NULL. */
static char *token_of(const char *out)
{
	const char *p = strstr(out, "bluegreen apply ");
	if (!p) {
		return NULL;
	}
	p += strlen("bluegreen apply ");
	return bg_xstrndup(p, strspn(p, "0123456789abcdef"));
}

static void test_remove_then_purge(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	e2e_init(&e, "rm", "nginx", "development");
	const char *extra = "volumes: {uploads: /data}\n"
			    "services:\n"
			    "  db:\n"
			    "    image: bluegreen-test/db:1\n"
			    "    volumes: {dbdata: /var/db}\n"
			    "depends_on: [db]\n";
	e2e_site(&e, "bluegreen-test/web:v1", extra);
	assert_int_equal(e2e_plan_apply(&e, NULL), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	char *uploads = bg_xasprintf("%s-uploads", e.site);
	char *dbdata = bg_xasprintf("%s-dbdata", e.site);
	char *db = bg_xasprintf("%s-db", e.site);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *site_file = bg_xasprintf("%s/sites/%s.conf", e.dir, e.site);
	char *edge_file = NULL;
	char *purge_refused = bg_xasprintf("site %s still has ", e.site);

	/* A purge of a site that still has its file: refused, nothing planned. */
	e2e_bg(&e, &r, "plan", "--purge", e.site, NULL);
	assert_int_equal(r.status, 1);
	th_assert_contains(r.err, purge_refused);
	th_assert_contains(r.err, "; remove it first");
	th_run_release(&r);

	char *live = e2e_edge_live(&e);
	assert_non_null(live);
	free(live);
	assert_int_equal(unlink(site_file), 0);

	/* The plan: edge file first, then the containers; volumes kept and said. */
	e2e_bg(&e, &r, "plan", NULL);
	assert_int_equal(r.status, 2);
	char *purge_hint = bg_xasprintf("`bluegreen plan --purge %s` deletes them", e.site);
	th_assert_contains(r.out, purge_hint);
	th_assert_contains(r.out, uploads);
	char *edge_name = bg_xasprintf("bluegreen-%s.conf", e.site);
	const char *edge_at = strstr(r.out, edge_name);
	const char *c_at = strstr(r.out, blue);
	assert_non_null(edge_at);
	assert_non_null(c_at);
	assert_true(edge_at < c_at);
	free(edge_name);
	th_assert_not_contains(r.out, "remove    volume");
	char *tok = token_of(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	edge_file = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e.dir, e.site);
	assert_int_equal(access(edge_file, F_OK), 0);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);

	/* Containers and edge file gone; nginx no longer routes the domain. */
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "");
	free(s);
	s = e2e_container_state(db);
	assert_string_equal(s, "");
	free(s);
	assert_int_not_equal(access(edge_file, F_OK), 0);
	char *body = NULL;
	assert_int_equal(e2e_get(&e, e.domain, &body), 404);
	assert_string_equal(body, "no site");
	free(body);
	/* The volumes are kept. */
	assert_true(volume_exists(uploads));
	assert_true(volume_exists(dbdata));

	/* Nothing left to take down: the next plan only says the volumes are kept. */
	e2e_bg(&e, &r, "plan", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, purge_hint);
	th_run_release(&r);

	/* The purge: the volumes go. */
	e2e_bg(&e, &r, "plan", "--purge", e.site, NULL);
	assert_int_equal(r.status, 2);
	th_assert_contains(r.out, uploads);
	th_assert_contains(r.out, dbdata);
	tok = token_of(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	assert_int_equal(e2e_bg(&e, &r, "apply", tok, NULL), 0);
	th_run_release(&r);
	free(tok);
	assert_false(volume_exists(uploads));
	assert_false(volume_exists(dbdata));

	free(purge_hint);
	free(purge_refused);
	free(edge_file);
	free(site_file);
	free(blue);
	free(db);
	free(dbdata);
	free(uploads);
	e2e_release(&e);
}

/* apply TOKEN [--confirm PHRASE]: its exit status; the refusal is checked. */
static int apply_with(struct e2e *e, const char *tok, const char *phrase)
{
	struct th_run r;
	int rc = phrase ? e2e_bg(e, &r, "apply", tok, "--confirm", phrase, NULL)
			: e2e_bg(e, &r, "apply", tok, NULL);
	if (rc == 4) {
		char *want = bg_xasprintf("site '%s' requires its confirm phrase", e->site);
		th_assert_contains(r.err, want);
		free(want);
	}
	th_run_release(&r);
	return rc;
}

static void test_production_confirm(void **state)
{
	(void)state;
	struct e2e e;
	struct th_run r;
	int st;
	e2e_init(&e, "rmp", "nginx", "production");
	e2e_site(&e, "bluegreen-test/web:v1", "confirm: \"TAKE IT DOWN\"\n"
			"volumes: {uploads: /data}\n"
			"backup: {before_switch: false}\n");
	char *tok = e2e_plan(&e, &st);
	assert_int_equal(st, 2);
	assert_int_equal(apply_with(&e, tok, "TAKE IT DOWN"), 0);
	free(tok);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	char *uploads = bg_xasprintf("%s-uploads", e.site);
	char *blue = bg_xasprintf("%s-blue", e.site);
	char *site_file = bg_xasprintf("%s/sites/%s.conf", e.dir, e.site);
	char *edge_file = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e.dir, e.site);
	char *hint = bg_xasprintf("--confirm \"<confirm phrase of %s>\"", e.site);
	assert_int_equal(unlink(site_file), 0);

	/* The removal: no phrase, a wrong one: refused, nothing removed. */
	e2e_bg(&e, &r, "plan", NULL);
	assert_int_equal(r.status, 2);
	th_assert_contains(r.out, hint);
	tok = token_of(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	assert_int_equal(apply_with(&e, tok, NULL), 4);
	assert_int_equal(apply_with(&e, tok, "TAKE IT"), 4);
	char *s = e2e_container_state(blue);
	assert_string_equal(s, "running");
	free(s);
	assert_int_equal(access(edge_file, F_OK), 0);
	assert_true(e2e_wait_body(&e, e.domain, "v1", 3000));
	/* The phrase the file had: the same token applies. */
	assert_int_equal(apply_with(&e, tok, "TAKE IT DOWN"), 0);
	free(tok);
	s = e2e_container_state(blue);
	assert_string_equal(s, "");
	free(s);
	assert_int_not_equal(access(edge_file, F_OK), 0);
	assert_true(volume_exists(uploads));

	/* The purge: the same. */
	e2e_bg(&e, &r, "plan", "--purge", e.site, NULL);
	assert_int_equal(r.status, 2);
	th_assert_contains(r.out, hint);
	tok = token_of(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	assert_int_equal(apply_with(&e, tok, NULL), 4);
	assert_int_equal(apply_with(&e, tok, "take it down"), 4);
	assert_true(volume_exists(uploads));
	assert_int_equal(apply_with(&e, tok, "TAKE IT DOWN"), 0);
	free(tok);
	assert_false(volume_exists(uploads));

	free(hint);
	free(edge_file);
	free(site_file);
	free(blue);
	free(uploads);
	e2e_release(&e);
}

int main(void)
{
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_remove_then_purge, e2e_teardown),
		cmocka_unit_test_teardown(test_production_confirm, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
