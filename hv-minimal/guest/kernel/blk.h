/* The block device's drivers behind one interface (blk.c): the path comes from
 * iopath= (or io=) on the command line. */
#ifndef KERNEL_BLK_H
#define KERNEL_BLK_H
#include <stdint.h>

struct trapframe;

/* Maps the device's MMIO page (boot CPU, before the others start). */
void blk_boot(void);
/* The device's interrupt (HV_BLK_IRQ_VECTOR), from irq(). */
void blk_irq(void);
/* The badring hostile test (hostile.c): one malformed request on the ring paths. */
int blk_badring(const char *args);
/* SYS_blk. */
long sys_blk(struct trapframe *tf);

#endif
