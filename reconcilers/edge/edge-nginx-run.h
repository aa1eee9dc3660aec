/*
 * edge-nginx-run.h: what edge-nginx-run.c offers beyond edge-int.h, for
 * its unit test (test/unit/t-edge-nginx-run.c).
 */
#ifndef BG_EDGE_NGINX_RUN_H
#define BG_EDGE_NGINX_RUN_H

#include "bg.h"
#include "bg-util.h"

/* Is reload nginx's own `-s reload` on the configuration test checks, so
 * that the reload itself refuses what the test would (edge-nginx-run.c)? */
bool edge__nginx_reload_tests(const struct bg_strv *test, const struct bg_strv *reload);

/* "socket:[INODE]" of every TCP socket listening where an edge.nginx.listen
 * value binds: from the kernel's socket diagnostics, or (from_proc, and
 * where those fail) from /proc/net/tcp{,6}. */
void edge__nginx_listen_sockets(const char *listen, bool from_proc, struct bg_strv *out);

/* The pid file `reload` (nginx's own `nginx [-p P] [-c C] [-e E] -s reload`,
 * run with cwd) would signal, from the main configuration's `pid`; NULL when
 * only nginx itself could tell (-g, no `pid` directive). */
char *edge__nginx_reload_pid_file(const char *cwd, const struct bg_strv *reload);

#endif
