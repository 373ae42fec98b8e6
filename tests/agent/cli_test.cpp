#include <doctest/doctest.h>

#include <vector>

#include "agent/cli.hpp"

using namespace cairn::agent;

namespace {

cairn::Result<AgentOptions> parse(std::vector<const char*> args) {
    std::vector<char*> argv;
    for (const char* a : args) argv.push_back(const_cast<char*>(a));
    return parse_agent_args(argv);
}

} // namespace

TEST_CASE("cairn agent: --config repeats and keeps its order") {
    auto o = parse({"--config", "a.toml", "--config=conf.d", "-c", "b.toml"});
    REQUIRE(o);
    CHECK(o->config_paths == std::vector<std::string>{"a.toml", "conf.d", "b.toml"});
    CHECK_FALSE(o->dev);
}

TEST_CASE("cairn agent: --dev alone, or with config files over it") {
    auto dev = parse({"--dev"});
    REQUIRE(dev);
    CHECK(dev->dev);
    CHECK(dev->config_paths.empty());
    auto both = parse({"--dev", "--config", "x.toml"});
    REQUIRE(both);
    CHECK(both->dev);
    CHECK(both->config_paths.size() == 1);
}

TEST_CASE("cairn agent: --dev --cluster N, 2 to 9 agents") {
    auto three = parse({"--dev", "--cluster", "3"});
    REQUIRE(three);
    CHECK(three->cluster == 3);
    CHECK(three->dev_member == 0);
    CHECK(parse({"--dev", "--cluster", "9"})->cluster == 9);
    for (const char* bad : {"1", "10", "0", "x", "-3", ""})
        CHECK(parse({"--dev", "--cluster", bad}).error().message.find("2 to 9") !=
              std::string::npos);
    CHECK(parse({"--dev", "--cluster"}).error().message.find("needs a number") !=
          std::string::npos);
    CHECK(parse({"--config", "a.toml", "--cluster", "3"}).error().message ==
          "--cluster needs --dev");
}

TEST_CASE("cairn agent: usage errors") {
    CHECK(parse({}).error().message.find("needs --config") != std::string::npos);
    CHECK(parse({"--config"}).error().message.find("needs a file") != std::string::npos);
    CHECK(parse({"--config="}).error().message.find("needs a file") != std::string::npos);
    CHECK(parse({"--dve"}).error().message.find("unknown option '--dve'") != std::string::npos);
    CHECK(parse({"extra"}).error().message.find("unknown option 'extra'") != std::string::npos);
    auto help = parse({"--help"});
    REQUIRE(help);
    CHECK(help->help);
}

TEST_CASE("usage names every command") {
    for (const char* command : {"agent", "validate", "version", "register", "deregister",
                                "services", "members", "check", "keygen", "--dev", "--config"})
        CHECK(usage().find(command) != std::string_view::npos);
}
