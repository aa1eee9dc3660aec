/*
 * bg-net: one TCP connect with a time limit, the check behind a backing
 * service's `health.tcp` and a release check's `tcp:`. Optionally from
 * inside another network namespace (a container's, opened by its
 * caller): the socket is made there, on this thread only, and the thread
 * returns to its own namespace before the connect, so nothing else of the
 * process ever runs in the container's network (ADR 0031).
 */
#ifndef BG_CONTROLLER_BG_NET_H
#define BG_CONTROLLER_BG_NET_H

#include "bg.h"

/*
 * Connect to addr:port (a numeric IPv4 or IPv6 address) within timeout_ms
 * (0: 5 s), then close. netns_fd: an open /proc/PID/ns/net to connect
 * from, or -1 for ours. 0 when the connection was accepted; BG_EHEALTH
 * when it was not (refused, timed out, no address), with *why saying so
 * ("10.0.1.5:3306: Connection refused"); another error when the namespace
 * could not be entered (BG_ERRNO(EPERM): not root), *why saying that too.
 * *why is allocated in every case but success (NULL then).
 */
int bg_tcp_connect(const char *addr, unsigned port, uint64_t timeout_ms, int netns_fd,
		char **why);

#endif /* BG_CONTROLLER_BG_NET_H */
