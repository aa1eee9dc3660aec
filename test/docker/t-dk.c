/*
 * t-dk: the Docker client against the real engine (BG_DOCKER_SOCK, default
 * /var/run/docker.sock). Needs the images of test/images/build.sh
 * (bluegreen-test/web:v1 and :hc; th_docker_preamble builds them) and
 * python3 for test/fixtures/docker/fake-registry.py (the pull tests use it
 * instead of a network). Every object is named bgt-<run id>-* and labelled
 * bluegreen.test=<run id>; managed ones also carry io.bluegreen.site=<site>
 * and are removed by site in teardown, unmanaged ones by name. Nothing
 * else on the engine is touched.
 */
#include "bg.h"
#include "dk.h"
#include "rt.h"
#include "bg-log.h"
#include "th.h"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static struct dk_client *dk;
static struct rt *rt; /* the same engine through the runtime interface */
static char site[32];
static char *tmpdir;

/* "bgt-<run>-<what>", a new string. */
static char *tname(const char *what)
{
	return bg_xasprintf("bgt-%s-%s", th_run_id(), what);
}

static void labels_ours(struct obs_labels *l)
{
	memset(l, 0, sizeof(*l));
	obs_labels_set(l, BG_LABEL_MANAGED, "true");
	obs_labels_set(l, BG_LABEL_SITE, site);
	obs_labels_set(l, "bluegreen.test", th_run_id());
}

/* `docker ARGS...` must succeed; its trimmed stdout, a new string. */
static char *cli(const char *arg0, ...)
{
	struct bg_strv argv;
	struct th_run r;
	va_list ap;

	bg_strv_init(&argv);
	bg_strv_push(&argv, "docker");
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&argv, a);
	}
	va_end(ap);
	th_run_argv(argv.v, NULL, &r);
	if (r.status != 0) {
		fail_msg("docker %s failed: %s", arg0, r.err);
	}
	bg_strv_release(&argv);
	char *out = r.out;
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' ')) {
		out[--n] = '\0';
	}
	free(r.err);
	return out;
}

static bool cli_ok(const char *arg0, ...)
{
	struct bg_strv argv;
	struct th_run r;
	va_list ap;

	bg_strv_init(&argv);
	bg_strv_push(&argv, "docker");
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&argv, a);
	}
	va_end(ap);
	th_run_argv(argv.v, NULL, &r);
	bg_strv_release(&argv);
	th_run_release(&r);
	return r.status == 0;
}

static const char *first_msg(const struct bg_diag *d)
{
	return d->n ? d->items[0].msg : "(no message)";
}

static int group_setup(void **state)
{
	snprintf(site, sizeof(site), "%s-dk", th_run_id());
	tmpdir = th_tmpdir("dk");
	assert_int_equal(dk_client_create(&dk, th_docker_sock()), 0);
	assert_int_equal(rt_docker_create(&rt, th_docker_sock()), 0);
	return 0;
}

static int group_teardown(void **state)
{
	const char *rogue[] = {"rogue", "rogue-stopped"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(rogue); i++) {
		char *n = tname(rogue[i]);
		cli_ok("rm", "-f", n, NULL);
		free(n);
	}
	char *n = tname("rogue-net");
	cli_ok("network", "rm", n, NULL);
	free(n);
	n = tname("rogue-vol");
	cli_ok("volume", "rm", "-f", n, NULL);
	free(n);
	th_docker_cleanup_site(site);
	dk_client_destroy(dk);
	rt_destroy(rt);
	th_rm_rf(tmpdir);
	free(tmpdir);
	return 0;
}

/* ---- tests ---- */

static void test_version(void **state)
{
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(dk_client_negotiate(dk, &d), 0);
	char *engine = cli("version", "--format", "{{.Server.Version}}", NULL);
	char *api = cli("version", "--format", "{{.Server.APIVersion}}", NULL);
	assert_string_equal(dk_client_engine_version(dk), engine);
	/* What the engine speaks, capped at what we speak. */
	unsigned maj, min;
	assert_int_equal(sscanf(api, "%u.%u", &maj, &min), 2);
	if (maj == 1 && min > 47) {
		assert_string_equal(dk_client_api_version(dk), DK_API_MAX);
	} else {
		assert_string_equal(dk_client_api_version(dk), api);
	}
	char *url = dk_client_url(dk, "/containers/json");
	char *want = bg_xasprintf("http://localhost/v%s/containers/json",
			dk_client_api_version(dk));
	assert_string_equal(url, want);
	free(url);
	free(want);
	/* A raw request: /_ping answers "OK", which is not JSON. */
	long status = 0;
	struct json_object *out = (void *)1;
	assert_int_equal(dk_request(dk, "GET", "/_ping", NULL, &status, &out, &d), 0);
	assert_int_equal(status, 200);
	assert_null(out);
	assert_int_equal(d.n, 0);
	free(engine);
	free(api);
	bg_diag_release(&d);
}

