/* forkwait: n fork+wait pairs, as in Adams & Agesen (2006): each child exits at once;
 * the parent waits for it before the next fork. Process creation is all kernel work
 * (copying or sharing the address space, page faults, two context switches, exit),
 * so this is where virtualization techniques differ most. With exec=1 each child
 * first replaces itself with the program `true` (fork+exec+wait, also the program
 * forkexec); the exit statuses, hence the checksum, are the same.
 * wargs: n=N (pairs per repetition),exec=0|1,reps=R */
#include "ulib.h"

int main(const char *args)
{
	return fork_loop("forkwait", args, 0);
}
