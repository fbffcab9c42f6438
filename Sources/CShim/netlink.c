/* dnsbox C shim: rtnetlink on a plain NETLINK_ROUTE socket (links,
 * addresses, address changes, change notifications). No libnl.
 *
 * Contract: every byte that comes from the kernel is data. Messages are
 * walked with explicit length checks (a header or attribute that claims more
 * bytes than remain ends the walk), integers are read with memcpy (no
 * alignment assumed), strings are copied bounded and NUL-terminated. A
 * malformed message is skipped or ends the walk; it never reads out of
 * bounds. Only datagrams from the kernel (sender port id 0) are looked at.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dx_shim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* Kernel dump datagrams are at most 32 KB (netlink caps max_recvmsg_len). */
#define NL_BUF 32768
/* How often a dump the kernel marked inconsistent (NLM_F_DUMP_INTR) is redone. */
#define DUMP_TRIES 8
/* Largest receive buffer the subscription grows to on ENOBUFS. */
#define SUB_RCVBUF_MAX (4 << 20)

#define ALIGN4(n) (((size_t)(n) + 3) & ~(size_t)3)
#define HDRLEN ALIGN4(sizeof(struct nlmsghdr))

struct dx_nl { int fd; uint32_t seq; uint8_t buf[NL_BUF]; };
struct dx_nl_sub { int fd; size_t pos, len; uint8_t buf[NL_BUF]; };

/* ---- bounds-checked walking ---- */

/* Next message of buf[*off..len): its header copied to h, its payload (the
 * bytes after the header, inside nlmsg_len) in *p and *plen. 0 when none is
 * left or the next header is malformed (which ends the walk). */
static int next_msg(const uint8_t *buf, size_t len, size_t *off, struct nlmsghdr *h,
                    const uint8_t **p, size_t *plen) {
    size_t left = *off <= len ? len - *off : 0;
    if (left < sizeof *h) return 0;
    memcpy(h, buf + *off, sizeof *h);
    if (h->nlmsg_len < sizeof *h || h->nlmsg_len > left) return 0;
    *p = buf + *off + HDRLEN;
    *plen = h->nlmsg_len >= HDRLEN ? h->nlmsg_len - HDRLEN : 0;
    size_t step = ALIGN4(h->nlmsg_len);
    *off += step < left ? step : left;
    return 1;
}

/* Next attribute of a[*off..len), like RTA_OK/RTA_NEXT with every length checked. */
static int next_attr(const uint8_t *a, size_t len, size_t *off, unsigned *type,
                     const uint8_t **d, size_t *dlen) {
    struct rtattr r;
    size_t left = *off <= len ? len - *off : 0;
    if (left < sizeof r) return 0;
    memcpy(&r, a + *off, sizeof r);
    if (r.rta_len < sizeof r || r.rta_len > left) return 0;
    *type = r.rta_type & NLA_TYPE_MASK;
    *d = a + *off + sizeof r;
    *dlen = r.rta_len - sizeof r;
    size_t step = ALIGN4(r.rta_len);
    *off += step < left ? step : left;
    return 1;
}

static void copy_str(char *dst, size_t cap, const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n && i + 1 < cap && s[i]) { dst[i] = (char)s[i]; i++; }
    dst[i] = 0;
}

static uint32_t get_u32(const uint8_t *d) { uint32_t v; memcpy(&v, d, 4); return v; }

/* ---- message → struct ---- */

static int parse_link(const uint8_t *p, size_t plen, dx_link *d) {
    struct ifinfomsg ifi;
    if (plen < sizeof ifi) return 0;
    memcpy(&ifi, p, sizeof ifi);
    if (ifi.ifi_family != AF_UNSPEC) return 0; /* e.g. AF_BRIDGE port info */
    memset(d, 0, sizeof *d);
    d->index = ifi.ifi_index;
    d->flags = ifi.ifi_flags;
    d->up = (ifi.ifi_flags & DX_IFF_UP) != 0;
    d->running = (ifi.ifi_flags & DX_IFF_RUNNING) != 0;
    d->carrier = (ifi.ifi_flags & DX_IFF_LOWER_UP) != 0;
    d->type = ifi.ifi_type;
    size_t off = ALIGN4(sizeof ifi), n;
    unsigned t;
    const uint8_t *v;
    while (next_attr(p, plen, &off, &t, &v, &n)) {
        switch (t) {
        case IFLA_IFNAME: copy_str(d->name, sizeof d->name, v, n); break;
        case IFLA_MTU: if (n >= 4) d->mtu = (int)get_u32(v); break;
        case IFLA_ADDRESS: if (n == 6) { memcpy(d->mac, v, 6); d->mac_len = 6; } break;
        case IFLA_OPERSTATE: if (n >= 1) d->operstate = v[0]; break;
        case IFLA_CARRIER: if (n >= 1) d->carrier = v[0] != 0; break;
        default: break;
        }
    }
    return 1;
}

