#include "config/values.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <charconv>

namespace cairn::config {
namespace {

constexpr std::int64_t max_duration_ms = 366LL * 24 * 3600 * 1000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The unit at the start of `text` in milliseconds, and its length; 0 if none.
std::pair<std::int64_t, std::size_t> read_unit(std::string_view text)
{
    if (text.starts_with("ms"))
        return {1, 2};
    if (text.starts_with("s"))
        return {1'000, 1};
    if (text.starts_with("m"))
        return {60'000, 1};
    if (text.starts_with("h"))
        return {3'600'000, 1};
    return {0, 0};
}

} // namespace

Result<Duration> parse_duration(std::string_view text)
{
    if (text == "0")
        return Duration{0};
    if (text.empty())
        return fail("\"\" is not a duration (expected e.g. \"5s\", \"250ms\", \"1m\", \"1h\")");
    auto bad = [&] {
        return fail("\"{}\" is not a duration (expected e.g. \"5s\", \"250ms\", \"1m\", \"1h\")", text);
    };
    std::int64_t total_ms = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        std::size_t i = 0;
        std::int64_t whole = 0;
        while (i < rest.size() && is_digit(rest[i])) {
            whole = whole * 10 + (rest[i] - '0');
            if (whole > max_duration_ms)
                return fail("\"{}\" is too long a duration (at most 366 days)", text);
            ++i;
        }
        std::size_t whole_digits = i;
        std::int64_t fraction = 0, scale = 1;
        if (i < rest.size() && rest[i] == '.') {
            ++i;
            std::size_t start = i;
            while (i < rest.size() && is_digit(rest[i])) {
                if (scale < 1'000'000'000) {
                    fraction = fraction * 10 + (rest[i] - '0');
                    scale *= 10;
                }
                ++i;
            }
            if (i == start)
                return bad();
        }
        if (whole_digits == 0 && scale == 1)
            return bad();
        auto [unit_ms, unit_len] = read_unit(rest.substr(i));
        if (unit_len == 0)
            return bad();
        if (whole > max_duration_ms / unit_ms)
            return fail("\"{}\" is too long a duration (at most 366 days)", text);
        total_ms += whole * unit_ms + fraction * unit_ms / scale;
        if (total_ms > max_duration_ms)
            return fail("\"{}\" is too long a duration (at most 366 days)", text);
        rest.remove_prefix(i + unit_len);
    }
    return Duration{total_ms};
}

std::string format_duration(Duration d)
{
    std::int64_t ms = d.count();
    if (ms == 0)
        return "0";
    if (ms % 1000 != 0)
        return fmt::format("{}ms", ms);
    std::string out;
    std::int64_t s = ms / 1000;
    if (s >= 3600) {
        out += fmt::format("{}h", s / 3600);
        s %= 3600;
    }
    if (s >= 60) {
        out += fmt::format("{}m", s / 60);
        s %= 60;
    }
    if (s > 0)
        out += fmt::format("{}s", s);
    return out;
}

Result<void> check_label(std::string_view text)
{
    if (text.empty())
        return fail("must not be empty");
    if (text.size() > 63)
        return fail("\"{}\" is longer than a DNS label (63 characters)", text);
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (!std::isalnum(u) && c != '-')
            return fail("\"{}\" is not a DNS label (letters, digits and '-' only)", text);
    }
    if (text.front() == '-' || text.back() == '-')
        return fail("\"{}\" is not a DNS label (it may not start or end with '-')", text);
    return {};
}

Result<std::string> normalize_domain(std::string_view text)
{
    std::string lower;
    lower.reserve(text.size() + 1);
    for (char c : text)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.empty() || lower == ".")
        return fail("\"{}\" is not a domain: it must have at least one label", text);
    if (lower.back() != '.')
        lower += '.';
    if (lower.size() > 254)
        return fail("\"{}\" is longer than a domain name may be (253 characters)", text);
    std::string_view rest(lower.data(), lower.size() - 1);
    while (true) {
        auto dot = rest.find('.');
        auto label = rest.substr(0, dot);
        if (auto r = check_label(label); !r)
            return fail("\"{}\" is not a domain: label {}", text, label.empty() ? "is empty" : r.error().message);
        if (dot == std::string_view::npos)
            break;
        rest.remove_prefix(dot + 1);
    }
    return lower;
}

Result<void> check_ip_address(std::string_view text)
{
    std::string s(text);
    unsigned char buf[16];
    if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1)
        return {};
    return fail("\"{}\" is not an IP address", text);
}

Result<void> check_cidr(std::string_view text)
{
    auto slash = text.find('/');
    std::string addr(text.substr(0, slash));
    unsigned char buf[16];
    unsigned max_bits = 0;
    if (inet_pton(AF_INET, addr.c_str(), buf) == 1)
        max_bits = 32;
    else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1)
        max_bits = 128;
    else
        return fail("\"{}\" is not a CIDR prefix (expected e.g. \"10.0.0.0/8\" or \"::1/128\")", text);
    if (slash == std::string_view::npos)
        return {};
    auto bits_text = text.substr(slash + 1);
    unsigned bits = 0;
    auto [end, ec] = std::from_chars(bits_text.data(), bits_text.data() + bits_text.size(), bits);
    if (bits_text.empty() || ec != std::errc() || end != bits_text.data() + bits_text.size() || bits > max_bits)
        return fail("\"{}\" is not a CIDR prefix: the length must be 0 to {}", text, max_bits);
    return {};
}

Result<void> check_base64_key(std::string_view text, std::size_t bytes)
{
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '+')
            return 62;
        if (c == '/')
            return 63;
        return -1;
    };
    if (text.size() % 4 != 0)
        return fail("is not base64 (its length is not a multiple of 4)");
    std::size_t padding = 0;
    while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=')
        ++padding;
    for (std::size_t i = 0; i + padding < text.size(); ++i)
        if (value(text[i]) < 0)
            return fail("is not base64 (bad character at offset {})", i);
    std::size_t decoded = text.size() / 4 * 3 - padding;
    if (decoded != bytes)
        return fail("decodes to {} bytes, expected {} (make one with `cairn keygen`)", decoded, bytes);
    return {};
}

} // namespace cairn::config
