/* dsd_rx_ring: multishot receives for the bench client's reading thread (io_uring). See dsd_curl.h.
 *
 * Each connection has one multishot IORING_OP_RECVMSG: armed once, it stays armed and brings every
 * read of the socket as a completion, each in a buffer of the ring's provided-buffer ring with the
 * SO_TIMESTAMPNS control message in front of the bytes. The ring is IORING_SETUP_DEFER_TASKRUN:
 * the receive work runs only inside this thread's calls into the ring, never interrupting it, and
 * dsd_rx_ring_wait is where the thread sleeps until there is some. Other descriptors (an epoll
 * instance) are watched through it with a multishot poll.
 *
 * Why not an eventfd registered with the ring, to wake another wait when work is due: the kernel
 * signals it from the socket's receive path by way of an RCU callback, measured 15 ms late
 * (Linux 6.18). */
#include "dsd_curl.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#endif

/* Needs headers of Linux 6.1 or later (IORING_SETUP_DEFER_TASKRUN); with older ones, or elsewhere,
 * there is no ring and every socket is read with its own recvmsg. */
#if defined(__linux__) && defined(IORING_SETUP_DEFER_TASKRUN) && defined(IORING_RECV_MULTISHOT)
#include <poll.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_GROUP 1

struct dsd_rx_ring {
    int fd;
    unsigned sq_entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map, *sqe_map;
    size_t sq_len, cq_len, sqe_len;
    struct io_uring_buf_ring *buffers;   /* the provided-buffer ring */
    size_t buffers_len;
    unsigned buffer_count, buffer_size, buffer_tail;
    char *data;                          /* buffer_count * buffer_size bytes */
    struct msghdr shape;                 /* what each receive brings: no name, one stamp */
};

static void unmap(struct dsd_rx_ring *r) {
    if (r->sqe_map) munmap(r->sqe_map, r->sqe_len);
    if (r->cq_map) munmap(r->cq_map, r->cq_len);
    if (r->sq_map) munmap(r->sq_map, r->sq_len);
    if (r->buffers) munmap(r->buffers, r->buffers_len);
    if (r->data) munmap(r->data, (size_t)r->buffer_count * r->buffer_size);
}

void dsd_rx_ring_destroy(dsd_rx_ring *r) {
    if (!r) return;
    /* Closing the ring cancels its receives; the kernel pins the buffer ring until then. */
    if (r->fd >= 0) close(r->fd);
    unmap(r);
    free(r);
}

