/*
 * versions: what `bluegreen versions SITE` and `rollback SITE --to VERSION`
 * both need to know of a site's recorded versions: the image each one
 * ran (reference and id, from its recorded spec), when it was live (from
 * the journal's switch and rollback entries), which one is live now and
 * which one is the warm previous colour, the registry digest of its image
 * (journaled when it went live, hist-live.h), and whether its image is
 * still here to restore it, or can be pulled back by that digest (asked of
 * the engine through struct rt).
 */
#ifndef BG_CONTROLLER_CLI_VERSIONS_H
#define BG_CONTROLLER_CLI_VERSIONS_H

#include "bg.h"
#include "hist.h"
#include "obs.h"
#include "rt.h"

enum ver_restore {
	VER_RESTORE_PRESENT,   /* its image id is here */
	VER_RESTORE_NEEDS_PULL, /* its image id is gone and no registry digest was recorded */
	VER_RESTORE_UNKNOWN,   /* the record names no image id */
	VER_RESTORE_PULLABLE,  /* its image id is gone; rollback --to pulls it by digest */
};

struct ver_info {
	unsigned version;
	char *spec;       /* the spec hash */
	char *image;      /* the recorded reference */
	char *image_id;   /* the recorded id, NULL if none */
	char *digest;     /* "repo@sha256:..." kept when it went live, NULL if none */
	int64_t first_live_ms, last_live_ms; /* 0: never live (last: while live now, 0) */
	bool live_now, previous;
	enum ver_restore restore;
};

/* The image reference and id a recorded colour spec names (new strings, NULL if absent). */
int ver_spec_image(const char *spec_json, char **image, char **image_id);

/*
 * Every recorded version of site, newest first, into *out (*n). rt may be
 * NULL: restore is then left PRESENT when an id is recorded (not asked).
 */
int ver_list(struct hist *h, const struct obs *o, struct rt *rt, const char *site,
		struct ver_info **out, size_t *n, struct bg_diag *d);
void ver_list_free(struct ver_info *v, size_t n);

/*
 * The registry digest kept for version of site (the newest), as a new
 * string in *digest; NULL when none was kept. <0 when the history cannot
 * be read.
 */
int ver_digest(struct hist *h, const char *site, unsigned version, char **digest);

/*
 * rollback --to a version whose image id is gone: the recorded spec with
 * the digest to pull it by added as "restore_pull" (a new string; the
 * spec hash does not cover it, desired-pin.c reads it), NULL if the spec
 * cannot be read.
 */
char *ver_spec_with_pull(const char *spec_json, const char *digest);

/*
 * rollback --to `to` whose image id is gone: with a digest kept for it,
 * *spec_json gets it to pull by (ver_spec_with_pull), the CLI says so on
 * its error stream, and 0 is returned; without one, <0 and nothing is
 * changed (the caller explains).
 */
struct cli;
int ver_restore_pull(struct cli *cli, struct hist *h, const char *site, unsigned to,
		char **spec_json);

#endif /* BG_CONTROLLER_CLI_VERSIONS_H */
