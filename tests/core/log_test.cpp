#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "core/log.hpp"

using namespace cairn;

TEST_CASE("logfmt lines quote values that need it") {
    auto line = log::format_line(log::Level::warn, "zone reload failed",
                                 {{"file", "a b.zone"}, {"line", 12}}, false);
    CHECK(line.find("level=warn") != std::string::npos);
    CHECK(line.find("msg=\"zone reload failed\"") != std::string::npos);
    CHECK(line.find("file=\"a b.zone\"") != std::string::npos);
    CHECK(line.find("line=12") != std::string::npos);
}

TEST_CASE("a line starts with its time in UTC, to the millisecond") {
    const auto line = log::format_line(log::Level::info, "x", {}, false);
    CAPTURE(line);
    REQUIRE(line.size() > 28);
    const std::string ts = line.substr(0, 28); // ts=YYYY-MM-DDTHH:MM:SS.mmmZ
    for (std::size_t i :
         {3u, 4u, 5u, 6u, 8u, 9u, 11u, 12u, 14u, 15u, 17u, 18u, 20u, 21u, 23u, 24u, 25u})
        CHECK(std::isdigit(static_cast<unsigned char>(ts[i])));
    CHECK(ts.substr(0, 3) == "ts=");
    CHECK(ts[13] == 'T');
    CHECK(ts[22] == '.');
    CHECK(ts[26] == 'Z');
    CHECK(line[27] == ' ');
}

TEST_CASE("JSON lines escape quotes and control characters") {
    auto line = log::format_line(log::Level::info, "x", {{"v", "a\"b\n"}}, true);
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
    CHECK(line.find("\"v\":\"a\\\"b\\n\"") != std::string::npos);
}

TEST_CASE("levels parse by name") {
    CHECK(log::parse_level("debug").value() == log::Level::debug);
    CHECK_FALSE(log::parse_level("loud").has_value());
}
