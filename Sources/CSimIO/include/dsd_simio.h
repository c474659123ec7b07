/*
 * Event-loop system calls for the simulator's replay mode (EngineSim.ReplayServer) that Swift's
 * Glibc module does not import: epoll (epoll_event is a packed struct) and timerfd. Linux only;
 * elsewhere every call fails with -1 (ENOSYS) and replay mode reports it cannot start.
 */
#ifndef DSD_SIMIO_H
#define DSD_SIMIO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the first "\r\n\r\n" (the end of an HTTP head) starts in buf, or -1. */
long dsd_sim_find_head_end(const void *buf, unsigned long len);
/* epoll_create1(EPOLL_CLOEXEC). */
int dsd_sim_epoll_create(void);
/* epoll_ctl: op 1 add, 2 delete, 3 modify; want_in / want_out select EPOLLIN / EPOLLOUT. */
int dsd_sim_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out);
/* epoll_wait: fds[i] and flags[i] (bit 0 readable, 1 writable, 2 error or hang-up); at most 1024. */
int dsd_sim_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms);
/* A non-blocking CLOCK_MONOTONIC timerfd. */
int dsd_sim_timerfd_create(void);
/* Arms it to fire once at `deadline_ns` (CLOCK_MONOTONIC, absolute); 0 disarms. */
int dsd_sim_timerfd_at(int fd, uint64_t deadline_ns);
/* Reads (and clears) its expiry count. */
void dsd_sim_timerfd_drain(int fd);
/* SO_TIMESTAMPNS on a socket: the kernel stamps each received segment (software receive time). */
int dsd_sim_enable_rx_timestamps(int fd);
/* recvmsg into buf; *arrival_ns = when the kernel received the last bytes read (CLOCK_MONOTONIC,
 * converted from the socket's realtime stamp), or now when there is no stamp. Returns as read(). */
long dsd_sim_read_stamped(int fd, void *buf, unsigned long len, uint64_t *arrival_ns);

#ifdef __cplusplus
}
#endif

#endif
