/*
 * sw: the Docker Swarm runtime (issue 17, docs/swarm.md): a second
 * implementation of struct rt_impl over the same Engine API socket, for an
 * engine that is a swarm manager. Each colour of a site is one replicated
 * Swarm service (SITE-blue, SITE-green); a backing service is a service of
 * its container's name. Its tasks are presented to the planner as the
 * containers it already knows (SITE-blue-1, -2, ...): rt_observe fills
 * struct obs with one obs_container per slot, and create/start/stop/remove
 * of a replica become the service's create, scale and remove. Nothing
 * above controller/runtime/ knows which runtime runs; rt_open (rt.c)
 * chooses it from docker.mode.
 */
#ifndef BG_CONTROLLER_SW_H
#define BG_CONTROLLER_SW_H

#include "rt.h"

/* The swarm runtime on the manager engine at socket_path (NULL: the
 * default socket). No I/O until the first call. */
int rt_swarm_create(struct rt **out, const char *socket_path);

/* ---- pure parts (sw-parse.c), shared with the unit test ---- */

/* The label a presented task gets with its node's hostname (runtime-owned:
 * nothing writes it on a Docker object). */
#define SW_LABEL_NODE BG_LABEL_NODE
/* The task's container id (on its node), for the calls that need it. */
#define SW_LABEL_CONTAINER "io.bluegreen.swarm.container"
/* The address of the task's node (its Status.Addr), kept so that a task
 * found not to run on this engine is reached there (BG_LABEL_HOSTADDR). */
#define SW_LABEL_NODEADDR "io.bluegreen.swarm.nodeaddr"
/* How many replica slots of a service were created (the planner's
 * "replica N exists, stopped" when N > Replicas). */
#define SW_LABEL_SLOTS "io.bluegreen.swarm.slots"

/*
 * The service name and slot behind a presented container name: a colour
 * replica "SITE-COLOUR-N" is service "SITE-COLOUR" slot N (*svc a new
 * string); anything else is *slot 0 and the whole name. Never fails.
 */
void sw_name_split(const char *name, char **svc, unsigned *slot);

/*
 * Append the presented containers of one managed service (GET
 * /services/ID, borrowed) and of its tasks (GET /tasks, an array,
 * borrowed; tasks of other services are skipped) to o. nodes (GET /nodes,
 * borrowed, may be NULL) names each task's node. BG_EPARSE when the service
 * document is not one.
 */
int sw_parse_service(struct json_object *svc, struct json_object *tasks,
		struct json_object *nodes, struct obs *o, struct bg_diag *d);

/*
 * The task that stands for slot (0: a backing service's only slot) of
 * service svc_id among tasks (GET /tasks, borrowed): the newest by
 * creation that Swarm means to run (desired "running", or "ready" for a
 * replacement held until the task it replaces stopped), else the newest.
 * NULL when the slot has none. observe presents it; start waits for it.
 */
struct json_object *sw_slot_task(struct json_object *tasks, const char *svc_id, unsigned slot);

/*
 * What a scale still waits for. keep >= 0: how many tasks of svc_id above
 * slot keep have not ended; keep < 0: how many of the slots 1..-keep are
 * not up (their sw_slot_task is not running). *why (may be NULL) gets the
 * last task error seen (a new string, the old one freed).
 */
int sw_tasks_pending(struct json_object *tasks, const char *svc_id, int keep, char **why);

/*
 * The health gate's probe address of a presented task (RT_LABEL_PROBE),
 * once local or remote facts are known: for a service that publishes a
 * port, HOSTADDR:PORT (a task on another node) or 127.0.0.1:PORT, where
 * the edge reaches it too, while Swarm reports it running; "" otherwise.
 */
void sw_probe_fill(struct obs_container *c);

/* Swarm's task state ("running", "failed", ...) as a container state. */
enum obs_cstate sw_task_cstate(const char *state);

/*
 * The watch daemon's rule on a Swarm (sw-events.c, rt.h): service and
 * node events too, every event re-observes, a task's container event named
 * as its replica. sw_event_accept is its accept (pure, for the unit test).
 */
const struct rt_watch_rule *sw_watch_rule(const struct rt *rt);
bool sw_event_accept(struct json_object *raw, struct dk_event *e, char *buf, size_t len);

/*
 * Secrets as files (sw-secrets.c, issue 17): attach creates the secrets
 * of sp that do not exist yet and references them in cspec (the task
 * template's ContainerSpec, labelled with their names); prune removes our
 * secrets of svc's site that no service references any more (after svc
 * was removed; best effort, returns how many); observe marks the presented
 * containers of svc (from index from) when its references differ from
 * the ones it was created with.
 */
int sw_secrets_attach(struct dk_client *dk, const struct dk_container_spec *sp,
		struct json_object *cspec, struct bg_diag *d);
int sw_secrets_prune(struct dk_client *dk, struct json_object *svc);
void sw_secrets_observe(struct json_object *svc, struct obs *o, size_t from);

/*
 * A backing service's `health.tcp` on Swarm (sw-net.c, ADR 0031): its task's
 * overlay address is not routed from the host, so the connect is made
 * from inside the task container's own network namespace, found through
 * engine (this node's engine). A task on another node cannot be reached
 * so: BG_EHEALTH, *why naming the node and the way out (health.command).
 */
int sw_tcp_check_task(struct rt *engine, const struct obs_container *c, const char *network,
		unsigned port, uint64_t timeout_ms, char **why);

#endif /* BG_CONTROLLER_SW_H */
