#pragma once
// libcurl's multi-socket API driven by a cairn::Loop (the pattern of curl's
// multi-uv.c example): curl tells us which sockets to watch
// (CURLMOPT_SOCKETFUNCTION -> an epoll set of our own, itself watched by one
// uv_poll_t) and when to wake it (CURLMOPT_TIMERFUNCTION -> a uv timer); we
// tell curl what happened through curl_multi_socket_action. Any number of
// transfers share one thread, one multi handle and one timer.
//
// Main loop only. Destroy every transfer (remove()) before the CurlMulti.

#include <functional>
#include <memory>

#include <curl/curl.h>

#include "core/loop.hpp"

namespace cairn::health {

class CurlMulti {
public:
    // Called once per finished transfer, after it was removed from the multi
    // handle, so the callee may clean the easy handle up at once.
    using Done = std::function<void(CURL* easy, CURLcode result)>;

    explicit CurlMulti(Loop& loop);
    ~CurlMulti();
    CurlMulti(const CurlMulti&) = delete;
    CurlMulti& operator=(const CurlMulti&) = delete;

    // Starts a transfer. `easy` stays owned by the caller; `done` runs when
    // it ends, never from inside add(). Returns false if curl refused it.
    bool add(CURL* easy, Done done);
    // Stops a transfer that has not finished; its `done` is never called.
    void remove(CURL* easy);
    [[nodiscard]] std::size_t running() const;

    // Easy handles are recycled: curl_easy_init allocates the handle and its
    // receive buffer (~20 KiB), which 1,000 probes a second would otherwise
    // churn through malloc. acquire() returns a handle (nullptr if curl
    // cannot make one) that may still carry the options of an earlier
    // transfer, so the caller sets every option it uses, every time (cheaper
    // than curl_easy_reset, which frees and rebuilds all of them); release()
    // keeps up to a few dozen idle ones.
    [[nodiscard]] CURL* acquire();
    void release(CURL* easy);

private:
    struct State;
    std::unique_ptr<State> state_;
};

} // namespace cairn::health
