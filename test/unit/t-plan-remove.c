/*
 * t-plan-remove: a removed site, its purge and orphaned objects
 * (rec-orphan.c), from a real configuration (cfg_load on a temp dir,
 * nginx edge) and an observation built in code. The site "gone" has no
 * file but containers, volumes, history and an edge file: the full plan
 * takes its edge file away first (phase 2), then its colour container and
 * its service (phase 3), never its volumes, and says how to delete them;
 * `plan --purge gone` removes the volumes too; a purge of a configured
 * site is refused; a site the history never saw is listed and left alone;
 * a filtered plan never touches a removed site. In production the
 * removal and the purge need the phrase kept in the history (the plan
 * says when none is kept), and the audit lists a removed edge file as a
 * file and a purged volume under volumes_deleted.
 */
#include "bg.h"
#include "cfg.h"
#include "edge.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "th.h"

#include <json-c/json.h>

static void add_container(struct pfx *f, const char *site, const char *name, const char *role,
		const char *colour)
{
	struct obs_container *c = obs_container_add(&f->obs);
	c->name = bg_xstrdup(name);
	c->id = bg_xasprintf("id-%s", name);
	c->image = bg_xstrdup("bluegreen-test/web:v1");
	c->state = obs_cstate_parse("running");
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	if (site) {
		obs_labels_set(&c->labels, BG_LABEL_SITE, site);
	}
	obs_labels_set(&c->labels, BG_LABEL_ROLE, role);
	obs_labels_set(&c->labels, BG_LABEL_SPEC, "x");
	if (colour) {
		obs_labels_set(&c->labels, BG_LABEL_COLOUR, colour);
		obs_labels_set(&c->labels, BG_LABEL_REPLICA, "1");
		obs_labels_set(&c->labels, BG_LABEL_VERSION, "1");
	} else {
		obs_labels_set(&c->labels, BG_LABEL_SERVICE, "db");
	}
}

static void add_volume(struct pfx *f, const char *site, const char *name)
{
	struct obs_volume *v = obs_volume_add(&f->obs);
	v->name = bg_xstrdup(name);
	obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&v->labels, BG_LABEL_SITE, site);
}

/* shop is configured; "gone" was deployed here (history) and its file removed. */
static void fx_load_mode(struct pfx *f, bool known, const char *mode)
{
	char *global = pfx_global_conf(mode);
	pfx_load(f, "plan-remove", global, "site: shop\ndomains: [shop.example.com]\n"
			"image: bluegreen-test/web:v1\nport: 8080\n", NULL, 0);
	free(global);
	add_container(f, "gone", "gone-blue-1", "colour", "blue");
	add_container(f, "gone", "gone-db", "service", NULL);
	add_volume(f, "gone", "gone-data");
	add_volume(f, "gone", "gone-pgdata");
	struct obs_edge *e = obs_edge_add(&f->obs);
	e->site = bg_xstrdup("gone");
	e->path = bg_xasprintf("%s/nginx/bluegreen-gone.conf", f->dir);
	e->exists = true;
	e->live = bg_xstrdup("blue");
	e->content_sha = bg_xstrdup("abc");
	if (known) {
		struct obs_hist_site *h = obs_hist_add(&f->obs);
		h->site = bg_xstrdup("gone");
		h->last_version = 1;
	}
	obs_finish(&f->obs);
}

static void fx_load(struct pfx *f, bool known)
{
	fx_load_mode(f, known, "staging");
}

static int plan_build(struct pfx *f, enum plan_kind_of_plan kind, const char *site,
		struct plan *p, struct bg_diag *d)
{
	struct plan_args a;
	plan_args_init(&a);
	a.kind = kind;
	if (site) {
		bg_strv_push(&a.sites, site);
	}
	int err = rec_plan_build(p, f->cfg, &f->obs, &a, d);
	plan_args_release(&a);
	return err;
}