static int parse_addr(const uint8_t *p, size_t plen, dx_ifaddr *d) {
    struct ifaddrmsg ifa;
    if (plen < sizeof ifa) return 0;
    memcpy(&ifa, p, sizeof ifa);
    size_t alen = ifa.ifa_family == AF_INET ? 4 : ifa.ifa_family == AF_INET6 ? 16 : 0;
    if (!alen) return 0;
    memset(d, 0, sizeof *d);
    d->ifindex = (int)ifa.ifa_index;
    d->family = ifa.ifa_family == AF_INET ? DX_AF_INET : DX_AF_INET6;
    d->prefixlen = ifa.ifa_prefixlen;
    d->flags = ifa.ifa_flags;
    d->scope = ifa.ifa_scope;
    d->valid_lft = d->preferred_lft = 0xffffffffu;
    const uint8_t *address = NULL, *local = NULL;
    size_t off = ALIGN4(sizeof ifa), n;
    unsigned t;
    const uint8_t *v;
    while (next_attr(p, plen, &off, &t, &v, &n)) {
        switch (t) {
        case IFA_ADDRESS: if (n == alen) address = v; break;
        case IFA_LOCAL: if (n == alen) local = v; break;
        case IFA_LABEL: copy_str(d->label, sizeof d->label, v, n); break;
        case IFA_FLAGS: if (n >= 4) d->flags = get_u32(v); break;
        case IFA_CACHEINFO:
            if (n >= sizeof(struct ifa_cacheinfo)) {
                struct ifa_cacheinfo ci;
                memcpy(&ci, v, sizeof ci);
                d->preferred_lft = ci.ifa_prefered;
                d->valid_lft = ci.ifa_valid;
            }
            break;
        default: break;
        }
    }
    /* IFA_LOCAL is our side of a point-to-point link; IPv6 sends IFA_ADDRESS only. */
    if (!local) local = address;
    if (!local) return 0;
    memcpy(d->addr, local, alen);
    return 1;
}

static int parse_event(const struct nlmsghdr *h, const uint8_t *p, size_t plen, dx_nl_event *e) {
    memset(e, 0, sizeof *e);
    switch (h->nlmsg_type) {
    case RTM_NEWLINK: e->kind = DX_NL_LINK_NEW; return parse_link(p, plen, &e->link);
    case RTM_DELLINK: e->kind = DX_NL_LINK_DEL; return parse_link(p, plen, &e->link);
    case RTM_NEWADDR: e->kind = DX_NL_ADDR_NEW; return parse_addr(p, plen, &e->addr);
    case RTM_DELADDR: e->kind = DX_NL_ADDR_DEL; return parse_addr(p, plen, &e->addr);
    default: return 0;
    }
}

/* Parses events from buf[*off..len) into out until max are filled; *off
 * ends at the first message not yet consumed. */
static int parse_events(const uint8_t *buf, size_t len, size_t *off, dx_nl_event *out, int max) {
    int n = 0;
    while (n < max) {
        struct nlmsghdr h;
        const uint8_t *p;
        size_t plen;
        if (!next_msg(buf, len, off, &h, &p, &plen)) { *off = len; break; }
        n += parse_event(&h, p, plen, &out[n]);
    }
    return n;
}

int dx_nl_parse_events(const void *buf, size_t len, dx_nl_event *out, int max) {
    size_t off = 0;
    return parse_events(buf, len, &off, out, max);
}

/* ---- sockets ---- */

static int nl_socket(int nonblock) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

/* One datagram from the kernel; datagrams from other senders are dropped.
 * Returns its length, or -1 with errno (EMSGSIZE when it did not fit). */
static ssize_t nl_recv(int fd, uint8_t *buf, size_t cap) {
    for (;;) {
        struct sockaddr_nl from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (fl < sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0) continue;
        if ((size_t)n > cap) { errno = EMSGSIZE; return -1; }
        return n;
    }
}

dx_nl *dx_nl_open(void) {
    struct dx_nl *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->fd = nl_socket(0);
    if (h->fd < 0) { int e = errno; free(h); errno = e; return NULL; }
    /* The kernel answers requests synchronously; this only bounds a wait
     * that should never happen. */
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    h->seq = (uint32_t)dx_monotonic_ns();
    return h;
}

