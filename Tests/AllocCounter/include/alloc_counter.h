/* Test-only malloc interposer: counts heap allocations made by the calling
 * thread, so tests can prove a code path allocates nothing. Linked into the
 * test binary only (never into dnsbox). */
#ifndef ALLOC_COUNTER_H
#define ALLOC_COUNTER_H
#include <stdint.h>
/* Allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc,
 * memalign) made by this thread since it started. */
int64_t alloc_count_this_thread(void);
/* 1 when the interposer is active in this process. */
int alloc_counter_active(void);
/* Swift Testing installs the runtime's throw hooks (_swift_willThrow,
 * _swift_willThrowTypedImpl); while one is set, every `throw` boxes its
 * error, which allocates. A server has no hook: measured loops suspend them. */
void alloc_counter_suspend_throw_hooks(void);
void alloc_counter_restore_throw_hooks(void);
#endif
