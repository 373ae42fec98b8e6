// Fuzzes the JSON registration decoder: any body gives an Instance or an
// error message that names a field, never a crash or an exception. An
// accepted registration must survive encode -> decode unchanged.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http/registration.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    cairn::http::RegistrationDefaults defaults;
    defaults.address.family = 4;
    defaults.address.bytes[0] = 127;
    defaults.address.bytes[3] = 1;
    auto decoded = cairn::http::decode_registration(body, defaults);
    if (!decoded) {
        if (decoded.error().message.empty()) std::abort();
        return 0;
    }
    nlohmann::json encoded = cairn::http::encode_instance(*decoded);
    (void)encoded.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto again = cairn::http::decode_registration_json(encoded, defaults);
    if (!again || !(*again == *decoded)) std::abort();
    return 0;
}
