#include "health/script_probe.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cairn::health {

namespace {

using registry::Health;

// Lives until the process has exited (libuv reaped it) and all three handles
// are closed, even when the Probe handle is destroyed earlier.
struct ScriptOp {
    uv_process_t process{};
    uv_pipe_t pipe{};
    uv_timer_t timer{};
    OpProbe<ScriptOp>* owner = nullptr;
    ProbeDone done;
    std::string command;
    std::string output;
    char buffer[4096];
    std::uint32_t timeout_ms = 0;
    int open_handles = 0; // closes in flight
    bool spawned = false;
    bool exited = false;
    bool eof = false;
    bool timed_out = false;
    bool finished = false; // reported or cancelled
    std::int64_t exit_status = 0;
    int term_signal = 0;
    std::string early_error;

    void on_exit(std::int64_t status, int signal);
    void on_read(ssize_t nread);
    void on_timeout();
    void kill_group();
    void maybe_finish();
    void report();
    void cancel();
    void close_handles();
};

void ScriptOp::kill_group() {
    // With UV_PROCESS_DETACHED the child called setsid(), so its pid is its
    // process group id: -pid reaches every process it started.
    if (spawned && process.pid > 0) ::kill(-process.pid, SIGKILL);
}

void ScriptOp::on_exit(std::int64_t status, int signal) {
    exited = true;
    exit_status = status;
    term_signal = signal;
    if (finished) {
        close_handles(); // cancelled while running: now it is reaped
        return;
    }
    if (timed_out)
        report();
    else
        maybe_finish();
}

void ScriptOp::on_read(ssize_t nread) {
    if (nread > 0) {
        std::size_t room = 4096 - std::min<std::size_t>(output.size(), 4096);
        output.append(buffer, std::min<std::size_t>(room, static_cast<std::size_t>(nread)));
        return;
    }
    if (nread < 0) { // UV_EOF or a read error: either way nothing more comes
        eof = true;
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe));
        if (!finished) maybe_finish();
    }
}

void ScriptOp::on_timeout() {
    if (finished) return;
    if (!spawned) { // spawn failed; this was the deferred report
        report();
        return;
    }
    timed_out = true;
    kill_group();
    // Exited, but something it started still holds the pipe: it was just
    // killed with the group; report without waiting for EOF.
    if (exited) report();
}

void ScriptOp::maybe_finish() {
    if (exited && eof) report();
}

void ScriptOp::report() {
    ProbeResult result;
    if (!spawned) {
        result = {Health::critical, early_error, std::nullopt};
    } else if (timed_out) {
        result.status = Health::critical;
        result.output = fmt::format("{}: timed out after {} ms, process group killed\n{}", command,
                                    timeout_ms, output);
    } else {
        result.status = term_signal != 0   ? Health::critical
                        : exit_status == 0 ? Health::passing
                        : exit_status == 1 ? Health::warning
                                           : Health::critical;
        result.output = output;
        if (result.output.empty())
            result.output = term_signal != 0
                                ? fmt::format("{}: killed by signal {}", command, term_signal)
                                : fmt::format("{}: exit status {}", command, exit_status);
    }
    ProbeDone cb = std::move(done);
    done = nullptr;
    if (owner != nullptr) owner->detach();
    owner = nullptr;
    finished = true;
    close_handles();
    if (cb) cb(std::move(result));
}

void ScriptOp::cancel() {
    done = nullptr;
    finished = true;
    uv_timer_stop(&timer);
    if (spawned && !exited)
        kill_group(); // close_handles runs from on_exit, once libuv has reaped it
    else
        close_handles();
}

void ScriptOp::close_handles() {
    // The process handle must stay open until the exit callback: closing it
    // earlier would leave the child unreaped.
    auto on_close = [](uv_handle_t* h) {
        auto* self = static_cast<ScriptOp*>(h->data);
        if (--self->open_handles == 0) delete self;
    };
    uv_timer_stop(&timer);
    for (auto* h : {reinterpret_cast<uv_handle_t*>(&timer), reinterpret_cast<uv_handle_t*>(&pipe),
                    reinterpret_cast<uv_handle_t*>(&process)}) {
        // Handles never initialised (spawn not reached) are still zero.
        if (h->type != UV_UNKNOWN_HANDLE && !uv_is_closing(h)) {
            ++open_handles;
            uv_close(h, on_close);
        }
    }
}

} // namespace

ProbePtr start_script_probe(Loop& loop, const registry::CheckDefinition& definition,
                            ProbeDone done) {
    auto* op = new ScriptOp;
    op->done = std::move(done);
    op->timeout_ms = definition.timeout_ms;
    op->command = definition.args.empty() ? std::string("(no command)") : definition.args.front();
    uv_timer_init(loop.get(), &op->timer);
    op->timer.data = op;
    auto probe = std::make_unique<OpProbe<ScriptOp>>(op);
    auto on_timeout = [](uv_timer_t* t) { static_cast<ScriptOp*>(t->data)->on_timeout(); };

    int fds[2] = {-1, -1};
    if (definition.args.empty()) {
        op->early_error = "script check without args";
    } else if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        op->early_error = fmt::format("{}: socketpair: {}", op->command, std::strerror(errno));
    }
    if (!op->early_error.empty()) {
        uv_timer_start(&op->timer, on_timeout, 0, 0);
        return probe;
    }

    // fds[0] is ours, fds[1] becomes the child's stdout and stderr.
    uv_pipe_init(loop.get(), &op->pipe, 0);
    op->pipe.data = op;
    uv_pipe_open(&op->pipe, fds[0]);

    std::vector<char*> argv;
    for (const auto& a : definition.args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = fds[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = fds[1];
    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv.data();
    options.flags = UV_PROCESS_DETACHED;
    options.stdio_count = 3;
    options.stdio = stdio;
    options.exit_cb = [](uv_process_t* p, std::int64_t status, int signal) {
        static_cast<ScriptOp*>(p->data)->on_exit(status, signal);
    };
    op->process.data = op;
    int rc = uv_spawn(loop.get(), &op->process, &options);
    ::close(fds[1]);
    op->process.data = op; // close_handles() closes it if uv_spawn initialised it
    if (rc != 0) {
        op->early_error = fmt::format("{}: cannot start: {}", op->command, uv_strerror(rc));
        uv_timer_start(&op->timer, on_timeout, 0, 0);
        return probe;
    }
    op->spawned = true;
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&op->pipe),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
            auto* self = static_cast<ScriptOp*>(h->data);
            *buf = uv_buf_init(self->buffer, sizeof self->buffer);
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
            static_cast<ScriptOp*>(s->data)->on_read(nread);
        });
    uv_timer_start(&op->timer, on_timeout, definition.timeout_ms, 0);
    return probe;
}

} // namespace cairn::health
