/*
 * plan-fx: the planner fixture shared by the plan unit tests (t-plan.c
 * and its siblings): a real configuration written to a temp dir and
 * loaded by cfg_load, an observation built in code (images, an edge file
 * rendered exactly as bluegreen writes it), a plan built from both, and
 * the compact "op kind name" golden form of its actions. Each test keeps
 * its own config text and what differs from this (extra parameters,
 * containers with its own labels) as a small local wrapper.
 */
#ifndef BG_TEST_PLAN_FX_H
#define BG_TEST_PLAN_FX_H

#include "bg.h"
#include "cfg.h"
#include "obs.h"
#include "plan.h"
#include "th.h"

struct pfx {
	char *dir;
	struct cfg *cfg;
	struct obs obs;
};

/*
 * The plan tests' global.conf: nginx edge on network bgt-edge, reload by
 * `true`, no config test, upstreams by address, with install_mode mode.
 * A new string.
 */
char *pfx_global_conf(const char *mode);

/*
 * Write global_conf and site_conf (as sites/shop.conf) to a fresh temp
 * dir named after tag, load it (asserting success, printing the
 * diagnostics otherwise) and start an observation of a 20.10.24 nginx
 * engine that has the images refs[0..n_refs) (ids sha256:000, 111, ...).
 * The observation is not finished: the caller adds to it.
 */
void pfx_load(struct pfx *f, const char *tag, const char *global_conf, const char *site_conf,
		const char *const *refs, size_t n_refs);
/* Release the observation and the config, remove the temp dir. */
void pfx_release(struct pfx *f);

/* The desired spec of the first site (service -1) or of its service i: a new string. */
char *pfx_spec(struct pfx *f, int service);

/*
 * An edge file for shop exactly as bluegreen would write it. preview,
 * upstream and preview_upstream may be NULL.
 */
void pfx_add_edge(struct pfx *f, const char *live, const char *preview, unsigned version,
		const char *upstream, const char *preview_upstream);

/* A managed network named name (ids net0, net1, ... in the order added). */
void pfx_add_network(struct pfx *f, const char *name);
/* The managed networks of a site's plan tests: bgt-edge (the edge) and shop-net. */
void pfx_add_shop_networks(struct pfx *f);

/*
 * A managed container of site shop, image bluegreen-test/web:v1: role
 * "colour" with colour, replica and version labels when colour is set,
 * else service db; state as `docker inspect` says it; with ip, attached
 * to bgt-edge at that address. Returns it, so a test can change the rest.
 */
struct obs_container *pfx_add_container(struct pfx *f, const char *name, const char *role,
		const char *colour, unsigned replica, const char *spec, unsigned version,
		const char *state, const char *ip);

/* Finish the observation and build the plan (args NULL: defaults); asserts success. */
void pfx_plan_ok(struct pfx *f, const struct plan_args *args, struct plan *p);

/*
 * "op kind name" per action, one per line (the edge's name is "EDGE"); with
 * only_ce, just the container and edge actions. A new string.
 */
char *pfx_ops(const struct plan *p, bool only_ce);

#define pfx_assert_ops(p, only_ce, expected)                                 \
	do {                                                                 \
		char *got_ = pfx_ops(p, only_ce);                            \
		assert_string_equal(got_, expected);                         \
		free(got_);                                                  \
	} while (0)

#endif
