#pragma once
// Work that must not hold up the loop (parsing large zone files, say) runs on
// a thread of its own; what it hands back then runs on the loop. One piece of
// work at a time.
//
//   background.start([path] {                 // on the other thread
//       auto parsed = parse(path);            // copies only: never the loop's state
//       return [parsed = std::move(parsed)] { use(parsed); };  // on the loop
//   });
//
// Main thread only. The work runs on the other thread and must touch nothing
// the loop owns (give it copies), and must not throw: an exception that
// escapes it ends the process, as on any thread.

#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "core/loop.hpp"
#include "core/result.hpp"

namespace cairn {

class Background {
public:
    // Runs on the loop once the work is done.
    using Continuation = std::function<void()>;
    using Work = std::function<Continuation()>;

    explicit Background(Loop& loop);
    // Waits for work still running; its continuation is dropped, not run.
    ~Background();
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;

    // Starts `work` on a new thread. Fails, starting nothing, while earlier
    // work has not finished, or when no thread can be started.
    Result<void> start(Work work);
    // True from start() until the continuation has been called.
    [[nodiscard]] bool running() const { return thread_.joinable(); }

private:
    void finish();

    Loop& loop_;
    std::thread thread_;
    std::unique_ptr<Async> wake_; // only while work runs: an idle Background holds no handle
    std::mutex mutex_;            // guards done_
    Continuation done_;
};

} // namespace cairn
