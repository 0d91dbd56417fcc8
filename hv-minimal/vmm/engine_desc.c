/* Engines describing themselves (engine_desc.h): one probe per engine, printed as
 * JSON for the runner and the report, or as text for a reader. */
#include <string.h>

#include "hvlab/engine_desc.h"
#include "hvlab/hvm.h"
#include "hvlab/err.h"
#include "hvlab/json.h"

/* Every guest row carries these; an engine with a segbase adds that column. */
static const char *const mode_columns[] = { "engine", "memvirt", "flavour", "spinlock",
					    "iopath", "vcpus", "pcpus" };

void hv_engine_describe(const struct hv_engine_entry *e, struct hv_engine_desc *d)
{
	struct hv_vm_config cfg = { .nr_vcpus = 1, .mem_bytes = 16u << 20 };
	struct hv_engine_vm *vm = NULL;

	memset(d, 0, sizeof(*d));
	d->name = e->name;
	d->kind = "vmm";
	d->program = "hvm";
	d->label = e->label ? e->label : e->name;
	d->family = e->family;
	d->description = e->description;
	d->needs[0] = e->needs;
	d->built = e->ops != NULL;
	if (!e->ops) {
		snprintf(d->skip_reason, sizeof(d->skip_reason), "engine %s is not built yet",
			 e->name);
		return;
	}
	if ((e->ops->probe && e->ops->probe(&cfg)) || e->ops->vm_create(&cfg, &vm)) {
		snprintf(d->skip_reason, sizeof(d->skip_reason), "%s", hv_err_msg());
		return;
	}
	d->available = 1;
	snprintf(d->memvirt, sizeof(d->memvirt), "%s", e->ops->memvirt(vm));
	if (e->ops->segbase) {
		const char *sb = e->ops->segbase(vm);

		d->has_segbase = 1;
		snprintf(d->segbase, sizeof(d->segbase), "%s", sb ? sb : "-");
	}
	e->ops->vm_destroy(vm);
}

static void json_one(struct hv_json *j, const struct hv_engine_desc *d)
{
	hv_json_obj_begin(j);
	hv_json_kv_str(j, "name", d->name);
	hv_json_kv_str(j, "kind", d->kind);
	hv_json_kv_str(j, "program", d->program);
	hv_json_kv_str(j, "label", d->label);
	hv_json_kv_str(j, "family", d->family);
	hv_json_kv_str(j, "description", d->description);
	hv_json_key(j, "needs");
	hv_json_arr_begin(j);
	for (size_t i = 0; i < sizeof(d->needs) / sizeof(d->needs[0]) && d->needs[i]; i++)
		hv_json_str(j, d->needs[i]);
	hv_json_arr_end(j);
	hv_json_key(j, "built");
	hv_json_bool(j, d->built);
	hv_json_key(j, "available");
	hv_json_bool(j, d->available);
	hv_json_key(j, "skip_reason");
	if (d->available)
		hv_json_null(j);
	else
		hv_json_str(j, d->skip_reason);
	hv_json_key(j, "memvirt");
	if (d->memvirt[0])
		hv_json_str(j, d->memvirt);
	else
		hv_json_null(j);
	hv_json_key(j, "mode_columns");
	hv_json_arr_begin(j);
	for (size_t i = 0; i < sizeof(mode_columns) / sizeof(mode_columns[0]); i++)
		hv_json_str(j, mode_columns[i]);
	if (d->has_segbase)
		hv_json_str(j, "segbase");
	hv_json_arr_end(j);
	hv_json_obj_end(j);
}

void hv_engine_desc_print_json(FILE *f, const char *program, const struct hv_engine_desc *d,
			       size_t n)
{
	struct hv_json j;

	hv_json_init(&j);
	hv_json_obj_begin(&j);
	hv_json_kv_str(&j, "format", "hvlab-engines-1");
	hv_json_kv_str(&j, "program", program);
	hv_json_key(&j, "engines");
	hv_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		json_one(&j, &d[i]);
	hv_json_arr_end(&j);
	hv_json_obj_end(&j);
	if (j.failed)
		fprintf(stderr, "%s engines: out of memory writing JSON\n", program);
	else
		fprintf(f, "%.*s\n", (int)j.len, j.buf);
	hv_json_free(&j);
}

void hv_engine_desc_print_text(FILE *f, const struct hv_engine_desc *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%-9s %-5s %-11s ", d[i].name, d[i].kind, d[i].family);
		if (d[i].available)
			fprintf(f, "available; memvirt %s%s%s\n", d[i].memvirt,
				d[i].has_segbase ? "; segbase " : "", d[i].has_segbase ? d[i].segbase : "");
		else
			fprintf(f, "unavailable: %s\n", d[i].skip_reason);
	}
}

int hv_engine_desc_command(const char *program, int argc, char **argv, size_t n,
			   void (*describe)(size_t i, struct hv_engine_desc *d))
{
	struct hv_engine_desc d[8];
	int json = argc > 1 && !strcmp(argv[1], "--json");

	if (argc > 2 || (argc > 1 && !json)) {
		fprintf(stderr, "%s engines: takes only --json ('%s')\n", program, argv[1]);
		return HVM_EXIT_USAGE;
	}
	if (n > sizeof(d) / sizeof(d[0]))
		n = sizeof(d) / sizeof(d[0]);
	for (size_t i = 0; i < n; i++)
		describe(i, &d[i]);
	if (json)
		hv_engine_desc_print_json(stdout, program, d, n);
	else
		hv_engine_desc_print_text(stdout, d, n);
	return HVM_EXIT_PASS;
}
