#include "agent/cli.hpp"

#include <cstdio>

#include "agent/commands.hpp"
#include "config/config.hpp"
#include "dns/zone/zone.hpp"

namespace cairn::agent {

std::string_view usage() {
    static const std::string text = usage_text();
    return text;
}

Result<AgentOptions> parse_agent_args(std::span<char* const> args) {
    AgentOptions options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--dev" || arg == "-dev") {
            options.dev = true;
        } else if (arg == "--help" || arg == "-h") {
            options.help = true;
        } else if (arg == "--config" || arg == "-config" || arg == "-c") {
            if (i + 1 == args.size()) return fail("{} needs a file or directory", arg);
            options.config_paths.emplace_back(args[++i]);
        } else if (arg == "--cluster" || arg == "-cluster") {
            if (i + 1 == args.size()) return fail("{} needs a number of agents", arg);
            std::string_view n = args[++i];
            if (n.size() != 1 || n[0] < '2' || n[0] > '0' + max_dev_cluster)
                return fail("{} {}: the number of agents is 2 to {}", arg, n, max_dev_cluster);
            options.cluster = n[0] - '0';
        } else if (arg == "--join" || arg == "-join") {
            if (i + 1 == args.size()) return fail("{} needs a gossip address (host:port)", arg);
            options.join.emplace_back(args[++i]);
        } else if (arg.starts_with("--join=")) {
            options.join.emplace_back(arg.substr(std::string_view("--join=").size()));
        } else if (arg.starts_with("--config=")) {
            auto value = arg.substr(std::string_view("--config=").size());
            if (value.empty()) return fail("--config= needs a file or directory");
            options.config_paths.emplace_back(value);
        } else {
            return fail("unknown option '{}' for `cairn agent`", arg);
        }
    }
    if (!options.help && !options.dev && options.config_paths.empty())
        return fail("`cairn agent` needs --config FILE|DIR or --dev");
    if (options.cluster > 0 && !options.dev) return fail("--cluster needs --dev");
    return options;
}

int run_validate(std::span<char* const> args) {
    std::vector<std::string> paths(args.begin(), args.end());
    if (paths.empty()) {
        std::fprintf(stderr, "usage: cairn validate FILE|DIR ...\n");
        return 2;
    }
    auto config = config::load_config(paths);
    if (!config) {
        std::fprintf(stderr, "%s\n", config.error().message.c_str());
        return 1;
    }
    auto zones = dns::load_zones(config->dns.zones_dir);
    if (!zones) {
        std::fprintf(stderr, "%s\n", zones.error().message.c_str());
        return 1;
    }
    std::printf("configuration is valid (node %s, %zu service%s, %zu zone%s from %s)\n",
                config->node_name.c_str(), config->services.size(),
                config->services.size() == 1 ? "" : "s", (*zones)->info().size(),
                (*zones)->info().size() == 1 ? "" : "s", config->dns.zones_dir.c_str());
    return 0;
}

} // namespace cairn::agent
