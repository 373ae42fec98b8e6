#include "health/curl_multi.hpp"

#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/log.hpp"

namespace cairn::health {

struct CurlMulti::State {
    // One watched socket. Freed in its close callback (libuv's rule); once
    // closing it gets no more callbacks, so `state` is never used stale.
    struct Watch {
        uv_poll_t poll{};
        curl_socket_t fd = CURL_SOCKET_BAD;
        State* state = nullptr;
    };

    Loop& loop;
    CURLM* multi = nullptr;
    Timer timer;
    std::unordered_map<CURL*, Done> transfers;
    std::unordered_set<Watch*> watches;
    std::vector<CURL*> idle; // released easy handles, reset, for reuse

    explicit State(Loop& l) : loop(l), timer(l) {}

    void close_watch(Watch* watch)
    {
        watches.erase(watch);
        uv_poll_stop(&watch->poll);
        uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll),
                 [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
    }

    void socket_action(curl_socket_t fd, int events)
    {
        int still_running = 0;
        CURLMcode rc = curl_multi_socket_action(multi, fd, events, &still_running);
        if (rc != CURLM_OK)
            log::warn("health.curl", {{"error", curl_multi_strerror(rc)}});
        finish_transfers();
    }

    void finish_transfers()
    {
        int pending = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &pending)) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL* easy = msg->easy_handle;
            CURLcode result = msg->data.result;
            curl_multi_remove_handle(multi, easy);
            auto it = transfers.find(easy);
            if (it == transfers.end())
                continue;
            Done done = std::move(it->second);
            transfers.erase(it);
            // May add or remove other transfers: allowed here, outside curl's
            // own callbacks.
            done(easy, result);
        }
    }

    // CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants, or stop.
    static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) noexcept
    {
        auto* self = static_cast<State*>(userp);
        auto* watch = static_cast<Watch*>(socketp);
        if (what == CURL_POLL_REMOVE) {
            if (watch != nullptr) {
                self->close_watch(watch);
                curl_multi_assign(self->multi, fd, nullptr);
            }
            return 0;
        }
        if (watch == nullptr) {
            watch = new Watch;
            if (int rc = uv_poll_init_socket(self->loop.get(), &watch->poll, fd); rc != 0) {
                log::warn("health.curl_poll", {{"error", uv_strerror(rc)}});
                delete watch;
                return -1;
            }
            watch->fd = fd;
            watch->state = self;
            watch->poll.data = watch;
            self->watches.insert(watch);
            curl_multi_assign(self->multi, fd, watch);
        }
        int events = 0;
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
            events |= UV_READABLE;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
            events |= UV_WRITABLE;
        uv_poll_start(&watch->poll, events, [](uv_poll_t* p, int status, int revents) {
            auto* w = static_cast<Watch*>(p->data);
            int flags = 0;
            if (status < 0)
                flags = CURL_CSELECT_ERR;
            if ((revents & UV_READABLE) != 0)
                flags |= CURL_CSELECT_IN;
            if ((revents & UV_WRITABLE) != 0)
                flags |= CURL_CSELECT_OUT;
            w->state->socket_action(w->fd, flags);
        });
        return 0;
    }

    // CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "soon", which must
    // not be acted on from inside this callback, so it goes through the loop.
    static int on_timer(CURLM*, long timeout_ms, void* userp) noexcept
    {
        auto* self = static_cast<State*>(userp);
        if (timeout_ms < 0) {
            self->timer.stop();
            return 0;
        }
        self->timer.start(std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(0),
                          [self] { self->socket_action(CURL_SOCKET_TIMEOUT, 0); });
        return 0;
    }
};

CurlMulti::CurlMulti(Loop& loop) : state_(std::make_unique<State>(loop))
{
    static std::once_flag global_init;
    std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    state_->multi = curl_multi_init();
    curl_multi_setopt(state_->multi, CURLMOPT_SOCKETFUNCTION, &State::on_socket);
    curl_multi_setopt(state_->multi, CURLMOPT_SOCKETDATA, state_.get());
    curl_multi_setopt(state_->multi, CURLMOPT_TIMERFUNCTION, &State::on_timer);
    curl_multi_setopt(state_->multi, CURLMOPT_TIMERDATA, state_.get());
}

CurlMulti::~CurlMulti()
{
    for (auto& [easy, done] : state_->transfers)
        curl_multi_remove_handle(state_->multi, easy);
    state_->transfers.clear();
    curl_multi_cleanup(state_->multi);
    // Whatever curl did not ask us to stop watching is closed here.
    while (!state_->watches.empty())
        state_->close_watch(*state_->watches.begin());
    for (CURL* easy : state_->idle)
        curl_easy_cleanup(easy);
}

CURL* CurlMulti::acquire()
{
    if (state_->idle.empty())
        return curl_easy_init();
    CURL* easy = state_->idle.back();
    state_->idle.pop_back();
    return easy;
}

void CurlMulti::release(CURL* easy)
{
    if (easy == nullptr)
        return;
    remove(easy);
    // Enough for the probes in flight at 1,000 a second; more is memory.
    constexpr std::size_t max_idle = 64;
    if (state_->idle.size() >= max_idle) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy);
    state_->idle.push_back(easy);
}

bool CurlMulti::add(CURL* easy, Done done)
{
    if (CURLMcode rc = curl_multi_add_handle(state_->multi, easy); rc != CURLM_OK) {
        log::warn("health.curl_add", {{"error", curl_multi_strerror(rc)}});
        return false;
    }
    state_->transfers.emplace(easy, std::move(done));
    return true;
}

void CurlMulti::remove(CURL* easy)
{
    if (state_->transfers.erase(easy) != 0)
        curl_multi_remove_handle(state_->multi, easy);
}

std::size_t CurlMulti::running() const
{
    return state_->transfers.size();
}

} // namespace cairn::health
