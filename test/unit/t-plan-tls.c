/*
 * t-plan-tls: the edge reconciler and a site's certificate. From a real
 * configuration (cfg_load on a temp dir, nginx edge), real edge files
 * and real certificate files on disk, read by edge_observe as bluegreen
 * reads them: an HTTP-only file stays as it is while the certificate is
 * missing; when the files appear the plan rewrites the edge file and says
 * why in plain words ("serve HTTPS: certificate present"); when they go,
 * it goes back to HTTP only and says so; and any other change keeps the
 * usual reason. The planner is pure, so no proxy runs here.
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

static const char *global_conf =
	"install_mode: staging\n"
	"state_dir: state\n"
	"edge:\n"
	"  kind: nginx\n"
	"  network: bgt-edge\n"
	"  nginx:\n"
	"    conf_dir: nginx\n"
	"    reload: [\"true\"]\n"
	"    test: []\n"
	"    upstream: addresses\n";

struct fx {
	char *dir;
	struct cfg *cfg;
	struct obs obs;
};

static void fx_load(struct fx *f, unsigned hsts)
{
	struct bg_diag d;
	bg_diag_init(&d);
	if (!f->dir) {
		f->dir = th_tmpdir("plan-tls");
		th_write(f->dir, "global.conf", global_conf);
		th_write(f->dir, "nginx/.keep", "");
	}
	char *site = bg_xasprintf("site: shop\n"
			"domains: [shop.example.com]\n"
			"image: bluegreen-test/web:v1\n"
			"port: 8080\n"
			"tls: {mode: files, cert: tls/shop.crt, key: tls/shop.key, hsts: %u}\n",
			hsts);
	th_write(f->dir, "sites/shop.conf", site);
	free(site);
	int err = cfg_load(&f->cfg, f->dir, 0, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
}

/* The observation: the image, the edge network, blue v1 running with the
 * desired spec at 10.0.0.2, and whatever the edge file and the
 * certificate files on disk say (edge_observe). */
static void fx_observe(struct fx *f)
{
	struct bg_diag d;
	bg_diag_init(&d);
	obs_init(&f->obs);
	f->obs.engine_version = bg_xstrdup("20.10.24");
	f->obs.api_version = bg_xstrdup("1.41");
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
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_ROLE, "colour");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, des.sites[0].spec);
	obs_labels_set(&c->labels, BG_LABEL_COLOUR, "blue");
	obs_labels_set(&c->labels, BG_LABEL_REPLICA, "1");
	obs_labels_set(&c->labels, BG_LABEL_VERSION, "1");
	c->nets = bg_xcalloc(1, sizeof(*c->nets));
	c->nets[0].network = bg_xstrdup("bgt-edge");
	c->nets[0].ip = bg_xstrdup("10.0.0.2");
	c->n_nets = 1;
	des_release(&des);
	struct obs_hist_site *h = obs_hist_add(&f->obs);
	h->site = bg_xstrdup("shop");
	h->last_version = 1;
	assert_int_equal(edge_observe(f->cfg, &f->obs, &d), 0);
	obs_finish(&f->obs);
	bg_diag_release(&d);
}

static void fx_unobserve(struct fx *f)
{
	obs_release(&f->obs);
	cfg_destroy(f->cfg);
	f->cfg = NULL;
}

/* Write the edge file bluegreen writes for blue v1, HTTPS or not. */
static void write_edge(struct fx *f, bool tls_ready)
{
	struct bg_strv lu;
	struct bg_buf b = BG_BUF_INIT;
	bg_strv_init(&lu);
	bg_strv_push(&lu, "10.0.0.2:8080");
	struct edge_view v = {.site = &f->cfg->sites[0], .live = "blue", .live_version = 1,
			.live_upstreams = &lu, .tls_ready = tls_ready};
	assert_int_equal(edge_for(f->cfg)->render(f->cfg, &v, &b), 0);
	char *path = edge_for(f->cfg)->path(f->cfg, "shop");
	assert_int_equal(bg_file_write_atomic(path, NULL, b.data, b.len, 0644), 0);
	free(path);
	/* The nginx file's colours are its flags (issue 11): blue live. */
	char *flags = bg_xasprintf("%s/.bluegreen-live", f->cfg->g.nginx.conf_dir);
	th_write(flags, "shop.live-blue", "");
	free(flags);
	bg_buf_release(&b);
	bg_strv_release(&lu);
}

static void write_cert(struct fx *f)
{
	/* Never parsed by the planner: present as regular files is the test. */
	th_write(f->dir, "tls/shop.crt", "-----BEGIN CERTIFICATE-----\n");
	th_write(f->dir, "tls/shop.key", "-----BEGIN PRIVATE KEY-----\n");
}

/* The reasons of the plan's edge actions, one a line ("" when none). */
static char *edge_reasons(struct fx *f)
{
	struct plan p;
	struct plan_args none;
	struct bg_diag d;
	bg_diag_init(&d);
	plan_args_init(&none);
	int err = rec_plan_build(&p, f->cfg, &f->obs, &none, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_adds(&b, "");
	for (size_t i = 0; i < p.n_actions; i++) {
		const struct plan_action *a = &p.actions[i];
		if (a->kind == PLAN_KIND_EDGE) {
			bg_buf_addf(&b, "%s: %s\n", plan_op_name(a->op), a->reason);
		}
	}
	plan_release(&p);
	plan_args_release(&none);
	bg_diag_release(&d);
	return bg_buf_detach(&b, NULL);
}

static void expect_reasons(struct fx *f, const char *want)
{
	fx_observe(f);
	char *got = edge_reasons(f);
	assert_string_equal(got, want);
	free(got);
	fx_unobserve(f);
}

static void test_certificate_comes_and_goes(void **state)
{
	struct fx f = {0};
	char *p;

	/* No certificate: the HTTP-only file is what bluegreen writes. */
	fx_load(&f, 0);
	write_edge(&f, false);
	expect_reasons(&f, "");

	/* The operator puts the files in place: HTTPS, said plainly. */
	fx_load(&f, 0);
	write_cert(&f);
	expect_reasons(&f, "write: serve HTTPS: certificate present\n");

	/* Written: nothing more to do. */
	fx_load(&f, 0);
	write_edge(&f, true);
	expect_reasons(&f, "");

	/* Another change (hsts) with the certificate there: the usual reason. */
	fx_load(&f, 600);
	expect_reasons(&f, "write: edge file differs from what bluegreen writes (edited by "
			"hand, or domains/preview changed in the site file)\n");

	/* The key goes away: back to HTTP only rather than a file nginx refuses. */
	fx_load(&f, 0);
	p = bg_xasprintf("%s/tls/shop.key", f.dir);
	assert_int_equal(unlink(p), 0);
	free(p);
	expect_reasons(&f, "write: serve HTTP only: the certificate is missing\n");

	th_rm_rf(f.dir);
	free(f.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_certificate_comes_and_goes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
