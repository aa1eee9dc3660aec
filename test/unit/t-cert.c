/*
 * t-cert: the certificate reconciler without a network. A real
 * configuration (cfg_load on a temp dir, nginx edge, a site with tls
 * auto), real certificates made by openssl laid out as certbot lays them
 * out (live/ links into archive/), read by the reconciler's observe: the
 * plan asks for a certificate when there is none, when its names are
 * not the site's, or when fewer than acme.renew_days days are left, in
 * plain words, as the last step; the certbot command is part of the
 * token; a live link that leads out of the site's archive is never
 * read; the facts survive the snapshot's JSON; Traefik plans none.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "edge.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "th.h"

#include <unistd.h>

struct fx {
	char *dir;
	struct cfg *cfg;
	struct obs obs;
	struct plan plan;
};

static void fx_load(struct fx *f, const char *edge, unsigned renew_days, const char *certbot)
{
	struct bg_diag d;
	bg_diag_init(&d);
	if (!f->dir) {
		f->dir = th_tmpdir("cert");
		th_write(f->dir, "nginx/.keep", "");
	}
	char *global = bg_xasprintf("install_mode: staging\n"
			"state_dir: state\n"
			"edge:\n"
			"  kind: %s\n"
			"  network: bgt-edge\n"
			"  nginx:\n"
			"    conf_dir: nginx\n"
			"    reload: [\"true\"]\n"
			"    test: []\n"
			"    upstream: addresses\n"
			"  traefik:\n"
			"    dynamic_dir: nginx\n"
			"    certresolver: le\n"
			"acme:\n"
			"  email: ops@example.com\n"
			"  dir: acme\n"
			"  certbot: [%s]\n"
			"  renew_days: %u\n", edge, certbot, renew_days);
	th_write(f->dir, "global.conf", global);
	free(global);
	th_write(f->dir, "sites/shop.conf", "site: shop\n"
			"domains: [www.shop.example.com, shop.example.com]\n"
			"image: bluegreen-test/web:v1\n"
			"port: 8080\n"
			"tls: {mode: auto}\n");
	int err = cfg_load(&f->cfg, f->dir, 0, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
}

/* blue v1 running with the desired spec, then every reconciler's file observe. */
static void fx_observe(struct fx *f)
{
	struct bg_diag d;
	bg_diag_init(&d);
	obs_init(&f->obs);
	struct obs_image *im = obs_image_add(&f->obs);
	im->ref = bg_xstrdup("bluegreen-test/web:v1");
	im->id = bg_xstrdup("sha256:111");
	struct obs_network *n = obs_network_add(&f->obs);
	n->name = bg_xstrdup("bgt-edge");
	n->id = bg_xstrdup("net0");
	obs_labels_set(&n->labels, BG_LABEL_MANAGED, "true");
	obs_finish(&f->obs);
	struct desired des;
	assert_int_equal(des_build(&des, f->cfg, &f->obs, &d), 0);
	struct obs_container *c = obs_container_add(&f->obs);
	c->name = bg_xstrdup("shop-blue");
	c->id = bg_xstrdup("id-shop-blue");
	c->image = bg_xstrdup("bluegreen-test/web:v1");
	c->state = obs_cstate_parse("running");
	const char *labels[][2] = {{BG_LABEL_MANAGED, "true"}, {BG_LABEL_SITE, "shop"},
		{BG_LABEL_ROLE, "colour"}, {BG_LABEL_SPEC, des.sites[0].spec},
		{BG_LABEL_COLOUR, "blue"}, {BG_LABEL_REPLICA, "1"}, {BG_LABEL_VERSION, "1"}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(labels); i++) {
		obs_labels_set(&c->labels, labels[i][0], labels[i][1]);
	}
	c->nets = bg_xcalloc(1, sizeof(*c->nets));
	c->nets[0].network = bg_xstrdup("bgt-edge");
	c->nets[0].ip = bg_xstrdup("10.0.0.2");
	c->n_nets = 1;
	des_release(&des);
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = 1;
	assert_int_equal(edge_observe(f->cfg, &f->obs, &d), 0);
	assert_int_equal(rec_cert_impl.observe(NULL, f->cfg, &f->obs, &d), 0);
	obs_finish(&f->obs);
	bg_diag_release(&d);
	struct plan_args none;
	plan_args_init(&none);
	bg_diag_init(&d);
	assert_int_equal(rec_plan_build(&f->plan, f->cfg, &f->obs, &none, &d), 0);
	plan_args_release(&none);
	bg_diag_release(&d);
}

