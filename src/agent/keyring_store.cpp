// Reading and writing data_dir/keyring.json, and the rule at start.

#include "agent/keyring_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "agent/state_store.hpp"

namespace cairn::agent {

namespace fs = std::filesystem;

namespace {

// A keyring file is a few keys; anything larger is not one.
constexpr std::uintmax_t max_file_bytes = 64 << 10;

} // namespace

Result<std::optional<gossip::Keyring>> load_keyring_file(const std::string& path) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) return fail("{}: {}", path, ec.message());
    if (!fs::exists(status)) return std::optional<gossip::Keyring>();
    if (!fs::is_regular_file(status)) return fail("{}: not a regular file", path);
    if (auto size = fs::file_size(path, ec); ec || size > max_file_bytes)
        return fail("{}: {}", path, ec ? ec.message() : "larger than 64 KiB, not a keyring");
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail("{}: cannot read it: {}", path, std::strerror(errno));
    std::string text(std::istreambuf_iterator<char>(in), {});
    auto ring = parse_keyring_file(text);
    if (!ring) return fail("{}: {}", path, ring.error().message);
    return std::optional<gossip::Keyring>(std::move(*ring));
}

Result<void> save_keyring_file(const std::string& path, const gossip::Keyring& keyring) {
    if (!keyring.enabled()) return fail("{}: a keyring file holds at least one key", path);
    return write_file_atomically(path, format_keyring_file(keyring));
}

Result<StartKeyring> start_keyring(const std::string& path, std::string_view encrypt) {
    StartKeyring out;
    auto loaded = load_keyring_file(path);
    if (!loaded) return std::unexpected(loaded.error());
    if (*loaded) {
        out.keyring = std::move(**loaded);
        out.source = KeyringSource::file;
        if (!encrypt.empty()) {
            auto key = gossip::parse_key(encrypt);
            out.encrypt_ignored = !key || !std::ranges::equal(*key, out.keyring.primary());
        }
        return out;
    }
    if (encrypt.empty()) return out;
    auto key = gossip::parse_key(encrypt);
    if (!key) return fail("gossip.encrypt: {}", key.error().message);
    if (auto r = out.keyring.add_key(*key); !r)
        return fail("gossip.encrypt: {}", r.error().message);
    if (auto r = save_keyring_file(path, out.keyring); !r) return std::unexpected(r.error());
    out.source = KeyringSource::encrypt;
    return out;
}

} // namespace cairn::agent
