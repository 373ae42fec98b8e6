// The state store without sockets: rows and the legacy file as text, the
// database, group commit, migration and what is kept of rejected entries.

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "agent/state_db.hpp"
#include "agent/state_rows.hpp"
#include "agent/state_store.hpp"
#include "core/ip_address.hpp"
#include "core/loop.hpp"
#include "http/registration.hpp"
#include "temp_dir.hpp"

using namespace cairn;
using namespace cairn::agent;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A data_dir, and the names of what the store left in it.
struct StateDir : test::TempDir {
    StateDir()
        : TempDir("cairn-state") {}
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path))
            out.push_back(e.path().filename().string());
        std::ranges::sort(out);
        return out;
    }
    std::string named(std::string_view prefix) const {
        for (const std::string& n : names())
            if (n.starts_with(prefix)) return n;
        return "";
    }
};

http::RegistrationDefaults defaults() {
    return http::RegistrationDefaults{*parse_ip_address("10.0.0.1")};
}

// The store of `dir`, opened and loaded as the agent starts with it.
struct Started {
    std::unique_ptr<StateStore> store;
    StateStore::Loaded loaded;
};

Started start_store(Loop& loop, const fs::path& dir, SyncMode mode = SyncMode::fsync) {
    auto store = StateStore::open(loop, dir.string(), mode);
    REQUIRE(store);
    auto loaded = (*store)->load(defaults());
    REQUIRE(loaded);
    return {std::move(*store), std::move(*loaded)};
}

// One start and clean stop of an agent on `dir`: what it loaded.
StateStore::Loaded restart(const fs::path& dir, SyncMode mode = SyncMode::fsync) {
    Loop loop;
    Started started = start_store(loop, dir, mode);
    REQUIRE(started.store->close());
    return std::move(started.loaded);
}

registry::Instance instance(std::string_view body, std::uint64_t version = 1) {
    auto i = http::decode_registration(body, defaults());
    REQUIRE(i);
    i->node = "n";
    i->version = version;
    for (std::size_t k = 0; k < i->checks.size(); ++k)
        if (i->checks[k].definition.id.empty())
            i->checks[k].definition.id = i->id + ":" + std::to_string(k + 1);
    return *i;
}

registry::Instance numbered(int n, std::uint64_t version) {
    return instance(fmt::format(R"({{"name": "web", "id": "web-{}", "port": 80}})", n), version);
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const fs::path& p, std::string_view text) {
    std::ofstream(p, std::ios::binary) << text;
}

// Runs the loop until `done()` or 10 s.
template <class Done>
void run_until(Loop& loop, Done done) {
    Timer deadline(loop), poll(loop);
    deadline.start(10'000ms, 0ms, [&] { loop.stop(); });
    poll.start(1ms, 1ms, [&] {
        if (done()) loop.stop();
    });
    loop.run();
    CHECK(done());
}

} // namespace

