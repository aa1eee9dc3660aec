/*
 * rt: the runtime interface (rt.h) and its Docker implementation, which
 * wraps dk_* (blocking calls) and dkev_* (events under libuv) one to one:
 * no call here adds a request, a message or a check of its own.
 */
#include "bg.h"
#include "rt.h"
#include "dkev.h"
#include "dk-svc-rt.h"
#include "dk-exec-rt.h"
#include "dk-digest-rt.h"
#include "dk-derive-rt.h"
#include "dk-logs.h"
#include "cfg.h"
#include "sw.h"
#include "bg-net.h"

/* ---- the Docker runtime ---- */

struct rt_docker {
	struct rt base; /* first: a struct rt * is a struct rt_docker * */
	struct dk_client *dk;
	char *socket;
};

struct rt_events {
	struct dkev *ev;
	rt_event_cb on_event;
	rt_state_cb on_state;
	void *arg;
};

static struct dk_client *dk_of(struct rt *rt)
{
	return ((struct rt_docker *)rt)->dk;
}

static int docker_negotiate(struct rt *rt, struct bg_diag *d)
{
	return dk_client_negotiate(dk_of(rt), d);
}

static const char *docker_engine_version(const struct rt *rt)
{
	return dk_client_engine_version(((const struct rt_docker *)rt)->dk);
}

static const char *docker_api_version(const struct rt *rt)
{
	return dk_client_api_version(((const struct rt_docker *)rt)->dk);
}

/* The order of a whole snapshot: the engine, then containers, networks
 * and volumes; the first failure stops it. */
static int docker_observe(struct rt *rt, struct obs *o, unsigned what, struct bg_diag *d)
{
	struct dk_client *dk = dk_of(rt);
	int err = 0;

	if (what & RT_ENGINE) {
		err = dk_engine_observe(dk, o, d);
	}
	if (!err && (what & RT_CONTAINERS)) {
		err = dk_containers_observe(dk, o, d);
	}
	if (!err && (what & RT_NETWORKS)) {
		err = dk_networks_observe(dk, o, d);
	}
	if (!err && (what & RT_VOLUMES)) {
		err = dk_volumes_observe(dk, o, d);
	}
	return err;
}

static int docker_inspect(struct rt *rt, const char *id, struct obs_container *c,
		struct bg_diag *d)
{
	return dk_container_inspect(dk_of(rt), id, c, d);
}

static int docker_create(struct rt *rt, const struct dk_container_spec *spec, char **id,
		struct bg_diag *d)
{
	return dk_container_create(dk_of(rt), spec, id, d);
}

static int docker_start(struct rt *rt, const char *id, struct bg_diag *d)
{
	return dk_container_start(dk_of(rt), id, d);
}

static int docker_stop(struct rt *rt, const char *id, int timeout_s, struct bg_diag *d)
{
	return dk_container_stop(dk_of(rt), id, timeout_s, d);
}

static int docker_remove(struct rt *rt, const char *id, struct bg_diag *d)
{
	return dk_container_remove(dk_of(rt), id, d);
}

static int docker_list_unmanaged(struct rt *rt, const char *kind, struct bg_strv *out,
		struct bg_diag *d)
{
	return dk_names_unmanaged(dk_of(rt), kind, out, d);
}

static int docker_name_taken(struct rt *rt, const char *kind, const char *name,
		bool *exists, bool *managed, struct bg_diag *d)
{
	return dk_name_taken(dk_of(rt), kind, name, exists, managed, d);
}

static int docker_image_pull(struct rt *rt, const char *ref, struct bg_diag *d)
{
	return dk_image_pull(dk_of(rt), ref, d);
}

static int docker_image_id(struct rt *rt, const char *ref, char **id, struct bg_diag *d)
{
	return dk_image_id(dk_of(rt), ref, id, d);
}

static int docker_image_tags(struct rt *rt, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d)
{
	return dk_image_tags(dk_of(rt), tags, ids, d);
}

static int docker_network_create(struct rt *rt, const char *name,
		const struct obs_labels *labels, bool internal, struct bg_diag *d)
{
	return dk_network_create(dk_of(rt), name, labels, internal, d);
}

static int docker_network_connect(struct rt *rt, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d)
{
	return dk_network_connect(dk_of(rt), network, id, aliases, d);
}

static int docker_volume_create(struct rt *rt, const char *name,
		const struct obs_labels *labels, struct bg_diag *d)
{
	return dk_volume_create(dk_of(rt), name, labels, d);
}

static int docker_volume_remove(struct rt *rt, const char *name, struct bg_diag *d)
{
	return dk_volume_remove(dk_of(rt), name, d);
}

static void events_on_event(struct dkev *ev, const struct dk_event *e, void *arg)
{
	struct rt_events *re = arg;
	if (re->on_event) {
		re->on_event(re, e, re->arg);
	}
}

