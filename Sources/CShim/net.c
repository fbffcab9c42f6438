/* dnsbox C shim: sockets, unix datagram control sockets, batched UDP I/O. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dx_shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>

typedef union { struct sockaddr sa; struct sockaddr_in v4; struct sockaddr_in6 v6; struct sockaddr_storage ss; } dx_sockaddr;

static socklen_t to_sockaddr(const dx_addr *a, dx_sockaddr *out) {
    memset(out, 0, sizeof *out);
    if (a->family == DX_AF_INET) {
        out->v4.sin_family = AF_INET;
        out->v4.sin_port = htons(a->port);
        memcpy(&out->v4.sin_addr, a->addr, 4);
        return sizeof out->v4;
    }
    out->v6.sin6_family = AF_INET6;
    out->v6.sin6_port = htons(a->port);
    memcpy(&out->v6.sin6_addr, a->addr, 16);
    out->v6.sin6_scope_id = a->scope_id;
    return sizeof out->v6;
}

static void from_sockaddr(const struct sockaddr *sa, dx_addr *out) {
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        out->family = DX_AF_INET;
        out->port = ntohs(v4->sin_port);
        memcpy(out->addr, &v4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        out->family = DX_AF_INET6;
        out->port = ntohs(v6->sin6_port);
        memcpy(out->addr, &v6->sin6_addr, 16);
        out->scope_id = v6->sin6_scope_id;
    }
}

int dx_socket(int family, int type, int nonblock) {
    int t = type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    return socket(family, t, 0);
}
int dx_bind(int fd, const dx_addr *a) {
    dx_sockaddr s; socklen_t n = to_sockaddr(a, &s);
    return bind(fd, &s.sa, n);
}
int dx_listen(int fd, int backlog) { return listen(fd, backlog); }
int dx_accept(int fd, dx_addr *peer) {
    dx_sockaddr s; socklen_t n = sizeof s;
    int c;
    do { c = accept4(fd, &s.sa, &n, SOCK_NONBLOCK | SOCK_CLOEXEC); } while (c < 0 && errno == EINTR);
    if (c >= 0 && peer) from_sockaddr(&s.sa, peer);
    return c;
}
int dx_connect(int fd, const dx_addr *a) {
    dx_sockaddr s; socklen_t n = to_sockaddr(a, &s);
    int r;
    do { r = connect(fd, &s.sa, n); } while (r < 0 && errno == EINTR);
    return r;
}
int dx_local_addr(int fd, dx_addr *out) {
    dx_sockaddr s; socklen_t n = sizeof s;
    if (getsockname(fd, &s.sa, &n) != 0) return -1;
    from_sockaddr(&s.sa, out);
    return 0;
}
ssize_t dx_sendto(int fd, const void *buf, size_t len, const dx_addr *to) {
    dx_sockaddr s; socklen_t n = to ? to_sockaddr(to, &s) : 0;
    ssize_t r;
    do { r = sendto(fd, buf, len, MSG_NOSIGNAL, to ? &s.sa : NULL, n); } while (r < 0 && errno == EINTR);
    return r;
}
ssize_t dx_recvfrom(int fd, void *buf, size_t len, dx_addr *from) {
    dx_sockaddr s; socklen_t n = sizeof s;
    ssize_t r;
    do { r = recvfrom(fd, buf, len, 0, &s.sa, &n); } while (r < 0 && errno == EINTR);
    if (r >= 0 && from) from_sockaddr(&s.sa, from);
    return r;
}
static int setint(int fd, int level, int opt, int v) { return setsockopt(fd, level, opt, &v, sizeof v); }
int dx_set_reuseaddr(int fd) { return setint(fd, SOL_SOCKET, SO_REUSEADDR, 1); }
int dx_set_reuseport(int fd) { return setint(fd, SOL_SOCKET, SO_REUSEPORT, 1); }
int dx_set_v6only(int fd, int on) { return setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, on); }
int dx_set_pktinfo(int fd, int family) {
    if (family == DX_AF_INET) return setint(fd, IPPROTO_IP, IP_PKTINFO, 1);
    return setint(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
}
int dx_bind_to_device(int fd, const char *ifname) {
    return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
}
int dx_set_rcvbuf(int fd, int bytes) { return setint(fd, SOL_SOCKET, SO_RCVBUF, bytes); }
int dx_set_sndbuf(int fd, int bytes) { return setint(fd, SOL_SOCKET, SO_SNDBUF, bytes); }
int dx_set_broadcast(int fd) { return setint(fd, SOL_SOCKET, SO_BROADCAST, 1); }
int dx_socket_error(int fd) {
    int e = 0; socklen_t n = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &n) != 0) return errno;
    return e;
}
int dx_shutdown_write(int fd) { return shutdown(fd, SHUT_WR); }

int dx_addr_parse(const char *text, uint16_t port, dx_addr *a) {
    memset(a, 0, sizeof *a);
    a->port = port;
    if (inet_pton(AF_INET, text, a->addr) == 1) { a->family = DX_AF_INET; return 0; }
    if (inet_pton(AF_INET6, text, a->addr) == 1) { a->family = DX_AF_INET6; return 0; }
    return -1;
}
/* Text form of an address, as inet_ntop writes it (RFC 5952 for IPv6:
 * lowercase hex, the longest run of two or more zero groups as "::", the
 * first of equal runs; an IPv4-mapped address as ::ffff:a.b.c.d), written
 * here because musl's inet_ntop formats through snprintf, which brings all
 * of printf into the static binary. */
