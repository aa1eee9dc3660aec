/*
 * t-sw-parse: how the Swarm runtime presents a service and its tasks as
 * the containers the planner knows (sw-parse.c, ADR "Swarm first"): the
 * replica names (SITE-blue, SITE-blue-2, ...) and their split back into
 * service and slot, the newest task that is meant to run standing for
 * its slot, the task's host port and node as labels, the slots above the
 * service's replicas as stopped containers, a backing service under its
 * own name, and a document that is not a service refused; a service scaled
 * by hand above its slots shows its extra tasks; the watch daemon's event
 * scope on a swarm (sw-events.c). A node drained (real /tasks documents
 * captured during t-swarm-2node, test/fixtures/swarm/): a slot whose
 * replacement Swarm holds until the drained node's task stopped is shown
 * not running, and a start waits for it, while that old task still runs.
 */
#include "bg.h"
#include "sw.h"
#include "dk-json.h"
#include "th.h"

static struct json_object *J(const char *s)
{
	struct json_object *j = NULL;
	assert_int_equal(dk__json_parse(s, strlen(s), &j), 0);
	return j;
}

static void split_is(const char *name, const char *svc, unsigned slot)
{
	char *got = NULL;
	unsigned n = 99;
	sw_name_split(name, &got, &n);
	assert_string_equal(got, svc);
	assert_int_equal(n, slot);
	free(got);
}

static void test_name_split(void **state)
{
	(void)state;
	split_is("shop-blue", "shop-blue", 1);
	split_is("shop-blue-2", "shop-blue", 2);
	split_is("shop-green-10", "shop-green", 10);
	split_is("my-shop-green-3", "my-shop-green", 3);
	split_is("shop-db", "shop-db", 0);
	split_is("shop-db-2", "shop-db-2", 0);
	split_is("shop-blue-x", "shop-blue-x", 0);
	split_is("shop-blue-1", "shop-blue-1", 0); /* replica 1 has no suffix */
}

static const char *const SVC = "{\"ID\": \"svc1\", \"Version\": {\"Index\": 7}, \"Spec\": {"
	"\"Name\": \"shop-blue\", \"Labels\": {\"io.bluegreen.managed\": \"true\", "
	"\"io.bluegreen.swarm.slots\": \"3\", \"io.bluegreen.role\": \"colour\"}, "
	"\"TaskTemplate\": {\"ContainerSpec\": {\"Image\": \"web:v1@sha256:abc\", \"Labels\": {"
	"\"io.bluegreen.managed\": \"true\", \"io.bluegreen.site\": \"shop\", "
	"\"io.bluegreen.role\": \"colour\", \"io.bluegreen.colour\": \"blue\", "
	"\"io.bluegreen.version\": \"4\", \"io.bluegreen.hostport\": \"20001\"}}}, "
	"\"Mode\": {\"Replicated\": {\"Replicas\": 2}}}}";

#define TASK(id, slot, idx, want, state, port, extra)                                   \
	"{\"ID\": \"" id "\", \"ServiceID\": \"svc1\", \"Slot\": " #slot ", \"NodeID\": \"n1\", " \
	"\"Version\": {\"Index\": " #idx "}, \"DesiredState\": \"" want "\", \"Status\": {"     \
	"\"State\": \"" state "\", \"ContainerStatus\": {\"ContainerID\": \"c" id "\", "          \
	"\"ExitCode\": 0}, \"PortStatus\": {\"Ports\": [{\"PublishedPort\": " #port "}]}}" extra "}"

