/* A 16550 UART subset at COM1: the transmitter writes to the console at once, so the
 * line status always says "transmitter empty"; nothing is ever received. With the
 * transmitter interrupt enabled (IER bit 1), "transmitter empty" is pending from each
 * byte (or the enabling) until the guest reads IIR, on ISA line 4 where the engine has
 * interrupt lines: Linux's 8250 driver sends from that interrupt. The other registers
 * hold what the guest writes, enough for a driver's initialization sequence. */
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
#define IIR_THRE 0x02
#define IIR_FIFO 0xc0   /* FIFOs enabled, as a 16550A reports them */
#define IER_THRI 0x02
#define FCR_ENABLE 0x01
#define COM1_IRQ 4
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS_DSR_DCD 0xb0

static uint8_t serial_read(struct hv_serial *s, uint64_t reg)
{
	int dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case UART_THR: return dlab ? s->dll : 0;
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR:
		if ((s->ier & IER_THRI) && s->thre_pending) {
			s->thre_pending = 0;         /* reading the cause clears it */
			return IIR_THRE | s->fifo;
		}
		return IIR_NONE | s->fifo;
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
		if (dlab) {
			s->dll = v;
		} else {
			if (s->sink)
				s->sink(s->sink_arg, (const char *)&v, 1);
			else
				hv_console_write(s->con, &v, 1);
			s->thre_pending = 1;
		}
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
		} else {
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thre_pending = 1;
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR:   /* FCR */
		s->fifo = (v & FCR_ENABLE) ? IIR_FIFO : 0;
		break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: s->mcr = v & 0x1f; break;
	case UART_SCR: s->scr = v; break;
	default: break;      /* LSR, MSR writes: nothing to keep */
	}
}

static int serial_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		     uint32_t len, int is_write)
{
	struct hv_serial *s = dev;
	const struct hv_engine_ops *ops = s->vm->ops;
	int level, r = 0;

	(void)vcpu;
	if (len != 1)
		return hv_err_set("16550 registers are 1 byte wide, the guest used %u", len);
	pthread_mutex_lock(&s->lock);
	if (is_write)
		serial_write(s, offset, data[0]);
	else
		data[0] = serial_read(s, offset);
	/* the line follows the pending cause, set under the lock so that levels stay in order */
	level = (s->ier & IER_THRI) && s->thre_pending;
	if (level != s->line && ops->irq_line) {
		s->line = level;
		r = ops->irq_line(s->vm->eng, COM1_IRQ, level);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int hv_serial_register(struct hv_vm *vm)
{
	vm->dev.serial.con = &vm->console;
	vm->dev.serial.vm = vm;
	pthread_mutex_init(&vm->dev.serial.lock, NULL);
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_COM1, UART_NPORTS, "serial",
			       &vm->dev.serial, serial_io);
}