void dx_nl_close(dx_nl *h) {
    if (!h) return;
    close(h->fd);
    free(h);
}

/* Sends one request (header + body[blen]) with a new sequence number. */
static int nl_send(dx_nl *h, uint16_t type, uint16_t flags, const void *body, size_t blen) {
    struct nlmsghdr nh = { .nlmsg_len = (uint32_t)(HDRLEN + blen), .nlmsg_type = type,
                           .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags), .nlmsg_seq = ++h->seq };
    uint8_t msg[HDRLEN + 128];
    if (blen > sizeof msg - HDRLEN) { errno = EINVAL; return -1; }
    memcpy(msg, &nh, sizeof nh);
    memcpy(msg + HDRLEN, body, blen);
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    for (;;) {
        ssize_t n = sendto(h->fd, msg, nh.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to);
        if (n < 0 && errno == EINTR) continue;
        return n < 0 ? -1 : 0;
    }
}

/* The error code of an NLMSG_ERROR / NLMSG_DONE payload (0 when too short). */
static int payload_error(const uint8_t *p, size_t plen) {
    int32_t e = 0;
    if (plen >= 4) memcpy(&e, p, 4);
    return e;
}

/* A dump of `type` (RTM_GETLINK or RTM_GETADDR): each reply message is
 * parsed into out[count] while count < max; the total is returned. */
static int dump(dx_nl *h, uint16_t type, void *out, int max) {
    for (int attempt = 0; attempt < DUMP_TRIES; attempt++) {
        uint8_t body[16] = {0}; /* ifinfomsg (16) or ifaddrmsg (8), family AF_UNSPEC */
        if (nl_send(h, type, NLM_F_DUMP, body, type == RTM_GETLINK ? sizeof(struct ifinfomsg)
                                                                   : sizeof(struct ifaddrmsg)) < 0)
            return -1;
        int count = 0, intr = 0, done = 0;
        while (!done) {
            ssize_t len = nl_recv(h->fd, h->buf, sizeof h->buf);
            if (len < 0) { if (errno == EAGAIN) errno = ETIMEDOUT; return -1; }
            size_t off = 0, plen;
            struct nlmsghdr m;
            const uint8_t *p;
            while (next_msg(h->buf, (size_t)len, &off, &m, &p, &plen)) {
                if (m.nlmsg_seq != h->seq) continue; /* left over from an earlier request */
                if (m.nlmsg_flags & NLM_F_DUMP_INTR) intr = 1;
                if (m.nlmsg_type == NLMSG_DONE || m.nlmsg_type == NLMSG_ERROR) {
                    int e = payload_error(p, plen);
                    if (e < 0) { errno = -e; return -1; }
                    done = 1;
                    break;
                }
                int ok;
                if (type == RTM_GETLINK) {
                    dx_link tmp;
                    ok = m.nlmsg_type == RTM_NEWLINK && parse_link(p, plen, &tmp);
                    if (ok && count < max) ((dx_link *)out)[count] = tmp;
                } else {
                    dx_ifaddr tmp;
                    ok = m.nlmsg_type == RTM_NEWADDR && parse_addr(p, plen, &tmp);
                    if (ok && count < max) ((dx_ifaddr *)out)[count] = tmp;
                }
                count += ok;
            }
        }
        if (!intr) return count;
    }
    errno = EAGAIN; /* the tables kept changing under every dump */
    return -1;
}

int dx_nl_links(dx_nl *h, dx_link *out, int max) { return dump(h, RTM_GETLINK, out, max); }
int dx_nl_addrs(dx_nl *h, dx_ifaddr *out, int max) { return dump(h, RTM_GETADDR, out, max); }

static size_t put_attr(uint8_t *b, size_t off, unsigned type, const void *data, size_t n) {
    struct rtattr r = { .rta_len = (unsigned short)(sizeof r + n), .rta_type = (unsigned short)type };
    memcpy(b + off, &r, sizeof r);
    memcpy(b + off + sizeof r, data, n);
    memset(b + off + sizeof r + n, 0, ALIGN4(sizeof r + n) - (sizeof r + n));
    return off + ALIGN4(sizeof r + n);
}

