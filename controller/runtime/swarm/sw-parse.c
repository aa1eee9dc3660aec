/*
 * sw-parse: how the swarm runtime presents a service and its tasks as the
 * containers the planner knows (ADR "Swarm first"). Pure: JSON documents
 * of the Engine API in, obs_containers out, so the unit test and a
 * snapshot of a swarm plan exactly as the live runtime does.
 */
#include "bg.h"
#include "sw.h"
#include "dk-json.h"

#include <ctype.h>

/* Does name[0..len) end in "-blue" or "-green"? */
static bool colour_suffix(const char *name, size_t len)
{
	return (len > 5 && strncmp(name + len - 5, "-blue", 5) == 0) ||
			(len > 6 && strncmp(name + len - 6, "-green", 6) == 0);
}

void sw_name_split(const char *name, char **svc, unsigned *slot)
{
	const char *dash = strrchr(name, '-');
	*slot = 0;
	/* Replica 1 is SITE-COLOUR itself (des_colour_container_name). */
	if (colour_suffix(name, strlen(name))) {
		*slot = 1;
		*svc = bg_xstrdup(name);
		return;
	}
	if (dash && dash[1] && dash > name) {
		char *end = NULL;
		unsigned long n = strtoul(dash + 1, &end, 10);
		size_t plen = (size_t)(dash - name);
		/* Only SITE-blue-N and SITE-green-N are replicas: a service may end in digits. */
		if (colour_suffix(name, plen) && end && !*end && isdigit((unsigned char)dash[1]) &&
				n >= 2 && n <= 1000) {
			*slot = (unsigned)n;
			*svc = bg_xstrndup(name, plen);
			return;
		}
	}
	*svc = bg_xstrdup(name);
}

enum obs_cstate sw_task_cstate(const char *state)
{
	static const char *const created[] = {"new", "allocated", "pending", "assigned",
			"accepted", "preparing", "ready", "starting", NULL};
	if (!state) {
		return OBS_CSTATE_UNKNOWN;
	}
	if (strcmp(state, "running") == 0) {
		return OBS_CSTATE_RUNNING;
	}
	for (size_t i = 0; created[i]; i++) {
		if (strcmp(state, created[i]) == 0) {
			return OBS_CSTATE_CREATED;
		}
	}
	if (strcmp(state, "remove") == 0) {
		return OBS_CSTATE_REMOVING;
	}
	/* complete, shutdown, failed, rejected, orphaned: it ran and ended. */
	return OBS_CSTATE_EXITED;
}

static int64_t task_index(struct json_object *t)
{
	int64_t v = 0;
	dk__jint(dk__jget(t, "Version", json_type_object), "Index", &v);
	return v;
}

/*
 * A sortable key of the task's CreatedAt ("2026-12-07T11:02:45.2671Z":
 * the seconds as written, the fraction padded to 9 digits, since Go trims
 * its trailing zeros). Not Version.Index: every status update bumps it, so
 * a task replaced on a drained node, reporting its shutdown, looks newer
 * than its replacement.
 */
static void task_created(struct json_object *t, char key[32])
{
	const char *c = dk__jstr(t, "CreatedAt");
	size_t n = c ? strlen(c) : 0;
	memset(key, '0', 31);
	key[31] = '\0';
	if (n < 19) {
		return;
	}
	memcpy(key, c, 19);
	for (size_t i = 0; i < 9 && c[19] == '.' && isdigit((unsigned char)c[20 + i]); i++) {
		key[19 + i] = c[20 + i];
	}
}

/* Is a newer than b (created later; the same instant: the higher version)? */
static bool task_newer(struct json_object *a, struct json_object *b)
{
	char ka[32], kb[32];
	task_created(a, ka);
	task_created(b, kb);
	int cmp = strcmp(ka, kb);
	return cmp > 0 || (cmp == 0 && task_index(a) > task_index(b));
}

/*
 * Meant to run: desired "running", or "ready", which is how Swarm holds a
 * replacement (a drained node's task, a failed one) until the task it
 * replaces has stopped.
 */
