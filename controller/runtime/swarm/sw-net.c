/*
 * sw-net: the TCP check of a backing service on Swarm (ADR 0031). A task's
 * address lives on an overlay network, which this host does not route
 * to; the engine runtime's connect from the host (rt.c) would time out
 * forever. The task's container, when it runs on this node, has the
 * address on one of its own interfaces: the socket is made in that
 * container's network namespace (bg_tcp_connect) and connects to the
 * task's overlay address, which checks that the service listens where its
 * site's colours will reach it. It needs what entering a namespace needs:
 * root, and this host's PID namespace (/proc/PID of the task's process).
 */
#include "bg.h"
#include "sw.h"
#include "bg-net.h"
#include "dk-cstate.h"

#include <fcntl.h>
#include <unistd.h>

/* The task container's network namespace, open; -1 with *why (BG_EHEALTH)
 * or another error. */
static int task_netns(struct rt *engine, const char *cid, const char *node, char **why,
		int *err)
{
	struct dk_cstate st;
	struct bg_diag d;
	int fd = -1;

	bg_diag_init(&d);
	*err = rt_cstate(engine, cid, &st, &d);
	if (*err == BG_ENOT_FOUND) {
		*why = bg_xasprintf("the task runs on node %s, not this one: a tcp check on "
				"Swarm connects from this node (use health.command on a "
				"cluster, docs/swarm.md)", node && *node ? node : "?");
		*err = BG_EHEALTH;
	} else if (*err) {
		*why = bg_xstrdup(d.n ? d.items[d.n - 1].msg : bg_strerror(*err));
	} else if (st.state != OBS_CSTATE_RUNNING || st.pid <= 0) {
		*why = bg_xasprintf("the task's container is %s", obs_cstate_name(st.state));
		*err = BG_EHEALTH;
	} else {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/net", st.pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			*why = bg_xasprintf("%s: %s (the controller must run in the host's "
					"PID namespace, as root)", path, strerror(e));
			*err = e == ENOENT ? BG_EHEALTH : BG_ERRNO(e);
		}
	}
	bg_diag_release(&d);
	return fd;
}

int sw_tcp_check_task(struct rt *engine, const struct obs_container *c, const char *network,
		unsigned port, uint64_t timeout_ms, char **why)
{
	const char *ip = obs_container_ip(c, network);
	const char *cid = obs_labels_get(&c->labels, SW_LABEL_CONTAINER);
	int err = 0;

	*why = NULL;
	if (!ip || !*ip || !cid || !*cid) {
		*why = bg_xasprintf("no task with an address on %s yet", network);
		return BG_EHEALTH;
	}
	int ns = task_netns(engine, cid, obs_labels_get(&c->labels, SW_LABEL_NODE), why, &err);
	if (ns < 0) {
		return err;
	}
	err = bg_tcp_connect(ip, port, timeout_ms, ns, why);
	close(ns);
	return err;
}
