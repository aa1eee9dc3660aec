/*
 * t-plan: the planner is pure, so every branch of the blue/green state
 * machine is tested here from a real configuration (written to a temp
 * dir, loaded by cfg_load) and an observation built in code: first
 * deploy, steady state, candidate, switch proposal, auto promotion with
 * retirement, drift (stopped, removed), rejected and retried revisions,
 * name conflicts, unreadable edge files, rollback, orphans, unused
 * volumes, services, determinism and sensitivity of the token, snapshot
 * equality, and secrets kept out of every output.
 */
#include "bg.h"
#include "cfg.h"
#include "clog.h"
#include "desired.h"
#include "edge.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "th.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "s3cr3t-value-never-printed"

static const char *global_conf =
	"install_mode: production\n"
	"state_dir: state\n"
	"edge:\n"
	"  kind: nginx\n"
	"  network: bgt-edge\n"
	"  nginx:\n"
	"    conf_dir: nginx\n"
	"    reload: [\"true\"]\n"
	"    test: []\n"
	"    upstream: addresses\n";

static char *site_conf(const char *image, const char *extra)
{
	return bg_xasprintf(
		"site: shop\n"
		"domains: [shop.example.com]\n"
		"preview: preview.shop.example.com\n"
		"image: %s\n"
		"port: 8080\n"
		"env:\n"
		"  NODE_ENV: production\n"
		"  API_TOKEN: " SECRET "\n"
		"volumes: {uploads: /app/uploads}\n"
		"services:\n"
		"  db:\n"
		"    image: bluegreen-test/db:1\n"
		"    volumes: {pgdata: /data}\n"
		"depends_on: [db]\n"
		"confirm: \"DEPLOY SHOP\"\n"
		"%s", image, extra ? extra : "");
}

static void fx_load(struct pfx *f, const char *image, const char *extra)
{
	const char *refs[] = {"bluegreen-test/web:v1", "bluegreen-test/web:v2",
			"bluegreen-test/db:1"};
	char *sc = site_conf(image, extra);
	pfx_load(f, "plan", global_conf, sc, refs, 3);
	free(sc);
	obs_finish(&f->obs);
}

/* The desired spec of shop for the current config and images. */
static char *desired_spec(struct pfx *f)
{
	return pfx_spec(f, -1);
}

/* Networks, volumes and the db service: everything but the colours. */
static void add_infra(struct pfx *f)
{
	pfx_add_shop_networks(f);
	const char *vols[] = {"shop-pgdata", "shop-uploads"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_volume *v = obs_volume_add(&f->obs);
		v->name = bg_xstrdup(vols[i]);
		obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
		obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	}
	char *ss = pfx_spec(f, 0);
	pfx_add_container(f, "shop-db", "service", NULL, 0, ss, 0, "running", NULL);
	free(ss);
}

/* What the observation says of the secrets key: key, or (NULL) none yet. */
static void use_key(struct pfx *f, const uint8_t *key)
{
	memset(&f->obs.secrets, 0, sizeof(f->obs.secrets));
	f->obs.secrets.state = key ? OBS_SECRETS_OK : OBS_SECRETS_ABSENT;
	if (key) {
		memcpy(f->obs.secrets.key, key, sizeof(f->obs.secrets.key));
	}
}

#define assert_ops(p, expected) pfx_assert_ops(p, false, expected)

/* converge.log is appended to only as a regular file: no link, no FIFO. */
static void test_clog_refuses_special(void **state)
{
	char *dir = th_tmpdir("clog");
	char *log = bg_xasprintf("%s/converge.log", dir);
	char *victim = bg_xasprintf("%s/victim", dir);
	char *data = NULL;

	th_write(dir, "victim", "keep\n");
	assert_int_equal(symlink(victim, log), 0);
	assert_int_equal(clog_append(dir, "through the link"), BG_ERRNO(ELOOP));
	assert_int_equal(bg_file_read(victim, 1024, &data, NULL), 0);
	assert_string_equal(data, "keep\n");
	free(data);
	assert_int_equal(unlink(log), 0);
	assert_int_equal(mkfifo(log, 0600), 0);
	alarm(20); /* a blocking open fails the test instead of hanging it */
	assert_int_not_equal(clog_append(dir, "into a fifo"), 0);
	alarm(0);
	assert_int_equal(unlink(log), 0);
	assert_int_equal(clog_append(dir, "a line"), 0);
	assert_int_equal(bg_file_read(log, 1024, &data, NULL), 0);
	assert_non_null(strstr(data, "a line"));
	free(data);
	th_rm_rf(dir);
	free(victim);
	free(log);
	free(dir);
}

static void test_first_deploy(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"create network bgt-edge\n"
		"create network shop-net\n"
		"create volume shop-pgdata\n"
		"create volume shop-uploads\n"
		"create service shop-db\n"
		"start service shop-db\n"
		"health service shop-db\n" /* issue 13: depends_on waits for it */
		"create container shop-blue\n"
		"start container shop-blue\n"
		"health container shop-blue\n"
		"switch edge EDGE\n");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_null(ps->live_before);
	assert_string_equal(ps->live_after, "blue");
	assert_int_equal(ps->version_after, 1);
	assert_true(ps->needs_confirm);
	assert_int_equal(strlen(p.token), PLAN_TOKEN_LEN);
	plan_release(&p);
	pfx_release(&f);
}

static void test_steady_state(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	char *spec = desired_spec(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1, "running", "10.0.0.2");
	pfx_add_edge(&f, "blue", "blue", 1, "10.0.0.2:8080", "10.0.0.2:8080");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "");
	assert_int_equal(plan_changes(&p), 0);
	assert_false(plan_site_find(&p, "shop")->needs_confirm);
	free(spec);
	plan_release(&p);
	pfx_release(&f);
}

/* v1 live on blue; the preview host on PREVIEW (green: a candidate was shown there). */
static void live_v1_preview(struct pfx *f, const char *preview)
{
	add_infra(f);
	pfx_add_container(f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running", "10.0.0.2");
	pfx_add_edge(f, "blue", preview, 1, "10.0.0.2:8080",
			strcmp(preview, "green") == 0 ? "10.0.0.3:8080" : "10.0.0.2:8080");
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = 1;
	bg_strv_push(&h->spec_versions, "oldspec=1");
}

static void live_v1(struct pfx *f)
{
	live_v1_preview(f, "blue");
}

static void test_candidate_after_image_change(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"create container shop-green\n"
		"start container shop-green\n"
		"health container shop-green\n"
		"write edge EDGE\n");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_string_equal(ps->live_before, "blue");
	assert_string_equal(ps->live_after, "blue");
	assert_string_equal(ps->candidate_after, "green");
	assert_string_equal(ps->preview_after, "green");
	assert_int_equal(p.actions[0].version, 2);
	/* The live colour is never touched by a candidate plan. */
	for (size_t i = 0; i < p.n_actions; i++) {
		assert_true(p.actions[i].kind == PLAN_KIND_EDGE ||
				strcmp(p.actions[i].name, "shop-blue") != 0);
	}
	plan_release(&p);
	pfx_release(&f);
}

