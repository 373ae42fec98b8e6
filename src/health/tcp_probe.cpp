#include "health/tcp_probe.hpp"

#include <string>

#include <fmt/format.h>

#include "core/net.hpp"

namespace cairn::health {

namespace {

using registry::Health;

// The in-flight state. It outlives the TcpProbe handle when cancelled and is
// deleted once both handles are closed and the connect request has returned.
struct TcpOp {
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    uv_timer_t timer{};
    OpProbe<TcpOp>* owner = nullptr;
    ProbeDone done;
    std::string target;
    std::uint64_t started_ns = 0;
    std::uint32_t timeout_ms = 0;
    int outstanding = 0; // open handles + pending connect request
    bool finished = false;
    ProbeResult early; // a synchronous failure, reported from the timer

    void finish(ProbeResult result);
    void cancel() { release(); }
    void release();
    void unref();
};

void TcpOp::unref() {
    if (--outstanding == 0) delete this;
}

void TcpOp::release() {
    finished = true;
    uv_timer_stop(&timer);
    auto on_close = [](uv_handle_t* h) { static_cast<TcpOp*>(h->data)->unref(); };
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_close);
}

void TcpOp::finish(ProbeResult result) {
    ProbeDone cb = std::move(done);
    done = nullptr;
    if (owner != nullptr) owner->detach();
    owner = nullptr;
    release();
    if (cb) cb(std::move(result));
}

std::string resolve_localhost(std::string target) {
    // Addresses only, no resolver on the probe path; "localhost" is common
    // enough in configs to be worth the one special case.
    if (target.starts_with("localhost:")) target.replace(0, 9, "127.0.0.1");
    return target;
}

} // namespace

ProbePtr start_tcp_probe(Loop& loop, const registry::CheckDefinition& definition, ProbeDone done) {
    auto* op = new TcpOp;
    op->done = std::move(done);
    op->target = definition.target;
    op->timeout_ms = definition.timeout_ms;
    op->started_ns = uv_hrtime();
    uv_tcp_init(loop.get(), &op->tcp);
    uv_timer_init(loop.get(), &op->timer);
    op->tcp.data = op;
    op->timer.data = op;
    op->outstanding = 2;
    auto probe = std::make_unique<OpProbe<TcpOp>>(op);

    auto on_timeout = [](uv_timer_t* t) {
        auto* self = static_cast<TcpOp*>(t->data);
        self->finish(
            {Health::critical,
             fmt::format("TCP connect {}: timed out after {} ms", self->target, self->timeout_ms),
             std::nullopt});
    };
    auto report_early = [](uv_timer_t* t) {
        auto* self = static_cast<TcpOp*>(t->data);
        self->finish(std::move(self->early));
    };

    auto address = parse_socket_address(resolve_localhost(definition.target));
    int rc = 0;
    if (address) {
        op->connect.data = op;
        rc = uv_tcp_connect(
            &op->connect, &op->tcp, address->sa(), [](uv_connect_t* req, int status) {
                auto* self = static_cast<TcpOp*>(req->data);
                if (!self->finished) {
                    auto elapsed_us =
                        static_cast<std::uint32_t>((uv_hrtime() - self->started_ns) / 1000);
                    if (status == 0)
                        self->finish({Health::passing,
                                      fmt::format("TCP connect {}: success", self->target),
                                      elapsed_us});
                    else
                        self->finish(
                            {Health::critical,
                             fmt::format("TCP connect {}: {}", self->target, uv_strerror(status)),
                             std::nullopt});
                }
                self->unref();
            });
        if (rc == 0) ++op->outstanding;
    }
    if (!address || rc != 0) {
        op->early.status = Health::critical;
        op->early.output =
            address ? fmt::format("TCP connect {}: {}", definition.target, uv_strerror(rc))
                    : fmt::format("TCP target {}: {}", definition.target, address.error().message);
        uv_timer_start(&op->timer, report_early, 0, 0);
        return probe;
    }
    uv_timer_start(&op->timer, on_timeout, definition.timeout_ms, 0);
    return probe;
}

} // namespace cairn::health
