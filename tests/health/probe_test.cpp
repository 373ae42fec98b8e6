// HTTP, TCP and script probes against real loopback servers and processes.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health/curl_multi.hpp"
#include "health/http_probe.hpp"
#include "health/script_probe.hpp"
#include "health/tcp_probe.hpp"
#include "probe_support.hpp"
#include "test_server.hpp"

using namespace cairn;
using namespace cairn::health;
using namespace std::chrono_literals;
using registry::CheckKind;
using registry::Health;
using test::run_probe;
using test::TestServer;

namespace {

registry::CheckDefinition http_check(const std::string& url, std::uint32_t timeout_ms = 2000) {
    registry::CheckDefinition d;
    d.id = "web:1";
    d.kind = CheckKind::http;
    d.target = url;
    d.timeout_ms = timeout_ms;
    return d;
}

ProbeResult http(const registry::CheckDefinition& d) {
    Loop loop;
    CurlMulti multi(loop);
    HttpRequest request(d);
    auto r = run_probe(loop, [&](ProbeDone done) {
        return start_http_probe(multi, loop, request, std::move(done));
    });
    REQUIRE(r.has_value());
    return *r;
}

ProbeResult tcp(const std::string& target, std::uint32_t timeout_ms = 2000) {
    registry::CheckDefinition d;
    d.kind = CheckKind::tcp;
    d.target = target;
    d.timeout_ms = timeout_ms;
    Loop loop;
    auto r =
        run_probe(loop, [&](ProbeDone done) { return start_tcp_probe(loop, d, std::move(done)); });
    REQUIRE(r.has_value());
    return *r;
}

ProbeResult script(std::vector<std::string> args, std::uint32_t timeout_ms = 5000) {
    registry::CheckDefinition d;
    d.kind = CheckKind::script;
    d.args = std::move(args);
    d.timeout_ms = timeout_ms;
    Loop loop;
    auto r = run_probe(
        loop, [&](ProbeDone done) { return start_script_probe(loop, d, std::move(done)); });
    REQUIRE(r.has_value());
    return *r;
}

bool has_ipv6_loopback() {
    int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// Zombie children of this process, from /proc.
int zombie_children() {
    int zombies = 0;
    std::string me = std::to_string(::getpid());
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        if (!std::getline(stat, line)) continue;
        auto close_paren = line.rfind(')');
        if (close_paren == std::string::npos || close_paren + 4 >= line.size()) continue;
        char state = line[close_paren + 2];
        std::string rest = line.substr(close_paren + 4);
        std::string ppid = rest.substr(0, rest.find(' '));
        if (ppid == me && state == 'Z') ++zombies;
    }
    return zombies;
}

bool process_gone(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    auto close_paren = line.rfind(')');
    return close_paren != std::string::npos &&
           line[close_paren + 2] == 'Z'; // dead, awaiting its reaper
}

} // namespace

TEST_CASE("http: 200 is passing, with the body as output and a latency") {
    TestServer server;
    server.respond(200, "all good");
    auto r = http(http_check(server.url()));
    CHECK(r.status == Health::passing);
    CHECK(r.output.find(": 200") != std::string::npos);
    CHECK(r.output.find("all good") != std::string::npos);
    REQUIRE(r.latency_us.has_value());
    CHECK(*r.latency_us > 0);
}

TEST_CASE("http: 429 is warning, 500 and 404 critical, 3xx not followed") {
    TestServer server;
    server.respond(429, "slow down");
    CHECK(http(http_check(server.url())).status == Health::warning);
    server.respond(500, "boom");
    auto r = http(http_check(server.url()));
    CHECK(r.status == Health::critical);
    CHECK(r.output.find("boom") != std::string::npos);
    server.respond(404);
    CHECK(http(http_check(server.url())).status == Health::critical);
    server.respond(302, "", "Location: /elsewhere\r\n");
    int before = server.connections;
    CHECK(http(http_check(server.url())).status == Health::critical);
    CHECK(server.connections == before + 1);
}