static void test_switch_proposal(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1_preview(&f, "green");
	char *spec = desired_spec(&f);
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"health container shop-green\n"
		"backup backup shop\n"  /* issue 12: production backs up before a switch */
		"switch edge EDGE\n");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_string_equal(ps->live_after, "green");
	assert_int_equal(ps->version_after, 2);
	assert_null(ps->candidate_after);
	th_assert_contains(p.actions[2].reason, "live blue (v1) -> green (v2)");
	th_assert_contains(p.actions[2].reason, "previous colour stays running");
	free(spec);
	plan_release(&p);
	pfx_release(&f);
}

/*
 * A healthy candidate the preview host does not show (the candidate apply
 * was killed between its gate and its preview write): with promote: manual
 * the plan finishes the preview first; the switch comes in the next plan.
 */
static void test_candidate_preview_before_switch(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	char *spec = desired_spec(&f);
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"health container shop-green\n"
		"write edge EDGE\n");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_string_equal(ps->live_after, "blue");
	assert_string_equal(ps->candidate_after, "green");
	assert_string_equal(ps->preview_after, "green");
	th_assert_contains(p.actions[1].reason, "stays live (promote: manual)");
	plan_release(&p);
	pfx_release(&f);
	/* promote: auto does not wait for anyone to look: it switches. */
	fx_load(&f, "bluegreen-test/web:v2", "strategy: {promote: auto}\n");
	live_v1(&f);
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"health container shop-green\n"
		"backup backup shop\n"  /* issue 12: production backs up before a switch */
		"switch edge EDGE\n");
	free(spec);
	plan_release(&p);
	pfx_release(&f);
}

static void test_auto_promote_retires_old(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2",
			"strategy: {promote: auto, keep_previous: false, drain: 200ms}\n");
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"create container shop-green\n"
		"start container shop-green\n"
		"health container shop-green\n"
		"backup backup shop\n"  /* issue 12: production backs up before a switch */
		"switch edge EDGE\n"
		"drain container blue\n"
		"remove container shop-blue\n");
	assert_int_equal(p.actions[5].ms, 200);
	/* Build and gate, then switch, then retire: the order apply runs them in. */
	const unsigned want_phase[] = {PLAN_PHASE_BUILD, PLAN_PHASE_BUILD, PLAN_PHASE_BUILD,
			PLAN_PHASE_BUILD, PLAN_PHASE_SWITCH, PLAN_PHASE_RETIRE, PLAN_PHASE_RETIRE};
	for (size_t i = 0; i < BG_ARRAY_SIZE(want_phase); i++) {
		assert_int_equal(p.actions[i].phase, want_phase[i]);
	}
	plan_release(&p);
	pfx_release(&f);
}

static void test_drift_stopped_live(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	char *spec = desired_spec(&f);
	struct obs_container *c = pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1,
			"exited", NULL);
	c->exit_code = 137;
	pfx_add_edge(&f, "blue", "blue", 1, "10.0.0.2:8080", "10.0.0.2:8080");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"start container shop-blue\n"
		"health container shop-blue\n"
		"write edge EDGE\n");
	th_assert_contains(p.actions[0].reason, "drift: live shop-blue is exited (exit code 137)");
	free(spec);
	plan_release(&p);
	pfx_release(&f);
}

static void test_drift_removed_live(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	pfx_add_edge(&f, "blue", "blue", 1, "10.0.0.2:8080", "10.0.0.2:8080");
	struct obs_hist_site *h = obs_hist_add(&f.obs);
	h->site = bg_xstrdup("shop");
	h->last_version = 1;
	char *spec = desired_spec(&f);
	bg_strv_push_take(&h->spec_versions, bg_xasprintf("%s=1", spec));
	pfx_plan_ok(&f, NULL, &p);
	/* Edge says blue, blue is gone: nothing serves, so blue is rebuilt in
	 * place (no candidate, no switch to wait for) and nginx re-pointed. */
	assert_ops(&p,
		"create container shop-blue\n"
		"start container shop-blue\n"
		"health container shop-blue\n"
		"write edge EDGE\n");
	th_assert_contains(plan_site_find(&p, "shop")->notes.v[0], "the site is down");
	free(spec);
	plan_release(&p);
	pfx_release(&f);
}

static void test_rejected_and_retry(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	char *spec = desired_spec(&f);
	struct obs_hist_site *h = (struct obs_hist_site *)obs_hist_find(&f.obs, "shop");
	if (!h) {
		obs_finish(&f.obs);
		h = (struct obs_hist_site *)obs_hist_find(&f.obs, "shop");
	}
	bg_strv_push(&h->rejected, spec);
	bg_strv_push_take(&h->spec_versions, bg_xasprintf("%s=2", spec));
	h->last_version = 2;
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "");
	th_assert_contains(plan_site_find(&p, "shop")->notes.v[0], "revision v2 was rolled back");
	th_assert_contains(plan_site_find(&p, "shop")->notes.v[0], "--retry shop");
	char *t1 = bg_xstrdup(p.token);
	plan_release(&p);

	plan_args_init(&args);
	bg_strv_push(&args.retry, "shop");
	pfx_plan_ok(&f, &args, &p);
	assert_ops(&p,
		"create container shop-green\n"
		"start container shop-green\n"
		"health container shop-green\n"
		"write edge EDGE\n");
	assert_string_not_equal(t1, p.token);
	free(t1);
	free(spec);
	plan_args_release(&args);
	plan_release(&p);
	pfx_release(&f);
}

static void test_conflict_blocks(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	obs_conflict_add(&f.obs, "container", "shop-blue");
	pfx_plan_ok(&f, NULL, &p);
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_non_null(ps->blocked);
	th_assert_contains(ps->blocked, "container 'shop-blue' already exists and is not managed");
	assert_int_equal(ps->n_actions, 0);
	assert_int_equal(p.errors.n, 1);
	plan_release(&p);
	pfx_release(&f);

	/* Managed, but for another site (another installation on this host). */
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	struct obs_volume *v = obs_volume_add(&f.obs);
	v->name = bg_xstrdup("shop-uploads");
	obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&v->labels, BG_LABEL_SITE, "shop-other");
	pfx_plan_ok(&f, NULL, &p);
	ps = plan_site_find(&p, "shop");
	th_assert_contains(ps->blocked, "volume 'shop-uploads' (site 'shop-other') belongs to "
			"another site managed by bluegreen");
	assert_int_equal(ps->n_actions, 0);
	plan_release(&p);
	pfx_release(&f);
}