static void test_create_and_observe(void **state)
{
	char *net = tname("net"), *vol = tname("data"), *name = tname("web-blue-1");
	char *id = NULL, *image_id = NULL;
	struct obs_labels l;
	struct bg_diag d;
	struct obs o;

	bg_diag_init(&d);
	labels_ours(&l);
	obs_labels_set(&l, BG_LABEL_COLOUR, "blue");
	obs_labels_set(&l, BG_LABEL_ROLE, "colour");
	obs_labels_set(&l, BG_LABEL_VERSION, "7");
	obs_labels_set(&l, BG_LABEL_REPLICA, "1");

	struct obs_labels nl;
	labels_ours(&nl);
	assert_int_equal(dk_network_create(dk, net, &nl, false, &d), 0);
	assert_int_equal(dk_network_create(dk, net, &nl, false, &d), 0); /* idempotent */
	assert_int_equal(dk_volume_create(dk, vol, &nl, &d), 0);
	assert_int_equal(dk_volume_create(dk, vol, &nl, &d), 0);
	assert_int_equal(d.n, 0);

	char *cmd[] = {"/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www", NULL};
	char *env[] = {"GREETING=hello", NULL};
	char *aliases[] = {"web", "web-blue", NULL};
	struct dk_mount m = {.volume = vol, .target = "/data"};
	struct dk_container_spec spec = {
		.name = name, .image = "bluegreen-test/web:v1", .cmd = cmd, .env = env,
		.labels = &l, .network = net, .aliases = aliases, .mounts = &m,
		.n_mounts = 1, .restart_policy = "unless-stopped",
		.stop_signal = "SIGTERM", .stop_timeout_s = 3, .expose_port = 8080,
	};
	assert_int_equal(dk_container_create(dk, &spec, &id, &d), 0);
	assert_non_null(id);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(dk_container_start(dk, id, &d), 0);
	assert_int_equal(d.n, 0);

	/* The engine has what the spec said. */
	char *got = cli("inspect", "--format",
			"{{.Config.StopSignal}} {{.Config.StopTimeout}} "
			"{{.HostConfig.RestartPolicy.Name}} {{json .Config.ExposedPorts}} "
			"{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}}{{end}}",
			id, NULL);
	char *want = bg_xasprintf("SIGTERM 3 unless-stopped {\"8080/tcp\":{}} "
			"volume:%s:/data", vol);
	assert_string_equal(got, want);
	free(got);
	free(want);
	char *tmpl = bg_xasprintf("{{json (index .NetworkSettings.Networks \"%s\").Aliases}}", net);
	got = cli("inspect", "--format", tmpl, id, NULL);
	th_assert_contains(got, "\"web\"");
	th_assert_contains(got, "\"web-blue\"");
	free(got);
	free(tmpl);
	got = cli("inspect", "--format", "{{json .Config.Env}}", id, NULL);
	th_assert_contains(got, "\"GREETING=hello\"");
	free(got);

	/* Observation sees the three of them, with the right facts. */
	obs_init(&o);
	assert_int_equal(rt_observe(rt, &o, RT_OBSERVE_ALL, &d), 0);
	assert_int_equal(d.n, 0);
	obs_finish(&o);
	assert_non_null(o.engine_version);
	assert_string_equal(o.api_version, dk_client_api_version(dk));
	const struct obs_container *c = obs_container_find(&o, name);
	assert_non_null(c);
	assert_string_equal(c->id, id);
	assert_string_equal(c->image, "bluegreen-test/web:v1");
	assert_int_equal(dk_image_id(dk, "bluegreen-test/web:v1", &image_id, &d), 0);
	assert_non_null(image_id);
	assert_string_equal(c->image_id, image_id);
	char *cli_image = cli("image", "inspect", "--format", "{{.Id}}",
			"bluegreen-test/web:v1", NULL);
	assert_string_equal(image_id, cli_image);
	free(cli_image);
	assert_int_equal(c->state, OBS_CSTATE_RUNNING);
	assert_int_equal(c->health, OBS_HEALTH_NONE); /* web:v1 has no HEALTHCHECK */
	assert_string_equal(c->site, site);
	assert_string_equal(c->colour, "blue");
	assert_int_equal(c->version, 7);
	assert_int_equal(c->replica, 1);
	tmpl = bg_xasprintf("{{(index .NetworkSettings.Networks \"%s\").IPAddress}}", net);
	char *ip = cli("inspect", "--format", tmpl, id, NULL);
	assert_true(strlen(ip) >= 7);
	assert_string_equal(obs_container_ip(c, net), ip);
	free(ip);
	free(tmpl);
	const struct obs_network *n = obs_network_find(&o, net);
	assert_non_null(n);
	assert_string_equal(obs_labels_get(&n->labels, BG_LABEL_SITE), site);
	char *net_id = cli("network", "inspect", "--format", "{{.Id}}", net, NULL);
	assert_string_equal(n->id, net_id);
	free(net_id);
	const struct obs_volume *v = obs_volume_find(&o, vol);
	assert_non_null(v);
	assert_string_equal(obs_labels_get(&v->labels, "bluegreen.test"), th_run_id());
	/* Only managed objects, whoever else runs things on this engine. */
	for (size_t i = 0; i < o.n_containers; i++) {
		assert_string_equal(obs_labels_get(&o.containers[i].labels,
				BG_LABEL_MANAGED), "true");
	}

	/* dk_container_inspect gives the same facts. */
	struct obs_container one;
	memset(&one, 0, sizeof(one));
	assert_int_equal(dk_container_inspect(dk, name, &one, &d), 0);
	assert_string_equal(one.id, id);
	assert_string_equal(one.image_id, image_id);
	obs_container_release(&one);

	bool exists = false, managed = false;
	assert_int_equal(dk_name_taken(dk, "network", net, &exists, &managed, &d), 0);
	assert_true(exists && managed);
	assert_int_equal(dk_name_taken(dk, "volume", vol, &exists, &managed, &d), 0);
	assert_true(exists && managed);
	assert_int_equal(dk_name_taken(dk, "container", name, &exists, &managed, &d), 0);
	assert_true(exists && managed);

	obs_release(&o);
	obs_labels_release(&l);
	obs_labels_release(&nl);
	free(image_id);
	free(id);
	free(net);
	free(vol);
	free(name);
	bg_diag_release(&d);
}