static void events_on_state(struct dkev *ev, enum dkev_state state, int err,
		const char *reason, void *arg)
{
	struct rt_events *re = arg;
	if (re->on_state) {
		re->on_state(re, state == DKEV_CONNECTED, err, reason, re->arg);
	}
}

static void events_on_closed(struct dkev *ev, void *arg)
{
	free(arg);
}

static void docker_events_close(struct rt_events *re)
{
	if (!re) {
		return;
	}
	/* Nothing reaches the caller once it has closed. */
	re->on_event = NULL;
	re->on_state = NULL;
	dkev_close(re->ev, events_on_closed);
}

static int docker_events_open(struct rt *rt, uv_loop_t *loop, rt_event_cb on_event,
		rt_state_cb on_state, void *arg, struct rt_events **out)
{
	struct rt_events *re = bg_xcalloc(1, sizeof(*re));
	int err;

	re->on_event = on_event;
	re->on_state = on_state;
	re->arg = arg;
	err = dkev_create(&re->ev, loop, ((struct rt_docker *)rt)->socket,
			events_on_event, events_on_state, re);
	if (err) {
		free(re);
		return err;
	}
	err = dkev_start(re->ev);
	if (err) {
		docker_events_close(re); /* freed from the loop */
		return err;
	}
	*out = re;
	return 0;
}

/* Container logs (dk-logs.c). */
static int docker_logs(struct rt *rt, const char *id, size_t tail, struct bg_buf *out,
		struct bg_diag *d)
{
	return dk_container_logs(dk_of(rt), id, tail, out, d);
}

static int docker_logs_stream(struct rt *rt, char *const *ids, size_t n,
		const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
		struct bg_diag *d)
{
	return dk_container_logs_stream(dk_of(rt), ids, n, opts, on_line, arg, d);
}

static void docker_destroy(struct rt *rt)
{
	struct rt_docker *r = (struct rt_docker *)rt;
	dk_client_destroy(r->dk);
	free(r->socket);
	free(r);
}

static int docker_cstate(struct rt *rt, const char *id, struct dk_cstate *st,
		struct bg_diag *d)
{
	return dk_container_cstate(dk_of(rt), id, st, d);
}

/* The site network is an ordinary bridge: the host reaches its addresses. */
static int docker_tcp_check(struct rt *rt, const struct obs_container *c,
		const char *network, unsigned port, uint64_t timeout_ms, char **why)
{
	(void)rt;
	const char *ip = obs_container_ip(c, network);
	if (!ip || !*ip) {
		*why = bg_xasprintf("no address on %s yet", network);
		return BG_EHEALTH;
	}
	return bg_tcp_connect(ip, port, timeout_ms, -1, why);
}

static int docker_inspect_cstate(struct rt *rt, const char *id, struct obs_container *c,
		struct dk_cstate *st, int *st_err, struct bg_diag *d)
{
	return dk_container_inspect_cstate(dk_of(rt), id, c, st, st_err, d);
}

static int docker_reopen(const struct rt *rt, struct rt **out)
{
	return rt_docker_create(out, ((const struct rt_docker *)rt)->socket);
}

static const struct rt_impl docker_impl = {
	.name = "docker",
	.negotiate = docker_negotiate,
	.engine_version = docker_engine_version,
	.api_version = docker_api_version,
	.observe = docker_observe,
	.inspect = docker_inspect,
	.create = docker_create,
	.start = docker_start,
	.stop = docker_stop,
	.remove = docker_remove,
	.list_unmanaged = docker_list_unmanaged,
	.name_taken = docker_name_taken,
	.image_pull = docker_image_pull,
	.image_id = docker_image_id,
	.image_tags = docker_image_tags,
	.network_create = docker_network_create,
	.network_connect = docker_network_connect,
	.volume_create = docker_volume_create,
	.volume_remove = docker_volume_remove,
	.events_open = docker_events_open,
	.events_close = docker_events_close,
	.inspect_async = NULL, /* dkev_container_inspect, once dkev has it */
	.logs = docker_logs,
	.logs_stream = docker_logs_stream,
	DK_SVC_RT_MEMBERS /* dk-svc.c: services and limits */
	DK_EXEC_RT_MEMBERS /* dk-exec.c: backups */
	.cstate = docker_cstate,
	.tcp_check = docker_tcp_check,
	.inspect_cstate = docker_inspect_cstate,
	DK_DIGEST_RT_MEMBERS /* dk-digest.c: RepoDigests for rollback --to */
	.reopen = docker_reopen, /* issue 17: the watch daemon's worker, afresh */
	DK_DERIVE_RT_MEMBERS /* dk-derive.c: plugin sets' derived images (issue 16) */
	.destroy = docker_destroy,
};

