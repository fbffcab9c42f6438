/*
 * dnsbox C shim: the only C that Swift product code sees.
 *
 * Contract: everything here compiles against glibc (host build) and musl
 * (firmware build, zig's headers). Differences between the two — enum vs
 * macro constants, packed structs, pthread_t's type, variadic functions,
 * errno as a macro — stay on this side. Every symbol is prefixed dx_/DX_.
 * Functions return -1 and leave errno set on failure unless stated.
 */
#ifndef DX_SHIM_H
#define DX_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sqlite3.h>

/* ---- constants (anonymous enum: imports the same from glibc and musl) ---- */
enum {
    DX_AF_INET = 2, DX_AF_INET6 = 10, DX_AF_UNIX = 1,
    DX_SOCK_STREAM = 1, DX_SOCK_DGRAM = 2,
    DX_EPOLLIN = 0x001, DX_EPOLLOUT = 0x004, DX_EPOLLERR = 0x008,
    DX_EPOLLHUP = 0x010, DX_EPOLLRDHUP = 0x2000,
    DX_SIGHUP = 1, DX_SIGINT = 2, DX_SIGQUIT = 3, DX_SIGKILL = 9, DX_SIGUSR1 = 10,
    DX_SIGUSR2 = 12, DX_SIGPIPE = 13, DX_SIGALRM = 14, DX_SIGTERM = 15, DX_SIGCHLD = 17,
    DX_O_RDONLY = 0, DX_O_WRONLY = 1, DX_O_RDWR = 2,
    DX_O_CREAT = 0100, DX_O_EXCL = 0200, DX_O_TRUNC = 01000, DX_O_APPEND = 02000,
    DX_O_NOFOLLOW = 0400000, DX_O_CLOEXEC = 02000000, DX_O_DIRECTORY = 0200000,
    DX_LOG_ERR = 3, DX_LOG_WARNING = 4, DX_LOG_INFO = 6, DX_LOG_DEBUG = 7,
};

/* errno values the Swift side matches on (Linux values, same on all arches we build). */
enum {
    DX_EPERM = 1, DX_ENOENT = 2, DX_ESRCH = 3, DX_EINTR = 4, DX_EIO = 5, DX_EBADF = 9,
    DX_ECHILD = 10, DX_EAGAIN = 11, DX_ENOMEM = 12, DX_EACCES = 13, DX_EEXIST = 17,
    DX_ENOTDIR = 20, DX_EISDIR = 21, DX_EINVAL = 22, DX_ENOSPC = 28, DX_EPIPE = 32,
    DX_ENAMETOOLONG = 36, DX_ENOTEMPTY = 39, DX_EADDRINUSE = 98, DX_EADDRNOTAVAIL = 99,
    DX_ECONNRESET = 104, DX_ENOBUFS = 105, DX_ETIMEDOUT = 110, DX_ECONNREFUSED = 111,
    DX_EINPROGRESS = 115,
};

/* Linux capability numbers (linux/capability.h). */
enum {
    DX_CAP_CHOWN = 0, DX_CAP_DAC_OVERRIDE = 1, DX_CAP_KILL = 5, DX_CAP_SETGID = 6, DX_CAP_SETUID = 7,
    DX_CAP_NET_BIND_SERVICE = 10, DX_CAP_NET_BROADCAST = 11, DX_CAP_NET_ADMIN = 12,
    DX_CAP_NET_RAW = 13, DX_CAP_SYS_CHROOT = 18,
};

