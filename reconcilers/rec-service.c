/* rec-service: not written yet. */
#include "bg.h"
