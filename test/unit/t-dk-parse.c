/*
 * t-dk-parse: the Docker client's pure parsers against JSON the real engine
 * sent (test/fixtures/docker/, captured by capture.sh there from Docker
 * 20.10.24 over the unix socket): container inspect in every state we
 * react to (running+healthy, starting, unhealthy, created, exited 3), the
 * network and volume lists, /version and API negotiation, the /events
 * stream fed whole, byte by byte and in uneven chunks, and a pull whose
 * failure arrives inside a 200 progress stream. Malformed input must give
 * an error, never a crash, and leave nothing half-filled behind.
 */
#include "bg.h"
#include "dk.h"
#include "dk-json.h"
#include "th.h"

/* Parse a C string (its NUL ends the input, as dk__json_parse wants). */
static int jparse(const char *s, struct json_object **out)
{
	return dk__json_parse(s, strlen(s), out);
}

static struct json_object *fixture_json(const char *name)
{
	char *rel = bg_xasprintf("test/fixtures/docker/%s", name);
	char *path = th_src_path(rel);
	char *text = th_read(path);
	struct json_object *j = NULL;
	assert_int_equal(dk__json_parse(text, strlen(text), &j), 0);
	assert_non_null(j);
	free(text);
	free(path);
	free(rel);
	return j;
}

static char *fixture_text(const char *name, size_t *len)
{
	char *rel = bg_xasprintf("test/fixtures/docker/%s", name);
	char *path = th_src_path(rel);
	char *text = NULL;
	assert_int_equal(bg_file_read(path, 16 * 1024 * 1024, &text, len), 0);
	free(path);
	free(rel);
	return text;
}

static void inspect_fixture(const char *name, struct obs_container *c)
{
	struct json_object *j = fixture_json(name);
	struct bg_diag d;
	bg_diag_init(&d);
	memset(c, 0, sizeof(*c));
	assert_int_equal(dk_parse_container_inspect(j, c, &d), 0);
	assert_int_equal(d.n, 0);
	bg_diag_release(&d);
	json_object_put(j);
}

static bool contains_secret(const struct obs_container *c)
{
	const char *secret = "not-a-real-secret";
	if (strstr(c->id, secret) || strstr(c->name, secret) ||
			strstr(c->image, secret) || strstr(c->image_id, secret)) {
		return true;
	}
	for (size_t i = 0; i < c->labels.n; i++) {
		if (strstr(c->labels.v[i].key, secret) || strstr(c->labels.v[i].value, secret)) {
			return true;
		}
	}
	return false;
}

static void test_inspect_healthy(void **state)
{
	struct obs_container c;
	inspect_fixture("inspect-healthy.json", &c);
	assert_true(bg_str_has_prefix(c.id, "04bb670092ce"));
	assert_int_equal(strlen(c.id), 64);
	assert_string_equal(c.name, "bgfix-web-blue-1"); /* no leading '/' */
	assert_string_equal(c.image, "bluegreen-test/web:hc");
	assert_true(bg_str_has_prefix(c.image_id, "sha256:9746a33712a0"));
	assert_int_equal(c.state, OBS_CSTATE_RUNNING);
	assert_int_equal(c.health, OBS_HEALTH_HEALTHY);
	assert_int_equal(c.exit_code, 0);
	assert_int_equal(c.n_nets, 1);
	assert_string_equal(c.nets[0].network, "bgfix-net");
	assert_string_equal(c.nets[0].ip, "172.22.0.2");
	assert_string_equal(obs_container_ip(&c, "bgfix-net"), "172.22.0.2");
	/* Labels, sorted, and the fields derived from them. */
	assert_int_equal(c.labels.n, 8);
	for (size_t i = 1; i < c.labels.n; i++) {
		assert_true(strcmp(c.labels.v[i - 1].key, c.labels.v[i].key) < 0);
	}
	assert_string_equal(obs_labels_get(&c.labels, BG_LABEL_MANAGED), "true");
	assert_string_equal(c.site, "fixture");
	assert_string_equal(c.colour, "blue");
	assert_string_equal(c.role, "colour");
	assert_string_equal(c.spec, "abc123");
	assert_int_equal(c.version, 3);
	assert_int_equal(c.replica, 1);
	assert_null(c.service);
	/* Config.Env holds a (fake) secret: it must not be copied anywhere. */
	assert_false(contains_secret(&c));
	obs_container_release(&c);
}

