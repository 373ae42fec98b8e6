#include <doctest/doctest.h>

#include "config/config.hpp"
#include "config/toml_guard.hpp"

using namespace cairn::config;

TEST_CASE("valid TOML passes the pre-scan, non-ASCII in strings and comments included") {
    const char* valid[] = {
        "",
        "a = 1\n",
        "# comment with é and 漢字\nname = \"wéb ✓\"\n",
        "s = 'litéral'\n",
        "m = \"\"\"\nline [with] bracket\n[not a header]\né\n\"\"\"\n",
        "m = '''\n[`still a string]\nü\n'''\n",
        "q = \"\"\"ends with quotes\"\"\"\"\"\n[t]\nx = 1\n",
        "e = \"escaped \\\" quote ü\"\n[t]\n",
        "arr = [\n  [1, 2],\n  [ [3] ],\n  { a = [4] },\n]\n[table]\n",
        "[ \"quoted key\" ]\n[[ aot ]]\n[a.'b'.c]\n",
        "x = 1 # trailing comment é\r\n[t]\r\n",
    };
    for (const char* text : valid) {
        CAPTURE(text);
        CHECK(prescan_toml(text, "t.toml"));
    }
}

TEST_CASE("non-ASCII outside strings is rejected with its line") {
    auto r = prescan_toml("a = 1\n\xc3\xa9 = 1\n", "t.toml");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.starts_with("t.toml:2: a non-ASCII character outside a string"));
    CHECK_FALSE(prescan_toml("a = 1\n\xd0\x97 = 1\n", "t.toml"));
    CHECK_FALSE(prescan_toml("a = \"x\" \xc3\xa9\n", "t.toml"));
}

TEST_CASE("table headers must start with a key") {
    for (const char* bad :
         {"[`service]]\n", "[}ossip]\n", "[[[1]]]\n", "[[=\n", "a = 1\n[ \n", "[\n"}) {
        CAPTURE(bad);
        auto r = prescan_toml(bad, "t.toml");
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("a table header needs a key") != std::string::npos);
    }
    CHECK(prescan_toml("a = 1\n[`x]\n", "t.toml").error().message.starts_with("t.toml:2:"));
}

TEST_CASE("parse_config runs the pre-scan first") {
    auto c = parse_config("node_name = \"a\"\n[}ossip]\n", "agent.toml");
    REQUIRE_FALSE(c);
    CHECK(c.error().message.starts_with("agent.toml:2: a table header needs a key"));
}