static void test_unreadable_edge_blocks(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	struct obs_edge *e = obs_edge_add(&f.obs);
	e->site = bg_xstrdup("shop");
	e->path = bg_xstrdup("/x/bluegreen-shop.conf");
	e->exists = true;
	e->error = bg_xstrdup("no bluegreen header");
	pfx_plan_ok(&f, NULL, &p);
	const struct plan_site *ps = plan_site_find(&p, "shop");
	th_assert_contains(ps->blocked, "will not guess which colour is live");
	assert_int_equal(ps->n_actions, 0);
	plan_release(&p);
	pfx_release(&f);
}

static void test_rollback(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	char *spec = desired_spec(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running", "10.0.0.2");
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_add_edge(&f, "green", "green", 2, "10.0.0.3:8080", "10.0.0.3:8080");
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(&f, &args, &p);
	assert_ops(&p, "switch edge EDGE\n");
	assert_string_equal(p.actions[0].colour, "blue");
	assert_string_equal(p.actions[0].reject_spec, spec);
	assert_int_equal(p.actions[0].reject_version, 2);
	assert_string_equal(plan_site_find(&p, "shop")->live_after, "blue");
	plan_release(&p);

	/* The previous colour stopped: no instant rollback, and it says so. */
	for (size_t i = 0; i < f.obs.n_containers; i++) {
		if (strcmp(f.obs.containers[i].name, "shop-blue") == 0) {
			f.obs.containers[i].state = OBS_CSTATE_EXITED;
		}
	}
	pfx_plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "is not running");
	free(spec);
	plan_args_release(&args);
	plan_release(&p);
	pfx_release(&f);
}

static void test_token_deterministic_and_sensitive(void **state)
{
	struct pfx f;
	struct plan a, b, c;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &a);
	pfx_plan_ok(&f, NULL, &b);
	assert_string_equal(a.token, b.token);
	/* A fact the plan depends on changes: the address of the live colour. */
	for (size_t i = 0; i < f.obs.n_containers; i++) {
		if (strcmp(f.obs.containers[i].name, "shop-blue") == 0) {
			free(f.obs.containers[i].nets[0].ip);
			f.obs.containers[i].nets[0].ip = bg_xstrdup("10.0.0.9");
		}
	}
	pfx_plan_ok(&f, NULL, &c);
	assert_string_not_equal(a.token, c.token);
	/* Same world, but an apply was started since (and interrupted): the
	 * same plan must get a new token, the old one being used. */
	struct plan d2;
	f.obs.hist_tokens_used++;
	pfx_plan_ok(&f, NULL, &d2);
	assert_string_not_equal(c.token, d2.token);
	plan_release(&d2);
	plan_release(&a);
	plan_release(&b);
	plan_release(&c);
	pfx_release(&f);
}

static void test_snapshot_same_token(void **state)
{
	struct pfx f;
	struct plan a, b;
	struct obs o2;
	struct bg_buf json = BG_BUF_INIT;
	struct bg_diag d;
	struct plan_args none;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &a);
	assert_int_equal(obs_to_json(&f.obs, &json), 0);
	obs_init(&o2);
	bg_diag_init(&d);
	plan_args_init(&none);
	assert_int_equal(obs_from_json(&o2, json.data, json.len, &d), 0);
	assert_int_equal(rec_plan_build(&b, f.cfg, &o2, &none, &d), 0);
	assert_string_equal(a.token, b.token);
	plan_args_release(&none);
	bg_diag_release(&d);
	obs_release(&o2);
	bg_buf_release(&json);
	plan_release(&a);
	plan_release(&b);
	pfx_release(&f);
}

static void test_orphans_volumes_services(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	char *spec = desired_spec(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1, "running", "10.0.0.2");
	pfx_add_edge(&f, "blue", "blue", 1, "10.0.0.2:8080", "10.0.0.2:8080");
	/* A container of a site with no file. */
	struct obs_container *o = pfx_add_container(&f, "old-blue", "colour", "blue", 1, "x", 1,
			"running", NULL);
	obs_labels_set(&o->labels, BG_LABEL_SITE, "old");
	/* A volume the site no longer mounts. */
	struct obs_volume *v = obs_volume_add(&f.obs);
	v->name = bg_xstrdup("shop-legacy");
	obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	/* The db container no longer matches the site file. */
	for (size_t i = 0; i < f.obs.n_containers; i++) {
		if (strcmp(f.obs.containers[i].name, "shop-db") == 0) {
			obs_labels_set(&f.obs.containers[i].labels, BG_LABEL_SPEC, "olddb");
		}
	}
	pfx_plan_ok(&f, NULL, &p);
	/* Issue 13: a service that differs is recreated in the open (it was a note),
	 * and in production after a backup (issue 12). */
	assert_ops(&p,
		"backup backup shop\n"
		"stop service shop-db\n"
		"remove service shop-db\n"
		"create service shop-db\n"
		"start service shop-db\n"
		"health service shop-db\n");
	assert_int_equal(p.notes.n, 1);
	th_assert_contains(p.notes.v[0], "site 'old' has containers managed by bluegreen but no site file");
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_int_equal(ps->notes.n, 2);
	th_assert_contains(ps->notes.v[0], "volume 'shop-legacy' is no longer used");
	th_assert_contains(ps->notes.v[1], "service 'db' will be recreated");
	th_assert_contains(ps->notes.v[1], "db will be stopped for about 32 s");
	free(spec);
	plan_release(&p);
	pfx_release(&f);
}

static void test_no_secrets_anywhere(void **state)
{
	struct pfx f;
	struct plan p;
	struct bg_buf text = BG_BUF_INIT, json = BG_BUF_INIT, sum = BG_BUF_INIT;
	struct desired des;
	struct bg_diag d;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &p);
	plan_render_text(&p, f.cfg, false, &text);
	plan_render_json(&p, f.cfg, &json);
	plan_render_summary(&p, &sum);
	th_assert_not_contains(text.data, SECRET);
	th_assert_not_contains(json.data, SECRET);
	th_assert_not_contains(sum.data, SECRET);
	for (size_t i = 0; i < p.facts.n; i++) {
		th_assert_not_contains(p.facts.v[i], SECRET);
	}
	bg_diag_init(&d);
	assert_int_equal(des_build(&des, f.cfg, &f.obs, &d), 0);
	th_assert_not_contains(des.sites[0].spec_json, SECRET);
	th_assert_contains(des.sites[0].spec_json, "\"API_TOKEN\":\"<redacted>\"");
	th_assert_contains(des.sites[0].spec_json, "\"NODE_ENV\":\"production\"");
	/* The container does get the value: that is where it belongs. */
	struct des_create dc;
	des_colour_create(&des, &des.sites[0], "green", 1, p.token, &dc);
	bool found = false;
	for (size_t i = 0; i < dc.env.n; i++) {
		found |= strcmp(dc.env.v[i], "API_TOKEN=" SECRET) == 0;
	}
	assert_true(found);
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_PLAN), p.token);
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_MANAGED), "true");
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_VERSION), "2");
	des_create_release(&dc);
	des_release(&des);
	bg_diag_release(&d);
	bg_buf_release(&text);
	bg_buf_release(&json);
	bg_buf_release(&sum);
	plan_release(&p);
	pfx_release(&f);
}

