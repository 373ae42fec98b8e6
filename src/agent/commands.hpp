#pragma once
// The command line as data: every `cairn` command with its synopsis, what it
// does and its flags. `cairn help` prints it, the client commands take the
// flags it lists, and the man page cairn(1) is made from it at build time
// (tools/man/), so help, man page and code name the same commands and flags
// (tests/agent/commands_test.cpp holds the parsers to it).

#include <span>
#include <string>
#include <string_view>

namespace cairn::agent {

struct Flag {
    std::string_view name;  // "--port"
    std::string_view value; // "PORT"; empty for a switch
    std::string_view help;
};

struct Command {
    std::string_view name; // "register"
    // What follows "cairn <name>", one line per form; the first is the main one.
    std::span<const std::string_view> synopses;
    std::string_view summary;     // one line, for `cairn help`
    std::string_view description; // a paragraph, for the man page
    std::span<const Flag> flags;
    // Talks to a running agent's HTTP API, and so takes client_flags() too.
    bool client = false;
};

// In the order `cairn help` and cairn(1) list them.
[[nodiscard]] std::span<const Command> commands();
// --http-addr, --token, --json, --help: for every client command.
[[nodiscard]] std::span<const Flag> client_flags();
[[nodiscard]] const Command* find_command(std::string_view name);

// The usage text of the whole binary (`cairn help`).
[[nodiscard]] std::string usage_text();
// The client commands and their options, for their usage errors.
[[nodiscard]] std::string client_usage_text();

} // namespace cairn::agent