static void test_unmanaged(void **state)
{
	char *rogue = tname("rogue"), *rnet = tname("rogue-net"), *rvol = tname("rogue-vol");
	char *label = bg_xasprintf("bluegreen.test=%s", th_run_id());
	struct obs_container c;
	struct bg_diag d;
	struct obs o;
	bool exists = true, managed = true;

	bg_diag_init(&d);
	free(cli("run", "-d", "--name", rogue, "--label", label, "bluegreen-test/web:v1", NULL));
	free(cli("network", "create", "--label", label, rnet, NULL));
	free(cli("volume", "create", "--label", label, rvol, NULL));

	/* Never observed. */
	obs_init(&o);
	assert_int_equal(rt_observe(rt, &o, RT_OBSERVE_ALL, &d), 0);
	obs_finish(&o);
	assert_null(obs_container_find(&o, rogue));
	assert_null(obs_network_find(&o, rnet));
	assert_null(obs_volume_find(&o, rvol));
	obs_release(&o);

	/* Its name is known to be taken, and that is all. */
	assert_int_equal(dk_name_taken(dk, "container", rogue, &exists, &managed, &d), 0);
	assert_true(exists);
	assert_false(managed);
	assert_int_equal(dk_name_taken(dk, "network", rnet, &exists, &managed, &d), 0);
	assert_true(exists);
	assert_false(managed);
	assert_int_equal(dk_name_taken(dk, "volume", rvol, &exists, &managed, &d), 0);
	assert_true(exists);
	assert_false(managed);
	/* Docker's name filter matches substrings: we compare exactly. */
	char *prefix = bg_xstrndup(rogue, strlen(rogue) - 1);
	assert_int_equal(dk_name_taken(dk, "container", prefix, &exists, &managed, &d), 0);
	assert_false(exists);
	assert_int_equal(dk_name_taken(dk, "network", "bgt", &exists, &managed, &d), 0);
	assert_false(exists);
	free(prefix);
	assert_int_equal(d.n, 0);

	/* Inspect refuses it, exactly like a missing one. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(dk_container_inspect(dk, rogue, &c, &d), BG_ENOT_FOUND);
	assert_null(c.id);
	th_assert_contains(first_msg(&d), "is not managed by bluegreen");
	bg_diag_release(&d);

	/* And nothing touches it. */
	assert_int_equal(dk_container_stop(dk, rogue, 1, &d), BG_ECONFLICT);
	assert_int_equal(dk_container_remove(dk, rogue, &d), BG_ECONFLICT);
	assert_int_equal(dk_container_start(dk, rogue, &d), BG_ECONFLICT);
	char *st = cli("inspect", "--format", "{{.State.Status}}", rogue, NULL);
	assert_string_equal(st, "running");
	free(st);
	bg_diag_release(&d);

	struct obs_labels l;
	labels_ours(&l);
	assert_int_equal(dk_network_create(dk, rnet, &l, false, &d), BG_ECONFLICT);
	th_assert_contains(first_msg(&d), "already exists and is not managed by bluegreen");
	th_assert_contains(first_msg(&d), rnet);
	bg_diag_release(&d);
	assert_int_equal(dk_volume_create(dk, rvol, &l, &d), BG_ECONFLICT);
	th_assert_contains(first_msg(&d), rvol);
	bg_diag_release(&d);
	assert_int_equal(dk_volume_remove(dk, rvol, &d), BG_ECONFLICT);
	assert_true(cli_ok("volume", "inspect", rvol, NULL));
	/* The labels of what exists are not changed either. */
	char *lab = cli("volume", "inspect", "--format", "{{json .Labels}}", rvol, NULL);
	th_assert_not_contains(lab, BG_LABEL_MANAGED);
	free(lab);
	/* Creating without our label is refused before the engine hears of it. */
	struct obs_labels bare = {0};
	obs_labels_set(&bare, BG_LABEL_SITE, site);
	char *nn = tname("unlabelled-net");
	assert_int_equal(dk_network_create(dk, nn, &bare, false, &d), BG_EREFUSED);
	assert_false(cli_ok("network", "inspect", nn, NULL));
	free(nn);
	obs_labels_release(&bare);
	obs_labels_release(&l);
	bg_diag_release(&d);
	free(label);
	free(rogue);
	free(rnet);
	free(rvol);
}

