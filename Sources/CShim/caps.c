/* dnsbox C shim: user lookup, privilege dropping with the capability
 * system calls themselves (capget/capset, prctl) rather than libcap, whose
 * text conversions pull printf and stdio into the static binary. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dx_shim.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

int dx_lookup_user(const char *name, unsigned *uid, unsigned *gid) {
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) { if (errno == 0) errno = ENOENT; return -1; }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* The kernel's interface (linux/capability.h, version 3: two 32-bit words
 * per set, capabilities 0..63). */
#define DX_CAP_VERSION_3 0x20080522
#define DX_CAP_SETPCAP 8
struct dx_cap_header { uint32_t version; int pid; };
struct dx_cap_data { uint32_t effective, permitted, inheritable; };

static int cap_get(struct dx_cap_data d[2]) {
    struct dx_cap_header h = { DX_CAP_VERSION_3, 0 };
    return (int)syscall(SYS_capget, &h, d);
}

static int cap_set(const struct dx_cap_data d[2]) {
    struct dx_cap_header h = { DX_CAP_VERSION_3, 0 };
    return (int)syscall(SYS_capset, &h, d);
}

static int has_bit(uint32_t w[2], int c) { return (w[c >> 5] >> (c & 31)) & 1; }

int dx_drop_privileges(int switch_user, unsigned uid, unsigned gid, const int *caps, int ncaps) {
    if (ncaps < 0 || ncaps > 64) { errno = EINVAL; return -1; }
    for (int i = 0; i < ncaps; i++) if (caps[i] < 0 || caps[i] > 63) { errno = EINVAL; return -1; }

    /* Trim the bounding set first: it needs CAP_SETPCAP in the effective
     * set, which setuid below clears (skipped quietly without it). The
     * running kernel's last capability is where PR_CAPBSET_READ says EINVAL. */
    if (prctl(PR_CAPBSET_READ, DX_CAP_SETPCAP, 0, 0, 0) >= 0) {
        for (int c = 0; c < 64; c++) {
            int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
            if (in < 0) break;
            int wanted = 0;
            for (int i = 0; i < ncaps; i++) if (caps[i] == c) wanted = 1;
            if (!wanted && in == 1) (void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
        }
    }

    if (switch_user) {
        /* Keep permitted capabilities across setuid, then restore effective ones. */
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return -1;
        gid_t g = (gid_t)gid;
        if (setgroups(1, &g) != 0) return -1;
        if (setgid(g) != 0) return -1;
        if (setuid((uid_t)uid) != 0) return -1;
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return -1;
    }

    struct dx_cap_data cur[2];
    if (cap_get(cur) != 0) return -1;
    uint32_t permitted[2] = { cur[0].permitted, cur[1].permitted };
    struct dx_cap_data next[2];
    memset(next, 0, sizeof next);
    /* Keep what was asked for and is permitted: permitted and effective;
     * everything else (inheritable included) goes. */
    for (int i = 0; i < ncaps; i++) {
        int c = caps[i];
        if (!has_bit(permitted, c)) continue;
        next[c >> 5].permitted |= 1u << (c & 31);
        next[c >> 5].effective |= 1u << (c & 31);
    }
    return cap_set(next) == 0 ? 0 : -1;
}

int dx_has_cap(int cap) {
    if (cap < 0 || cap > 63) return 0;
    struct dx_cap_data cur[2];
    if (cap_get(cur) != 0) return 0;
    uint32_t eff[2] = { cur[0].effective, cur[1].effective };
    return has_bit(eff, cap);
}
