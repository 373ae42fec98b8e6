#pragma once
// Persistence of the instances registered through the HTTP API, so that
// they survive a restart. One JSON file, data_dir/services.json,
// rewritten atomically (temporary file, fsync, rename, fsync of the
// directory) at most once per debounce interval. Config-defined services are
// not written: they come from the config on every start.
//
// Main thread only.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop.hpp"
#include "core/result.hpp"
#include "http/registration.hpp"
#include "registry/types.hpp"

namespace cairn::agent {

// The file's text: {"format": 1, "instances": [<instance as the API shows it>...]}.
[[nodiscard]] std::string encode_state(const std::vector<const registry::Instance*>& instances);

struct DecodedState {
    std::vector<registry::Instance> instances;
    std::vector<std::string> errors; // one per instance that was skipped, naming it
};
// Fails when the text is not a state file at all; a bad instance inside is
// skipped and reported in `errors`.
[[nodiscard]] Result<DecodedState> decode_state(std::string_view text, const http::RegistrationDefaults& defaults);

// Writes `path` so that a crash leaves either the old or the new contents.
[[nodiscard]] Result<void> write_file_atomically(const std::string& path, std::string_view contents);

class StateStore {
public:
    // Returns the instances to persist (the API-registered ones), when a save runs.
    using Collect = std::function<std::vector<const registry::Instance*>()>;

    StateStore(Loop& loop, std::string data_dir, Collect collect,
               std::chrono::milliseconds debounce = std::chrono::milliseconds(100));
    ~StateStore();
    StateStore(const StateStore&) = delete;
    StateStore& operator=(const StateStore&) = delete;

    [[nodiscard]] const std::string& path() const { return path_; }

    // Reads the file. No file: nothing. A file that cannot be read as state is
    // logged and renamed to services.json.corrupt-<unix seconds>, and nothing
    // is loaded; when only some instances are bad, the good ones load and a
    // copy of the file is kept under that name. The agent starts either way.
    std::vector<registry::Instance> load(const http::RegistrationDefaults& defaults);

    // Call after each accepted write: a save runs within the debounce
    // interval, or, when saves have become slow (many instances), within
    // 20 times the duration of the last save, so that saving takes at most
    // about 5% of the loop.
    void schedule();
    // Saves now if a save is pending (at shutdown).
    void flush();
    // Saves now, whatever is pending.
    Result<void> save();

    [[nodiscard]] std::uint64_t saves() const { return saves_; }

private:
    void keep_aside(bool rename);

    std::string data_dir_;
    std::string path_;
    Collect collect_;
    std::chrono::milliseconds debounce_;
    std::chrono::milliseconds last_save_{0};
    static constexpr int cost_factor = 20;
    std::unique_ptr<Timer> timer_;
    bool pending_ = false;
    std::uint64_t saves_ = 0;
};

} // namespace cairn::agent
