#define _GNU_SOURCE  /* ppoll */
#include "dsd_curl.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

/*
 * libcurl is opened on first use, not linked: its dependency tree (OpenSSL, nghttp2, ssh, ldap,
 * kerberos... 30-odd libraries on Debian) cost ~3.7 ms of loading and symbol binding at every
 * start, a third of `dsdeploy validate` on a small manifest, which never makes a request.
 */
static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_perform)(CURL *);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_cleanup)(CURLM *);
    const char *(*multi_strerror)(CURLMcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    char *(*version)(void);
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_ok;
static char load_error[512];

static void *need(void *lib, const char *name, int *ok) {
    void *f = dlsym(lib, name);
    if (!f && *ok) {
        snprintf(load_error, sizeof load_error, "libcurl has no %s", name);
        *ok = 0;
    }
    return f;
}

static void load(void) {
    /* DSDEPLOY_LIBCURL names the library file instead (a libcurl outside the loader's path). */
    const char *chosen = getenv("DSDEPLOY_LIBCURL");
    const char *names[] = {"libcurl.so.4", "libcurl.so", "libcurl.4.dylib", "libcurl.dylib"};
    size_t count = sizeof names / sizeof names[0];
    if (chosen && *chosen) { names[0] = chosen; count = 1; }
    void *lib = NULL;
    for (size_t i = 0; i < count && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load libcurl (%s): %s; install libcurl4",
                 names[0], e ? e : "not found");
        return;
    }
    int ok = 1;
#define NEED(field, sym) *(void **)&api.field = need(lib, sym, &ok)
    NEED(global_init, "curl_global_init");
    NEED(easy_init, "curl_easy_init");
    NEED(easy_setopt, "curl_easy_setopt");
    NEED(easy_getinfo, "curl_easy_getinfo");
    NEED(easy_perform, "curl_easy_perform");
    NEED(easy_cleanup, "curl_easy_cleanup");
    NEED(easy_reset, "curl_easy_reset");
    NEED(easy_strerror, "curl_easy_strerror");
    NEED(multi_init, "curl_multi_init");
    NEED(multi_setopt, "curl_multi_setopt");
    NEED(multi_add_handle, "curl_multi_add_handle");
    NEED(multi_remove_handle, "curl_multi_remove_handle");
    NEED(multi_perform, "curl_multi_perform");
    NEED(multi_poll, "curl_multi_poll");
    NEED(multi_wakeup, "curl_multi_wakeup");
    NEED(multi_socket_action, "curl_multi_socket_action");
    NEED(multi_info_read, "curl_multi_info_read");
    NEED(multi_cleanup, "curl_multi_cleanup");
    NEED(multi_strerror, "curl_multi_strerror");
    NEED(slist_append, "curl_slist_append");
    NEED(slist_free_all, "curl_slist_free_all");
    NEED(version, "curl_version");
#undef NEED
    load_ok = ok;
}

int dsd_curl_load(void) {
    pthread_once(&load_once, load);
    return load_ok;
}

const char *dsd_curl_load_error(void) {
    pthread_once(&load_once, load);
    return load_ok ? NULL : load_error;
}

/* The entry points below are only reached once dsd_curl_load() succeeded (handles exist). */
CURLcode dsd_curl_global_init(long flags) { return dsd_curl_load() ? api.global_init(flags) : CURLE_FAILED_INIT; }
CURL *dsd_curl_easy_init(void) { return dsd_curl_load() ? api.easy_init() : NULL; }
CURLcode dsd_curl_easy_perform(CURL *h) { return api.easy_perform(h); }
void dsd_curl_easy_cleanup(CURL *h) { api.easy_cleanup(h); }
void dsd_curl_easy_reset(CURL *h) { api.easy_reset(h); }
const char *dsd_curl_easy_strerror(CURLcode c) { return dsd_curl_load() ? api.easy_strerror(c) : "libcurl not loaded"; }
CURLM *dsd_curl_multi_init(void) { return dsd_curl_load() ? api.multi_init() : NULL; }
CURLMcode dsd_curl_multi_add_handle(CURLM *m, CURL *h) { return api.multi_add_handle(m, h); }
CURLMcode dsd_curl_multi_remove_handle(CURLM *m, CURL *h) { return api.multi_remove_handle(m, h); }
CURLMcode dsd_curl_multi_perform(CURLM *m, int *running) { return api.multi_perform(m, running); }
CURLMcode dsd_curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n, int timeout_ms, int *numfds) {
    return api.multi_poll(m, extra, n, timeout_ms, numfds);
}
CURLMcode dsd_curl_multi_wakeup(CURLM *m) { return api.multi_wakeup(m); }
CURLMcode dsd_curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev_bitmask, int *running) {
    return api.multi_socket_action(m, s, ev_bitmask, running);
}
CURLMsg *dsd_curl_multi_info_read(CURLM *m, int *left) { return api.multi_info_read(m, left); }
CURLMcode dsd_curl_multi_cleanup(CURLM *m) { return api.multi_cleanup(m); }
const char *dsd_curl_multi_strerror(CURLMcode c) { return dsd_curl_load() ? api.multi_strerror(c) : "libcurl not loaded"; }
struct curl_slist *dsd_curl_slist_append(struct curl_slist *l, const char *s) {
    return dsd_curl_load() ? api.slist_append(l, s) : NULL;
}
void dsd_curl_slist_free_all(struct curl_slist *l) { if (l) api.slist_free_all(l); }
const char *dsd_curl_version(void) { return dsd_curl_load() ? api.version() : NULL; }

