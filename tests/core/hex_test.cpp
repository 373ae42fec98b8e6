#include <doctest/doctest.h>

#include <array>
#include <cstdint>

#include "core/hex.hpp"

using namespace cairn;

TEST_CASE("to_hex writes two lower-case digits a byte and hex_value reads them back") {
    constexpr std::array<std::uint8_t, 5> bytes{0x00, 0x0f, 0xa5, 0xf0, 0xff};
    CHECK(to_hex(bytes) == "000fa5f0ff");
    CHECK(to_hex(std::string_view("\x01\xfe", 2)) == "01fe");
    CHECK(to_hex(std::string_view()).empty());
    std::string text = to_hex(bytes);
    for (std::size_t i = 0; i < bytes.size(); ++i)
        CHECK(hex_value(text[2 * i]) * 16 + hex_value(text[2 * i + 1]) == bytes[i]);
    CHECK(hex_value('F') == 15);
    CHECK(hex_value('g') == -1);
}
