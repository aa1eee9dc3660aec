/* desired: not written yet. */
#include "bg.h"
