/* rec: not written yet. */
#include "bg.h"
