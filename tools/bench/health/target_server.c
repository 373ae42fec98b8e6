/* The HTTP target for the health benchmark: a single-threaded epoll server
 * that answers every request with "200 ok" (keeping the connection open for
 * more requests, as HTTP/1.1 servers do, unless the client asked for
 * "Connection: close"), and
 * prints, once a second, "<unix second> <requests answered in it>" on
 * stdout. Cheap enough that the agent, not the target, is what is measured.
 *
 *   cc -O2 -o target_server target_server.c && ./target_server 127.0.0.1 8080
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 65536
#define BUF 2048

static char bufs[MAX_FDS][64]; /* tail of what each connection sent, to find \r\n\r\n */
static int lens[MAX_FDS];

static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
static const char response_close[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR PORT\n", argv[0]);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (bind(lfd, (struct sockaddr*)&a, sizeof a) != 0 || listen(lfd, 4096) != 0) {
        perror("bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    setvbuf(stdout, NULL, _IOLBF, 0);

    long current_second = time(NULL);
    long accepted = 0; /* requests, not connections: one per check run */
    struct epoll_event events[256];
    char buf[BUF];
    for (;;) {
        int n = epoll_wait(ep, events, 256, 200);
        long now = time(NULL);
        if (now != current_second) {
            printf("%ld %ld\n", current_second, accepted);
            accepted = 0;
            current_second = now;
        }
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    if (c >= MAX_FDS) {
                        close(c);
                        continue;
                    }
                    lens[c] = 0;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                close(fd);
                continue;
            }
            /* Keep the last bytes only: the request end is all we look for. */
            int keep = lens[fd];
            for (ssize_t k = 0; k < r; ++k) {
                if (keep == (int)sizeof bufs[fd]) {
                    memmove(bufs[fd], bufs[fd] + 32, sizeof bufs[fd] - 32);
                    keep -= 32;
                }
                bufs[fd][keep++] = buf[k];
            }
            lens[fd] = keep;
            if (memmem(bufs[fd], (size_t)keep, "\r\n\r\n", 4) != NULL) {
                int wants_close = memmem(bufs[fd], (size_t)keep, "onnection: close", 16) != NULL;
                const char* r = wants_close ? response_close : response;
                size_t len = wants_close ? sizeof response_close - 1 : sizeof response - 1;
                ssize_t w = write(fd, r, len);
                (void)w;
                lens[fd] = 0;
                ++accepted;
                if (wants_close)
                    close(fd);
            }
        }
    }
}
