/*
 * fuzz-labels: container labels as Docker reports them, through the
 * planner. Labels are set by whoever can run `docker run -l`, so every
 * value the planner reads from them (site, role, colour, replica,
 * version, spec, secrets, host port) is untrusted input of any length.
 *
 * The input is lines. A line without '=' starts a container of that
 * name; "KEY=VALUE" sets a label on the current one (a container named
 * shop-blue is made if none was started). A KEY without a dot is short
 * for io.bluegreen.KEY, so the fuzzer reaches the labels bluegreen reads
 * without first having to spell their prefix, and the values @spec,
 * @secrets, @db-spec and @db-secrets stand for the desired hashes (a
 * label must first match the spec before its secrets are compared, and no
 * mutation finds a SHA-256 by chance). The containers join a fixed
 * observation (the site's network and volumes exist) and a fixed
 * configuration: one nginx site with a secret variable and a service with
 * another, and a secrets key set, so io.bluegreen.secrets is compared
 * (the heap over-read of issue 9 lived there).
 *
 * Contract checked besides memory safety: rec_plan_build gives 0 and a
 * 16-character token, or an error; both renderings succeed.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"

#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char global_conf[] =
	"install_mode: staging\n"
	"state_dir: state\n"
	"edge:\n"
	"  kind: nginx\n"
	"  network: fz-edge\n"
	"  nginx:\n"
	"    conf_dir: nginx\n"
	"    reload: [\"true\"]\n"
	"    test: []\n";

static const char site_conf[] =
	"site: shop\n"
	"domains: [shop.example.com]\n"
	"preview: preview.shop.example.com\n"
	"image: fz/web:1\n"
	"port: 8080\n"
	"env:\n"
	"  NODE_ENV: production\n"
	"  API_TOKEN: fuzz-secret\n"
	"volumes: {uploads: /app/uploads}\n"
	"services:\n"
	"  db:\n"
	"    image: fz/db:1\n"
	"    env: {DB_PASSWORD: fuzz-db-secret}\n"
	"depends_on: [db]\n";

static char tmpdir[64];
static struct cfg *cfg;
/* The desired hashes, for the @ shorthands. */
static char want[4][65];
static const char *const want_names[4] = {"@spec", "@secrets", "@db-spec", "@db-secrets"};

static void write_file(const char *rel, const char *content)
{
	char *path = bg_xasprintf("%s/%s", tmpdir, rel);
	FILE *f = fopen(path, "w");
	if (!f || fputs(content, f) == EOF || fclose(f) != 0) {
		fprintf(stderr, "fuzz-labels: cannot write %s\n", path);
		abort();
	}
	free(path);
}

static void cleanup(void)
{
	static const char *const rel[] = {"sites/shop.conf", "global.conf", "sites", NULL};
	cfg_destroy(cfg);
	cfg = NULL;
	for (size_t i = 0; rel[i]; i++) {
		char *path = bg_xasprintf("%s/%s", tmpdir, rel[i]);
		remove(path);
		free(path);
	}
	rmdir(tmpdir);
}

static void base_world(struct obs *o);

/* The secrets key every observation here holds (set up once). */
static uint8_t secrets_key[32];

static void setup(void)
{
	struct bg_diag d;
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/bg-fuzz-labels.XXXXXX",
			t && *t && strlen(t) < 32 ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		abort();
	}
	char *sites = bg_xasprintf("%s/sites", tmpdir);
	if (mkdir(sites, 0700) != 0) {
		abort();
	}
	free(sites);
	write_file("global.conf", global_conf);
	write_file("sites/shop.conf", site_conf);
	bg_diag_init(&d);
	if (cfg_load(&cfg, tmpdir, 0, &d) != 0) {
		bg_diag_print(&d, stderr);
		abort();
	}
	for (size_t i = 0; i < sizeof(secrets_key); i++) {
		secrets_key[i] = (uint8_t)(i * 13 + 7);
	}
	atexit(cleanup);

	struct obs o;
	struct desired des;
	obs_init(&o);
	base_world(&o);
	obs_finish(&o);
	if (des_build(&des, cfg, &o, &d) != 0) {
		abort();
	}
	snprintf(want[0], sizeof(want[0]), "%s", des.sites[0].spec);
	snprintf(want[1], sizeof(want[1]), "%s", des.sites[0].secrets);
	snprintf(want[2], sizeof(want[2]), "%s", des.sites[0].services[0].spec);
	snprintf(want[3], sizeof(want[3]), "%s", des.sites[0].services[0].secrets);
	des_release(&des);
	obs_release(&o);
	bg_diag_release(&d);
}

