#include "agent/state_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <type_traits>

#include <bit>
#include <chrono>

#include <fmt/format.h>

#include "agent/state_rows.hpp"

namespace cairn::agent {

namespace {

constexpr int schema_format = 1;

// SQLite integers are signed 64-bit; versions use all 64 bits.
std::int64_t to_column(std::uint64_t v) {
    return std::bit_cast<std::int64_t>(v);
}
std::uint64_t from_column(std::int64_t v) {
    return std::bit_cast<std::uint64_t>(v);
}

const char* pragma_sync(SyncMode s) {
    switch (s) {
    case SyncMode::none:
        return "PRAGMA synchronous=OFF";
    case SyncMode::normal:
        return "PRAGMA synchronous=NORMAL";
    case SyncMode::fsync:
        return "PRAGMA synchronous=FULL";
    }
    return "PRAGMA synchronous=FULL";
}

struct Statement {
    sqlite3_stmt* stmt = nullptr;
    ~Statement() { sqlite3_finalize(stmt); }
};

// A value bound as a BLOB rather than TEXT.
struct Blob {
    std::string bytes;
};

std::string column_blob(sqlite3_stmt* s, int i) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

std::string column_text(sqlite3_stmt* s, int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

} // namespace

struct StateDb::Statements {
    Statement put_instance, drop_instance, put_tombstone, drop_tombstone, put_meta;
};

StateDb::StateDb(sqlite3* db, std::string path)
    : db_(db)
    , path_(std::move(path))
    , statements_(std::make_unique<Statements>()) {}

StateDb::~StateDb() {
    statements_.reset();
    sqlite3_close_v2(db_);
}

std::string StateDb::error(std::string_view what) const {
    return fmt::format("{} {}: {}", what, path_, sqlite3_errmsg(db_));
}

Result<void> StateDb::exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return {};
    std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return fail("{}: {}", path_, text);
}

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& path, SyncMode sync) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<StateDb> db(new StateDb(raw, path));
    if (rc != SQLITE_OK) return fail("{}", db->error("cannot open"));
    sqlite3_extended_result_codes(raw, 1);
    // Only this agent opens the file; a second one waiting would hide the mistake.
    sqlite3_busy_timeout(raw, 0);
    {
        Statement wal;
        if (sqlite3_prepare_v2(raw, "PRAGMA journal_mode=WAL", -1, &wal.stmt, nullptr) !=
                SQLITE_OK ||
            sqlite3_step(wal.stmt) != SQLITE_ROW)
            return fail("{}", db->error("cannot open"));
        if (column_text(wal.stmt, 0) != "wal")
            return fail("{}: the file system does not allow WAL mode (journal_mode is {})", path,
                        column_text(wal.stmt, 0));
    }
    if (auto ok = db->exec(pragma_sync(sync)); !ok) return std::unexpected(ok.error());
    // The write below proves that data_dir is writable (and not full).
    auto opened_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::string setup = fmt::format(
        "BEGIN IMMEDIATE;"
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT "
        "ROWID;"
        "CREATE TABLE IF NOT EXISTS instances(id TEXT PRIMARY KEY, version INTEGER NOT NULL, body "
        "BLOB NOT NULL) "
        "WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS tombstones(id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "deleted_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT OR IGNORE INTO meta VALUES('format', {});"
        "INSERT OR REPLACE INTO meta VALUES('opened_at_ms', {});"
        "COMMIT;",
        schema_format, opened_at);
    if (auto ok = db->exec(setup.c_str()); !ok) {
        (void)db->exec("ROLLBACK");
        return std::unexpected(ok.error());
    }
    {
        Statement format;
        if (sqlite3_prepare_v2(raw, "SELECT value FROM meta WHERE key='format'", -1, &format.stmt,
                               nullptr) != SQLITE_OK ||
            sqlite3_step(format.stmt) != SQLITE_ROW)
            return fail("{}", db->error("cannot read"));
        if (auto f = sqlite3_column_int64(format.stmt, 0); f != schema_format)
            return fail("{}: format {} is not one this agent reads ({})", path, f, schema_format);
    }
    auto prepare = [&](Statement& s, const char* sql) {
        return sqlite3_prepare_v3(raw, sql, -1, SQLITE_PREPARE_PERSISTENT, &s.stmt, nullptr) ==
               SQLITE_OK;
    };
    Statements& st = *db->statements_;
    if (!prepare(st.put_instance, "INSERT OR REPLACE INTO instances VALUES(?1, ?2, ?3)") ||
        !prepare(st.drop_instance, "DELETE FROM instances WHERE id=?1") ||
        !prepare(st.put_tombstone, "INSERT OR REPLACE INTO tombstones VALUES(?1, ?2, ?3)") ||
        !prepare(st.drop_tombstone, "DELETE FROM tombstones WHERE id=?1") ||
        !prepare(
            st.put_meta,
            // The larger as unsigned 64-bit numbers (versions are stored bit for bit).
            "INSERT INTO meta VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = CASE "
            "WHEN (value < 0) = (?2 < 0) THEN max(value, ?2) WHEN ?2 < 0 THEN ?2 ELSE value END"))
        return fail("{}", db->error("cannot prepare statements for"));
    return db;
}

