#pragma once
// The command line of `cairn agent` and `cairn validate`, parsed without side
// effects so that it is unit-tested. main.cpp dispatches the subcommands.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace cairn::agent {

struct AgentOptions {
    std::vector<std::string> config_paths; // files or directories, in order
    std::vector<std::string> join;         // --join ADDR, besides [gossip].join
    bool dev = false;
    bool help = false;
    // --cluster N (with --dev): run N dev agents, see dev_cluster.hpp.
    int cluster = 0;
    // Set by --cluster for each of its agents, never on the command line:
    // this agent is member `dev_member` (1..N) of a dev cluster.
    int dev_member = 0;
};

// The most agents `--dev --cluster N` starts (127.0.0.1 to 127.0.0.9).
inline constexpr int max_dev_cluster = 9;

// The arguments after "agent": --config PATH (repeatable, also --config=PATH),
// --dev, --cluster N (with --dev), --join ADDR (repeatable), --help. Needs
// --config or --dev.
[[nodiscard]] Result<AgentOptions> parse_agent_args(std::span<char* const> args);

// The usage text of the whole binary.
[[nodiscard]] std::string_view usage();

// `cairn validate FILE|DIR...`: prints "configuration is valid" (and what it
// found) to stdout and returns 0, or the errors to stderr and returns 1.
int run_validate(std::span<char* const> args);

} // namespace cairn::agent