static void test_idempotence(void **state)
{
	char *name = tname("idem"), *net = tname("idem-net"), *vol = tname("idem-vol");
	char *id = NULL;
	struct obs_labels l;
	struct bg_diag d;

	bg_diag_init(&d);
	labels_ours(&l);
	struct dk_container_spec spec = {.name = name, .image = "bluegreen-test/web:v1",
		.labels = &l, .stop_timeout_s = 1};
	assert_int_equal(dk_container_create(dk, &spec, &id, &d), 0);
	/* The name is now taken: the engine's 409 and message. */
	char *id2 = NULL;
	assert_int_equal(dk_container_create(dk, &spec, &id2, &d), BG_ECONFLICT);
	assert_null(id2);
	th_assert_contains(first_msg(&d), "is already in use");
	bg_diag_release(&d);

	assert_int_equal(dk_container_start(dk, id, &d), 0);
	assert_int_equal(dk_container_start(dk, id, &d), 0); /* 304 */
	assert_int_equal(dk_network_create(dk, net, &l, true, &d), 0);
	char *internal = cli("network", "inspect", "--format", "{{.Internal}}", net, NULL);
	assert_string_equal(internal, "true");
	free(internal);
	char *al[] = {"idem-alias", NULL};
	assert_int_equal(dk_network_connect(dk, net, id, al, &d), 0);
	assert_int_equal(dk_network_connect(dk, net, id, al, &d), 0); /* already there */
	assert_int_equal(d.n, 0);

	struct obs_container c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(dk_container_inspect(dk, id, &c, &d), 0);
	assert_non_null(obs_container_ip(&c, net));
	assert_non_null(obs_container_ip(&c, "bridge"));
	obs_container_release(&c);

	assert_int_equal(dk_container_stop(dk, id, 1, &d), 0);
	assert_int_equal(dk_container_stop(dk, id, 1, &d), 0); /* 304 */
	memset(&c, 0, sizeof(c));
	assert_int_equal(dk_container_inspect(dk, id, &c, &d), 0);
	assert_int_equal(c.state, OBS_CSTATE_EXITED);
	obs_container_release(&c);
	assert_int_equal(d.n, 0);

	assert_int_equal(dk_container_remove(dk, id, &d), 0);
	assert_int_equal(dk_container_remove(dk, id, &d), 0); /* already gone */
	assert_int_equal(d.n, 0);
	assert_false(cli_ok("inspect", id, NULL));
	/* Stopping what is not there is an error, with the engine's words. */
	assert_int_equal(dk_container_stop(dk, id, 1, &d), BG_ENOT_FOUND);
	th_assert_contains(first_msg(&d), "No such container");
	bg_diag_release(&d);

	assert_int_equal(dk_volume_create(dk, vol, &l, &d), 0);
	assert_int_equal(dk_volume_remove(dk, vol, &d), 0);
	assert_int_equal(dk_volume_remove(dk, vol, &d), 0);
	assert_false(cli_ok("volume", "inspect", vol, NULL));
	assert_int_equal(d.n, 0);

	obs_labels_release(&l);
	bg_diag_release(&d);
	free(id);
	free(name);
	free(net);
	free(vol);
}