/* "op kind name phase" per action of site, one per line. */
static char *ops_of(const struct plan *p, const char *site)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->site && strcmp(a->site, site) == 0) {
			bg_buf_addf(&b, "%s %s %s %u\n", plan_op_name(a->op), plan_kind_name(a->kind),
					a->kind == PLAN_KIND_EDGE ? "EDGE" : a->name, a->phase);
		}
	}
	return bg_buf_detach(&b, NULL);
}

static void test_removed_site(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_diag d;
	bg_diag_init(&d);
	fx_load(&f, true);
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	char *got = ops_of(&p, "gone");
	/* Edge first (switch phase), then the colour, then the service; no volume. */
	assert_string_equal(got, "remove edge EDGE 2\n"
				 "remove container gone-blue-1 3\n"
				 "remove service gone-db 3\n");
	const struct plan_site *ps = plan_site_find(&p, "gone");
	assert_non_null(ps);
	assert_int_equal(ps->n_actions, 3);
	assert_string_equal(ps->live_before, "blue");
	assert_null(ps->live_after);
	struct bg_buf text = BG_BUF_INIT;
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "volumes are kept: gone-data, gone-pgdata "
			"(`bluegreen plan --purge gone` deletes them)");
	th_assert_contains(text.data, "container gone-blue-1 has no site file: site 'gone' "
			"was removed");
	th_assert_not_contains(text.data, "remove volume");
	/* The token covers it: another edge file content is another plan. */
	char token[PLAN_TOKEN_LEN + 1];
	memcpy(token, p.token, sizeof(token));
	plan_release(&p);
	free(f.obs.edges[0].content_sha);
	f.obs.edges[0].content_sha = bg_xstrdup("def");
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	assert_string_not_equal(token, p.token);
	plan_release(&p);
	/* A filtered plan never touches a site it does not name. */
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, "shop", &p, &d), 0);
	char *filtered = ops_of(&p, "gone");
	assert_string_equal(filtered, "");
	free(filtered);
	plan_release(&p);
	bg_buf_release(&text);
	free(got);
	bg_diag_release(&d);
	pfx_release(&f);
}

static void test_purge(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_diag d;
	bg_diag_init(&d);
	fx_load(&f, true);
	assert_int_equal(plan_build(&f, PLAN_PURGE, "gone", &p, &d), 0);
	char *got = ops_of(&p, "gone");
	assert_string_equal(got, "remove edge EDGE 2\n"
				 "remove container gone-blue-1 3\n"
				 "remove service gone-db 3\n"
				 "remove volume gone-data 3\n"
				 "remove volume gone-pgdata 3\n");
	/* shop is not part of a purge. */
	assert_null(plan_site_find(&p, "shop"));
	free(got);
	plan_release(&p);
	/* Once only the volumes are left, the purge removes just them. */
	obs_release(&f.obs);
	obs_init(&f.obs);
	add_volume(&f, "gone", "gone-data");
	obs_finish(&f.obs);
	/* Not in this history (another installation's site?): blocked. */
	assert_int_equal(plan_build(&f, PLAN_PURGE, "gone", &p, &d), 0);
	got = ops_of(&p, "gone");
	assert_string_equal(got, "");
	free(got);
	assert_non_null(plan_site_find(&p, "gone")->blocked);
	th_assert_contains(plan_site_find(&p, "gone")->blocked, "no version in this history");
	plan_release(&p);
	struct obs_hist_site *h = obs_hist_add(&f.obs);
	h->site = bg_xstrdup("gone");
	obs_finish(&f.obs);
	assert_int_equal(plan_build(&f, PLAN_PURGE, "gone", &p, &d), 0);
	got = ops_of(&p, "gone");
	assert_string_equal(got, "remove volume gone-data 3\n");
	free(got);
	plan_release(&p);
	/* A configured site cannot be purged. */
	assert_int_equal(plan_build(&f, PLAN_PURGE, "shop", &p, &d), BG_ECONFIG);
	struct bg_buf msg = BG_BUF_INIT;
	for (size_t i = 0; i < d.n; i++) {
		bg_buf_addf(&msg, "%s\n", d.items[i].msg);
	}
	th_assert_contains(msg.data, "site shop still has ");
	th_assert_contains(msg.data, "sites/shop.conf; remove it first");
	bg_buf_release(&msg);
	plan_release(&p);
	bg_diag_release(&d);
	pfx_release(&f);
}

