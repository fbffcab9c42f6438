/* dnsbox C shim: rtnetlink through libnl-route-3 (links, addresses, change
 * notifications). Kept to plain structs so Swift never sees libnl types. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dx_shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <linux/rtnetlink.h>

struct dx_nl { struct nl_sock *sock; };

/* libnl returns negative NLE_* codes; map the common ones onto errno. */
static int nl_fail(int err) {
    switch (-err) {
    case NLE_NOMEM: errno = ENOMEM; break;
    case NLE_EXIST: errno = EEXIST; break;
    case NLE_PERM: errno = EPERM; break;
    case NLE_NOADDR: case NLE_OBJ_NOTFOUND: errno = EADDRNOTAVAIL; break;
    case NLE_INVAL: errno = EINVAL; break;
    case NLE_NODEV: errno = ENOENT; break;
    default: errno = EIO; break;
    }
    return -1;
}

dx_nl *dx_nl_open(void) {
    struct dx_nl *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->sock = nl_socket_alloc();
    if (!h->sock) { free(h); errno = ENOMEM; return NULL; }
    int err = nl_connect(h->sock, NETLINK_ROUTE);
    if (err < 0) { nl_socket_free(h->sock); free(h); nl_fail(err); return NULL; }
    return h;
}

void dx_nl_close(dx_nl *h) {
    if (!h) return;
    nl_socket_free(h->sock);
    free(h);
}

int dx_nl_links(dx_nl *h, dx_link *out, int max) {
    struct nl_cache *cache = NULL;
    int err = rtnl_link_alloc_cache(h->sock, AF_UNSPEC, &cache);
    if (err < 0) return nl_fail(err);
    int count = 0;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_link *l = (struct rtnl_link *)o;
        if (count < max) {
            dx_link *d = &out[count];
            memset(d, 0, sizeof *d);
            d->index = rtnl_link_get_ifindex(l);
            const char *name = rtnl_link_get_name(l);
            if (name) { strncpy(d->name, name, sizeof d->name - 1); }
            d->flags = rtnl_link_get_flags(l);
            d->up = (d->flags & IFF_UP) ? 1 : 0;
            d->mtu = (int)rtnl_link_get_mtu(l);
            struct nl_addr *mac = rtnl_link_get_addr(l);
            if (mac && nl_addr_get_len(mac) == 6) { memcpy(d->mac, nl_addr_get_binary_addr(mac), 6); d->mac_len = 6; }
        }
        count++;
    }
    nl_cache_free(cache);
    return count;
}

int dx_nl_addrs(dx_nl *h, dx_ifaddr *out, int max) {
    struct nl_cache *cache = NULL;
    int err = rtnl_addr_alloc_cache(h->sock, &cache);
    if (err < 0) return nl_fail(err);
    int count = 0;
    for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
        struct rtnl_addr *a = (struct rtnl_addr *)o;
        struct nl_addr *local = rtnl_addr_get_local(a);
        if (!local) continue;
        int fam = nl_addr_get_family(local);
        if (fam != AF_INET && fam != AF_INET6) continue;
        if (count < max) {
            dx_ifaddr *d = &out[count];
            memset(d, 0, sizeof *d);
            d->ifindex = rtnl_addr_get_ifindex(a);
            d->family = fam == AF_INET ? DX_AF_INET : DX_AF_INET6;
            d->prefixlen = rtnl_addr_get_prefixlen(a);
            unsigned len = nl_addr_get_len(local);
            if (len > 16) len = 16;
            memcpy(d->addr, nl_addr_get_binary_addr(local), len);
            const char *label = rtnl_addr_get_label(a);
            if (label) strncpy(d->label, label, sizeof d->label - 1);
        }
        count++;
    }
    nl_cache_free(cache);
    return count;
}

static struct rtnl_addr *make_addr(int ifindex, int family, const uint8_t *addr, int prefixlen) {
    struct rtnl_addr *ra = rtnl_addr_alloc();
    if (!ra) return NULL;
    int fam = family == DX_AF_INET ? AF_INET : AF_INET6;
    struct nl_addr *local = nl_addr_build(fam, addr, fam == AF_INET ? 4 : 16);
    if (!local) { rtnl_addr_put(ra); return NULL; }
    nl_addr_set_prefixlen(local, prefixlen);
    rtnl_addr_set_ifindex(ra, ifindex);
    rtnl_addr_set_family(ra, fam);
    rtnl_addr_set_local(ra, local);
    rtnl_addr_set_prefixlen(ra, prefixlen);
    nl_addr_put(local);
    return ra;
}

int dx_nl_addr_add(dx_nl *h, int ifindex, int family, const uint8_t *addr, int prefixlen, const char *label) {
    struct rtnl_addr *ra = make_addr(ifindex, family, addr, prefixlen);
    if (!ra) { errno = ENOMEM; return -1; }
    if (label && label[0] && family == DX_AF_INET) {
        int err = rtnl_addr_set_label(ra, label);
        if (err < 0) { rtnl_addr_put(ra); return nl_fail(err); }
    }
    int err = rtnl_addr_add(h->sock, ra, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_addr_put(ra);
    return err < 0 ? nl_fail(err) : 0;
}

int dx_nl_addr_del(dx_nl *h, int ifindex, int family, const uint8_t *addr, int prefixlen) {
    struct rtnl_addr *ra = make_addr(ifindex, family, addr, prefixlen);
    if (!ra) { errno = ENOMEM; return -1; }
    int err = rtnl_addr_delete(h->sock, ra, 0);
    rtnl_addr_put(ra);
    return err < 0 ? nl_fail(err) : 0;
}

struct dx_nl_sub { struct nl_sock *sock; int events; };

static int sub_cb(struct nl_msg *msg, void *arg) {
    struct dx_nl_sub *s = arg;
    struct nlmsghdr *h = nlmsg_hdr(msg);
    switch (h->nlmsg_type) {
    case RTM_NEWLINK: case RTM_DELLINK: case RTM_NEWADDR: case RTM_DELADDR: s->events++; break;
    default: break;
    }
    return NL_OK;
}

dx_nl_sub *dx_nl_subscribe(void) {
    struct dx_nl_sub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sock = nl_socket_alloc();
    if (!s->sock) { free(s); errno = ENOMEM; return NULL; }
    nl_socket_disable_seq_check(s->sock);
    nl_socket_modify_cb(s->sock, NL_CB_VALID, NL_CB_CUSTOM, sub_cb, s);
    int err = nl_connect(s->sock, NETLINK_ROUTE);
    if (err >= 0) err = nl_socket_add_memberships(s->sock, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, 0);
    if (err >= 0) err = nl_socket_set_nonblocking(s->sock);
    if (err < 0) { nl_socket_free(s->sock); free(s); nl_fail(err); return NULL; }
    return s;
}

int dx_nl_sub_fd(dx_nl_sub *s) { return nl_socket_get_fd(s->sock); }

int dx_nl_sub_drain(dx_nl_sub *s) {
    s->events = 0;
    for (;;) {
        int err = nl_recvmsgs_default(s->sock);
        if (err < 0) {
            /* -NLE_AGAIN: drained. -NLE_NOMEM/ENOBUFS: the kernel dropped
             * notifications; report one event so the caller re-dumps. */
            if (err == -NLE_AGAIN) break;
            if (s->events == 0) s->events = 1;
            break;
        }
    }
    return s->events;
}

void dx_nl_sub_close(dx_nl_sub *s) {
    if (!s) return;
    nl_socket_free(s->sock);
    free(s);
}
