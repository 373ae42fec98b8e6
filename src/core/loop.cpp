#include "core/loop.hpp"

#include <cstdlib>

#include "core/log.hpp"

namespace cairn {

Loop::Loop() {
    if (int rc = uv_loop_init(&loop_); rc != 0) {
        log::error("uv_loop_init failed", {{"error", uv_strerror(rc)}});
        std::abort();
    }
}

Loop::~Loop() {
    // Close whatever is still open, let the close callbacks run, then close.
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
}

void Loop::run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
}

// Each Box starts with its uv handle so that the handle pointer is the Box
// pointer; the close callback deletes the Box.
struct Timer::Box {
    uv_timer_t uv;
    std::function<void()> callback;
};

Timer::Timer(Loop& loop)
    : box_(new Box) {
    uv_timer_init(loop.get(), &box_->uv);
    box_->uv.data = box_;
}

Timer::~Timer() {
    close_and_delete(box_);
}

void Timer::start(std::chrono::milliseconds after, std::chrono::milliseconds repeat,
                  std::function<void()> callback) {
    box_->callback = std::move(callback);
    uv_timer_start(
        &box_->uv,
        [](uv_timer_t* t) {
            // Copy: the callback may restart or destroy this timer.
            auto cb = static_cast<Box*>(t->data)->callback;
            cb();
        },
        static_cast<std::uint64_t>(after.count()), static_cast<std::uint64_t>(repeat.count()));
}

void Timer::stop() {
    uv_timer_stop(&box_->uv);
}

bool Timer::active() const {
    return uv_is_active(reinterpret_cast<const uv_handle_t*>(&box_->uv)) != 0;
}

std::chrono::milliseconds Timer::due_in() const {
    return std::chrono::milliseconds(active() ? uv_timer_get_due_in(&box_->uv) : 0);
}

struct Signal::Box {
    uv_signal_t uv;
    std::function<void()> callback;
};

Signal::Signal(Loop& loop)
    : box_(new Box) {
    uv_signal_init(loop.get(), &box_->uv);
    box_->uv.data = box_;
}

Signal::~Signal() {
    close_and_delete(box_);
}

void Signal::start(int signum, std::function<void()> callback) {
    box_->callback = std::move(callback);
    uv_signal_start(
        &box_->uv, [](uv_signal_t* s, int) { static_cast<Box*>(s->data)->callback(); }, signum);
}

struct Async::Box {
    uv_async_t uv;
    std::function<void()> callback;
};

Async::Async(Loop& loop, std::function<void()> callback)
    : box_(new Box) {
    box_->callback = std::move(callback);
    uv_async_init(loop.get(), &box_->uv,
                  [](uv_async_t* a) { static_cast<Box*>(a->data)->callback(); });
    box_->uv.data = box_;
}

Async::~Async() {
    close_and_delete(box_);
}

void Async::send() {
    uv_async_send(&box_->uv);
}

} // namespace cairn
