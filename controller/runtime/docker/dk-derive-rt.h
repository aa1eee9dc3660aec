/*
 * dk-derive-rt: the Docker runtime's image_derive member (rt.h), defined
 * in dk-derive.c; rt.c puts it in its docker table with
 * DK_DERIVE_RT_MEMBERS.
 */
#ifndef BG_CONTROLLER_DK_DERIVE_RT_H
#define BG_CONTROLLER_DK_DERIVE_RT_H

#include "rt.h"

int dk__rt_image_derive(struct rt *rt, const struct rt_derive *x, struct bg_diag *d);

#define DK_DERIVE_RT_MEMBERS .image_derive = dk__rt_image_derive,

#endif /* BG_CONTROLLER_DK_DERIVE_RT_H */
