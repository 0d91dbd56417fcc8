/* A 16550 UART subset at COM1: the transmitter writes to the console at once, so the
 * line status always says "transmitter empty"; nothing is ever received and no
 * interrupt is raised. The other registers hold what the guest writes, enough for a
 * driver's initialization sequence. */
#include "hvlab/err.h"
#include "hvlab/vm.h"

#define UART_THR 0   /* DLAB=0 write: transmit; read: receive buffer */
#define UART_IER 1
#define UART_IIR 2   /* read: interrupt identification; write: FIFO control */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_NPORTS 8

#define LCR_DLAB 0x80
#define IIR_NONE 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS_DSR_DCD 0xb0

static uint8_t serial_read(struct hv_serial *s, uint64_t reg)
{
	int dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_THR: return dlab ? s->dll : 0;
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR: return IIR_NONE;
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	case UART_LSR: return LSR_THRE | LSR_TEMT;
	case UART_MSR: return MSR_CTS_DSR_DCD;
	default: return s->scr;
	}
}

static void serial_write(struct hv_serial *s, uint64_t reg, uint8_t v)
{
	int dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_THR:
		if (dlab)
			s->dll = v;
		else
			hv_console_write(s->con, &v, 1);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: s->mcr = v & 0x1f; break;
	case UART_SCR: s->scr = v; break;
	default: break;      /* FCR, LSR, MSR writes: nothing to keep */
	}
}

static int serial_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		     uint32_t len, int is_write)
{
	struct hv_serial *s = dev;

	(void)vcpu;
	if (len != 1)
		return hv_err_set("16550 registers are 1 byte wide, the guest used %u", len);
	if (is_write)
		serial_write(s, offset, data[0]);
	else
		data[0] = serial_read(s, offset);
	return 0;
}

int hv_serial_register(struct hv_vm *vm)
{
	vm->dev.serial.con = &vm->console;
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_COM1, UART_NPORTS, "serial",
			       &vm->dev.serial, serial_io);
}
