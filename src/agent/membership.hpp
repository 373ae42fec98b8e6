#pragma once
// The agent's gossip membership: turns `[gossip]` (and `--join`) into a
// gossip::Host on the main loop, gives it this agent's metadata, logs the
// events one line each, and shows the members to the HTTP API and /metrics.
// The registry's replication plugs in as the user-message delegate.
//
// Main thread only.

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/keyring_file.hpp"
#include "agent/member_meta.hpp"
#include "config/config.hpp"
#include "core/result.hpp"
#include "gossip/delegate.hpp"
#include "gossip/keyring.hpp"
#include "gossip/time.hpp"
#include "registry/types.hpp"

namespace cairn {
class Background;
class Loop;
} // namespace cairn
namespace cairn::gossip {
class Host;
class Memberlist;
struct Node;
} // namespace cairn::gossip

namespace cairn::agent {

class Membership final : gossip::EventDelegate, gossip::ConflictDelegate {
public:
    // What rides on membership (the registry's replication): user messages
    // and state, the member events, and work to do after each engine call.
    // Any may be null; they must outlive this.
    struct User {
        gossip::Delegate* delegate = nullptr;
        gossip::EventDelegate* events = nullptr;
        std::function<void(gossip::Memberlist&, gossip::TimePoint)> after_call;
    };

    Membership(Loop& loop, const config::Config& config, registry::Address address,
               std::vector<std::string> extra_join, User user);
    ~Membership() override;

    Result<void> start();
    // Graceful leave; `done` runs once the others have been told (or after a
    // bounded wait).
    void leave(std::function<void()> done);

    // GET /v1/members: one object per member, this agent included.
    [[nodiscard]] nlohmann::json members_json() const;
    // GET /v1/keyring: {"primary": KEY, "keys": [KEY...]}, base64, primary
    // first; both empty when gossip is not encrypted.
    [[nodiscard]] nlohmann::json keyring_json() const;
    // A keyring change (memberlist's rules, plan_keyring_change), written to
    // data_dir/keyring.json on a thread of its own before it takes effect;
    // `done` runs on the loop with the keyring after it, or the refusal.
    // Changes are made one at a time, in the order they came. This agent
    // only: the operator (or a tool) runs it on every agent.
    using KeyringDone = std::function<void(std::expected<nlohmann::json, KeyringRefusal>)>;
    void change_keyring(KeyringOp op, std::string key, KeyringDone done);

    // Prometheus lines: members by state, messages, probes, refutations, the
    // awareness score, decrypt failures.
    [[nodiscard]] std::string metrics() const;
    [[nodiscard]] gossip::Host& host() { return *host_; }

private:
    void notify_join(const gossip::Node& node) override;
    void notify_leave(const gossip::Node& node) override;
    void notify_update(const gossip::Node& node) override;
    void notify_conflict(const gossip::Node& existing, const gossip::Node& other) override;

    class MetaDelegate;
    struct KeyringChange {
        KeyringOp op;
        std::string key;
        KeyringDone done;
    };
    // Plans and starts the next queued keyring change, when no write runs.
    void next_keyring_change();

    Loop& loop_;
    const config::Config& config_;
    registry::Address address_;
    std::vector<std::string> join_;
    User user_;
    gossip::Keyring keyring_;
    std::unique_ptr<MetaDelegate> meta_;
    std::unique_ptr<gossip::Host> host_;
    std::deque<KeyringChange> keyring_changes_;
    // Last: destroyed first, so a write still running is waited for (its
    // answer is dropped) before anything it would touch goes.
    std::unique_ptr<Background> keyring_writer_;
};

} // namespace cairn::agent
