/*
 * What benchmarks/floor-reader.c and benchmarks/floor-uring.c share: the request, the per-read
 * accounting (SSE events, the end of the chunked response, TTFT, ITL, the wake rule's gap and
 * latency bounds), the command line, the connections, the wait between wake-ups and the result
 * line. Only how the bytes are read differs between them.
 */
#ifndef FLOOR_COMMON_H
#define FLOOR_COMMON_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The command line both take:
 *   HOST PORT CONCURRENCY PROMPTS INPUT_LEN OUTPUT_LEN MODEL [WAKE_INTERVAL_US] */
struct options {
    const char *host, *model;
    int port, conc, prompts, in_len, out_len;
    double ceiling;    /* the most time between wake-ups, s (0: wake on every arrival) */
    struct sockaddr_in addr;
};

/* Reads the command line into o (concurrency at most the prompts); 0, or 2 after printing the
 * usage or that the host is not an IPv4 address. */
static int parse_options(int argc, char **argv, struct options *o) {
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s HOST PORT CONCURRENCY PROMPTS INPUT_LEN OUTPUT_LEN MODEL [WAKE_INTERVAL_US]\n", argv[0]);
        return 2;
    }
    o->host = argv[1];
    o->port = atoi(argv[2]);
    o->conc = atoi(argv[3]);
    o->prompts = atoi(argv[4]);
    o->in_len = atoi(argv[5]);
    o->out_len = atoi(argv[6]);
    o->model = argv[7];
    o->ceiling = argc == 9 ? atof(argv[8]) * 1e-6 : 0;
    if (o->conc > o->prompts) o->conc = o->prompts;
    memset(&o->addr, 0, sizeof o->addr);
    o->addr.sin_family = AF_INET;
    o->addr.sin_port = htons((unsigned short)o->port);
    if (inet_pton(AF_INET, o->host, &o->addr.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", o->host); return 2; }
    return 0;
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

/* n connections to the server (TCP_NODELAY; receive stamps when `stamps`), their descriptors in a
 * new array of n; NULL after printing why when one fails. */
static struct conn *connect_all(const struct options *o, int stamps) {
    struct conn *cs = calloc((size_t)o->conc, sizeof *cs);
    for (int i = 0; cs && i < o->conc; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (const struct sockaddr *)&o->addr, sizeof o->addr) != 0) { perror("connect"); return NULL; }
        if (stamps) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        cs[i].fd = fd;
    }
    return cs;
}

/* The run's totals, and the wake rule's bounds they feed (bench's WakeInterval). */
struct tally {
    int done, failed;
    long tokens, itl_n, ttft_n, lat_n;
    double itl_sum, ttft_sum, lat_sum, gap_bound;
};

/* One request for every connection (token ids 100, 101, ...: the server's work does not depend
 * on them) into req; returns its length. */
static int build_request(char *req, size_t cap, const char *host, int port, int in_len, int out_len,
                         const char *model) {
    static char body[1 << 16];
    int b = snprintf(body, sizeof body, "{\"prompt\":[");
    for (int i = 0; i < in_len && b < (int)sizeof body - 64; i++) b += snprintf(body + b, sizeof body - b, i ? ",%d" : "%d", 100 + i);
    b += snprintf(body + b, sizeof body - b,
                  "],\"temperature\":0.0,\"max_tokens\":%d,\"stream\":true,\"ignore_eos\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"model\":\"%s\"}", out_len, model);
    return snprintf(req, cap,
                    "POST /v1/completions HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, port, b, body);
}

/* Accounts for r bytes that arrived at time t on c: SSE events ("data:" at a line start; chunk-size
 * lines never start with 'd'), tokens, TTFT, ITL and the gap bound. Returns 1 when the response
 * ended with them (the chunked terminator "0\r\n\r\n" after every token): c is idle then. */
static int account(struct conn *c, const char *data, long r, double t, int out_len, struct tally *s) {
    int events = 0;
    for (const char *p = data, *end = data + r; p < end;) {
        if (c->at_line_start && end - p >= 5 && memcmp(p, "data:", 5) == 0) events++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) { c->at_line_start = 0; break; }
        c->at_line_start = 1;
        p = nl + 1;
    }
    for (int e = 0; e < events; e++) {
        int idx = c->events++;
        if (idx >= out_len) continue; /* usage, [DONE] */
        s->tokens++;
        if (idx == 0) { s->ttft_sum += t - c->start; s->ttft_n++; }
        else {
            s->itl_sum += t - c->last; s->itl_n++;
            if (t - c->last < 2 * s->gap_bound) s->gap_bound = (t - c->last) / 4 < 20e-6 ? 0 : (t - c->last) / 4;
        }
        c->last = t;
    }
    char last[8];
    int m = 0;
    if (r >= 5) { memcpy(last, data + r - 5, 5); m = 5; }
    else { /* join with the previous tail */
        int keep = 5 - (int)r; if (keep > c->tail_len) keep = c->tail_len;
        memcpy(last, c->tail + c->tail_len - keep, (size_t)keep);
        memcpy(last + keep, data, (size_t)r); m = keep + (int)r;
    }
    memcpy(c->tail, last, (size_t)m); c->tail_len = m;
    if (m == 5 && memcmp(last, "0\r\n\r\n", 5) == 0 && c->events >= out_len) {
        s->done++;
        s->lat_sum += t - c->start;
        s->lat_n++;
        if (c->events < out_len + 2) s->failed++;
        c->busy = 0;
        return 1;
    }
    return 0;
}

/* Starts c's next request: 0, or -1 when the write failed. */
static int start_request(struct conn *c, const char *req, int rlen) {
    c->busy = 1;
    c->start = now_s();
    c->events = 0;
    c->at_line_start = 1;
    c->tail_len = 0;
    return write(c->fd, req, (size_t)rlen) == rlen ? 0 : -1;
}

/* The wake interval in force: min(ceiling, gap bound, mean response / 200, or 1 ms before one). */
static double wake_interval(double ceiling, const struct tally *s) {
    double lat = s->lat_n ? s->lat_sum / s->lat_n / 200 : 0.001;
    double w = ceiling < s->gap_bound ? ceiling : s->gap_bound;
    return lat < w ? lat : w;
}

/* bench's JSON keys. */
/* bench's wait between wake-ups: while arrivals are dense, sleeps out the rest of `wake` seconds
 * since the last wake-up (when new arrivals cannot cut it short). */
static void wait_out(double wake, int dense, double last_wake) {
    if (wake > 0 && dense && now_s() - last_wake < wake) {
        double left = wake - (now_s() - last_wake);
        struct timespec ts = {0, (long)(left * 1e9)};
        ppoll(NULL, 0, &ts, NULL);
    }
}

static void print_result(const struct tally *s, double dur) {
    printf("{\"completed\": %d, \"failed\": %d, \"duration\": %.6f, \"total_output_tokens\": %ld, "
           "\"output_throughput\": %.3f, \"mean_ttft_ms\": %.4f, \"mean_itl_ms\": %.5f}\n",
           s->done - s->failed, s->failed, dur, s->tokens, s->tokens / dur,
           s->ttft_n ? s->ttft_sum / s->ttft_n * 1e3 : 0.0, s->itl_n ? s->itl_sum / s->itl_n * 1e3 : 0.0);
}
#endif
