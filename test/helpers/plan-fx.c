/* plan-fx: the planner fixture of the plan unit tests (see plan-fx.h). */
#include "bg.h"
#include "plan-fx.h"

#include "desired.h"
#include "edge.h"
#include "rec.h"

char *pfx_global_conf(const char *mode)
{
	return bg_xasprintf("install_mode: %s\n"
			"state_dir: state\n"
			"edge:\n"
			"  kind: nginx\n"
			"  network: bgt-edge\n"
			"  nginx:\n"
			"    conf_dir: nginx\n"
			"    reload: [\"true\"]\n"
			"    test: []\n"
			"    upstream: addresses\n", mode);
}

void pfx_load(struct pfx *f, const char *tag, const char *global_conf, const char *site_conf,
		const char *const *refs, size_t n_refs)
{
	struct bg_diag d;
	bg_diag_init(&d);
	f->dir = th_tmpdir(tag);
	th_write(f->dir, "global.conf", global_conf);
	th_write(f->dir, "sites/shop.conf", site_conf);
	int err = cfg_load(&f->cfg, f->dir, 0, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
	obs_init(&f->obs);
	f->obs.engine_version = bg_xstrdup("20.10.24");
	f->obs.api_version = bg_xstrdup("1.41");
	f->obs.edge_kind = bg_xstrdup("nginx");
	for (size_t i = 0; i < n_refs; i++) {
		struct obs_image *im = obs_image_add(&f->obs);
		im->ref = bg_xstrdup(refs[i]);
		im->id = bg_xasprintf("sha256:%zu%zu%zu", i, i, i);
	}
}

void pfx_release(struct pfx *f)
{
	obs_release(&f->obs);
	cfg_destroy(f->cfg);
	th_rm_rf(f->dir);
	free(f->dir);
}

char *pfx_spec(struct pfx *f, int service)
{
	struct desired des;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(des_build(&des, f->cfg, &f->obs, &d), 0);
	char *spec = bg_xstrdup(service < 0 ? des.sites[0].spec
			: des.sites[0].services[service].spec);
	des_release(&des);
	bg_diag_release(&d);
	return spec;
}

void pfx_add_network(struct pfx *f, const char *name)
{
	size_t i = f->obs.n_networks;
	struct obs_network *n = obs_network_add(&f->obs);
	n->name = bg_xstrdup(name);
	n->id = bg_xasprintf("net%zu", i);
	obs_labels_set(&n->labels, BG_LABEL_MANAGED, "true");
}

void pfx_add_shop_networks(struct pfx *f)
{
	pfx_add_network(f, "bgt-edge");
	pfx_add_network(f, "shop-net");
}

struct obs_container *pfx_add_container(struct pfx *f, const char *name, const char *role,
		const char *colour, unsigned replica, const char *spec, unsigned version,
		const char *state, const char *ip)
{
	struct obs_container *c = obs_container_add(&f->obs);
	char buf[16];
	c->name = bg_xstrdup(name);
	c->id = bg_xasprintf("id-%s", name);
	c->image = bg_xstrdup("bluegreen-test/web:v1");
	c->state = obs_cstate_parse(state);
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_ROLE, role);
	obs_labels_set(&c->labels, BG_LABEL_SPEC, spec);
	if (colour) {
		obs_labels_set(&c->labels, BG_LABEL_COLOUR, colour);
		snprintf(buf, sizeof(buf), "%u", replica);
		obs_labels_set(&c->labels, BG_LABEL_REPLICA, buf);
		snprintf(buf, sizeof(buf), "%u", version);
		obs_labels_set(&c->labels, BG_LABEL_VERSION, buf);
	} else {
		obs_labels_set(&c->labels, BG_LABEL_SERVICE, "db");
	}
	if (ip) {
		c->nets = bg_xcalloc(1, sizeof(*c->nets));
		c->nets[0].network = bg_xstrdup("bgt-edge");
		c->nets[0].ip = bg_xstrdup(ip);
		c->n_nets = 1;
	}
	return c;
}

void pfx_add_edge(struct pfx *f, const char *live, const char *preview, unsigned version,
		const char *upstream, const char *preview_upstream)
{
	struct bg_strv lu, pu;
	struct bg_buf content = BG_BUF_INIT;
	char sha[65];
	bg_strv_init(&lu);
	bg_strv_init(&pu);
	if (upstream) {
		bg_strv_push(&lu, upstream);
	}
	if (preview_upstream) {
		bg_strv_push(&pu, preview_upstream);
	}
	struct edge_view v = {
		.site = &f->cfg->sites[0], .live = live, .live_version = version,
		.preview = preview, .live_upstreams = &lu, .preview_upstreams = &pu,
	};
	assert_int_equal(edge_nginx_impl.render(f->cfg, &v, &content), 0);
	bg_sha256_hex(content.data, content.len, sha);
	struct obs_edge *e = obs_edge_add(&f->obs);
	e->site = bg_xstrdup("shop");
	e->path = edge_nginx_impl.path(f->cfg, "shop");
	e->exists = true;
	e->live = bg_xstrdup(live);
	e->preview = bg_xstrdup(preview);
	e->content_sha = bg_xstrdup(sha);
	bg_strv_copy(&e->upstreams, &lu);
	bg_strv_release(&lu);
	bg_strv_release(&pu);
	bg_buf_release(&content);
}

void pfx_plan_ok(struct pfx *f, const struct plan_args *args, struct plan *p)
{
	struct bg_diag d;
	struct plan_args none;
	bg_diag_init(&d);
	plan_args_init(&none);
	obs_finish(&f->obs);
	int err = rec_plan_build(p, f->cfg, &f->obs, args ? args : &none, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	plan_args_release(&none);
	bg_diag_release(&d);
}

char *pfx_ops(const struct plan *p, bool only_ce)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (only_ce && a->kind != PLAN_KIND_CONTAINER && a->kind != PLAN_KIND_EDGE) {
			continue;
		}
		bg_buf_addf(&b, "%s %s %s\n", plan_op_name(a->op), plan_kind_name(a->kind),
				a->kind == PLAN_KIND_EDGE ? "EDGE" : a->name);
	}
	return bg_buf_detach(&b, NULL);
}
