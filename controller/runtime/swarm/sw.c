/*
 * sw: the Swarm runtime's table (sw.h). Services are created, scaled and
 * removed through the Engine API's /services; tasks and nodes are read
 * from /tasks and /nodes and presented as containers by sw-parse.c. What
 * is not about a colour's replicas (images, volumes, events, the engine's
 * version) and what needs a task's container (logs, exec, stats, the run
 * state) goes to the engine runtime this one holds, for tasks on this
 * node. Only services labelled io.bluegreen.managed=true are touched.
 */
#include "bg.h"
#include "sw.h"
#include "dk-json.h"

#include <ctype.h>
#include <time.h>

struct rt_swarm {
	struct rt base; /* first */
	struct rt *engine; /* the engine runtime on the same socket */
	struct dk_client *dk;
};

/* The engine runtime's table, for events_close (it gets no struct rt). */
static const struct rt_impl *engine_impl;

static struct rt_swarm *sw_of(struct rt *rt)
{
	return (struct rt_swarm *)rt;
}

static char *esc(const char *s)
{
	struct bg_buf b = BG_BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p)) {
			bg_buf_addch(&b, (char)*p);
		} else {
			bg_buf_addf(&b, "%%%02X", *p);
		}
	}
	if (!b.data) {
		return bg_xstrdup("");
	}
	return bg_buf_detach(&b, NULL);
}

/* GET /services/REF of a managed service (a new reference), BG_ENOT_FOUND otherwise. */
static int service_get(struct rt_swarm *s, const char *ref, struct json_object **out,
		struct bg_diag *d)
{
	char *e = esc(ref), *path = bg_xasprintf("/services/%s", e);
	struct bg_diag dd;
	struct json_object *j = NULL;
	bg_diag_init(&dd);
	int err = dk_request(s->dk, "GET", path, NULL, NULL, &j, &dd);
	struct json_object *labels = dk__jget(dk__jget(j, "Spec", json_type_object), "Labels",
			json_type_object);
	if (!err && !dk_labels_managed(labels)) {
		err = BG_ENOT_FOUND; /* someone else's service: never touched (SPEC §4) */
	}
	if (err && err != BG_ENOT_FOUND) {
		bg_diag_merge(d, &dd);
	}
	if (err) {
		json_object_put(j);
		j = NULL;
	}
	*out = j;
	bg_diag_release(&dd);
	free(path);
	free(e);
	return err;
}

/* Which service and slot a presented name or id stands for ("SVCID.SLOT",
 * "SITE-blue-2", a backing service's name). */
static int resolve(struct rt_swarm *s, const char *ref, struct json_object **svc,
		unsigned *slot, struct bg_diag *d)
{
	char *name = NULL;
	const char *dot = strrchr(ref, '.');
	if (dot && strspn(dot + 1, "0123456789") == strlen(dot + 1) && dot[1]) {
		name = bg_xstrndup(ref, (size_t)(dot - ref));
		*slot = (unsigned)strtoul(dot + 1, NULL, 10);
	} else {
		sw_name_split(ref, &name, slot);
	}
	int err = service_get(s, name, svc, d);
	free(name);
	return err;
}

static int64_t svc_version(struct json_object *svc)
{
	int64_t v = 0;
	dk__jint(dk__jget(svc, "Version", json_type_object), "Index", &v);
	return v;
}

static struct json_object *svc_spec(struct json_object *svc)
{
	return dk__jget(svc, "Spec", json_type_object);
}

static int64_t svc_replicas(struct json_object *svc)
{
	int64_t r = 0;
	dk__jint(dk__jget(dk__jget(svc_spec(svc), "Mode", json_type_object), "Replicated",
			json_type_object), "Replicas", &r);
	return r;
}

static unsigned svc_slots(struct json_object *svc)
{
	const char *v = dk__jstr(dk__jget(svc_spec(svc), "Labels", json_type_object),
			SW_LABEL_SLOTS);
	return v ? (unsigned)strtoul(v, NULL, 10) : 1;
}

/*
 * POST /services/ID/update with the (changed) spec of svc. Swarm's own
 * allocator bumps a new service's version right after its create (its
 * endpoint): "update out of sequence" is then retried at the version it
 * has now, with our spec (only the converger, under its lock, changes it).
 */
