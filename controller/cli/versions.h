/*
 * versions: what `bluegreen versions SITE` and `rollback SITE --to VERSION`
 * both need to know of a site's recorded versions: the image each one
 * ran (reference and id, from its recorded spec), when it was live (from
 * the journal's switch and rollback entries), which one is live now and
 * which one is the warm previous colour, and whether its image is still
 * here to restore it (asked of the engine through struct rt).
 */
#ifndef BG_CONTROLLER_CLI_VERSIONS_H
#define BG_CONTROLLER_CLI_VERSIONS_H

#include "bg.h"
#include "hist.h"
#include "obs.h"
#include "rt.h"

enum ver_restore {
	VER_RESTORE_PRESENT,   /* its image id is here */
	VER_RESTORE_NEEDS_PULL, /* its image id is gone: pull the reference, same id required */
	VER_RESTORE_UNKNOWN,   /* the record names no image id */
};

struct ver_info {
	unsigned version;
	char *spec;       /* the spec hash */
	char *image;      /* the recorded reference */
	char *image_id;   /* the recorded id, NULL if none */
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

#endif /* BG_CONTROLLER_CLI_VERSIONS_H */