static void test_orphans_listed(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_diag d;
	bg_diag_init(&d);
	fx_load(&f, false); /* the history never saw "gone" */
	add_container(&f, NULL, "x-blue-1", "colour", "blue");
	/* A backup's helper: ours, short-lived, no site label: not a note. */
	add_container(&f, NULL, "bluegreen-backup-helper", "backup", NULL);
	obs_finish(&f.obs);
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	char *got = ops_of(&p, "gone");
	assert_string_equal(got, "");
	assert_null(plan_site_find(&p, "gone"));
	struct bg_buf notes = BG_BUF_INIT;
	for (size_t i = 0; i < p.notes.n; i++) {
		bg_buf_addf(&notes, "%s\n", p.notes.v[i]);
	}
	th_assert_contains(notes.data, "site 'gone' has containers managed by bluegreen but no "
			"site file and no version history here");
	/* Not the names (they may change under another installation's
	 * switch, and the note is in the token): how to list them. */
	th_assert_not_contains(notes.data, "gone-blue-1");
	th_assert_contains(notes.data, "label=io.bluegreen.site=gone` lists them");
	th_assert_contains(notes.data, "container x-blue-1 is managed by bluegreen but belongs "
			"to no site");
	th_assert_not_contains(notes.data, "bluegreen-backup-helper");
	bg_buf_release(&notes);
	free(got);
	plan_release(&p);
	bg_diag_release(&d);
	pfx_release(&f);
}

/* A removed site with only volumes left: said once, nothing planned. */
static void test_only_volumes_left(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_diag d;
	bg_diag_init(&d);
	fx_load(&f, true);
	obs_release(&f.obs);
	obs_init(&f.obs);
	add_volume(&f, "gone", "gone-data");
	struct obs_hist_site *h = obs_hist_add(&f.obs);
	h->site = bg_xstrdup("gone");
	obs_finish(&f.obs);
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	assert_null(plan_site_find(&p, "gone"));
	char *got = ops_of(&p, "gone");
	assert_string_equal(got, "");
	assert_int_equal(p.notes.n, 1);
	th_assert_contains(p.notes.v[0], "site 'gone' was removed; its volumes are kept: "
			"gone-data (`bluegreen plan --purge gone` deletes them)");
	free(got);
	plan_release(&p);
	bg_diag_release(&d);
	pfx_release(&f);
}

/* edge_observe_removed reads the file of a site with no site file. */
static void test_observe_removed_edge(void **state)
{
	(void)state;
	struct pfx f;
	fx_load(&f, true);
	struct obs o;
	obs_init(&o);
	assert_int_equal(edge_observe_removed(f.cfg, "gone", &o), 0);
	assert_int_equal(o.n_edges, 0); /* no file */
	th_write(f.dir, "nginx/bluegreen-gone.conf", "not ours\n");
	assert_int_equal(edge_observe_removed(f.cfg, "gone", &o), 0);
	assert_int_equal(o.n_edges, 1);
	assert_true(o.edges[0].exists);
	assert_non_null(o.edges[0].error);
	obs_release(&o);
	pfx_release(&f);
}

