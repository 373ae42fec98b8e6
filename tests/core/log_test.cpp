#include <doctest/doctest.h>

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
