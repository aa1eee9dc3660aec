/* plan: not written yet. */
#include "bg.h"
