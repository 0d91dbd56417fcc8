/* The smallest workload: prints a line from user mode and exits successfully. */
#include "ulib.h"

int main(const char *args)
{
	printf("hello from user mode: pid %ld, gate %s, args '%s'\n", getpid(),
	       ustart->gate == GUEST_GATE_UD2 ? "ud2" : "syscall", args);
	return 0;
}