static void test_present_service(void **state)
{
	(void)state;
	struct json_object *svc = J(SVC);
	struct json_object *tasks = J("["
		TASK("t1", 1, 10, "running", "running", 30001,
			", \"NetworksAttachments\": [{\"Network\": {\"Spec\": {\"Name\": \"shop-net\"}},"
			" \"Addresses\": [\"10.0.1.5/24\"]}, {\"Network\": {\"Spec\": {\"Name\": "
			"\"ingress\"}}, \"Addresses\": [\"10.0.0.9/24\"]}]") ","
		TASK("t2old", 2, 11, "shutdown", "failed", 30002, "") ","
		TASK("t2", 2, 12, "running", "running", 30003, "") ","
		"{\"ID\": \"other\", \"ServiceID\": \"svc9\", \"Slot\": 1}]");
	struct json_object *nodes = J("[{\"ID\": \"n1\", \"Description\": {\"Hostname\": "
			"\"node-a\"}}]");
	struct obs o;
	obs_init(&o);
	assert_int_equal(sw_parse_service(svc, tasks, nodes, &o, NULL), 0);
	assert_int_equal(o.n_containers, 3);

	const struct obs_container *c = &o.containers[0];
	assert_string_equal(c->name, "shop-blue");
	assert_string_equal(c->id, "svc1.1");
	assert_string_equal(c->image, "web:v1");
	assert_int_equal(c->state, OBS_CSTATE_RUNNING);
	assert_int_equal(c->replica, 1);
	assert_int_equal(c->version, 4);
	assert_string_equal(c->colour, "blue");
	assert_string_equal(obs_labels_get(&c->labels, BG_LABEL_HOSTPORT), "30001");
	assert_string_equal(obs_labels_get(&c->labels, SW_LABEL_NODE), "node-a");
	assert_string_equal(obs_labels_get(&c->labels, SW_LABEL_CONTAINER), "ct1");
	assert_int_equal(c->n_nets, 1); /* not the ingress network */
	assert_string_equal(obs_container_ip(c, "shop-net"), "10.0.1.5");

	c = &o.containers[1]; /* the newest task meant to run, not the failed one */
	assert_string_equal(c->name, "shop-blue-2");
	assert_int_equal(c->replica, 2);
	assert_string_equal(obs_labels_get(&c->labels, BG_LABEL_HOSTPORT), "30003");

	c = &o.containers[2]; /* slot 3 > replicas 2: a stopped replica, no port */
	assert_string_equal(c->name, "shop-blue-3");
	assert_int_equal(c->state, OBS_CSTATE_EXITED);
	assert_null(obs_labels_get(&c->labels, BG_LABEL_HOSTPORT));
	assert_null(obs_labels_get(&c->labels, SW_LABEL_NODE));
	obs_release(&o);
	json_object_put(svc);
	json_object_put(tasks);
	json_object_put(nodes);
}

static void test_backing_service_and_states(void **state)
{
	(void)state;
	struct json_object *svc = J("{\"ID\": \"s2\", \"Spec\": {\"Name\": \"shop-db\", "
			"\"Labels\": {\"io.bluegreen.managed\": \"true\", \"io.bluegreen.role\": "
			"\"service\"}, \"TaskTemplate\": {\"ContainerSpec\": {\"Image\": \"db:1\"}}, "
			"\"Mode\": {\"Replicated\": {\"Replicas\": 0}}}}");
	struct obs o;
	obs_init(&o);
	assert_int_equal(sw_parse_service(svc, NULL, NULL, &o, NULL), 0);
	assert_int_equal(o.n_containers, 1);
	assert_string_equal(o.containers[0].name, "shop-db");
	assert_int_equal(o.containers[0].state, OBS_CSTATE_EXITED); /* scaled to 0: stopped */
	obs_release(&o);
	json_object_put(svc);

	assert_int_equal(sw_task_cstate("running"), OBS_CSTATE_RUNNING);
	assert_int_equal(sw_task_cstate("starting"), OBS_CSTATE_CREATED);
	assert_int_equal(sw_task_cstate("preparing"), OBS_CSTATE_CREATED);
	assert_int_equal(sw_task_cstate("failed"), OBS_CSTATE_EXITED);
	assert_int_equal(sw_task_cstate("shutdown"), OBS_CSTATE_EXITED);
	assert_int_equal(sw_task_cstate(NULL), OBS_CSTATE_UNKNOWN);

	struct bg_diag d;
	bg_diag_init(&d);
	struct json_object *bad = J("{\"ID\": \"x\", \"Spec\": {\"Name\": \"n\"}}");
	obs_init(&o);
	assert_int_equal(sw_parse_service(bad, NULL, NULL, &o, &d), BG_EPARSE);
	assert_int_equal(o.n_containers, 0);
	assert_true(d.n > 0);
	obs_release(&o);
	bg_diag_release(&d);
	json_object_put(bad);
}