static int svc_update(struct rt_swarm *s, struct json_object *svc, struct bg_diag *d)
{
	char *e = esc(dk__jstr(svc, "ID"));
	int64_t version = svc_version(svc);
	int err = 0;
	for (int tries = 0; tries < 10; tries++) {
		struct bg_diag dd;
		bg_diag_init(&dd);
		char *path = bg_xasprintf("/services/%s/update?version=%" PRId64, e, version);
		err = dk_request(s->dk, "POST", path,
				json_object_to_json_string_ext(svc_spec(svc), JSON_C_TO_STRING_PLAIN),
				NULL, NULL, &dd);
		free(path);
		bool again = err && dd.n && strstr(dd.items[dd.n - 1].msg, "out of sequence");
		struct json_object *now = NULL;
		if (again) {
			path = bg_xasprintf("/services/%s", e);
			again = dk_request(s->dk, "GET", path, NULL, NULL, &now, NULL) == 0;
			version = svc_version(now);
			json_object_put(now);
			free(path);
		}
		if (!again) {
			bg_diag_merge(d, &dd);
			bg_diag_release(&dd);
			break;
		}
		bg_diag_release(&dd);
	}
	free(e);
	return err;
}

static void spec_set_replicas(struct json_object *svc, int64_t n)
{
	struct json_object *rep = dk__jget(dk__jget(svc_spec(svc), "Mode", json_type_object),
			"Replicated", json_type_object);
	json_object_object_add(rep, "Replicas", json_object_new_int64(n));
}

static void spec_set_slots(struct json_object *svc, unsigned n)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%u", n);
	json_object_object_add(dk__jget(svc_spec(svc), "Labels", json_type_object),
			SW_LABEL_SLOTS, json_object_new_string(buf));
}

/* ---- observation ---- */

static int get_list(struct rt_swarm *s, const char *path, struct json_object **out,
		struct bg_diag *d)
{
	int err = dk_request(s->dk, "GET", path, NULL, NULL, out, d);
	if (!err && !json_object_is_type(*out, json_type_array)) {
		dk__error(d, "swarm: GET %s did not answer a list", path);
		json_object_put(*out);
		*out = NULL;
		err = BG_EPARSE;
	}
	return err;
}

/* Does the image (as this engine has it, by the reference the service
 * runs) carry a HEALTHCHECK? */
static bool image_has_healthcheck(struct rt_swarm *s, const char *ref)
{
	char *e = esc(ref), *path = bg_xasprintf("/images/%s/json", e);
	struct json_object *j = NULL;
	bool has = false;
	if (dk_request(s->dk, "GET", path, NULL, NULL, &j, NULL) == 0) {
		struct json_object *t = dk__jget(dk__jget(dk__jget(j, "Config", json_type_object),
				"Healthcheck", json_type_object), "Test", json_type_array);
		const char *t0 = t && json_object_array_length(t)
				? json_object_get_string(json_object_array_get_idx(t, 0)) : NULL;
		has = t0 && strcmp(t0, "NONE") != 0;
	}
	json_object_put(j);
	free(path);
	free(e);
	return has;
}

/* A task on another node: reached at its node's address, and, as Swarm
 * reports a task with a HEALTHCHECK running only once it is healthy
 * (docs/swarm.md), healthy while it runs when its image has one. */
static void remote_facts(struct rt_swarm *s, struct obs_container *c)
{
	const char *addr = obs_labels_get(&c->labels, SW_LABEL_NODEADDR);
	if (addr) {
		obs_labels_set(&c->labels, BG_LABEL_HOSTADDR, addr);
	}
	if (c->state == OBS_CSTATE_RUNNING && c->image && image_has_healthcheck(s, c->image)) {
		c->health = OBS_HEALTH_HEALTHY;
	}
}

/* A task on this node: its container's health and image id, as the engine
 * has them. A task whose container this engine does not have runs on
 * another node: the edge reaches its host port at that node's address. */
static void local_facts(struct rt_swarm *s, struct obs *o, size_t from)
{
	for (size_t i = from; i < o->n_containers; i++) {
		struct obs_container *c = &o->containers[i];
		struct obs_container lc = {0};
		const char *cid = obs_labels_get(&c->labels, SW_LABEL_CONTAINER);
		int err = cid ? rt_inspect(s->engine, cid, &lc, NULL) : BG_ENOT_FOUND;
		if (!err) {
			c->health = lc.health;
			free(c->image_id);
			c->image_id = lc.image_id;
			lc.image_id = NULL;
		} else if (cid && err == BG_ENOT_FOUND) {
			remote_facts(s, c);
		}
		sw_probe_fill(c);
		obs_container_release(&lc);
	}
}

