/* Spins forever in user mode (the hang test's CPL3 variant). */
#include "ulib.h"

int main(const char *args)
{
	(void)args;
	for (;;)
		__asm__ volatile("pause");
}
