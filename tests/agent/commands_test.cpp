// The command table (src/agent/commands.cpp) is what the parsers accept:
// the help text and cairn(1) are made from it, so a flag it lists must work
// and a command it lists must be dispatched.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/cli.hpp"
#include "agent/client.hpp"
#include "agent/commands.hpp"

using namespace cairn::agent;

namespace {

cairn::Result<AgentOptions> parse_agent(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return parse_agent_args(argv);
}

const char* no_env(const char*) {
    return nullptr;
}

} // namespace

TEST_CASE("every flag of `cairn agent` in the table is accepted") {
    const Command* agent = find_command("agent");
    REQUIRE(agent);
    CHECK(agent->flags.size() >= 5);
    for (const Flag& f : agent->flags) {
        std::vector<std::string> args{"--dev", std::string(f.name)};
        if (!f.value.empty()) args.push_back(f.name == "--cluster" ? "3" : "x");
        auto parsed = parse_agent(args);
        CHECK_MESSAGE(parsed.has_value(), f.name, ": ", parsed ? "" : parsed.error().message);
    }
}

TEST_CASE("every client command in the table is dispatched, and its flags parse") {
    int client_commands = 0;
    std::vector<std::string_view> value_flags;
    for (const Command& c : commands())
        for (const Flag& f : c.flags)
            if (c.client && !f.value.empty()) value_flags.push_back(f.name);
    for (const Command& c : commands()) {
        CHECK_MESSAGE(is_client_command(c.name) == c.client, c.name);
        client_commands += c.client ? 1 : 0;
        for (const Flag& f : c.flags) {
            if (!c.client) continue;
            std::vector<std::string> args{std::string(f.name)};
            if (!f.value.empty()) args.push_back("v");
            auto parsed = parse_client_args(args, value_flags, no_env);
            REQUIRE(parsed);
            if (f.value.empty())
                CHECK(parsed->switches == std::vector<std::string>{std::string(f.name)});
            else
                CHECK(parsed->flags.count(std::string(f.name)) == 1);
        }
    }
    CHECK(client_commands == 7);
    CHECK_FALSE(is_client_command("agent"));
    CHECK_FALSE(is_client_command("nonsense"));
}

TEST_CASE("the usage text lists every command and flag of the table") {
    std::string text = usage_text();
    for (const Command& c : commands()) {
        CHECK_MESSAGE(text.find("cairn " + std::string(c.name)) != std::string::npos, c.name);
        CHECK(text.find(c.summary) != std::string::npos);
    }
    std::string client = client_usage_text();
    for (const Flag& f : client_flags()) CHECK(client.find(f.name) != std::string::npos);
    CHECK(client.find("cairn agent") == std::string::npos);
}
