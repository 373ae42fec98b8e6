/* The floor for tools/bench/dns: a UDP "DNS server" that answers each query
 * with the query itself, QR set. It does what every server must do per
 * packet (a receive and a send, batched with recvmmsg/sendmmsg when packets
 * queue up) and nothing else, so no DNS server can use less CPU per answer
 * on the same machine.
 *
 *   cc -O2 -o reflector reflector.c && ./reflector 127.0.0.1 5399
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { BATCH = 32, SIZE = 4096 };

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: reflector ADDRESS PORT\n");
        return 2;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "reflector: bad address %s\n", argv[1]);
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
        perror("reflector: bind");
        return 1;
    }
    static unsigned char buffers[BATCH][SIZE];
    static struct sockaddr_storage peers[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; ++i) {
            iov[i].iov_base = buffers[i];
            iov[i].iov_len = SIZE;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_name = &peers[i];
            msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        /* Block for the first datagram, then take whatever else is queued. */
        int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        for (int i = 0; i < n; ++i) {
            if (msgs[i].msg_len >= 12)
                buffers[i][2] |= 0x80;
            iov[i].iov_len = msgs[i].msg_len;
        }
        sendmmsg(fd, msgs, (unsigned)n, 0);
    }
}
