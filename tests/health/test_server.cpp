#include "test_server.hpp"

#include <stdexcept>
#include <vector>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cairn::test {

namespace {

int bound_socket(const std::string& host, std::uint16_t* port) {
    bool v6 = host.find(':') != std::string::npos;
    int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
        len = sizeof *a;
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        ::inet_pton(AF_INET, host.c_str(), &a->sin_addr);
        len = sizeof *a;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
        throw std::runtime_error("bind " + host);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    *port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
}

} // namespace

std::uint16_t closed_port(const std::string& host) {
    std::uint16_t port = 0;
    int fd = bound_socket(host, &port);
    ::close(fd);
    return port;
}

TestServer::TestServer(const std::string& host)
    : host_(host) {
    listen_fd_ = bound_socket(host, &port_);
    ::listen(listen_fd_, 128);
    if (::pipe(stop_pipe_) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { serve(); });
}

TestServer::~TestServer() {
    char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
}

std::string TestServer::url(const std::string& path) const {
    bool v6 = host_.find(':') != std::string::npos;
    return fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", host_, v6 ? "]" : "", port_, path);
}

std::string TestServer::last_request() const {
    std::lock_guard lock(mutex_);
    return last_request_;
}

void TestServer::respond(int status, std::string body, std::string extra_headers) {
    std::lock_guard lock(mutex_);
    hang_ = false;
    status_ = status;
    body_ = std::move(body);
    extra_headers_ = std::move(extra_headers);
}

void TestServer::serve() {
    std::vector<int> held; // hang mode: accepted, never answered
    while (true) {
        std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (int fd : held) fds.push_back({fd, POLLIN, 0});
        ::poll(fds.data(), fds.size(), 1000);
        if (fds[0].revents != 0) break;
        // A held connection that became readable: data we ignore, or the
        // client hung up (its timeout fired).
        for (std::size_t i = 2; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            char buf[512];
            if (::read(fds[i].fd, buf, sizeof buf) <= 0) {
                ::close(fds[i].fd);
                std::erase(held, fds[i].fd);
            }
        }
        if ((fds[1].revents & POLLIN) == 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        ++connections;
        if (hang_) {
            held.push_back(fd);
            max_open = std::max<int>(max_open, static_cast<int>(held.size()));
            continue;
        }
        max_open = std::max(max_open.load(), 1);
        std::string request;
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0) break;
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) break;
            request.append(buf, static_cast<std::size_t>(n));
        }
        std::string response;
        {
            std::lock_guard lock(mutex_);
            last_request_ = request;
            response = fmt::format(
                "HTTP/1.1 {} Test\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}", status_,
                body_.size(), extra_headers_, body_);
        }
        std::size_t off = 0;
        while (off < response.size()) {
            ssize_t n = ::send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        ::close(fd);
    }
    for (int fd : held) ::close(fd);
}

} // namespace cairn::test
