#include "gossip/config.hpp"

namespace cairn::gossip {

Config lan_config() {
    return Config{}; // the member initialisers are DefaultLANConfig's values
}

Config wan_config() {
    Config c = lan_config();
    c.tcp_timeout = seconds(30);
    c.suspicion_mult = 6;
    c.push_pull_interval = seconds(60);
    c.probe_timeout = seconds(3);
    c.probe_interval = seconds(5);
    c.gossip_nodes = 4;
    c.gossip_interval = milliseconds(500);
    c.gossip_to_the_dead_time = seconds(60);
    return c;
}

Config local_config() {
    Config c = lan_config();
    c.tcp_timeout = seconds(1);
    c.indirect_checks = 1;
    c.retransmit_mult = 2;
    c.suspicion_mult = 3;
    c.push_pull_interval = seconds(15);
    c.probe_timeout = milliseconds(200);
    c.probe_interval = seconds(1);
    c.gossip_interval = milliseconds(100);
    c.gossip_to_the_dead_time = seconds(15);
    return c;
}

std::optional<Config> profile_config(std::string_view profile) {
    if (profile == "lan") return lan_config();
    if (profile == "wan") return wan_config();
    if (profile == "local") return local_config();
    return std::nullopt;
}

} // namespace cairn::gossip
