/* main: not written yet. */
#include "bg.h"
int main(void)
{
	return 0;
}
