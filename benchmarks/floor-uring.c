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

#define NBUF 4096
#define BUFSZ 2048
#define BGID 1

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct conn {
    int fd, busy, events, at_line_start, tail_len;
    double start, last;
    char tail[8];
};

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
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s HOST PORT CONCURRENCY PROMPTS INPUT_LEN OUTPUT_LEN MODEL [WAKE_INTERVAL_US]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), conc = atoi(argv[3]), prompts = atoi(argv[4]);
    int in_len = atoi(argv[5]), out_len = atoi(argv[6]);
    const char *model = argv[7];
    double ceiling = argc == 9 ? atof(argv[8]) * 1e-6 : 0;
    double gap_bound = ceiling, lat_sum = 0, wake = ceiling < 0.001 ? ceiling : 0.001;
    long lat_n = 0;
    if (conc > prompts) conc = prompts;

    static char body[1 << 16], req[1 << 17];
    int b = snprintf(body, sizeof body, "{\"prompt\":[");
    for (int i = 0; i < in_len && b < (int)sizeof body - 64; i++) b += snprintf(body + b, sizeof body - b, i ? ",%d" : "%d", 100 + i);
    b += snprintf(body + b, sizeof body - b,
                  "],\"temperature\":0.0,\"max_tokens\":%d,\"stream\":true,\"ignore_eos\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"model\":\"%s\"}", out_len, model);
    int rlen = snprintf(req, sizeof req,
                        "POST /v1/completions HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, port, b, body);

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

    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); return 2; }
    struct conn *cs = calloc((size_t)conc, sizeof *cs);
    for (int i = 0; i < conc; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        cs[i].fd = fd;
        arm(i, fd);
    }
    if (enter(to_submit, 0) < 0) { perror("io_uring_enter"); return 1; }
    to_submit = 0;

    int sent = 0, done = 0, failed = 0;
    long tokens = 0, itl_n = 0, ttft_n = 0;
    double itl_sum = 0, ttft_sum = 0, begin = now_s(), last_wake = 0, offset = 0;
    for (int i = 0; i < conc; i++) {
        cs[i].busy = 1; cs[i].start = now_s(); cs[i].at_line_start = 1;
        if (write(cs[i].fd, req, (size_t)rlen) != rlen) { perror("write"); return 1; }
        sent++;
    }
    int dense = 0;
    while (done < prompts) {
        if (ceiling > 0) {
            double lat = lat_n ? lat_sum / lat_n / 200 : 0.001;
            wake = ceiling < gap_bound ? ceiling : gap_bound;
            if (lat < wake) wake = lat;
        }
        if (wake > 0 && dense && now_s() - last_wake < wake) {
            double left = wake - (now_s() - last_wake);
            struct timespec ts = {0, (long)(left * 1e9)};
            ppoll(NULL, 0, &ts, NULL);
        }
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
            if (c->busy) {
                int events = 0;
                for (char *q = data, *end = data + r; q < end;) {
                    if (c->at_line_start && end - q >= 5 && memcmp(q, "data:", 5) == 0) events++;
                    char *nl = memchr(q, '\n', (size_t)(end - q));
                    if (!nl) { c->at_line_start = 0; break; }
                    c->at_line_start = 1;
                    q = nl + 1;
                }
                for (int k = 0; k < events; k++) {
                    int idx = c->events++;
                    if (idx >= out_len) continue;
                    tokens++;
                    if (idx == 0) { ttft_sum += t - c->start; ttft_n++; }
                    else {
                        itl_sum += t - c->last; itl_n++;
                        if (t - c->last < 2 * gap_bound) gap_bound = (t - c->last) / 4 < 20e-6 ? 0 : (t - c->last) / 4;
                    }
                    c->last = t;
                }
                char last[8];
                int mlen = 0;
                if (r >= 5) { memcpy(last, data + r - 5, 5); mlen = 5; }
                else {
                    int keep = 5 - (int)r; if (keep > c->tail_len) keep = c->tail_len;
                    memcpy(last, c->tail + c->tail_len - keep, (size_t)keep);
                    memcpy(last + keep, data, (size_t)r); mlen = keep + (int)r;
                }
                memcpy(c->tail, last, (size_t)mlen); c->tail_len = mlen;
                if (mlen == 5 && memcmp(last, "0\r\n\r\n", 5) == 0 && c->events >= out_len) {
                    done++;
                    lat_sum += t - c->start;
                    lat_n++;
                    if (c->events < out_len + 2) failed++;
                    c->busy = 0;
                    if (sent < prompts) {
                        c->busy = 1; c->start = now_s(); c->events = 0; c->at_line_start = 1; c->tail_len = 0;
                        if (write(c->fd, req, (size_t)rlen) != rlen) { perror("write"); return 1; }
                        sent++;
                    }
                }
            }
            give_back(bid);
        }
        atomic_store_explicit((_Atomic unsigned *)cq_head, head, memory_order_release);
        if (head != first) { again = 1; goto more; }
    }
    double dur = now_s() - begin;
    printf("{\"completed\": %d, \"failed\": %d, \"duration\": %.6f, \"total_output_tokens\": %ld, "
           "\"output_throughput\": %.3f, \"mean_ttft_ms\": %.4f, \"mean_itl_ms\": %.5f}\n",
           done - failed, failed, dur, tokens, tokens / dur, ttft_n ? ttft_sum / ttft_n * 1e3 : 0.0,
           itl_n ? itl_sum / itl_n * 1e3 : 0.0);
    return 0;
}
