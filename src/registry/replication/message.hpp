#pragma once
// cairn's replication messages: what travels inside memberlist's opaque user
// messages (packets and streams) and push-pull user state. A Go memberlist
// peer carries them without understanding them. docs/replication.md gives
// the byte layout.
//
// Every message starts with the format version, then its type. Version 2
// adds a check's reported load; an encoder writes version 1 when no record
// of the message needs 2 (no load, no least_loaded policy), so agents that
// speak only 1 keep replicating with it until loads are used. A decoder
// reads both; meeting another version or an unknown type it rejects the
// message with an error; it never throws and never reads past its input.

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "registry/types.hpp"

namespace cairn::registry::replication {

inline constexpr std::uint8_t format_version = 2;
inline constexpr std::uint8_t oldest_format_version = 1;
// Nothing larger is decoded: a reply chunk stays far below this.
inline constexpr std::size_t max_message_bytes = 1 << 20;

// Wire values: append-only.
enum class MessageType : std::uint8_t {
    update = 1,
    notice = 2,
    digest = 3,
    request = 4,
    reply = 5,
    summary = 6,
    audit = 7
};

// One record of an owner: its instance, or the tombstone that replaced it.
// `node` inside is the owner named by the message carrying it.
using Record = std::variant<Instance, Tombstone>;

[[nodiscard]] const std::string& record_id(const Record& r);
[[nodiscard]] std::uint64_t record_version(const Record& r);

// A change, broadcast by its owner and relayed by those it was new to.
// `prev` links the owner's changes into a chain: the owner had no record with
// a version between `prev` and this one, so a replica that already holds
// everything of the owner up to `prev` now holds everything up to this one.
struct Update {
    std::string owner;
    std::uint64_t prev = 0;
    Record record;
};

// Instead of an Update too large for a gossip packet: the owner has a record
// at `version`; whoever is behind asks the owner for it.
struct Notice {
    std::string owner;
    std::uint64_t prev = 0;
    std::uint64_t version = 0;
};

// Push-pull user state: for every owner, the version up to which the sender
// holds all of that owner's records (its watermark).
// The same sent as a stream message, when a node comes (back) alive, asks
// for the receiver's digest in return (`answer`), so both sides catch up at
// once instead of at the next push-pull.
struct Digest {
    std::string from;
    std::vector<std::pair<std::string, std::uint64_t>> watermarks; // (owner, version)
    bool answer = false;
};

// "Send me owner X's records with a version above v", for several owners.
struct Request {
    std::string from;
    std::vector<std::pair<std::string, std::uint64_t>> wants; // (owner, after)
};

// One chunk of an answer: every record of `owner` that the sender holds with
// a version in (after, upto], in version order. `more` says the sender
// stopped at its byte budget and holds records above `upto`.
struct Reply {
    std::string from;
    std::string owner;
    std::uint64_t after = 0;
    std::uint64_t upto = 0;
    bool more = false;
    std::vector<Record> records;
};

// Push-pull user state when nothing needs repair: a fingerprint of the
// sender's digest (digest_fingerprint). A receiver whose own fingerprint
// differs sends its whole digest back, asking for the sender's in return;
// one whose fingerprint is equal knows the two digests are equal.
struct Summary {
    std::string from;
    std::uint64_t fingerprint = 0;
};

// From an owner to a peer whose watermark for it is `upto`: a fingerprint
// (records_fingerprint) of the owner's records with a version in
// (after, upto]. A peer whose copies of that range differ answers with a
// Reply of what it holds above `after`; one whose copies are equal sends
// nothing. It is how a restarted owner finds copies of records it lost
// (docs/replication.md, "After a restart") without having them all sent.
struct Audit {
    std::string from;
    std::uint64_t after = 0;
    std::uint64_t upto = 0;
    std::uint64_t fingerprint = 0;
};

using Message = std::variant<Update, Notice, Digest, Request, Reply, Summary, Audit>;

// A digest's fingerprint: the same for the same set of (owner, watermark)
// pairs with a watermark above 0, whatever their order; 64 bits of FNV-1a
// over the pairs sorted by owner, then mixed (splitmix64's finalizer).
[[nodiscard]] std::uint64_t
digest_fingerprint(std::vector<std::pair<std::string, std::uint64_t>> watermarks);
// An instance with its checks' latency and load cleared: they drift
// without a new version, so two copies of one version are compared without.
[[nodiscard]] Instance without_drift(Instance instance);
// Records' fingerprint, the same way over their encodings (instances
// without_drift) in the order given.
[[nodiscard]] std::uint64_t records_fingerprint(std::span<const Record> records);

[[nodiscard]] std::vector<std::uint8_t> encode(const Message& message);
// Size of one record inside a Reply, for chunking by bytes.
[[nodiscard]] std::size_t encoded_size(const Record& record);
[[nodiscard]] Result<Message> decode(std::span<const std::uint8_t> bytes);

} // namespace cairn::registry::replication