static void test_running_volume_in_use(void **state)
{
	char *name = tname("user"), *vol = tname("busy-vol"), *id = NULL;
	struct obs_labels l;
	struct bg_diag d;

	bg_diag_init(&d);
	labels_ours(&l);
	assert_int_equal(dk_volume_create(dk, vol, &l, &d), 0);
	struct dk_mount m = {.volume = vol, .target = "/data"};
	struct dk_container_spec spec = {.name = name, .image = "bluegreen-test/web:v1",
		.labels = &l, .mounts = &m, .n_mounts = 1};
	assert_int_equal(dk_container_create(dk, &spec, &id, &d), 0);
	/* In use: the engine's 409 and message, and the volume stays. */
	assert_int_equal(dk_volume_remove(dk, vol, &d), BG_ECONFLICT);
	th_assert_contains(first_msg(&d), "volume is in use");
	assert_true(cli_ok("volume", "inspect", vol, NULL));
	bg_diag_release(&d);
	/* Removing the container keeps the named volume. */
	assert_int_equal(dk_container_remove(dk, id, &d), 0);
	assert_true(cli_ok("volume", "inspect", vol, NULL));
	assert_int_equal(dk_volume_remove(dk, vol, &d), 0);
	obs_labels_release(&l);
	bg_diag_release(&d);
	free(id);
	free(name);
	free(vol);
}

static void test_no_such_image(void **state)
{
	char *name = tname("noimage"), *id = NULL, *ref = NULL;
	char *image = bg_xasprintf("bluegreen-test/web:nope-%s", th_run_id());
	struct obs_labels l;
	struct bg_diag d;

	bg_diag_init(&d);
	labels_ours(&l);
	struct dk_container_spec spec = {.name = name, .image = image, .labels = &l};
	assert_int_equal(dk_container_create(dk, &spec, &id, &d), BG_ENOT_FOUND);
	assert_null(id);
	char *want = bg_xasprintf("No such image: %s", image);
	assert_int_equal(d.n, 1);
	th_assert_contains(d.items[0].msg, want);
	bg_diag_release(&d);
	assert_int_equal(dk_image_id(dk, image, &ref, &d), 0);
	assert_null(ref);
	assert_int_equal(d.n, 0);
	free(want);
	free(image);
	free(name);
	obs_labels_release(&l);
	bg_diag_release(&d);
}

static void on_rt_state(struct rt_events *ev, bool connected, int err,
		const char *reason, void *arg)
{
	*(int *)arg = connected ? 1 : -1;
}

/* The runtime interface (rt.h) drives the same engine: a few calls through
 * it answer what the client answers. */
