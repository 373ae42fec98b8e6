#include "gossip/host.hpp"

#include <algorithm>
#include <cstring>

#include <netinet/in.h>

#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/tcp_listener.hpp"
#include "core/tcp_stream.hpp"
#include "core/timeouts.hpp"
#include "core/udp_socket.hpp"

namespace cairn::gossip {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

Bytes address_bytes(const SocketAddress& address) {
    if (address.family() == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address.sa());
        return Bytes(in6->sin6_addr.s6_addr, in6->sin6_addr.s6_addr + 16);
    }
    const auto* in = reinterpret_cast<const sockaddr_in*>(address.sa());
    const auto* b = reinterpret_cast<const std::uint8_t*>(&in->sin_addr.s_addr);
    return Bytes(b, b + 4);
}

Result<SocketAddress> socket_address(const Address& address) {
    IpAddress ip;
    if (address.addr.size() == 4)
        ip.family = 4;
    else if (address.addr.size() == 16)
        ip.family = 6;
    else
        return fail("a gossip address has {} bytes, not 4 or 16", address.addr.size());
    std::copy(address.addr.begin(), address.addr.end(), ip.bytes.begin());
    return SocketAddress::from(ip, address.port);
}

namespace {

milliseconds until(TimePoint deadline) {
    auto left = duration_cast<milliseconds>(deadline - Clock::now());
    return std::max(left, milliseconds(0));
}

Address from_socket(const SocketAddress& a) {
    return Address{address_bytes(a), a.port(), {}};
}

// A growing receive buffer with a hard cap.
struct StreamBuffer {
    Bytes bytes;
    std::size_t used = 0;

    // Where the next read goes: the free space, grown up to `cap`. At the
    // cap and still no whole message, a scratch area: the reader then sees
    // used + n beyond the buffer and gives up.
    std::span<char> read_space(std::size_t cap) {
        if (bytes.size() - used < 4096 && bytes.size() < cap)
            bytes.resize(std::min(cap, std::max<std::size_t>(16 << 10, bytes.size() * 2)));
        if (used < bytes.size())
            return {reinterpret_cast<char*>(bytes.data()) + used, bytes.size() - used};
        static char scratch[512];
        return {scratch, sizeof scratch};
    }
    [[nodiscard]] std::span<const std::uint8_t> data() const { return {bytes.data(), used}; }
};

} // namespace

// An inbound stream: read until the engine has a whole request, write its
// reply, close. Bounded in size and time.
struct Host::Inbound final : TcpStream::Handler {
    Inbound(Net& n, std::uint64_t k);
    std::span<char> read_buffer() override;
    void on_read(std::size_t n) override;
    void on_end() override;
    void on_error(int) override;

    Net& net;
    std::uint64_t key;
    TcpStream stream;
    StreamBuffer buffer;
    TimeoutEntry deadline{this};
    bool answered = false;
};

// An outbound stream: connect, write the request, hand what comes back to
// the engine until it has the answer (one-way streams just write and close).
struct Host::Outbound final : TcpStream::Handler {
    Outbound(Net& n, std::uint64_t k, std::optional<StreamId> i);
    std::span<char> read_buffer() override;
    void on_read(std::size_t n) override;
    void on_end() override;
    void on_error(int) override;

    Net& net;
    std::uint64_t key;
    std::optional<StreamId> id; // none: one-way
    TcpStream stream;
    Timer timer;
    Bytes request;
    StreamBuffer buffer;
};

class Host::Net final : public Transport {
public:
    Net(Host& h, Duration tcp_timeout)
        : host(h)
        , udp(h.loop_)
        , listener(h.loop_, h.limits_.max_inbound_streams, [this] { accept(); })
        , inbound_timeout(duration_cast<milliseconds>(tcp_timeout))
        , timeouts(h.loop_) {
        timeouts.add(inbound_timeout,
                     [this](TimeoutEntry& e) { drop(*static_cast<Inbound*>(e.item)); });
    }

    Result<void> start(const SocketAddress& bind) {
        if (auto r = udp.bind(bind); !r)
            return fail("gossip: cannot bind UDP {}: {}", bind.to_string(), r.error().message);
        // The TCP listener takes the port UDP got (bind to port 0 in tests).
        SocketAddress tcp = SocketAddress::from(udp.local_address().sa());
        if (auto r = listener.listen(tcp); !r)
            return fail("gossip: cannot listen on TCP {}: {}", tcp.to_string(), r.error().message);
        return udp.receive_start(
            [this](std::span<const std::uint8_t> data, const SocketAddress& from) {
                host.stats_.packets_in++;
                host.stats_.bytes_in += data.size();
                host.memberlist_->on_packet(from_socket(from), data, Host::now());
                host.rearm();
            });
    }

