/* dnsbox C shim: user lookup, privilege dropping with libcap. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dx_shim.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/capability.h>

int dx_lookup_user(const char *name, unsigned *uid, unsigned *gid) {
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) { if (errno == 0) errno = ENOENT; return -1; }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int dx_drop_privileges(int switch_user, unsigned uid, unsigned gid, const int *caps, int ncaps) {
    cap_value_t keep[64];
    if (ncaps < 0 || ncaps > 64) { errno = EINVAL; return -1; }
    for (int i = 0; i < ncaps; i++) keep[i] = (cap_value_t)caps[i];

    /* Trim the bounding set first: it needs CAP_SETPCAP in the effective set,
     * which setuid below clears (skipped quietly without it). */
    if (CAP_IS_SUPPORTED(CAP_SETPCAP)) {
        /* cap_max_bits: the running kernel's count, which may exceed the headers'. */
        cap_value_t last = (cap_value_t)cap_max_bits() - 1;
        for (cap_value_t c = 0; c <= last; c++) {
            int wanted = 0;
            for (int i = 0; i < ncaps; i++) if (keep[i] == c) wanted = 1;
            if (!wanted && cap_get_bound(c) == 1) (void)cap_drop_bound(c);
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

    cap_t cur = cap_get_proc();
    if (!cur) return -1;
    cap_t next = cap_init();
    if (!next) { cap_free(cur); return -1; }
    int nkeep = 0;
    cap_value_t have[64];
    for (int i = 0; i < ncaps; i++) {
        cap_flag_value_t v = CAP_CLEAR;
        if (cap_get_flag(cur, keep[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET) have[nkeep++] = keep[i];
    }
    int rc = 0;
    if (nkeep > 0) {
        rc |= cap_set_flag(next, CAP_PERMITTED, nkeep, have, CAP_SET);
        rc |= cap_set_flag(next, CAP_EFFECTIVE, nkeep, have, CAP_SET);
    }
    if (rc == 0) rc = cap_set_proc(next);
    int e = errno;
    cap_free(next);
    cap_free(cur);
    errno = e;
    return rc == 0 ? 0 : -1;
}

int dx_has_cap(int cap) {
    cap_t cur = cap_get_proc();
    if (!cap_valid(cap) || !cur) { if (cur) cap_free(cur); return 0; }
    cap_flag_value_t v = CAP_CLEAR;
    cap_get_flag(cur, (cap_value_t)cap, CAP_EFFECTIVE, &v);
    cap_free(cur);
    return v == CAP_SET;
}
