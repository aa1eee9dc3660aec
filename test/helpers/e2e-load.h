/*
 * e2e-load: steady traffic through the edge while a docker test switches,
 * scales or rolls back, counted request by request. One thread sends
 * GET / with the site's Host over a fresh connection each time (so every
 * request sees the edge's current routing) and counts a request as served
 * only when it answers 200 with a body that starts with one of the
 * accepted versions; anything else is a failure, and the last one is
 * kept to be shown. Shared by the docker tests that prove "0 failed
 * requests" so that each does not carry its own copy of the loop.
 */
#ifndef BG_TEST_E2E_LOAD_H
#define BG_TEST_E2E_LOAD_H

#include "e2e.h"

struct e2e_load;

/* What a stopped load saw. */
struct e2e_load_result {
	unsigned ok, failed;
	char last_fail[160]; /* "" when nothing failed */
};

/*
 * Start the load against nginx on 127.0.0.1:e->port with Host: host;
 * bodies is a NULL-terminated list of accepted body prefixes ("v1", ...).
 * The strings are borrowed until e2e_load_stop.
 */
struct e2e_load *e2e_load_start(const struct e2e *e, const char *host,
		const char *const *bodies);
/* Stop and join the thread, free l, and return what it saw. */
struct e2e_load_result e2e_load_stop(struct e2e_load *l);
/* Print "# load during WHAT: ..." and assert more than 10 served, none failed. */
void e2e_load_assert(const struct e2e_load_result *r, const char *what);

#endif /* BG_TEST_E2E_LOAD_H */