static void test_inspect_states(void **state)
{
	struct obs_container c;

	inspect_fixture("inspect-starting.json", &c);
	assert_string_equal(c.name, "bgfix-web-green-1");
	assert_int_equal(c.state, OBS_CSTATE_RUNNING);
	assert_int_equal(c.health, OBS_HEALTH_STARTING);
	assert_string_equal(c.colour, "green");
	assert_int_equal(c.version, 0); /* no label: 0 */
	assert_string_equal(obs_container_ip(&c, "bgfix-net"), "172.22.0.3");
	obs_container_release(&c);

	inspect_fixture("inspect-unhealthy.json", &c);
	assert_string_equal(c.image, "bluegreen-test/web:bad");
	assert_int_equal(c.state, OBS_CSTATE_RUNNING);
	assert_int_equal(c.health, OBS_HEALTH_UNHEALTHY);
	assert_null(c.colour);
	assert_string_equal(obs_container_ip(&c, "bridge"), "172.17.0.3");
	obs_container_release(&c);

	inspect_fixture("inspect-created.json", &c);
	assert_string_equal(c.name, "bgfix-db");
	assert_int_equal(c.state, OBS_CSTATE_CREATED);
	assert_int_equal(c.health, OBS_HEALTH_NONE);
	assert_string_equal(c.role, "service");
	assert_string_equal(c.service, "db");
	/* Attached but never started: the network is there, no address yet. */
	assert_int_equal(c.n_nets, 1);
	assert_string_equal(c.nets[0].network, "bridge");
	assert_string_equal(c.nets[0].ip, "");
	obs_container_release(&c);

	inspect_fixture("inspect-exited.json", &c);
	assert_int_equal(c.state, OBS_CSTATE_EXITED);
	assert_int_equal(c.exit_code, 3);
	assert_int_equal(c.health, OBS_HEALTH_NONE);
	obs_container_release(&c);
}

/* Parse a JSON text that must be rejected; c must stay zeroed. */
static void inspect_bad(const char *text, const char *want_msg)
{
	struct json_object *j = NULL;
	struct obs_container c;
	struct bg_diag d;

	memset(&c, 0, sizeof(c));
	bg_diag_init(&d);
	if (text) {
		assert_int_equal(dk__json_parse(text, strlen(text), &j), 0);
	}
	assert_int_equal(dk_parse_container_inspect(j, &c, &d), BG_EPARSE);
	assert_null(c.id);
	assert_null(c.nets);
	assert_int_equal(c.labels.n, 0);
	assert_int_equal(d.n, 1);
	th_assert_contains(d.items[0].msg, want_msg);
	bg_diag_release(&d);
	json_object_put(j);
}

static void test_inspect_malformed(void **state)
{
	inspect_bad(NULL, "not a JSON object");
	inspect_bad("[1,2]", "not a JSON object");
	inspect_bad("{}", "missing Id");
	inspect_bad("{\"Id\":\"\"}", "missing Id");
	inspect_bad("{\"Id\":7,\"Name\":\"/x\"}", "missing Id");
	inspect_bad("{\"Id\":\"a\",\"Name\":\"/x\",\"Image\":\"sha256:1\"}", "missing Config");
	inspect_bad("{\"Id\":\"a\",\"Name\":\"/x\",\"Image\":\"sha256:1\",\"Config\":{}}",
			"missing Config.Image");
	inspect_bad("{\"Id\":\"a\",\"Name\":\"/x\",\"Image\":\"sha256:1\","
			"\"Config\":{\"Image\":\"i\"},\"State\":{}}", "missing State.Status");
	inspect_bad("{\"Id\":\"a\",\"Name\":\"/x\",\"Image\":\"sha256:1\","
			"\"Config\":{\"Image\":\"i\",\"Labels\":{\"k\":1}},"
			"\"State\":{\"Status\":\"running\"}}", "label 'k' is not a string");
	inspect_bad("{\"Id\":\"a\",\"Name\":\"/x\",\"Image\":\"sha256:1\","
			"\"Config\":{\"Image\":\"i\",\"Labels\":[]},"
			"\"State\":{\"Status\":\"running\"}}", "Labels is not an object");
	inspect_bad("{\"Id\":\"a\",\"Name\":\"/x\",\"Image\":\"sha256:1\","
			"\"Config\":{\"Image\":\"i\"},\"State\":{\"Status\":\"running\"},"
			"\"NetworkSettings\":{\"Networks\":{\"n\":3}}}",
			"network 'n' is not an object");
}

