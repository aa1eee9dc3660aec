/*
 * sw-events: how the watch daemon follows a Swarm (issue 17, rt.h's
 * struct rt_watch_rule). The daemon's stream subscribes to the events of
 * type service and node besides the engine's container, network and
 * volume ones; a task's container event is named as the planner sees the
 * task (SITE-blue-3, id SERVICEID.3, as sw-parse.c presents it), and
 * service and node events say what changed ("replicas 3 -> 2",
 * "availability active -> drain"). The rule says relist: a presented
 * container is made of a service, its tasks and its node, none of which
 * one container inspect can show, so every event re-observes through
 * rt_observe. Pure: JSON in, struct dk_event out (the unit test's too).
 */
#include "bg.h"
#include "sw.h"
#include "dk-json.h"

/* dk_events_query's types and actions, with service and node, whose
 * events are create, update and remove. */
#define SW_EVENTS_QUERY                                                         \
	"?filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%2C"        \
	"%22volume%22%2C%22service%22%2C%22node%22%5D%2C%22event%22%3A%5B"      \
	"%22create%22%2C%22start%22%2C%22restart%22%2C%22die%22%2C"             \
	"%22destroy%22%2C%22pause%22%2C%22unpause%22%2C%22rename%22%2C"         \
	"%22health_status%22%2C%22oom%22%2C%22update%22%2C%22connect%22%2C"     \
	"%22disconnect%22%2C%22remove%22%5D%7D"

/* Append "WHAT OLD -> NEW" for attrs' "KEY.old"/"KEY.new", if present. */
static void change_add(struct json_object *attrs, const char *key, const char *what,
		char *buf, size_t len, size_t *at)
{
	char k[64];
	snprintf(k, sizeof(k), "%s.old", key);
	const char *o = dk__jstr(attrs, k);
	snprintf(k, sizeof(k), "%s.new", key);
	const char *n = dk__jstr(attrs, k);
	if (!n || *at >= len) {
		return;
	}
	int w = snprintf(buf + *at, len - *at, "%s%s %s -> %s", *at ? ", " : "", what,
			o ? o : "?", n);
	*at = w < 0 || (size_t)w >= len - *at ? len - 1 : *at + (size_t)w;
}

/* A task's container: its presented name and id (sw_parse_service's). */
static bool task_present(struct json_object *attrs, struct dk_event *e, char *buf,
		size_t len)
{
	const char *svc = dk__jstr(attrs, "com.docker.swarm.service.name");
	const char *sid = dk__jstr(attrs, "com.docker.swarm.service.id");
	const char *task = dk__jstr(attrs, "com.docker.swarm.task.name");
	if (!svc || !sid || !task) {
		return true; /* a managed container of the engine's own (a helper) */
	}
	size_t sl = strlen(svc);
	unsigned long slot = 0;
	if (strncmp(task, svc, sl) == 0 && task[sl] == '.') {
		slot = strtoul(task + sl + 1, NULL, 10);
	}
	bool colour = e->role && strcmp(e->role, "colour") == 0;
	size_t half = len / 2;
	if (!colour) {
		slot = 0;
	}
	if (slot > 1) {
		snprintf(buf, half, "%s-%lu", svc, slot);
	} else {
		snprintf(buf, half, "%s", svc);
	}
	snprintf(buf + half, len - half, "%s.%lu", sid, colour ? (slot ? slot : 1) : 0);
	e->name = buf;
	e->id = buf + half;
	return true;
}

bool sw_event_accept(struct json_object *raw, struct dk_event *e, char *buf, size_t len)
{
	const char *type = dk__jstr(raw, "Type");
	struct json_object *attrs = dk__jget(dk__jget(raw, "Actor", json_type_object),
			"Attributes", json_type_object);
	size_t at = 0;

	if (!type || len < 64) {
		return false;
	}
	switch (e->type) {
	case DK_EVENT_CONTAINER:
		return e->managed && task_present(attrs, e, buf, len);
	case DK_EVENT_NETWORK:
	case DK_EVENT_VOLUME:
		return true;
	default:
		break;
	}
	if (strcmp(type, "service") == 0) {
		e->type = DK_EVENT_SERVICE;
		change_add(attrs, "replicas", "replicas", buf, len, &at);
		change_add(attrs, "updatestate", "update", buf, len, &at);
		if (dk__jstr(attrs, "image.new") && at + 20 < len) {
			snprintf(buf + at, len - at, "%simage changed", at ? ", " : "");
			at = strlen(buf);
		}
	} else if (strcmp(type, "node") == 0) {
		e->type = DK_EVENT_NODE;
		change_add(attrs, "availability", "availability", buf, len, &at);
		change_add(attrs, "state", "state", buf, len, &at);
		change_add(attrs, "role", "role", buf, len, &at);
	} else {
		return false;
	}
	e->change = at ? buf : NULL;
	return true;
}

static const struct rt_watch_rule sw_rule = {
	.events_query = SW_EVENTS_QUERY,
	.accept = sw_event_accept,
	.relist = true,
};

const struct rt_watch_rule *sw_watch_rule(const struct rt *rt)
{
	(void)rt;
	return &sw_rule;
}
