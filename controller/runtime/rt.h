/*
 * rt: the container runtime behind one interface (ADR 0014), so that the
 * reconcilers and the CLI talk to one Docker engine or to a Swarm alike.
 * Two implementations: rt_docker_create wraps dk_* and dkev_* one to one
 * (same requests, same errors, same messages); rt_swarm_create
 * (controller/runtime/swarm/, ADR 0024) shows a Swarm's tasks as the
 * replicas the planner expects. rt_open picks one from docker.mode. The
 * reconcilers, converge (apply), the CLI and the daemon's job worker
 * reach the engine only through it; the daemon's event stream and its
 * snapshot's async inspects still use dkev directly (rt_events has no
 * engine version and no inspect_async yet), with the scope and the
 * re-observe rule the runtime gives (rt_watch_rule): that is how the
 * daemon follows a Swarm without asking which runtime runs.
 *
 * The interface follows the wlroots backend pattern: struct rt is the base
 * every implementation embeds first, struct rt_impl its table of methods.
 * The shapes are Docker's for now (struct dk_container_spec, struct
 * dk_event, the "container"/"network"/"volume" kinds): a second runtime
 * maps onto them. A member may be NULL when the runtime cannot do it; its
 * rt_* wrapper then answers BG_ERRNO(ENOTSUP) and calls nothing. Every
 * `struct bg_diag *d` may be NULL, as in dk.h.
 */
#ifndef BG_CONTROLLER_RT_H
#define BG_CONTROLLER_RT_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "dk.h"
#include "dk-svc.h"
#include "dk-exec.h"
#include "dk-logs.h"
#include "dk-cstate.h"
#include "obs.h"

#include <uv.h>

struct rt;
struct rt_events;
struct rt_derive;

/* What rt_observe reads into a snapshot. */
enum rt_observe_what {
	RT_ENGINE = 1 << 0,     /* negotiate; o->engine_version, o->api_version */
	RT_CONTAINERS = 1 << 1, /* managed containers, inspected */
	RT_NETWORKS = 1 << 2,   /* managed networks */
	RT_VOLUMES = 1 << 3,    /* managed volumes */
};
#define RT_OBSERVE_ALL (RT_ENGINE | RT_CONTAINERS | RT_NETWORKS | RT_VOLUMES)

/* One event in scope (borrowed for the call), as dkev_event_cb. */
typedef void (*rt_event_cb)(struct rt_events *ev, const struct dk_event *e, void *arg);
/* The event stream connected (err 0, reason NULL) or lost (err < 0, reason
 * borrowed), on transitions only, as dkev_state_cb. */
typedef void (*rt_state_cb)(struct rt_events *ev, bool connected, int err,
		const char *reason, void *arg);
/* An async inspect's outcome: c is borrowed for the call (NULL on error). */
typedef void (*rt_inspect_cb)(struct rt_events *ev, int err,
		const struct obs_container *c, const char *msg, void *arg);

