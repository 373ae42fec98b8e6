#include "health/curl_multi.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.hpp"

namespace cairn::health {

struct CurlMulti::State {
    // curl's sockets are watched by an epoll instance of our own, and that
    // one fd by the loop (epoll fds nest). A socket then costs one epoll_ctl
    // per change of interest and nothing else, where a uv_poll_t per socket
    // costs an allocation, a pollability probe (two epoll_ctl), an ioctl and
    // a deferred close for every short-lived probe connection.
    Loop& loop;
    CURLM* multi = nullptr;
    Timer timer;
    int epoll_fd = -1;
    uv_poll_t* epoll_watch = nullptr; // freed in its close callback
    std::unordered_map<CURL*, Done> transfers;
    std::vector<CURL*> idle; // released easy handles, for reuse
    // Sockets curl stopped watching but has not closed: still in the epoll
    // set. Closing a socket takes it out of the set, so a socket that curl
    // closes right after (every probe, with its fresh connection) costs no
    // EPOLL_CTL_DEL; the others are taken out once curl returns (unwatch()).
    std::vector<curl_socket_t> removed;

    explicit State(Loop& l)
        : loop(l)
        , timer(l) {}

    void socket_action(curl_socket_t fd, int events) {
        int still_running = 0;
        CURLMcode rc = curl_multi_socket_action(multi, fd, events, &still_running);
        if (rc != CURLM_OK) log::warn("health.curl", {{"error", curl_multi_strerror(rc)}});
        finish_transfers();
        unwatch();
    }

    void unwatch() {
        for (curl_socket_t fd : removed) epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
        removed.clear();
    }

    // CURLOPT_CLOSESOCKETFUNCTION: curl closes a socket it has removed.
    static int on_close(void* userp, curl_socket_t fd) noexcept {
        auto* self = static_cast<State*>(userp);
        std::erase(self->removed, fd);
        return ::close(fd);
    }

    void finish_transfers() {
        int pending = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &pending)) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL* easy = msg->easy_handle;
            CURLcode result = msg->data.result;
            curl_multi_remove_handle(multi, easy);
            auto it = transfers.find(easy);
            if (it == transfers.end()) continue;
            Done done = std::move(it->second);
            transfers.erase(it);
            // May add or remove other transfers: allowed here, outside curl's
            // own callbacks.
            done(easy, result);
        }
    }

    // The epoll fd is readable: hand every ready socket to curl. An event
    // for a socket that an earlier one in the batch closed is harmless: curl
    // ignores sockets it does not know, and a reused number only makes it
    // try a read or write that would block.
    void drain() {
        constexpr int batch = 64;
        std::array<epoll_event, batch> events{};
        for (int round = 0; round < 8; ++round) {
            int n = epoll_wait(epoll_fd, events.data(), batch, 0);
            for (int i = 0; i < n; ++i) {
                std::uint32_t e = events[static_cast<std::size_t>(i)].events;
                int flags = 0;
                if ((e & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) != 0) flags |= CURL_CSELECT_IN;
                if ((e & EPOLLOUT) != 0) flags |= CURL_CSELECT_OUT;
                if ((e & EPOLLERR) != 0) flags |= CURL_CSELECT_ERR;
                socket_action(events[static_cast<std::size_t>(i)].data.fd, flags);
            }
            if (n < batch) return;
        }
    }

    // CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants, or stop.
    // socketp is non-null once fd is in the epoll set.
    static int on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) noexcept {
        auto* self = static_cast<State*>(userp);
        if (what == CURL_POLL_REMOVE) {
            if (socketp != nullptr) {
                self->removed.push_back(fd);
                curl_multi_assign(self->multi, fd, nullptr);
            }
            return 0;
        }
        epoll_event event{};
        event.data.fd = fd;
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) event.events |= EPOLLIN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) event.events |= EPOLLOUT;
        // A socket curl removed and now watches again is still in the set.
        bool still_in_set = std::erase(self->removed, fd) != 0;
        int op = socketp == nullptr && !still_in_set ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        if (epoll_ctl(self->epoll_fd, op, fd, &event) != 0) {
            log::warn("health.curl_epoll", {{"error", std::strerror(errno)}});
            return -1;
        }
        if (socketp == nullptr) curl_multi_assign(self->multi, fd, self); // any non-null marker
        return 0;
    }

    // CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "soon", which must
    // not be acted on from inside this callback, so it goes through the loop.
    static int on_timer(CURLM*, long timeout_ms, void* userp) noexcept {
        auto* self = static_cast<State*>(userp);
        if (timeout_ms < 0) {
            self->timer.stop();
            return 0;
        }
        // curl moves its deadline as transfers start and end, about twice
        // per probe; one already set for the same millisecond stays.
        if (self->timer.active() && self->timer.due_in().count() == timeout_ms) return 0;
        self->timer.start(std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(0),
                          [self] { self->socket_action(CURL_SOCKET_TIMEOUT, 0); });
        return 0;
    }
};