static size_t put_dec(char *p, unsigned v) {
    char t[4];
    size_t n = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) p[i] = t[n - 1 - i];
    return n;
}

static size_t put_v4(char *p, const uint8_t *b) {
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        if (i) p[n++] = '.';
        n += put_dec(p + n, b[i]);
    }
    return n;
}

static size_t put_hex16(char *p, unsigned v) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    int started = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 15;
        if (d || started || shift == 0) { p[n++] = hex[d]; started = 1; }
    }
    return n;
}

int dx_addr_format(const dx_addr *a, char *buf, size_t len) {
    char t[48];
    size_t n = 0;
    const uint8_t *b = a->addr;
    if (a->family == DX_AF_INET) {
        n = put_v4(t, b);
    } else {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        unsigned g[8];
        for (int i = 0; i < 8; i++) g[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
        int groups = memcmp(b, mapped, 12) == 0 ? 6 : 8;
        int best = -1, bestLen = 1;
        for (int i = 0; i < groups;) {
            if (g[i] != 0) { i++; continue; }
            int j = i;
            while (j < groups && g[j] == 0) j++;
            if (j - i > bestLen) { best = i; bestLen = j - i; }
            i = j;
        }
        for (int i = 0; i < groups; i++) {
            if (i == best) {
                t[n++] = ':';
                if (i == 0) t[n++] = ':';
                i += bestLen - 1;
                continue;
            }
            n += put_hex16(t + n, g[i]);
            if (i < groups - 1) t[n++] = ':';
        }
        if (groups == 6) {
            if (n == 0 || t[n - 1] != ':') t[n++] = ':';
            n += put_v4(t + n, b + 12);
        }
    }
    if (len == 0) return 0;
    if (n >= len) n = len - 1;
    memcpy(buf, t, n);
    buf[n] = 0;
    return (int)n;
}
unsigned dx_if_nametoindex(const char *name) { return if_nametoindex(name); }

/* ---- unix datagram sockets ---- */
static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len) {
    size_t n = strlen(path);
    if (n >= sizeof sun->sun_path) { errno = ENAMETOOLONG; return -1; }
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}
int dx_unix_dgram_bind(const char *path) {
    struct sockaddr_un sun; socklen_t len;
    if (unix_addr(path, &sun, &len) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, len) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
int dx_unix_dgram_client(void) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    /* Binding only the family asks the kernel for a unique abstract name. */
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}
ssize_t dx_unix_sendto(int fd, const char *path, const void *buf, size_t len) {
    struct sockaddr_un sun; socklen_t alen;
    if (unix_addr(path, &sun, &alen) != 0) return -1;
    ssize_t r;
    do { r = sendto(fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, alen); } while (r < 0 && errno == EINTR);
    return r;
}
ssize_t dx_unix_recv(int fd, void *buf, size_t len, dx_unix_peer *peer) {
    struct sockaddr_un sun; socklen_t alen = sizeof sun;
    memset(&sun, 0, sizeof sun);
    ssize_t r;
    do { r = recvfrom(fd, buf, len, 0, (struct sockaddr *)&sun, &alen); } while (r < 0 && errno == EINTR);
    if (r >= 0 && peer) {
        if (alen > sizeof peer->raw) alen = sizeof peer->raw;
        memcpy(peer->raw, &sun, alen);
        peer->len = alen;
    }
    return r;
}
ssize_t dx_unix_reply(int fd, const dx_unix_peer *peer, const void *buf, size_t len) {
    if (peer->len <= sizeof(sa_family_t)) { errno = ENOTCONN; return -1; }
    ssize_t r;
    do { r = sendto(fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)peer->raw, peer->len); } while (r < 0 && errno == EINTR);
    return r;
}

