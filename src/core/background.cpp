#include "core/background.hpp"

#include <system_error>
#include <utility>

namespace cairn {

Background::Background(Loop& loop)
    : loop_(loop) {}

Background::~Background() {
    if (thread_.joinable()) thread_.join();
}

Result<void> Background::start(Work work) {
    if (running()) return fail("earlier work is still running");
    auto wake = std::make_unique<Async>(loop_, [this] { finish(); });
    Async* signal = wake.get();
    try {
        thread_ = std::thread([this, signal, work = std::move(work)] {
            Continuation done = work();
            {
                std::lock_guard lock(mutex_);
                done_ = std::move(done);
            }
            signal->send(); // the Async outlives this thread: finish() joins it first
        });
    } catch (const std::system_error& e) {
        return fail("cannot start a thread: {}", e.what());
    }
    wake_ = std::move(wake);
    return {};
}

void Background::finish() {
    // The work is done once it has sent; joining returns at once.
    thread_.join();
    Continuation done;
    {
        std::lock_guard lock(mutex_);
        done = std::exchange(done_, nullptr);
    }
    wake_.reset();    // closed from its own callback: Async allows it
    if (done) done(); // last: it may start() the next piece of work
}

} // namespace cairn
