/*
 * floor-reader: the least a client can do per streamed token on this machine, as a floor for
 * `dsdeploy bench`'s CPU per token (benchmarks/client-cpu.sh runs it as the `floor` client).
 *
 * The same closed loop as `dsdeploy bench --backend openai --max-concurrency C` against the same
 * server: C keep-alive connections, each sending one pre-rendered POST /v1/completions (stream, token
 * ids) after the other; epoll (level-triggered, blocking, so one wake-up per token when tokens
 * arrive one at a time); one read() per ready socket into a 64 KiB buffer; the arrival time is
 * clock_gettime(CLOCK_MONOTONIC) right after the read. Per read it only counts SSE events (`data:`
 * after a line start) and finds the end of the chunked response ("0\r\n\r\n"): no HTTP library, no
 * JSON, no allocation. TTFT = first event of a response after its request was written; ITL = gaps
 * between events carrying tokens (the usage event and [DONE] are not tokens). Assumes what the
 * simulator sends (HTTP/1.1 200, chunked, one token per event, `stream_options.include_usage`);
 * it is a measuring stick, not a client.
 *
 *   floor-reader HOST PORT CONCURRENCY PROMPTS INPUT_LEN OUTPUT_LEN MODEL [WAKE_INTERVAL_US]
 *
 * WAKE_INTERVAL_US (default 0) > 0 does what `dsdeploy bench --wake-interval-us` does: while arrivals
 * are dense (the last wake-up found several sockets ready, or came within half an interval of the one
 * before), the loop waits until that long after the last wake-up (ppoll on nothing),
 * each read is a recvmsg with SO_TIMESTAMPNS, and an event's time is the kernel's receive stamp
 * (real time, turned into CLOCK_MONOTONIC with the offset read at each wake-up). As in bench, the
 * interval in force is at most a quarter of the shortest gap under twice that bound, 1/200 of the
 * mean response time, and 1 ms until a first response ended.
 *
 * The request, the accounting per read and the result are floor-common.h's (shared with floor-uring.c).
 *
 * Prints bench's JSON keys: total_output_tokens, duration, output_throughput, mean_ttft_ms,
 * mean_itl_ms, completed, failed. Build: cc -O2 -o floor-reader floor-reader.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "floor-common.h"

int main(int argc, char **argv) {
    struct options o;
    if (parse_options(argc, argv, &o) != 0) return 2;
    const int conc = o.conc, prompts = o.prompts, out_len = o.out_len;
    const double ceiling = o.ceiling;
    struct tally st = {.gap_bound = ceiling};
    double wake = ceiling < 0.001 ? ceiling : 0.001;

    static char req[1 << 17];
    int rlen = build_request(req, sizeof req, o.host, o.port, o.in_len, out_len, o.model);

    int ep = epoll_create1(0);
    struct conn *cs = connect_all(&o, wake > 0);
    if (!cs) return 1;
    for (int i = 0; i < conc; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }

    int sent = 0;
    double begin = now_s();
    for (int i = 0; i < conc; i++) {
        if (start_request(&cs[i], req, rlen) != 0) { perror("write"); return 1; }
        sent++;
    }
    static char buf[65536];
    struct epoll_event evs[256];
    double last_wake = 0, offset = 0;
    int dense = 0;
    while (st.done < prompts) {
        if (ceiling > 0) wake = wake_interval(ceiling, &st);
        wait_out(wake, dense, last_wake);
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            fprintf(stderr, "no progress (%d done)\n", st.done);
            return 1;
        }
        if (ceiling > 0) {
            struct timespec m, rt;
            clock_gettime(CLOCK_MONOTONIC, &m);
            clock_gettime(CLOCK_REALTIME, &rt);
            double woke = (double)m.tv_sec + (double)m.tv_nsec * 1e-9;
            dense = n > 1 || woke - last_wake < wake / 2;
            last_wake = woke;
            offset = woke - ((double)rt.tv_sec + (double)rt.tv_nsec * 1e-9);
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = &cs[evs[k].data.u32];
            ssize_t r;
            double t;
            if (ceiling > 0) {
                char control[CMSG_SPACE(sizeof(struct timespec))];
                struct iovec io = {buf, sizeof buf};
                struct msghdr m = {0};
                m.msg_iov = &io;
                m.msg_iovlen = 1;
                m.msg_control = control;
                m.msg_controllen = sizeof control;
                r = recvmsg(c->fd, &m, 0);
                t = 0;
                for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); r > 0 && h; h = CMSG_NXTHDR(&m, h))
                    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec k;
                        memcpy(&k, CMSG_DATA(h), sizeof k);
                        t = (double)k.tv_sec + (double)k.tv_nsec * 1e-9 + offset;
                    }
                if (t == 0) t = now_s();
            } else {
                r = read(c->fd, buf, sizeof buf);
                t = now_s();
            }
            if (r <= 0) { fprintf(stderr, "connection closed\n"); return 1; }
            if (!c->busy) continue;
            if (account(c, buf, r, t, out_len, &st) && sent < prompts) {
                if (start_request(c, req, rlen) != 0) { perror("write"); return 1; }
                sent++;
            }
        }
    }
    print_result(&st, now_s() - begin);
    return 0;
}
