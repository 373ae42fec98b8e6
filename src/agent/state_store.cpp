#include "agent/state_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/state_rows.hpp"
#include "core/hex.hpp"
#include "core/log.hpp"
#include "core/metrics_text.hpp"

namespace cairn::agent {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// services.json is ours and bounded by the registry; this only guards
// against reading something absurd into memory.
constexpr std::uintmax_t max_legacy_bytes = 1ull << 30;

std::int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Result<void> fsync_path(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return fail("open {}: {}", path, std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return fail("fsync {}: {}", path, std::strerror(err));
    return {};
}

// True when `path` exists and does not start as an SQLite database does.
bool not_a_database(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    char head[16] = {};
    in.read(head, sizeof head);
    if (in.gcount() == 0) return false; // empty: SQLite makes a database of it
    return std::string_view(head, static_cast<std::size_t>(in.gcount())) !=
           std::string_view("SQLite format 3\0", 16);
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

Result<void> write_file_atomically(const std::string& path, std::string_view contents) {
    fs::path target(path);
    std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
    std::string temp = fmt::format("{}.tmp-{}", path, ::getpid());
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("open {}: {}", temp, std::strerror(errno));
    std::string_view rest = contents;
    while (!rest.empty()) {
        ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            ::unlink(temp.c_str());
            return fail("write {}: {}", temp, std::strerror(err));
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        return fail("fsync {}: {}", temp, std::strerror(err));
    }
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        return fail("rename {} to {}: {}", temp, path, std::strerror(err));
    }
    // The rename itself is durable only once the directory is.
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

Result<std::unique_ptr<StateStore>> StateStore::open(Loop& loop, const std::string& data_dir,
                                                     SyncMode sync) {
    std::string path = (fs::path(data_dir) / "state.db").string();
    if (not_a_database(path)) {
        std::string aside = fmt::format("{}.corrupt-{}", path, unix_ms());
        std::error_code ec;
        fs::rename(path, aside, ec);
        if (ec)
            return fail("data_dir {}: {} is not a state database and cannot be moved aside: {}",
                        data_dir, path, ec.message());
        for (const char* suffix : {"-wal", "-shm"}) fs::remove(path + suffix, ec);
        log::error("state.corrupt", {{"path", path}, {"kept_as", aside}});
    }
    auto db = StateDb::open(path, sync);
    if (!db)
        return fail("data_dir {} cannot hold the agent's state: {}", data_dir, db.error().message);
    return std::unique_ptr<StateStore>(new StateStore(loop, data_dir, std::move(*db)));
}

StateStore::StateStore(Loop& loop, std::string data_dir, std::unique_ptr<StateDb> db)
    : loop_(loop)
    , data_dir_(std::move(data_dir))
    , path_(db->path())
    , db_(std::move(db)) {}

StateStore::~StateStore() {
    if (writer_.joinable() || db_) (void)close();
}

Result<void> StateStore::keep_rejected(std::string_view source,
                                       const std::vector<std::string>& entries) {
    std::string path = (fs::path(data_dir_) / fmt::format("rejected-{}.json", unix_ms())).string();
    std::string text = fmt::format("{{\"source\": {}, \"rejected\": [\n", dump(json(source)));
    for (std::size_t i = 0; i < entries.size(); ++i) text += (i == 0 ? "" : ",\n") + entries[i];
    text += "\n]}\n";
    if (auto ok = write_file_atomically(path, text); !ok) return ok;
    log::warn("state.rejected_kept", {{"path", path}, {"entries", entries.size()}});
    return {};
}

Result<std::size_t> StateStore::migrate(const http::RegistrationDefaults& defaults, bool already) {
    std::string legacy = (fs::path(data_dir_) / "services.json").string();
    std::error_code ec;
    if (!fs::exists(legacy, ec)) return 0;
    std::size_t imported = 0;
    if (!already) {
        auto size = fs::file_size(legacy, ec);
        std::string text;
        if (!ec && size <= max_legacy_bytes) {
            std::ifstream in(legacy, std::ios::binary);
            text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        }
        auto state = decode_state(text, defaults);
        if (!state) {
            // As before the database: the file is kept aside and the agent starts without it.
            std::string aside = fmt::format("{}.corrupt-{}", legacy, unix_ms());
            fs::rename(legacy, aside, ec);
            log::error("state.corrupt",
                       {{"path", legacy}, {"error", state.error().message}, {"kept_as", aside}});
            return ec ? fail("{} cannot be moved aside: {}", legacy, ec.message())
                      : Result<std::size_t>(0);
        }
        if (!state->rejected.empty()) {
            std::vector<std::string> entries;
            for (const auto& r : state->rejected) {
                log::error("state.instance_rejected", {{"path", legacy}, {"error", r.error}});
                entries.push_back(
                    fmt::format("{{\"error\": {}, \"entry\": {}}}", dump(json(r.error)), r.entry));
            }
            if (auto kept = keep_rejected(legacy, entries); !kept)
                return fail("{}: the rejected entries cannot be kept: {}", legacy,
                            kept.error().message);
        }
        std::vector<Change> changes;
        changes.reserve(state->instances.size());
        for (registry::Instance& i : state->instances)
            changes.push_back({std::move(i), std::nullopt});
        if (auto ok = db_->commit_import(changes); !ok)
            return fail("importing {}: {}", legacy, ok.error().message);
        imported = changes.size();
    }
    // Imported (now or by an earlier start that stopped before this rename).
    std::string done = legacy + ".migrated";
    fs::rename(legacy, done, ec);
    if (ec) return fail("{} cannot be renamed to {}: {}", legacy, done, ec.message());
    if (auto synced = fsync_path(data_dir_, O_RDONLY | O_DIRECTORY); !synced)
        return std::unexpected(synced.error());
    log::info("state.migrated",
              {{"from", legacy}, {"to", path_}, {"instances", imported}, {"renamed", done}});
    return imported;
}

Result<StateStore::Loaded> StateStore::load(const http::RegistrationDefaults& defaults) {
    auto before = db_->read_all();
    if (!before) return std::unexpected(before.error());
    Loaded out;
    auto imported = migrate(defaults, before->migrated);
    if (!imported) return std::unexpected(imported.error());
    out.migrated = *imported;
    auto stored = *imported > 0 ? db_->read_all() : std::move(before);
    if (!stored) return std::unexpected(stored.error());

    std::vector<std::string> rejected_ids, entries;
    std::int64_t load_ms = unix_ms();
    out.instances.reserve(stored->instances.size());
    for (StoredRow& row : stored->instances) {
        auto instance = decode_row(row.id, row.version, row.body, load_ms);
        if (!instance) {
            log::error("state.instance_rejected",
                       {{"path", path_}, {"id", row.id}, {"error", instance.error().message}});
            rejected_ids.push_back(row.id);
            entries.push_back(dump(json{{"error", instance.error().message},
                                        {"id", row.id},
                                        {"version", row.version},
                                        {"body_hex", to_hex(row.body)}}));
            continue;
        }
        out.instances.push_back(std::move(*instance));
    }
    if (!entries.empty()) {
        // The copy first: the rows go only once it is on disk.
        if (auto kept = keep_rejected(path_, entries); !kept)
            log::error("state.rejected_not_kept",
                       {{"error", kept.error().message}, {"rows", "left in place"}});
        else if (auto removed = db_->remove_instances(rejected_ids); !removed)
            return std::unexpected(removed.error());
    }
    out.rejected = entries.size();
    out.tombstones = std::move(stored->tombstones);
    out.counter = stored->counter;
    log::info("state.loaded", {{"path", path_},
                               {"instances", out.instances.size()},
                               {"tombstones", out.tombstones.size()},
                               {"rejected", out.rejected}});
    return out;
}

void StateStore::start() {
    wake_ = std::make_unique<Async>(loop_, [this] { on_finished(); });
    writer_ = std::thread([this] { run_writer(); });
}

void StateStore::write(Change change, Done done, bool applied) {
    // A newer change of the same record makes an unsaved older one moot.
    if (auto it = unsaved_.find(change.id());
        it != unsaved_.end() && it->second.version() <= change.version())
        unsaved_.erase(it);
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(change), std::move(done), applied});
    cv_.notify_one();
}

void StateStore::run_writer() {
    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return; // stopping, and nothing left
            batch.swap(queue_);
        }
        std::vector<Change> changes;
        changes.reserve(batch.size());
        for (const Pending& p : batch) changes.push_back(p.change);
        auto started = std::chrono::steady_clock::now();
        auto result = db_->commit(changes);
        double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        {
            std::lock_guard lock(mutex_);
            finished_.push_back({std::move(batch), std::move(result), seconds});
        }
        wake_->send();
    }
}

