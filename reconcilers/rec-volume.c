/* rec-volume: not written yet. */
#include "bg.h"