/* Production: "gone" was deployed with a confirm phrase, kept hashed. */
static void test_confirm_production(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_diag d;
	bg_diag_init(&d);
	fx_load_mode(&f, true, "production");
	f.obs.hist[0].confirm_kept = true;
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	assert_true(plan_site_find(&p, "gone")->needs_confirm);
	assert_false(plan_site_find(&p, "shop")->needs_confirm);
	struct bg_buf json = BG_BUF_INIT;
	assert_int_equal(plan_render_json(&p, f.cfg, &json), 0);
	th_assert_contains(json.data, "\"confirm_required\": true");
	bg_buf_release(&json);
	plan_release(&p);
	assert_int_equal(plan_build(&f, PLAN_PURGE, "gone", &p, &d), 0);
	assert_true(plan_site_find(&p, "gone")->needs_confirm);
	plan_release(&p);
	/* No phrase kept: the token alone applies it, and the plan says why. */
	f.obs.hist[0].confirm_kept = false;
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	const struct plan_site *ps = plan_site_find(&p, "gone");
	assert_false(ps->needs_confirm);
	struct bg_buf notes = BG_BUF_INIT;
	for (size_t i = 0; i < ps->notes.n; i++) {
		bg_buf_addf(&notes, "%s\n", ps->notes.v[i]);
	}
	th_assert_contains(notes.data, "no confirm phrase is kept for site 'gone'");
	bg_buf_release(&notes);
	plan_release(&p);
	pfx_release(&f);
	/* Not production: never, kept phrase or not. */
	fx_load(&f, true);
	f.obs.hist[0].confirm_kept = true;
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	assert_false(plan_site_find(&p, "gone")->needs_confirm);
	plan_release(&p);
	bg_diag_release(&d);
	pfx_release(&f);
}

/* json's audit object, parsed: the list under key as "a,b,". */
static char *audit_list(const char *json, const char *key)
{
	struct json_object *root = json_tokener_parse(json), *audit = NULL, *a = NULL;
	struct bg_buf b = BG_BUF_INIT;
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "audit", &audit));
	assert_true(json_object_object_get_ex(audit, key, &a));
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		bg_buf_addf(&b, "%s,", json_object_get_string(json_object_array_get_idx(a, i)));
	}
	json_object_put(root);
	return bg_buf_detach(&b, NULL);
}

/* The audit: an edge file removed is a file, a purged volume is deleted data. */
static void test_audit(void **state)
{
	(void)state;
	struct pfx f;
	struct plan p;
	struct bg_diag d;
	struct bg_buf json = BG_BUF_INIT, text = BG_BUF_INIT;
	bg_diag_init(&d);
	fx_load(&f, true);
	assert_int_equal(plan_build(&f, PLAN_PURGE, "gone", &p, &d), 0);
	assert_int_equal(plan_render_json(&p, f.cfg, &json), 0);
	char *edge = bg_xasprintf("%s/nginx/bluegreen-gone.conf,", f.dir);
	char *got = audit_list(json.data, "files_written");
	assert_string_equal(got, edge);
	free(got);
	got = audit_list(json.data, "containers_removed");
	assert_string_equal(got, "gone-blue-1,gone-db,");
	free(got);
	got = audit_list(json.data, "volumes_deleted");
	assert_string_equal(got, "gone-data,gone-pgdata,");
	free(got);
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "VOLUMES DELETED:     gone-data, gone-pgdata");
	th_assert_not_contains(text.data, "volumes are never deleted");
	plan_release(&p);
	bg_buf_release(&json);
	bg_buf_release(&text);
	/* The removal keeps them: nothing deleted, said as before. */
	assert_int_equal(plan_build(&f, PLAN_CONVERGE, NULL, &p, &d), 0);
	assert_int_equal(plan_render_json(&p, f.cfg, &json), 0);
	got = audit_list(json.data, "volumes_deleted");
	assert_string_equal(got, "");
	free(got);
	got = audit_list(json.data, "files_written"); /* shop's too: it is deployed */
	th_assert_contains(got, edge);
	free(got);
	got = audit_list(json.data, "containers_removed");
	th_assert_not_contains(got, "bluegreen-gone.conf");
	free(got);
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "volumes are never deleted by this plan");
	plan_release(&p);
	bg_buf_release(&json);
	bg_buf_release(&text);
	free(edge);
	bg_diag_release(&d);
	pfx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removed_site),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_orphans_listed),
		cmocka_unit_test(test_only_volumes_left),
		cmocka_unit_test(test_observe_removed_edge),
		cmocka_unit_test(test_confirm_production),
		cmocka_unit_test(test_audit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