static void test_inspect_lenient(void **state)
{
	/* Unknown states, odd health, a huge exit code and null labels are
	 * facts to report, not reasons to fail. */
	const char *text = "{\"Id\":\"a\",\"Name\":\"x\",\"Image\":\"sha256:1\","
			"\"Config\":{\"Image\":\"i\",\"Labels\":null},"
			"\"State\":{\"Status\":\"hibernating\",\"ExitCode\":99999999999,"
			"\"Health\":{\"Status\":\"sleepy\"}}}";
	struct json_object *j = NULL;
	struct obs_container c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(dk__json_parse(text, strlen(text), &j), 0);
	assert_int_equal(dk_parse_container_inspect(j, &c, NULL), 0);
	assert_string_equal(c.name, "x");
	assert_int_equal(c.state, OBS_CSTATE_UNKNOWN);
	assert_int_equal(c.health, OBS_HEALTH_NONE);
	assert_int_equal(c.exit_code, INT32_MAX);
	assert_int_equal(c.n_nets, 0);
	assert_null(c.site);
	obs_container_release(&c);
	json_object_put(j);
}

/* The list inside a list answer, for the name-conflict checks. */
static void test_kind_list(void **state)
{
	struct json_object *j, *list;
	struct bg_diag d;

	bg_diag_init(&d);
	assert_int_equal(jparse("[{\"Name\":\"a\"}]", &j), 0);
	assert_int_equal(dk_parse_kind_list(j, "network", &list, &d), 0);
	assert_ptr_equal(list, j);
	json_object_put(j);
	assert_int_equal(jparse("{\"Volumes\":[{\"Name\":\"v\"}],\"Warnings\":null}", &j), 0);
	assert_int_equal(dk_parse_kind_list(j, "volume", &list, &d), 0);
	assert_int_equal(json_object_array_length(list), 1);
	json_object_put(j);
	/* A fresh engine with no volume at all says null: not an error. */
	assert_int_equal(jparse("{\"Volumes\":null,\"Warnings\":null}", &j), 0);
	assert_int_equal(dk_parse_kind_list(j, "volume", &list, &d), 1);
	assert_null(list);
	json_object_put(j);
	assert_int_equal(d.n_errors, 0);
	/* Not a list: refused, and said. */
	assert_int_equal(jparse("{\"message\":\"x\"}", &j), 0);
	assert_int_equal(dk_parse_kind_list(j, "volume", &list, &d), BG_EPARSE);
	assert_int_equal(dk_parse_kind_list(j, "network", &list, &d), BG_EPARSE);
	assert_null(list);
	json_object_put(j);
	assert_int_equal(d.n_errors, 2);
	bg_diag_release(&d);
}