/* ---- errno, process, time ---- */
int dx_errno(void);
void dx_set_errno(int e);
/* strerror into a caller buffer; always NUL-terminates. */
void dx_strerror(int e, char *buf, size_t len);
uint64_t dx_monotonic_ns(void);
int64_t dx_realtime_ns(void);
void dx_sleep_ms(uint32_t ms);
const char *dx_getenv(const char *name);
int dx_setenv(const char *name, const char *value);
int dx_unsetenv(const char *name);
int dx_getpid(void);
int dx_getppid(void);
unsigned dx_getuid(void);
int dx_nprocs(void);
void dx_exit_now(int code); /* _exit: no atexit handlers, for forked children */
void dx_exit(int code);     /* exit(3): flushes stdio */
/* Writes all bytes (retrying EINTR/short writes); returns 0 or -1. */
int dx_write_all(int fd, const void *buf, size_t len);
/* Fills buf with random bytes from getrandom(2); returns 0 or -1. */
int dx_random(void *buf, size_t len);

/* ---- files ---- */
int dx_open(const char *path, int flags, unsigned mode);
ssize_t dx_read(int fd, void *buf, size_t len);
ssize_t dx_write(int fd, const void *buf, size_t len);
int dx_close(int fd);
int dx_fsync(int fd);
int dx_mkdir(const char *path, unsigned mode);
int dx_chmod(const char *path, unsigned mode);
int dx_chown(const char *path, unsigned uid, unsigned gid);
int dx_unlink(const char *path);
int dx_rename(const char *from, const char *to);
int dx_symlink(const char *target, const char *linkpath);
/* readlink into buf, NUL-terminated; returns length or -1. */
ssize_t dx_readlink(const char *path, char *buf, size_t len);
/* 1 = directory, 2 = regular file, 3 = symlink (lstat), 4 = other, 0 = absent, -1 = error */
int dx_path_kind(const char *path);
int dx_access(const char *path, int mode);
int64_t dx_file_size(int fd);
int dx_set_nonblock(int fd);
int dx_set_cloexec(int fd);
int dx_pipe(int fds[2]); /* O_CLOEXEC */
int dx_dup2(int from, int to);

/* ---- processes ---- */
/* fork + execv(path, argv) with default signal dispositions (SIGHUP
 * ignored until the child sets up its own handling) and an empty signal
 * mask; when death_signal > 0 the child gets it if the parent dies first.
 * Returns the child's pid or -1. */
int dx_spawn(const char *path, char *const argv[], int death_signal);
/* waitpid(-1 or pid, WNOHANG). Returns pid (0 if none ready, -1 error);
 * *code = exit status, or 128+signal when killed; *signaled = 1 if killed. */
int dx_wait(int pid, int nohang, int *code, int *signaled);
int dx_kill(int pid, int sig);
/* Becomes a child subreaper (PR_SET_CHILD_SUBREAPER) so orphans come to us. */
int dx_set_subreaper(void);
/* Asks the kernel to send sig to this process when its parent dies. */
int dx_set_parent_death_signal(int sig);

/* ---- signals ---- */
/* Blocks the given signals in the calling thread and returns a signalfd
 * (non-blocking, cloexec) that reports them. Call before starting threads. */
int dx_signalfd_open(const int *sigs, int n);
/* Reads one pending signal from a signalfd: returns signo, 0 if none, -1 on error. */
int dx_signalfd_read(int fd);
/* SIG_IGN for sig (e.g. SIGPIPE). */
int dx_signal_ignore(int sig);
/* Unblocks every signal in the calling thread. */
int dx_signal_unblock_all(void);

/* ---- epoll ---- */
typedef struct { uint32_t events; uint64_t data; } dx_event; /* never packed */
int dx_epoll_create(void);
/* Waits up to ms (-1: no limit) until fd is readable (events 1) or writable (4); 1 ready, 0 timeout, -1 error. */
int dx_wait_fd(int fd, int events, int ms);
int dx_epoll_add(int ep, int fd, uint32_t events, uint64_t data);
int dx_epoll_mod(int ep, int fd, uint32_t events, uint64_t data);
int dx_epoll_del(int ep, int fd);
int dx_epoll_wait(int ep, dx_event *out, int max, int timeout_ms);
int dx_eventfd(void);
int dx_eventfd_signal(int fd);
int dx_eventfd_drain(int fd);
int dx_timerfd(void);

