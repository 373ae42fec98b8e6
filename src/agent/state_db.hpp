#pragma once
// The state database: data_dir/state.db, SQLite in WAL mode, one row per
// record this agent owns (an instance with its checks, or the tombstone of a
// deregistered one), so that a write costs the same however many records are
// stored. Blocking calls: the state store runs commits on its writer thread
// and reads everything once, at start-up.
//
// One StateDb is used by one thread at a time.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "registry/types.hpp"

struct sqlite3;

namespace cairn::agent {

// How far a commit goes before it returns (PRAGMA synchronous): fsync =
// FULL (the WAL is fsynced at every commit: survives a power loss), normal =
// NORMAL (fsync at checkpoints only), none = OFF (never). All three survive
// a crash of the process: a commit has written the WAL before it returns.
enum class SyncMode { none, normal, fsync };

// One change to a record: an instance stored, or a tombstone replacing it.
struct Change {
    std::optional<registry::Instance> instance;
    std::optional<registry::Tombstone> tombstone;
    [[nodiscard]] const std::string& id() const { return instance ? instance->id : tombstone->id; }
    [[nodiscard]] std::uint64_t version() const {
        return instance ? instance->version : tombstone->version;
    }
};

struct StoredRow {
    std::string id;
    std::uint64_t version = 0;
    std::string body; // binary, state_rows.hpp
};

struct StoredState {
    std::vector<StoredRow> instances;
    std::vector<registry::Tombstone> tombstones; // node left empty: this agent's
    std::uint64_t counter = 0;                   // the highest version ever committed
    bool migrated = false;                       // services.json was imported
};

class StateDb {
public:
    // Opens (creating it if needed) and proves that a write commits: a
    // data_dir that cannot be written fails here, naming the file.
    static Result<std::unique_ptr<StateDb>> open(const std::string& path, SyncMode sync);
    ~StateDb();
    StateDb(const StateDb&) = delete;
    StateDb& operator=(const StateDb&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }

    [[nodiscard]] Result<StoredState> read_all();
    // One transaction: every change, in order, and the counter raised to
    // the highest version among them. Nothing is written when it fails.
    Result<void> commit(std::span<const Change> changes) { return commit_with(changes, {}); }
    // The same, and services.json counts as imported.
    Result<void> commit_import(std::span<const Change> changes);
    // The same, and the time of a clean stop.
    Result<void> commit_stop(std::span<const Change> changes, std::int64_t now_ms);
    // Rows that failed to load, removed once their copy is kept elsewhere.
    Result<void> remove_instances(std::span<const std::string> ids);
    // Moves the WAL's contents into the database file (at a clean stop).
    Result<void> checkpoint();

private:
    StateDb(sqlite3* db, std::string path);
    using Meta = std::pair<const char*, std::int64_t>;
    Result<void> commit_with(std::span<const Change> changes, std::span<const Meta> meta);
    Result<void> exec(const char* sql);
    [[nodiscard]] std::string error(std::string_view what) const;

    sqlite3* db_;
    std::string path_;
    struct Statements;
    std::unique_ptr<Statements> statements_;
};

} // namespace cairn::agent
