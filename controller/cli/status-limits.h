/*
 * status-limits: the "limits" part of `bluegreen status` (issue 13): for
 * each running container of a site that has a limit (the site's
 * `resources:` for its colour containers, a service's for the service),
 * its usage against that limit from one stats sample per container, e.g.
 * "shop-blue: memory 81 MiB / 512 MiB, pids 3 / 512". Containers without
 * a limit are not sampled (a sample takes about a second).
 */
#ifndef BG_CLI_STATUS_LIMITS_H
#define BG_CLI_STATUS_LIMITS_H

#include "cli.h"
#include "desired.h"
#include "rt.h"

#include <json-c/json.h>

/* One line per limited container under the site's row of the table. */
void status_limits_print(struct cli *cli, struct rt *rt, const struct obs *o,
		const struct des_site *s);
/* The same as a JSON array (a new reference), NULL when nothing is limited. */
struct json_object *status_limits_json(struct rt *rt, const struct obs *o,
		const struct des_site *s);

#endif /* BG_CLI_STATUS_LIMITS_H */