/* ---- sockets ---- */
typedef struct {
    uint8_t family;    /* DX_AF_INET or DX_AF_INET6 (0 = none) */
    uint16_t port;     /* host byte order */
    uint8_t addr[16];  /* IPv4 in the first 4 bytes */
    uint32_t scope_id; /* IPv6 interface index (link-local) */
} dx_addr;

int dx_socket(int family, int type, int nonblock);
int dx_bind(int fd, const dx_addr *a);
int dx_listen(int fd, int backlog);
/* accept4(…, SOCK_NONBLOCK|SOCK_CLOEXEC); peer filled when non-NULL. */
int dx_accept(int fd, dx_addr *peer);
/* Non-blocking connect: 0 connected, -1 with errno EINPROGRESS pending. */
int dx_connect(int fd, const dx_addr *a);
int dx_local_addr(int fd, dx_addr *out);
ssize_t dx_sendto(int fd, const void *buf, size_t len, const dx_addr *to);
ssize_t dx_sendto_from(int fd, const void *buf, size_t len, const dx_addr *to, const dx_addr *from);
ssize_t dx_recvfrom(int fd, void *buf, size_t len, dx_addr *from);
int dx_set_reuseaddr(int fd);
int dx_set_reuseport(int fd);
int dx_set_v6only(int fd, int on);
/* IP_PKTINFO / IPV6_RECVPKTINFO so replies leave from the address the query hit. */
int dx_set_pktinfo(int fd, int family);
int dx_bind_to_device(int fd, const char *ifname);
int dx_set_rcvbuf(int fd, int bytes);
int dx_set_sndbuf(int fd, int bytes);
int dx_set_broadcast(int fd);
/* Socket error after a non-blocking connect (SO_ERROR). */
int dx_socket_error(int fd);
int dx_shutdown_write(int fd);
/* Parses a numeric IPv4/IPv6 literal (no names) into a; 0 ok, -1 bad. */
int dx_addr_parse(const char *text, uint16_t port, dx_addr *a);
/* Formats the address (without port) into buf; returns length. */
int dx_addr_format(const dx_addr *a, char *buf, size_t len);
unsigned dx_if_nametoindex(const char *name);

/* Unix datagram sockets (control sockets). */
typedef struct { uint8_t raw[112]; uint32_t len; } dx_unix_peer; /* opaque sockaddr_un */
int dx_unix_dgram_bind(const char *path); /* unlinks a stale path first; nonblock, cloexec */
/* A client socket autobound to an abstract address: no file, no permission
 * checks on replies, nothing to clean up. Non-blocking, cloexec. */
int dx_unix_dgram_client(void);
ssize_t dx_unix_sendto(int fd, const char *path, const void *buf, size_t len);
/* Receives one datagram; peer (may be NULL) records the sender for dx_unix_reply. */
ssize_t dx_unix_recv(int fd, void *buf, size_t len, dx_unix_peer *peer);
/* Sends to the recorded sender; fails with ENOTCONN for unbound senders. */
ssize_t dx_unix_reply(int fd, const dx_unix_peer *peer, const void *buf, size_t len);

/* ---- batched UDP I/O: recvmmsg/sendmmsg into preallocated slots ---- */
typedef struct dx_batch dx_batch;
/* Allocates n slots of bufsize bytes each, once; never reallocates. */
dx_batch *dx_batch_new(int n, int bufsize);
void dx_batch_free(dx_batch *b);
/* Receives up to n datagrams (non-blocking). Returns count, 0 if none, -1 error. */
int dx_batch_recv(int fd, dx_batch *b);
/* Blocks (on a blocking socket) until at least one datagram arrives or the
 * socket's receive timeout passes, then takes what is queued (MSG_WAITFORONE).
 * Returns the count; 0 on timeout or signal. */
