#include "agent/commands.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace cairn::agent {
namespace {

using namespace std::string_view_literals;

constexpr std::array agent_synopses{
    "--config FILE|DIR [--config FILE|DIR]... [--join ADDR]..."sv,
    "--dev [--config FILE|DIR]... [--join ADDR]..."sv,
    "--dev --cluster N"sv,
};
constexpr std::array<Flag, 5> agent_flags{{
    {"--config", "FILE|DIR",
     "A configuration file, or a directory whose *.toml files are read in name order "
     "(cairn.toml(5)). Repeats: later files override earlier ones key by key. Also -c and "
     "--config=PATH."},
    {"--dev", "",
     "One self-contained node on 127.0.0.1: DNS on port 8600, HTTP on 8500, gossip on 8301, a "
     "temporary data directory, the zones of the source tree; it registers itself as service "
     "cairn. --config files apply on top."},
    {"--cluster", "N", "With --dev: N agents (2 to 9) n1 to nN on 127.0.0.1 to 127.0.0.N, joined."},
    {"--join", "ADDR",
     "Also join the cluster at this gossip address (host:port), besides gossip.join. Repeats."},
    {"--help", "", "Print the usage and exit."},
}};

constexpr std::array validate_synopses{"FILE|DIR..."sv};
constexpr std::array services_synopses{"[NAME] [--passing]"sv};
constexpr std::array<Flag, 1> services_flags{{
    {"--passing", "", "With NAME: only the instances whose checks all pass."},
}};
constexpr std::array members_synopses{""sv};
constexpr std::array register_synopses{
    "--name NAME --port PORT [--id ID] [--address IP] [--tag TAG]... [--meta KEY=VALUE]... "
    "[--weight N] [--policy POLICY] [--ttl DURATION] [--check-http URL | --check-tcp HOST:PORT | "
    "--check-ttl DURATION] [--check-interval DURATION] [--check-timeout DURATION]"sv,
    "FILE"sv,
    "--file FILE"sv,
};
constexpr std::array<Flag, 15> register_flags{{
    {"--name", "NAME", "The service name (a DNS label); required."},
    {"--port", "PORT", "The instance's port, 1 to 65535; required."},
    {"--id", "ID", "The instance id; default: the name."},
    {"--address", "IP", "The instance's address; default: the agent's advertise_address."},
    {"--tag", "TAG", "A tag (a DNS label). Repeats."},
    {"--meta", "KEY=VALUE", "Metadata, served as TXT. Repeats."},
    {"--weight", "N", "The SRV weight and the weighted policy's share, 1 to 65535; default 1."},
    {"--policy", "POLICY",
     "Load balancing for this service: random, round_robin, weighted, affinity, fastest or "
     "least_loaded."},
    {"--ttl", "DURATION", "The answer TTL of this service, such as 5s."},
    {"--check-http", "URL", "An HTTP check: 2xx passes, 429 warns, anything else fails."},
    {"--check-tcp", "HOST:PORT", "A TCP check: a connection within the timeout passes."},
    {"--check-ttl", "DURATION",
     "A heartbeat check: it fails unless `cairn check pass` reports within this time."},
    {"--check-interval", "DURATION", "How often the check runs; default 10s."},
    {"--check-timeout", "DURATION", "How long one run of the check may take; default 2s."},
    {"--file", "FILE", "The registration as a JSON body (- reads standard input)."},
}};
constexpr std::array deregister_synopses{"ID"sv};
constexpr std::array check_synopses{"pass|warn|fail CHECK_ID [--note TEXT]"sv};
constexpr std::array<Flag, 1> check_flags{{
    {"--note", "TEXT", "The check's output, shown with its status."},
}};
constexpr std::array keygen_synopses{""sv};
constexpr std::array keyring_synopses{"list"sv, "install KEY"sv, "use KEY"sv, "remove KEY"sv};
constexpr std::array version_synopses{""sv};
constexpr std::array help_synopses{""sv};

constexpr std::array<Flag, 4> client_flag_list{{
    {"--http-addr", "ADDR",
     "The agent's HTTP API, host:port or a URL; default: CAIRN_HTTP_ADDR, else 127.0.0.1:8500."},
    {"--token", "TOKEN", "The bearer token of http.token, for writes; default: CAIRN_HTTP_TOKEN."},
    {"--json", "", "Print the API's JSON instead of a table."},
    {"--help", "", "Print the client commands' usage and exit."},
}};

constexpr std::array<Command, 11> command_list{{
    {"agent", agent_synopses, "run the agent",
     "Runs the agent in the foreground until SIGINT or SIGTERM: DNS, the HTTP API, health "
     "checks and gossip, as the configuration says. SIGHUP reloads the configuration files and "
     "the zones. Logs go to standard error, one line per event.",
     agent_flags},
    {"validate",
     validate_synopses,
     "check configuration files and the zones they point at",
     "Loads the configuration exactly as the agent and a reload do, and the zone files of "
     "dns.zones_dir, and starts nothing. Prints \"configuration is valid\" and what it found, or "
     "every error as file:line: key: problem.",
     {}},
    {"services", services_synopses, "the services and their health, or NAME's instances",
     "Without NAME, every service in the cluster with its instances counted by health. With "
     "NAME, its instances across the cluster, and their checks with status, latency and output.",
     services_flags, true},
    {"members",
     members_synopses,
     "the agents in the cluster",
     "The gossip members with their address, state (alive, suspect, dead, left), incarnation, "
     "datacenter and metadata.",
     {},
     true},
    {"register", register_synopses, "register or replace a service instance on the agent",
     "Registers an instance with the agent it is sent to, from flags or from a JSON body as the "
     "HTTP API takes it (PUT /v1/services). The registration is stored in the agent's data_dir "
     "and survives a restart. Prints the instance as stored.",
     register_flags, true},
    {"deregister",
     deregister_synopses,
     "remove a service instance",
     "Removes the instance ID registered with this agent through the API.",
     {},
     true},
    {"check", check_synopses, "report a TTL check",
     "Reports a heartbeat (ttl) check as passing, warning or failing; it stays so until the next "
     "report or until its ttl runs out.",
     check_flags, true},
    {"keygen",
     keygen_synopses,
     "print a new gossip encryption key",
     "Prints 32 random bytes in base64, for gossip.encrypt or `cairn keyring install`. Needs no "
     "agent.",
     {},
     true},
    {"keyring",
     keyring_synopses,
     "list or change this agent's gossip keyring",
     "Lists the keys of the agent's gossip keyring, or installs a key, makes an installed key "
     "the primary one (used to seal what the agent sends) or removes one. Run it on every agent "
     "of the cluster.",
     {},
     true},
    {"version", version_synopses, "print the version", "Prints \"cairn\" and the version.", {}},
    {"help", help_synopses, "print the usage", "Prints the usage. Also --help and -h.", {}},
}};

} // namespace

