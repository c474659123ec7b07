#include "dsd_simio.h"

#include <errno.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/timerfd.h>

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
#else
int dsd_sim_epoll_create(void) { errno = ENOSYS; return -1; }
int dsd_sim_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out) { (void)epfd; (void)op; (void)fd; (void)want_in; (void)want_out; errno = ENOSYS; return -1; }
int dsd_sim_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) { (void)epfd; (void)fds; (void)flags; (void)max; (void)timeout_ms; errno = ENOSYS; return -1; }
int dsd_sim_timerfd_create(void) { errno = ENOSYS; return -1; }
int dsd_sim_timerfd_at(int fd, uint64_t deadline_ns) { (void)fd; (void)deadline_ns; errno = ENOSYS; return -1; }
void dsd_sim_timerfd_drain(int fd) { (void)fd; }
#endif
