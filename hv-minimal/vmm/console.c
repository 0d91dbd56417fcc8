/* The guest console, shared by the serial port and the console hypercall. */
#include <string.h>

#include "hvlab/console.h"
#include "hvlab/err.h"

int hv_console_open(struct hv_console *c, FILE *out, const char *log_path)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->out = out;
	if (log_path) {
		c->log = fopen(log_path, "we");
		if (!c->log) {
			hv_err_errno("creating the console log %s", log_path);
			pthread_mutex_destroy(&c->lock);
			return -1;
		}
	}
	return 0;
}

/* The line to stderr, each byte a guest could use to drive the terminal escaped. */
static void console_emit(struct hv_console *c)
{
	char safe[HV_CONSOLE_LINE * 4 + 1];
	size_t o = 0;

	if (c->out && c->len) {
		for (size_t i = 0; i < c->len; i++) {
			unsigned char ch = (unsigned char)c->line[i];

			if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f))
				safe[o++] = (char)ch;
			else if (ch != '\r')
				o += (size_t)snprintf(safe + o, sizeof(safe) - o, "\\x%02x", ch);
		}
		fwrite(safe, 1, o, c->out);
		fflush(c->out);
	}
	if (c->log && c->len) {
		fwrite(c->line, 1, c->len, c->log);
		fflush(c->log);
	}
	c->len = 0;
}

void hv_console_write(struct hv_console *c, const void *buf, size_t n)
{
	const char *p = buf;

	pthread_mutex_lock(&c->lock);
	c->bytes += n;
	for (size_t i = 0; i < n; i++) {
		c->line[c->len++] = p[i];
		if (p[i] == '\n' || c->len == sizeof(c->line))
			console_emit(c);
	}
	pthread_mutex_unlock(&c->lock);
}

void hv_console_flush(struct hv_console *c)
{
	pthread_mutex_lock(&c->lock);
	console_emit(c);
	pthread_mutex_unlock(&c->lock);
}

void hv_console_close(struct hv_console *c)
{
	hv_console_flush(c);
	if (c->log)
		fclose(c->log);
	c->log = NULL;
	pthread_mutex_destroy(&c->lock);
}