static bool task_meant_to_run(struct json_object *t)
{
	const char *want = dk__jstr(t, "DesiredState");
	return want && (strcmp(want, "running") == 0 || strcmp(want, "ready") == 0);
}

struct json_object *sw_slot_task(struct json_object *tasks, const char *svc_id, unsigned slot)
{
	struct json_object *best = NULL, *best_any = NULL;
	size_t n = tasks && svc_id && json_object_is_type(tasks, json_type_array)
			? json_object_array_length(tasks) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i);
		const char *sid = dk__jstr(t, "ServiceID");
		int64_t s = 0;
		if (!sid || strcmp(sid, svc_id) != 0 || !dk__jint(t, "Slot", &s) ||
				s != (int64_t)(slot ? slot : 1)) {
			continue;
		}
		if (task_meant_to_run(t) && (!best || task_newer(t, best))) {
			best = t;
		}
		if (!best_any || task_newer(t, best_any)) {
			best_any = t;
		}
	}
	return best ? best : best_any;
}

int sw_tasks_pending(struct json_object *tasks, const char *svc_id, int keep, char **why)
{
	size_t nt = tasks && svc_id && json_object_is_type(tasks, json_type_array)
			? json_object_array_length(tasks) : 0;
	int n = 0;
	for (size_t i = 0; keep >= 0 && i < nt; i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i);
		const char *sid = dk__jstr(t, "ServiceID");
		int64_t sl = 0;
		if (sid && strcmp(sid, svc_id) == 0 && dk__jint(t, "Slot", &sl) && sl > keep &&
				sw_task_cstate(dk__jstr(dk__jget(t, "Status", json_type_object),
						"State")) != OBS_CSTATE_EXITED) {
			n++;
		}
	}
	/* A slot is up when the task that stands for it (as observe presents
	 * it) runs, not when any task of it does: the old task of a drained
	 * node runs on until its replacement may start. */
	for (int slot = 1; keep < 0 && slot <= -keep; slot++) {
		struct json_object *t = sw_slot_task(tasks, svc_id, (unsigned)slot);
		n += !t || sw_task_cstate(dk__jstr(dk__jget(t, "Status", json_type_object),
				"State")) != OBS_CSTATE_RUNNING;
	}
	for (size_t i = 0; why && i < nt; i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i);
		const char *sid = dk__jstr(t, "ServiceID");
		const char *e = dk__jstr(dk__jget(t, "Status", json_type_object), "Err");
		if (sid && strcmp(sid, svc_id) == 0 && e && *e) {
			free(*why);
			*why = bg_xstrdup(e);
		}
	}
	return n;
}

static const char *node_name(struct json_object *nodes, const char *id)
{
	size_t n = nodes && json_object_is_type(nodes, json_type_array)
			? json_object_array_length(nodes) : 0;
	for (size_t i = 0; id && i < n; i++) {
		struct json_object *nd = json_object_array_get_idx(nodes, i);
		const char *nid = dk__jstr(nd, "ID");
		if (nid && strcmp(nid, id) == 0) {
			const char *h = dk__jstr(dk__jget(nd, "Description", json_type_object),
					"Hostname");
			return h ? h : id;
		}
	}
	return id;
}

/* The node's address as Swarm has it, NULL when unknown or unspecified. */
static const char *node_addr(struct json_object *nodes, const char *id)
{
	size_t n = nodes && json_object_is_type(nodes, json_type_array)
			? json_object_array_length(nodes) : 0;
	for (size_t i = 0; id && i < n; i++) {
		struct json_object *nd = json_object_array_get_idx(nodes, i);
		const char *nid = dk__jstr(nd, "ID");
		if (nid && strcmp(nid, id) == 0) {
			const char *a = dk__jstr(dk__jget(nd, "Status", json_type_object), "Addr");
			return a && *a && strcmp(a, "0.0.0.0") != 0 ? a : NULL;
		}
	}
	return NULL;
}