void StateStore::on_finished() {
    std::deque<Finished> done;
    {
        std::lock_guard lock(mutex_);
        done.swap(finished_);
    }
    for (Finished& f : done) finish(f);
}

void StateStore::finish(Finished& f) {
    ++stats_.commits;
    stats_.commit_seconds += f.seconds;
    stats_.commit_seconds_max = std::max(stats_.commit_seconds_max, f.seconds);
    if (f.result) {
        stats_.changes += f.batch.size();
        if (!fault_.empty()) log::info("state.recovered", {{"path", path_}});
        fault_.clear();
    } else {
        ++stats_.commit_failures;
        if (fault_ != f.result.error().message)
            log::error("state.write_failed",
                       {{"path", path_}, {"error", f.result.error().message}});
        fault_ = f.result.error().message;
    }
    for (Pending& p : f.batch) {
        if (!f.result && p.applied) {
            auto [it, inserted] = unsaved_.try_emplace(p.change.id(), p.change);
            if (!inserted && it->second.version() < p.change.version()) it->second = p.change;
        }
        if (p.done) p.done(f.result);
    }
    // The disk takes writes again: what it missed goes after.
    if (f.result && !unsaved_.empty() && writer_.joinable()) {
        auto retry = std::move(unsaved_);
        unsaved_.clear();
        for (auto& [id, change] : retry) write(std::move(change), {}, true);
    }
    stats_.unsaved = unsaved_.size();
}

