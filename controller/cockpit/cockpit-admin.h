/*
 * cockpit-admin: admin mode's few actions (issue 15, docs/cockpit.md
 * "Admin mode"). The declarations live in cockpit-int.h with the rest of
 * the cockpit's internals; this header only names the routes, for the
 * tests and the docs to agree on them.
 */
#ifndef BG_CONTROLLER_COCKPIT_ADMIN_H
#define BG_CONTROLLER_COCKPIT_ADMIN_H

#define CK_ROUTE_PLAN "/plan"
#define CK_ROUTE_PLAN_API "/api/v1/plan"
#define CK_ROUTE_APPROVE "/plan/approve"
/* "/sites/NAME" CK_ROUTE_ROLLBACK: GET is the form, POST does it. */
#define CK_ROUTE_ROLLBACK "/rollback"
/* issue 15: "/api/v1/sites/NAME" CK_ROUTE_LOGS: the container logs (admins only). */
#define CK_ROUTE_LOGS "/logs"
/* ?tail=N: lines a container, at most the daemon's CTLS_LOGS_TAIL_MAX (ctlsock.h). */
#define CK_LOGS_TAIL_MAX 200u

#endif /* BG_CONTROLLER_COCKPIT_ADMIN_H */
