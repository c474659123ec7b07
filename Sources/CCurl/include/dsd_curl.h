/*
 * Typed wrappers around libcurl's variadic entry points.
 *
 * curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are C variadic
 * functions, which Swift cannot call. Each wrapper below fixes the type of the
 * trailing argument so Swift can call it directly. The constants and types of <curl/curl.h>
 * are re-exported as they are.
 */
#ifndef DSD_CURL_H
#define DSD_CURL_H

#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * libcurl is loaded on first use (dlopen), not linked, so a command that makes no request pays
 * nothing for it. dsd_curl_load() returns 1 once loaded, 0 when it cannot be (then
 * dsd_curl_load_error() says why). Call libcurl only through the dsd_ functions below: the
 * curl_* functions of <curl/curl.h> are not linked.
 */
int dsd_curl_load(void);
const char *dsd_curl_load_error(void);

CURLcode dsd_curl_global_init(long flags);
CURL *dsd_curl_easy_init(void);
CURLcode dsd_curl_easy_perform(CURL *handle);
void dsd_curl_easy_cleanup(CURL *handle);
void dsd_curl_easy_reset(CURL *handle);
const char *dsd_curl_easy_strerror(CURLcode code);
CURLM *dsd_curl_multi_init(void);
CURLMcode dsd_curl_multi_add_handle(CURLM *multi, CURL *handle);
CURLMcode dsd_curl_multi_remove_handle(CURLM *multi, CURL *handle);
CURLMcode dsd_curl_multi_perform(CURLM *multi, int *running);
CURLMcode dsd_curl_multi_poll(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds,
                              int timeout_ms, int *numfds);
CURLMcode dsd_curl_multi_wakeup(CURLM *multi);
CURLMcode dsd_curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev_bitmask, int *running);
CURLMsg *dsd_curl_multi_info_read(CURLM *multi, int *msgs_in_queue);
CURLMcode dsd_curl_multi_cleanup(CURLM *multi);
const char *dsd_curl_multi_strerror(CURLMcode code);
struct curl_slist *dsd_curl_slist_append(struct curl_slist *list, const char *string);
void dsd_curl_slist_free_all(struct curl_slist *list);
const char *dsd_curl_version(void);

/* Callback types with the exact signatures libcurl calls. */
typedef size_t (*dsd_curl_data_fn)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*dsd_curl_xferinfo_fn)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                    curl_off_t ultotal, curl_off_t ulnow);

/* curl_easy_setopt with a long argument (CURLOPTTYPE_LONG options). */
CURLcode dsd_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
/* curl_easy_setopt with a curl_off_t argument (CURLOPTTYPE_OFF_T options). */
CURLcode dsd_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
/* curl_easy_setopt with a C string (libcurl copies it, except CURLOPT_POSTFIELDS). */
CURLcode dsd_curl_easy_setopt_str(CURL *handle, CURLoption option, const char *value);
/* curl_easy_setopt with an in-memory blob (CURLOPTTYPE_BLOB: *_BLOB options); libcurl copies it. */
CURLcode dsd_curl_easy_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t len);
/* curl_easy_setopt with an opaque pointer (CURLOPT_PRIVATE, *DATA, CURLOPT_HTTPHEADER...). */
CURLcode dsd_curl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value);
/* curl_easy_setopt with a write/header/read callback. */
CURLcode dsd_curl_easy_setopt_writefn(CURL *handle, CURLoption option, dsd_curl_data_fn fn);
/* curl_easy_setopt with CURLOPT_XFERINFOFUNCTION. */
CURLcode dsd_curl_easy_setopt_xferinfofn(CURL *handle, dsd_curl_xferinfo_fn fn);

/* curl_easy_getinfo for long results (CURLINFO_RESPONSE_CODE, ...). */
CURLcode dsd_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *out);
/* curl_easy_getinfo for curl_off_t results (CURLINFO_*_T). */
CURLcode dsd_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *out);
/* curl_easy_getinfo for pointer results (CURLINFO_PRIVATE, CURLINFO_EFFECTIVE_URL...). */
CURLcode dsd_curl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **out);

/* curl_easy_getinfo(CURLINFO_ACTIVESOCKET): the socket of a CURLOPT_CONNECT_ONLY transfer. */
CURLcode dsd_curl_easy_getinfo_socket(CURL *handle, curl_socket_t *out);
/* A close-on-exec duplicate of fd (F_DUPFD_CLOEXEC), or -1 with errno set. */
int dsd_dup_cloexec(int fd);
/* recv(fd, buf, len, 0) as the bare system call: -1 with errno set on failure. glibc's recv() is a
   cancellation point, and in a process with threads each call switches asynchronous cancellation
   on and off around the system call (two atomic operations); dsdeploy never cancels threads. */
long dsd_recv(int fd, void *buf, size_t len);
/* Asks the kernel to stamp what arrives on TCP socket fd with its receive time (SO_TIMESTAMPNS);
   0 on success, -1 with errno set (elsewhere than Linux: always -1). */
int dsd_rx_timestamps_enable(int fd);
/* dsd_recv as recvmsg: also sets *real_ns to the kernel's receive time of the last segment read
   (CLOCK_REALTIME nanoseconds), or 0 when none came with the data (stamps off, or not Linux). */
long dsd_recv_stamped(int fd, void *buf, size_t len, long long *real_ns);
/* Multishot receives (io_uring, Linux 6.1 or later): each socket armed once brings every read as a
 * completion, with its receive stamp; the reads run only inside this thread's calls into the ring,
 * where it also waits (dsd_rx_ring_wait), watching other descriptors (an epoll instance) too. For one
 * thread: the one that made the ring is the only one that may use it. */