static void test_lists(void **state)
{
	struct obs o;
	struct json_object *j;
	struct bg_diag d;

	obs_init(&o);
	bg_diag_init(&d);
	j = fixture_json("networks-list.json");
	/* Add an unlabelled network: a leaky filter must not let it through. */
	struct json_object *extra = NULL;
	assert_int_equal(jparse("{\"Id\":\"ff\",\"Name\":\"theirs\",\"Labels\":{}}", &extra), 0);
	json_object_array_add(j, extra);
	assert_int_equal(dk_parse_networks(j, &o, &d), 0);
	json_object_put(j);
	assert_int_equal(o.n_networks, 1);
	assert_string_equal(o.networks[0].name, "bgfix-net");
	assert_true(bg_str_has_prefix(o.networks[0].id, "4c4aa0ba6550"));
	assert_string_equal(obs_labels_get(&o.networks[0].labels, BG_LABEL_SITE), "fixture");

	j = fixture_json("volumes-list.json");
	assert_int_equal(dk_parse_volumes(j, &o, &d), 0);
	json_object_put(j);
	assert_int_equal(o.n_volumes, 1);
	assert_string_equal(o.volumes[0].name, "bgfix-data");
	assert_string_equal(obs_labels_get(&o.volumes[0].labels, BG_LABEL_MANAGED), "true");

	/* No volumes at all: the engine says null. */
	assert_int_equal(jparse("{\"Volumes\":null,\"Warnings\":null}", &j), 0);
	struct json_object *list = j;
	assert_int_equal(dk_parse_kind_list(j, "volume", &list, &d), 1);
	assert_null(list);
	assert_int_equal(dk_parse_volumes(j, &o, &d), 0);
	json_object_put(j);
	assert_int_equal(o.n_volumes, 1);
	assert_int_equal(d.n, 0);

	/* Malformed lists. */
	assert_int_equal(jparse("{\"Volumes\":{}}", &j), 0);
	assert_int_equal(dk_parse_volumes(j, &o, &d), BG_EPARSE);
	json_object_put(j);
	assert_int_equal(jparse("[{\"Name\":\"x\"}]", &j), 0);
	assert_int_equal(dk_parse_networks(j, &o, &d), BG_EPARSE);
	json_object_put(j);
	assert_int_equal(dk_parse_networks(NULL, &o, &d), BG_EPARSE);
	assert_int_equal(d.n, 3);
	bg_diag_release(&d);
	obs_release(&o);
}

static void version_case(const char *text, int want, const char *want_api,
		const char *want_msg)
{
	struct json_object *j = NULL;
	char *engine = NULL, *api = NULL;
	struct bg_diag d;

	bg_diag_init(&d);
	assert_int_equal(dk__json_parse(text, strlen(text), &j), 0);
	assert_int_equal(dk_parse_version(j, &engine, &api, &d), want);
	if (want_api) {
		assert_string_equal(api, want_api);
	} else {
		assert_null(api);
		assert_null(engine);
	}
	if (want_msg) {
		assert_int_equal(d.n, 1);
		th_assert_contains(d.items[0].msg, want_msg);
	} else {
		assert_int_equal(d.n, 0);
	}
	free(engine);
	free(api);
	json_object_put(j);
	bg_diag_release(&d);
}

static void test_version(void **state)
{
	struct json_object *j = fixture_json("version.json");
	char *engine = NULL, *api = NULL;
	assert_int_equal(dk_parse_version(j, &engine, &api, NULL), 0);
	assert_string_equal(engine, "20.10.24+dfsg1");
	assert_string_equal(api, "1.41");
	free(engine);
	free(api);
	json_object_put(j);

	/* Newer engines are capped at what we speak. */
	version_case("{\"Version\":\"28.2.2\",\"ApiVersion\":\"1.50\",\"MinAPIVersion\":\"1.24\"}",
			0, DK_API_MAX, NULL);
	version_case("{\"Version\":\"24.0.7\",\"ApiVersion\":\"1.43\"}", 0, "1.43", NULL);
	/* Older ones are refused, saying what and why. */
	version_case("{\"Version\":\"19.03.1\",\"ApiVersion\":\"1.40\"}", BG_EDOCKER, NULL,
			"speaks API 1.40; bluegreen needs API 1.41 or newer");
	version_case("{\"Version\":\"99.0\",\"ApiVersion\":\"1.90\",\"MinAPIVersion\":\"1.60\"}",
			BG_EDOCKER, NULL, "its minimum is 1.60");
	version_case("{\"Version\":\"x\",\"ApiVersion\":\"one.two\"}", BG_EPARSE, NULL,
			"no usable ApiVersion");
	version_case("{\"Version\":\"x\"}", BG_EPARSE, NULL, "no usable ApiVersion");
	version_case("[]", BG_EPARSE, NULL, "no usable ApiVersion");
	/* "1.100" is newer than "1.47", not older (numeric, not string order). */
	version_case("{\"ApiVersion\":\"1.100\"}", 0, DK_API_MAX, NULL);
}