struct rt_impl {
	const char *name; /* "docker" */
	int (*negotiate)(struct rt *rt, struct bg_diag *d);
	/* What negotiate found (NULL before it, or when it failed). */
	const char *(*engine_version)(const struct rt *rt);
	const char *(*api_version)(const struct rt *rt);
	int (*observe)(struct rt *rt, struct obs *o, unsigned what, struct bg_diag *d);
	int (*inspect)(struct rt *rt, const char *id, struct obs_container *c,
			struct bg_diag *d);
	int (*create)(struct rt *rt, const struct dk_container_spec *spec, char **id,
			struct bg_diag *d);
	int (*start)(struct rt *rt, const char *id, struct bg_diag *d);
	int (*stop)(struct rt *rt, const char *id, int timeout_s, struct bg_diag *d);
	int (*remove)(struct rt *rt, const char *id, struct bg_diag *d);
	int (*list_unmanaged)(struct rt *rt, const char *kind, struct bg_strv *out,
			struct bg_diag *d);
	int (*name_taken)(struct rt *rt, const char *kind, const char *name, bool *exists,
			bool *managed, struct bg_diag *d);
	int (*image_pull)(struct rt *rt, const char *ref, struct bg_diag *d);
	int (*image_id)(struct rt *rt, const char *ref, char **id, struct bg_diag *d);
	int (*image_tags)(struct rt *rt, struct bg_strv *tags, struct bg_strv *ids,
			struct bg_diag *d);
	int (*network_create)(struct rt *rt, const char *name,
			const struct obs_labels *labels, bool internal, struct bg_diag *d);
	int (*network_connect)(struct rt *rt, const char *network, const char *id,
			char *const *aliases, struct bg_diag *d);
	int (*volume_create)(struct rt *rt, const char *name,
			const struct obs_labels *labels, struct bg_diag *d);
	int (*volume_remove)(struct rt *rt, const char *name, struct bg_diag *d);
	int (*events_open)(struct rt *rt, uv_loop_t *loop, rt_event_cb on_event,
			rt_state_cb on_state, void *arg, struct rt_events **out);
	void (*events_close)(struct rt_events *ev);
	int (*inspect_async)(struct rt_events *ev, const char *id, rt_inspect_cb cb,
			void *arg);
	int (*logs)(struct rt *rt, const char *id, size_t tail, struct bg_buf *out,
			struct bg_diag *d);
	/* Services and limits (dk-svc.h): a one-shot usage sample, and a
	 * check run in a container (argv, exit 0 = healthy). */
	int (*stats)(struct rt *rt, const char *id, struct dk_stats *st, struct bg_diag *d);
	int (*exec_check)(struct rt *rt, const char *id, char *const *argv,
			uint64_t timeout_ms, int *exit_code, struct bg_buf *out,
			struct bg_diag *d);
	/* Backups (controller/backup, dk-exec.h): streamed exec and archives,
	 * the helper container that mounts volumes, its wait, a volume's size. */
	int (*exec)(struct rt *rt, const char *id, struct dk_exec *x, struct bg_diag *d);
	int (*archive_get)(struct rt *rt, const char *id, const char *path, dk_sink_fn sink,
			void *arg, struct bg_diag *d);
	int (*archive_put)(struct rt *rt, const char *id, const char *path,
			dk_source_fn source, void *arg, struct bg_diag *d);
	int (*helper_create)(struct rt *rt, const struct dk_helper *h, char **id,
			struct bg_diag *d);
	int (*helper_remove)(struct rt *rt, const char *id, struct bg_diag *d);
	int (*wait)(struct rt *rt, const char *id, int *exit_code, struct bg_diag *d);
	int (*volume_usage)(struct rt *rt, const char *name, int64_t *bytes,
			struct bg_diag *d);
	int (*logs_stream)(struct rt *rt, char *const *ids, size_t n,
			const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
			struct bg_diag *d);
	/* A container's run state, restart count included (the health gate). */
	int (*cstate)(struct rt *rt, const char *id, struct dk_cstate *st,
			struct bg_diag *d);
	/* A backing service's `health.tcp` (rec-service-health.c): a TCP
	 * connect to c's address on network from where this runtime reaches
	 * it (the host for the engine, the task's own network namespace on
	 * Swarm, ADR 0031); bg_tcp_connect's answer, *why when not 0. */
	int (*tcp_check)(struct rt *rt, const struct obs_container *c, const char *network,
			unsigned port, uint64_t timeout_ms, char **why);
	/* Optional: inspect and cstate from one request (NULL: both asked). */
	int (*inspect_cstate)(struct rt *rt, const char *id, struct obs_container *c,
			struct dk_cstate *st, int *st_err, struct bg_diag *d);
	/* The registry digests (RepoDigests) of a local image (dk-digest.c). */
	int (*image_digests)(struct rt *rt, const char *ref, struct bg_strv *out,
			struct bg_diag *d);
	/* The watch daemon (issue 17): how this runtime's events keep its
	 * snapshot current (NULL: the engine's, one inspect per event). */
	const struct rt_watch_rule *(*watch_rule)(const struct rt *rt);
	/* A new runtime of the same kind on the same socket. */
	int (*reopen)(const struct rt *rt, struct rt **out);
	/* A derived image (issue 16, plugin sets; rt_image_derive below). */
	int (*image_derive)(struct rt *rt, const struct rt_derive *x, struct bg_diag *d);
	void (*destroy)(struct rt *rt);
};

/* The base of every runtime (embedded first). */
struct rt {
	const struct rt_impl *impl;
};

/*
 * The Docker engine at socket_path (NULL: DK_DEFAULT_SOCKET), through a
 * dk_client (no I/O until the first call, as dk_client_create). Events
 * go through dkev on the caller's loop. inspect_async is NULL today (dkev
 * has no container inspect of its own yet); logs is dk_container_logs
 * (dk-logs.h: the engine's stream framing undone, TTY or not).
 */
