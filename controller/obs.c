/* obs: not written yet. */
#include "bg.h"
