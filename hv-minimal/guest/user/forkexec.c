/* forkexec: forkwait with exec=1 under a name of its own, so that its rows never mix
 * with forkwait's: n fork+exec+wait pairs, each child replacing itself with the
 * program `true` (lmbench's fork+exec, one of Barham et al.'s rows).
 * wargs: n=N (pairs per repetition),reps=R */
#include "ulib.h"

int main(const char *args)
{
	return fork_loop("forkexec", args, 1);
}