TEST_CASE("rows: an instance comes back as stored; only TTL checks keep their state") {
    auto a = instance(R"({"name": "web", "id": "w1", "port": 80, "tags": ["x"], "meta": {"k": "v"},
                          "checks": [{"ttl": "10s"}, {"tcp": "127.0.0.1:1", "interval": "5s"}]})",
                      42);
    a.maintenance = true;
    a.maintenance_reason = "upgrade";
    a.checks[0].state = {registry::Health::passing, "reported", 1234, 0};
    a.checks[1].state = {registry::Health::passing, "probed", 1234, 0};
    auto back = decode_row("w1", 42, encode_row(a), 999);
    REQUIRE(back);
    back->node = "n";
    CHECK(back->checks[0].state.status == registry::Health::passing);
    CHECK(back->checks[0].state.output == "reported");
    CHECK(back->checks[0].state.last_change_ms == 1234);
    CHECK(back->checks[1].state.status == registry::Health::critical); // probes again
    CHECK(back->checks[1].state.last_change_ms == 999);
    back->checks[1].state = a.checks[1].state;
    CHECK(*back == a);

    CHECK_FALSE(decode_row("other", 42, encode_row(a), 999));
    CHECK_FALSE(decode_row("w1", 0, encode_row(a), 999));
    std::string row = encode_row(a);
    CHECK_FALSE(decode_row("w1", 42, row.substr(0, row.size() - 1), 999));
    CHECK_FALSE(decode_row("w1", 42, row + "x", 999));
    CHECK_FALSE(decode_row("w1", 42, "", 999));
    auto bad = a;
    bad.port = 0;
    auto refused = decode_row("w1", 42, encode_row(bad), 999);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("port") != std::string::npos);
    auto top = decode_row("w1", std::numeric_limits<std::uint64_t>::max(), encode_row(a), 999);
    REQUIRE(top);
    CHECK(top->version == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("the legacy services.json: what is not a state file, and bad instances with their text") {
    CHECK_FALSE(decode_state("", defaults()));
    CHECK_FALSE(decode_state("{\"instances\": [", defaults()));
    CHECK_FALSE(decode_state("[]", defaults()));
    CHECK_FALSE(decode_state(R"({"format": 2, "instances": []})", defaults()));
    CHECK_FALSE(decode_state(R"({"format": 1, "instances": {}})", defaults()));
    auto partly = decode_state(
        R"({"format": 1, "instances": [{"name": "ok", "port": 1, "version": 7}, {"name": "bad", "port": 0}]})",
        defaults());
    REQUIRE(partly);
    REQUIRE(partly->instances.size() == 1);
    CHECK(partly->instances[0].service == "ok");
    CHECK(partly->instances[0].version == 7);
    REQUIRE(partly->rejected.size() == 1);
    CHECK(partly->rejected[0].error == "instances[1]: port: 0 is out of range (1 to 65535)");
    CHECK(partly->rejected[0].entry == R"({"name":"bad","port":0})");

    auto a = instance(R"({"name": "web", "id": "w1", "port": 80})", 3);
    auto text = encode_state({&a});
    auto back = decode_state(text, defaults());
    REQUIRE(back);
    REQUIRE(back->instances.size() == 1);
    back->instances[0].node = "n";
    CHECK(back->instances[0] == a);
}

TEST_CASE("atomic writes replace the file and leave no temporary behind") {
    StateDir dir;
    auto p = (dir.path / "f.json").string();
    REQUIRE(write_file_atomically(p, "one"));
    REQUIRE(write_file_atomically(p, "two"));
    CHECK(read(p) == "two");
    CHECK(dir.names() == std::vector<std::string>{"f.json"});
    CHECK_FALSE(write_file_atomically((dir.path / "no" / "such" / "dir").string(), "x"));
}

TEST_CASE("the database: instances and tombstones replace each other, the counter only rises") {
    StateDir dir;
    std::string path = (dir.path / "state.db").string();
    {
        auto db = StateDb::open(path, SyncMode::fsync);
        REQUIRE(db);
        std::vector<Change> first{{numbered(1, 5), std::nullopt}, {numbered(2, 6), std::nullopt}};
        REQUIRE((*db)->commit(first));
        std::vector<Change> second{{std::nullopt, registry::Tombstone{"web-1", "", 9, 1000}}};
        REQUIRE((*db)->commit(second));
    }
    auto db = StateDb::open(path, SyncMode::fsync);
    REQUIRE(db);
    auto stored = (*db)->read_all();
    REQUIRE(stored);
    REQUIRE(stored->instances.size() == 1);
    CHECK(stored->instances[0].id == "web-2");
    CHECK(stored->instances[0].version == 6);
    REQUIRE(stored->tombstones.size() == 1);
    CHECK(stored->tombstones[0].id == "web-1");
    CHECK(stored->tombstones[0].version == 9);
    CHECK(stored->tombstones[0].deleted_at_ms == 1000);
    CHECK(stored->counter == 9);

    // Re-registering replaces the tombstone; all 64 bits of a version survive.
    std::vector<Change> again{
        {numbered(1, std::numeric_limits<std::uint64_t>::max()), std::nullopt}};
    REQUIRE((*db)->commit(again));
    stored = (*db)->read_all();
    REQUIRE(stored);
    CHECK(stored->instances.size() == 2);
    CHECK(stored->tombstones.empty());
    CHECK(stored->counter == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("open refuses a data_dir it cannot write, naming it") {
    StateDir dir;
    write(dir.path / "file", "x");
    Loop loop;
    auto store = StateStore::open(loop, (dir.path / "file").string(), SyncMode::fsync);
    REQUIRE_FALSE(store);
    CHECK(store.error().message.find((dir.path / "file").string()) != std::string::npos);
}

TEST_CASE(
    "writes queued while no commit runs share one transaction, and come back after a restart") {
    StateDir dir;
    {
        Loop loop;
        auto [store, loaded] = start_store(loop, dir.path);
        CHECK(loaded.instances.empty());
        int answered = 0, failed = 0;
        for (int i = 1; i <= 100; ++i)
            store->write({numbered(i, static_cast<std::uint64_t>(i)), std::nullopt},
                         [&](Result<void> ok) {
                             ++answered;
                             failed += ok ? 0 : 1;
                         });
        store->start();
        run_until(loop, [&] { return answered == 100; });
        CHECK(failed == 0);
        CHECK(store->stats().commits == 1);
        CHECK(store->stats().changes == 100);
        CHECK_FALSE(store->faulted());
        CHECK(format_storage_metrics(store->stats(), false).find("cairn_storage_fault 0\n") !=
              std::string::npos);

        // A deregistration, answered after its own commit.
        bool gone = false;
        store->write({std::nullopt, registry::Tombstone{"web-7", "", 101, 5}},
                     [&](Result<void> ok) { gone = bool(ok); });
        run_until(loop, [&] { return gone; });
        REQUIRE(store->close());
    }
    StateStore::Loaded loaded = restart(dir.path);
    CHECK(loaded.instances.size() == 99);
    REQUIRE(loaded.tombstones.size() == 1);
    CHECK(loaded.tombstones[0].id == "web-7");
    CHECK(loaded.counter == 101);
    CHECK(std::ranges::none_of(loaded.instances, [](const auto& i) { return i.id == "web-7"; }));
}

TEST_CASE(
    "services.json is imported once, renamed, and its bad entries kept in a rejected-*.json") {
    StateDir dir;
    write(
        dir.path / "services.json",
        R"({"format": 1, "instances": [{"name": "a", "port": 1, "version": 4}, {"name": "b", "port": 2, "version": 9},
              {"name": "bad", "port": 0}]})");
    for (int start = 0; start < 2; ++start) {
        StateStore::Loaded loaded = restart(dir.path);
        CHECK(loaded.migrated == (start == 0 ? 2u : 0u));
        REQUIRE(loaded.instances.size() == 2);
        CHECK(loaded.counter == 9);
    }
    CHECK_FALSE(fs::exists(dir.path / "services.json"));
    CHECK(fs::exists(dir.path / "services.json.migrated"));
    std::string rejected = dir.named("rejected-");
    REQUIRE_FALSE(rejected.empty());
    std::string text = read(dir.path / rejected);
    CHECK(text.find(R"("entry": {"name":"bad","port":0})") != std::string::npos);
    CHECK(text.find("port: 0 is out of range") != std::string::npos);
}

TEST_CASE("a services.json that is not a state file is moved aside; the agent starts without it") {
    StateDir dir;
    write(dir.path / "services.json", "{ this is not json");
    CHECK(restart(dir.path).instances.empty());
    CHECK_FALSE(dir.named("services.json.corrupt-").empty());
    CHECK_FALSE(fs::exists(dir.path / "services.json"));
}

TEST_CASE("rows that cannot be read back are copied to rejected-*.json before they are dropped") {
    StateDir dir;
    {
        auto db = StateDb::open((dir.path / "state.db").string(), SyncMode::fsync);
        REQUIRE(db);
        auto bad = numbered(2, 8);
        bad.port = 0; // stored by an older agent that allowed it, say
        std::vector<Change> rows{{numbered(1, 7), std::nullopt}, {bad, std::nullopt}};
        REQUIRE((*db)->commit(rows));
    }
    for (int start = 0; start < 2; ++start) {
        StateStore::Loaded loaded = restart(dir.path);
        CHECK(loaded.instances.size() == 1);
        CHECK(loaded.rejected == (start == 0 ? 1u : 0u));
    }
    std::string rejected = dir.named("rejected-");
    REQUIRE_FALSE(rejected.empty());
    std::string text = read(dir.path / rejected);
    CHECK(text.find(R"("id":"web-2")") != std::string::npos);
    CHECK(text.find("body_hex") != std::string::npos);
    CHECK(text.find("port: missing") != std::string::npos);
}

TEST_CASE("a state.db that is not a database is moved aside") {
    StateDir dir;
    write(dir.path / "state.db", "this is not a database, not even close to one");
    CHECK(restart(dir.path, SyncMode::normal).instances.empty());
    CHECK_FALSE(dir.named("state.db.corrupt-").empty());
}

namespace {

// A data_dir holding `count` stored instances.
void store_numbered(const fs::path& dir, int count) {
    auto db = StateDb::open((dir / "state.db").string(), SyncMode::none);
    REQUIRE(db);
    std::vector<Change> rows;
    for (int i = 1; i <= count; ++i)
        rows.push_back({numbered(i, static_cast<std::uint64_t>(i)), std::nullopt});
    REQUIRE((*db)->commit(rows));
}

// The fastest of three start-ups (open and load) of `dir`, in microseconds.
long fastest_load_us(const fs::path& dir, std::size_t want) {
    long best = std::numeric_limits<long>::max();
    for (int round = 0; round < 3; ++round) {
        Loop loop;
        auto started = std::chrono::steady_clock::now();
        std::size_t loaded = start_store(loop, dir).loaded.instances.size();
        auto took = std::chrono::steady_clock::now() - started;
        CHECK(loaded == want);
        best = std::min<long>(best,
                              std::chrono::duration_cast<std::chrono::microseconds>(took).count());
    }
    return best;
}

} // namespace

TEST_CASE("start-up time grows linearly with the stored instances (10,000 and 100,000)") {
    StateDir small, large;
    store_numbered(small.path, 10'000);
    store_numbered(large.path, 100'000);
    long small_us = fastest_load_us(small.path, 10'000);
    long large_us = fastest_load_us(large.path, 100'000);
    MESSAGE("start-up with 10k stored: " << small_us / 1000 << " ms, with 100k: " << large_us / 1000
                                         << " ms");
    // Ten times the rows: about ten times the time; a per-row cost that grows
    // with the table (a quadratic load) would be a hundred. A ratio, not a
    // bound in seconds, so a loaded machine slows both sides alike.
    CHECK(large_us < 30 * std::max(small_us, 1000L));
    if (const char* keep = std::getenv("CAIRN_KEEP_DB"))
        fs::copy_file(large.path / "state.db", keep, fs::copy_options::overwrite_existing);
}