/* Scaled by hand above its slots (3 slots, 4 replicas): slot 4 is shown too. */
static void test_scaled_above_slots(void **state)
{
	(void)state;
	char *doc = bg_xstrdup(SVC);
	char *r = strstr(doc, "\"Replicas\": 2");
	r[12] = '4';
	struct json_object *svc = J(doc);
	struct json_object *tasks = J("[" TASK("t4", 4, 20, "running", "running", 30009, "")
			"]");
	struct obs o;
	obs_init(&o);
	assert_int_equal(sw_parse_service(svc, tasks, NULL, &o, NULL), 0);
	assert_int_equal(o.n_containers, 4);
	assert_string_equal(o.containers[3].name, "shop-blue-4");
	assert_int_equal(o.containers[3].replica, 4);
	assert_int_equal(o.containers[3].state, OBS_CSTATE_RUNNING);
	obs_release(&o);
	json_object_put(svc);
	json_object_put(tasks);
	free(doc);
}

static bool accept_json(const char *text, struct dk_event *e, char *buf, size_t len)
{
	struct json_object *j = J(text);
	assert_int_equal(dk_parse_event(j, e, NULL), 0);
	bool in = sw_event_accept(j, e, buf, len);
	/* e's strings point into j or buf: copy what the caller checks. */
	static char name[128], id[128], change[256];
	snprintf(name, sizeof(name), "%s", e->name ? e->name : "");
	snprintf(id, sizeof(id), "%s", e->id ? e->id : "");
	snprintf(change, sizeof(change), "%s", e->change ? e->change : "");
	e->name = name;
	e->id = id;
	e->change = change;
	json_object_put(j);
	return in;
}

/* The daemon's scope on a swarm (sw-events.c): tasks named as replicas,
 * service and node changes worded, unmanaged containers out. */
static void test_event_scope(void **state)
{
	(void)state;
	struct dk_event e;
	char buf[512];
	assert_true(accept_json("{\"Type\": \"container\", \"Action\": \"die\", \"Actor\": {"
			"\"ID\": \"c1\", \"Attributes\": {\"io.bluegreen.managed\": \"true\", "
			"\"io.bluegreen.role\": \"colour\", \"exitCode\": \"137\", "
			"\"com.docker.swarm.service.name\": \"shop-blue\", "
			"\"com.docker.swarm.service.id\": \"svc1\", "
			"\"com.docker.swarm.task.name\": \"shop-blue.3.abc\", "
			"\"name\": \"shop-blue.3.abc\"}}}", &e, buf, sizeof(buf)));
	assert_int_equal(e.type, DK_EVENT_CONTAINER);
	assert_string_equal(e.name, "shop-blue-3");
	assert_string_equal(e.id, "svc1.3");
	assert_int_equal(e.exit_code, 137);
	assert_false(accept_json("{\"Type\": \"container\", \"Action\": \"die\", \"Actor\": {"
			"\"ID\": \"c2\", \"Attributes\": {\"name\": \"other\"}}}", &e, buf,
			sizeof(buf)));
	assert_true(accept_json("{\"Type\": \"service\", \"Action\": \"update\", \"Actor\": {"
			"\"ID\": \"svc1\", \"Attributes\": {\"name\": \"shop-blue\", "
			"\"replicas.old\": \"3\", \"replicas.new\": \"2\"}}}", &e, buf, sizeof(buf)));
	assert_int_equal(e.type, DK_EVENT_SERVICE);
	assert_string_equal(e.name, "shop-blue");
	assert_string_equal(e.change, "replicas 3 -> 2");
	assert_true(accept_json("{\"Type\": \"node\", \"Action\": \"update\", \"Actor\": {"
			"\"ID\": \"n1\", \"Attributes\": {\"name\": \"vm\", \"availability.old\": "
			"\"active\", \"availability.new\": \"drain\"}}}", &e, buf, sizeof(buf)));
	assert_int_equal(e.type, DK_EVENT_NODE);
	assert_string_equal(e.change, "availability active -> drain");
	assert_false(accept_json("{\"Type\": \"plugin\", \"Action\": \"enable\", \"Actor\": {"
			"\"ID\": \"p\"}}", &e, buf, sizeof(buf)));
	const struct rt_watch_rule *rule = sw_watch_rule(NULL);
	assert_true(rule->relist);
	assert_non_null(strstr(rule->events_query, "%22service%22"));
}