static void test_runtime(void **state)
{
	struct bg_diag d;
	struct bg_strv names;
	struct bg_buf b;
	struct obs o;
	char *via_rt = NULL, *via_dk = NULL;
	bool exists = false, managed = true;

	bg_diag_init(&d);
	assert_string_equal(rt_name(rt), "docker");
	assert_int_equal(rt_negotiate(rt, &d), 0);
	assert_int_equal(dk_client_negotiate(dk, &d), 0);
	obs_init(&o);
	assert_int_equal(rt_observe(rt, &o, RT_ENGINE, &d), 0);
	assert_string_equal(o.engine_version, dk_client_engine_version(dk));
	assert_string_equal(o.api_version, dk_client_api_version(dk));
	assert_int_equal(o.n_containers + o.n_networks + o.n_volumes, 0); /* only asked the engine */
	obs_release(&o);

	assert_int_equal(rt_image_id(rt, "bluegreen-test/web:v1", &via_rt, &d), 0);
	assert_int_equal(dk_image_id(dk, "bluegreen-test/web:v1", &via_dk, &d), 0);
	assert_non_null(via_rt);
	assert_string_equal(via_rt, via_dk);

	/* Docker's own "bridge" network is someone else's: listed, not ours. */
	bg_strv_init(&names);
	assert_int_equal(rt_list_unmanaged(rt, "network", &names, &d), 0);
	assert_true(bg_strv_contains(&names, "bridge"));
	bg_strv_release(&names);
	assert_int_equal(rt_name_taken(rt, "network", "bridge", &exists, &managed, &d), 0);
	assert_true(exists);
	assert_false(managed);

	/* What the runtime cannot do says so. */
	assert_int_equal(rt_inspect_async(rt, NULL, "x", NULL, NULL), BG_ERRNO(ENOTSUP));
	assert_int_equal(d.n, 0);
	/* Logs exist (issue 13), of managed containers only: any other name is
	 * not found, and nothing is read. */
	bg_buf_init(&b, 0);
	assert_int_equal(rt_logs(rt, "bluegreen-test-no-such-container", 10, &b, &d),
			BG_ENOT_FOUND);
	assert_int_equal(b.len, 0);
	assert_int_equal(d.n, 1);
	bg_buf_release(&b);
	bg_diag_release(&d);
	bg_diag_init(&d);

	/* Events: the stream connects, and closing frees it from the loop. */
	uv_loop_t loop;
	struct rt_events *ev = NULL;
	int st = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(rt_events_open(rt, &loop, NULL, on_rt_state, &st, &ev), 0);
	int64_t until = bg_mono_ms() + 10000;
	while (st == 0 && bg_mono_ms() < until) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	assert_int_equal(st, 1);
	rt_events_close(rt, ev);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);

	free(via_rt);
	free(via_dk);
	bg_diag_release(&d);
}

/* A client on another socket must fail with a message naming it. */
static void unreachable_case(const char *sock, int want, const char *want_msg)
{
	struct dk_client *bad = NULL;
	struct bg_diag d;

	bg_diag_init(&d);
	assert_int_equal(dk_client_create(&bad, sock), 0);
	dk_client_set_timeout(bad, 1000);
	assert_int_equal(dk_client_negotiate(bad, &d), want);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].msg, want_msg);
	bg_diag_release(&d);
	/* Every typed call says the same. */
	struct obs o;
	obs_init(&o);
	assert_int_equal(dk_engine_observe(bad, &o, &d), want);
	assert_string_equal(d.items[0].msg, want_msg);
	obs_release(&o);
	bg_diag_release(&d);
	dk_client_destroy(bad);
}

static void test_unreachable(void **state)
{
	char *missing = bg_xasprintf("%s/missing.sock", tmpdir);
	char *msg = bg_xasprintf("cannot reach the Docker engine at %s: no such socket "
			"(is dockerd running?)", missing);
	unreachable_case(missing, BG_EDOCKER_UNREACHABLE, msg);
	free(msg);

	/* A socket file nobody listens on. */
	char *dead = bg_xasprintf("%s/dead.sock", tmpdir);
	int fd = th_unix_socket_at(dead, false);
	msg = bg_xasprintf("cannot reach the Docker engine at %s: connection refused "
			"(is dockerd running?)", dead);
	unreachable_case(dead, BG_EDOCKER_UNREACHABLE, msg);
	close(fd);
	free(msg);

	/* A socket that accepts and never answers: the timeout, named. */
	char *mute = bg_xasprintf("%s/mute.sock", tmpdir);
	fd = th_unix_socket_at(mute, true);
	msg = bg_xasprintf("the Docker engine at %s did not answer GET /_ping within "
			"1000 ms", mute);
	unreachable_case(mute, BG_ETIMEOUT, msg);
	close(fd);
	free(msg);
	free(missing);
	free(dead);
	free(mute);
}

