#pragma once
// A libuv loop and the handles cairn uses, with libuv's lifetime rule built in:
// a handle's memory is freed only in its close callback. Each wrapper owns a
// heap block holding the uv handle and its callback; the destructor calls
// uv_close and the block is deleted when libuv says the handle is closed, so a
// wrapper may be destroyed at any time, even from inside its own callback.
//
// All of these are used only from the thread that runs their loop, except
// Async::send, which any thread may call.

#include <chrono>
#include <functional>

#include <uv.h>

namespace cairn {

class Loop {
public:
    Loop();
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    uv_loop_t* get() { return &loop_; }
    // Runs until stop() or until no active handles remain.
    void run();
    void stop() { uv_stop(&loop_); }
    // Milliseconds from the loop's cached monotonic clock.
    [[nodiscard]] std::uint64_t now_ms() const { return uv_now(&loop_); }

private:
    uv_loop_t loop_{};
};

class Timer {
public:
    explicit Timer(Loop& loop);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    // Fires after `after`, then every `repeat` if it is non-zero.
    void start(std::chrono::milliseconds after, std::chrono::milliseconds repeat,
               std::function<void()> callback);
    void stop();
    [[nodiscard]] bool active() const;
    // Time left until it fires, from the loop's clock (0 if not active).
    [[nodiscard]] std::chrono::milliseconds due_in() const;

private:
    struct Box;
    Box* box_;
};

class Signal {
public:
    explicit Signal(Loop& loop);
    ~Signal();
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;

    void start(int signum, std::function<void()> callback);

private:
    struct Box;
    Box* box_;
};

// Wakes a loop from another thread. Sends may coalesce: several send() calls
// before the loop wakes run the callback once.
class Async {
public:
    Async(Loop& loop, std::function<void()> callback);
    ~Async();
    Async(const Async&) = delete;
    Async& operator=(const Async&) = delete;

    void send();

private:
    struct Box;
    Box* box_;
};

// Closes any handle that was allocated with `new T` and whose data is unused.
template <class T>
void close_and_delete(T* handle) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle),
             [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
}

} // namespace cairn