Result<StoredState> StateDb::read_all() {
    StoredState out;
    auto each = [&](const char* sql, auto&& row) -> Result<void> {
        Statement s;
        if (sqlite3_prepare_v2(db_, sql, -1, &s.stmt, nullptr) != SQLITE_OK)
            return fail("{}", error("cannot read"));
        int rc;
        while ((rc = sqlite3_step(s.stmt)) == SQLITE_ROW) row(s.stmt);
        if (rc != SQLITE_DONE) return fail("{}", error("cannot read"));
        return {};
    };
    auto meta = each("SELECT key, value FROM meta", [&](sqlite3_stmt* s) {
        std::string key = column_text(s, 0);
        if (key == "counter")
            out.counter = from_column(sqlite3_column_int64(s, 1));
        else if (key == "migrated")
            out.migrated = sqlite3_column_int64(s, 1) != 0;
    });
    if (!meta) return std::unexpected(meta.error());
    auto instances = each("SELECT id, version, body FROM instances", [&](sqlite3_stmt* s) {
        out.instances.push_back(
            {column_text(s, 0), from_column(sqlite3_column_int64(s, 1)), column_blob(s, 2)});
    });
    if (!instances) return std::unexpected(instances.error());
    auto tombstones =
        each("SELECT id, version, deleted_at_ms FROM tombstones", [&](sqlite3_stmt* s) {
            registry::Tombstone t;
            t.id = column_text(s, 0);
            t.version = from_column(sqlite3_column_int64(s, 1));
            t.deleted_at_ms = sqlite3_column_int64(s, 2);
            out.tombstones.push_back(std::move(t));
        });
    if (!tombstones) return std::unexpected(tombstones.error());
    return out;
}

Result<void> StateDb::commit_import(std::span<const Change> changes) {
    const Meta meta[] = {{"migrated", 1}};
    return commit_with(changes, meta);
}

Result<void> StateDb::commit_stop(std::span<const Change> changes, std::int64_t now_ms) {
    const Meta meta[] = {{"stopped_at_ms", now_ms}};
    return commit_with(changes, meta);
}

Result<void> StateDb::commit_with(std::span<const Change> changes, std::span<const Meta> meta) {
    if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return ok;
    Statements& st = *statements_;
    auto run = [&](Statement& s, auto&&... bind) {
        sqlite3_reset(s.stmt);
        int i = 0;
        (
            [&] {
                ++i;
                using T = std::decay_t<decltype(bind)>;
                if constexpr (std::is_same_v<T, std::string>)
                    sqlite3_bind_text(s.stmt, i, bind.data(), static_cast<int>(bind.size()),
                                      SQLITE_STATIC);
                else if constexpr (std::is_same_v<T, Blob>)
                    sqlite3_bind_blob(s.stmt, i, bind.bytes.data(),
                                      static_cast<int>(bind.bytes.size()), SQLITE_STATIC);
                else
                    sqlite3_bind_int64(s.stmt, i, bind);
            }(),
            ...);
        int rc = sqlite3_step(s.stmt);
        sqlite3_reset(s.stmt);
        return rc == SQLITE_DONE;
    };
    std::uint64_t counter = 0;
    bool ok = true;
    for (const Change& c : changes) {
        counter = std::max(counter, c.version());
        if (c.instance) {
            ok = run(st.put_instance, c.instance->id, to_column(c.instance->version),
                     Blob{encode_row(*c.instance)}) &&
                 run(st.drop_tombstone, c.instance->id);
        } else {
            ok = run(st.drop_instance, c.tombstone->id) &&
                 run(st.put_tombstone, c.tombstone->id, to_column(c.tombstone->version),
                     c.tombstone->deleted_at_ms);
        }
        if (!ok) break;
    }
    if (ok && counter > 0) ok = run(st.put_meta, std::string("counter"), to_column(counter));
    for (const auto& [key, value] : meta) ok = ok && run(st.put_meta, std::string(key), value);
    if (ok) {
        if (auto done = exec("COMMIT"); done) return {};
    }
    std::string why = error("cannot write");
    if (!sqlite3_get_autocommit(db_)) (void)exec("ROLLBACK");
    return fail("{}", why);
}

Result<void> StateDb::remove_instances(std::span<const std::string> ids) {
    if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return ok;
    for (const std::string& id : ids) {
        sqlite3_reset(statements_->drop_instance.stmt);
        sqlite3_bind_text(statements_->drop_instance.stmt, 1, id.data(),
                          static_cast<int>(id.size()), SQLITE_STATIC);
        if (sqlite3_step(statements_->drop_instance.stmt) != SQLITE_DONE) {
            std::string why = error("cannot write");
            (void)exec("ROLLBACK");
            return fail("{}", why);
        }
    }
    sqlite3_reset(statements_->drop_instance.stmt);
    return exec("COMMIT");
}

Result<void> StateDb::checkpoint() {
    return exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

} // namespace cairn::agent
