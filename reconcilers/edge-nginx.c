/* edge-nginx: not written yet. */
#include "bg.h"
