/*
 * swarm-e2e: what the Swarm docker tests (t-swarm, t-swarm-2node) share:
 * the web images with a HEALTHCHECK (the gate of a task on an overlay
 * network is its container's health, docs/swarm.md), the removal of a
 * site's services (bluegreen leaves them to the operator; a test must
 * not), a teardown that removes them when a test stopped half way, and
 * command output as TAP diagnostics. One copy, so both tests build the
 * same images and clean up the same way.
 */
#ifndef BG_TEST_SWARM_E2E_H
#define BG_TEST_SWARM_E2E_H

#include "e2e.h"

/* bluegreen-test/swarm-web:v1 and :v2 (web:vN plus a HEALTHCHECK); fails the test otherwise. */
void swarm_e2e_images_build(void);

/* `docker service rm` of every service labelled io.bluegreen.site=site, then 3 s for its tasks. */
void swarm_e2e_services_rm(const char *site);

/* The site whose services swarm_e2e_teardown removes (NULL: none any more). */
void swarm_e2e_site_track(const char *site);

/* A cmocka teardown: the tracked site's services, then e2e_teardown. */
int swarm_e2e_teardown(void **state);

/* text as TAP diagnostics under a "# what:" line (every line behind "#   "). */
void swarm_e2e_lines_print(const char *what, const char *text);

#endif