/*
 * Negotiate with sock as someone it refuses; "ERR MESSAGE" of the attempt.
 * As root: in a child that became nobody (uid/gid 65534 when there is no
 * such user). Otherwise in a child as we are (the socket is then one we
 * own with mode 0, which refuses its owner too).
 */
static char *negotiate_refused(const char *sock)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw ? pw->pw_uid : 65534;
	gid_t gid = pw ? pw->pw_gid : 65534;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct dk_client *c = NULL;
		struct bg_diag d;
		char buf[512] = "";
		int err = -1;
		close(p[0]);
		bg_diag_init(&d);
		bool dropped = geteuid() != 0 ||
				(setgroups(0, NULL) == 0 && setgid(gid) == 0 && setuid(uid) == 0);
		if (dropped && dk_client_create(&c, sock) == 0) {
			dk_client_set_timeout(c, 5000);
			err = dk_client_negotiate(c, &d);
		}
		snprintf(buf, sizeof(buf), "%d %s", err,
				!dropped ? "could not become nobody" : d.n ? d.items[0].msg : "");
		if (write(p[1], buf, strlen(buf)) < 0) {
			_exit(2);
		}
		_exit(0);
	}
	close(p[1]);
	char buf[512];
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	return bg_xstrdup(buf);
}

static void test_permission_denied(void **state)
{
	/*
	 * The condition is made, not hoped for: a socket we own that refuses
	 * the caller (0600 and the caller nobody, as root; mode 0 otherwise),
	 * listening, in a directory anyone may traverse.
	 */
	char *dir = bg_xasprintf("%s/perm", tmpdir);
	assert_int_equal(bg_mkdir_p(dir, 0755), 0);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	char *sock = bg_xasprintf("%s/docker.sock", dir);
	int fd = th_unix_socket_at(sock, true);
	assert_int_equal(chmod(sock, geteuid() == 0 ? 0600 : 0), 0);
	char *got = negotiate_refused(sock);
	char *want = bg_xasprintf("%d permission denied on %s (is this user in the docker group?)",
			BG_EDOCKER_UNREACHABLE, sock);
	assert_string_equal(got, want);
	free(want);
	free(got);
	close(fd);
	unlink(sock);

	/* And the real engine's socket, when it is one that refuses nobody. */
	struct stat st;
	if (geteuid() == 0 && stat(th_docker_sock(), &st) == 0 && !(st.st_mode & S_IWOTH)) {
		got = negotiate_refused(th_docker_sock());
		want = bg_xasprintf("%d permission denied on %s (is this user in the docker "
				"group?)", BG_EDOCKER_UNREACHABLE, th_docker_sock());
		assert_string_equal(got, want);
		free(want);
		free(got);
	} else {
		print_message("# %s accepts anyone (or we are not root): only our own socket "
				"was refused\n", th_docker_sock());
	}
	free(sock);
	free(dir);
}

/* ---- pulls, from a local registry (no network needed) ---- */

struct registry {
	pid_t pid;
	int port;
};

