/* edge: not written yet. */
#include "bg.h"
