/* native-compute: the compute workload's core (guest/common/work_compute.c) as a host
 * program, with the guest's arguments: `native-compute size=1M,rounds=64`. */
#include "hvlab/work_report.h"

int main(int argc, char **argv)
{
	return hv_native_work_main("compute", argc, argv);
}