static void registry_start(struct registry *r)
{
	char *script = th_src_path("test/fixtures/docker/fake-registry.py");
	char *argv[] = {"python3", script, NULL};
	posix_spawn_file_actions_t fa;
	int p[2];
	char buf[32] = "";
	size_t got = 0;

	r->pid = 0;
	r->port = 0;
	assert_int_equal(pipe(p), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	int rc = posix_spawnp(&r->pid, "python3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	free(script);
	if (rc != 0) {
		close(p[0]);
		r->pid = 0;
		return;
	}
	while (got < sizeof(buf) - 1 && !strchr(buf, '\n')) {
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (poll(&pf, 1, 10000) <= 0) {
			break;
		}
		ssize_t n = read(p[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
		buf[got] = '\0';
	}
	close(p[0]);
	r->port = atoi(buf);
}

static void registry_stop(struct registry *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
	}
	r->pid = 0;
}

static void test_pull(void **state)
{
	struct registry reg;
	struct bg_diag d;
	char *id = NULL;

	bg_diag_init(&d);
	registry_start(&reg);
	if (reg.pid <= 0 || reg.port <= 0) {
		registry_stop(&reg);
		fail_msg("test/fixtures/docker/fake-registry.py did not start (python3?)");
	}
	/* A good image: pulled, then resolvable. */
	char *good = bg_xasprintf("127.0.0.1:%d/bgt-%s/good:v1", reg.port, th_run_id());
	int err = dk_image_pull(dk, good, &d);
	if (err) {
		fail_msg("pull %s: %s", good, first_msg(&d));
	}
	assert_int_equal(dk_image_id(dk, good, &id, &d), 0);
	assert_non_null(id);
	assert_true(bg_str_has_prefix(id, "sha256:"));
	free(id);
	cli_ok("rmi", good, NULL);

	/* The failure arrives inside a 200 progress stream. */
	char *broken = bg_xasprintf("127.0.0.1:%d/bgt-%s/broken:v1", reg.port, th_run_id());
	assert_int_equal(dk_image_pull(dk, broken, &d), BG_EDOCKER);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].msg, "unknown blob");
	bg_diag_release(&d);
	registry_stop(&reg);
	free(good);
	free(broken);
}

static void test_pull_nonexistent(void **state)
{
	/* No such repository: whether the registry says so or cannot be
	 * reached, the message is the engine's own, as the CLI shows it. */
	char *ref = bg_xasprintf("bluegreen-test/nonexistent-%s:v9", th_run_id());
	struct bg_diag d;
	struct th_run r;

	bg_diag_init(&d);
	int err = dk_image_pull(dk, ref, &d);
	assert_true(err == BG_EDOCKER || err == BG_ENOT_FOUND);
	assert_int_equal(d.n, 1);
	th_docker(&r, "pull", ref, NULL);
	assert_int_not_equal(r.status, 0);
	th_assert_contains(r.err, d.items[0].msg);
	th_run_release(&r);
	bg_diag_release(&d);
	free(ref);
}

static void test_health(void **state)
{
	char *name = tname("hc"), *id = NULL;
	struct obs_labels l;
	struct bg_diag d;
	enum obs_health seen = OBS_HEALTH_NONE;
	bool saw_starting = false;

	bg_diag_init(&d);
	labels_ours(&l);
	struct dk_container_spec spec = {.name = name, .image = "bluegreen-test/web:hc",
		.labels = &l};
	assert_int_equal(dk_container_create(dk, &spec, &id, &d), 0);
	assert_int_equal(dk_container_start(dk, id, &d), 0);
	int64_t deadline = bg_mono_ms() + 30000;
	while (bg_mono_ms() < deadline) {
		struct obs_container c;
		memset(&c, 0, sizeof(c));
		assert_int_equal(dk_container_inspect(dk, id, &c, &d), 0);
		seen = c.health;
		obs_container_release(&c);
		if (seen == OBS_HEALTH_STARTING) {
			saw_starting = true;
		}
		if (seen == OBS_HEALTH_HEALTHY) {
			break;
		}
		assert_int_not_equal(seen, OBS_HEALTH_NONE);
		usleep(200 * 1000);
	}
	assert_int_equal(seen, OBS_HEALTH_HEALTHY);
	assert_true(saw_starting);
	assert_int_equal(dk_container_remove(dk, id, &d), 0);
	assert_int_equal(d.n, 0);
	obs_labels_release(&l);
	bg_diag_release(&d);
	free(id);
	free(name);
}

int main(void)
{
	const char *trace = getenv("BLUEGREEN_TRACE");
	if (trace) {
		bg_log_init(BG_LOG_DEBUG, NULL, NULL);
		bg_log_trace_parse(trace);
	}
	th_docker_preamble();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_create_and_observe),
		cmocka_unit_test(test_unmanaged),
		cmocka_unit_test(test_idempotence),
		cmocka_unit_test(test_running_volume_in_use),
		cmocka_unit_test(test_no_such_image),
		cmocka_unit_test(test_runtime),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_permission_denied),
		cmocka_unit_test(test_pull),
		cmocka_unit_test(test_pull_nonexistent),
		cmocka_unit_test(test_health),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
