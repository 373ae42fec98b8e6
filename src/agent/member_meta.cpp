#include "agent/member_meta.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace cairn::agent {

namespace {

constexpr std::string_view default_datacenter = "dc1"; // config's default

// "key=value" lines.
std::vector<std::pair<std::string, std::string>> decode_meta(std::span<const std::uint8_t> meta) {
    std::vector<std::pair<std::string, std::string>> out;
    std::string_view text(reinterpret_cast<const char*>(meta.data()), meta.size());
    while (!text.empty()) {
        auto end = text.find('\n');
        auto line = text.substr(0, end);
        if (auto eq = line.find('='); eq != std::string_view::npos)
            out.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return out;
}

// The binary form's first byte: 1 + the major version, below any printable
// key of the text form.
constexpr std::uint8_t binary_meta_base = 1;
constexpr unsigned binary_meta_majors = 0x20 - binary_meta_base;

// "X.Y.Z" as three bytes, when it is that (no leading zeros, so that it reads
// back as it was written) and they fit.
std::optional<std::array<std::uint8_t, 3>> version_bytes(std::string_view version) {
    std::array<std::uint8_t, 3> out{};
    const char* p = version.data();
    const char* end = p + version.size();
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (i > 0 && (p == end || *p++ != '.')) return std::nullopt;
        unsigned v = 0;
        auto [next, ec] = std::from_chars(p, end, v);
        if (ec != std::errc() || (*p == '0' && next - p > 1) ||
            v > (i == 0 ? binary_meta_majors - 1 : 255u))
            return std::nullopt;
        out[i] = static_cast<std::uint8_t>(v);
        p = next;
    }
    if (p != end) return std::nullopt;
    out[0] = static_cast<std::uint8_t>(out[0] + binary_meta_base);
    return out;
}

} // namespace

gossip::Bytes encode_agent_meta(const std::string& datacenter, const std::string& version) {
    const std::string_view dc =
        datacenter == default_datacenter ? std::string_view() : std::string_view(datacenter);
    if (auto v = version_bytes(version)) {
        gossip::Bytes meta(v->begin(), v->end());
        meta.insert(meta.end(), dc.begin(), dc.end());
        return meta;
    }
    std::string text = dc.empty() ? std::string() : fmt::format("dc={}\n", dc);
    text += "v=" + version;
    return gossip::Bytes(text.begin(), text.end());
}

std::vector<std::pair<std::string, std::string>> member_meta(std::span<const std::uint8_t> meta) {
    if (meta.size() >= 3 && meta[0] >= binary_meta_base &&
        meta[0] < binary_meta_base + binary_meta_majors) {
        const auto dc = meta.subspan(3);
        return {{"dc",
                 dc.empty() ? std::string(default_datacenter) : std::string(dc.begin(), dc.end())},
                {"version", fmt::format("{}.{}.{}", meta[0] - binary_meta_base, meta[1], meta[2])}};
    }
    auto pairs = decode_meta(meta);
    auto version =
        std::find_if(pairs.begin(), pairs.end(), [](const auto& p) { return p.first == "v"; });
    if (version == pairs.end()) return pairs;
    std::vector<std::pair<std::string, std::string>> out;
    auto dc =
        std::find_if(pairs.begin(), pairs.end(), [](const auto& p) { return p.first == "dc"; });
    out.emplace_back("dc", dc == pairs.end() ? std::string(default_datacenter) : dc->second);
    out.emplace_back("version", version->second);
    for (auto& p : pairs)
        if (p.first != "v" && p.first != "dc") out.push_back(std::move(p));
    return out;
}

} // namespace cairn::agent