/* ---- batched UDP I/O ---- */
#define DX_CMSG_SPACE 128
struct dx_batch {
    int n, bufsize;
    int used;           /* slots the last receive filled: only those need resetting */
    uint8_t *bufs;
    struct mmsghdr *msgs;
    struct iovec *iovs;
    dx_sockaddr *peers;
    uint8_t *cmsgs;     /* n * DX_CMSG_SPACE */
    int *reply_len;
    struct mmsghdr *out; /* reply vector, built per send */
    struct iovec *out_iovs;
    uint8_t *out_cmsgs;
};

static void batch_bind_slots(dx_batch *b);

dx_batch *dx_batch_new(int n, int bufsize) {
    if (n <= 0 || bufsize <= 0) return NULL;
    struct dx_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->n = n; b->bufsize = bufsize;
    b->bufs = calloc((size_t)n, (size_t)bufsize);
    b->msgs = calloc((size_t)n, sizeof *b->msgs);
    b->iovs = calloc((size_t)n, sizeof *b->iovs);
    b->peers = calloc((size_t)n, sizeof *b->peers);
    b->cmsgs = calloc((size_t)n, DX_CMSG_SPACE);
    b->reply_len = calloc((size_t)n, sizeof *b->reply_len);
    b->out = calloc((size_t)n, sizeof *b->out);
    b->out_iovs = calloc((size_t)n, sizeof *b->out_iovs);
    b->out_cmsgs = calloc((size_t)n, DX_CMSG_SPACE);
    if (!b->bufs || !b->msgs || !b->iovs || !b->peers || !b->cmsgs || !b->reply_len ||
        !b->out || !b->out_iovs || !b->out_cmsgs) { dx_batch_free(b); return NULL; }
    batch_bind_slots(b);
    return b;
}

void dx_batch_free(dx_batch *b) {
    if (!b) return;
    free(b->bufs); free(b->msgs); free(b->iovs); free(b->peers); free(b->cmsgs);
    free(b->reply_len); free(b->out); free(b->out_iovs); free(b->out_cmsgs);
    free(b);
}

/* Points every slot's header at its buffer, address and control space.
 * These pointers never change; the kernel rewrites only the lengths and
 * flags, which dx_batch_recv resets for the slots the last call used. */
static void batch_bind_slots(dx_batch *b) {
    for (int i = 0; i < b->n; i++) {
        b->iovs[i].iov_base = b->bufs + (size_t)i * (size_t)b->bufsize;
        b->iovs[i].iov_len = (size_t)b->bufsize;
        struct msghdr *h = &b->msgs[i].msg_hdr;
        h->msg_name = &b->peers[i];
        h->msg_iov = &b->iovs[i];
        h->msg_iovlen = 1;
        h->msg_control = b->cmsgs + (size_t)i * DX_CMSG_SPACE;
    }
    b->used = b->n;
}

static int batch_recv(int fd, dx_batch *b, int flags);

/* recvmmsg/sendmmsg as the system calls themselves. musl's 64-bit
 * wrappers exist because its msghdr and cmsghdr carry explicit padding
 * where the kernel has wider fields: recvmmsg zeroes every slot's padding
 * on every call, and sendmmsg makes one sendmsg call (one system call, and
 * a copy of the control data) per datagram. Every header here is zeroed
 * when built and the kernel never writes the padding, so the kernel reads
 * the same structures; a batch of replies then costs one system call, as
 * it does with glibc. */
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__)) && defined(SYS_recvmmsg) && defined(SYS_sendmmsg)
/* The system call instruction itself, as libc does inside: libc's
 * variadic syscall() costs more than the call it wraps on this path. */
static inline long sys5(long nr, long a, long b, long c, long d, long e) {
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    long ret;
    __asm__ __volatile__("syscall" : "=a"(ret)
                         : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                         : "rcx", "r11", "memory");
    return ret;
#else
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ __volatile__("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory", "cc");
    return x0;
#endif
}

static inline int sys_ret(long r) {
    if ((unsigned long)r > -4096UL) { errno = (int)-r; return -1; }
    return (int)r;
}