/* A fixture of test/fixtures/swarm/, parsed. */
static struct json_object *fixture(const char *name)
{
	char *rel = bg_xasprintf("test/fixtures/swarm/%s", name);
	char *path = th_src_path(rel);
	char *text = th_read(path);
	assert_non_null(text);
	struct json_object *j = J(text);
	free(text);
	free(path);
	free(rel);
	return j;
}

/* The services of the capture (4 replicas, 4 slots each). */
#define BLUE_ID "vu9479u290xp1nu0qz2xqnb38"
#define GREEN_ID "fg53kssaexxzv3gf4s1ctwuuj"

static struct json_object *drain_service(const char *id, const char *colour)
{
	char *doc = bg_xasprintf("{\"ID\": \"%s\", \"Spec\": {\"Name\": \"tab4318-swarm2-%s\", "
			"\"Labels\": {\"io.bluegreen.managed\": \"true\", \"io.bluegreen.role\": "
			"\"colour\", \"io.bluegreen.swarm.slots\": \"4\"}, \"TaskTemplate\": {"
			"\"ContainerSpec\": {\"Image\": \"bluegreen-test/swarm-web:v1\", \"Labels\": {"
			"\"io.bluegreen.managed\": \"true\", \"io.bluegreen.role\": \"colour\", "
			"\"io.bluegreen.colour\": \"%s\"}}}, \"Mode\": {\"Replicated\": {"
			"\"Replicas\": 4}}}}", id, colour, colour);
	struct json_object *j = J(doc);
	free(doc);
	return j;
}

/* The presented states of a colour's 4 slots, as "RCRC" (Running, Created, ...). */
static void states_are(struct json_object *tasks, struct json_object *nodes, const char *id,
		const char *colour, const char *want)
{
	struct json_object *svc = drain_service(id, colour);
	struct obs o;
	char got[8] = "";
	obs_init(&o);
	assert_int_equal(sw_parse_service(svc, tasks, nodes, &o, NULL), 0);
	assert_int_equal(o.n_containers, 4);
	for (size_t i = 0; i < 4; i++) {
		const struct obs_container *c = &o.containers[i];
		got[i] = c->state == OBS_CSTATE_RUNNING ? 'R' : c->state == OBS_CSTATE_CREATED ? 'C'
				: 'X';
		/* Every slot's task is the manager's (vm): the drained node's are old. */
		assert_string_equal(obs_labels_get(&c->labels, SW_LABEL_NODE), "vm");
		/* No upstream port before the task runs. */
		assert_true((c->state == OBS_CSTATE_RUNNING) ==
				(obs_labels_get(&c->labels, BG_LABEL_HOSTPORT) != NULL));
	}
	assert_string_equal(got, want);
	obs_release(&o);
	json_object_put(svc);
}

