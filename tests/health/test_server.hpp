#pragma once
// A tiny HTTP/1.1 server on loopback for the checker tests, on its own
// thread. It answers every request with `status` and `body`, or in hang mode
// accepts and never answers (so the client's timeout must fire). It counts
// connections and how many were open at once.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace cairn::test {

class TestServer {
public:
    explicit TestServer(const std::string& host = "127.0.0.1");
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] std::string url(const std::string& path = "/health") const;
    [[nodiscard]] std::string last_request() const;

    void respond(int status, std::string body = "", std::string extra_headers = "");
    void hang() { hang_ = true; }

    std::atomic<int> connections{0};
    std::atomic<int> max_open{0};

private:
    void serve();

    std::string host_;
    std::uint16_t port_ = 0;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    std::atomic<bool> hang_{false};
    mutable std::mutex mutex_;
    int status_ = 200;
    std::string body_;
    std::string extra_headers_;
    std::string last_request_;
    std::thread thread_;
};

// A TCP port on `host` with nothing listening (bound, then closed).
std::uint16_t closed_port(const std::string& host = "127.0.0.1");

} // namespace cairn::test