int dx_batch_recv_wait(int fd, dx_batch *b);
/* SO_RCVTIMEO in milliseconds (0 = none). */
int dx_set_recv_timeout(int fd, int ms);
/* Slot accessors return NULL/0 for i outside 0..n-1. */
uint8_t *dx_batch_buf(dx_batch *b, int i);
int dx_batch_len(const dx_batch *b, int i);
int dx_batch_capacity(const dx_batch *b);
void dx_batch_peer(const dx_batch *b, int i, dx_addr *out);
/* Local (destination) address of slot i from IP_PKTINFO; family 0 if unknown. */
void dx_batch_local(const dx_batch *b, int i, dx_addr *out);
int dx_batch_ifindex(const dx_batch *b, int i);
/* Marks slot i to be sent back to its peer with len bytes (0 = drop). */
void dx_batch_set_reply(dx_batch *b, int i, int len);
/* Sends every slot with a reply, from the local address it arrived at
 * (for a broadcast/multicast query the kernel picks a unicast source).
 * Returns the number of datagrams the kernel accepted. */
int dx_batch_send_replies(int fd, dx_batch *b, int count);

/* ---- atomics (sequentially consistent int32 cells, heap-allocated) ---- */
void dx_malloc_trim(void);
int32_t *dx_atomic_new(int32_t v);
int32_t dx_atomic_load(const int32_t *p);
void dx_atomic_store(int32_t *p, int32_t v);
void dx_atomic_free(int32_t *p);

/* ---- threads and locks ---- */
typedef struct dx_thread dx_thread;
typedef void (*dx_thread_fn)(void *ctx);
dx_thread *dx_thread_start(dx_thread_fn fn, void *ctx);
int dx_thread_join(dx_thread *t);
typedef struct dx_mutex dx_mutex;
dx_mutex *dx_mutex_new(void);
void dx_mutex_lock(dx_mutex *m);
void dx_mutex_unlock(dx_mutex *m);
void dx_mutex_free(dx_mutex *m);

/* ---- users and capabilities (libcap) ---- */
/* Looks up a user in /etc/passwd: 0 ok, -1 unknown. */
int dx_lookup_user(const char *name, unsigned *uid, unsigned *gid);
/* Keeps exactly the listed capabilities (permitted+effective, bounding set
 * trimmed when allowed), switching to uid/gid first when switch_user != 0.
 * Returns 0, or -1 with errno. */
int dx_drop_privileges(int switch_user, unsigned uid, unsigned gid, const int *caps, int ncaps);
/* 1 if the capability is in the effective set. */
int dx_has_cap(int cap);

/* ---- syslog ---- */
void dx_syslog_open(const char *ident);
void dx_syslog(int prio, const char *msg);

