// The keyring file (data_dir/keyring.json) and memberlist's keyring rules
// for changes, on a temporary directory.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "agent/keyring_file.hpp"
#include "core/base64.hpp"
#include "temp_dir.hpp"

using namespace cairn;
using namespace cairn::agent;
namespace fs = std::filesystem;

namespace {

gossip::Bytes filled(std::size_t size, std::uint8_t first) {
    gossip::Bytes b(size);
    for (std::size_t i = 0; i < size; ++i) b[i] = static_cast<std::uint8_t>(first + i);
    return b;
}

const gossip::Bytes k1 = filled(16, 1);
const gossip::Bytes k2 = filled(32, 101);
const gossip::Bytes k3 = filled(24, 50);
const std::string b1 = base64_encode(k1);
const std::string b2 = base64_encode(k2);
const std::string b3 = base64_encode(k3);

// A data_dir and its keyring file.
struct KeyringDir : test::TempDir {
    KeyringDir()
        : TempDir("cairn-keyring") {}
    [[nodiscard]] std::string file() const { return keyring_path(path.string()); }
    void write(const std::string& text) const { std::ofstream(file(), std::ios::binary) << text; }
};

gossip::Keyring ring(std::initializer_list<gossip::Bytes> keys) {
    std::vector<gossip::Bytes> v(keys);
    auto r = gossip::Keyring::create(std::span(v).subspan(1), v.front());
    REQUIRE(r);
    return *r;
}

} // namespace

TEST_CASE("the file is a JSON array of base64 keys, primary first, and reads back") {
    gossip::Keyring r = ring({k2, k1, k3});
    std::string text = format_keyring_file(r);
    CHECK(text == "[\n  \"" + b2 + "\",\n  \"" + b1 + "\",\n  \"" + b3 + "\"\n]\n");
    auto back = parse_keyring_file(text);
    REQUIRE(back);
    CHECK(back->keys() == r.keys());
    CHECK(std::ranges::equal(back->primary(), k2));
    // Serf's layout, on one line, reads too.
    auto serf = parse_keyring_file("[\"" + b1 + "\",\"" + b2 + "\"]");
    REQUIRE(serf);
    CHECK(std::ranges::equal(serf->primary(), k1));
}

TEST_CASE("a bad keyring file is refused with the reason") {
    auto error = [](const std::string& text) {
        auto r = parse_keyring_file(text);
        REQUIRE_FALSE(r);
        return r.error().message;
    };
    CHECK(error("[]").find("no keys") != std::string::npos);
    CHECK(error("{\"keys\": []}").find("JSON array") != std::string::npos);
    CHECK(error("[1]") == "[0]: expected a base64 key (a string)");
    CHECK(error("[\"" + b1 + "\", \"AAAA\"]") == "[1]: key size must be 16, 24 or 32 bytes, not 3");
    CHECK(error("[\"" + b1 + "\", \"not base64!\"]").starts_with("[1]: key is not valid base64"));
    CHECK(error("[\"" + b1 + "\", \"" + b2 + "\", \"" + b1 + "\"]") == "[2]: the same key as [0]");
    CHECK(error("[\"" + b1 + "\"").find("invalid JSON") != std::string::npos);
}

