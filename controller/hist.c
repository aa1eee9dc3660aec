/* hist: not written yet. */
#include "bg.h"
