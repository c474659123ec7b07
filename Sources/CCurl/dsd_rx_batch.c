/* dsd_rx_batch: the first read of many ready sockets in one system call (io_uring), for the bench
 * client's reading thread. See dsd_curl.h. */
#include "dsd_curl.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#endif

/* The ring needs headers of Linux 6.0 or later (IORING_SETUP_SINGLE_ISSUER); with older ones, or
 * elsewhere, there is no batch reader and every socket is read with its own recvmsg. */
#if defined(__linux__) && defined(IORING_SETUP_SINGLE_ISSUER)
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct dsd_rx_batch {
    int fd;
    int slots, slot_size;
    unsigned generation;        /* of the current call, in each request's user_data */
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_map, *cq_map, *sqe_map;
    size_t sq_len, cq_len, sqe_len;
    char *data;                 /* slots * slot_size bytes */
    struct msghdr *msgs;        /* one per slot, each with its iovec and control buffer */
    struct iovec *iovs;
    char (*controls)[CMSG_SPACE(sizeof(struct timespec))];
};

static void unmap(struct dsd_rx_batch *b) {
    if (b->sqe_map) munmap(b->sqe_map, b->sqe_len);
    if (b->cq_map) munmap(b->cq_map, b->cq_len);
    if (b->sq_map) munmap(b->sq_map, b->sq_len);
}

dsd_rx_batch *dsd_rx_batch_create(int slots, int slot_size) {
    if (slots <= 0 || slot_size <= 0) return NULL;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* SINGLE_ISSUER (Linux 6.0) as the floor for everything used here: recvmsg with MSG_DONTWAIT
     * answering EAGAIN at once instead of waiting for data. */
    p.flags = IORING_SETUP_SINGLE_ISSUER;
    int fd = (int)syscall(__NR_io_uring_setup, (unsigned)slots, &p);
    if (fd < 0) return NULL;  /* ENOSYS, EPERM (disabled, seccomp), EINVAL (older kernel) */
    struct dsd_rx_batch *b = calloc(1, sizeof *b);
    if (!b) { close(fd); return NULL; }
    b->fd = fd;
    b->slots = slots;
    b->slot_size = slot_size;
    b->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    b->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    b->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
    b->sq_map = mmap(NULL, b->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    b->cq_map = mmap(NULL, b->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    b->sqe_map = mmap(NULL, b->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (b->sq_map == MAP_FAILED) b->sq_map = NULL;
    if (b->cq_map == MAP_FAILED) b->cq_map = NULL;
    if (b->sqe_map == MAP_FAILED) b->sqe_map = NULL;
    b->data = malloc((size_t)slots * (size_t)slot_size);
    b->msgs = calloc((size_t)slots, sizeof *b->msgs);
    b->iovs = calloc((size_t)slots, sizeof *b->iovs);
    b->controls = calloc((size_t)slots, sizeof *b->controls);
    if (!b->sq_map || !b->cq_map || !b->sqe_map || !b->data || !b->msgs || !b->iovs || !b->controls
        || p.sq_entries < (unsigned)slots) {
        dsd_rx_batch_destroy(b);
        return NULL;
    }
    char *sq = b->sq_map, *cq = b->cq_map;
    b->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    b->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    b->sq_array = (unsigned *)(sq + p.sq_off.array);
    b->cq_head = (unsigned *)(cq + p.cq_off.head);
    b->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    b->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    b->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    b->sqes = b->sqe_map;
    for (int i = 0; i < slots; i++) {
        b->iovs[i].iov_base = b->data + (size_t)i * (size_t)slot_size;
        b->iovs[i].iov_len = (size_t)slot_size;
        b->msgs[i].msg_iov = &b->iovs[i];
        b->msgs[i].msg_iovlen = 1;
        b->msgs[i].msg_control = b->controls[i];
    }
    return b;
}

void dsd_rx_batch_destroy(dsd_rx_batch *b) {
    if (!b) return;
    unmap(b);
    close(b->fd);
    free(b->data);
    free(b->msgs);
    free(b->iovs);
    free(b->controls);
    free(b);
}

void *dsd_rx_batch_slot(dsd_rx_batch *b, int i) { return b->data + (size_t)i * (size_t)b->slot_size; }


int dsd_rx_batch_read(dsd_rx_batch *b, const int *fds, int n, long *results, long long *stamps) {
    if (n <= 0) return 0;
    if (n > b->slots) return -1;
    unsigned tail = *b->sq_tail;
    for (int i = 0; i < n; i++) {
        unsigned idx = tail & *b->sq_mask;
        struct io_uring_sqe *s = &b->sqes[idx];
        memset(s, 0, sizeof *s);
        b->msgs[i].msg_controllen = sizeof b->controls[i];
        b->msgs[i].msg_flags = 0;
        s->opcode = IORING_OP_RECVMSG;
        s->fd = fds[i];
        s->addr = (unsigned long)&b->msgs[i];
        s->len = 1;
        s->msg_flags = MSG_DONTWAIT;  /* nothing there: -EAGAIN at once, never a wait for data */
        s->user_data = ((unsigned long long)b->generation << 32) | (unsigned)i;
        b->sq_array[idx] = idx;
        results[i] = -EAGAIN;
        stamps[i] = 0;
        tail++;
    }
    atomic_store_explicit((_Atomic unsigned *)b->sq_tail, tail, memory_order_release);
    /* Submit and wait for all: each completes during the submission (MSG_DONTWAIT), so the wait
     * returns at once. */
    int got = 0, submitted = 0;
    while (got < n) {
        int r = (int)syscall(__NR_io_uring_enter, b->fd, (unsigned)(n - submitted), (unsigned)(n - got),
                             IORING_ENTER_GETEVENTS, NULL, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (submitted == 0) return -1;  /* nothing went in: the caller reads itself */
        } else {
            submitted += r;
        }
        unsigned head = *b->cq_head;
        unsigned ctail = atomic_load_explicit((_Atomic unsigned *)b->cq_tail, memory_order_acquire);
        for (; head != ctail; head++) {
            struct io_uring_cqe *e = &b->cqes[head & *b->cq_mask];
            int i = (int)(e->user_data & 0xffffffffu);
            /* A completion of an earlier call (only if a read there outlived its call) is not this one's. */
            if ((unsigned)(e->user_data >> 32) != b->generation || i < 0 || i >= n) continue;
            results[i] = e->res;
            got++;
            if (e->res > 0) {
                struct msghdr *m = &b->msgs[i];
                for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
                    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec t;
                        memcpy(&t, CMSG_DATA(h), sizeof t);
                        stamps[i] = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
                    }
                }
            }
        }
        atomic_store_explicit((_Atomic unsigned *)b->cq_head, head, memory_order_release);
        if (r < 0) break;  /* what did not complete stays -EAGAIN */
    }
    b->generation++;
    return 0;
}
#else
struct dsd_rx_batch { int unused; };
dsd_rx_batch *dsd_rx_batch_create(int slots, int slot_size) { (void)slots; (void)slot_size; return NULL; }
void dsd_rx_batch_destroy(dsd_rx_batch *b) { (void)b; }
void *dsd_rx_batch_slot(dsd_rx_batch *b, int i) { (void)b; (void)i; return NULL; }
int dsd_rx_batch_read(dsd_rx_batch *b, const int *fds, int n, long *results, long long *stamps) {
    (void)b; (void)fds; (void)n; (void)results; (void)stamps;
    return -1;
}
#endif
