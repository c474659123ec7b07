/*
 * libyaml_floor: the floor for YAML loading speed — a bare libyaml event loop.
 *
 * Reads FILE into memory once, then RUNS times: parses every event with yaml_parser_parse
 * and counts them (no tree, no strings). Prints each run's event count and the median
 * parse time as "parse_ms=X" (the benchmark script reads that line).
 *
 * Build: gcc -O2 -o libyaml_floor libyaml_floor.c -lyaml   (Debian: apt-get install libyaml-dev)
 * Usage: libyaml_floor FILE [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <yaml.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Parses the whole buffer; returns the number of events, or -1 on a YAML error. */
static long parse_all(const unsigned char *data, size_t size) {
    yaml_parser_t parser;
    yaml_event_t event;
    long events = 0;
    if (!yaml_parser_initialize(&parser)) return -1;
    yaml_parser_set_input_string(&parser, data, size);
    for (;;) {
        if (!yaml_parser_parse(&parser, &event)) {
            fprintf(stderr, "yaml error: %s at line %zu\n",
                    parser.problem ? parser.problem : "?", parser.problem_mark.line + 1);
            events = -1;
            break;
        }
        events++;
        int done = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        if (done) break;
    }
    yaml_parser_delete(&parser);
    return events;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [RUNS]\n", argv[0]);
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 1;
    if (runs < 1) runs = 1;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);

    double *samples = calloc((size_t)runs, sizeof(double));
    long events = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        events = parse_all(data, (size_t)size);
        samples[i] = now_ms() - t0;
        if (events < 0) return 1;
    }
    qsort(samples, (size_t)runs, sizeof(double), cmp_double);
    printf("events=%ld runs=%d min_ms=%.2f\n", events, runs, samples[0]);
    printf("parse_ms=%.2f\n", samples[runs / 2]);
    free(samples);
    free(data);
    return 0;
}
