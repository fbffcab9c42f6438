/* dnsbox C shim: errno, time, files, processes, signals, epoll, threads, syslog. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dx_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

int dx_errno(void) { return errno; }
void dx_set_errno(int e) { errno = e; }

void dx_strerror(int e, char *buf, size_t len) {
    if (len == 0) return;
    const char *s = strerror(e);
    size_t n = strlen(s);
    if (n >= len) n = len - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
}

uint64_t dx_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t dx_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + (int64_t)ts.tv_nsec;
}

void dx_sleep_ms(uint32_t ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

const char *dx_getenv(const char *name) { return getenv(name); }
int dx_setenv(const char *name, const char *value) { return setenv(name, value, 1); }
int dx_unsetenv(const char *name) { return unsetenv(name); }
int dx_getpid(void) { return (int)getpid(); }
int dx_getppid(void) { return (int)getppid(); }
unsigned dx_getuid(void) { return (unsigned)getuid(); }
/* CPUs this process may run on (taskset, cpusets), else the online count. */
int dx_nprocs(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
void dx_exit_now(int code) { _exit(code); }
void dx_exit(int code) { exit(code); }

int dx_write_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        p += n; len -= (size_t)n;
    }
    return 0;
}

int dx_random(void *buf, size_t len) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        p += n; len -= (size_t)n;
    }
    return 0;
}

#ifndef __GLIBC__
/* Embedded Swift's Dictionary/Set hashing seeds itself with arc4random_buf,
 * which glibc >= 2.36 has and musl lacks. */
void arc4random_buf(void *buf, size_t n) {
    if (dx_random(buf, n) != 0) {
        /* getrandom cannot fail for small sizes after boot; never return unset bytes */
        memset(buf, 0x5a, n);
    }
}
#endif

/* ---- files ---- */
int dx_open(const char *path, int flags, unsigned mode) {
    int fd;
    do { fd = open(path, flags, (mode_t)mode); } while (fd < 0 && errno == EINTR);
    return fd;
}
ssize_t dx_read(int fd, void *buf, size_t len) {
    ssize_t n;
    do { n = read(fd, buf, len); } while (n < 0 && errno == EINTR);
    return n;
}
ssize_t dx_write(int fd, const void *buf, size_t len) {
    ssize_t n;
    do { n = write(fd, buf, len); } while (n < 0 && errno == EINTR);
    return n;
}
int dx_close(int fd) { return close(fd); }
int dx_fsync(int fd) { return fsync(fd); }
int dx_mkdir(const char *path, unsigned mode) { return mkdir(path, (mode_t)mode); }
int dx_chmod(const char *path, unsigned mode) { return chmod(path, (mode_t)mode); }
int dx_chown(const char *path, unsigned uid, unsigned gid) { return chown(path, uid, gid); }
int dx_unlink(const char *path) { return unlink(path); }
int dx_rename(const char *from, const char *to) { return rename(from, to); }
int dx_symlink(const char *target, const char *linkpath) { return symlink(target, linkpath); }
ssize_t dx_readlink(const char *path, char *buf, size_t len) {
    if (len == 0) return -1;
    ssize_t n = readlink(path, buf, len - 1);
    if (n >= 0) buf[n] = 0;
    return n;
}
int dx_path_kind(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
    if (S_ISLNK(st.st_mode)) return 3;
    if (S_ISDIR(st.st_mode)) return 1;
    if (S_ISREG(st.st_mode)) return 2;
    return 4;
}
int dx_access(const char *path, int mode) { return access(path, mode); }
int64_t dx_file_size(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    return (int64_t)st.st_size;
}
int dx_set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
int dx_set_cloexec(int fd) {
    int fl = fcntl(fd, F_GETFD);
    return fl < 0 ? -1 : fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}
int dx_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int dx_dup2(int from, int to) { return dup2(from, to); }

/* ---- processes ---- */
int dx_spawn(const char *path, char *const argv[], int death_signal) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return (int)pid; /* parent, or -1 */
    /* Child: only async-signal-safe calls until execv. Dispositions first,
     * then the mask, so no inherited handler runs in between. SIGHUP starts
     * ignored: a reload aimed at a child that has not yet set up its
     * signalfd must not kill it (a blocked, ignored signal is still queued). */
    for (int s = 1; s < 65; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        signal(s, s == SIGHUP ? SIG_IGN : SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (death_signal > 0) {
        prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0);
        if (getppid() != parent) _exit(0); /* the parent died before prctl */
    }
    execv(path, argv);
    _exit(127);
}

int dx_wait(int pid, int nohang, int *code, int *signaled) {
    int status = 0;
    pid_t r;
    do { r = waitpid(pid > 0 ? pid : -1, &status, nohang ? WNOHANG : 0); } while (r < 0 && errno == EINTR);
    if (r <= 0) return (int)r;
    if (WIFSIGNALED(status)) { *signaled = 1; *code = 128 + WTERMSIG(status); }
    else { *signaled = 0; *code = WIFEXITED(status) ? WEXITSTATUS(status) : 0; }
    return (int)r;
}
int dx_kill(int pid, int sig) { return kill((pid_t)pid, sig); }
int dx_set_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int dx_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

