#include "agent/dev_cluster.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.hpp"

namespace cairn::agent {
namespace {

// Agents get this long to leave and stop after the stop signal, then SIGKILL.
constexpr auto stop_timeout = std::chrono::seconds(15);

struct Child {
    pid_t pid = 0;
    int member = 0;
    bool running = true;
};

int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

void signal_running(const std::vector<Child>& children, int signum) {
    for (const Child& c : children)
        if (c.running) kill(c.pid, signum);
}

} // namespace

int run_dev_cluster(const AgentOptions& options) {
    // The stop signals and SIGCHLD wait in the mask until sigtimedwait takes
    // them; each child restores the mask before its agent starts.
    sigset_t waited, previous;
    sigemptyset(&waited);
    for (int s : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&waited, s);
    sigprocmask(SIG_BLOCK, &waited, &previous);

    const pid_t parent = getpid();
    std::vector<Child> children;
    int code = 0;
    bool stopping = false;
    for (int member = 1; member <= options.cluster && !stopping; ++member) {
        AgentOptions one = options;
        one.cluster = 0;
        one.dev_member = member;
        if (member > 1) one.join.insert(one.join.begin(), "127.0.0.1:8301");
        std::fflush(nullptr); // nothing buffered is written twice
        pid_t pid = fork();
        if (pid == 0) {
            // If the cluster command dies (kill -9), its agents stop too.
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent) std::exit(1);
            sigprocmask(SIG_SETMASK, &previous, nullptr);
            int agent_code = 0;
            {
                Agent agent(std::move(one));
                agent_code = agent.run();
            }
            std::exit(agent_code);
        }
        if (pid < 0) {
            std::perror("cairn agent --cluster: fork");
            code = 1;
            stopping = true;
            break;
        }
        children.push_back({pid, member, true});
    }
    if (!stopping)
        std::fprintf(stderr,
                     "cairn: %d dev agents, n1 to n%d on 127.0.0.1 to 127.0.0.%d (DNS :8600, "
                     "HTTP :8500, gossip :8301); Ctrl-C stops them all\n",
                     options.cluster, options.cluster, options.cluster);
    else
        signal_running(children, SIGTERM);

    auto stop_deadline = std::chrono::steady_clock::now() + stop_timeout;
    std::size_t running = children.size();
    while (running > 0) {
        timespec tick{1, 0};
        int signum = sigtimedwait(&waited, nullptr, &tick);
        if ((signum == SIGINT || signum == SIGTERM) && !stopping) {
            stopping = true;
            stop_deadline = std::chrono::steady_clock::now() + stop_timeout;
            signal_running(children, SIGTERM);
        }
        int status = 0;
        pid_t pid = 0;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (Child& c : children) {
                if (c.pid != pid || !c.running) continue;
                c.running = false;
                --running;
                int child_code = exit_code(status);
                if (stopping) {
                    if (code == 0) code = child_code;
                } else if (WIFSIGNALED(status)) {
                    // Killed from outside (kill -9, to watch the others
                    // declare it dead): the others keep running.
                    std::fprintf(stderr,
                                 "cairn: n%d was killed by signal %d; the others keep running\n",
                                 c.member, WTERMSIG(status));
                } else {
                    // It stopped by itself (a port in use, say): the cluster
                    // is not what was asked for, so stop it all.
                    std::fprintf(stderr, "cairn: n%d exited with %d; stopping the others\n",
                                 c.member, child_code);
                    stopping = true;
                    stop_deadline = std::chrono::steady_clock::now() + stop_timeout;
                    signal_running(children, SIGTERM);
                    code = child_code == 0 ? 1 : child_code;
                }
            }
        }
        if (stopping && running > 0 && std::chrono::steady_clock::now() > stop_deadline) {
            std::fprintf(stderr,
                         "cairn: agents still running %lld s after the stop: killing them\n",
                         static_cast<long long>(stop_timeout.count()));
            signal_running(children, SIGKILL);
            stop_deadline = std::chrono::steady_clock::time_point::max();
            if (code == 0) code = 1;
        }
    }
    return code;
}

} // namespace cairn::agent