static void test_spec_ignores_routing(void **state)
{
	/* Domains, preview and health are routing/policy: same spec. Env is not. */
	struct pfx a, b, c;
	fx_load(&a, "bluegreen-test/web:v2", NULL);
	fx_load(&b, "bluegreen-test/web:v2", "health: {path: /healthz, retries: 3}\n");
	fx_load(&c, "bluegreen-test/web:v2", "replicas: 2\n");
	char *sa = desired_spec(&a), *sb = desired_spec(&b), *sc = desired_spec(&c);
	assert_string_equal(sa, sb);
	assert_string_not_equal(sa, sc);
	free(sa);
	free(sb);
	free(sc);
	pfx_release(&a);
	pfx_release(&b);
	pfx_release(&c);
}

static void test_render_text(void **state)
{
	struct pfx f;
	struct plan p;
	struct bg_buf text = BG_BUF_INIT;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &p);
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "install_mode production");
	th_assert_contains(text.data, "shop (sites/shop.conf)");
	th_assert_contains(text.data, "live: blue v1; candidate: green");
	th_assert_contains(text.data, "containers started:  shop-green");
	th_assert_contains(text.data, "files written:");
	th_assert_contains(text.data, "bluegreen-shop.conf");
	th_assert_contains(text.data, "volumes are never deleted");
	th_assert_not_contains(text.data, "\033[");
	bg_buf_release(&text);
	plan_render_text(&p, f.cfg, true, &text);
	th_assert_contains(text.data, "\033[");
	bg_buf_release(&text);
	plan_release(&p);
	pfx_release(&f);
}


/* A rollback goes back only: never to the candidate, a rejected or a newer revision. */
static void test_rollback_never_goes_forward(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	char *spec = desired_spec(&f);
	/* green holds the candidate v2, healthy, waiting for a manual switch. */
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "the candidate that never went live");
	plan_release(&p);
	free(spec);
	plan_args_release(&args);
	pfx_release(&f);

	/* After a rollback (blue v1 live, green v2 rejected): no second flip back. */
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	spec = desired_spec(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running", "10.0.0.2");
	pfx_add_container(&f, "shop-green", "colour", "green", 1, "v3spec", 3, "running", "10.0.0.3");
	pfx_add_edge(&f, "blue", "blue", 1, "10.0.0.2:8080", "10.0.0.2:8080");
	struct obs_hist_site *h = obs_hist_add(&f.obs);
	h->site = bg_xstrdup("shop");
	h->last_version = 3;
	bg_strv_push(&h->rejected, "v3spec");
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "already rolled back");
	plan_release(&p);
	free(spec);
	plan_args_release(&args);
	pfx_release(&f);
}

/* The routing a switch installs is in the token: an edited domain makes it stale. */
static void test_token_covers_routing(void **state)
{
	struct pfx a, b;
	struct plan pa, pb;
	fx_load(&a, "bluegreen-test/web:v2", NULL);
	fx_load(&b, "bluegreen-test/web:v2", NULL);
	char *rel = bg_xasprintf("%s/sites/shop.conf", b.dir);
	char *text = th_read(rel);
	char *edited = bg_xstrdup(text);
	char *at = strstr(edited, "domains: [shop.example.com]");
	assert_non_null(at);
	free(text);
	char *conf = bg_xasprintf("%.*sdomains: [shop.example.com, www.shop.example.com]%s",
			(int)(at - edited), edited, at + strlen("domains: [shop.example.com]"));
	th_write(b.dir, "sites/shop.conf", conf);
	cfg_destroy(b.cfg);
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(cfg_load(&b.cfg, b.dir, 0, &d), 0);
	bg_diag_release(&d);
	/* Same world in both: a first deploy, i.e. a switch to blue. */
	pfx_plan_ok(&a, NULL, &pa);
	pfx_plan_ok(&b, NULL, &pb);
	assert_int_equal(pa.n_actions, pb.n_actions);
	assert_string_not_equal(pa.token, pb.token);
	plan_release(&pa);
	plan_release(&pb);
	free(conf);
	free(edited);
	free(rel);
	pfx_release(&a);
	pfx_release(&b);
}

