#define _GNU_SOURCE
#include "dsd_simio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
long dsd_sim_find_head_end(const void *buf, unsigned long len) {
    const char *b = buf;
    for (unsigned long i = 0; i + 4 <= len;) {
        const char *cr = memchr(b + i, '\r', len - i - 3);
        if (!cr) return -1;
        unsigned long k = (unsigned long)(cr - b);
        if (b[k + 1] == '\n' && b[k + 2] == '\r' && b[k + 3] == '\n') return (long)k;
        i = k + 1;
    }
    return -1;
}

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>

int dsd_sim_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int dsd_sim_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out) {
    struct epoll_event ev;
    ev.events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0);
    ev.data.u64 = 0;
    ev.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &ev);
}

int dsd_sim_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) {
    struct epoll_event evs[1024];
    if (max > 1024) max = 1024;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        fds[i] = evs[i].data.fd;
        flags[i] = ((evs[i].events & EPOLLIN) ? 1 : 0) | ((evs[i].events & EPOLLOUT) ? 2 : 0)
                 | ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? 4 : 0);
    }
    return n;
}

int dsd_sim_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int dsd_sim_timerfd_at(int fd, uint64_t deadline_ns) {
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    its.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, 0);
}

void dsd_sim_timerfd_drain(int fd) {
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
}

int dsd_sim_enable_rx_timestamps(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

long dsd_sim_read_stamped(int fd, void *buf, unsigned long len, uint64_t *arrival_ns) {
    union { char buf[CMSG_SPACE(sizeof(struct timespec)) * 2]; struct cmsghdr align; } control;
    struct iovec io = {buf, len};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = control.buf;
    m.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(fd, &m, 0);
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    uint64_t now = (uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec;
    *arrival_ns = now;
    if (n <= 0) return (long)n;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_TIMESTAMPNS) continue;
        struct timespec stamp, real;
        memcpy(&stamp, CMSG_DATA(h), sizeof stamp);
        clock_gettime(CLOCK_REALTIME, &real);
        /* How long ago the kernel stamped it (realtime), taken off the monotonic reading. */
        int64_t ago = ((int64_t)real.tv_sec - (int64_t)stamp.tv_sec) * 1000000000ll
                    + ((int64_t)real.tv_nsec - (int64_t)stamp.tv_nsec);
        if (ago > 0 && (uint64_t)ago < now) *arrival_ns = now - (uint64_t)ago;
    }
    return (long)n;
}
#else
int dsd_sim_enable_rx_timestamps(int fd) { (void)fd; errno = ENOSYS; return -1; }
long dsd_sim_read_stamped(int fd, void *buf, unsigned long len, uint64_t *arrival_ns) {
    (void)arrival_ns;
    return (long)read(fd, buf, len);
}
int dsd_sim_epoll_create(void) { errno = ENOSYS; return -1; }
int dsd_sim_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out) { (void)epfd; (void)op; (void)fd; (void)want_in; (void)want_out; errno = ENOSYS; return -1; }
int dsd_sim_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) { (void)epfd; (void)fds; (void)flags; (void)max; (void)timeout_ms; errno = ENOSYS; return -1; }
int dsd_sim_timerfd_create(void) { errno = ENOSYS; return -1; }
int dsd_sim_timerfd_at(int fd, uint64_t deadline_ns) { (void)fd; (void)deadline_ns; errno = ENOSYS; return -1; }
void dsd_sim_timerfd_drain(int fd) { (void)fd; }
#endif