/*
 * The second node drained (t-swarm-2node, captured): blue's slots 2 and 4
 * each have the drained node's task (desired shutdown, still running) and
 * its replacement on vm (desired "ready", held until the old one stops).
 * The slot is not up yet, and a start must wait: the bug was a start that
 * counted the old task as the slot's and returned at once, while observe
 * showed the replacement, "to start" in every plan.
 */
static void test_drain_held(void **state)
{
	(void)state;
	struct json_object *tasks = fixture("tasks-drain-held.json");
	struct json_object *nodes = fixture("nodes-drain.json");
	char *why = NULL;

	states_are(tasks, nodes, BLUE_ID, "blue", "RCRC");
	assert_int_equal(sw_tasks_pending(tasks, BLUE_ID, -4, &why), 2);
	assert_int_equal(sw_tasks_pending(tasks, BLUE_ID, -3, NULL), 1);
	assert_int_equal(sw_tasks_pending(tasks, BLUE_ID, -1, NULL), 0);
	/* Green: 1 runs, 2 held, 3 starting, 4 has no task yet. */
	assert_int_equal(sw_tasks_pending(tasks, GREEN_ID, -4, NULL), 3);
	assert_int_equal(sw_tasks_pending(tasks, GREEN_ID, -1, NULL), 0);
	/* A stop to 1 replica still waits for the 5 tasks above slot 1 that run. */
	assert_int_equal(sw_tasks_pending(tasks, BLUE_ID, 1, NULL), 5);
	json_object_put(tasks);

	/* Green's replacement starting (its old task has stopped); blue's still held. */
	tasks = fixture("tasks-drain-starting.json");
	states_are(tasks, nodes, BLUE_ID, "blue", "RCRC");
	assert_int_equal(sw_tasks_pending(tasks, BLUE_ID, -4, NULL), 2);
	assert_int_equal(sw_tasks_pending(tasks, GREEN_ID, -4, NULL), 2);
	json_object_put(tasks);

	/* Settled: every slot's newest task runs on vm, the old ones ended
	 * (one failed with an error, which a start that timed out would say). */
	tasks = fixture("tasks-drain-settled.json");
	states_are(tasks, nodes, BLUE_ID, "blue", "RRRR");
	states_are(tasks, nodes, GREEN_ID, "green", "RRRR");
	assert_int_equal(sw_tasks_pending(tasks, BLUE_ID, -4, &why), 0);
	assert_int_equal(sw_tasks_pending(tasks, GREEN_ID, -4, NULL), 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "unknown network"));
	free(why);
	json_object_put(tasks);
	json_object_put(nodes);
}

/*
 * The newest by creation, not by version (every status update bumps the
 * version); CreatedAt's fraction compared as a number (Go trims zeros).
 */
static void test_slot_task_newest(void **state)
{
	(void)state;
	struct json_object *tasks = J("["
		"{\"ID\": \"old\", \"ServiceID\": \"s\", \"Slot\": 1, \"Version\": {\"Index\": 90}, "
		"\"CreatedAt\": \"2026-12-07T11:02:45.267Z\", \"DesiredState\": \"running\"},"
		"{\"ID\": \"new\", \"ServiceID\": \"s\", \"Slot\": 1, \"Version\": {\"Index\": 80}, "
		"\"CreatedAt\": \"2026-12-07T11:02:45.2671Z\", \"DesiredState\": \"ready\"},"
		"{\"ID\": \"gone\", \"ServiceID\": \"s\", \"Slot\": 1, \"Version\": {\"Index\": 99}, "
		"\"CreatedAt\": \"2026-12-07T11:03:00Z\", \"DesiredState\": \"shutdown\"},"
		"{\"ID\": \"a\", \"ServiceID\": \"s\", \"Slot\": 2, \"Version\": {\"Index\": 5}, "
		"\"CreatedAt\": \"2026-12-07T11:00:00Z\", \"DesiredState\": \"shutdown\"},"
		"{\"ID\": \"b\", \"ServiceID\": \"s\", \"Slot\": 2, \"Version\": {\"Index\": 9}, "
		"\"CreatedAt\": \"2026-12-07T10:59:59.5Z\", \"DesiredState\": \"remove\"}]");
	assert_string_equal(dk__jstr(sw_slot_task(tasks, "s", 1), "ID"), "new");
	assert_string_equal(dk__jstr(sw_slot_task(tasks, "s", 0), "ID"), "new");
	/* None meant to run: the newest all the same. */
	assert_string_equal(dk__jstr(sw_slot_task(tasks, "s", 2), "ID"), "a");
	assert_null(sw_slot_task(tasks, "s", 3));
	assert_null(sw_slot_task(tasks, "t", 1));
	assert_null(sw_slot_task(NULL, "s", 1));
	assert_int_equal(sw_tasks_pending(tasks, "s", -3, NULL), 3); /* none runs */
	json_object_put(tasks);
}