CurlMulti::CurlMulti(Loop& loop)
    : state_(std::make_unique<State>(loop)) {
    static std::once_flag global_init;
    std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    // Without an epoll fd (EMFILE, say) every HTTP probe fails with "curl
    // refused the transfer" (see add()) rather than the agent aborting.
    state_->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (state_->epoll_fd < 0) {
        log::error("health.curl_epoll", {{"error", std::strerror(errno)}});
    } else {
        state_->epoll_watch = new uv_poll_t;
        state_->epoll_watch->data = state_.get();
        uv_poll_init(loop.get(), state_->epoll_watch, state_->epoll_fd);
        uv_poll_start(state_->epoll_watch, UV_READABLE,
                      [](uv_poll_t* p, int, int) { static_cast<State*>(p->data)->drain(); });
    }
    state_->multi = curl_multi_init();
    curl_multi_setopt(state_->multi, CURLMOPT_SOCKETFUNCTION, &State::on_socket);
    curl_multi_setopt(state_->multi, CURLMOPT_SOCKETDATA, state_.get());
    curl_multi_setopt(state_->multi, CURLMOPT_TIMERFUNCTION, &State::on_timer);
    curl_multi_setopt(state_->multi, CURLMOPT_TIMERDATA, state_.get());
}

CurlMulti::~CurlMulti() {
    for (auto& [easy, done] : state_->transfers) curl_multi_remove_handle(state_->multi, easy);
    state_->transfers.clear();
    curl_multi_cleanup(state_->multi);
    if (state_->epoll_watch != nullptr) {
        close_and_delete(state_->epoll_watch);
        ::close(state_->epoll_fd);
    }
    for (CURL* easy : state_->idle) curl_easy_cleanup(easy);
}

CURL* CurlMulti::acquire() {
    if (state_->idle.empty()) return curl_easy_init();
    CURL* easy = state_->idle.back();
    state_->idle.pop_back();
    return easy;
}

void CurlMulti::release(CURL* easy) {
    if (easy == nullptr) return;
    remove(easy);
    // A URL handed over as a CURLU belongs to the caller and may be freed
    // before this handle is used again.
    curl_easy_setopt(easy, CURLOPT_CURLU, nullptr);
    // Enough for the probes in flight at 1,000 a second; more is memory.
    constexpr std::size_t max_idle = 64;
    if (state_->idle.size() >= max_idle) {
        curl_easy_cleanup(easy);
        return;
    }
    state_->idle.push_back(easy);
}

bool CurlMulti::add(CURL* easy, Done done) {
    if (state_->epoll_watch == nullptr) return false;
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &State::on_close);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, state_.get());
    if (CURLMcode rc = curl_multi_add_handle(state_->multi, easy); rc != CURLM_OK) {
        log::warn("health.curl_add", {{"error", curl_multi_strerror(rc)}});
        return false;
    }
    state_->transfers.emplace(easy, std::move(done));
    return true;
}

void CurlMulti::remove(CURL* easy) {
    if (state_->transfers.erase(easy) != 0) {
        curl_multi_remove_handle(state_->multi, easy);
        state_->unwatch();
    }
}

std::size_t CurlMulti::running() const {
    return state_->transfers.size();
}

} // namespace cairn::health