/* ---- events ---- */

struct evlog {
	size_t n_all, n_scope;
	struct bg_strv lines; /* "type action name detail exit" of in-scope events */
};

static int ev_value(struct json_object *v, void *arg)
{
	struct evlog *l = arg;
	struct dk_event e;
	assert_int_equal(dk_parse_event(v, &e, NULL), 0);
	l->n_all++;
	if (!dk_event_in_scope(&e)) {
		/* Only the unlabelled container is out of scope here. */
		assert_int_equal(e.type, DK_EVENT_CONTAINER);
		assert_false(e.managed);
		assert_string_equal(e.name, "bgfix-unlabelled");
		return 0;
	}
	l->n_scope++;
	assert_true(e.time_ms > 1700000000000LL);
	bg_strv_push_take(&l->lines, bg_xasprintf("%d %s %s %s %d %s",
			(int)e.type, e.action, e.name ? e.name : "-",
			e.detail ? e.detail : "-", e.exit_code,
			e.container ? "c" : e.site ? e.site : "-"));
	return 0;
}

static void evlog_feed(struct evlog *l, const char *data, size_t len, size_t step)
{
	struct dk_stream s;
	memset(l, 0, sizeof(*l));
	bg_strv_init(&l->lines);
	dk_stream_init(&s, DK_STREAM_VALUE_MAX, ev_value, l);
	for (size_t off = 0; off < len;) {
		/* Uneven steps: 0 means "varying", to cut values anywhere. */
		size_t n = step ? step : 1 + (off * 7 + 3) % 97;
		if (n > len - off) {
			n = len - off;
		}
		assert_int_equal(dk_stream_feed(&s, data + off, n, NULL), 0);
		off += n;
	}
	assert_int_equal(dk_stream_finish(&s, NULL), 0);
	dk_stream_release(&s);
}

static void test_events(void **state)
{
	size_t len = 0;
	char *text = fixture_text("events.stream", &len);
	struct evlog whole, bytes, chunks;

	evlog_feed(&whole, text, len, len);
	assert_int_equal(whole.n_all, 40);
	assert_int_equal(whole.n_scope, 36); /* 4 of the unlabelled container left out */
	assert_string_equal(whole.lines.v[0], "2 create bgfix-net - -1 -");
	assert_string_equal(whole.lines.v[1], "3 create bgfix-data - -1 -");
	assert_string_equal(whole.lines.v[3], "1 create bgfix-web-blue-1 - -1 fixture");
	assert_string_equal(whole.lines.v[4], "2 connect bgfix-net - -1 c");
	assert_true(bg_strv_contains(&whole.lines, "1 die bgfix-exit - 3 fixture"));
	assert_true(bg_strv_contains(&whole.lines,
			"1 health_status bgfix-web-blue-1 healthy -1 fixture"));
	assert_true(bg_strv_contains(&whole.lines,
			"1 health_status bgfix-sick unhealthy -1 fixture"));
	assert_true(bg_strv_contains(&whole.lines, "1 die bgfix-web-blue-1 - 137 fixture"));
	assert_string_equal(whole.lines.v[whole.n_scope - 1], "3 destroy bgfix-data - -1 -");

	/* The same events whichever way the bytes are cut. */
	evlog_feed(&bytes, text, len, 1);
	evlog_feed(&chunks, text, len, 0);
	assert_true(bg_strv_equal(&whole.lines, &bytes.lines));
	assert_true(bg_strv_equal(&whole.lines, &chunks.lines));
	bg_strv_release(&whole.lines);
	bg_strv_release(&bytes.lines);
	bg_strv_release(&chunks.lines);
	free(text);
}