int rt_docker_create(struct rt **out, const char *socket_path);
void rt_destroy(struct rt *rt); /* NULL-safe */
const char *rt_name(const struct rt *rt);

/* The wrappers: each calls its member (see dk.h for what the Docker
 * runtime does), or answers BG_ERRNO(ENOTSUP) when it is NULL. */
int rt_negotiate(struct rt *rt, struct bg_diag *d);
/* The engine's version and the API version in use, as negotiated (NULL
 * before rt_negotiate, or when the member is NULL). */
const char *rt_engine_version(const struct rt *rt);
const char *rt_api_version(const struct rt *rt);
int rt_observe(struct rt *rt, struct obs *o, unsigned what, struct bg_diag *d);
int rt_inspect(struct rt *rt, const char *id, struct obs_container *c, struct bg_diag *d);
int rt_create(struct rt *rt, const struct dk_container_spec *spec, char **id,
		struct bg_diag *d);
int rt_start(struct rt *rt, const char *id, struct bg_diag *d);
int rt_stop(struct rt *rt, const char *id, int timeout_s, struct bg_diag *d);
int rt_remove(struct rt *rt, const char *id, struct bg_diag *d);
int rt_list_unmanaged(struct rt *rt, const char *kind, struct bg_strv *out,
		struct bg_diag *d);
int rt_name_taken(struct rt *rt, const char *kind, const char *name, bool *exists,
		bool *managed, struct bg_diag *d);
int rt_image_pull(struct rt *rt, const char *ref, struct bg_diag *d);
int rt_image_id(struct rt *rt, const char *ref, char **id, struct bg_diag *d);
int rt_image_tags(struct rt *rt, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d);
int rt_network_create(struct rt *rt, const char *name, const struct obs_labels *labels,
		bool internal, struct bg_diag *d);
int rt_network_connect(struct rt *rt, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d);
int rt_volume_create(struct rt *rt, const char *name, const struct obs_labels *labels,
		struct bg_diag *d);
int rt_volume_remove(struct rt *rt, const char *name, struct bg_diag *d);
/*
 * Start streaming events on loop (reconnecting as dkev does); on_event and
 * on_state may be NULL. *out must be closed with rt_events_close, which
 * frees it from the loop once its handles are closed (NULL-safe).
 */
int rt_events_open(struct rt *rt, uv_loop_t *loop, rt_event_cb on_event,
		rt_state_cb on_state, void *arg, struct rt_events **out);
void rt_events_close(struct rt *rt, struct rt_events *ev);
int rt_inspect_async(struct rt *rt, struct rt_events *ev, const char *id,
		rt_inspect_cb cb, void *arg);
/*
 * The last `tail` lines (0: all) of a managed container's stdout and
 * stderr, interleaved as the engine sent them, appended to out as text
 * (one '\n' per line; a TTY container's output as its terminal mixed it).
 * An unmanaged or missing container is BG_ENOT_FOUND.
 */
int rt_logs(struct rt *rt, const char *id, size_t tail, struct bg_buf *out,
		struct bg_diag *d);
/*
 * Stream the logs of n managed containers at once (opts: follow, since,
 * tail, timestamps, and a tick called about every 200 ms that may stop it),
 * each line to on_line with the index of its container in ids and its
 * stream (a TTY container's lines are all stdout). Blocking: returns when
 * every stream ended or the tick said stop. See dk_container_logs_stream.
 */
int rt_logs_stream(struct rt *rt, char *const *ids, size_t n,
		const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
		struct bg_diag *d);

/* Services and limits (see dk-svc.h for what the Docker runtime does). */
int rt_stats(struct rt *rt, const char *id, struct dk_stats *st, struct bg_diag *d);
/* The member tcp_check; *why is set whenever the answer is not 0. */
int rt_tcp_check(struct rt *rt, const struct obs_container *c, const char *network,
		unsigned port, uint64_t timeout_ms, char **why);
int rt_exec_check(struct rt *rt, const char *id, char *const *argv, uint64_t timeout_ms,
		int *exit_code, struct bg_buf *out, struct bg_diag *d);
/* Backups (see dk-exec.h for what the Docker runtime does). */
int rt_exec(struct rt *rt, const char *id, struct dk_exec *x, struct bg_diag *d);
int rt_archive_get(struct rt *rt, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d);
int rt_archive_put(struct rt *rt, const char *id, const char *path, dk_source_fn source,
		void *arg, struct bg_diag *d);
