#pragma once
// Persistence of the instances registered through the HTTP API, so that an
// acknowledged write survives a crash (and, with sync = "fsync", a power
// loss). The records live in data_dir/state.db (state_db.hpp), one row each;
// a writer thread with its own connection commits them, and writes that
// arrive while a commit runs share the next transaction and its one sync
// (group commit). The HTTP API answers a write when its commit returned:
// write()'s callback runs on the main loop then, with the commit's result.
//
// A legacy data_dir/services.json is imported once and renamed to
// services.json.migrated. Records that cannot be read back are not loaded;
// a copy of each goes to data_dir/rejected-<unix ms>.json first.
// Config-defined services are not written: they come from the config.
//
// Main thread only, except for the writer thread it owns.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/state_db.hpp"
#include "core/loop.hpp"
#include "core/result.hpp"
#include "http/registration.hpp"
#include "registry/types.hpp"

namespace cairn::agent {

// Writes `path` so that a crash leaves either the old or the new contents.
[[nodiscard]] Result<void> write_file_atomically(const std::string& path,
                                                 std::string_view contents);

struct StorageStats {
    std::uint64_t commits = 0;
    std::uint64_t commit_failures = 0;
    std::uint64_t changes = 0; // committed
    double commit_seconds = 0; // summed over commits
    double commit_seconds_max = 0;
    std::size_t unsaved = 0; // changes the registry holds that the disk does not
};

class StateStore {
public:
    using Done = std::function<void(Result<void>)>;

    // Opens data_dir/state.db. Fails, naming data_dir, when it cannot be
    // written. A state.db that is not an SQLite database at all is moved
    // aside to state.db.corrupt-<unix ms> and a new one is made.
    static Result<std::unique_ptr<StateStore>> open(Loop& loop, const std::string& data_dir,
                                                    SyncMode sync);
    ~StateStore();
    StateStore(const StateStore&) = delete;
    StateStore& operator=(const StateStore&) = delete;

    struct Loaded {
        std::vector<registry::Instance> instances;
        std::vector<registry::Tombstone> tombstones;
        std::uint64_t counter = 0; // the highest version ever committed
        std::size_t rejected = 0;
        std::size_t migrated = 0; // instances imported from services.json
    };
    // Imports services.json (once), then reads every record. Before start().
    Result<Loaded> load(const http::RegistrationDefaults& defaults);

    // Starts the writer thread.
    void start();
    // Queues a change. `done` (may be empty) runs on the main loop when the
    // commit that holds it has returned. `applied`: the registry holds the
    // change already (a TTL report, a health check's deregistration); if the
    // commit fails, it is kept and written again after the next commit that
    // succeeds, or at close().
    void write(Change change, Done done, bool applied = false);
    // Stops the writer after the queued commits, answers their callbacks,
    // retries the unsaved changes and stamps the stop. An error says that
    // something the registry held could not be stored.
    Result<void> close();

    // True while the last commit failed; fault() says why.
    [[nodiscard]] bool faulted() const { return !fault_.empty(); }
    [[nodiscard]] const std::string& fault() const { return fault_; }
    [[nodiscard]] StorageStats stats() const;
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    struct Pending {
        Change change;
        Done done;
        bool applied = false;
    };
    struct Finished {
        std::vector<Pending> batch;
        Result<void> result;
        double seconds = 0;
    };

    StateStore(Loop& loop, std::string data_dir, std::unique_ptr<StateDb> db);
    Result<std::size_t> migrate(const http::RegistrationDefaults& defaults, bool already);
    Result<void> keep_rejected(std::string_view source, const std::vector<std::string>& entries);
    void run_writer();
    void on_finished();
    void finish(Finished& f);

    Loop& loop_;
    std::string data_dir_;
    std::string path_;
    std::unique_ptr<StateDb> db_; // the writer thread's once it runs
    std::unique_ptr<Async> wake_;
    std::thread writer_;

    std::mutex mutex_; // guards queue_, finished_, stopping_
    std::condition_variable cv_;
    std::vector<Pending> queue_;
    std::deque<Finished> finished_;
    bool stopping_ = false;

    std::string fault_;
    std::map<std::string, Change> unsaved_; // by id: the newest change not on disk
    StorageStats stats_;
};

// Prometheus lines (cairn_storage_*) for /metrics.
[[nodiscard]] std::string format_storage_metrics(const StorageStats& stats, bool faulted);

} // namespace cairn::agent