static void test_event_fields(void **state)
{
	const char *text = "{\"Type\":\"container\",\"Action\":\"exec_start: /bin/sh -c "
			"this is a long command line\",\"Actor\":{\"ID\":\"abc\",\"Attributes\":"
			"{\"name\":\"n\",\"io.bluegreen.managed\":\"false\"}},\"time\":1795451900}";
	struct json_object *j = NULL;
	struct dk_event e;

	assert_int_equal(dk__json_parse(text, strlen(text), &j), 0);
	assert_int_equal(dk_parse_event(j, &e, NULL), 0);
	assert_string_equal(e.action, "exec_start");
	assert_string_equal(e.detail, "/bin/sh -c this is a long command line");
	assert_false(e.managed); /* "false" is not "true" */
	assert_false(dk_event_in_scope(&e));
	assert_int_equal(e.time_ms, 1795451900000LL);
	json_object_put(j);

	/* Not an event; a type we do not follow. */
	assert_int_equal(jparse("{\"status\":\"x\"}", &j), 0);
	assert_int_equal(dk_parse_event(j, &e, NULL), BG_EPARSE);
	json_object_put(j);
	assert_int_equal(jparse("{\"Type\":\"image\",\"Action\":\"pull\"}", &j), 0);
	assert_int_equal(dk_parse_event(j, &e, NULL), 0);
	assert_int_equal(e.type, DK_EVENT_OTHER);
	assert_false(dk_event_in_scope(&e));
	json_object_put(j);
	/* An action longer than the buffer is cut, not overflowed. */
	char action[200];
	memset(action, 'a', sizeof(action) - 1);
	action[sizeof(action) - 1] = '\0';
	char *long_ev = bg_xasprintf("{\"Type\":\"volume\",\"Action\":\"%s\","
			"\"Actor\":{\"ID\":\"v\"}}", action);
	assert_int_equal(dk__json_parse(long_ev, strlen(long_ev), &j), 0);
	assert_int_equal(dk_parse_event(j, &e, NULL), 0);
	assert_int_equal(strlen(e.action), sizeof(e.action) - 1);
	assert_string_equal(e.name, "v"); /* a volume's id is its name */
	json_object_put(j);
	free(long_ev);
}

static int count_value(struct json_object *v, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static int stop_value(struct json_object *v, void *arg)
{
	return BG_ECANCELLED;
}

static void test_stream_errors(void **state)
{
	struct dk_stream s;
	struct bg_diag d;
	size_t n = 0;

	bg_diag_init(&d);
	/* Garbage: an error, and it stays an error. */
	dk_stream_init(&s, 1024, count_value, &n);
	assert_int_equal(dk_stream_feed(&s, "{\"a\":1}\n{\"b\" 2}", 15, &d), BG_EPARSE);
	assert_int_equal(n, 1);
	assert_int_equal(dk_stream_feed(&s, "{}", 2, &d), BG_EPARSE);
	assert_int_equal(n, 1);
	th_assert_contains(d.items[0].msg, "malformed JSON from the Docker engine");
	dk_stream_release(&s);

	/* A value beyond the limit, whether it arrives whole or in pieces. */
	char big[300];
	memset(big, ' ', sizeof(big));
	big[0] = '"';
	big[sizeof(big) - 1] = '"';
	dk_stream_init(&s, 100, count_value, &n);
	assert_int_equal(dk_stream_feed(&s, big, sizeof(big), &d), BG_ETOO_BIG);
	dk_stream_release(&s);
	dk_stream_init(&s, 100, count_value, &n);
	int err = 0;
	for (size_t i = 0; i < sizeof(big) && !err; i += 10) {
		err = dk_stream_feed(&s, big + i, 10, &d);
	}
	assert_int_equal(err, BG_ETOO_BIG);
	dk_stream_release(&s);

	/* Cut off in the middle of a value; whitespace alone is fine. */
	dk_stream_init(&s, 1024, count_value, &n);
	assert_int_equal(dk_stream_feed(&s, "{\"a\":", 5, &d), 0);
	assert_int_equal(dk_stream_finish(&s, &d), BG_EPARSE);
	dk_stream_release(&s);
	dk_stream_init(&s, 1024, count_value, &n);
	assert_int_equal(dk_stream_feed(&s, " \n\r\n", 4, &d), 0);
	assert_int_equal(dk_stream_finish(&s, &d), 0);
	dk_stream_release(&s);

	/* Strict mode: a trailing comma json-c would accept by default is
	 * refused. (json-c 0.16 still takes single quotes even then.) */
	dk_stream_init(&s, 1024, count_value, &n);
	assert_int_equal(dk_stream_feed(&s, "[1,]", 4, &d), BG_EPARSE);
	dk_stream_release(&s);

	/* The callback can stop the stream. */
	dk_stream_init(&s, 1024, stop_value, NULL);
	assert_int_equal(dk_stream_feed(&s, "{}{}", 4, &d), BG_ECANCELLED);
	dk_stream_release(&s);
	bg_diag_release(&d);
}

/*
 * Where needle starts in hay, SIZE_MAX if nowhere. (By index: gcc 12 at
 * -O3 takes a strstr result kept across cmocka's asserts for a dangling
 * pointer.)
 */
static size_t offset_of(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(hay + i, needle, n) == 0) {
			return i;
		}
	}
	return SIZE_MAX;
}