/* No edge file: never guess between two populated colours, never remove a running one. */
static void test_no_edge_file(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	char *spec = desired_spec(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running", "10.0.0.2");
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_plan_ok(&f, NULL, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "will not guess which one was live");
	plan_release(&p);
	free(spec);
	pfx_release(&f);

	/* One colour with an older version: the new one goes to the empty colour. */
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	add_infra(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running", "10.0.0.2");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"create container shop-green\n"
		"start container shop-green\n"
		"health container shop-green\n"
		"backup backup shop\n"  /* issue 12: production backs up before a switch */
		"switch edge EDGE\n");
	plan_release(&p);
	pfx_release(&f);
}


/* Generated Docker names must not collide across sites (acme + blog-uploads vs acme-blog + uploads). */
static void test_name_collisions(void **state)
{
	char *dir = th_tmpdir("names");
	struct cfg *cfg = NULL;
	struct bg_diag d;
	th_write(dir, "global.conf", global_conf);
	th_write(dir, "sites/acme.conf",
			"site: acme\ndomains: [acme.example.com]\nimage: bluegreen-test/web:v1\n"
			"port: 8080\nvolumes: {blog-uploads: /data}\n"
			"services: {blog-db: {image: bluegreen-test/db:1}}\n");
	th_write(dir, "sites/acme-blog.conf",
			"site: acme-blog\ndomains: [blog.acme.example.com]\n"
			"image: bluegreen-test/web:v1\nport: 8080\nvolumes: {uploads: /data}\n"
			"services: {db: {image: bluegreen-test/db:1}}\n");
	bg_diag_init(&d);
	assert_int_equal(cfg_load(&cfg, dir, 0, &d), 0); /* each file alone is fine */
	assert_int_equal(des_check_names(cfg, &d), BG_ECONFIG);
	assert_int_equal(d.n_errors, 2);
	bg_diag_sort(&d);
	char line[512];
	bg_diag_item_format(&d.items[0], line, sizeof(line));
	th_assert_contains(line, "sites/acme-blog.conf:5:11: error: volume name 'acme-blog-uploads' "
			"of volume 'uploads' is also the name of volume 'blog-uploads' in sites/acme.conf");
	bg_diag_item_format(&d.items[1], line, sizeof(line));
	th_assert_contains(line, "sites/acme-blog.conf:6:12: error: container name 'acme-blog-db' "
			"of service 'db' is also the name of service 'blog-db' in sites/acme.conf");
	cfg_destroy(cfg);
	bg_diag_release(&d);
	/* validate says so, with the place, and exits 1. */
	struct th_run r;
	assert_int_equal(th_bg(&r, "-c", dir, "validate", NULL), 1);
	th_assert_contains(r.err, "sites/acme-blog.conf:");
	th_assert_contains(r.err, "two sites would share one Docker object");
	th_run_release(&r);
	th_rm_rf(dir);
	free(dir);
}


/* Secret values: out of the (published) spec hash, in a keyed label instead. */
static void test_secrets_label(void **state)
{
	struct pfx a, b;
	struct plan p;
	struct desired da, db;
	struct bg_diag d;
	uint8_t key[32];
	for (size_t i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)(i * 7 + 1);
	}
	fx_load(&a, "bluegreen-test/web:v2", NULL);
	fx_load(&b, "bluegreen-test/web:v2", NULL);
	/* b: the same site with another secret value. */
	char *path = bg_xasprintf("%s/sites/shop.conf", b.dir);
	char *text = th_read(path);
	char *at = strstr(text, SECRET);
	char *conf = bg_xasprintf("%.*sother-secret-value%s", (int)(at - text), text, at + strlen(SECRET));
	th_write(b.dir, "sites/shop.conf", conf);
	cfg_destroy(b.cfg);
	bg_diag_init(&d);
	assert_int_equal(cfg_load(&b.cfg, b.dir, 0, &d), 0);

	use_key(&a, NULL);
	use_key(&b, NULL);
	assert_int_equal(des_build(&da, a.cfg, &a.obs, &d), 0);
	assert_int_equal(des_build(&db, b.cfg, &b.obs, &d), 0);
	/* The spec does not depend on a secret's value; without a key, no hash. */
	assert_string_equal(da.sites[0].spec, db.sites[0].spec);
	assert_string_equal(da.sites[0].secrets, "");
	assert_true(da.secrets_uncompared && da.secrets_state == OBS_SECRETS_ABSENT);
	des_release(&da);
	des_release(&db);

	use_key(&a, key);
	use_key(&b, key);
	assert_int_equal(des_build(&da, a.cfg, &a.obs, &d), 0);
	assert_false(da.secrets_uncompared);
	assert_int_equal(des_build(&db, b.cfg, &b.obs, &d), 0);
	assert_string_equal(da.sites[0].spec, db.sites[0].spec);
	assert_int_equal(strlen(da.sites[0].secrets), 64);
	assert_string_not_equal(da.sites[0].secrets, db.sites[0].secrets);
	/* The container gets the label. */
	struct des_create dc;
	des_colour_create(&da, &da.sites[0], "blue", 1, NULL, &dc);
	assert_string_equal(obs_labels_get(&dc.labels, BG_LABEL_SECRETS), da.sites[0].secrets);
	des_create_release(&dc);

	/* Live blue carries a's secrets; the config now says b's: a new candidate. */
	add_infra(&b);
	struct obs_container *c = pfx_add_container(&b, "shop-blue", "colour", "blue", 1,
			db.sites[0].spec, 1, "running", "10.0.0.2");
	obs_labels_set(&c->labels, BG_LABEL_SECRETS, da.sites[0].secrets);
	pfx_add_edge(&b, "blue", "blue", 1, "10.0.0.2:8080", "10.0.0.2:8080");
	pfx_plan_ok(&b, NULL, &p);
	th_assert_contains(plan_site_find(&p, "shop")->candidate_after, "green");
	assert_true(p.n_actions > 0);
	plan_release(&p);
	/* An unlabelled container (from before the label) is not compared.
	 * (plan_ok sorted the containers: find it again by name.) */
	c = (struct obs_container *)obs_container_find(&b.obs, "shop-blue");
	assert_non_null(c);
	obs_labels_release(&c->labels);
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_ROLE, "colour");
	obs_labels_set(&c->labels, BG_LABEL_COLOUR, "blue");
	obs_labels_set(&c->labels, BG_LABEL_REPLICA, "1");
	obs_labels_set(&c->labels, BG_LABEL_VERSION, "1");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, db.sites[0].spec);
	pfx_plan_ok(&b, NULL, &p);
	assert_ops(&p, "");
	plan_release(&p);

	/* Without the key the plan says so, and its token is the one the
	 * server's plan (with the key) gives when nothing changed (ADR 0010). */
	c = (struct obs_container *)obs_container_find(&b.obs, "shop-blue");
	obs_labels_set(&c->labels, BG_LABEL_SECRETS, db.sites[0].secrets);
	pfx_plan_ok(&b, NULL, &p);
	assert_ops(&p, "");
	assert_null(p.secrets_why);
	char tok[PLAN_TOKEN_LEN + 1];
	memcpy(tok, p.token, sizeof(tok));
	plan_release(&p);
	use_key(&b, NULL);
	pfx_plan_ok(&b, NULL, &p);
	assert_ops(&p, "");
	assert_string_equal(p.token, tok);
	th_assert_contains(p.secrets_why, "secrets.key does not exist yet");
	struct bg_buf txt = BG_BUF_INIT;
	assert_int_equal(plan_render_text(&p, b.cfg, false, &txt), 0);
	bg_buf_add(&txt, "", 1);
	th_assert_contains(txt.data, "warning: secret values are not compared: ");
	bg_buf_release(&txt);
	plan_release(&p);
	b.obs.secrets.state = OBS_SECRETS_UNREADABLE;
	b.obs.secrets.err = BG_ERRNO(EACCES);
	pfx_plan_ok(&b, NULL, &p);
	assert_string_equal(p.token, tok);
	th_assert_contains(p.secrets_why, "cannot read ");
	th_assert_contains(p.secrets_why, "Permission denied");
	plan_release(&p);

	des_release(&da);
	des_release(&db);
	bg_diag_release(&d);
	free(conf);
	free(text);
	free(path);
	pfx_release(&a);
	pfx_release(&b);
}


/*
 * io.bluegreen.secrets comes from Docker and may be any length. A label
 * value at the very end of a readable page, followed by an inaccessible
 * one, turns any read past its NUL into a SIGSEGV in every build (not
 * only under valgrind or ASan): the comparison must check lengths first.
 */
