#pragma once
// The agent's gossip keyring on disk and its rules: `data_dir/keyring.json`,
// a JSON array of base64 keys, primary first (the layout of Serf's keyring
// file). Once it exists it is the keyring at start, whatever `[gossip]
// encrypt` says; an agent started with `encrypt` and no file writes the file
// from it. Changes (install, use, remove) are memberlist's keyring rules and
// are written to the file before they take effect.
//
// Pure functions and two file calls (load, save); no loop, no sockets.

#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "gossip/keyring.hpp"

namespace cairn::agent {

// data_dir/keyring.json
[[nodiscard]] std::string keyring_path(const std::string& data_dir);

// The file's text to a keyring: a non-empty array of distinct base64 keys of
// 16, 24 or 32 bytes, primary first. Errors name the entry ("[1]: ...").
[[nodiscard]] Result<gossip::Keyring> parse_keyring_file(std::string_view text);
// The keyring as the file holds it (one key per line, primary first).
[[nodiscard]] std::string format_keyring_file(const gossip::Keyring& keyring);

// The file's keyring, or nullopt when there is no file.
[[nodiscard]] Result<std::optional<gossip::Keyring>> load_keyring_file(const std::string& path);
// Writes the file atomically (a temporary file, fsync, rename, fsync of the
// directory), mode 0600: a crash leaves the old keyring or the new one.
[[nodiscard]] Result<void> save_keyring_file(const std::string& path,
                                             const gossip::Keyring& keyring);

// Where the keyring at start came from.
enum class KeyringSource {
    none,    // no file and no [gossip] encrypt: gossip is not encrypted
    file,    // data_dir/keyring.json
    encrypt, // [gossip] encrypt, and the file was written from it
};

struct StartKeyring {
    gossip::Keyring keyring;
    KeyringSource source = KeyringSource::none;
    // The file exists and [gossip] encrypt names a key that is not its
    // primary: the file wins, and the agent says so in its log.
    bool encrypt_ignored = false;
};

// The rule at start: the file if it exists; else `encrypt` (base64, may be
// empty), written to the file so that runtime changes have a place to live.
[[nodiscard]] Result<StartKeyring> start_keyring(const std::string& path, std::string_view encrypt);

// A keyring change the HTTP API asked for, decided without touching
// anything: the keyring it would make, or why it is refused.
enum class KeyringOp { install, use, remove };

struct KeyringRefusal {
    enum class Kind {
        bad_key,       // not base64, or not 16, 24 or 32 bytes
        not_installed, // use of a key the keyring does not hold
        primary,       // remove of the primary key
        disabled,      // the agent runs without encryption
        not_stored,    // the keyring file could not be written: nothing changed
    };
    Kind kind;
    std::string message;
};

[[nodiscard]] std::expected<gossip::Keyring, KeyringRefusal>
plan_keyring_change(const gossip::Keyring& current, KeyringOp op, std::string_view key_base64);

[[nodiscard]] std::string_view to_string(KeyringOp op);

} // namespace cairn::agent
