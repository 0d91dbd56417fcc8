/* Test workloads that run in the kernel itself: guests that misbehave on purpose, so
 * that the VMM's handling of them can be tested. */
#ifndef KERNEL_HOSTILE_H
#define KERNEL_HOSTILE_H

struct ktest {
	const char *name;
	const char *what;
	/* Returns the HV_EXIT_* status to exit with, when it returns at all. */
	int (*run)(const char *args);
};

/* Terminated by an entry with name NULL. */
extern const struct ktest ktests[];

const struct ktest *ktest_find(const char *name);

#endif
