#pragma once
// The registry's records (see docs/architecture.md). Plain values, no I/O. Every
// record has an owning agent (`node`) and a `version` that only the owner
// raises; the newest version wins when records meet (gossip, later).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ip_address.hpp"
#include "core/result.hpp"

namespace cairn::registry {

// Wire values: append-only.
enum class Health : std::uint8_t { passing = 0, warning = 1, critical = 2, maintenance = 3 };

// Wire values: append-only. `unset` means the agent's [dns].policy.
enum class Policy : std::uint8_t {
    unset = 0,
    random = 1,
    round_robin = 2,
    weighted = 3,
    affinity = 4,
    fastest = 5,
    least_loaded = 6
};

enum class CheckKind : std::uint8_t { http = 0, tcp = 1, script = 2, ttl = 3 };

// Whether DNS answers serve instances in warning: `fallback` only when no
// instance passes, `always` beside the passing ones, `never`. The agent's
// [dns].serve_warning.
enum class ServeWarning : std::uint8_t { fallback = 0, always = 1, never = 2 };

using Address = cairn::IpAddress; // family 0 = unset

// "key" -> "value" in the order given; served as TXT "key=value" strings.
using Metadata = std::vector<std::pair<std::string, std::string>>;

struct CheckDefinition {
    std::string id;
    CheckKind kind = CheckKind::ttl;
    std::string target; // URL (http), host:port (tcp)
    std::string method = "GET";
    std::vector<std::pair<std::string, std::string>> headers;
    bool tls_skip_verify = false;
    std::vector<std::string> args; // script
    std::uint32_t ttl_ms = 0;
    std::uint32_t interval_ms = 10'000;
    std::uint32_t timeout_ms = 2'000;
    std::uint32_t success_before_passing = 1;
    std::uint32_t failures_before_warning = 1;
    std::uint32_t failures_before_critical = 1;
    std::uint32_t deregister_critical_after_ms = 0; // 0 = never

    friend bool operator==(const CheckDefinition&, const CheckDefinition&) = default;
};

struct CheckState {
    Health status = Health::critical;
    std::string output;              // at most 4 KiB
    std::int64_t last_change_ms = 0; // wall clock, ms since the epoch
    std::uint32_t latency_us = 0;    // moving average
    // The load the instance last reported with this check (lower is better;
    // docs/discovery.md "least_loaded"); none when it reported none or its
    // report went stale. Not persisted: a restart waits for the next report.
    std::optional<std::uint32_t> load = std::nullopt;

    friend bool operator==(const CheckState&, const CheckState&) = default;
};

struct Check {
    CheckDefinition definition;
    CheckState state;

    friend bool operator==(const Check&, const Check&) = default;
};

struct Instance {
    std::string id;
    std::string service;       // as registered; matched case-insensitively
    std::string node;          // owning agent
    std::uint64_t version = 0; // raised only by the owner
    Address address;
    std::uint16_t port = 0;
    std::vector<std::string> tags;
    Metadata meta;
    std::uint32_t weight = 1;
    Policy policy = Policy::unset;
    std::uint32_t ttl_ms = 0; // 0 = [dns].service_ttl
    std::vector<Check> checks;
    bool maintenance = false;
    std::string maintenance_reason;

    // Worst of the checks' statuses, or maintenance; passing with no checks.
    [[nodiscard]] Health health() const;
    // Moving average over the checks that measure latency; 0 if none do.
    [[nodiscard]] std::uint32_t latency_us() const;
    // The highest load its checks report; none if none does.
    [[nodiscard]] std::optional<std::uint32_t> load() const;

    friend bool operator==(const Instance&, const Instance&) = default;
};

// A deregistration: remembered so that an older copy of the instance arriving
// later (by gossip) does not bring it back. Collected after a while.
struct Tombstone {
    std::string id;
    std::string node;
    std::uint64_t version = 0;
    std::int64_t deleted_at_ms = 0;
};

struct Node {
    std::string name;
    std::string datacenter;
    Address address;
    std::vector<std::pair<std::string, std::string>> meta;
    bool alive = true;
};

// Lower-case names for logs, JSON and config ("passing", "round_robin");
// Policy::unset has the name "".
[[nodiscard]] std::string_view to_string(Health h);
[[nodiscard]] std::string_view to_string(Policy p);
[[nodiscard]] std::string_view to_string(CheckKind k);
[[nodiscard]] std::string_view to_string(ServeWarning s);
// The one name <-> value mapping for config and the HTTP API. A policy is
// one of the five names ("" and "unset" are not names: leaving the field out
// means the [dns] default); errors quote the text and list the names.
[[nodiscard]] Result<Policy> parse_policy(std::string_view text);
[[nodiscard]] Result<ServeWarning> parse_serve_warning(std::string_view text);
[[nodiscard]] std::optional<Health> parse_health(std::string_view text);

// What names one record (owner, id) in maps and broadcast queues:
// "<node>\n<id>". '\n' sorts before every printable character, so sorting
// keys sorts by node, then id.
[[nodiscard]] std::string record_key(std::string_view node, std::string_view id);

// ASCII lower case, as DNS compares names.
[[nodiscard]] std::string to_lower(std::string_view text);

} // namespace cairn::registry