/* RTM_NEWADDR / RTM_DELADDR, then the kernel's ACK: 0, or -1 with its errno. */
static int addr_request(dx_nl *h, uint16_t type, uint16_t flags, int ifindex, int family,
                        const uint8_t *addr, int prefixlen, const char *label) {
    int v4 = family == DX_AF_INET;
    size_t alen = v4 ? 4 : 16;
    if ((!v4 && family != DX_AF_INET6) || prefixlen < 0 || prefixlen > (int)alen * 8 || ifindex <= 0) {
        errno = EINVAL;
        return -1;
    }
    uint8_t body[sizeof(struct ifaddrmsg) + 2 * (4 + 16) + 4 + 16] = {0};
    struct ifaddrmsg ifa = { .ifa_family = v4 ? AF_INET : AF_INET6, .ifa_prefixlen = (uint8_t)prefixlen,
                             .ifa_index = (uint32_t)ifindex };
    memcpy(body, &ifa, sizeof ifa);
    size_t off = ALIGN4(sizeof ifa);
    off = put_attr(body, off, IFA_LOCAL, addr, alen);
    off = put_attr(body, off, IFA_ADDRESS, addr, alen);
    if (v4 && label && label[0]) {
        size_t n = strlen(label) + 1;
        if (n > 16) { errno = EINVAL; return -1; } /* IFNAMSIZ */
        off = put_attr(body, off, IFA_LABEL, label, n);
    }
    if (nl_send(h, type, (uint16_t)(NLM_F_ACK | flags), body, off) < 0) return -1;
    for (;;) {
        ssize_t len = nl_recv(h->fd, h->buf, sizeof h->buf);
        if (len < 0) { if (errno == EAGAIN) errno = ETIMEDOUT; return -1; }
        size_t moff = 0, plen;
        struct nlmsghdr m;
        const uint8_t *p;
        while (next_msg(h->buf, (size_t)len, &moff, &m, &p, &plen)) {
            if (m.nlmsg_seq != h->seq || m.nlmsg_type != NLMSG_ERROR) continue;
            int e = payload_error(p, plen);
            if (e < 0) { errno = -e; return -1; }
            return 0;
        }
    }
}

int dx_nl_addr_add(dx_nl *h, int ifindex, int family, const uint8_t *addr, int prefixlen, const char *label) {
    return addr_request(h, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, family, addr, prefixlen, label);
}

int dx_nl_addr_del(dx_nl *h, int ifindex, int family, const uint8_t *addr, int prefixlen) {
    return addr_request(h, RTM_DELADDR, 0, ifindex, family, addr, prefixlen, NULL);
}

/* ---- subscription ---- */

dx_nl_sub *dx_nl_subscribe(void) {
    struct dx_nl_sub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fd = nl_socket(1);
    static const int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR };
    for (size_t i = 0; s->fd >= 0 && i < sizeof groups / sizeof groups[0]; i++) {
        if (setsockopt(s->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof groups[i]) < 0) {
            int e = errno; close(s->fd); errno = e; s->fd = -1;
        }
    }
    if (s->fd < 0) { int e = errno; free(s); errno = e; return NULL; }
    return s;
}

int dx_nl_sub_fd(dx_nl_sub *s) { return s->fd; }

/* The kernel dropped notifications: double the receive buffer (as odhcpd
 * does) so it happens less. SO_RCVBUFFORCE passes rmem_max with
 * CAP_NET_ADMIN; SO_RCVBUF is the fallback. getsockopt reports the doubled
 * value the kernel keeps, setsockopt doubles what it is given. */
static void grow_rcvbuf(int fd) {
    int cur = 0;
    socklen_t l = sizeof cur;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cur, &l) < 0 || cur <= 0 || cur >= SUB_RCVBUF_MAX) return;
    int want = cur; /* kept as 2 * cur */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
}

int dx_nl_sub_read(dx_nl_sub *s, dx_nl_event *out, int max, int *overflow) {
    int n = 0;
    while (n < max) {
        if (s->pos < s->len) {
            n += parse_events(s->buf, s->len, &s->pos, out + n, max - n);
            continue;
        }
        ssize_t len = nl_recv(s->fd, s->buf, sizeof s->buf);
        s->pos = s->len = 0;
        if (len >= 0) { s->len = (size_t)len; continue; }
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == ENOBUFS || errno == EMSGSIZE) {
            /* Lost notifications (or one too big to read): the caller re-dumps. */
            if (overflow) *overflow = 1;
            if (errno == ENOBUFS) grow_rcvbuf(s->fd);
            continue;
        }
        if (n == 0) return -1;
        break;
    }
    return n;
}

void dx_nl_sub_close(dx_nl_sub *s) {
    if (!s) return;
    close(s->fd);
    free(s);
}
