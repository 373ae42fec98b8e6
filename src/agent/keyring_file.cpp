// The keyring file's format and the rules of a change: pure (the fuzz
// harness tests/fuzz/keyring_file.cpp builds this file alone). Reading and
// writing the file: keyring_store.cpp.

#include "agent/keyring_file.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "http/json_body.hpp"

namespace cairn::agent {

namespace fs = std::filesystem;

namespace {

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return std::ranges::equal(a, b);
}

} // namespace

std::string keyring_path(const std::string& data_dir) {
    return (fs::path(data_dir) / "keyring.json").string();
}

Result<gossip::Keyring> parse_keyring_file(std::string_view text) {
    auto j = http::parse_json_body(text, 4);
    if (!j) return std::unexpected(j.error());
    if (!j->is_array()) return fail("expected a JSON array of base64 keys, primary first");
    if (j->empty()) return fail("no keys (delete the file to run without encryption)");
    std::vector<gossip::Bytes> keys;
    for (std::size_t i = 0; i < j->size(); ++i) {
        const auto& v = (*j)[i];
        if (!v.is_string()) return fail("[{}]: expected a base64 key (a string)", i);
        auto key = gossip::parse_key(v.get<std::string>());
        if (!key) return fail("[{}]: {}", i, key.error().message);
        for (std::size_t k = 0; k < keys.size(); ++k)
            if (same(keys[k], *key)) return fail("[{}]: the same key as [{}]", i, k);
        keys.push_back(std::move(*key));
    }
    std::span<const gossip::Bytes> rest(keys.begin() + 1, keys.end());
    return gossip::Keyring::create(rest, keys.front());
}

std::string format_keyring_file(const gossip::Keyring& keyring) {
    std::string out = "[";
    for (std::size_t i = 0; i < keyring.keys().size(); ++i)
        out +=
            fmt::format("{}\n  \"{}\"", i == 0 ? "" : ",", gossip::format_key(keyring.keys()[i]));
    out += "\n]\n";
    return out;
}

std::expected<gossip::Keyring, KeyringRefusal>
plan_keyring_change(const gossip::Keyring& current, KeyringOp op, std::string_view key_base64) {
    using Kind = KeyringRefusal::Kind;
    auto key = gossip::parse_key(key_base64);
    if (!key) return std::unexpected(KeyringRefusal{Kind::bad_key, "key: " + key.error().message});
    if (!current.enabled())
        return std::unexpected(KeyringRefusal{
            Kind::disabled, "gossip encryption is off on this agent (no [gossip] encrypt and no "
                            "keyring file at its start): there is no keyring to change"});
    gossip::Keyring next = current;
    bool installed =
        std::ranges::any_of(current.keys(), [&](const gossip::Bytes& k) { return same(k, *key); });
    switch (op) {
    case KeyringOp::install:
        if (auto r = next.add_key(*key); !r)
            return std::unexpected(KeyringRefusal{Kind::bad_key, "key: " + r.error().message});
        break;
    case KeyringOp::use:
        if (!installed)
            return std::unexpected(KeyringRefusal{
                Kind::not_installed, "key: not installed on this agent (install it first)"});
        (void)next.use_key(*key);
        break;
    case KeyringOp::remove:
        if (same(current.primary(), *key))
            return std::unexpected(
                KeyringRefusal{Kind::primary, "key: is the primary key, which cannot be removed "
                                              "(make another key primary with use first)"});
        (void)next.remove_key(*key);
        break;
    }
    return next;
}

std::string_view to_string(KeyringOp op) {
    switch (op) {
    case KeyringOp::install:
        return "install";
    case KeyringOp::use:
        return "use";
    case KeyringOp::remove:
        return "remove";
    }
    return "?";
}

} // namespace cairn::agent