static char *guarded_copy(const char *s, void **map, size_t *maplen)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t n = strlen(s) + 1;
	*maplen = 2 * (size_t)pg;
	char *m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	*map = m;
	char *at = m + pg - n;
	memcpy(at, s, n);
	return at;
}

static bool secrets_match_guarded(const char *desired, const char *label)
{
	struct obs_labels l = {0};
	void *map = NULL;
	size_t maplen = 0;
	obs_labels_set(&l, BG_LABEL_SECRETS, "");
	struct obs_label *lab = &l.v[0];
	char *heap = lab->value;
	lab->value = guarded_copy(label, &map, &maplen);
	char *want = NULL;
	void *wmap = NULL;
	size_t wlen = 0;
	want = guarded_copy(desired, &wmap, &wlen);
	bool ok = des_secrets_match(want, &l);
	lab->value = heap;
	obs_labels_release(&l);
	munmap(map, maplen);
	munmap(wmap, wlen);
	return ok;
}

static void test_secrets_label_lengths(void **state)
{
	char want[65], longer[66], shorter[64];
	for (size_t i = 0; i < 64; i++) {
		want[i] = "0123456789abcdef"[(i * 5) % 16];
	}
	want[64] = '\0';
	snprintf(longer, sizeof(longer), "%s0", want);
	memcpy(shorter, want, 63);
	shorter[63] = '\0';
	/* The case: a one-byte label. */
	assert_false(secrets_match_guarded(want, "x"));
	assert_false(secrets_match_guarded(want, ""));
	assert_false(secrets_match_guarded(want, shorter));
	assert_false(secrets_match_guarded(want, longer));
	assert_true(secrets_match_guarded(want, want));
	want[63] = want[63] == '0' ? '1' : '0';
	assert_false(secrets_match_guarded(want, longer));
	/* Nothing desired, or no label: not compared. */
	struct obs_labels none = {0};
	assert_true(des_secrets_match(want, &none));
	assert_true(des_secrets_match("", &none));
}

/*
 * nginx, upstream: ports (the default): upstreams are 127.0.0.1:PORT from the
 * containers' labels, so a restart that moves a container's address changes
 * nothing, and a stopped live container is not a reason to rewrite the edge.
 */
static void test_ports_upstreams(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	/* This fixture runs in addresses mode: switch it to the default. */
	((struct cfg *)f.cfg)->g.nginx.upstream = CFG_UPSTREAM_PORTS;
	add_infra(&f);
	char *spec = desired_spec(&f);
	struct obs_container *c = pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1,
			"running", "10.0.0.2");
	obs_labels_set(&c->labels, BG_LABEL_HOSTPORT, "20007");
	pfx_add_edge(&f, "blue", "blue", 1, "127.0.0.1:20007", "127.0.0.1:20007");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "");
	plan_release(&p);
	/* Restarted elsewhere: another address, same port: nothing to do. */
	c = (struct obs_container *)obs_container_find(&f.obs, "shop-blue");
	free(c->nets[0].ip);
	c->nets[0].ip = bg_xstrdup("10.0.0.99");
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p, "");
	plan_release(&p);
	/* Stopped: started again (drift), the edge file stays as it is. */
	c->state = OBS_CSTATE_EXITED;
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"start container shop-blue\n"
		"health container shop-blue\n");
	plan_release(&p);
	free(spec);
	pfx_release(&f);
}

/* examples/gitops: what CI runs on a config repository, for real. */
static void test_gitops_example(void **state)
{
	struct th_run r;
	char *script = th_src_path("examples/gitops/ci-plan.sh");
	char *conf = th_src_path("examples/gitops/config");
	char *bin = bg_xasprintf("BLUEGREEN=%s", getenv("BG_BINARY"));
	char *argv[] = {"sh", script, conf, NULL};
	char *env[] = {bin, "NO_COLOR=1", NULL};
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "valid (1 site, install_mode production)");
	th_assert_contains(r.out, "live: blue v1; candidate: green");
	th_assert_contains(r.out, "candidate: v2, image registry.example.com/shop:1.4.2");
	th_assert_contains(r.out, "--confirm \"<confirm phrase of shop>\"");
	th_assert_not_contains(r.out, "DEPLOY SHOP PROD");
	th_assert_contains(r.out, "ci-plan: changes pending");
	th_run_release(&r);
	free(bin);
	free(conf);
	free(script);
}

/* ---- execution settings (issue 9, ADR 0012) ---- */

/* The case: a reload command swapped for a shell, and no test. */
#define EVIL_RELOAD "reload: [/bin/sh, -c, \"id > /tmp/x\"]"

/* Write global_conf with `from` replaced by `to` as f's global.conf, and reload it. */
static void fx_global_edit(struct pfx *f, const char *from, const char *to)
{
	const char *at = strstr(global_conf, from);
	assert_non_null(at);
	char *g = bg_xasprintf("%.*s%s%s", (int)(at - global_conf), global_conf, to,
			at + strlen(from));
	th_write(f->dir, "global.conf", g);
	free(g);
	cfg_destroy(f->cfg);
	struct bg_diag d;
	bg_diag_init(&d);
	int err = cfg_load(&f->cfg, f->dir, 0, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
}

/* Every execution setting is a fact of the token: changing any changes it. */
static void test_exec_settings_in_token(void **state)
{
	static const char *const edits[][2] = {
		{"reload: [\"true\"]", EVIL_RELOAD},
		{"test: []", "test: [/usr/sbin/nginx, -t]"},
		{"conf_dir: nginx", "conf_dir: /etc/nginx/conf.d"},
		{"state_dir: state", "state_dir: /var/lib/elsewhere"},
		{"install_mode: production\n", "install_mode: production\ndocker: {socket: /run/other.sock}\n"},
		{"upstream: addresses\n", "upstream: addresses\n  traefik: {api: \"http://127.0.0.1:9\"}\n"},
	};
	struct pfx f;
	struct plan base;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &base);
	bool seen = false;
	for (size_t i = 0; i < base.facts.n; i++) {
		seen |= strcmp(base.facts.v[i], "exec edge.nginx.reload=[\"true\"]") == 0;
	}
	assert_true(seen);
	for (size_t i = 0; i < BG_ARRAY_SIZE(edits); i++) {
		struct plan p;
		fx_global_edit(&f, edits[i][0], edits[i][1]);
		pfx_plan_ok(&f, NULL, &p);
		/* The Traefik API does not apply to an nginx edge: same token. */
		if (i == 5) {
			assert_string_equal(p.token, base.token);
		} else if (strcmp(p.token, base.token) == 0) {
			fail_msg("token unchanged after '%s' -> '%s'", edits[i][0], edits[i][1]);
		}
		assert_int_equal(p.n_actions, base.n_actions);
		plan_release(&p);
		fx_global_edit(&f, "install_mode", "install_mode"); /* back to global_conf */
	}
	plan_release(&base);
	pfx_release(&f);
}

