/*
 * floor-uring: floor-reader.c's closed loop read through io_uring instead of epoll + recvmsg, to
 * measure what the kernel's share of CPU per streamed token would be with a multishot receive.
 *
 * Each connection has one multishot IORING_OP_RECVMSG (buffers from a provided-buffer ring; each
 * completion's buffer holds io_uring_recvmsg_out, the SO_TIMESTAMPNS control message and the
 * bytes). The ring runs its receive work only when this thread asks for completions
 * (IORING_SETUP_DEFER_TASKRUN), so a wake-up is one io_uring_enter for every socket that moved,
 * instead of epoll_wait plus one recvmsg per socket. The wake rule and what is counted are
 * floor-reader's (see there); requests are sent with write(). Linux 6.1 or later.
 *
 *   floor-uring HOST PORT CONCURRENCY PROMPTS INPUT_LEN OUTPUT_LEN MODEL [WAKE_INTERVAL_US]
 *
 * The request, the accounting per read and the result are floor-common.h's (shared with floor-reader.c).
 *
 * Build: cc -O2 -o floor-uring floor-uring.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "floor-common.h"

#define NBUF 4096
#define BUFSZ 2048
#define BGID 1

/* The rings, mapped. */
static int ring_fd;
static unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;
static struct io_uring_buf_ring *br;
static char *bufs;
static unsigned br_tail;
static unsigned to_submit;

/* Submits, runs the ring's deferred receive work and waits for `wait` completions. */
static int enter(unsigned submit, unsigned wait) {
    return (int)syscall(__NR_io_uring_enter, ring_fd, submit, wait, IORING_ENTER_GETEVENTS, NULL, 0);
}

static struct io_uring_sqe *next_sqe(void) {
    unsigned tail = *sq_tail, idx = tail & *sq_mask;
    struct io_uring_sqe *s = &sqes[idx];
    memset(s, 0, sizeof *s);
    sq_array[idx] = idx;
    atomic_store_explicit((_Atomic unsigned *)sq_tail, tail + 1, memory_order_release);
    to_submit++;
    return s;
}

static struct msghdr recv_msg;

static void arm(int i, int fd) {
    struct io_uring_sqe *s = next_sqe();
    s->opcode = IORING_OP_RECVMSG;
    s->fd = fd;
    s->addr = (unsigned long)&recv_msg;
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    s->user_data = (unsigned long)i;
}

static void give_back(unsigned bid) {
    struct io_uring_buf *b = &br->bufs[br_tail & (NBUF - 1)];
    b->addr = (unsigned long)(bufs + (size_t)bid * BUFSZ);
    b->len = BUFSZ;
    b->bid = (unsigned short)bid;
    br_tail++;
    atomic_store_explicit((_Atomic unsigned short *)&br->tail, (unsigned short)br_tail, memory_order_release);
}