static void base_world(struct obs *o)
{
	static const char *const nets[] = {"fz-edge", "shop-net"};
	static const char *const vols[] = {"shop-uploads", NULL};
	static const char *const refs[] = {"fz/web:1", "fz/db:1"};
	o->engine_version = bg_xstrdup("20.10.24");
	o->api_version = bg_xstrdup("1.41");
	o->edge_kind = bg_xstrdup("nginx");
	o->secrets.state = OBS_SECRETS_OK; /* the key is observed: secrets are compared */
	memcpy(o->secrets.key, secrets_key, sizeof(o->secrets.key));
	for (size_t i = 0; i < 2; i++) {
		struct obs_network *n = obs_network_add(o);
		n->name = bg_xstrdup(nets[i]);
		n->id = bg_xasprintf("net%zu", i);
		obs_labels_set(&n->labels, BG_LABEL_MANAGED, "true");
	}
	for (size_t i = 0; vols[i]; i++) {
		struct obs_volume *v = obs_volume_add(o);
		v->name = bg_xstrdup(vols[i]);
		obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
		obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	}
	for (size_t i = 0; i < 2; i++) {
		struct obs_image *im = obs_image_add(o);
		im->ref = bg_xstrdup(refs[i]);
		im->id = bg_xasprintf("sha256:%zu", i);
	}
}

static struct obs_container *container_new(struct obs *o, const char *name, size_t len)
{
	struct obs_container *c = obs_container_add(o);
	c->name = bg_xstrndup(name, len);
	c->id = bg_xasprintf("id%zu", o->n_containers);
	c->image = bg_xstrdup("fz/web:1");
	c->state = OBS_CSTATE_RUNNING;
	return c;
}

static void parse_input(struct obs *o, const char *s, size_t n)
{
	struct obs_container *c = NULL;
	size_t at = 0;
	while (at < n && o->n_containers < 64) {
		const char *line = s + at;
		const char *nl = memchr(line, '\n', n - at);
		size_t len = nl ? (size_t)(nl - line) : n - at;
		const char *eq = memchr(line, '=', len);
		at += len + 1;
		if (!eq) {
			c = container_new(o, line, len);
			continue;
		}
		if (!c) {
			c = container_new(o, "shop-blue", strlen("shop-blue"));
		}
		size_t kl = (size_t)(eq - line);
		char *key = memchr(line, '.', kl) ? bg_xstrndup(line, kl)
						  : bg_xasprintf("io.bluegreen.%.*s", (int)kl, line);
		char *val = bg_xstrndup(eq + 1, len - kl - 1);
		for (size_t i = 0; i < BG_ARRAY_SIZE(want); i++) {
			if (strcmp(val, want_names[i]) == 0) {
				free(val);
				val = bg_xstrdup(want[i]);
				break;
			}
		}
		obs_labels_set(&c->labels, key, val);
		free(key);
		free(val);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obs o;
	struct plan p;
	struct plan_args args;
	struct bg_diag d;
	struct bg_buf out = BG_BUF_INIT;

	if (!cfg) {
		setup();
	}
	if (size > 64 * 1024 || memchr(data, '\0', size)) {
		return 0; /* Docker labels are JSON strings: no NUL survives them. */
	}
	obs_init(&o);
	plan_args_init(&args);
	bg_diag_init(&d);
	base_world(&o);
	parse_input(&o, (const char *)data, size);
	obs_finish(&o);
	int err = rec_plan_build(&p, cfg, &o, &args, &d);
	if (err == 0) {
		if (strlen(p.token) != PLAN_TOKEN_LEN || plan_render_text(&p, cfg, false, &out) ||
				plan_render_json(&p, cfg, &out) || plan_render_summary(&p, &out)) {
			abort();
		}
	}
	plan_release(&p);
	bg_buf_release(&out);
	bg_diag_release(&d);
	plan_args_release(&args);
	obs_release(&o);
	return 0;
}