dsd_rx_ring *dsd_rx_ring_create(int buffers, int buffer_size) {
    /* The buffer ring's size must be a power of two (at most 32768); a buffer holds at least the
     * header, the stamp and some bytes. */
    if (buffers <= 0 || buffers > 32768 || (buffers & (buffers - 1)) != 0 || buffer_size < 256) return NULL;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = 8192;
    int fd = (int)syscall(__NR_io_uring_setup, 256u, &p);
    if (fd < 0) return NULL;  /* ENOSYS, EPERM (disabled, seccomp), EINVAL (a kernel before 6.1) */
    struct dsd_rx_ring *r = calloc(1, sizeof *r);
    if (!r) { close(fd); return NULL; }
    r->fd = fd;
    r->sq_entries = p.sq_entries;
    r->buffer_count = (unsigned)buffers;
    r->buffer_size = (unsigned)buffer_size;
    r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    r->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
    r->buffers_len = (size_t)buffers * sizeof(struct io_uring_buf);
    void *m;
    m = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    r->sq_map = m == MAP_FAILED ? NULL : m;
    m = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    r->cq_map = m == MAP_FAILED ? NULL : m;
    m = mmap(NULL, r->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    r->sqe_map = m == MAP_FAILED ? NULL : m;
    m = mmap(NULL, r->buffers_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    r->buffers = m == MAP_FAILED ? NULL : m;
    /* Touched as reads fill it, not up front. */
    m = mmap(NULL, (size_t)buffers * (size_t)buffer_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    r->data = m == MAP_FAILED ? NULL : m;
    if (!r->sq_map || !r->cq_map || !r->sqe_map || !r->buffers || !r->data) {
        dsd_rx_ring_destroy(r);
        return NULL;
    }
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->sqes = r->sqe_map;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)r->buffers;
    reg.ring_entries = (unsigned)buffers;
    reg.bgid = BUFFER_GROUP;
    /* Buffer rings: Linux 5.19. */
    if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
        dsd_rx_ring_destroy(r);
        return NULL;
    }
    for (int i = 0; i < buffers; i++) dsd_rx_ring_release(r, i);
    r->shape.msg_controllen = CMSG_SPACE(sizeof(struct timespec));
    return r;
}

void dsd_rx_ring_release(dsd_rx_ring *r, int buffer) {
    struct io_uring_buf *b = &r->buffers->bufs[r->buffer_tail & (r->buffer_count - 1)];
    b->addr = (unsigned long)(r->data + (size_t)buffer * r->buffer_size);
    b->len = r->buffer_size;
    b->bid = (unsigned short)buffer;
    r->buffer_tail++;
    atomic_store_explicit((_Atomic unsigned short *)&r->buffers->tail, (unsigned short)r->buffer_tail,
                          memory_order_release);
}

/* Requests written and not yet taken by the kernel. */
static unsigned queued(const struct dsd_rx_ring *r) {
    return *r->sq_tail - atomic_load_explicit((_Atomic unsigned *)r->sq_head, memory_order_acquire);
}

/* Submits what is queued and runs a batch of the due receive work (the kernel's batch: 20 items
 * on recent kernels); with `wait`, first waits (up to wait_ns; -1: no limit) until there is a
 * completion. */
static int enter(struct dsd_rx_ring *r, int wait, long long wait_ns) {
    struct io_uring_getevents_arg arg;
    struct __kernel_timespec ts;
    memset(&arg, 0, sizeof arg);
    unsigned flags = IORING_ENTER_GETEVENTS;
    void *argp = NULL;
    size_t argsz = 0;
    if (wait && wait_ns >= 0) {
        ts.tv_sec = wait_ns / 1000000000LL;
        ts.tv_nsec = wait_ns % 1000000000LL;
        arg.ts = (unsigned long)&ts;
        flags |= IORING_ENTER_EXT_ARG;
        argp = &arg;
        argsz = sizeof arg;
    }
    long n = syscall(__NR_io_uring_enter, r->fd, queued(r), wait ? 1u : 0u, flags, argp, argsz);
    /* ETIME: the wait ran out; EINTR: a signal (the caller's loop goes round again). */
    return n >= 0 || errno == ETIME || errno == EINTR ? 0 : -1;
}

/* The next request, cleared, for operation `op` on fd with `tag`; NULL when the queue is full and
 * cannot be submitted. */
static struct io_uring_sqe *next_sqe(struct dsd_rx_ring *r, unsigned char op, int fd, unsigned long long tag) {
    /* The submission queue is full: submit first (only with more requests than entries between calls). */
    if (queued(r) >= r->sq_entries && enter(r, 0, 0) != 0) return NULL;
    unsigned idx = *r->sq_tail & *r->sq_mask;
    struct io_uring_sqe *s = &r->sqes[idx];
    memset(s, 0, sizeof *s);
    s->opcode = op;
    s->fd = fd;
    s->user_data = tag;
    r->sq_array[idx] = idx;
    return s;
}

static void queue(struct dsd_rx_ring *r) {
    atomic_store_explicit((_Atomic unsigned *)r->sq_tail, *r->sq_tail + 1, memory_order_release);
}

int dsd_rx_ring_arm(dsd_rx_ring *r, int fd, unsigned long long tag) {
    struct io_uring_sqe *s = next_sqe(r, IORING_OP_RECVMSG, fd, tag);
    if (!s) return -1;
    s->addr = (unsigned long)&r->shape;
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = BUFFER_GROUP;
    queue(r);
    return 0;
}

int dsd_rx_ring_watch(dsd_rx_ring *r, int fd, unsigned long long tag) {
    struct io_uring_sqe *s = next_sqe(r, IORING_OP_POLL_ADD, fd, tag);
    if (!s) return -1;
    s->poll32_events = POLLIN;
    s->len = IORING_POLL_ADD_MULTI;
    queue(r);
    return 0;
}

int dsd_rx_ring_queued(const dsd_rx_ring *r) { return (int)queued(r); }

int dsd_rx_ring_wait(dsd_rx_ring *r, long long timeout_ns) {
    unsigned head = *r->cq_head;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire);
    if (head != tail && queued(r) == 0) return 0;  /* completions are there already */
    return enter(r, 1, timeout_ns);
}