int main(int argc, char **argv) {
    struct options o;
    if (parse_options(argc, argv, &o) != 0) return 2;
    const int conc = o.conc, prompts = o.prompts, out_len = o.out_len;
    const double ceiling = o.ceiling;
    struct tally st = {.gap_bound = ceiling};
    double wake = ceiling < 0.001 ? ceiling : 0.001;

    static char req[1 << 17];
    int rlen = build_request(req, sizeof req, o.host, o.port, o.in_len, out_len, o.model);

    struct io_uring_params p = {0};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = 8192;
    ring_fd = (int)syscall(__NR_io_uring_setup, 512, &p);
    if (ring_fd < 0) { perror("io_uring_setup"); return 1; }
    size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
    char *cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_CQ_RING);
    sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                ring_fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { perror("mmap"); return 1; }
    sq_head = (unsigned *)(sq + p.sq_off.head); sq_tail = (unsigned *)(sq + p.sq_off.tail);
    sq_mask = (unsigned *)(sq + p.sq_off.ring_mask); sq_array = (unsigned *)(sq + p.sq_off.array);
    cq_head = (unsigned *)(cq + p.cq_off.head); cq_tail = (unsigned *)(cq + p.cq_off.tail);
    cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

    /* The provided-buffer ring. */
    br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    bufs = mmap(NULL, (size_t)NBUF * BUFSZ, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE, -1, 0);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
    if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
        perror("IORING_REGISTER_PBUF_RING");
        return 1;
    }
    for (unsigned i = 0; i < NBUF; i++) give_back(i);

    recv_msg.msg_controllen = CMSG_SPACE(sizeof(struct timespec));

    struct conn *cs = connect_all(&o, 1);
    if (!cs) return 1;
    for (int i = 0; i < conc; i++) arm(i, cs[i].fd);
    if (enter(to_submit, 0) < 0) { perror("io_uring_enter"); return 1; }
    to_submit = 0;

    int sent = 0;
    double begin = now_s(), last_wake = 0, offset = 0;
    for (int i = 0; i < conc; i++) {
        if (start_request(&cs[i], req, rlen) != 0) { perror("write"); return 1; }
        sent++;
    }
    int dense = 0;
    while (st.done < prompts) {
        if (ceiling > 0) wake = wake_interval(ceiling, &st);
        wait_out(wake, dense, last_wake);
        /* One call runs a bounded batch of the deferred receives (20 on recent kernels): a
         * wake-up calls again, without waiting, until one brings nothing. */
        int again = 0;
      more:
        if (enter(to_submit, again ? 0 : 1) < 0 && errno != EINTR) { perror("io_uring_enter"); return 1; }
        to_submit = 0;
        struct timespec m, rt;
        clock_gettime(CLOCK_MONOTONIC, &m);
        clock_gettime(CLOCK_REALTIME, &rt);
        double woke = (double)m.tv_sec + (double)m.tv_nsec * 1e-9;
        offset = woke - ((double)rt.tv_sec + (double)rt.tv_nsec * 1e-9);
        unsigned head = *cq_head, tail = atomic_load_explicit((_Atomic unsigned *)cq_tail, memory_order_acquire);
        if (!again) {
            dense = tail - head > 1 || woke - last_wake < wake / 2;
            last_wake = woke;
        } else if (tail - head > 0) {
            dense = 1;
        }
        unsigned first = head;
        for (; head != tail; head++) {
            struct io_uring_cqe *e = &cqes[head & *cq_mask];
            struct conn *c = &cs[e->user_data];
            int res = e->res;
            unsigned flags = e->flags;
            if (!(flags & IORING_CQE_F_MORE)) {
                if (res == -ENOBUFS || res > 0) arm((int)e->user_data, c->fd);
                else if (res <= 0) { fprintf(stderr, "recv ended: %d (%s)\n", res, strerror(-res)); return 1; }
            }
            if (res <= 0) continue;
            unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
            char *buf = bufs + (size_t)bid * BUFSZ;
            struct io_uring_recvmsg_out *o = (struct io_uring_recvmsg_out *)buf;
            char *control = buf + sizeof *o + o->namelen;
            char *data = control + recv_msg.msg_controllen;
            long r = o->payloadlen;
            double t = 0;
            struct msghdr mh = {.msg_control = control, .msg_controllen = o->controllen};
            for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h))
                if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec k;
                    memcpy(&k, CMSG_DATA(h), sizeof k);
                    t = (double)k.tv_sec + (double)k.tv_nsec * 1e-9 + offset;
                }
            if (t == 0) t = now_s();
            if (r == 0) { fprintf(stderr, "connection closed\n"); return 1; }
            if (c->busy && account(c, data, r, t, out_len, &st) && sent < prompts) {
                if (start_request(c, req, rlen) != 0) { perror("write"); return 1; }
                sent++;
            }
            give_back(bid);
        }
        atomic_store_explicit((_Atomic unsigned *)cq_head, head, memory_order_release);
        if (head != first) { again = 1; goto more; }
    }
    print_result(&st, now_s() - begin);
    return 0;
}
