/* The serial console: a 16550 UART at COM1, polled (the kernel runs with interrupts
 * off). With the FIFO enabled, "transmitter holding register empty" means the whole
 * 16-byte FIFO is empty, so one status read covers 16 bytes, and those 16 go out with
 * one `rep outsb` (KVM's instruction emulator still exits to the VMM once per byte,
 * but runs no loop instructions between them). */
#include "kernel.h"
#include "spinlock.h"
#include "x86.h"

#define COM1 HV_PORT_COM1

enum {
	UART_THR = 0, UART_DLL = 0, UART_IER = 1, UART_DLM = 1, UART_FCR = 2,
	UART_LCR = 3, UART_MCR = 4, UART_LSR = 5,
};

#define LCR_8N1     0x03
#define LCR_DLAB    0x80
#define FCR_FIFO    0x07      /* enable, clear both FIFOs */
#define MCR_DTR_RTS 0x03
#define LSR_THRE    0x20
#define UART_FIFO   16
#define THRE_POLLS  100000    /* give up waiting on a UART that never drains */

static struct spinlock lock;

void console_init(void)
{
	outb(COM1 + UART_IER, 0);            /* no interrupts: polled */
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);            /* 115200 baud */
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, FCR_FIFO);
	outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

static void wait_fifo_empty(void)
{
	for (int i = 0; i < THRE_POLLS; i++)
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			return;
}

void console_write(const char *s, size_t n)
{
	while (n) {
		size_t k = n < UART_FIFO ? n : UART_FIFO;

		wait_fifo_empty();
		s += k;
		n -= k;
		const char *p = s - k;
		__asm__ volatile("rep outsb" : "+S"(p), "+c"(k) : "d"(COM1 + UART_THR) : "memory");
	}
}

void console_lock(void)
{
	spin_lock(&lock);
}

void console_unlock(void)
{
	spin_unlock(&lock);
}