/* ---- signals ---- */
int dx_signalfd_open(const int *sigs, int n) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < n; i++) sigaddset(&set, sigs[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
int dx_signalfd_read(int fd) {
    struct signalfd_siginfo si;
    ssize_t n;
    do { n = read(fd, &si, sizeof si); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (n != (ssize_t)sizeof si) return 0;
    return (int)si.ssi_signo;
}
int dx_signal_ignore(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    return sigaction(sig, &sa, NULL);
}
int dx_signal_unblock_all(void) {
    sigset_t set;
    sigemptyset(&set);
    return pthread_sigmask(SIG_SETMASK, &set, NULL);
}

/* ---- poll ---- */
int dx_wait_fd(int fd, int events, int ms) {
    struct pollfd p; p.fd = fd; p.events = (short)events; p.revents = 0;
    int r;
    do { r = poll(&p, 1, ms); } while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

/* ---- epoll ---- */
int dx_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int dx_epoll_add(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev; ev.events = events; ev.data.u64 = data;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}
int dx_epoll_mod(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev; ev.events = events; ev.data.u64 = data;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}
int dx_epoll_del(int ep, int fd) {
    struct epoll_event ev; memset(&ev, 0, sizeof ev);
    return epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev);
}
int dx_epoll_wait(int ep, dx_event *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(ep, evs, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) { out[i].events = evs[i].events; out[i].data = evs[i].data.u64; }
    return n;
}
int dx_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int dx_eventfd_signal(int fd) { uint64_t one = 1; return write(fd, &one, sizeof one) == sizeof one ? 0 : -1; }
int dx_eventfd_drain(int fd) { uint64_t v; return read(fd, &v, sizeof v) == sizeof v ? 0 : -1; }
int dx_timerfd(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

/* ---- atomics ---- */
int32_t *dx_atomic_new(int32_t v) {
    int32_t *p = calloc(1, sizeof *p);
    if (p) __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
    return p;
}
int32_t dx_atomic_load(const int32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
void dx_atomic_store(int32_t *p, int32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
void dx_atomic_free(int32_t *p) { free(p); }

/* ---- threads and locks ---- */
struct dx_thread { pthread_t t; dx_thread_fn fn; void *ctx; };
static void *dx_thread_main(void *p) { struct dx_thread *t = p; t->fn(t->ctx); return NULL; }
dx_thread *dx_thread_start(dx_thread_fn fn, void *ctx) {
    struct dx_thread *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->fn = fn; t->ctx = ctx;
    if (pthread_create(&t->t, NULL, dx_thread_main, t) != 0) { free(t); return NULL; }
    return t;
}
int dx_thread_join(dx_thread *t) {
    int r = pthread_join(t->t, NULL);
    free(t);
    return r == 0 ? 0 : -1;
}
struct dx_mutex { pthread_mutex_t m; };
dx_mutex *dx_mutex_new(void) {
    struct dx_mutex *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->m, NULL);
    return m;
}
void dx_mutex_lock(dx_mutex *m) { pthread_mutex_lock(&m->m); }
void dx_mutex_unlock(dx_mutex *m) { pthread_mutex_unlock(&m->m); }
void dx_mutex_free(dx_mutex *m) { if (m) { pthread_mutex_destroy(&m->m); free(m); } }

/* ---- syslog ----
 * Our own client instead of libc's: one datagram "<PRI>IDENT[PID]: MSG" to
 * /dev/log (facility daemon), which syslogd, busybox syslogd and OpenWrt's
 * logd all stamp with their own time (RFC 3164 §4.3.1: a relay adds the
 * missing timestamp). libc's syslog() drags printf, strftime and the time
 * zone code into the static binary (about 17 KB) for the header alone. A
 * message that cannot be sent is dropped, as syslog() does. */
static char syslog_ident[64];
static int syslog_fd = -1;

static size_t put_uint(char *p, unsigned v) {
    char t[12];
    size_t n = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < n; i++) p[i] = t[n - 1 - i];
    return n;
}

void dx_syslog_open(const char *ident) {
    size_t n = strlen(ident);
    if (n >= sizeof syslog_ident) n = sizeof syslog_ident - 1;
    memcpy(syslog_ident, ident, n);
    syslog_ident[n] = 0;
    if (syslog_fd < 0) syslog_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

void dx_syslog(int prio, const char *msg) {
    if (syslog_fd < 0) dx_syslog_open(syslog_ident[0] ? syslog_ident : "dnsbox");
    if (syslog_fd < 0) return;
    char buf[1024];
    size_t n = 0;
    buf[n++] = '<';
    n += put_uint(buf + n, (unsigned)(3 << 3 | (prio & 7)));  /* LOG_DAEMON = 3 << 3 */
    buf[n++] = '>';
    size_t il = strlen(syslog_ident);
    memcpy(buf + n, syslog_ident, il);
    n += il;
    buf[n++] = '[';
    n += put_uint(buf + n, (unsigned)getpid());
    buf[n++] = ']';
    buf[n++] = ':';
    buf[n++] = ' ';
    size_t ml = strlen(msg);
    if (ml > sizeof buf - n) ml = sizeof buf - n;
    memcpy(buf + n, msg, ml);
    n += ml;
    struct sockaddr_un to;
    memset(&to, 0, sizeof to);
    to.sun_family = AF_UNIX;
    memcpy(to.sun_path, "/dev/log", sizeof "/dev/log");
    (void)sendto(syslog_fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
}

/* ---- sqlite ---- */
int dx_sqlite_bind_text(sqlite3_stmt *s, int idx, const char *text, int len) {
    return sqlite3_bind_text(s, idx, text, len, SQLITE_TRANSIENT);
}
int dx_sqlite_bind_blob(sqlite3_stmt *s, int idx, const void *data, int len) {
    return sqlite3_bind_blob(s, idx, data, len, SQLITE_TRANSIENT);
}

/* Gives freed heap memory back to the system after a big rebuild (glibc
 * keeps it otherwise; musl's allocator returns it by itself). */
void dx_malloc_trim(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
