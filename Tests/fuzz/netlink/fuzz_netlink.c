/* libFuzzer harness for the rtnetlink parser (Sources/CShim/netlink.c):
 * any bytes, as if a datagram from the kernel. Built by scripts/fuzz.sh
 * netlink with ASan and UBSan. Beyond memory safety it checks that the
 * event count stays within max, strings are NUL-terminated, kinds and
 * families are the ones the header promises, and parsing is deterministic. */
#include "dx_shim.h"

#include <stdlib.h>
#include <string.h>

/* netlink.c seeds its sequence numbers from the clock; sys.c is not linked. */
uint64_t dx_monotonic_ns(void) { return 1; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size heap copy, so a read one byte past the end is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    enum { MAX = 8 };
    dx_nl_event a[MAX], b[MAX];
    int n = dx_nl_parse_events(buf, size, a, MAX);
    if (n < 0 || n > MAX) abort();
    for (int i = 0; i < n; i++) {
        const dx_nl_event *e = &a[i];
        if (e->kind < DX_NL_LINK_NEW || e->kind > DX_NL_ADDR_DEL) abort();
        if (e->link.name[sizeof e->link.name - 1] || e->addr.label[sizeof e->addr.label - 1]) abort();
        if (e->link.mac_len != 0 && e->link.mac_len != 6) abort();
        if (e->kind >= DX_NL_ADDR_NEW && e->addr.family != DX_AF_INET && e->addr.family != DX_AF_INET6) abort();
    }
    if (dx_nl_parse_events(buf, size, b, MAX) != n || memcmp(a, b, sizeof a[0] * (size_t)n) != 0) abort();
    /* Fewer slots than events: the first ones, the same. */
    if (n > 1 && (dx_nl_parse_events(buf, size, b, n - 1) != n - 1 || memcmp(a, b, sizeof a[0] * (size_t)(n - 1)) != 0))
        abort();
    free(buf);
    return 0;
}
