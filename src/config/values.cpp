#include "config/values.hpp"

#include <cctype>
#include <charconv>

#include <fmt/ranges.h>

#include "core/base64.hpp"
#include "core/ip_address.hpp"
#include "core/text.hpp"
#include "registry/validate.hpp"

namespace cairn::config {

Result<std::string> normalize_domain(std::string_view text) {
    std::string lower;
    lower.reserve(text.size() + 1);
    for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.empty() || lower == ".")
        return fail("{} is not a domain: it must have at least one label", quote(text));
    if (lower.back() != '.') lower += '.';
    if (lower.size() > 254)
        return fail("{} is longer than a domain name may be (253 characters)", quote(text));
    std::string_view rest(lower.data(), lower.size() - 1);
    while (true) {
        auto dot = rest.find('.');
        auto label = rest.substr(0, dot);
        if (auto r = registry::check_label(label); !r)
            return fail("{} is not a domain: label {}", quote(text),
                        label.empty() ? "is empty" : r.error().message);
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    return lower;
}

Result<void> check_ip_address(std::string_view text) {
    if (auto a = parse_ip_address(text); !a) return std::unexpected(a.error());
    return {};
}

Result<void> check_cidr(std::string_view text) {
    auto slash = text.find('/');
    auto addr = parse_ip_address(text.substr(0, slash));
    if (!addr)
        return fail("{} is not a CIDR prefix (expected e.g. \"10.0.0.0/8\" or \"::1/128\")",
                    quote(text));
    unsigned max_bits = addr->family == 4 ? 32 : 128;
    if (slash == std::string_view::npos) return {};
    auto bits_text = text.substr(slash + 1);
    unsigned bits = 0;
    auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (bits_text.empty() || ec != std::errc() || end != bits_text.data() + bits_text.size() ||
        bits > max_bits)
        return fail("{} is not a CIDR prefix: the length must be 0 to {}", quote(text), max_bits);
    return {};
}

Result<void> check_base64_key(std::string_view text, std::span<const std::size_t> sizes) {
    auto bytes = base64_decode(text);
    if (!bytes) return fail("is not base64 ({})", bytes.error().message);
    for (auto size : sizes)
        if (bytes->size() == size) return {};
    return fail("decodes to {} bytes, expected {} (make one with `cairn keygen`)", bytes->size(),
                fmt::join(sizes, ", "));
}

} // namespace cairn::config