/* The task's addresses on its networks ("10.0.1.5/24" -> "10.0.1.5"). */
static void task_nets(struct json_object *t, struct obs_container *c)
{
	struct json_object *na = dk__jget(t, "NetworksAttachments", json_type_array);
	size_t n = na ? json_object_array_length(na) : 0;
	c->nets = n ? bg_xcalloc(n, sizeof(*c->nets)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(na, i);
		struct json_object *spec = dk__jget(dk__jget(a, "Network", json_type_object),
				"Spec", json_type_object);
		const char *name = dk__jstr(spec, "Name");
		struct json_object *addrs = dk__jget(a, "Addresses", json_type_array);
		const char *ip = addrs && json_object_array_length(addrs)
				? json_object_get_string(json_object_array_get_idx(addrs, 0)) : "";
		if (!name || strcmp(name, "ingress") == 0) {
			continue;
		}
		struct obs_netaddr *x = &c->nets[c->n_nets++];
		x->network = bg_xstrdup(name);
		const char *slash = strchr(ip ? ip : "", '/');
		x->ip = slash ? bg_xstrndup(ip, (size_t)(slash - ip)) : bg_xstrdup(ip ? ip : "");
	}
	/* Sorted by network name, as the engine runtime's (obs.h). */
	for (size_t i = 1; i < c->n_nets; i++) {
		for (size_t j = i; j > 0 && strcmp(c->nets[j - 1].network, c->nets[j].network) > 0;
				j--) {
			struct obs_netaddr tmp = c->nets[j];
			c->nets[j] = c->nets[j - 1];
			c->nets[j - 1] = tmp;
		}
	}
}

/* The host port Swarm gave this task (PublishMode host), 0 if none. */
static int64_t task_port(struct json_object *t)
{
	struct json_object *ps = dk__jget(dk__jget(dk__jget(t, "Status", json_type_object),
			"PortStatus", json_type_object), "Ports", json_type_array);
	int64_t p = 0;
	if (ps && json_object_array_length(ps)) {
		dk__jint(json_object_array_get_idx(ps, 0), "PublishedPort", &p);
	}
	return p;
}

/* One presented container for slot (0: a backing service) of the service. */
static void present_slot(struct json_object *spec, struct json_object *t, const char *svc_id,
		unsigned slot, bool stopped, struct json_object *nodes, struct obs *o)
{
	struct json_object *cspec = dk__jget(dk__jget(spec, "TaskTemplate", json_type_object),
			"ContainerSpec", json_type_object);
	struct json_object *labels = dk__jget(cspec, "Labels", json_type_object);
	const char *name = dk__jstr(spec, "Name");
	struct obs_container *c = obs_container_add(o);
	char buf[32];

	c->name = slot > 1 ? bg_xasprintf("%s-%u", name, slot) : bg_xstrdup(name);
	c->id = bg_xasprintf("%s.%u", svc_id, slot);
	const char *img = dk__jstr(cspec, "Image");
	const char *at = img ? strstr(img, "@sha256:") : NULL;
	c->image = at ? bg_xstrndup(img, (size_t)(at - img)) : bg_xstrdup(img ? img : "");
	if (labels) { /* json-c's foreach does not take NULL */
		json_object_object_foreach(labels, k, v) {
			if (json_object_is_type(v, json_type_string) &&
					strcmp(k, BG_LABEL_HOSTPORT) != 0) {
				obs_labels_set(&c->labels, k, json_object_get_string(v));
			}
		}
	}
	if (slot) {
		snprintf(buf, sizeof(buf), "%u", slot);
		obs_labels_set(&c->labels, BG_LABEL_REPLICA, buf);
	}
	struct json_object *eps = dk__jget(dk__jget(spec, "EndpointSpec", json_type_object),
			"Ports", json_type_array);
	if (eps && json_object_array_length(eps)) {
		obs_labels_set(&c->labels, RT_LABEL_PROBE, ""); /* sw_probe_fill: where */
	}
	struct json_object *st = dk__jget(t, "Status", json_type_object);
	if (stopped || !t) {
		c->state = stopped ? OBS_CSTATE_EXITED : OBS_CSTATE_CREATED;
	} else {
		c->state = sw_task_cstate(dk__jstr(st, "State"));
		int64_t code = 0;
		if (dk__jint(dk__jget(st, "ContainerStatus", json_type_object), "ExitCode",
				&code)) {
			c->exit_code = (int)code;
		}
		int64_t port = task_port(t);
		if (port > 0 && c->state == OBS_CSTATE_RUNNING) {
			snprintf(buf, sizeof(buf), "%" PRId64, port);
			obs_labels_set(&c->labels, BG_LABEL_HOSTPORT, buf);
		}
		obs_labels_set(&c->labels, SW_LABEL_NODE, node_name(nodes, dk__jstr(t, "NodeID")));
		const char *addr = node_addr(nodes, dk__jstr(t, "NodeID"));
		if (addr) {
			obs_labels_set(&c->labels, SW_LABEL_NODEADDR, addr);
		}
		const char *cid = dk__jstr(dk__jget(st, "ContainerStatus", json_type_object),
				"ContainerID");
		if (cid && *cid) {
			obs_labels_set(&c->labels, SW_LABEL_CONTAINER, cid);
		}
		task_nets(t, c);
	}
	obs_container_derive(c);
}