/* Traefik's settings: its directories and API URL are facts too. */
static void test_exec_settings_traefik(void **state)
{
	static const char *const globals[] = {
		"install_mode: staging\nedge: {traefik: {dynamic_dir: /srv/dyn}}\n",
		"install_mode: staging\nedge: {traefik: {dynamic_dir: /srv/dyn2}}\n",
		"install_mode: staging\nedge: {traefik: {dynamic_dir: /srv/dyn, staging_dir: /srv/st}}\n",
		"install_mode: staging\nedge: {traefik: {dynamic_dir: /srv/dyn, api: http://127.0.0.1:8080}}\n",
	};
	char tokens[BG_ARRAY_SIZE(globals)][PLAN_TOKEN_LEN + 1];
	for (size_t i = 0; i < BG_ARRAY_SIZE(globals); i++) {
		char *dir = th_tmpdir("plan");
		struct cfg *cfg = NULL;
		struct obs o;
		struct plan p;
		struct plan_args none;
		struct bg_diag d;
		th_write(dir, "global.conf", globals[i]);
		th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: x/a:1\n"
				"port: 80\n");
		bg_diag_init(&d);
		assert_int_equal(cfg_load(&cfg, dir, 0, &d), 0);
		obs_init(&o);
		obs_finish(&o);
		plan_args_init(&none);
		assert_int_equal(rec_plan_build(&p, cfg, &o, &none, &d), 0);
		memcpy(tokens[i], p.token, sizeof(tokens[i]));
		for (size_t k = 0; k < i; k++) {
			assert_string_not_equal(tokens[k], tokens[i]);
		}
		struct bg_buf text = BG_BUF_INIT;
		plan_render_text(&p, cfg, false, &text);
		th_assert_contains(text.data, "traefik dynamic directory: /srv/dyn");
		th_assert_not_contains(text.data, "edge reload command");
		bg_buf_release(&text);
		plan_release(&p);
		plan_args_release(&none);
		obs_release(&o);
		bg_diag_release(&d);
		cfg_destroy(cfg);
		th_rm_rf(dir);
		free(dir);
	}
}

/* Plan one config directory holding `global`; its token and execution settings. */
static char *exec_of(const char *dir, const char *global, char token[PLAN_TOKEN_LEN + 1])
{
	struct cfg *cfg = NULL;
	struct obs o;
	struct plan p;
	struct plan_args none;
	struct bg_diag d;
	th_write(dir, "global.conf", global);
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: x/a:1\nport: 80\n");
	bg_diag_init(&d);
	assert_int_equal(cfg_load(&cfg, dir, 0, &d), 0);
	obs_init(&o);
	obs_finish(&o);
	plan_args_init(&none);
	assert_int_equal(rec_plan_build(&p, cfg, &o, &none, &d), 0);
	memcpy(token, p.token, PLAN_TOKEN_LEN + 1);
	char *json = plan_exec_to_json(&p);
	plan_release(&p);
	plan_args_release(&none);
	obs_release(&o);
	bg_diag_release(&d);
	cfg_destroy(cfg);
	return json;
}

/*
 * Only a path written relative is "<config>/...": the same absolute
 * state_dir in two checkouts (one of which holds it) gives one token, and a
 * relative one, even leading out with "..", reads the same in both.
 */
static void test_exec_settings_as_written(void **state)
{
	char *a = th_tmpdir("plan"), *b = th_tmpdir("plan");
	char ta[PLAN_TOKEN_LEN + 1], tb[PLAN_TOKEN_LEN + 1];
	char *g = bg_xasprintf("install_mode: staging\nstate_dir: %s/state\n"
			"edge: {traefik: {dynamic_dir: ../dyn}}\n", a);
	char *ja = exec_of(a, g, ta), *jb = exec_of(b, g, tb);
	assert_string_equal(ta, tb);
	assert_string_equal(ja, jb);
	char *want = bg_xasprintf("\"state_dir\":\"%s/state\"", a);
	th_assert_contains(ja, want);
	th_assert_not_contains(ja, "<config>/state");
	th_assert_contains(ja, "\"edge.traefik.dynamic_dir\":\"<config>/../dyn\"");
	th_assert_contains(ja, "\"edge.traefik.staging_dir\":\"<config>/../dyn.staging\"");
	free(want);
	free(ja);
	free(jb);
	free(g);
	th_rm_rf(a);
	th_rm_rf(b);
	free(a);
	free(b);
}