int rt_docker_create(struct rt **out, const char *socket_path)
{
	struct rt_docker *r = bg_xcalloc(1, sizeof(*r));
	int err = dk_client_create(&r->dk, socket_path);

	if (err) {
		free(r);
		return err;
	}
	r->base.impl = &docker_impl;
	r->socket = bg_xstrdup(dk_client_socket(r->dk));
	*out = &r->base;
	return 0;
}

/* ---- the wrappers ---- */

/* Call a member, or say the runtime cannot do that. */
#define RT_CALL(rt, member, ...)                                              \
	((rt)->impl->member ? (rt)->impl->member(__VA_ARGS__) : BG_ERRNO(ENOTSUP))

void rt_destroy(struct rt *rt)
{
	if (rt) {
		rt->impl->destroy(rt);
	}
}

const char *rt_name(const struct rt *rt)
{
	return rt->impl->name;
}

int rt_negotiate(struct rt *rt, struct bg_diag *d)
{
	return RT_CALL(rt, negotiate, rt, d);
}

const char *rt_engine_version(const struct rt *rt)
{
	return rt->impl->engine_version ? rt->impl->engine_version(rt) : NULL;
}

const char *rt_api_version(const struct rt *rt)
{
	return rt->impl->api_version ? rt->impl->api_version(rt) : NULL;
}

int rt_observe(struct rt *rt, struct obs *o, unsigned what, struct bg_diag *d)
{
	return RT_CALL(rt, observe, rt, o, what, d);
}

int rt_inspect(struct rt *rt, const char *id, struct obs_container *c, struct bg_diag *d)
{
	return RT_CALL(rt, inspect, rt, id, c, d);
}

int rt_create(struct rt *rt, const struct dk_container_spec *spec, char **id,
		struct bg_diag *d)
{
	return RT_CALL(rt, create, rt, spec, id, d);
}

int rt_start(struct rt *rt, const char *id, struct bg_diag *d)
{
	return RT_CALL(rt, start, rt, id, d);
}

int rt_stop(struct rt *rt, const char *id, int timeout_s, struct bg_diag *d)
{
	return RT_CALL(rt, stop, rt, id, timeout_s, d);
}

int rt_remove(struct rt *rt, const char *id, struct bg_diag *d)
{
	return RT_CALL(rt, remove, rt, id, d);
}

int rt_list_unmanaged(struct rt *rt, const char *kind, struct bg_strv *out,
		struct bg_diag *d)
{
	return RT_CALL(rt, list_unmanaged, rt, kind, out, d);
}

int rt_name_taken(struct rt *rt, const char *kind, const char *name, bool *exists,
		bool *managed, struct bg_diag *d)
{
	return RT_CALL(rt, name_taken, rt, kind, name, exists, managed, d);
}

int rt_image_pull(struct rt *rt, const char *ref, struct bg_diag *d)
{
	return RT_CALL(rt, image_pull, rt, ref, d);
}

int rt_image_id(struct rt *rt, const char *ref, char **id, struct bg_diag *d)
{
	return RT_CALL(rt, image_id, rt, ref, id, d);
}

int rt_image_tags(struct rt *rt, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d)
{
	return RT_CALL(rt, image_tags, rt, tags, ids, d);
}

int rt_network_create(struct rt *rt, const char *name, const struct obs_labels *labels,
		bool internal, struct bg_diag *d)
{
	return RT_CALL(rt, network_create, rt, name, labels, internal, d);
}

int rt_network_connect(struct rt *rt, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d)
{
	return RT_CALL(rt, network_connect, rt, network, id, aliases, d);
}

int rt_volume_create(struct rt *rt, const char *name, const struct obs_labels *labels,
		struct bg_diag *d)
{
	return RT_CALL(rt, volume_create, rt, name, labels, d);
}

int rt_volume_remove(struct rt *rt, const char *name, struct bg_diag *d)
{
	return RT_CALL(rt, volume_remove, rt, name, d);
}

int rt_events_open(struct rt *rt, uv_loop_t *loop, rt_event_cb on_event,
		rt_state_cb on_state, void *arg, struct rt_events **out)
{
	return RT_CALL(rt, events_open, rt, loop, on_event, on_state, arg, out);
}

void rt_events_close(struct rt *rt, struct rt_events *ev)
{
	if (ev && rt->impl->events_close) {
		rt->impl->events_close(ev);
	}
}

int rt_inspect_async(struct rt *rt, struct rt_events *ev, const char *id,
		rt_inspect_cb cb, void *arg)
{
	return RT_CALL(rt, inspect_async, ev, id, cb, arg);
}

int rt_logs(struct rt *rt, const char *id, size_t tail, struct bg_buf *out,
		struct bg_diag *d)
{
	return RT_CALL(rt, logs, rt, id, tail, out, d);
}

