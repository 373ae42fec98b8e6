/* Registration load generator for bench_http.py: C threads, one keep-alive
 * connection each, PUT /v1/services with distinct instance ids, one request
 * in flight per connection. Prints one line:
 *   ok=N errors=E seconds=S p50_us=.. p90_us=.. p99_us=.. max_us=..
 * Usage: reg_client HOST PORT CONNECTIONS TOTAL [TOKEN] [DEREGISTER(0/1)]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char* host;
static int port, conns, total, deregister;
static const char* token = "";
static double* latencies;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Reads one response; returns the status or -1. */
static int read_response(int fd, char* buf, size_t cap, size_t* have)
{
    for (;;) {
        char* end = memmem(buf, *have, "\r\n\r\n", 4);
        if (end) {
            size_t head = (size_t)(end - buf) + 4;
            char* cl = memmem(buf, head, "Content-Length: ", 16);
            size_t len = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (*have >= head + len) {
                int status = atoi(buf + 9);
                memmove(buf, buf + head + len, *have - head - len);
                *have -= head + len;
                return status;
            }
        }
        if (*have == cap)
            return -1;
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static void* worker(void* arg)
{
    long t = (long)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static __thread char buf[1 << 16];
    size_t have = 0;
    char auth[300] = "";
    if (*token)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    long errors = 0;
    for (long i = t; i < total; i += conns) {
        char body[512], req[1024];
        int blen;
        int rlen;
        if (deregister) {
            blen = 0;
            rlen = snprintf(req, sizeof req, "DELETE /v1/services/bench-%ld HTTP/1.1\r\nHost: b\r\n%s\r\n", i, auth);
        } else {
            blen = snprintf(body, sizeof body,
                            "{\"name\":\"bench%ld\",\"id\":\"bench-%ld\",\"address\":\"10.%ld.%ld.%ld\",\"port\":8080,"
                            "\"tags\":[\"v1\",\"blue\"],\"meta\":{\"version\":\"1.2.3\"},\"weight\":10}",
                            i % 100, i, (i >> 16) & 255, (i >> 8) & 255, i & 255);
            rlen = snprintf(req, sizeof req,
                            "PUT /v1/services HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n%s"
                            "Content-Length: %d\r\n\r\n%s",
                            auth, blen, body);
        }
        double start = now_us();
        if (send(fd, req, (size_t)rlen, MSG_NOSIGNAL) != rlen) {
            perror("send");
            exit(1);
        }
        int status = read_response(fd, buf, sizeof buf, &have);
        latencies[i] = now_us() - start;
        if (status != 200)
            ++errors;
        if (status < 0) {
            fprintf(stderr, "connection lost\n");
            exit(1);
        }
    }
    close(fd);
    return (void*)errors;
}

static int cmp(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char** argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: reg_client HOST PORT CONNECTIONS TOTAL [TOKEN] [DEREGISTER]\n");
        return 2;
    }
    host = argv[1];
    port = atoi(argv[2]);
    conns = atoi(argv[3]);
    total = atoi(argv[4]);
    if (argc > 5)
        token = argv[5];
    if (argc > 6)
        deregister = atoi(argv[6]);
    latencies = calloc((size_t)total, sizeof *latencies);
    pthread_t th[256];
    if (conns > 256)
        conns = 256;
    double start = now_us();
    for (long t = 0; t < conns; ++t)
        pthread_create(&th[t], NULL, worker, (void*)t);
    long errors = 0;
    for (int t = 0; t < conns; ++t) {
        void* r;
        pthread_join(th[t], &r);
        errors += (long)r;
    }
    double seconds = (now_us() - start) / 1e6;
    qsort(latencies, (size_t)total, sizeof *latencies, cmp);
    printf("ok=%ld errors=%ld seconds=%.3f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f\n", total - errors, errors,
           seconds, latencies[total / 2], latencies[total * 9 / 10], latencies[total * 99 / 100], latencies[total - 1]);
    return errors ? 1 : 0;
}
