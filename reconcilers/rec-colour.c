/* rec-colour: not written yet. */
#include "bg.h"