static int containers_observe(struct rt_swarm *s, struct obs *o, const char *only,
		struct bg_diag *d)
{
	struct json_object *svcs = NULL, *tasks = NULL, *nodes = NULL;
	int err = get_list(s, "/services?filters=%7B%22label%22%3A%5B%22io.bluegreen.managed"
			"%3Dtrue%22%5D%7D", &svcs, d);
	if (!err) {
		err = get_list(s, "/tasks", &tasks, d);
	}
	if (!err) {
		err = get_list(s, "/nodes", &nodes, d);
	}
	for (size_t i = 0; !err && i < json_object_array_length(svcs); i++) {
		struct json_object *v = json_object_array_get_idx(svcs, i);
		const char *name = dk__jstr(svc_spec(v), "Name");
		if (only && (!name || strcmp(name, only) != 0)) {
			continue;
		}
		size_t from = o->n_containers;
		err = sw_parse_service(v, tasks, nodes, o, d);
		if (!err) {
			local_facts(s, o, from);
			sw_secrets_observe(v, o, from); /* sw-secrets.c */
		}
	}
	json_object_put(svcs);
	json_object_put(tasks);
	json_object_put(nodes);
	return err;
}

static int sw_observe(struct rt *rt, struct obs *o, unsigned what, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	int err = rt_observe(s->engine, o, what & RT_ENGINE, d);
	if (!err && (what & RT_CONTAINERS)) {
		err = containers_observe(s, o, NULL, d);
	}
	if (!err && (what & (RT_NETWORKS | RT_VOLUMES))) {
		err = rt_observe(s->engine, o, what & (RT_NETWORKS | RT_VOLUMES), d);
	}
	return err;
}

/* One presented container by name or id (*c zeroed by the caller). */
static int sw_inspect(struct rt *rt, const char *id, struct obs_container *c,
		struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	struct json_object *svc = NULL;
	unsigned slot = 0;
	struct obs o;
	int err = resolve(s, id, &svc, &slot, d);
	if (err == BG_ENOT_FOUND) {
		dk__error(d, "no such container: %s", id);
		return err;
	}
	if (err) {
		return err;
	}
	obs_init(&o);
	err = containers_observe(s, &o, dk__jstr(svc_spec(svc), "Name"), d);
	err = err ? err : BG_ENOT_FOUND;
	for (size_t i = 0; err == BG_ENOT_FOUND && i < o.n_containers; i++) {
		struct obs_container *x = &o.containers[i];
		if (strcmp(x->name, id) == 0 || strcmp(x->id, id) == 0) {
			*c = *x; /* moved out: the derived pointers go with the labels */
			memset(x, 0, sizeof(*x));
			err = 0;
		}
	}
	if (err == BG_ENOT_FOUND) {
		dk__error(d, "no such container: %s", id);
	}
	obs_release(&o);
	json_object_put(svc);
	return err;
}

/* ---- actions on a colour's service ---- */

/* The labels a service and its tasks carry: the container's, but not the
 * replica's own (its slot says it) nor a host port (Swarm chooses it). */
static struct json_object *labels_json(const struct obs_labels *l)
{
	struct json_object *j = json_object_new_object();
	for (size_t i = 0; l && i < l->n; i++) {
		if (strcmp(l->v[i].key, BG_LABEL_REPLICA) != 0 &&
				strcmp(l->v[i].key, BG_LABEL_HOSTPORT) != 0) {
			json_object_object_add(j, l->v[i].key, json_object_new_string(l->v[i].value));
		}
	}
	return j;
}

static struct json_object *strv_json(char *const *v)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++) {
		json_object_array_add(a, json_object_new_string(v[i]));
	}
	return a;
}

static struct json_object *container_spec_json(const struct dk_container_spec *sp)
{
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "Image", json_object_new_string(sp->image));
	if (sp->cmd) {
		json_object_object_add(c, "Args", strv_json(sp->cmd));
	}
	json_object_object_add(c, "Env", strv_json(sp->env));
	json_object_object_add(c, "Labels", labels_json(sp->labels));
	struct json_object *mounts = json_object_new_array();
	for (size_t i = 0; i < sp->n_mounts; i++) {
		struct json_object *m = json_object_new_object();
		json_object_object_add(m, "Type", json_object_new_string("volume"));
		json_object_object_add(m, "Source", json_object_new_string(sp->mounts[i].volume));
		json_object_object_add(m, "Target", json_object_new_string(sp->mounts[i].target));
		json_object_array_add(mounts, m);
	}
	json_object_object_add(c, "Mounts", mounts);
	if (sp->stop_signal) {
		json_object_object_add(c, "StopSignal", json_object_new_string(sp->stop_signal));
	}
	if (sp->stop_timeout_s > 0) {
		json_object_object_add(c, "StopGracePeriod",
				json_object_new_int64((int64_t)sp->stop_timeout_s * 1000000000));
	}
	return c;
}

