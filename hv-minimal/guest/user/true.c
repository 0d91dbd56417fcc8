/* Exits at once with the status its arguments give (a decimal number, 0 if none): the
 * program forkwait's children run with exec=1. */
#include "ulib.h"

int main(const char *args)
{
	return (int)(strtou64(args, NULL) & 0x7f);
}
