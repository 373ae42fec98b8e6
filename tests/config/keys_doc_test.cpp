// docs/configuration.md documents every key the reader knows, and no other:
// the man page cairn.toml(5) is made from it (packaging/man/toml_5.py).

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace {

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '|')) s.pop_back();
    std::size_t start = s.find_first_not_of(" |");
    return start == std::string::npos ? "" : s.substr(start);
}

std::vector<std::string> cells(const std::string& row) {
    std::vector<std::string> out;
    std::stringstream in(trim(row));
    for (std::string cell; std::getline(in, cell, '|');) out.push_back(trim(cell));
    return out;
}

// "## `[dns]`" -> "dns.", "## `[[service]]`" -> "service[].", "## Top level" -> "",
// "### Checks" under [[service]] -> "service[].checks[].", anything else: no keys.
std::optional<std::string> section_prefix(const std::string& heading, const std::string& parent) {
    auto open = heading.find("`[");
    if (open != std::string::npos) {
        auto close = heading.find(']', open);
        bool array = heading.compare(open, 3, "`[[") == 0;
        std::size_t from = open + (array ? 3 : 2);
        return heading.substr(from, close - from) + (array ? "[]." : ".");
    }
    if (heading == "## Top level") return "";
    if (heading.starts_with("### ") && parent.ends_with("[].")) {
        std::string title = heading.substr(4);
        for (char& ch : title) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return parent + title + "[].";
    }
    return std::nullopt;
}

// The keys of every "| key | default | meaning |" table, with their section.
std::set<std::string> documented_keys() {
    std::ifstream in(CAIRN_SOURCE_ROOT "/docs/configuration.md");
    REQUIRE(in);
    std::set<std::string> keys;
    std::optional<std::string> prefix;
    std::string parent;
    bool key_table = false;
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("#")) {
            prefix = section_prefix(line, parent);
            if (line.starts_with("## ")) parent = prefix.value_or("");
            key_table = false;
            continue;
        }
        if (!line.starts_with("|")) {
            key_table = false;
            continue;
        }
        auto row = cells(line);
        if (row.size() >= 3 && row[0] == "key" && row[1] == "default" && row[2] == "meaning") {
            key_table = prefix.has_value();
            continue;
        }
        if (!key_table || row[0].starts_with("---")) continue;
        REQUIRE_MESSAGE(row[0].size() > 2, line);
        keys.insert(*prefix + row[0].substr(1, row[0].size() - 2)); // without the backticks
    }
    return keys;
}

// known_keys(), the inline `check` table folded into `checks[]` (the docs
// describe one check's keys once).
std::set<std::string> code_keys() {
    std::set<std::string> keys;
    for (std::string key : cairn::config::known_keys()) {
        const std::string inline_check = "service[].check.";
        if (key.starts_with(inline_check))
            key = "service[].checks[]." + key.substr(inline_check.size());
        keys.insert(key);
    }
    return keys;
}

bool is_table(const std::string& key, const std::set<std::string>& all) {
    for (const std::string& other : all)
        if (other.starts_with(key + ".") || other.starts_with(key + "[]")) return true;
    return false;
}

} // namespace

TEST_CASE("every config key the reader knows is documented, and nothing else") {
    std::set<std::string> documented = documented_keys();
    std::set<std::string> code = code_keys();
    REQUIRE(code.contains("dns.listen"));
    REQUIRE(code.contains("service[].checks[].interval"));
    REQUIRE(documented.contains("dns.forward.allow"));
    for (const std::string& key : code)
        if (!is_table(key, code)) CHECK_MESSAGE(documented.contains(key), key, " has no docs");
    for (const std::string& key : documented)
        CHECK_MESSAGE(code.contains(key), key, " is documented but not read");
}