    void send_packet(const Address& to, Bytes packet) override {
        auto address = socket_address(to);
        if (!address || !udp.send(packet, *address)) {
            host.stats_.send_errors++;
            return;
        }
        host.stats_.packets_out++;
        host.stats_.bytes_out += packet.size();
    }

    void open_stream(StreamId id, const Address& to, Bytes request, TimePoint deadline) override {
        connect(std::optional<StreamId>(id), to, std::move(request), deadline);
    }

    void send_stream(const Address& to, Bytes message, TimePoint deadline) override {
        connect(std::nullopt, to, std::move(message), deadline);
    }

    void connect(std::optional<StreamId> id, const Address& to, Bytes request, TimePoint deadline) {
        auto key = next_key++;
        auto& o = *outbound.emplace(key, std::make_unique<Outbound>(*this, key, id)).first->second;
        o.request = std::move(request);
        auto address = socket_address(to);
        // Failures are reported from the timer, never from inside the engine's call.
        if (!address) {
            o.timer.start(milliseconds(0), milliseconds(0), [this, &o] { failed(o); });
            return;
        }
        auto left = until(deadline);
        o.timer.start(left, milliseconds(0), [this, &o] { failed(o); });
        o.stream.connect(*address, left, [this, &o](int status) {
            if (status != 0) return failed(o);
            host.stats_.bytes_out += o.request.size();
            if (o.stream.write(std::span<const char>(
                    reinterpret_cast<const char*>(o.request.data()), o.request.size())) != 0)
                return failed(o);
            o.request = {};
            if (!o.id) {
                if (o.stream.finish() != 0) return done(o);
                return;
            }
            o.stream.read_start();
        });
    }

    void accept() {
        if (listener.at_cap()) {
            host.stats_.streams_refused++;
            listener.refuse();
            return;
        }
        auto key = next_key++;
        auto& in = *inbound.emplace(key, std::make_unique<Inbound>(*this, key)).first->second;
        if (!listener.accept(in.stream)) {
            inbound.erase(key);
            return;
        }
        inbound_timeout.start(in.deadline, timeouts.now_ms());
        timeouts.schedule();
        in.stream.read_start();
    }

    // The engine has the answer, or the peer closed: close quietly.
    void done(Outbound& o) { outbound.erase(o.key); }
    void failed(Outbound& o) {
        auto id = o.id;
        outbound.erase(o.key);
        if (id) {
            host.memberlist_->on_stream_failed(*id, Host::now());
            host.rearm();
        }
    }
    void drop(Inbound& in) { inbound.erase(in.key); }

    Host& host;
    UdpSocket udp;
    TcpListener listener;
    TimeoutQueue inbound_timeout;
    TimeoutSet timeouts;
    std::uint64_t next_key = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<Inbound>> inbound;
    std::unordered_map<std::uint64_t, std::unique_ptr<Outbound>> outbound;
};

Host::Inbound::Inbound(Net& n, std::uint64_t k)
    : net(n)
    , key(k)
    , stream(n.host.loop_, *this) {}

std::span<char> Host::Inbound::read_buffer() {
    return buffer.read_space(net.host.limits_.max_stream_bytes);
}

void Host::Inbound::on_read(std::size_t n) {
    if (answered) return;
    if (buffer.used + n > buffer.bytes.size()) {
        log::warn("gossip.stream_too_large", {{"peer", stream.peer().to_string()}});
        return net.drop(*this);
    }
    buffer.used += n;
    auto& host = net.host;
    host.stats_.bytes_in += n;
    auto reply =
        host.memberlist_->on_stream(from_socket(stream.peer()), buffer.data(), Host::now());
    host.rearm();
    if (reply.status == StreamReply::Status::incomplete) return;
    answered = true;
    stream.read_stop();
    if (!reply.reply.empty()) {
        host.stats_.bytes_out += reply.reply.size();
        if (stream.write(std::span<const char>(reinterpret_cast<const char*>(reply.reply.data()),
                                               reply.reply.size())) != 0)
            return net.drop(*this);
    }
    if (stream.finish() != 0) return net.drop(*this);
}

// The peer closed: after our answer, or before a whole request (nothing to
// answer then).
void Host::Inbound::on_end() {
    net.drop(*this);
}

void Host::Inbound::on_error(int) {
    net.drop(*this);
}

