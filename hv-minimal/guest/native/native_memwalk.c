/* native-memwalk: the memwalk workload's core (guest/common/work_memwalk.c) as a host
 * program, with the guest's arguments: `native-memwalk ws=64M,steps=2M`. */
#include "hvlab/work_report.h"

int main(int argc, char **argv)
{
	return hv_native_work_main("memwalk", argc, argv);
}