/*
 * The gate's probe address (RT_LABEL_PROBE) of a service that publishes
 * its port: where the edge reaches the task (this node: 127.0.0.1, another
 * node: its address), and none until Swarm reports the task running. A
 * service without a published port gets no label (the gate as before).
 */
static void test_probe_address(void **state)
{
	(void)state;
	char *doc = bg_xstrdup(SVC);
	char *mode = strstr(doc, "\"Mode\"");
	/* SVC with a published port (as svc_create makes it with the nginx edge). */
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_addf(&b, "%.*s\"EndpointSpec\": {\"Ports\": [{\"TargetPort\": 8080, "
			"\"PublishMode\": \"host\"}]}, %s", (int)(mode - doc), doc, mode);
	struct json_object *svc = J(b.data);
	struct json_object *plain = J(SVC);
	struct json_object *tasks = J("["
		TASK("t1", 1, 10, "running", "running", 30001, "") ","
		TASK("t2", 2, 12, "running", "starting", 30003, "") "]");
	struct obs o;
	obs_init(&o);
	assert_int_equal(sw_parse_service(svc, tasks, NULL, &o, NULL), 0);
	assert_int_equal(o.n_containers, 3);
	struct obs_container *c = &o.containers[0];
	assert_string_equal(obs_labels_get(&c->labels, RT_LABEL_PROBE), "");
	sw_probe_fill(c);
	assert_string_equal(obs_labels_get(&c->labels, RT_LABEL_PROBE), "127.0.0.1:30001");
	obs_labels_set(&c->labels, BG_LABEL_HOSTADDR, "10.250.31.2"); /* on another node */
	sw_probe_fill(c);
	assert_string_equal(obs_labels_get(&c->labels, RT_LABEL_PROBE), "10.250.31.2:30001");
	obs_labels_set(&c->labels, BG_LABEL_HOSTADDR, "fd00::2");
	sw_probe_fill(c);
	assert_string_equal(obs_labels_get(&c->labels, RT_LABEL_PROBE), "[fd00::2]:30001");
	for (size_t i = 1; i < 3; i++) { /* starting; stopped (slot 3 > replicas) */
		c = &o.containers[i];
		sw_probe_fill(c);
		assert_string_equal(obs_labels_get(&c->labels, RT_LABEL_PROBE), "");
	}
	obs_release(&o);

	obs_init(&o);
	assert_int_equal(sw_parse_service(plain, tasks, NULL, &o, NULL), 0);
	sw_probe_fill(&o.containers[0]);
	assert_null(obs_labels_get(&o.containers[0].labels, RT_LABEL_PROBE));
	obs_release(&o);
	json_object_put(svc);
	json_object_put(plain);
	json_object_put(tasks);
	bg_buf_release(&b);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_split),
		cmocka_unit_test(test_present_service),
		cmocka_unit_test(test_backing_service_and_states),
		cmocka_unit_test(test_scaled_above_slots),
		cmocka_unit_test(test_event_scope),
		cmocka_unit_test(test_drain_held),
		cmocka_unit_test(test_slot_task_newest),
		cmocka_unit_test(test_probe_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
