// cairn: the command line. `agent` runs the agent, `validate` checks
// configuration, `version` and `help` print; the client commands that talk to
// a running agent live in client.cpp.

#include <csignal>
#include <cstdio>
#include <span>
#include <string_view>

#include "agent/agent.hpp"
#include "agent/cli.hpp"
#include "agent/client.hpp"
#include "agent/dev_cluster.hpp"

namespace {

int run_agent(std::span<char* const> args) {
    auto options = cairn::agent::parse_agent_args(args);
    if (!options) {
        std::fprintf(stderr, "cairn agent: %s\n\n%.*s", options.error().message.c_str(),
                     static_cast<int>(cairn::agent::usage().size()), cairn::agent::usage().data());
        return 2;
    }
    if (options->help) {
        std::fwrite(cairn::agent::usage().data(), 1, cairn::agent::usage().size(), stdout);
        return 0;
    }
    // Writes to a peer that went away must fail with EPIPE, not kill us.
    std::signal(SIGPIPE, SIG_IGN);
    if (options->cluster > 0) return cairn::agent::run_dev_cluster(*options);
    cairn::agent::Agent agent(std::move(*options));
    return agent.run();
}

} // namespace

int main(int argc, char** argv) {
    std::string_view command = argc > 1 ? argv[1] : "";
    std::span<char* const> args(argv + std::min(argc, 2), argv + argc);
    if (command == "agent") return run_agent(args);
    if (cairn::agent::is_client_command(command)) return cairn::agent::run_client(command, args);
    if (command == "validate") return cairn::agent::run_validate(args);
    if (command == "version" || command == "--version") {
        std::printf("cairn %s\n", CAIRN_VERSION);
        return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
        std::fwrite(cairn::agent::usage().data(), 1, cairn::agent::usage().size(), stdout);
        return 0;
    }
    std::fprintf(stderr, "%s%.*s", command.empty() ? "" : "cairn: unknown command\n\n",
                 static_cast<int>(cairn::agent::usage().size()), cairn::agent::usage().data());
    return 2;
}