/* The Docker client behind rt (dk-exec.c and dk-svc.c use it). */
struct dk_client *rt__docker_client(struct rt *rt)
{
	return dk_of(rt);
}

int rt_stats(struct rt *rt, const char *id, struct dk_stats *st, struct bg_diag *d)
{
	return RT_CALL(rt, stats, rt, id, st, d);
}

int rt_tcp_check(struct rt *rt, const struct obs_container *c, const char *network,
		unsigned port, uint64_t timeout_ms, char **why)
{
	*why = NULL;
	int err = RT_CALL(rt, tcp_check, rt, c, network, port, timeout_ms, why);
	if (err && !*why) {
		*why = bg_xasprintf("no tcp check on the %s runtime", rt_name(rt));
	}
	return err;
}

int rt_exec_check(struct rt *rt, const char *id, char *const *argv, uint64_t timeout_ms,
		int *exit_code, struct bg_buf *out, struct bg_diag *d)
{
	return RT_CALL(rt, exec_check, rt, id, argv, timeout_ms, exit_code, out, d);
}

int rt_exec(struct rt *rt, const char *id, struct dk_exec *x, struct bg_diag *d)
{
	return RT_CALL(rt, exec, rt, id, x, d);
}

int rt_archive_get(struct rt *rt, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d)
{
	return RT_CALL(rt, archive_get, rt, id, path, sink, arg, d);
}

int rt_archive_put(struct rt *rt, const char *id, const char *path, dk_source_fn source,
		void *arg, struct bg_diag *d)
{
	return RT_CALL(rt, archive_put, rt, id, path, source, arg, d);
}

int rt_helper_create(struct rt *rt, const struct dk_helper *h, char **id, struct bg_diag *d)
{
	return RT_CALL(rt, helper_create, rt, h, id, d);
}

int rt_helper_remove(struct rt *rt, const char *id, struct bg_diag *d)
{
	return RT_CALL(rt, helper_remove, rt, id, d);
}

int rt_wait(struct rt *rt, const char *id, int *exit_code, struct bg_diag *d)
{
	return RT_CALL(rt, wait, rt, id, exit_code, d);
}

int rt_volume_usage(struct rt *rt, const char *name, int64_t *bytes, struct bg_diag *d)
{
	return RT_CALL(rt, volume_usage, rt, name, bytes, d);
}

int rt_logs_stream(struct rt *rt, char *const *ids, size_t n,
		const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
		struct bg_diag *d)
{
	return RT_CALL(rt, logs_stream, rt, ids, n, opts, on_line, arg, d);
}

int rt_cstate(struct rt *rt, const char *id, struct dk_cstate *st, struct bg_diag *d)
{
	memset(st, 0, sizeof(*st));
	return RT_CALL(rt, cstate, rt, id, st, d);
}

int rt_inspect_cstate(struct rt *rt, const char *id, struct obs_container *c,
		struct dk_cstate *st, int *st_err, struct bg_diag *d)
{
	memset(st, 0, sizeof(*st));
	if (rt->impl->inspect_cstate) {
		return rt->impl->inspect_cstate(rt, id, c, st, st_err, d);
	}
	/* The run state first, as the gate asked before: its error ends it. */
	struct bg_diag dd;
	bg_diag_init(&dd);
	*st_err = rt_cstate(rt, id, st, &dd);
	if (*st_err && *st_err != BG_ERRNO(ENOTSUP)) {
		bg_diag_merge(d, &dd);
		bg_diag_release(&dd);
		return *st_err;
	}
	bg_diag_release(&dd);
	return rt_inspect(rt, id, c, d);
}

int rt_image_digests(struct rt *rt, const char *ref, struct bg_strv *out, struct bg_diag *d)
{
	return RT_CALL(rt, image_digests, rt, ref, out, d);
}

/* docker.mode (issue 17): the one place that chooses the runtime. */
int rt_open(struct rt **out, const struct cfg_global *g)
{
	if (g->docker_mode == CFG_DOCKER_SWARM) {
		return rt_swarm_create(out, g->docker_socket);
	}
	return rt_docker_create(out, g->docker_socket);
}

/* Issue 17: how the watch daemon follows the runtime (rt.h). */
const struct rt_watch_rule *rt_watch_rule(const struct rt *rt)
{
	return rt->impl->watch_rule ? rt->impl->watch_rule(rt) : NULL;
}

int rt_reopen(const struct rt *rt, struct rt **out)
{
	return RT_CALL(rt, reopen, rt, out);
}

int rt_image_derive(struct rt *rt, const struct rt_derive *x, struct bg_diag *d)
{
	return RT_CALL(rt, image_derive, rt, x, d);
}