static void test_pull_stream(void **state)
{
	size_t len = 0;
	char *text = fixture_text("pull-error.stream", &len);
	struct bg_diag d;

	bg_diag_init(&d);
	/* A real failure inside a 200 progress stream, from the engine. */
	assert_int_equal(dk_parse_pull_stream(text, len, &d), BG_EDOCKER);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.items[0].msg, "unknown blob");
	bg_diag_release(&d);
	/* The same stream without its last line is a success. */
	size_t cut = offset_of(text, len, "{\"errorDetail\"");
	assert_true(cut != SIZE_MAX);
	assert_int_equal(dk_parse_pull_stream(text, cut, &d), 0);
	assert_int_equal(d.n, 0);
	/* Only "error", no errorDetail. */
	const char *only_error = "{\"status\":\"x\"}{\"error\":\"boom\"}";
	assert_int_equal(dk_parse_pull_stream(only_error, strlen(only_error), &d), BG_EDOCKER);
	assert_string_equal(d.items[0].msg, "boom");
	bg_diag_release(&d);
	assert_int_equal(dk_parse_pull_stream("{\"status\":", 10, &d), BG_EPARSE);
	bg_diag_release(&d);
	free(text);
}

static void test_json_parse(void **state)
{
	struct json_object *j = NULL;
	size_t len = 0;
	char *text = fixture_text("error-404.json", &len);

	assert_int_equal(dk__json_parse(text, len, &j), 0);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "message")),
			"No such container: bgfix-nonexistent");
	json_object_put(j);
	free(text);
	/* Trailing whitespace yes, trailing garbage or a second value no. */
	assert_int_equal(jparse("{} \n", &j), 0);
	json_object_put(j);
	assert_int_equal(jparse("{} x", &j), BG_EPARSE);
	assert_null(j);
	assert_int_equal(jparse("{}{}", &j), BG_EPARSE);
	assert_int_equal(jparse("OK", &j), BG_EPARSE);
	assert_int_equal(jparse("", &j), BG_EPARSE);
	assert_int_equal(jparse("null", &j), BG_EPARSE);
	assert_int_equal(jparse("42", &j), 0);
	assert_int_equal(json_object_get_int(j), 42);
	json_object_put(j);
}

static void test_labels_managed(void **state)
{
	struct json_object *j = NULL;
	assert_false(dk_labels_managed(NULL));
	assert_int_equal(jparse("{\"io.bluegreen.managed\":\"true\"}", &j), 0);
	assert_true(dk_labels_managed(j));
	json_object_put(j);
	assert_int_equal(jparse("{\"io.bluegreen.managed\":true}", &j), 0);
	assert_false(dk_labels_managed(j)); /* labels are strings; a bool is not ours */
	json_object_put(j);
	assert_int_equal(jparse("{\"io.bluegreen.managed\":\"TRUE\"}", &j), 0);
	assert_false(dk_labels_managed(j));
	json_object_put(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inspect_healthy),
		cmocka_unit_test(test_inspect_states),
		cmocka_unit_test(test_inspect_malformed),
		cmocka_unit_test(test_inspect_lenient),
		cmocka_unit_test(test_kind_list),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_event_fields),
		cmocka_unit_test(test_stream_errors),
		cmocka_unit_test(test_pull_stream),
		cmocka_unit_test(test_json_parse),
		cmocka_unit_test(test_labels_managed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