/* ---- rtnetlink (raw NETLINK_ROUTE sockets) ---- */
/* Interface flags (IFF_*, linux/if.h) and address flags (IFA_F_*, linux/if_addr.h). */
enum {
    DX_IFF_UP = 0x1, DX_IFF_BROADCAST = 0x2, DX_IFF_LOOPBACK = 0x8, DX_IFF_POINTOPOINT = 0x10,
    DX_IFF_RUNNING = 0x40, DX_IFF_MULTICAST = 0x1000, DX_IFF_LOWER_UP = 0x10000,
    DX_IFA_F_SECONDARY = 0x01, DX_IFA_F_NODAD = 0x02, DX_IFA_F_OPTIMISTIC = 0x04,
    DX_IFA_F_DADFAILED = 0x08, DX_IFA_F_DEPRECATED = 0x20, DX_IFA_F_TENTATIVE = 0x40,
    DX_IFA_F_PERMANENT = 0x80, DX_IFA_F_MANAGETEMPADDR = 0x100, DX_IFA_F_NOPREFIXROUTE = 0x200,
};
typedef struct {
    int index; char name[16]; unsigned flags; int up; int mtu; uint8_t mac[6]; int mac_len;
    int running;   /* IFF_RUNNING: up and operational */
    int carrier;   /* IFLA_CARRIER (else IFF_LOWER_UP) */
    int operstate; /* IFLA_OPERSTATE, RFC 2863: 0 unknown, 2 down, 5 dormant, 6 up */
    int type;      /* ARPHRD_* (1 ether, 772 loopback) */
} dx_link;
typedef struct {
    int ifindex; int family; int prefixlen; uint8_t addr[16]; char label[16];
    unsigned flags;          /* IFA_F_* (IFA_FLAGS when sent, else the 8-bit ifa_flags) */
    int scope;               /* RT_SCOPE_*: 0 global, 253 link, 254 host */
    uint32_t valid_lft;      /* seconds left (IFA_CACHEINFO); 0xffffffff = forever */
    uint32_t preferred_lft;
} dx_ifaddr;
typedef struct dx_nl dx_nl;
/* A request socket (dumps and address changes; blocking, 5 s timeout). */
dx_nl *dx_nl_open(void);
void dx_nl_close(dx_nl *h);
/* Dumps links/addresses into out (at most max); returns the total count
 * (may exceed max: call again with a larger buffer), -1 on error. A dump the
 * kernel marks interrupted (NLM_F_DUMP_INTR) is redone. Addresses are
 * AF_INET/AF_INET6 only; addr is IFA_LOCAL, else IFA_ADDRESS. */
int dx_nl_links(dx_nl *h, dx_link *out, int max);
int dx_nl_addrs(dx_nl *h, dx_ifaddr *out, int max);
/* Adds (NLM_F_CREATE|NLM_F_EXCL) / removes an address and waits for the
 * kernel's ACK: 0, or -1 with its errno (EEXIST, EADDRNOTAVAIL, EPERM...).
 * label like "lo:dns0" (IPv4 only; "" or NULL for none). */
int dx_nl_addr_add(dx_nl *h, int ifindex, int family, const uint8_t *addr, int prefixlen, const char *label);
int dx_nl_addr_del(dx_nl *h, int ifindex, int family, const uint8_t *addr, int prefixlen);

/* A change notification: kind says which of link / addr is filled. */
enum { DX_NL_LINK_NEW = 1, DX_NL_LINK_DEL = 2, DX_NL_ADDR_NEW = 3, DX_NL_ADDR_DEL = 4 };
typedef struct { int kind; dx_link link; dx_ifaddr addr; } dx_nl_event;
/* Subscription to RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR:
 * a non-blocking socket fd for the event loop. */
typedef struct dx_nl_sub dx_nl_sub;
dx_nl_sub *dx_nl_subscribe(void);
int dx_nl_sub_fd(dx_nl_sub *s);
/* Parses what is queued into out (at most max; the rest stays queued for the
 * next call). Returns the count (0: nothing queued), or -1 with errno. Sets
 * *overflow to 1 when the kernel dropped notifications (ENOBUFS; the receive
 * buffer is then doubled, up to 4 MB): the caller must re-dump. */
int dx_nl_sub_read(dx_nl_sub *s, dx_nl_event *out, int max, int *overflow);
void dx_nl_sub_close(dx_nl_sub *s);
/* The parser dx_nl_sub_read uses, over any bytes: events of the
 * RTM_NEW/DELLINK and RTM_NEW/DELADDR messages in buf (others skipped), at
 * most max. Stops at the first malformed or truncated header. */
int dx_nl_parse_events(const void *buf, size_t len, dx_nl_event *out, int max);

/* ---- sqlite glue (SQLITE_TRANSIENT is a macro Swift cannot import) ---- */
int dx_sqlite_bind_text(sqlite3_stmt *s, int idx, const char *text, int len);
int dx_sqlite_bind_blob(sqlite3_stmt *s, int idx, const void *data, int len);

#endif
