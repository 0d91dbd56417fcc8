/* native-forkwait: forkwait on the host with the guest workload's arguments:
 * `native-forkwait n=200,reps=3`. */
#include "hvlab/work_report.h"

int main(int argc, char **argv)
{
	return hv_native_work_main("forkwait", argc, argv);
}