std::span<const Command> commands() {
    return command_list;
}

std::span<const Flag> client_flags() {
    return client_flag_list;
}

const Command* find_command(std::string_view name) {
    for (const Command& c : command_list)
        if (c.name == name) return &c;
    return nullptr;
}

namespace {

// "  cairn <name> <synopsis>", wrapped before a " [" past 96 columns.
void add_synopsis(std::string& out, std::string_view name, std::string_view synopsis) {
    std::string line = fmt::format("  cairn {}", name);
    std::string indent(line.size() + 1, ' ');
    while (!synopsis.empty()) {
        std::size_t cut = synopsis.size();
        if (line.size() + 1 + cut > 96) {
            std::size_t room = 96 - std::min<std::size_t>(line.size() + 1, 95);
            std::size_t at = synopsis.rfind(" [", room);
            if (at != std::string_view::npos && at > 0) cut = at;
        }
        out.append(line).append(" ").append(synopsis.substr(0, cut)).append("\n");
        synopsis.remove_prefix(std::min(synopsis.size(), cut + 1));
        line = indent.substr(1);
    }
    if (line != indent.substr(1)) out.append(line).append("\n");
}

void add_commands(std::string& out, bool client_only) {
    for (const Command& c : command_list) {
        if (client_only && !c.client) continue;
        for (std::string_view synopsis : c.synopses) add_synopsis(out, c.name, synopsis);
        out += fmt::format("      {}\n", c.summary);
    }
}

} // namespace

std::string usage_text() {
    std::string out = "usage: cairn <command> [options]\n\ncommands:\n";
    add_commands(out, false);
    out += "\nclient commands take --http-addr ADDR (env CAIRN_HTTP_ADDR, default "
           "127.0.0.1:8500),\n--token TOKEN (env CAIRN_HTTP_TOKEN) and --json.\n"
           "signals to a running agent: SIGHUP reloads configuration and zones, SIGINT/SIGTERM "
           "stop it.\nmore: man cairn, man cairn.toml\n";
    return out;
}

std::string client_usage_text() {
    std::string out = "client commands (talk to a running agent's HTTP API):\n";
    add_commands(out, true);
    out += "options:\n";
    for (const Flag& f : client_flag_list)
        out += fmt::format("  {}{}{}\n      {}\n", f.name, f.value.empty() ? "" : " ", f.value,
                           f.help);
    return out;
}

} // namespace cairn::agent
