// Persistence of API registrations (src/agent/state_store.*), tested here
// with the HTTP layer whose encoding it uses.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "agent/state_store.hpp"
#include "http/registration.hpp"

using namespace cairn;
using namespace cairn::agent;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir()
    {
        std::string tmpl = (fs::temp_directory_path() / "cairn-state-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::vector<std::string> names() const
    {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(path))
            out.push_back(e.path().filename().string());
        std::ranges::sort(out);
        return out;
    }
};

http::RegistrationDefaults defaults()
{
    return http::RegistrationDefaults{*parse_ip_address("10.0.0.1")};
}

registry::Instance instance(std::string_view body)
{
    auto i = http::decode_registration(body, defaults());
    REQUIRE(i);
    return *i;
}

void write(const fs::path& p, std::string_view text)
{
    std::ofstream(p, std::ios::binary) << text;
}

} // namespace

TEST_CASE("state round trip keeps instances, versions and maintenance")
{
    auto a = instance(R"({"name": "web", "id": "w1", "port": 80, "tags": ["x"], "checks": [{"ttl": "10s"}]})");
    a.node = "n";
    a.version = 42;
    a.maintenance = true;
    a.maintenance_reason = "upgrade";
    auto b = instance(R"({"name": "db", "port": 5432, "address": "::1"})");
    b.node = "n";
    b.version = 43;
    std::string text = encode_state({&a, &b});
    auto back = decode_state(text, defaults());
    REQUIRE(back);
    CHECK(back->errors.empty());
    REQUIRE(back->instances.size() == 2);
    back->instances[0].node = "n";
    back->instances[1].node = "n";
    // Check states are not persisted: they start over, as on any start.
    back->instances[0].checks[0].state = a.checks[0].state;
    CHECK(back->instances[0] == a);
    CHECK(back->instances[1] == b);
}

TEST_CASE("decode_state: what is not a state file, and bad instances")
{
    CHECK_FALSE(decode_state("", defaults()));
    CHECK_FALSE(decode_state("{\"instances\": [", defaults()));
    CHECK_FALSE(decode_state("[]", defaults()));
    CHECK_FALSE(decode_state(R"({"format": 2, "instances": []})", defaults()));
    CHECK_FALSE(decode_state(R"({"format": 1, "instances": {}})", defaults()));
    auto partly = decode_state(R"({"format": 1, "instances": [{"name": "ok", "port": 1}, {"name": "bad", "port": 0}]})",
                               defaults());
    REQUIRE(partly);
    REQUIRE(partly->instances.size() == 1);
    CHECK(partly->instances[0].service == "ok");
    REQUIRE(partly->errors.size() == 1);
    CHECK(partly->errors[0] == "instances[1]: port: 0 is out of range (1..65535)");
}

TEST_CASE("atomic writes replace the file and leave no temporary behind")
{
    TempDir dir;
    auto p = (dir.path / "f.json").string();
    REQUIRE(write_file_atomically(p, "one"));
    REQUIRE(write_file_atomically(p, "two"));
    std::ifstream in(p);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "two");
    CHECK(dir.names() == std::vector<std::string>{"f.json"});
    CHECK_FALSE(write_file_atomically((dir.path / "no" / "such" / "dir").string(), "x"));
}

TEST_CASE("load: no file, a corrupt file (moved aside), a partly bad file (copy kept)")
{
    TempDir dir;
    Loop loop;
    StateStore store(loop, dir.path.string(), {});
    CHECK(store.load(defaults()).empty());

    write(store.path(), "{ this is not json");
    CHECK(store.load(defaults()).empty());
    auto names = dir.names();
    REQUIRE(names.size() == 1);
    CHECK(names[0].starts_with("services.json.corrupt-"));
    fs::remove(dir.path / names[0]);

    write(store.path(), R"({"format": 1, "instances": [{"name": "ok", "port": 1}, {"name": 5}]})");
    auto loaded = store.load(defaults());
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].service == "ok");
    names = dir.names();
    REQUIRE(names.size() == 2);
    CHECK(names[0] == "services.json");
    CHECK(names[1].starts_with("services.json.corrupt-"));
}

TEST_CASE("saves are debounced: many schedules, one write")
{
    TempDir dir;
    Loop loop;
    auto a = instance(R"({"name": "web", "port": 80})");
    int collected = 0;
    StateStore store(loop, dir.path.string(), [&] {
        ++collected;
        return std::vector<const registry::Instance*>{&a};
    }, std::chrono::milliseconds(5));
    for (int i = 0; i < 100; ++i)
        store.schedule();
    loop.run(); // returns when the one-shot timer has fired
    CHECK(collected == 1);
    CHECK(store.saves() == 1);
    auto loaded = store.load(defaults());
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].id == "web");

    store.flush(); // nothing pending: no write
    CHECK(store.saves() == 1);
    store.schedule();
    store.flush(); // pending: written now
    CHECK(store.saves() == 2);
}
