/* lock: not written yet. */
#include "bg.h"
