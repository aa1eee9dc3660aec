/*
 * dk-digest-rt: the Docker runtime's image_digests member (rt.h), defined
 * in dk-digest.c; rt.c puts it in its docker table with
 * DK_DIGEST_RT_MEMBERS.
 */
#ifndef BG_CONTROLLER_DK_DIGEST_RT_H
#define BG_CONTROLLER_DK_DIGEST_RT_H

#include "rt.h"

int dk__rt_image_digests(struct rt *rt, const char *ref, struct bg_strv *out,
		struct bg_diag *d);

#define DK_DIGEST_RT_MEMBERS .image_digests = dk__rt_image_digests,

#endif /* BG_CONTROLLER_DK_DIGEST_RT_H */
