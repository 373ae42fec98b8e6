/* The floor for the health benchmark: what one fresh-connection HTTP probe
 * costs on this machine with nothing but the kernel involved. A blocking
 * client that opens a TCP connection, sends a GET, reads the answer and
 * closes, RATE times a second, then prints its own CPU time per request.
 * No event loop, no libcurl: an agent that opens a new connection per probe
 * cannot do better than this.
 *
 *   cc -O2 -o floor_client floor_client.c && ./floor_client 8080 10000 1000
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PORT REQUESTS RATE\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    int n = atoi(argv[2]);
    long gap_ns = 1000000000L / atol(argv[3]);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    const char req[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    char buf[4096];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
            perror("connect");
            return 1;
        }
        if (send(fd, req, sizeof req - 1, 0) < 0)
            return 1;
        while (recv(fd, buf, sizeof buf, 0) > 0) {
        }
        close(fd);
        struct timespec gap = {0, gap_ns};
        nanosleep(&gap, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%d %.3f %.3f\n", n, wall, cpu);
    return 0;
}