static void fx_release(struct fx *f)
{
	plan_release(&f->plan);
	obs_release(&f->obs);
	cfg_destroy(f->cfg);
	f->cfg = NULL;
}

/* The plan's certificate step ("op kind name: reason (phase N)"), "" if none. */
static char *cert_step(const struct plan *p)
{
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_KIND_CERT) {
			return bg_xasprintf("%s %s %s: %s (phase %u)", plan_op_name(a->op),
					plan_kind_name(a->kind), a->name, a->reason, a->phase);
		}
	}
	return bg_xstrdup("");
}

static void run_ok(char *const argv[])
{
	struct th_run r;
	int st = th_run_argv(argv, NULL, &r);
	if (st) {
		th_print_error("%s: %s%s\n", argv[0], r.out, r.err);
	}
	assert_int_equal(st, 0);
	th_run_release(&r);
}

/*
 * A self-signed certificate for names, valid days, as certbot's Nth
 * version: archive/bluegreen-shop/fullchainN.pem, and the live link
 * (relative, as certbot makes it) pointing at it.
 */
static void write_cert(struct fx *f, const char *names, int days, int n)
{
	char *archive = bg_xasprintf("%s/acme/certbot/archive/bluegreen-shop", f->dir);
	char *live = bg_xasprintf("%s/acme/certbot/live/bluegreen-shop", f->dir);
	th_write(archive, ".keep", "");
	th_write(live, ".keep", "");
	char *crt = bg_xasprintf("%s/fullchain%d.pem", archive, n);
	char *key = bg_xasprintf("%s/privkey%d.pem", archive, n);
	char *san = bg_xasprintf("subjectAltName=%s", names);
	char *d = bg_xasprintf("%d", days);
	char *argv[] = {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
		key, "-out", crt, "-days", d, "-subj", "/CN=shop", "-addext", san, NULL};
	run_ok(argv);
	const char *files[] = {"fullchain", "privkey"};
	for (size_t i = 0; i < 2; i++) {
		char *link = bg_xasprintf("%s/%s.pem", live, files[i]);
		char *target = bg_xasprintf("../../archive/bluegreen-shop/%s%d.pem", files[i], n);
		unlink(link);
		assert_int_equal(symlink(target, link), 0);
		free(link);
		free(target);
	}
	free(d);
	free(san);
	free(key);
	free(crt);
	free(live);
	free(archive);
}

static bool has_fact(const struct plan *p, const char *prefix)
{
	for (size_t i = 0; i < p->facts.n; i++) {
		if (bg_str_has_prefix(p->facts.v[i], prefix)) {
			return true;
		}
	}
	return false;
}

static void test_request_then_nothing_then_renew(void **state)
{
	(void)state;
	struct fx f = {0};
	char *s;

	/* None yet: requested for every domain, after every edge step. */
	fx_load(&f, "nginx", 30, "certbot");
	fx_observe(&f);
	s = cert_step(&f.plan);
	assert_string_equal(s, "issue certificate bluegreen-shop: certificate requested for "
			"shop.example.com, www.shop.example.com via ACME http-01 (phase 3)");
	free(s);
	/* The command apply runs is in the token, whole. */
	assert_true(has_fact(&f.plan, "certificate shop exec env= argv=[\"certbot\",\"certonly\","
			"\"--non-interactive\",\"--agree-tos\",\"-m\",\"ops@example.com\",\"--server\","
			"\"https://acme-v02.api.letsencrypt.org/directory\",\"--webroot\",\"-w\""));
	char token[PLAN_TOKEN_LEN + 1];
	memcpy(token, f.plan.token, sizeof(token));
	fx_release(&f);
	fx_load(&f, "nginx", 30, "/usr/local/bin/certbot");
	fx_observe(&f);
	assert_string_not_equal(token, f.plan.token);
	fx_release(&f);

	/* Issued, for the right names, 90 days: nothing to do. */
	write_cert(&f, "DNS:shop.example.com,DNS:www.shop.example.com", 90, 1);
	fx_load(&f, "nginx", 30, "certbot");
	fx_observe(&f);
	s = cert_step(&f.plan);
	assert_string_equal(s, "");
	free(s);
	const struct obs_cert *c = obs_cert_find(&f.obs, "shop");
	assert_non_null(c);
	assert_true(c->exists);
	assert_null(c->error);
	assert_int_equal(c->names.n, 2);
	assert_true(c->days_left == 89 || c->days_left == 90);
	assert_non_null(c->serial);
	fx_release(&f);

	/* renew_days above what is left: renewed, in days. */
	fx_load(&f, "nginx", 100, "certbot");
	fx_observe(&f);
	s = cert_step(&f.plan);
	th_assert_contains(s, "issue certificate bluegreen-shop: renew: ");
	th_assert_contains(s, " days left (phase 3)");
	free(s);
	fx_release(&f);

	/* Another set of names: requested again, saying what it has. */
	write_cert(&f, "DNS:shop.example.com", 90, 2);
	fx_load(&f, "nginx", 30, "certbot");
	fx_observe(&f);
	s = cert_step(&f.plan);
	assert_string_equal(s, "issue certificate bluegreen-shop: certificate requested for "
			"shop.example.com, www.shop.example.com via ACME http-01 (the current one "
			"is for shop.example.com) (phase 3)");
	free(s);
	fx_release(&f);
	th_rm_rf(f.dir);
	free(f.dir);
}