typedef struct dsd_rx_ring dsd_rx_ring;
/* One completion: `res` bytes at `data` (in buffer `buffer`, the caller's until released), 0 at end
 * of file, or -errno (-ENOBUFS: the buffers ran out); for a watch, the poll events seen. `more` 0
 * when the receive or watch is no longer armed (arm it again to go on); `stamp` the receive stamp
 * as dsd_recv_stamped gives it. */
typedef struct {
    unsigned long long tag;
    const char *data;
    long res;
    long long stamp;
    int buffer;
    int more;
} dsd_rx_event;
/* A ring with `buffers` (a power of two, at most 32768) receive buffers of `buffer_size` bytes;
 * NULL where io_uring is not there or too old (not Linux, a kernel before 6.1, disabled, refused
 * by a seccomp filter). */
dsd_rx_ring *dsd_rx_ring_create(int buffers, int buffer_size);
/* Closes the ring (its receives and watches end) and frees its buffers. */
void dsd_rx_ring_destroy(dsd_rx_ring *r);
/* Queues a multishot receive of socket fd whose completions carry `tag` (submitted by the next
 * wait or collect). 0, or -1 when it could not be queued. */
int dsd_rx_ring_arm(dsd_rx_ring *r, int fd, unsigned long long tag);
/* Queues a multishot poll of fd for reading: a completion, with `tag`, each time fd becomes readable. */
int dsd_rx_ring_watch(dsd_rx_ring *r, int fd, unsigned long long tag);
/* Requests queued and not yet submitted. */
int dsd_rx_ring_queued(const dsd_rx_ring *r);
/* Submits what is queued and waits until there is a completion, at most timeout_ns (-1: no limit);
 * returns at once when one is there. 0, or -1 on error (a signal or the time running out is 0). */
int dsd_rx_ring_wait(dsd_rx_ring *r, long long timeout_ns);
/* Submits what is queued, runs a batch of the receives that are due and returns up to max
 * completions in events (0: none; -1 on error). Called until it returns 0, it runs all. */
int dsd_rx_ring_collect(dsd_rx_ring *r, dsd_rx_event *events, int max);
/* Hands a completion's buffer back to the ring. */
void dsd_rx_ring_release(dsd_rx_ring *r, int buffer);
/* CLOCK_MONOTONIC minus CLOCK_REALTIME in nanoseconds, read now (both through the vDSO): adding it
   to a receive stamp gives the monotonic clock's reading of the same moment. */
long long dsd_monotonic_minus_realtime_ns(void);
/* Waits up to ns nanoseconds for fd to become readable (ppoll: the timeout is not rounded to
   milliseconds); 1 when it is, 0 when the time ran out, -1 on error (EINTR included). */
int dsd_wait_readable(int fd, long long ns);

/* curl_multi_setopt with a long argument. */
CURLMcode dsd_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);
/* curl_multi_setopt with a pointer argument. */
CURLMcode dsd_curl_multi_setopt_ptr(CURLM *handle, CURLMoption option, void *value);

/* CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION callbacks (curl_multi_socket_action loops). */
typedef int (*dsd_curl_socket_fn)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
typedef int (*dsd_curl_timer_fn)(CURLM *multi, long timeout_ms, void *userp);
/* Sets both callbacks and their user pointer (CURLMOPT_SOCKETDATA and CURLMOPT_TIMERDATA). */
CURLMcode dsd_curl_multi_set_socket_callbacks(CURLM *handle, dsd_curl_socket_fn socket_fn,
                                              dsd_curl_timer_fn timer_fn, void *userp);

/* epoll for the multi loop; epoll_event is a packed struct, which Swift cannot lay out.
 * dsd_epoll_ctl: op is EPOLL_CTL_ADD/MOD/DEL; want_in/want_out select EPOLLIN/EPOLLOUT; edge adds
 * EPOLLET and EPOLLRDHUP (reported once per change: the caller reads until a short read, or, when
 * the peer has shut down its side, until end of file or EAGAIN).
 * dsd_epoll_wait: fills fds[i] and flags[i] (bit 0 readable, bit 1 writable, bit 2 error/hang-up,
 * bit 3 the peer shut down writing: EPOLLRDHUP, reported only when asked for);
 * returns the count, 0 on timeout, -1 on error (EINTR included). Linux only; elsewhere -1. */
int dsd_epoll_create(void);
int dsd_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out, int edge);
int dsd_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms);
/* An eventfd (Linux) or pipe read end used to wake the loop; dsd_wake_fd_signal/drain act on it. */
int dsd_wake_fd_create(int *write_fd);
void dsd_wake_fd_signal(int write_fd);
void dsd_wake_fd_drain(int read_fd);

/* Asks for the cache line at p, to be written soon (PREFETCHW where there is one). A hint: it
 * never faults, whatever p is, and nothing is read through p. */
static inline void dsd_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

/* Fields of a CURLMsg, whose union Swift imports awkwardly. */
CURLMSG dsd_curl_msg_kind(const CURLMsg *msg);
CURL *dsd_curl_msg_easy(const CURLMsg *msg);
CURLcode dsd_curl_msg_result(const CURLMsg *msg);

/* CURL_ERROR_SIZE as a plain int (the macro is not always imported). */
int dsd_curl_error_size(void);

#ifdef __cplusplus
}
#endif

#endif