static int mmsg_recv(int fd, struct mmsghdr *v, unsigned n, int flags) {
    return sys_ret(sys5(SYS_recvmmsg, fd, (long)v, (long)n, flags, 0));
}

static int mmsg_send(int fd, struct mmsghdr *v, unsigned n, int flags) {
    return sys_ret(sys5(SYS_sendmmsg, fd, (long)v, (long)n, flags, 0));
}
#else
static int mmsg_recv(int fd, struct mmsghdr *v, unsigned n, int flags) {
    return recvmmsg(fd, v, n, flags, NULL);
}

static int mmsg_send(int fd, struct mmsghdr *v, unsigned n, int flags) {
    return sendmmsg(fd, v, n, flags);
}
#endif

int dx_batch_recv(int fd, dx_batch *b) { return batch_recv(fd, b, MSG_DONTWAIT); }

int dx_batch_recv_wait(int fd, dx_batch *b) {
    int r = batch_recv(fd, b, MSG_WAITFORONE);
    return r < 0 && errno == EINTR ? 0 : r;
}

int dx_set_recv_timeout(int fd, int ms) {
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static int batch_recv(int fd, dx_batch *b, int flags) {
    for (int i = 0; i < b->used; i++) {
        struct msghdr *h = &b->msgs[i].msg_hdr;
        h->msg_namelen = sizeof b->peers[i];
        h->msg_controllen = DX_CMSG_SPACE;
        h->msg_flags = 0;
        b->msgs[i].msg_len = 0;
        b->reply_len[i] = 0;
    }
    b->used = 0;
    int r;
    if (flags & MSG_DONTWAIT) {
        do { r = mmsg_recv(fd, b->msgs, (unsigned)b->n, flags); } while (r < 0 && errno == EINTR);
    } else {
        r = mmsg_recv(fd, b->msgs, (unsigned)b->n, flags);
    }
    if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    b->used = r;
    return r;
}

#define IN_RANGE(b, i) ((i) >= 0 && (i) < (b)->n)
uint8_t *dx_batch_buf(dx_batch *b, int i) {
    return IN_RANGE(b, i) ? b->bufs + (size_t)i * (size_t)b->bufsize : NULL;
}
int dx_batch_len(const dx_batch *b, int i) {
    /* A datagram larger than the slot is cut by the kernel and flagged
       MSG_TRUNC: it reads as empty (dropped), never as a shorter query. */
    if (!IN_RANGE(b, i) || (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) return 0;
    return (int)b->msgs[i].msg_len;
}
int dx_batch_capacity(const dx_batch *b) { return b->bufsize; }
void dx_batch_peer(const dx_batch *b, int i, dx_addr *out) {
    if (!IN_RANGE(b, i)) { memset(out, 0, sizeof *out); return; }
    from_sockaddr(&b->peers[i].sa, out);
}

static struct cmsghdr *find_pktinfo(const struct msghdr *h) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR((struct msghdr *)h, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) ||
            (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)) return c;
    }
    return NULL;
}

void dx_batch_local(const dx_batch *b, int i, dx_addr *out) {
    memset(out, 0, sizeof *out);
    if (!IN_RANGE(b, i)) return;
    struct cmsghdr *c = find_pktinfo(&b->msgs[i].msg_hdr);
    if (!c) return;
    if (c->cmsg_level == IPPROTO_IP) {
        struct in_pktinfo pi; memcpy(&pi, CMSG_DATA(c), sizeof pi);
        out->family = DX_AF_INET; memcpy(out->addr, &pi.ipi_addr, 4);
    } else {
        struct in6_pktinfo pi; memcpy(&pi, CMSG_DATA(c), sizeof pi);
        out->family = DX_AF_INET6; memcpy(out->addr, &pi.ipi6_addr, 16);
        out->scope_id = pi.ipi6_ifindex;
    }
}

int dx_batch_ifindex(const dx_batch *b, int i) {
    if (!IN_RANGE(b, i)) return 0;
    struct cmsghdr *c = find_pktinfo(&b->msgs[i].msg_hdr);
    if (!c) return 0;
    if (c->cmsg_level == IPPROTO_IP) { struct in_pktinfo pi; memcpy(&pi, CMSG_DATA(c), sizeof pi); return pi.ipi_ifindex; }
    struct in6_pktinfo pi; memcpy(&pi, CMSG_DATA(c), sizeof pi); return (int)pi.ipi6_ifindex;
}