/* POST /services/create: the service of a colour (or a backing service) with
 * no task yet; start scales it. */
static int svc_create(struct rt_swarm *s, const char *name, unsigned slot,
		const struct dk_container_spec *sp, struct bg_diag *d)
{
	struct json_object *j = json_object_new_object(), *tt = json_object_new_object();
	json_object_object_add(j, "Name", json_object_new_string(name));
	struct json_object *labels = labels_json(sp->labels);
	char buf[16];
	snprintf(buf, sizeof(buf), "%u", slot ? slot : 1);
	json_object_object_add(labels, SW_LABEL_SLOTS, json_object_new_string(buf));
	json_object_object_add(j, "Labels", labels);
	json_object_object_add(tt, "ContainerSpec", container_spec_json(sp));
	struct json_object *lim = json_object_new_object(), *res = json_object_new_object();
	if (sp->nano_cpus) {
		json_object_object_add(lim, "NanoCPUs", json_object_new_int64((int64_t)sp->nano_cpus));
	}
	if (sp->memory_bytes) {
		json_object_object_add(lim, "MemoryBytes",
				json_object_new_int64((int64_t)sp->memory_bytes));
	}
	if (sp->pids_limit) {
		json_object_object_add(lim, "Pids", json_object_new_int64(sp->pids_limit));
	}
	json_object_object_add(res, "Limits", lim);
	json_object_object_add(tt, "Resources", res);
	struct json_object *rp = json_object_new_object();
	json_object_object_add(rp, "Condition", json_object_new_string("any"));
	json_object_object_add(rp, "Delay", json_object_new_int64(1000000000));
	json_object_object_add(tt, "RestartPolicy", rp);
	struct json_object *nets = json_object_new_array();
	if (sp->network) {
		struct json_object *n = json_object_new_object();
		json_object_object_add(n, "Target", json_object_new_string(sp->network));
		json_object_object_add(n, "Aliases", strv_json(sp->aliases));
		json_object_array_add(nets, n);
	}
	json_object_object_add(tt, "Networks", nets);
	json_object_object_add(j, "TaskTemplate", tt);
	struct json_object *mode = json_object_new_object(), *rep = json_object_new_object();
	json_object_object_add(rep, "Replicas", json_object_new_int64(0));
	json_object_object_add(mode, "Replicated", rep);
	json_object_object_add(j, "Mode", mode);
	if (sp->publish_port && sp->expose_port) {
		/* Host mode, no fixed port: each task its own port on its node
		 * (the ADR: nginx balances over tasks, no routing mesh). */
		struct json_object *ep = json_object_new_object(), *ports = json_object_new_array();
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "Protocol", json_object_new_string("tcp"));
		json_object_object_add(p, "TargetPort", json_object_new_int64(sp->expose_port));
		json_object_object_add(p, "PublishMode", json_object_new_string("host"));
		json_object_array_add(ports, p);
		json_object_object_add(ep, "Ports", ports);
		json_object_object_add(j, "EndpointSpec", ep);
	}
	int err = sw_secrets_attach(s->dk, sp, dk__jget(tt, "ContainerSpec", json_type_object), d);
	err = err ? err : dk_request(s->dk, "POST", "/services/create",
			json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), NULL, NULL, d);
	json_object_put(j);
	return err;
}

static int sw_create(struct rt *rt, const struct dk_container_spec *spec, char **id,
		struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	struct json_object *svc = NULL;
	char *name = NULL;
	unsigned slot = 0;
	int err;

	if (!spec->labels || !obs_labels_get(spec->labels, BG_LABEL_MANAGED)) {
		dk__error(d, "refusing to create %s without the %s label", spec->name,
				BG_LABEL_MANAGED);
		return BG_EREFUSED;
	}
	sw_name_split(spec->name, &name, &slot);
	err = service_get(s, name, &svc, d);
	if (err == BG_ENOT_FOUND) {
		err = svc_create(s, name, slot, spec, d);
	} else if (!err && slot > svc_slots(svc)) {
		/* Another replica of a service that exists: a label-only update
		 * (its task template does not change, no task restarts). */
		spec_set_slots(svc, slot);
		err = svc_update(s, svc, d);
	} else if (!err) {
		dk__error(d, "Conflict. The container name \"/%s\" is already in use", spec->name);
		err = BG_ECONFLICT;
	}
	if (!err && id) {
		*id = bg_xstrdup(spec->name);
	}
	json_object_put(svc);
	free(name);
	return err;
}