Result<void> StateStore::close() {
    if (writer_.joinable()) {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_one();
        writer_.join();
        on_finished();
        wake_.reset();
    }
    if (!db_) return {};
    // What the registry holds and the disk missed, and a stamp that proves
    // the disk takes a write now.
    std::vector<Change> last;
    for (auto& [id, change] : unsaved_) last.push_back(std::move(change));
    auto ok = db_->commit_stop(last, unix_ms());
    if (ok) {
        unsaved_.clear();
        (void)db_->checkpoint();
    }
    db_.reset();
    if (!ok) return fail("{}; {} change(s) not stored", ok.error().message, unsaved_.size());
    return {};
}

StorageStats StateStore::stats() const {
    StorageStats s = stats_;
    s.unsaved = unsaved_.size();
    return s;
}

std::string format_storage_metrics(const StorageStats& s, bool faulted) {
    MetricsText m;
    m.gauge("cairn_storage_fault", "1 while the last write to the state database failed.",
            faulted ? 1 : 0);
    m.family("cairn_storage_commits_total", "counter", "State database transactions, by result.");
    m.sample("cairn_storage_commits_total", s.commits - s.commit_failures, {{"result", "ok"}});
    m.sample("cairn_storage_commits_total", s.commit_failures, {{"result", "failed"}});
    m.counter("cairn_storage_changes_total",
              "Record changes committed (several share a transaction).", s.changes);
    m.counter("cairn_storage_commit_seconds_total", "Time spent in commits.", s.commit_seconds);
    m.gauge("cairn_storage_commit_seconds_max", "The longest commit since start.",
            s.commit_seconds_max);
    m.gauge("cairn_storage_unsaved", "Changes the registry holds that the state database does not.",
            s.unsaved);
    return std::move(m).text();
}

} // namespace cairn::agent
