/* edge-traefik: not written yet. */
#include "bg.h"
