/* The serial console: a 16550 UART at COM1, polled (the kernel runs with interrupts
 * off). With the FIFO enabled, "transmitter holding register empty" means the whole
 * 16-byte FIFO is empty, so one status read covers 16 bytes. */
#include "kernel.h"
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
		for (size_t i = 0; i < k; i++)
			outb(COM1 + UART_THR, (uint8_t)s[i]);
		s += k;
		n -= k;
	}
}