TEST_CASE("save writes the file atomically with mode 0600, load reads it") {
    KeyringDir dir;
    auto missing = load_keyring_file(dir.file());
    REQUIRE(missing);
    CHECK_FALSE(missing->has_value());
    REQUIRE(save_keyring_file(dir.file(), ring({k1, k2})));
    struct stat st {};
    REQUIRE(::stat(dir.file().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto loaded = load_keyring_file(dir.file());
    REQUIRE(loaded);
    REQUIRE(loaded->has_value());
    CHECK((*loaded)->keys() == ring({k1, k2}).keys());
    // Replaced whole, and no temporary file left behind.
    REQUIRE(save_keyring_file(dir.file(), ring({k2})));
    CHECK((*load_keyring_file(dir.file()))->keys().size() == 1);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
    CHECK(files == 1);
    // An empty keyring is not a file.
    CHECK_FALSE(save_keyring_file(dir.file(), gossip::Keyring{}));
    // A broken file names itself.
    dir.write("[\"AAAA\"]");
    auto broken = load_keyring_file(dir.file());
    REQUIRE_FALSE(broken);
    CHECK(broken.error().message.starts_with(dir.file() + ": [0]: key size"));
}

TEST_CASE("at start the file takes precedence over gossip.encrypt once it exists") {
    KeyringDir dir;
    SUBCASE("neither: no encryption, no file") {
        auto s = start_keyring(dir.file(), "");
        REQUIRE(s);
        CHECK(s->source == KeyringSource::none);
        CHECK_FALSE(s->keyring.enabled());
        CHECK_FALSE(fs::exists(dir.file()));
    }
    SUBCASE("encrypt without a file: the file is written from it") {
        auto s = start_keyring(dir.file(), b1);
        REQUIRE(s);
        CHECK(s->source == KeyringSource::encrypt);
        CHECK(s->keyring.keys() == ring({k1}).keys());
        auto loaded = load_keyring_file(dir.file());
        REQUIRE(loaded);
        REQUIRE(loaded->has_value());
        CHECK((*loaded)->keys() == ring({k1}).keys());
    }
    SUBCASE("the file wins over encrypt, and says when encrypt differs") {
        REQUIRE(save_keyring_file(dir.file(), ring({k2, k1})));
        auto s = start_keyring(dir.file(), b1);
        REQUIRE(s);
        CHECK(s->source == KeyringSource::file);
        CHECK(s->keyring.keys() == ring({k2, k1}).keys());
        CHECK(s->encrypt_ignored);
        auto same = start_keyring(dir.file(), b2);
        REQUIRE(same);
        CHECK_FALSE(same->encrypt_ignored);
        auto plain = start_keyring(dir.file(), "");
        REQUIRE(plain);
        CHECK(plain->keyring.enabled()); // encryption stays on: delete the file to turn it off
        CHECK_FALSE(plain->encrypt_ignored);
    }
    SUBCASE("a broken file stops the start") {
        dir.write("[]");
        CHECK_FALSE(start_keyring(dir.file(), b1));
    }
}

TEST_CASE("changes follow memberlist's keyring rules") {
    using Kind = KeyringRefusal::Kind;
    gossip::Keyring r = ring({k1});
    auto refused = [](const std::expected<gossip::Keyring, KeyringRefusal>& e) {
        REQUIRE_FALSE(e);
        return e.error();
    };

    auto installed = plan_keyring_change(r, KeyringOp::install, b2);
    REQUIRE(installed);
    CHECK(installed->keys() == ring({k1, k2}).keys()); // the primary stays
    CHECK(r.keys().size() == 1);                       // the current keyring is untouched
    auto again = plan_keyring_change(*installed, KeyringOp::install, b2);
    REQUIRE(again);
    CHECK(again->keys() == installed->keys());

    auto used = plan_keyring_change(*installed, KeyringOp::use, b2);
    REQUIRE(used);
    CHECK(std::ranges::equal(used->primary(), k2));

    auto removed = plan_keyring_change(*used, KeyringOp::remove, b1);
    REQUIRE(removed);
    CHECK(removed->keys() == ring({k2}).keys());
    auto absent = plan_keyring_change(*removed, KeyringOp::remove, b3); // nothing to do
    REQUIRE(absent);
    CHECK(absent->keys() == removed->keys());

    CHECK(refused(plan_keyring_change(*used, KeyringOp::remove, b2)).kind == Kind::primary);
    auto not_there = refused(plan_keyring_change(r, KeyringOp::use, b3));
    CHECK(not_there.kind == Kind::not_installed);
    CHECK(not_there.message == "key: not installed on this agent (install it first)");
    auto short_key = refused(plan_keyring_change(r, KeyringOp::install, "AAAA"));
    CHECK(short_key.kind == Kind::bad_key);
    CHECK(short_key.message == "key: key size must be 16, 24 or 32 bytes, not 3");
    CHECK(refused(plan_keyring_change(r, KeyringOp::install, "***")).kind == Kind::bad_key);
    CHECK(refused(plan_keyring_change(gossip::Keyring{}, KeyringOp::install, b1)).kind ==
          Kind::disabled);
}