CURLcode dsd_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return api.easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return api.easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t len) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    return api.easy_setopt(handle, option, &blob);
}

CURLcode dsd_curl_easy_setopt_str(CURL *handle, CURLoption option, const char *value) {
    return api.easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value) {
    return api.easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_writefn(CURL *handle, CURLoption option, dsd_curl_data_fn fn) {
    return api.easy_setopt(handle, option, fn);
}

CURLcode dsd_curl_easy_setopt_xferinfofn(CURL *handle, dsd_curl_xferinfo_fn fn) {
    return api.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, fn);
}

CURLcode dsd_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *out) {
    return api.easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *out) {
    return api.easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **out) {
    return api.easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_socket(CURL *handle, curl_socket_t *out) {
    return api.easy_getinfo(handle, CURLINFO_ACTIVESOCKET, out);
}

int dsd_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

#ifdef __linux__
long dsd_recv(int fd, void *buf, size_t len) { return syscall(SYS_recvfrom, fd, buf, len, 0, NULL, NULL); }

int dsd_rx_timestamps_enable(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

long dsd_recv_stamped(int fd, void *buf, size_t len, long long *real_ns) {
    union { char bytes[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } control;
    struct iovec io = {buf, len};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = control.bytes;
    m.msg_controllen = sizeof control.bytes;
    /* The bare system call, as dsd_recv (glibc's recvmsg is a cancellation point). */
    long n = syscall(SYS_recvmsg, fd, &m, 0);
    *real_ns = 0;
    if (n > 0) {
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec t;
                memcpy(&t, CMSG_DATA(h), sizeof t);
                *real_ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
            }
        }
    }
    return n;
}

long long dsd_monotonic_minus_realtime_ns(void) {
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    return ((long long)m.tv_sec - r.tv_sec) * 1000000000LL + (m.tv_nsec - r.tv_nsec);
}

int dsd_wait_readable(int fd, long long ns) {
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec t = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    return ppoll(&p, 1, &t, NULL);
}
#else
long dsd_recv(int fd, void *buf, size_t len) { return (long)recv(fd, buf, len, 0); }
int dsd_rx_timestamps_enable(int fd) { (void)fd; errno = ENOSYS; return -1; }
long dsd_recv_stamped(int fd, void *buf, size_t len, long long *real_ns) {
    *real_ns = 0;
    return (long)recv(fd, buf, len, 0);
}
long long dsd_monotonic_minus_realtime_ns(void) { return 0; }
int dsd_wait_readable(int fd, long long ns) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, (int)((ns + 999999) / 1000000));
}
#endif

CURLMcode dsd_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return api.multi_setopt(handle, option, value);
}

CURLMcode dsd_curl_multi_setopt_ptr(CURLM *handle, CURLMoption option, void *value) {
    return api.multi_setopt(handle, option, value);
}

CURLMSG dsd_curl_msg_kind(const CURLMsg *msg) { return msg->msg; }

CURL *dsd_curl_msg_easy(const CURLMsg *msg) { return msg->easy_handle; }

CURLcode dsd_curl_msg_result(const CURLMsg *msg) { return msg->data.result; }

int dsd_curl_error_size(void) { return CURL_ERROR_SIZE; }

CURLMcode dsd_curl_multi_set_socket_callbacks(CURLM *handle, dsd_curl_socket_fn socket_fn,
                                              dsd_curl_timer_fn timer_fn, void *userp) {
    CURLMcode rc = api.multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, socket_fn);
    if (rc == CURLM_OK) rc = api.multi_setopt(handle, CURLMOPT_SOCKETDATA, userp);
    if (rc == CURLM_OK) rc = api.multi_setopt(handle, CURLMOPT_TIMERFUNCTION, timer_fn);
    if (rc == CURLM_OK) rc = api.multi_setopt(handle, CURLMOPT_TIMERDATA, userp);
    return rc;
}

#ifdef __linux__
int dsd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int dsd_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out, int edge) {
    struct epoll_event ev;
    ev.events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0) | (edge ? EPOLLET | EPOLLRDHUP : 0);
    ev.data.u64 = 0;
    ev.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &ev);
}

int dsd_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        fds[i] = evs[i].data.fd;
        flags[i] = ((evs[i].events & EPOLLIN) ? 1 : 0) | ((evs[i].events & EPOLLOUT) ? 2 : 0)
                 | ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? 4 : 0) | ((evs[i].events & EPOLLRDHUP) ? 8 : 0);
    }
    return n;
}

int dsd_wake_fd_create(int *write_fd) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    *write_fd = fd;
    return fd;
}

void dsd_wake_fd_signal(int write_fd) {
    unsigned long long one = 1;
    ssize_t r = write(write_fd, &one, sizeof one);
    (void)r;
}

void dsd_wake_fd_drain(int read_fd) {
    unsigned long long v;
    ssize_t r = read(read_fd, &v, sizeof v);
    (void)r;
}
#else
int dsd_epoll_create(void) { return -1; }
int dsd_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out, int edge) { (void)epfd; (void)op; (void)fd; (void)want_in; (void)want_out; (void)edge; return -1; }
int dsd_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) { (void)epfd; (void)fds; (void)flags; (void)max; (void)timeout_ms; errno = ENOSYS; return -1; }
int dsd_wake_fd_create(int *write_fd) { *write_fd = -1; return -1; }
void dsd_wake_fd_signal(int write_fd) { (void)write_fd; }
void dsd_wake_fd_drain(int read_fd) { (void)read_fd; }
#endif