/* sw_tasks_pending (sw-parse.c) on the tasks as they are now. */
static int tasks_pending(struct rt_swarm *s, const char *id, int keep, char **why,
		struct bg_diag *d)
{
	struct json_object *tasks = NULL;
	int err = get_list(s, "/tasks", &tasks, d);
	int n = err ? err : sw_tasks_pending(tasks, id, keep, why);
	json_object_put(tasks);
	return n;
}

/* Wait (up to limit_ms) until the scale took effect, as docker start and
 * stop return once the container runs or stopped. */
static int scale_wait(struct rt_swarm *s, const char *svc_id, int keep, uint64_t limit_ms,
		struct bg_diag *d)
{
	char *why = NULL;
	int n = 0;
	for (uint64_t waited = 0; waited <= limit_ms; waited += 200) {
		n = tasks_pending(s, svc_id, keep, &why, d);
		if (n <= 0) {
			break;
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (n > 0) {
		dk__error(d, "swarm: service %s: %d task%s did not %s in %" PRIu64 " s%s%s",
				svc_id, n, n == 1 ? "" : "s", keep < 0 ? "start" : "stop",
				limit_ms / 1000, why ? ": " : "", why ? why : "");
		n = BG_ETIMEOUT;
	}
	free(why);
	return n < 0 ? n : 0;
}

static int scale(struct rt *rt, const char *ref, bool up, int timeout_s, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	struct json_object *svc = NULL;
	unsigned slot = 0;
	int err = resolve(s, ref, &svc, &slot, d);
	if (err == BG_ENOT_FOUND && !up) {
		return 0; /* stopping a missing container is success */
	}
	if (err) {
		dk__error(d, "no such container: %s", ref);
		return err;
	}
	int64_t r = svc_replicas(svc), want = slot ? slot : 1;
	want = up ? (want > r ? want : r) : (want - 1 < r ? want - 1 : r);
	if (want != r) {
		spec_set_replicas(svc, want);
		err = svc_update(s, svc, d);
	}
	if (!err) {
		err = scale_wait(s, dk__jstr(svc, "ID"), up ? -(int)want : (int)want,
				up ? 60000 : (uint64_t)(timeout_s > 0 ? timeout_s : 10) * 1000 + 10000,
				d);
	}
	json_object_put(svc);
	return err;
}

static int sw_start(struct rt *rt, const char *id, struct bg_diag *d)
{
	return scale(rt, id, true, 0, d);
}

static int sw_stop(struct rt *rt, const char *id, int timeout_s, struct bg_diag *d)
{
	return scale(rt, id, false, timeout_s, d);
}

/* A replica removed: its slot goes; the service goes with its last slot. */
static int sw_remove(struct rt *rt, const char *id, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	struct json_object *svc = NULL;
	unsigned slot = 0;
	int err = resolve(s, id, &svc, &slot, d);
	if (err == BG_ENOT_FOUND) {
		return 0; /* removing a missing container is success */
	}
	if (err) {
		return err;
	}
	unsigned left = slot ? slot - 1 : 0, slots = svc_slots(svc);
	char *e = esc(dk__jstr(svc, "ID"));
	if (left == 0) {
		char *path = bg_xasprintf("/services/%s", e);
		err = dk_request(s->dk, "DELETE", path, NULL, NULL, NULL, d);
		err = err == BG_ENOT_FOUND ? 0 : err;
		sw_secrets_prune(s->dk, err ? NULL : svc); /* sw-secrets.c */
		free(path);
	} else if (left < slots) {
		spec_set_slots(svc, left);
		if (svc_replicas(svc) > left) {
			spec_set_replicas(svc, left);
		}
		err = svc_update(s, svc, d);
	}
	free(e);
	json_object_put(svc);
	return err;
}

/* ---- networks: overlay, attachable (so helpers and one-off containers
 * of the engine can join them too) ---- */

static int sw_network_create(struct rt *rt, const char *name, const struct obs_labels *labels,
		bool internal, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	bool exists = false, managed = false;
	int err;

	if (!labels || !obs_labels_get(labels, BG_LABEL_MANAGED)) {
		dk__error(d, "refusing to create network %s without the %s label", name,
				BG_LABEL_MANAGED);
		return BG_EREFUSED;
	}
	err = dk_name_taken(s->dk, "network", name, &exists, &managed, d);
	if (err || (exists && managed)) {
		return err;
	}
	if (exists) {
		dk__error(d, "network %s exists and is not managed by bluegreen: not touched", name);
		return BG_ECONFLICT;
	}
	struct json_object *j = json_object_new_object(), *l = json_object_new_object();
	json_object_object_add(j, "Name", json_object_new_string(name));
	json_object_object_add(j, "Driver", json_object_new_string("overlay"));
	json_object_object_add(j, "Attachable", json_object_new_boolean(1));
	json_object_object_add(j, "Internal", json_object_new_boolean(internal));
	json_object_object_add(j, "CheckDuplicate", json_object_new_boolean(1));
	for (size_t i = 0; i < labels->n; i++) {
		json_object_object_add(l, labels->v[i].key, json_object_new_string(labels->v[i].value));
	}
	json_object_object_add(j, "Labels", l);
	err = dk_request(s->dk, "POST", "/networks/create",
			json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN), NULL, NULL, d);
	json_object_put(j);
	return err;
}

/*
 * A colour joins a second network (the edge's) right after its create:
 * the service has no task yet, so adding the network to its task template
 * restarts nothing. A service that already runs is refused: that update
 * would replace its tasks, which a switch must never do.
 */
static int sw_network_connect(struct rt *rt, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	struct json_object *svc = NULL;
	unsigned slot = 0;
	int err = resolve(s, id, &svc, &slot, d);
	if (err) {
		return err;
	}
	struct json_object *tt = dk__jget(svc_spec(svc), "TaskTemplate", json_type_object);
	struct json_object *nets = dk__jget(tt, "Networks", json_type_array);
	if (!nets) {
		nets = json_object_new_array();
		json_object_object_add(tt, "Networks", nets);
	}
	/* Swarm keeps the network's id as the target, whatever was sent. */
	char *e = esc(network), *path = bg_xasprintf("/networks/%s", e);
	struct json_object *nj = NULL;
	dk_request(s->dk, "GET", path, NULL, NULL, &nj, NULL);
	const char *nid = dk__jstr(nj, "Id");
	bool joined = false;
	for (size_t i = 0; i < json_object_array_length(nets); i++) {
		const char *t = dk__jstr(json_object_array_get_idx(nets, i), "Target");
		joined |= t && (strcmp(t, network) == 0 || (nid && strcmp(t, nid) == 0));
	}
	json_object_put(nj);
	free(path);
	free(e);
	if (joined) {
		goto out; /* already connected */
	}
	if (svc_replicas(svc) > 0) {
		dk__error(d, "swarm: %s runs already; joining %s would replace its tasks", id,
				network);
		err = BG_ERRNO(ENOTSUP);
		goto out;
	}
	struct json_object *n = json_object_new_object();
	json_object_object_add(n, "Target", json_object_new_string(network));
	json_object_object_add(n, "Aliases", strv_json(aliases));
	json_object_array_add(nets, n);
	err = svc_update(s, svc, d);
out:
	json_object_put(svc);
	return err;
}

static int sw_name_taken(struct rt *rt, const char *kind, const char *name, bool *exists,
		bool *managed, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	if (strcmp(kind, "container") != 0) {
		return rt_name_taken(s->engine, kind, name, exists, managed, d);
	}
	char *svc = NULL;
	unsigned slot = 0;
	sw_name_split(name, &svc, &slot);
	char *e = esc(svc), *path = bg_xasprintf("/services/%s", e);
	struct json_object *j = NULL;
	int err = dk_request(s->dk, "GET", path, NULL, NULL, &j, NULL);
	*exists = err == 0;
	*managed = *exists && dk_labels_managed(dk__jget(svc_spec(j), "Labels",
			json_type_object));
	err = err == BG_ENOT_FOUND ? 0 : err;
	if (err) {
		dk__error(d, "swarm: cannot look up service %s", svc);
	}
	json_object_put(j);
	free(path);
	free(e);
	free(svc);
	return err;
}

/* ---- what a task's container does, on this node: the engine's ---- */

/* The container behind a presented name or id, else ref itself (a helper). */
static char *local_id(struct rt_swarm *s, const char *ref)
{
	struct obs_container c = {0};
	char *out = NULL;
	if (sw_inspect(&s->base, ref, &c, NULL) == 0) {
		const char *cid = obs_labels_get(&c.labels, SW_LABEL_CONTAINER);
		out = bg_xstrdup(cid && c.state != OBS_CSTATE_EXITED ? cid : ref);
	} else {
		out = bg_xstrdup(ref);
	}
	obs_container_release(&c);
	return out;
}

#define SW_LOCAL(call)                                                          \
	do {                                                                    \
		struct rt_swarm *s_ = sw_of(rt);                                \
		char *cid = local_id(s_, id);                                   \
		int err_ = call;                                                \
		free(cid);                                                      \
		return err_;                                                    \
	} while (0)

static int sw_logs(struct rt *rt, const char *id, size_t tail, struct bg_buf *out,
		struct bg_diag *d)
{
	SW_LOCAL(rt_logs(s_->engine, cid, tail, out, d));
}

static int sw_stats(struct rt *rt, const char *id, struct dk_stats *st, struct bg_diag *d)
{
	SW_LOCAL(rt_stats(s_->engine, cid, st, d));
}

static int sw_tcp_check(struct rt *rt, const struct obs_container *c, const char *network,
		unsigned port, uint64_t timeout_ms, char **why)
{
	return sw_tcp_check_task(sw_of(rt)->engine, c, network, port, timeout_ms, why);
}

static int sw_exec_check(struct rt *rt, const char *id, char *const *argv,
		uint64_t timeout_ms, int *exit_code, struct bg_buf *out, struct bg_diag *d)
{
	SW_LOCAL(rt_exec_check(s_->engine, cid, argv, timeout_ms, exit_code, out, d));
}

static int sw_exec(struct rt *rt, const char *id, struct dk_exec *x, struct bg_diag *d)
{
	SW_LOCAL(rt_exec(s_->engine, cid, x, d));
}

static int sw_archive_get(struct rt *rt, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d)
{
	SW_LOCAL(rt_archive_get(s_->engine, cid, path, sink, arg, d));
}

static int sw_archive_put(struct rt *rt, const char *id, const char *path,
		dk_source_fn source, void *arg, struct bg_diag *d)
{
	SW_LOCAL(rt_archive_put(s_->engine, cid, path, source, arg, d));
}

/* The run state for the gate: the task's container, or the task's state
 * while it has none running on this node. */
static int sw_cstate(struct rt *rt, const char *id, struct dk_cstate *st, struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	struct obs_container c = {0};
	int err = sw_inspect(rt, id, &c, d);
	if (!err) {
		const char *cid = obs_labels_get(&c.labels, SW_LABEL_CONTAINER);
		struct bg_diag dd;
		bg_diag_init(&dd);
		err = cid && c.state == OBS_CSTATE_RUNNING ? rt_cstate(s->engine, cid, st, &dd)
				: BG_ENOT_FOUND;
		if (err != BG_ENOT_FOUND) {
			bg_diag_merge(d, &dd);
		} else { /* not running, or on another node: the task's state */
			err = 0;
			memset(st, 0, sizeof(*st));
			st->state = c.state == OBS_CSTATE_EXITED ? OBS_CSTATE_RESTARTING : c.state;
			st->exit_code = c.exit_code;
		}
		bg_diag_release(&dd);
	}
	obs_container_release(&c);
	return err;
}

static int sw_logs_stream(struct rt *rt, char *const *ids, size_t n,
		const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
		struct bg_diag *d)
{
	struct rt_swarm *s = sw_of(rt);
	char **cids = bg_xcalloc(n + 1, sizeof(*cids));
	for (size_t i = 0; i < n; i++) {
		cids[i] = local_id(s, ids[i]);
	}
	int err = rt_logs_stream(s->engine, cids, n, opts, on_line, arg, d);
	for (size_t i = 0; i < n; i++) {
		free(cids[i]);
	}
	free(cids);
	return err;
}

/* ---- the engine's, unchanged ---- */

static int sw_negotiate(struct rt *rt, struct bg_diag *d)
{
	return rt_negotiate(sw_of(rt)->engine, d);
}

static const char *sw_engine_version(const struct rt *rt)
{
	return rt_engine_version(((const struct rt_swarm *)rt)->engine);
}

static const char *sw_api_version(const struct rt *rt)
{
	return rt_api_version(((const struct rt_swarm *)rt)->engine);
}

static int sw_list_unmanaged(struct rt *rt, const char *kind, struct bg_strv *out,
		struct bg_diag *d)
{
	return rt_list_unmanaged(sw_of(rt)->engine, kind, out, d);
}

static int sw_image_pull(struct rt *rt, const char *ref, struct bg_diag *d)
{
	return rt_image_pull(sw_of(rt)->engine, ref, d);
}

static int sw_image_id(struct rt *rt, const char *ref, char **id, struct bg_diag *d)
{
	return rt_image_id(sw_of(rt)->engine, ref, id, d);
}

static int sw_image_tags(struct rt *rt, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d)
{
	return rt_image_tags(sw_of(rt)->engine, tags, ids, d);
}

static int sw_image_digests(struct rt *rt, const char *ref, struct bg_strv *out,
		struct bg_diag *d)
{
	return rt_image_digests(sw_of(rt)->engine, ref, out, d);
}

static int sw_volume_create(struct rt *rt, const char *name, const struct obs_labels *labels,
		struct bg_diag *d)
{
	return rt_volume_create(sw_of(rt)->engine, name, labels, d);
}

static int sw_volume_remove(struct rt *rt, const char *name, struct bg_diag *d)
{
	return rt_volume_remove(sw_of(rt)->engine, name, d);
}

static int sw_volume_usage(struct rt *rt, const char *name, int64_t *bytes, struct bg_diag *d)
{
	return rt_volume_usage(sw_of(rt)->engine, name, bytes, d);
}

static int sw_helper_create(struct rt *rt, const struct dk_helper *h, char **id,
		struct bg_diag *d)
{
	return rt_helper_create(sw_of(rt)->engine, h, id, d);
}

static int sw_helper_remove(struct rt *rt, const char *id, struct bg_diag *d)
{
	return rt_helper_remove(sw_of(rt)->engine, id, d);
}

static int sw_wait(struct rt *rt, const char *id, int *exit_code, struct bg_diag *d)
{
	return rt_wait(sw_of(rt)->engine, id, exit_code, d);
}

/* Events: the engine's stream (a task's container events carry our labels). */
static int sw_events_open(struct rt *rt, uv_loop_t *loop, rt_event_cb on_event,
		rt_state_cb on_state, void *arg, struct rt_events **out)
{
	return rt_events_open(sw_of(rt)->engine, loop, on_event, on_state, arg, out);
}

static void sw_events_close(struct rt_events *ev)
{
	if (engine_impl && engine_impl->events_close) {
		engine_impl->events_close(ev);
	}
}

static void sw_destroy(struct rt *rt)
{
	struct rt_swarm *s = sw_of(rt);
	rt_destroy(s->engine);
	dk_client_destroy(s->dk);
	free(s);
}

static int sw_reopen(const struct rt *rt, struct rt **out)
{
	return rt_swarm_create(out, dk_client_socket(((const struct rt_swarm *)rt)->dk));
}

static const struct rt_impl swarm_impl = {
	.name = "swarm",
	.negotiate = sw_negotiate,
	.engine_version = sw_engine_version,
	.api_version = sw_api_version,
	.observe = sw_observe,
	.inspect = sw_inspect,
	.create = sw_create,
	.start = sw_start,
	.stop = sw_stop,
	.remove = sw_remove,
	.list_unmanaged = sw_list_unmanaged,
	.name_taken = sw_name_taken,
	.image_pull = sw_image_pull,
	.image_id = sw_image_id,
	.image_tags = sw_image_tags,
	.network_create = sw_network_create,
	.network_connect = sw_network_connect,
	.volume_create = sw_volume_create,
	.volume_remove = sw_volume_remove,
	.events_open = sw_events_open,
	.events_close = sw_events_close,
	.inspect_async = NULL,
	.logs = sw_logs,
	.stats = sw_stats,
	.exec_check = sw_exec_check,
	.tcp_check = sw_tcp_check,
	.exec = sw_exec,
	.archive_get = sw_archive_get,
	.archive_put = sw_archive_put,
	.helper_create = sw_helper_create,
	.helper_remove = sw_helper_remove,
	.wait = sw_wait,
	.volume_usage = sw_volume_usage,
	.logs_stream = sw_logs_stream,
	.cstate = sw_cstate,
	.image_digests = sw_image_digests,
	.watch_rule = sw_watch_rule, /* sw-events.c */
	.reopen = sw_reopen,
	.destroy = sw_destroy,
};

int rt_swarm_create(struct rt **out, const char *socket_path)
{
	struct rt_swarm *s = bg_xcalloc(1, sizeof(*s));
	int err = rt_docker_create(&s->engine, socket_path);
	if (!err) {
		err = dk_client_create(&s->dk, socket_path);
	}
	if (err) {
		rt_destroy(s->engine);
		free(s);
		return err;
	}
	engine_impl = s->engine->impl;
	s->base.impl = &swarm_impl;
	*out = &s->base;
	return 0;
}