TEST_CASE("http: a server that accepts and never answers times out") {
    TestServer server;
    server.hang();
    auto started = std::chrono::steady_clock::now();
    auto r = http(http_check(server.url(), 300));
    auto took = std::chrono::steady_clock::now() - started;
    CHECK(r.status == Health::critical);
    CHECK(r.output.find("timed out after 300 ms") != std::string::npos);
    CHECK(took >= 250ms);
    CHECK(took < 3s);
}

TEST_CASE("http: a closed port is critical") {
    auto r = http(http_check(fmt::format("http://127.0.0.1:{}/", test::closed_port())));
    CHECK(r.status == Health::critical);
    CHECK_FALSE(r.latency_us.has_value());
}

TEST_CASE("http: method and headers are sent") {
    TestServer server;
    server.respond(204);
    auto d = http_check(server.url("/ping?x=1"));
    d.method = "POST";
    d.headers = {{"X-Probe", "cairn"}, {"Authorization", "Bearer t"}};
    CHECK(http(d).status == Health::passing);
    std::string req = server.last_request();
    CHECK(req.starts_with("POST /ping?x=1 HTTP/1.1\r\n"));
    CHECK(req.find("X-Probe: cairn\r\n") != std::string::npos);
    CHECK(req.find("Authorization: Bearer t\r\n") != std::string::npos);
    CHECK(req.find("User-Agent: cairn-health-check/") != std::string::npos);
    CHECK(req.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("http: a recycled easy handle carries no method or header over from the probe before") {
    TestServer server;
    server.respond(200, "ok");
    Loop loop;
    CurlMulti multi(loop);
    auto probe = [&](const char* method, std::vector<std::pair<std::string, std::string>> headers) {
        auto d = http_check(server.url("/m"));
        d.method = method;
        d.headers = std::move(headers);
        HttpRequest request(d);
        auto r = run_probe(loop, [&](ProbeDone done) {
            return start_http_probe(multi, loop, request, std::move(done));
        });
        REQUIRE(r.has_value());
        CHECK(r->status == Health::passing);
        return server.last_request();
    };
    // One probe at a time, so each takes the handle the one before gave back.
    CHECK(probe("DELETE", {{"X-Only-Here", "1"}}).starts_with("DELETE /m HTTP/1.1\r\n"));
    CHECK(probe("HEAD", {}).starts_with("HEAD /m HTTP/1.1\r\n"));
    std::string get = probe("", {});
    CHECK(get.starts_with("GET /m HTTP/1.1\r\n"));
    CHECK(get.find("X-Only-Here") == std::string::npos);
    CHECK(probe("PUT", {}).starts_with("PUT /m HTTP/1.1\r\n"));
}

TEST_CASE("http: a Connection header of the check's own replaces ours") {
    TestServer server;
    server.respond(200);
    auto d = http_check(server.url());
    d.headers = {{"Connection", "keep-alive"}};
    CHECK(http(d).status == Health::passing);
    std::string req = server.last_request();
    CHECK(req.find("Connection: keep-alive\r\n") != std::string::npos);
    CHECK(req.find("Connection: close") == std::string::npos);
}

TEST_CASE("http: the agent's proxy environment is not used") {
    TestServer server;
    server.respond(200, "direct");
    // A proxy that refuses every connection: a check that used it would fail.
    std::string proxy = "http://127.0.0.1:" + std::to_string(test::closed_port());
    ::setenv("http_proxy", proxy.c_str(), 1);
    ::setenv("HTTP_PROXY", proxy.c_str(), 1);
    ::setenv("all_proxy", proxy.c_str(), 1);
    auto r = http(http_check(server.url()));
    ::unsetenv("http_proxy");
    ::unsetenv("HTTP_PROXY");
    ::unsetenv("all_proxy");
    CHECK(r.status == Health::passing);
    CHECK(r.output.find("direct") != std::string::npos);
}

TEST_CASE("http: with no file descriptor left for curl's epoll set, probes are critical and "
          "nothing aborts") {
    TestServer server;
    server.respond(200);
    Loop loop;
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    int lowest_free = ::dup(0);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit none = old;
    none.rlim_cur = static_cast<rlim_t>(lowest_free); // no new descriptor
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &none) == 0);
    auto multi = std::make_unique<CurlMulti>(loop);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    HttpRequest request(http_check(server.url()));
    auto r = run_probe(loop, [&](ProbeDone done) {
        return start_http_probe(*multi, loop, request, std::move(done));
    });
    REQUIRE(r.has_value());
    CHECK(r->status == Health::critical);
    CHECK(r->output.find("refused") != std::string::npos);
    CHECK(server.connections == 0);
}

