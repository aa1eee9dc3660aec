/* dk: not written yet. */
#include "bg.h"