int rt_helper_create(struct rt *rt, const struct dk_helper *h, char **id, struct bg_diag *d);
int rt_helper_remove(struct rt *rt, const char *id, struct bg_diag *d);
int rt_wait(struct rt *rt, const char *id, int *exit_code, struct bg_diag *d);
int rt_volume_usage(struct rt *rt, const char *name, int64_t *bytes, struct bg_diag *d);
/*
 * The run state of one managed container (*st zeroed first): one
 * inspect, cheap enough between two probes of the health gate, which
 * uses the restart count obs_container lacks.
 */
int rt_cstate(struct rt *rt, const char *id, struct dk_cstate *st, struct bg_diag *d);

/*
 * rt_inspect and rt_cstate of one container, in one request where the
 * runtime can (the health gate's probe needs both; issue 11). Returns
 * rt_inspect's outcome; *st_err is rt_cstate's (BG_ERRNO(ENOTSUP) for a
 * runtime without the run state); a failed rt_cstate (other than ENOTSUP)
 * is returned as both, and c is filled only on success.
 */
int rt_inspect_cstate(struct rt *rt, const char *id, struct obs_container *c,
		struct dk_cstate *st, int *st_err, struct bg_diag *d);

/*
 * The registry digests ("repo@sha256:...") the engine reports for a local
 * image, appended to out (which the caller initialised): none for an image
 * that never came from or went to a registry, none for an absent image.
 */
int rt_image_digests(struct rt *rt, const char *ref, struct bg_strv *out,
		struct bg_diag *d);

/*
 * The runtime docker.mode names (issue 17): the engine at docker.socket
 * (rt_docker_create), or the Swarm it manages (rt_swarm_create, sw.h).
 * The one place that asks which runtime runs.
 */
struct cfg_global;
int rt_open(struct rt **out, const struct cfg_global *g);
/*
 * How the watch daemon follows a runtime (issue 17): the /events query its
 * stream uses and the scope that replaces dkev's (dkev_set_scope), and the
 * re-observe rule. A runtime whose containers are the planner's (the
 * engine) has none: dkev's own scope, one async inspect per container
 * event. One whose containers are presented (a Swarm's tasks as replicas)
 * says relist: its container, service and node events make the daemon
 * re-observe through rt_observe, and accept names them as the planner
 * does (SITE-blue-3, not a task's container).
 */
struct rt_watch_rule {
	const char *events_query; /* "?filters=...", static */
	bool (*accept)(struct json_object *raw, struct dk_event *e, char *buf, size_t len);
	bool relist;
};
/* rt's rule, or NULL for the engine's way (static: valid for the process). */
const struct rt_watch_rule *rt_watch_rule(const struct rt *rt);
/*
 * A new runtime of rt's kind on rt's socket, for a client that must start
 * afresh (the daemon's worker after a reconnection: a new engine may be
 * behind the socket). No I/O, as rt_open.
 */
int rt_reopen(const struct rt *rt, struct rt **out);

/*
 * A derived image (issue 16, the wordpress plugin sets): the local image
 * base with the tree of a tar archive added under dir, tagged tag and
 * labelled (io.bluegreen.* labels only, which containers made from it
 * inherit: none of the labels the observation reads). The tar (in
 * memory, regular files and directories with relative names) is built by
 * the caller; nothing is pulled. The Docker runtime builds it with the
 * engine's image builder (dk-derive.c); NULL elsewhere (ENOTSUP).
 */
struct rt_derive {
	const char *base;                /* a local image reference */
	const char *tag;                 /* the new image's NAME:TAG */
	const char *dir;                 /* absolute directory in the image */
	const struct obs_labels *labels; /* the image's labels */
	const void *tar;
	size_t tar_len;
};
int rt_image_derive(struct rt *rt, const struct rt_derive *x, struct bg_diag *d);

/*
 * Where this host reaches a presented replica for the health gate's HTTP
 * probe, as the edge reaches it ("ADDR:PORT"; "" while it has none, not
 * running yet), set by a runtime whose replicas' own addresses are not
 * reachable from here (a Swarm task's overlay address: its published port
 * instead, issue 17). A runtime-owned fact, never written on an object;
 * absent: the gate probes the replica's address on its network.
 */
#define RT_LABEL_PROBE "io.bluegreen.probe"

#endif /* BG_CONTROLLER_RT_H */