TEST_CASE("http: only the first 4 KiB of the body is kept") {
    TestServer server;
    server.respond(200, std::string(100'000, 'z'));
    auto r = http(http_check(server.url()));
    CHECK(r.status == Health::passing);
    CHECK(r.output.size() == max_output_bytes);
}

TEST_CASE("http: IPv6 loopback") {
    if (!has_ipv6_loopback()) return;
    TestServer server("::1");
    server.respond(200, "six");
    auto r = http(http_check(server.url()));
    CHECK(r.status == Health::passing);
}

TEST_CASE("http: a URL curl will not fetch is critical with a message, not a crash") {
    auto r = http(http_check("ftp://127.0.0.1/x"));
    CHECK(r.status == Health::critical);
    CHECK_FALSE(r.output.empty());
    auto s = http(http_check("not a url at all"));
    CHECK(s.status == Health::critical);
}

TEST_CASE("http: https to a plain-HTTP server fails (TLS is attempted and verified)") {
    TestServer server;
    server.respond(200);
    auto r = http(http_check(fmt::format("https://127.0.0.1:{}/", server.port()), 1000));
    CHECK(r.status == Health::critical);
}

TEST_CASE("http: many probes share one multi handle, and close every socket they open") {
    TestServer server;
    server.respond(200, "ok");
    Loop loop;
    CurlMulti multi(loop);
    HttpRequest request(http_check(server.url()));
    // curl's sockets are closed by CurlMulti (CURLOPT_CLOSESOCKETFUNCTION).
    auto open_fds = [] {
        return std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                             std::filesystem::directory_iterator());
    };
    auto fds_before = open_fds();
    std::vector<ProbePtr> probes;
    int passing = 0, done = 0;
    for (int i = 0; i < 50; ++i)
        probes.push_back(start_http_probe(multi, loop, request, [&](ProbeResult r) {
            ++done;
            passing += r.status == Health::passing;
        }));
    CHECK(test::run_until(loop, [&] { return done == 50; }));
    CHECK(passing == 50);
    CHECK(multi.running() == 0);
    probes.clear();
    // The server thread may close its end a moment after curl has the body.
    CHECK(test::run_until(loop, [&] { return open_fds() == fds_before; }));
}

TEST_CASE("http: a cancelled probe never reports") {
    TestServer server;
    server.hang();
    Loop loop;
    CurlMulti multi(loop);
    bool reported = false;
    HttpRequest request(http_check(server.url(), 200));
    auto probe = start_http_probe(multi, loop, request, [&](ProbeResult) { reported = true; });
    CHECK(test::run_until(loop, [&] { return server.connections > 0; }));
    probe.reset();
    CHECK(multi.running() == 0);
    test::run_until(
        loop, [] { return false; }, 400ms);
    CHECK_FALSE(reported);
}

TEST_CASE("tcp: connect passes, closed port fails, IPv6 works") {
    TestServer server;
    auto ok = tcp(fmt::format("127.0.0.1:{}", server.port()));
    CHECK(ok.status == Health::passing);
    CHECK(ok.latency_us.has_value());
    auto local = tcp(fmt::format("localhost:{}", server.port()));
    CHECK(local.status == Health::passing);

    auto refused = tcp(fmt::format("127.0.0.1:{}", test::closed_port()));
    CHECK(refused.status == Health::critical);
    CHECK(refused.output.find("refused") != std::string::npos);

    auto bad = tcp("nonsense");
    CHECK(bad.status == Health::critical);

    if (has_ipv6_loopback()) {
        TestServer six("::1");
        CHECK(tcp(fmt::format("[::1]:{}", six.port())).status == Health::passing);
    }
}

TEST_CASE("tcp: a connect that does not complete times out") {
    // A listener that never accepts, with its queue filled: further SYNs are
    // dropped and the probe's connect hangs.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::listen(fd, 0);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
        fillers.push_back(c);
    }
    auto r = tcp(fmt::format("127.0.0.1:{}", ntohs(a.sin_port)), 300);
    CHECK(r.status == Health::critical);
    CHECK(r.output.find("timed out") != std::string::npos);
    for (int c : fillers) ::close(c);
    ::close(fd);
}