int dsd_rx_ring_collect(dsd_rx_ring *r, dsd_rx_event *events, int max) {
    unsigned head = *r->cq_head;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire);
    /* Nothing left from the last call: submit, and run a batch of the due receive work. (Asking the
     * kernel to wait for as many completions as the queue holds, with a zero timeout, would run all
     * of it in one call, but arms a timer each time: dearer, measured, on a VM.) */
    if (head == tail || queued(r) > 0) {
        if (enter(r, 0, 0) != 0) return -1;
        tail = atomic_load_explicit((_Atomic unsigned *)r->cq_tail, memory_order_acquire);
    }
    int n = 0;
    for (; head != tail && n < max; head++) {
        const struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
        dsd_rx_event *e = &events[n++];
        e->tag = c->user_data;
        e->res = c->res;
        e->more = (c->flags & IORING_CQE_F_MORE) != 0;
        e->buffer = -1;
        e->data = NULL;
        e->stamp = 0;
        /* A watch's completion (dsd_rx_ring_watch) has no buffer: res is the events seen. */
        if (!(c->flags & IORING_CQE_F_BUFFER)) continue;
        e->buffer = (int)(c->flags >> IORING_CQE_BUFFER_SHIFT);
        char *buf = r->data + (size_t)e->buffer * r->buffer_size;
        struct io_uring_recvmsg_out *o = (struct io_uring_recvmsg_out *)buf;
        char *control = buf + sizeof *o + o->namelen;
        e->data = control + r->shape.msg_controllen;
        if (c->res > 0) e->res = (long)o->payloadlen;
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_control = control;
        mh.msg_controllen = o->controllen;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
            if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec t;
                memcpy(&t, CMSG_DATA(h), sizeof t);
                e->stamp = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
            }
        }
    }
    atomic_store_explicit((_Atomic unsigned *)r->cq_head, head, memory_order_release);
    return n;
}
#else
struct dsd_rx_ring { int unused; };
dsd_rx_ring *dsd_rx_ring_create(int buffers, int buffer_size) {
    (void)buffers; (void)buffer_size;
    return NULL;
}
void dsd_rx_ring_destroy(dsd_rx_ring *r) { (void)r; }
int dsd_rx_ring_arm(dsd_rx_ring *r, int fd, unsigned long long tag) { (void)r; (void)fd; (void)tag; return -1; }
int dsd_rx_ring_queued(const dsd_rx_ring *r) { (void)r; return 0; }
int dsd_rx_ring_watch(dsd_rx_ring *r, int fd, unsigned long long tag) { (void)r; (void)fd; (void)tag; return -1; }
int dsd_rx_ring_wait(dsd_rx_ring *r, long long timeout_ns) { (void)r; (void)timeout_ns; return -1; }
int dsd_rx_ring_collect(dsd_rx_ring *r, dsd_rx_event *events, int max) { (void)r; (void)events; (void)max; return -1; }
void dsd_rx_ring_release(dsd_rx_ring *r, int buffer) { (void)r; (void)buffer; }
#endif
