// parse_config on arbitrary bytes: it must return a config or an error
// naming a line, never crash, hang or leak. A parsed config must also
// pass the registry's validate() again (its defaults are already filled in).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.hpp"
#include "config/values.hpp"
#include "registry/validate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto config = cairn::config::parse_config(text, "fuzz.toml");
    if (config) {
        for (const auto& service : config->services)
            if (!cairn::registry::validate(service))
                std::abort(); // a config that parsed must stay valid
        if (config->domain.empty() || config->domain.back() != '.') std::abort();
    } else if (!config.error().message.starts_with("fuzz.toml")) {
        std::abort(); // every error names where it is
    }
    // The value parsers see the raw bytes too.
    (void)cairn::parse_duration(text);
    (void)cairn::parse_ip_address(text);
    (void)cairn::config::normalize_domain(text);
    (void)cairn::config::check_cidr(text);
    return 0;
}
