#pragma once
// A TCP connection on a cairn::Loop, with libuv's close rules and a bounded
// write queue inside. Servers (DNS over TCP, HTTP) get their streams from a
// TcpListener; clients (gossip push-pull) call connect().
//
// Back-pressure: write() first tries the socket directly (usually it takes
// everything: no copy, no callback); what is left is copied into a reused
// write slot and queued. While more than `max_queued_bytes` are queued (or a
// shared WriteBudget is spent) the stream is backlogged(): it stops reading
// by itself, and its owner stops producing (parsing requests, answering
// queries). When the queue falls under `resume_below_bytes` reading resumes
// and on_written() tells the owner to go on.
//
// Lifetime: the uv handle lives in a heap block freed in its close callback,
// so a TcpStream may be destroyed at any time, even from inside one of its
// handler's calls; after close() or destruction the handler hears nothing
// more. Used only from the thread that runs its loop.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/net.hpp"
#include "core/result.hpp"

namespace cairn {

class Loop;
class Timer;
class TcpListener;

// A total of queued output shared by several streams (all of one server's
// connections), so that many connections cannot add up to unbounded memory.
// Plain counting: waking the streams that waited for it is the owner's job.
class WriteBudget {
public:
    explicit WriteBudget(std::size_t limit_bytes)
        : limit_(limit_bytes) {}
    void charge(std::size_t n) { used_ += n; }
    void refund(std::size_t n) { used_ -= n < used_ ? n : used_; }
    [[nodiscard]] bool spent() const { return used_ >= limit_; }
    [[nodiscard]] std::size_t used() const { return used_; }
    [[nodiscard]] std::size_t limit() const { return limit_; }

private:
    std::size_t limit_;
    std::size_t used_ = 0;
};

struct TcpStreamLimits {
    std::size_t max_queued_bytes = 256 << 10;
    std::size_t resume_below_bytes = 128 << 10;
};

class TcpStream {
public:
    using Limits = TcpStreamLimits;

    // The owner's side. Each call may destroy the stream.
    class Handler {
    public:
        // Where the next read goes; never empty. Called just before each read.
        virtual std::span<char> read_buffer() = 0;
        // `n` bytes arrived at the start of the last read_buffer().
        virtual void on_read(std::size_t n) = 0;
        // The peer finished sending (or, after finish(), closed its side):
        // nothing more is read. Queued writes still go out.
        virtual void on_end() = 0;
        // A queued write completed; queued_bytes() is what is left.
        virtual void on_written() {}
        // The connection failed (reset, refused, timed out): the stream is
        // closed already.
        virtual void on_error(int uv_error) = 0;

    protected:
        ~Handler() = default;
    };

    TcpStream(Loop& loop, Handler& handler, TcpStreamLimits limits = {},
              WriteBudget* budget = nullptr);
    ~TcpStream();
    TcpStream(const TcpStream&) = delete;
    TcpStream& operator=(const TcpStream&) = delete;

    // Connects to `peer`; `done` gets 0, or a libuv error (UV_ETIMEDOUT when
    // `timeout` passed first, and then the stream is closed).
    void connect(const SocketAddress& peer, std::chrono::milliseconds timeout,
                 std::function<void(int status)> done);

    // The owner wants bytes; reading runs while it wants them and the stream
    // is not backlogged.
    void read_start();
    void read_stop();
    // Queues `data` (copied unless the socket takes it at once). Returns 0 or
    // a libuv error; on an error the stream is closed and on_error() is not
    // called (the caller knows).
    int write(std::span<const char> data);
    int write(std::string&& data);
    // Queues `data` without trying the socket first, so that on_written()
    // follows for certain: a producer of a long body writes each piece this
    // way and makes the next one there, yielding to the loop in between.
    int queue(std::string&& data);
    [[nodiscard]] std::size_t queued_bytes() const { return queued_; }
    [[nodiscard]] bool backlogged() const;

    // Ends the exchange gracefully: stops reading, writes what is queued,
    // sends FIN, then reads and drops what the peer still sends until it
    // closes (on_end). Closing with unread input would reset the connection
    // and lose answers still in the kernel's send buffer. Returns 0 or a
    // libuv error (the stream is closed then, without on_error()).
    int finish();
    [[nodiscard]] bool finishing() const { return finishing_; }
    // Closes now; queued writes are dropped. Idempotent.
    void close();
    [[nodiscard]] bool is_open() const { return box_ != nullptr; }

    [[nodiscard]] const SocketAddress& peer() const { return peer_; }
    [[nodiscard]] SocketAddress local_address() const;

    struct Box;

private:
    friend class TcpListener;
    friend struct Box;
    void accepted(std::shared_ptr<unsigned> counter);
    // The uv_tcp_t (the Box starts with it), null once closed.
    [[nodiscard]] void* handle() const { return box_; }
    void on_written_slot(std::size_t bytes, int status);
    void on_read_result(long nread);
    void on_shutdown_done(int status);
    void on_connected(int status);
    void update_reading();
    int try_write(std::span<const char>& data);
    int enqueue(std::string&& data);
    void fail(int uv_error);

    Handler& handler_;
    Limits limits_;
    WriteBudget* budget_;
    Box* box_;
    SocketAddress peer_;
    std::size_t queued_ = 0;
    bool want_read_ = false;
    bool reading_ = false;
    bool finishing_ = false;
    bool ended_ = false;
    std::shared_ptr<unsigned> counter_; // the listener's count of open streams
    std::unique_ptr<Timer> connect_timer_;
    std::function<void(int)> connect_done_;
};

} // namespace cairn
