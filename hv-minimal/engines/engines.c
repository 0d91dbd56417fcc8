/* The engine table: --engine NAME picks an entry. A new engine adds one line here and
 * its own directory; the VMM core does not change. */
#include <stdio.h>
#include <string.h>

#include "hvlab/engine.h"
#include "hvlab/err.h"

extern const struct hv_engine_ops hv_kvm_engine_ops;
extern const struct hv_engine_ops hv_bt_engine_ops;

static const struct hv_engine_entry engine_table[] = {
	{ "hw", &hv_kvm_engine_ops, "KVM, hardware-assisted (VT-x/AMD-V, or PVM)", "hw (KVM)",
	  HV_FAMILY_HARDWARE, "kvm" },
	{ "bt", &hv_bt_engine_ops, "binary translator with shadow paging (hvlab's own)",
	  "bt (hvlab BT)", HV_FAMILY_TRANSLATOR, NULL },
};

const struct hv_engine_entry *hv_engines(size_t *n)
{
	*n = sizeof(engine_table) / sizeof(engine_table[0]);
	return engine_table;
}

static void engines_available(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(engine_table) / sizeof(engine_table[0]); i++) {
		int w;

		if (!engine_table[i].ops)
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			     engine_table[i].name);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

const struct hv_engine_ops *hv_engine_find(const char *name)
{
	char avail[128];

	engines_available(avail, sizeof(avail));
	for (size_t i = 0; i < sizeof(engine_table) / sizeof(engine_table[0]); i++) {
		if (strcmp(engine_table[i].name, name))
			continue;
		if (engine_table[i].ops)
			return engine_table[i].ops;
		hv_err_set("engine '%s' is not built yet (%s); available engines: %s", name,
			   engine_table[i].description, avail);
		return NULL;
	}
	hv_err_set("unknown engine '%s'; available engines: %s", name, avail);
	return NULL;
}

const char *hv_exit_kind_name(enum hv_exit_kind kind)
{
	static const char *const names[HV_VMEXIT_NR] = {
		[HV_VMEXIT_IO] = "io",
		[HV_VMEXIT_MMIO] = "mmio",
		[HV_VMEXIT_HLT] = "hlt",
		[HV_VMEXIT_SHUTDOWN] = "shutdown",
		[HV_VMEXIT_INTERNAL] = "internal-error",
		[HV_VMEXIT_FAIL_ENTRY] = "fail-entry",
		[HV_VMEXIT_INTERRUPTED] = "interrupted",
		[HV_VMEXIT_DEBUG] = "debug",
		[HV_VMEXIT_UNKNOWN] = "unknown",
	};

	return (unsigned)kind < HV_VMEXIT_NR ? names[kind] : "invalid";
}
