// Fuzzes what the agent reads back at start-up: a state.db row (the binary
// instance codec) and the legacy services.json it imports. The first byte
// picks which. Any input gives an instance or an error that says why, never
// a crash; an accepted row survives encode -> decode unchanged.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/state_rows.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 2 == 0) {
        auto row = cairn::agent::decode_row_body(input, 0);
        if (!row) {
            if (row.error().message.empty()) std::abort();
            return 0;
        }
        auto again = cairn::agent::decode_row(row->id, 7, cairn::agent::encode_row(*row), 0);
        if (!again) std::abort();
        again->version = row->version;
        if (!(*again == *row)) std::abort();
        return 0;
    }
    cairn::http::RegistrationDefaults defaults;
    defaults.address.family = 4;
    defaults.address.bytes[0] = 127;
    defaults.address.bytes[3] = 1;
    auto state = cairn::agent::decode_state(input, defaults);
    if (!state) {
        if (state.error().message.empty()) std::abort();
        return 0;
    }
    for (const auto& r : state->rejected)
        if (r.error.empty()) std::abort();
    return 0;
}
