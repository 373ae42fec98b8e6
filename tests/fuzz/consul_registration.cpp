// Fuzzes the Consul registration and check update decoders: any body gives
// a valid Instance (the rulebook agrees) or an error message, never a crash
// or an exception. Also the Go duration parser, on the same bytes.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "http/consul_decode.hpp"
#include "http/json_body.hpp"
#include "registry/validate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    if (auto d = cairn::parse_go_duration(body); d && d->count() < 0) std::abort();
    auto j = cairn::http::parse_json_body(body);
    if (!j) return 0;
    cairn::http::RegistrationDefaults defaults;
    defaults.address.family = 4;
    defaults.address.bytes[0] = 127;
    defaults.address.bytes[3] = 1;
    auto decoded = cairn::http::decode_consul_registration(*j, defaults);
    if (decoded) {
        if (!cairn::registry::validate(*decoded)) std::abort();
    } else if (decoded.error().message.empty()) {
        std::abort();
    }
    auto update = cairn::http::decode_consul_check_update(*j);
    if (!update && update.error().message.empty()) std::abort();
    return 0;
}