void dx_batch_set_reply(dx_batch *b, int i, int len) {
    if (i < 0 || i >= b->n) return;
    b->reply_len[i] = (len < 0 || len > b->bufsize) ? 0 : len;
}

int dx_batch_send_replies(int fd, dx_batch *b, int count) {
    int m = 0;
    if (count > b->n) count = b->n;
    for (int i = 0; i < count; i++) {
        if (b->reply_len[i] <= 0) continue;
        struct msghdr *h = &b->out[m].msg_hdr;
        memset(h, 0, sizeof *h);
        b->out_iovs[m].iov_base = dx_batch_buf(b, i);
        b->out_iovs[m].iov_len = (size_t)b->reply_len[i];
        h->msg_name = &b->peers[i];
        h->msg_namelen = b->msgs[i].msg_hdr.msg_namelen;
        h->msg_iov = &b->out_iovs[m];
        h->msg_iovlen = 1;
        /* Reply from the local address the query arrived at. IPv4: the
         * kernel put that address in ipi_spec_dst (for a broadcast query it is
         * the interface's unicast address, never the broadcast address).
         * IPv6: a multicast destination is no source; let the kernel choose
         * one on the arrival interface. */
        struct cmsghdr *in = find_pktinfo(&b->msgs[i].msg_hdr);
        if (in) {
            uint8_t *ctl = b->out_cmsgs + (size_t)m * DX_CMSG_SPACE;
            memset(ctl, 0, DX_CMSG_SPACE);
            h->msg_control = ctl;
            struct cmsghdr *c;
            if (in->cmsg_level == IPPROTO_IP) {
                h->msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
                c = CMSG_FIRSTHDR(h);
                c->cmsg_level = IPPROTO_IP; c->cmsg_type = IP_PKTINFO;
                c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
                struct in_pktinfo pi; memcpy(&pi, CMSG_DATA(in), sizeof pi);
                pi.ipi_ifindex = 0;
                memcpy(CMSG_DATA(c), &pi, sizeof pi);
            } else {
                h->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
                c = CMSG_FIRSTHDR(h);
                c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_PKTINFO;
                c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
                struct in6_pktinfo pi; memcpy(&pi, CMSG_DATA(in), sizeof pi);
                if (pi.ipi6_addr.s6_addr[0] == 0xff) memset(&pi.ipi6_addr, 0, sizeof pi.ipi6_addr);
                memcpy(CMSG_DATA(c), &pi, sizeof pi);
            }
        }
        m++;
    }
    int done = 0, accepted = 0;
    while (done < m) {
        int r = mmsg_send(fd, b->out + done, (unsigned)(m - done), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* The first datagram failed (e.g. unreachable peer): drop it, go on. */
            done++;
            continue;
        }
        done += r;
        accepted += r;
    }
    return accepted;
}

/* One datagram to `to` from local address `from` (IP_PKTINFO /
 * IPV6_PKTINFO; from->scope_id is the IPv6 interface index). For replies
 * sent later than the batch they answer (forwarded queries) on a socket
 * bound to a wildcard address. `from` NULL or family 0: plain sendto. */
ssize_t dx_sendto_from(int fd, const void *buf, size_t len, const dx_addr *to, const dx_addr *from) {
    dx_sockaddr sa;
    socklen_t sl = to_sockaddr(to, &sa);
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr h;
    memset(&h, 0, sizeof h);
    h.msg_name = &sa;
    h.msg_namelen = sl;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    uint8_t ctl[DX_CMSG_SPACE];
    memset(ctl, 0, sizeof ctl);
    if (from && from->family == DX_AF_INET) {
        h.msg_control = ctl;
        h.msg_controllen = CMSG_SPACE(sizeof(struct in_pktinfo));
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = IPPROTO_IP; c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
        struct in_pktinfo pi; memset(&pi, 0, sizeof pi);
        memcpy(&pi.ipi_spec_dst, from->addr, 4);
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
    } else if (from && from->family == DX_AF_INET6) {
        h.msg_control = ctl;
        h.msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = IPPROTO_IPV6; c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
        struct in6_pktinfo pi; memset(&pi, 0, sizeof pi);
        if (from->addr[0] != 0xff) memcpy(&pi.ipi6_addr, from->addr, 16);
        pi.ipi6_ifindex = from->scope_id;
        memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
    ssize_t r;
    do { r = sendmsg(fd, &h, MSG_DONTWAIT | MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    return r;
}