int sw_parse_service(struct json_object *svc, struct json_object *tasks,
		struct json_object *nodes, struct obs *o, struct bg_diag *d)
{
	const char *id = dk__jstr(svc, "ID");
	struct json_object *spec = dk__jget(svc, "Spec", json_type_object);
	struct json_object *labels = dk__jget(spec, "Labels", json_type_object);
	struct json_object *rep = dk__jget(dk__jget(spec, "Mode", json_type_object),
			"Replicated", json_type_object);
	int64_t replicas = 0;

	if (!id || !spec || !dk__jstr(spec, "Name") || !rep) {
		dk__error(d, "swarm: a service document without ID, Spec.Name or "
				"Mode.Replicated");
		return BG_EPARSE;
	}
	dk__jint(rep, "Replicas", &replicas);
	const char *slots_s = dk__jstr(labels, SW_LABEL_SLOTS);
	const char *role = dk__jstr(labels, BG_LABEL_ROLE);
	unsigned slots = slots_s ? (unsigned)strtoul(slots_s, NULL, 10) : 0;
	bool colour = role && strcmp(role, "colour") == 0;

	if (!colour) { /* a backing service: one container of its own name */
		present_slot(spec, sw_slot_task(tasks, id, 0), id, 0, replicas < 1, nodes, o);
		return 0;
	}
	/* A service scaled by hand above its slots shows its extra tasks too:
	 * the planner sees replicas beyond the count, and plans them away. */
	unsigned last = replicas > (int64_t)slots && replicas <= 1000 ? (unsigned)replicas : slots;
	for (unsigned s = 1; s <= last && s <= 1000; s++) {
		bool stopped = (int64_t)s > replicas;
		present_slot(spec, stopped ? NULL : sw_slot_task(tasks, id, s), id, s, stopped, nodes,
				o);
	}
	return 0;
}

void sw_probe_fill(struct obs_container *c)
{
	const char *port = obs_labels_get(&c->labels, BG_LABEL_HOSTPORT);
	const char *addr = obs_labels_get(&c->labels, BG_LABEL_HOSTADDR);
	if (!obs_labels_get(&c->labels, RT_LABEL_PROBE)) {
		return; /* publishes no port: the gate probes its address as before */
	}
	if (c->state != OBS_CSTATE_RUNNING || !port || !*port) {
		obs_labels_set(&c->labels, RT_LABEL_PROBE, ""); /* Swarm's state first */
		return;
	}
	if (!addr || !*addr) {
		addr = "127.0.0.1"; /* on this node, where the edge reaches it too */
	}
	char *v = bg_xasprintf(strchr(addr, ':') ? "[%s]:%s" : "%s:%s", addr, port);
	obs_labels_set(&c->labels, RT_LABEL_PROBE, v);
	free(v);
}
