#include "agent/state_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/log.hpp"
#include "http/json_body.hpp"

namespace cairn::agent {

using nlohmann::json;

namespace {

constexpr int state_format = 1;
// A state file is ours and bounded by the registry; this only guards
// against reading something absurd into memory.
constexpr std::uintmax_t max_state_bytes = 1ull << 30;

std::int64_t unix_seconds()
{
    using namespace std::chrono;
    return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

Result<void> fsync_path(const std::string& path, int flags)
{
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0)
        return fail("open {}: {}", path, std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0)
        return fail("fsync {}: {}", path, std::strerror(err));
    return {};
}

} // namespace

std::string encode_state(const std::vector<const registry::Instance*>& instances)
{
    // One small document per instance rather than one for the whole file:
    // the same text, at a fraction of the allocations.
    std::string out = fmt::format("{{\"format\": {}, \"instances\": [", state_format);
    for (std::size_t i = 0; i < instances.size(); ++i) {
        out += i == 0 ? "\n" : ",\n";
        out += http::encode_instance(*instances[i]).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    out += "\n]}\n";
    return out;
}

Result<DecodedState> decode_state(std::string_view text, const http::RegistrationDefaults& defaults)
{
    auto doc = http::parse_json_body(text, 64);
    if (!doc)
        return std::unexpected(doc.error());
    if (!doc->is_object() || !doc->contains("format") || !doc->contains("instances"))
        return fail("not a cairn state file (expected {{\"format\": 1, \"instances\": [...]}})");
    const json& format = (*doc)["format"];
    if (!format.is_number_unsigned() || format.get<std::uint64_t>() != state_format)
        return fail("format: {} is not a format this agent reads ({})", format.dump(), state_format);
    const json& list = (*doc)["instances"];
    if (!list.is_array())
        return fail("instances: expected an array");
    DecodedState out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto instance = http::decode_registration_json(list[i], defaults);
        if (!instance) {
            out.errors.push_back(fmt::format("instances[{}]: {}", i, instance.error().message));
            continue;
        }
        // The owner's version carries on upward after a restart.
        if (const auto v = list[i].find("version"); v != list[i].end() && v->is_number_unsigned())
            instance->version = v->get<std::uint64_t>();
        out.instances.push_back(std::move(*instance));
    }
    return out;
}

Result<void> write_file_atomically(const std::string& path, std::string_view contents)
{
    std::filesystem::path target(path);
    std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
    std::string temp = fmt::format("{}.tmp-{}", path, ::getpid());
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail("open {}: {}", temp, std::strerror(errno));
    std::string_view rest = contents;
    while (!rest.empty()) {
        ssize_t n = ::write(fd, rest.data(), rest.size());
        if (n < 0 && errno == EINTR)
            continue;
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

StateStore::StateStore(Loop& loop, std::string data_dir, Collect collect, std::chrono::milliseconds debounce)
    : data_dir_(std::move(data_dir)),
      path_((std::filesystem::path(data_dir_) / "services.json").string()),
      collect_(std::move(collect)),
      debounce_(debounce),
      timer_(std::make_unique<Timer>(loop))
{
}

StateStore::~StateStore() = default;

void StateStore::keep_aside(bool rename)
{
    std::string aside = fmt::format("{}.corrupt-{}", path_, unix_seconds());
    std::error_code ec;
    if (rename)
        std::filesystem::rename(path_, aside, ec);
    else
        std::filesystem::copy_file(path_, aside, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
        log::error("state.keep_aside_failed", {{"path", path_}, {"to", aside}, {"error", ec.message()}});
    else
        log::warn("state.kept_aside", {{"path", aside}});
}

std::vector<registry::Instance> StateStore::load(const http::RegistrationDefaults& defaults)
{
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec))
        return {};
    auto size = std::filesystem::file_size(path_, ec);
    std::string text;
    if (!ec && size <= max_state_bytes) {
        std::ifstream in(path_, std::ios::binary);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    auto state = decode_state(text, defaults);
    if (!state) {
        log::error("state.corrupt", {{"path", path_}, {"error", state.error().message}});
        keep_aside(true);
        return {};
    }
    for (const std::string& e : state->errors)
        log::error("state.instance_skipped", {{"path", path_}, {"error", e}});
    if (!state->errors.empty())
        keep_aside(false);
    log::info("state.loaded", {{"path", path_}, {"instances", state->instances.size()}});
    return std::move(state->instances);
}

void StateStore::schedule()
{
    pending_ = true;
    if (timer_->active())
        return;
    // Saving costs time on the loop that grows with the number of instances;
    // waiting `cost_factor` times as long as the last save took keeps that
    // under 1/cost_factor of the loop during bursts of writes.
    auto wait = std::max(debounce_, last_save_ * cost_factor);
    timer_->start(wait, std::chrono::milliseconds(0), [this] { flush(); });
}

void StateStore::flush()
{
    timer_->stop();
    if (!pending_)
        return;
    if (auto ok = save(); !ok)
        log::error("state.save_failed", {{"path", path_}, {"error", ok.error().message}});
}

Result<void> StateStore::save()
{
    pending_ = false;
    auto started = std::chrono::steady_clock::now();
    auto instances = collect_ ? collect_() : std::vector<const registry::Instance*>{};
    auto ok = write_file_atomically(path_, encode_state(instances));
    last_save_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (ok) {
        ++saves_;
        log::debug("state.saved", {{"path", path_}, {"instances", instances.size()}, {"ms", last_save_.count()}});
    }
    return ok;
}

} // namespace cairn::agent
