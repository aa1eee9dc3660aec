/* rec-network: not written yet. */
#include "bg.h"