Host::Outbound::Outbound(Net& n, std::uint64_t k, std::optional<StreamId> i)
    : net(n)
    , key(k)
    , id(i)
    , stream(n.host.loop_, *this)
    , timer(n.host.loop_) {}

std::span<char> Host::Outbound::read_buffer() {
    return buffer.read_space(net.host.limits_.max_stream_bytes);
}

void Host::Outbound::on_read(std::size_t n) {
    if (buffer.used + n > buffer.bytes.size()) return net.failed(*this);
    buffer.used += n;
    auto& host = net.host;
    host.stats_.bytes_in += n;
    if (!id) return;
    if (host.memberlist_->on_stream_response(*id, buffer.data(), Host::now())) {
        host.rearm();
        return net.done(*this);
    }
    host.rearm();
}

void Host::Outbound::on_end() {
    if (!id) return net.done(*this);
    // Closed before the engine had a whole answer.
    net.failed(*this);
}

void Host::Outbound::on_error(int) {
    net.failed(*this);
}

Host::Host(Loop& loop, Config config, SocketAddress bind, Delegates delegates, HostLimits limits)
    : loop_(loop)
    , bind_(bind)
    , limits_(limits)
    , net_(std::make_unique<Net>(*this, config.tcp_timeout))
    , tick_timer_(std::make_unique<Timer>(loop))
    , join_timer_(std::make_unique<Timer>(loop))
    , leave_timer_(std::make_unique<Timer>(loop)) {
    std::uint64_t seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()) ^
                         std::hash<std::string>{}(config.name);
    memberlist_ = std::make_unique<Memberlist>(std::move(config), *net_, delegates, seed, now());
}

Host::~Host() {
    // Streams and sockets go before the engine they call.
    net_.reset();
}

Result<void> Host::start() {
    if (auto r = net_->start(bind_); !r) return r;
    rearm();
    return {};
}

SocketAddress Host::local_address() const {
    return net_->udp.local_address();
}

void Host::rearm() {
    if (memberlist_->has_left() && leave_done_ == nullptr) return;
    if (after_call_) after_call_(*memberlist_, now());
    auto delay = until(memberlist_->next_deadline());
    // Within a millisecond of due: run now, so that the timer's 1 ms grain
    // never makes a tick run early and find nothing due.
    tick_timer_->start(std::max(delay, milliseconds(1)), milliseconds(0), [this] { on_tick(); });
}

void Host::on_tick() {
    memberlist_->tick(now());
    if (leave_done_ && memberlist_->leave_broadcast_done()) {
        auto done = std::move(leave_done_);
        leave_done_ = nullptr;
        leave_timer_->stop();
        memberlist_->shutdown();
        tick_timer_->stop();
        done();
        return;
    }
    rearm();
}

void Host::join(std::vector<SocketAddress> seeds) {
    seeds_ = std::move(seeds);
    if (seeds_.empty()) return;
    join_delay_ = limits_.join_retry_min;
    join_successes_before_ = memberlist_->join_successes();
    try_join();
}

void Host::try_join() {
    if (memberlist_->join_successes() > join_successes_before_ || memberlist_->has_left()) return;
    if (memberlist_->pending_joins() == 0) {
        std::vector<Address> addresses;
        for (const auto& s : seeds_) addresses.push_back(from_socket(s));
        log::info("gossip.join", {{"seeds", seeds_.size()}, {"retry_in_ms", join_delay_.count()}});
        memberlist_->join(addresses, now());
        rearm();
    }
    join_timer_->start(join_delay_, milliseconds(0), [this] { try_join(); });
    join_delay_ = std::min(join_delay_ * 2, limits_.join_retry_max);
}

void Host::leave(std::function<void()> done) {
    join_timer_->stop();
    leave_done_ = std::move(done);
    memberlist_->leave(now());
    leave_timer_->start(limits_.leave_timeout, milliseconds(0), [this] {
        log::warn("gossip.leave_timeout", {{"after_ms", limits_.leave_timeout.count()}});
        auto d = std::move(leave_done_);
        leave_done_ = nullptr;
        memberlist_->shutdown();
        tick_timer_->stop();
        if (d) d();
    });
    on_tick();
}

void Host::update_node() {
    memberlist_->update_node(now());
    rearm();
}

void Host::send_best_effort(const Node& to, std::span<const std::uint8_t> msg) {
    memberlist_->send_best_effort(to, msg);
}

void Host::send_reliable(const Node& to, std::span<const std::uint8_t> msg) {
    memberlist_->send_reliable(to, msg, now());
    rearm();
}

} // namespace cairn::gossip
