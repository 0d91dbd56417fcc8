/* KVM's own binary statistics (KVM_GET_STATS_FD, Linux 5.14+), emitted through the
 * engine's stats op at the end of a run: exits, pf_taken, pf_guest, pf_fixed, invlpg,
 * tlb_flush, the shadow MMU's mmu_* and whatever else this KVM keeps. They are counts
 * of events, the same on any machine that runs the same guest the same way, which makes
 * them the measure of the shadow-vs-nested-paging experiment where times are not.
 *
 * A vCPU's counters are "kvm_NAME" (the core sums them over vCPUs); the VM's are
 * "kvm_vm_NAME", emitted once, with vCPU 0's. Histograms are left out. A KVM without
 * binary statistics (older, or a flavour that keeps none) simply emits nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm_engine.h"

#define STATS_NAME_MAX 256u      /* far above any name KVM uses */
#define STATS_DESC_MAX 4096u

typedef void (*stats_emit_fn)(void *arg, const char *name, uint64_t value);

static int read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	return n == (ssize_t)len ? 0 : -1;
}

/* Emits the cumulative (and, with all_types, instant and peak) counters of one stats
 * file descriptor, each as PREFIX + its name. */
static void emit_stats_fd(int fd, const char *prefix, int all_types, stats_emit_fn emit,
			  void *arg)
{
	struct kvm_stats_header h;
	size_t dsize;
	char *descs;

	if (read_at(fd, &h, sizeof(h), 0) || h.name_size == 0 || h.name_size > STATS_NAME_MAX ||
	    h.num_desc > STATS_DESC_MAX)
		return;
	dsize = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsize * h.num_desc);
	if (!descs || read_at(fd, descs, dsize * h.num_desc, h.desc_offset)) {
		free(descs);
		return;
	}
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * dsize);
		uint32_t type = d->flags & KVM_STATS_TYPE_MASK;
		char name[STATS_NAME_MAX + 16];
		uint64_t v;

		if (type == KVM_STATS_TYPE_LINEAR_HIST || type == KVM_STATS_TYPE_LOG_HIST ||
		    (!all_types && type != KVM_STATS_TYPE_CUMULATIVE) || d->size != 1)
			continue;
		if (read_at(fd, &v, sizeof(v), (off_t)h.data_offset + d->offset))
			continue;
		d->name[h.name_size - 1] = 0;
		snprintf(name, sizeof(name), "%s%s", prefix, d->name);
		emit(arg, name, v);
	}
	free(descs);
}

void kvm_stats(struct hv_engine_vcpu *c, stats_emit_fn emit, void *arg)
{
	int fd = ioctl(c->fd, KVM_GET_STATS_FD, NULL);

	if (fd >= 0) {
		emit_stats_fd(fd, "kvm_", 0, emit, arg);
		close(fd);
	}
	if (c->index != 0)
		return;
	fd = ioctl(c->vm->vm_fd, KVM_GET_STATS_FD, NULL);
	if (fd >= 0) {
		emit_stats_fd(fd, "kvm_vm_", 1, emit, arg);
		close(fd);
	}
}
