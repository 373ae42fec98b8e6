#pragma once
// The client commands: `cairn register | deregister | services | members |
// check | keygen | keyring`. Each talks to a running agent's HTTP API (--http-addr or
// CAIRN_HTTP_ADDR, default 127.0.0.1:8500; --token or CAIRN_HTTP_TOKEN) with
// libcurl and prints a table, or the API's JSON with --json.
//
// The argument parsing and the table formatting are pure and exposed for
// tests; run_client() does the I/O.

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"

namespace cairn::agent {

[[nodiscard]] bool is_client_command(std::string_view command);

// Runs `cairn <command> <args...>` and returns the exit code: 0 done,
// 1 the agent refused or could not be reached (the reason on stderr),
// 2 bad usage.
int run_client(std::string_view command, std::span<char* const> args);

struct ClientArgs {
    std::string http_addr; // from --http-addr, CAIRN_HTTP_ADDR, or the default
    std::string token;     // from --token or CAIRN_HTTP_TOKEN
    bool json = false;
    std::vector<std::string> positional;
    std::multimap<std::string, std::string> flags; // "--name" -> "web" (repeatable)
    std::vector<std::string> switches;             // flags without a value
};

// Splits the arguments after the command. `value_flags` take a value
// ("--port 80" or "--port=80"); any other "--x" is a switch. `env` looks up
// an environment variable (injected for tests).
[[nodiscard]] Result<ClientArgs>
parse_client_args(std::span<const std::string> args, std::span<const std::string_view> value_flags,
                  const std::function<const char*(const char*)>& env);

// `cairn register` flags to a registration body (docs/http-api.md).
[[nodiscard]] Result<nlohmann::json> registration_from_flags(const ClientArgs& args);

// "127.0.0.1:8500" or "http://h:p" -> "http://127.0.0.1:8500".
[[nodiscard]] std::string base_url(std::string_view http_addr);

// Human-readable tables of API responses.
[[nodiscard]] std::string format_services(const nlohmann::json& services);
[[nodiscard]] std::string format_instances(const nlohmann::json& instances);
[[nodiscard]] std::string format_members(const nlohmann::json& members);
// GET /v1/keyring: one key per line, the primary marked.
[[nodiscard]] std::string format_keyring(const nlohmann::json& keyring);

// 32 random bytes (OpenSSL), base64: a gossip encryption key.
[[nodiscard]] std::string make_key();

} // namespace cairn::agent