TEST_CASE("script: exit 0 passing, 1 warning, other critical; output captured") {
    auto ok = script({"/bin/sh", "-c", "echo fine; echo 'to stderr' >&2"});
    CHECK(ok.status == Health::passing);
    CHECK(ok.output == "fine\nto stderr\n");
    auto warning = script({"/bin/sh", "-c", "echo hmm; exit 1"});
    CHECK(warning.status == Health::warning);
    CHECK(warning.output == "hmm\n");
    auto critical = script({"sh", "-c", "exit 3"}); // PATH lookup, no shell of ours
    CHECK(critical.status == Health::critical);
    CHECK(critical.output.find("exit status 3") != std::string::npos);
    auto killed = script({"/bin/sh", "-c", "kill -9 $$"});
    CHECK(killed.status == Health::critical);
    CHECK(killed.output.find("signal 9") != std::string::npos);
}

TEST_CASE("script: a missing program is critical, with a message") {
    auto r = script({"/nonexistent/check-me"});
    CHECK(r.status == Health::critical);
    CHECK(r.output.find("cannot start") != std::string::npos);
    auto empty = script({});
    CHECK(empty.status == Health::critical);
}

TEST_CASE("script: output is cut at 4 KiB and the rest does not block the script") {
    auto r = script({"/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\000' a; exit 0"});
    CHECK(r.status == Health::passing);
    CHECK(r.output.size() == max_output_bytes);
}

TEST_CASE(
    "script: a hanging script is killed with its whole process group at the timeout, no zombie") {
    auto pid_file =
        std::filesystem::temp_directory_path() / fmt::format("cairn-health-{}.pids", ::getpid());
    std::filesystem::remove(pid_file);
    auto started = std::chrono::steady_clock::now();
    auto r = script({"/bin/sh", "-c",
                     fmt::format("echo $$ > {0}; sleep 60 & echo $! >> {0}; echo started; wait",
                                 pid_file.string())},
                    300);
    auto took = std::chrono::steady_clock::now() - started;
    CHECK(r.status == Health::critical);
    CHECK(r.output.find("timed out after 300 ms") != std::string::npos);
    CHECK(r.output.find("started") != std::string::npos);
    CHECK(took < 5s);

    std::ifstream in(pid_file);
    int shell = 0, sleeper = 0;
    in >> shell >> sleeper;
    REQUIRE(shell > 0);
    REQUIRE(sleeper > 0);
    // The shell was our child: libuv reaped it. The sleep was in its group:
    // killed too (its new parent reaps it).
    Loop loop;
    CHECK(test::run_until(
        loop, [&] { return process_gone(shell) && process_gone(sleeper); }, 5s));
    CHECK(zombie_children() == 0);
    std::filesystem::remove(pid_file);
}

TEST_CASE("script: a cancelled probe kills the script and reaps it") {
    auto pid_file =
        std::filesystem::temp_directory_path() / fmt::format("cairn-health-c{}.pid", ::getpid());
    std::filesystem::remove(pid_file);
    registry::CheckDefinition d;
    d.kind = CheckKind::script;
    d.args = {"/bin/sh", "-c", fmt::format("echo $$ > {}; sleep 60", pid_file.string())};
    d.timeout_ms = 60'000;
    Loop loop;
    bool reported = false;
    auto probe = start_script_probe(loop, d, [&](ProbeResult) { reported = true; });
    CHECK(test::run_until(loop, [&] {
        std::error_code ec;
        auto size = std::filesystem::file_size(pid_file, ec);
        return !ec && size > 0;
    }));
    int shell = 0;
    std::ifstream(pid_file) >> shell;
    REQUIRE(shell > 0);
    probe.reset();
    CHECK(test::run_until(
        loop, [&] { return process_gone(shell); }, 5s));
    CHECK(test::run_until(
        loop, [&] { return zombie_children() == 0; }, 5s));
    CHECK_FALSE(reported);
    std::filesystem::remove(pid_file);
}
