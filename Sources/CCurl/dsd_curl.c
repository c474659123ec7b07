#include "dsd_curl.h"

#include <errno.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

CURLcode dsd_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_blob(CURL *handle, CURLoption option, const void *data, size_t len) {
    struct curl_blob blob;
    blob.data = (void *)data;
    blob.len = len;
    blob.flags = CURL_BLOB_COPY;
    return curl_easy_setopt(handle, option, &blob);
}

CURLcode dsd_curl_easy_setopt_str(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_writefn(CURL *handle, CURLoption option, dsd_curl_data_fn fn) {
    return curl_easy_setopt(handle, option, fn);
}

CURLcode dsd_curl_easy_setopt_xferinfofn(CURL *handle, dsd_curl_xferinfo_fn fn) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, fn);
}

CURLcode dsd_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *out) {
    return curl_easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *out) {
    return curl_easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **out) {
    return curl_easy_getinfo(handle, info, out);
}

CURLMcode dsd_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

CURLMcode dsd_curl_multi_setopt_ptr(CURLM *handle, CURLMoption option, void *value) {
    return curl_multi_setopt(handle, option, value);
}

CURLMSG dsd_curl_msg_kind(const CURLMsg *msg) { return msg->msg; }

CURL *dsd_curl_msg_easy(const CURLMsg *msg) { return msg->easy_handle; }

CURLcode dsd_curl_msg_result(const CURLMsg *msg) { return msg->data.result; }

int dsd_curl_error_size(void) { return CURL_ERROR_SIZE; }

CURLMcode dsd_curl_multi_set_socket_callbacks(CURLM *handle, dsd_curl_socket_fn socket_fn,
                                              dsd_curl_timer_fn timer_fn, void *userp) {
    CURLMcode rc = curl_multi_setopt(handle, CURLMOPT_SOCKETFUNCTION, socket_fn);
    if (rc == CURLM_OK) rc = curl_multi_setopt(handle, CURLMOPT_SOCKETDATA, userp);
    if (rc == CURLM_OK) rc = curl_multi_setopt(handle, CURLMOPT_TIMERFUNCTION, timer_fn);
    if (rc == CURLM_OK) rc = curl_multi_setopt(handle, CURLMOPT_TIMERDATA, userp);
    return rc;
}

#ifdef __linux__
int dsd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int dsd_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out) {
    struct epoll_event ev;
    ev.events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0);
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
                 | ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? 4 : 0);
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
int dsd_epoll_ctl(int epfd, int op, int fd, int want_in, int want_out) { (void)epfd; (void)op; (void)fd; (void)want_in; (void)want_out; return -1; }
int dsd_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) { (void)epfd; (void)fds; (void)flags; (void)max; (void)timeout_ms; errno = ENOSYS; return -1; }
int dsd_wake_fd_create(int *write_fd) { *write_fd = -1; return -1; }
void dsd_wake_fd_signal(int write_fd) { (void)write_fd; }
void dsd_wake_fd_drain(int read_fd) { (void)read_fd; }
#endif
