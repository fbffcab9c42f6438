/* Interposes the glibc allocator entry points (the executable's definitions
 * win over libc.so's) and forwards to glibc's internal __libc_* functions. */
#define _GNU_SOURCE
#include "alloc_counter.h"
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static __thread int64_t count;
static int active;

int64_t alloc_count_this_thread(void) { return count; }
int alloc_counter_active(void) { return active; }

void *malloc(size_t n) { count++; active = 1; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count++; active = 1; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count++; return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t align, size_t n) { count++; return __libc_memalign(align, n); }
void *aligned_alloc(size_t align, size_t n) { count++; return __libc_memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
    count++;
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static const char *hook_names[2] = { "_swift_willThrow", "_swift_willThrowTypedImpl" };
static void **hook_slots[2];
static void *hook_saved[2];

void alloc_counter_suspend_throw_hooks(void) {
    for (int i = 0; i < 2; i++) {
        hook_slots[i] = (void **)dlsym(RTLD_DEFAULT, hook_names[i]);
        if (hook_slots[i]) { hook_saved[i] = *hook_slots[i]; *hook_slots[i] = NULL; }
    }
}

void alloc_counter_restore_throw_hooks(void) {
    for (int i = 0; i < 2; i++) if (hook_slots[i]) *hook_slots[i] = hook_saved[i];
}
