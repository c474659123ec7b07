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

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct conn {
    int fd;
    int busy;          /* a request is outstanding */
    double start;      /* when its request was written */
    double last;       /* last token event */
    int events;        /* SSE events of the current response */
    int at_line_start; /* the previous byte ended a line (an event may start here) */
    char tail[8];      /* last bytes seen, to find "0\r\n\r\n" across reads */
    int tail_len;
};

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
    /* The interval in force (bench's WakeInterval): min(ceiling, gap bound, mean response / 200, or 1 ms before one). */
    double gap_bound = ceiling, lat_sum = 0, wake = ceiling < 0.001 ? ceiling : 0.001;
    long lat_n = 0;
    if (conc > prompts) conc = prompts;

    /* One body for every request (token ids 100, 101, ...): the server's work does not depend on them. */
    static char body[1 << 16], req[1 << 17];
    int b = snprintf(body, sizeof body, "{\"prompt\":[");
    for (int i = 0; i < in_len && b < (int)sizeof body - 64; i++) b += snprintf(body + b, sizeof body - b, i ? ",%d" : "%d", 100 + i);
    b += snprintf(body + b, sizeof body - b,
                  "],\"temperature\":0.0,\"max_tokens\":%d,\"stream\":true,\"ignore_eos\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"model\":\"%s\"}", out_len, model);
    int rlen = snprintf(req, sizeof req,
                        "POST /v1/completions HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, port, b, body);

    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); return 2; }

    int ep = epoll_create1(0);
    struct conn *cs = calloc((size_t)conc, sizeof *cs);
    for (int i = 0; i < conc; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 1; }
        cs[i].fd = fd;
        if (wake > 0) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }

    int sent = 0, done = 0, failed = 0;
    long tokens = 0, itl_n = 0, ttft_n = 0;
    double itl_sum = 0, ttft_sum = 0;
    double begin = now_s();
    for (int i = 0; i < conc; i++) {
        cs[i].busy = 1;
        cs[i].start = now_s();
        cs[i].events = 0;
        cs[i].at_line_start = 1;
        cs[i].tail_len = 0;
        if (write(cs[i].fd, req, (size_t)rlen) != rlen) { perror("write"); return 1; }
        sent++;
    }
    static char buf[65536];
    struct epoll_event evs[256];
    double last_wake = 0, offset = 0;
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
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            fprintf(stderr, "no progress (%d done)\n", done);
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
            /* SSE events: "data:" at the start of a line (chunk-size lines never start with 'd'). */
            int events = 0;
            for (char *p = buf, *end = buf + r; p < end;) {
                if (c->at_line_start && end - p >= 5 && memcmp(p, "data:", 5) == 0) events++;
                char *nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl) { c->at_line_start = 0; break; }
                c->at_line_start = 1;
                p = nl + 1;
            }
            for (int e = 0; e < events; e++) {
                int idx = c->events++;
                if (idx >= out_len) continue; /* usage, [DONE] */
                tokens++;
                if (idx == 0) { ttft_sum += t - c->start; ttft_n++; }
                else {
                    itl_sum += t - c->last; itl_n++;
                    if (t - c->last < 2 * gap_bound) gap_bound = (t - c->last) / 4 < 20e-6 ? 0 : (t - c->last) / 4;
                }
                c->last = t;
            }
            /* The response ends with the chunked terminator "0\r\n\r\n". */
            char last[8];
            int m = 0;
            if (r >= 5) { memcpy(last, buf + r - 5, 5); m = 5; }
            else { /* join with the previous tail */
                int keep = 5 - (int)r; if (keep > c->tail_len) keep = c->tail_len;
                memcpy(last, c->tail + c->tail_len - keep, (size_t)keep);
                memcpy(last + keep, buf, (size_t)r); m = keep + (int)r;
            }
            memcpy(c->tail, last, (size_t)m); c->tail_len = m;
            if (m == 5 && memcmp(last, "0\r\n\r\n", 5) == 0 && c->events >= out_len) {
                done++;
                lat_sum += t - c->start;
                lat_n++;
                if (c->events < out_len + 2) failed++;
                c->busy = 0;
                if (sent < prompts) {
                    c->busy = 1;
                    c->start = now_s();
                    c->events = 0;
                    c->at_line_start = 1;
                    c->tail_len = 0;
                    if (write(c->fd, req, (size_t)rlen) != rlen) { perror("write"); return 1; }
                    sent++;
                }
            }
        }
    }
    double dur = now_s() - begin;
    printf("{\"completed\": %d, \"failed\": %d, \"duration\": %.6f, \"total_output_tokens\": %ld, "
           "\"output_throughput\": %.3f, \"mean_ttft_ms\": %.4f, \"mean_itl_ms\": %.5f}\n",
           done - failed, failed, dur, tokens, tokens / dur, ttft_n ? ttft_sum / ttft_n * 1e3 : 0.0,
           itl_n ? itl_sum / itl_n * 1e3 : 0.0);
    return 0;
}
