/*
 * swarm-node: a second Docker engine on the test machine, as a second
 * Swarm node (issue 17's two-node test). It runs in a network namespace of
 * its own (named uniquely), joined to the host by a veth pair with private
 * /30 addresses (10.250.X.1 on the host, .2 in the namespace), with its own
 * data-root, exec-root, socket, pid file, cgroup parent and host name (a
 * UTS namespace), so it can never collide with the test machine's dockerd.
 * It does not pull (DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: the namespace has
 * no way out): images are copied into it with docker save/load.
 *
 * swn_stop undoes everything swn_start did (dockerd stopped, mounts left
 * under its directory detached, the namespace and veth deleted, the cgroup
 * parent and the directory removed), also after a partial start, and is
 * safe to call twice: the test calls it from its teardown and from atexit.
 */
#ifndef BG_TEST_SWARM_NODE_H
#define BG_TEST_SWARM_NODE_H

#include "th.h"

struct swn {
	char *ns;        /* network namespace name */
	char *veth_host; /* the host's end of the veth pair */
	char *host_ip;   /* the host's address on the pair (the manager's advertise address) */
	char *node_ip;   /* the node's address on the pair */
	char *dir;       /* data-root, exec-root, socket, log */
	char *sock;      /* the node's Engine API socket (unix path) */
	char *hostname;  /* the node's host name (Swarm's node name) */
	char *cgroup;    /* the node's --cgroup-parent */
	pid_t pid;       /* dockerd, 0 when not running */
};

/*
 * Create the namespace and veth pair and start the node's dockerd; wait
 * until its socket answers. tag names the objects (with th_run_id). 0, or
 * -1 with the reason printed (the caller skips or fails; swn_stop cleans).
 */
int swn_start(struct swn *n, const char *tag);

/* `docker -H unix://SOCK ARGS...` (NULL-terminated) against the node. */
int swn_docker(struct swn *n, struct th_run *r, const char *arg0, ...);

/* Copy images (NULL-terminated) from the test machine's engine to the node. */
int swn_load_images(struct swn *n, const char *const *images);

/*
 * The test machine's engine becomes a one-manager swarm advertising
 * n->host_ip and the node joins it as a worker. Refuses (-1) when the
 * engine is already in a swarm: that swarm is not the test's to change.
 * *node_id gets the worker's node ID (a new string).
 */
int swn_swarm_form(struct swn *n, char **node_id);

/* The node leaves (force), then the engine leaves the swarm it formed. */
void swn_swarm_leave(struct swn *n);

/* Undo swn_start; NULL-safe, idempotent. */
void swn_stop(struct swn *n);

#endif /* BG_TEST_SWARM_NODE_H */