/* live/ pointing anywhere but the site's archive is never read. */
static void test_link_out_of_archive_is_refused(void **state)
{
	(void)state;
	struct fx f = {0};
	fx_load(&f, "nginx", 30, "certbot");
	fx_release(&f);
	write_cert(&f, "DNS:shop.example.com,DNS:www.shop.example.com", 90, 1);
	th_write(f.dir, "elsewhere/fullchain1.pem", "");
	char *link = bg_xasprintf("%s/acme/certbot/live/bluegreen-shop/fullchain.pem", f.dir);
	const char *targets[] = {"../../../../elsewhere/fullchain1.pem", "/etc/passwd",
		"../../archive/bluegreen-shop/../../../elsewhere/fullchain1.pem"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(targets); i++) {
		unlink(link);
		assert_int_equal(symlink(targets[i], link), 0);
		fx_load(&f, "nginx", 30, "certbot");
		fx_observe(&f);
		const struct obs_cert *c = obs_cert_find(&f.obs, "shop");
		assert_non_null(c);
		assert_non_null(c->error);
		th_assert_contains(c->error, "outside");
		char *s = cert_step(&f.plan);
		th_assert_contains(s, "certificate requested again for shop.example.com, "
				"www.shop.example.com via ACME http-01: the current one cannot be read");
		free(s);
		fx_release(&f);
	}
	free(link);
	th_rm_rf(f.dir);
	free(f.dir);
}

/* The facts go through the snapshot unchanged, and plan the same. */
static void test_snapshot_round_trip(void **state)
{
	(void)state;
	struct fx f = {0};
	fx_load(&f, "nginx", 30, "certbot");
	fx_release(&f);
	write_cert(&f, "DNS:shop.example.com,DNS:www.shop.example.com", 20, 1);
	fx_load(&f, "nginx", 30, "certbot");
	fx_observe(&f);
	struct bg_buf a = BG_BUF_INIT, b = BG_BUF_INIT;
	assert_int_equal(obs_to_json(&f.obs, &a), 0);
	th_assert_contains(a.data, "\"certificates\"");
	th_assert_contains(a.data, "\"tls_ready\": true");
	struct obs back;
	struct bg_diag d;
	obs_init(&back);
	bg_diag_init(&d);
	assert_int_equal(obs_from_json(&back, a.data, a.len, &d), 0);
	assert_int_equal(obs_to_json(&back, &b), 0);
	assert_string_equal(a.data, b.data);
	struct plan p;
	struct plan_args none;
	plan_args_init(&none);
	assert_int_equal(rec_plan_build(&p, f.cfg, &back, &none, &d), 0);
	assert_string_equal(p.token, f.plan.token);
	char *s = cert_step(&p);
	th_assert_contains(s, "renew: ");
	free(s);
	plan_release(&p);
	plan_args_release(&none);
	bg_diag_release(&d);
	obs_release(&back);
	bg_buf_release(&a);
	bg_buf_release(&b);
	fx_release(&f);
	th_rm_rf(f.dir);
	free(f.dir);
}

/* Traefik is its own ACME client: nothing observed, nothing planned. */
static void test_traefik_plans_none(void **state)
{
	(void)state;
	struct fx f = {0};
	fx_load(&f, "traefik", 30, "certbot");
	fx_observe(&f);
	assert_int_equal(f.obs.n_certs, 0);
	char *s = cert_step(&f.plan);
	assert_string_equal(s, "");
	free(s);
	fx_release(&f);
	th_rm_rf(f.dir);
	free(f.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_then_nothing_then_renew),
		cmocka_unit_test(test_link_out_of_archive_is_refused),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_traefik_plans_none),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