/* What the plan shows: every setting when not compared, new ones, changed ones. */
static void test_exec_settings_render(void **state)
{
	struct pfx f;
	struct plan before, p;
	struct bg_buf text = BG_BUF_INIT, json = BG_BUF_INIT;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &before);
	char *applied = plan_exec_to_json(&before);
	th_assert_contains(applied, "\"edge.nginx.reload\":[\"true\"]");
	th_assert_contains(applied, "\"edge.nginx.test\":[]");
	/* Directories in the config directory: the same wherever it is checked out. */
	th_assert_contains(applied, "\"state_dir\":\"<config>/state\"");
	th_assert_contains(applied, "\"edge.nginx.conf_dir\":\"<config>/nginx\"");
	th_assert_not_contains(applied, f.dir);

	/* Not compared (a snapshot): every setting, none marked. */
	plan_render_text(&before, f.cfg, false, &text);
	th_assert_contains(text.data, "not compared with the last apply");
	th_assert_contains(text.data, "  edge reload command: [true]    # edge.nginx.reload\n");
	th_assert_contains(text.data, "  edge test command: []    # edge.nginx.test\n");
	th_assert_contains(text.data, "  docker socket: /var/run/docker.sock    # docker.socket\n");
	th_assert_contains(text.data, "  state directory: <config>/state    # state_dir\n");
	bg_buf_release(&text);

	/* No apply recorded them yet: all new. */
	assert_int_equal(plan_exec_compare(&before, NULL), 0);
	assert_int_equal(plan_exec_changed(&before), before.n_exec);
	plan_render_text(&before, f.cfg, false, &text);
	th_assert_contains(text.data, "changed since the last apply");
	th_assert_contains(text.data, "  edge reload command: [true] (new)    # edge.nginx.reload\n");
	bg_buf_release(&text);

	/* As applied: nothing to say. */
	assert_int_equal(plan_exec_compare(&before, applied), 0);
	assert_int_equal(plan_exec_changed(&before), 0);
	plan_render_text(&before, f.cfg, false, &text);
	th_assert_not_contains(text.data, "execution settings");
	bg_buf_release(&text);

	/* The reload command became a shell and the test went: named, with what it was. */
	fx_global_edit(&f, "reload: [\"true\"]", EVIL_RELOAD);
	pfx_plan_ok(&f, NULL, &p);
	assert_string_not_equal(p.token, before.token);
	assert_int_equal(plan_exec_compare(&p, applied), 0);
	assert_int_equal(plan_exec_changed(&p), 1);
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "  edge reload command: [/bin/sh, -c, \"id > /tmp/x\"] "
			"(was [true])    # edge.nginx.reload\n");
	th_assert_not_contains(text.data, "edge test command");
	plan_render_json(&p, f.cfg, &json);
	th_assert_contains(json.data, "\"key\": \"edge.nginx.reload\"");
	th_assert_contains(json.data, "\"id > /tmp/x\"");
	th_assert_contains(json.data, "\"status\": \"changed\"");
	th_assert_contains(json.data, "\"previous\": [\n        \"true\"\n      ]");
	th_assert_contains(json.data, "\"status\": \"same\"");
	/* A control character in a value reaches no terminal raw. */
	bg_buf_release(&text);
	plan_release(&p);
	fx_global_edit(&f, "reload: [\"true\"]", "reload: [\"a\\u001b[2Jb\"]");
	pfx_plan_ok(&f, NULL, &p);
	plan_render_text(&p, f.cfg, false, &text);
	th_assert_contains(text.data, "edge reload command: [\"a\\u001b[2Jb\"]");
	th_assert_not_contains(text.data, "\033");
	/* A record that is not ours: every setting shown, none compared. */
	assert_int_equal(plan_exec_compare(&p, "[1]"), BG_EPARSE);
	assert_int_equal(p.exec[0].state, PLAN_EXEC_UNKNOWN);

	bg_buf_release(&text);
	bg_buf_release(&json);
	free(applied);
	plan_release(&p);
	plan_release(&before);
	pfx_release(&f);
}

/*
 * The reproduction through the binary: `plan --observed` from one
 * snapshot before and after the reload command changed prints two tokens,
 * and the second plan names the command.
 */
static void test_exec_settings_observed_binary(void **state)
{
	struct pfx f;
	struct th_run r;
	struct bg_buf json = BG_BUF_INIT;
	fx_load(&f, "bluegreen-test/web:v2", NULL);
	live_v1(&f);
	obs_finish(&f.obs);
	assert_int_equal(obs_to_json(&f.obs, &json), 0);
	th_write(f.dir, "snap.json", json.data);
	char *snap = bg_xasprintf("%s/snap.json", f.dir);
	char *argv[] = {getenv("BG_BINARY"), "-c", f.dir, "plan", "--observed", snap, NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 2);
	char *t1 = th_plan_token(r.out);
	th_assert_contains(r.out, "edge reload command: [true]");
	th_run_release(&r);
	fx_global_edit(&f, "reload: [\"true\"]", EVIL_RELOAD);
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 2);
	char *t2 = th_plan_token(r.out);
	assert_non_null(t1);
	assert_non_null(t2);
	assert_string_not_equal(t1, t2);
	th_assert_contains(r.out, "edge reload command: [/bin/sh, -c, \"id > /tmp/x\"]");
	th_assert_contains(r.out, "edge test command: []");
	th_run_release(&r);
	char *jargv[] = {getenv("BG_BINARY"), "-c", f.dir, "--json", "plan", "--observed", snap,
		NULL};
	th_run_argv(jargv, env, &r);
	th_assert_contains(r.out, "\"execution_settings\"");
	th_assert_contains(r.out, "\"status\": \"unknown\"");
	th_run_release(&r);
	free(t1);
	free(t2);
	free(snap);
	bg_buf_release(&json);
	pfx_release(&f);
}

/* Every plan kind has exactly one reconciler whose handles() claims it:
 * the executor finds the one that applies a step by kind alone. */
static void test_one_reconciler_per_kind(void **state)
{
	(void)state;
	static const enum plan_kind kinds[] = {
#define XX(n, s) PLAN_KIND_##n,
		PLAN_KIND_MAP(XX)
#undef XX
	};
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		const struct rec_impl *owner = NULL;
		size_t n = 0;
		for (size_t i = 0; i < rec_registry_len; i++) {
			assert_non_null(rec_registry[i]->handles);
			if (rec_registry[i]->handles(kinds[k])) {
				owner = rec_registry[i];
				n++;
			}
		}
		if (n != 1) {
			fail_msg("plan kind '%s' is claimed by %zu reconcilers", plan_kind_name(kinds[k]),
					n);
		}
		assert_ptr_equal(rec_for_kind(kinds[k]), owner);
		assert_non_null(owner->apply);
	}
	assert_ptr_equal(rec_for_kind(PLAN_KIND_IMAGE), &rec_image_impl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clog_refuses_special),
		cmocka_unit_test(test_one_reconciler_per_kind),
		cmocka_unit_test(test_first_deploy),
		cmocka_unit_test(test_steady_state),
		cmocka_unit_test(test_candidate_after_image_change),
		cmocka_unit_test(test_switch_proposal),
		cmocka_unit_test(test_candidate_preview_before_switch),
		cmocka_unit_test(test_auto_promote_retires_old),
		cmocka_unit_test(test_drift_stopped_live),
		cmocka_unit_test(test_drift_removed_live),
		cmocka_unit_test(test_rejected_and_retry),
		cmocka_unit_test(test_conflict_blocks),
		cmocka_unit_test(test_unreadable_edge_blocks),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_token_deterministic_and_sensitive),
		cmocka_unit_test(test_snapshot_same_token),
		cmocka_unit_test(test_orphans_volumes_services),
		cmocka_unit_test(test_no_secrets_anywhere),
		cmocka_unit_test(test_spec_ignores_routing),
		cmocka_unit_test(test_render_text),
		cmocka_unit_test(test_gitops_example),
		cmocka_unit_test(test_rollback_never_goes_forward),
		cmocka_unit_test(test_token_covers_routing),
		cmocka_unit_test(test_no_edge_file),
		cmocka_unit_test(test_name_collisions),
		cmocka_unit_test(test_secrets_label),
		cmocka_unit_test(test_secrets_label_lengths),
		cmocka_unit_test(test_ports_upstreams),
		cmocka_unit_test(test_exec_settings_in_token),
		cmocka_unit_test(test_exec_settings_traefik),
		cmocka_unit_test(test_exec_settings_as_written),
		cmocka_unit_test(test_exec_settings_render),
		cmocka_unit_test(test_exec_settings_observed_binary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
