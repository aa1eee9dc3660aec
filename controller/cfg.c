/* cfg: not written yet. */
#include "bg.h"
