#include "health/prober.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "health/check_runner.hpp"
#include "health/curl_multi.hpp"
#include "registry/load.hpp"

namespace cairn::health {

namespace {

struct Running {
    std::unique_ptr<CheckRunner> runner;
    registry::CheckState reported; // what the registry has
    std::int64_t reported_at_ms = 0;
};

std::uint64_t make_seed(std::uint64_t seed) {
    if (seed != 0) return seed;
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

} // namespace

bool worth_refreshing(const registry::CheckState& reported, const registry::CheckState& now) {
    if (reported.output != now.output) return true;
    auto before = static_cast<std::int64_t>(reported.latency_us);
    auto after = static_cast<std::int64_t>(now.latency_us);
    constexpr std::int64_t noise_us = 1'000;
    return std::abs(after - before) > std::max(before / 2, noise_us);
}

struct Prober::State {
    Loop& loop;
    registry::Registry& registry;
    ProberOptions options;
    CurlMulti curl;
    std::mt19937_64 random;
    RunnerEnv env;
    // check id -> running check; instance id -> its check ids.
    std::unordered_map<std::string, Running> checks;
    std::unordered_map<std::string, std::vector<std::string>> by_instance;
    // instance id -> the version sync() last looked at, so that a full sync
    // after every API write costs a hash lookup per unchanged instance.
    std::unordered_map<std::string, std::uint64_t> seen_version;
    std::function<void(const std::vector<std::string>&)> deregistered;
    std::function<void(const std::string&)> ttl_expired;
    // Deregistrations wait for a fresh loop turn: they come from inside a
    // runner's callback, and deregistering destroys that runner.
    std::vector<std::string> to_deregister;
    Timer reaper;
    CheckStats stats;

    State(Loop& l, registry::Registry& r, ProberOptions o)
        : loop(l)
        , registry(r)
        , options(o)
        , curl(l)
        , random(make_seed(o.seed))
        , env{l, curl, random, [&l] { return now(l); }}
        , reaper(l) {}

    ~State() {
        // Runners first: their probes still use `curl`.
        checks.clear();
    }

    static Now now(Loop& l) {
        auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        return {static_cast<std::int64_t>(l.now_ms()), wall.count()};
    }

    void stop_check(const std::string& check_id) { checks.erase(check_id); }

    void sync_one(const std::string& instance_id) {
        const registry::Instance* instance = registry.find_local(instance_id);
        std::vector<std::string> wanted;
        if (instance != nullptr) {
            for (const auto& check : instance->checks) {
                wanted.push_back(check.definition.id);
                start_or_keep(instance_id, check);
            }
        }
        auto it = by_instance.find(instance_id);
        if (it != by_instance.end()) {
            for (const auto& old_id : it->second) {
                if (std::find(wanted.begin(), wanted.end(), old_id) == wanted.end()) {
                    auto c = checks.find(old_id);
                    if (c != checks.end() && c->second.runner->instance_id() == instance_id)
                        checks.erase(c);
                }
            }
        }
        if (wanted.empty())
            by_instance.erase(instance_id);
        else
            by_instance[instance_id] = std::move(wanted);
        if (instance != nullptr)
            seen_version[instance_id] = instance->version;
        else
            seen_version.erase(instance_id);
    }

    void start_or_keep(const std::string& instance_id, const registry::Check& check) {
        const std::string& id = check.definition.id;
        auto it = checks.find(id);
        if (it != checks.end() && it->second.runner->instance_id() == instance_id &&
            it->second.runner->definition() == check.definition)
            return;
        Running running;
        running.reported = check.state;
        running.reported_at_ms = static_cast<std::int64_t>(loop.now_ms());
        running.runner =
            std::make_unique<CheckRunner>(env, instance_id, check.definition, check.state,
                                          [this](CheckRunner& runner, bool status_changed) {
                                              on_result(runner, status_changed);
                                          });
        CheckRunner& runner = *running.runner;
        checks.insert_or_assign(id, std::move(running));
        runner.start();
    }

    void on_result(CheckRunner& runner, bool status_changed) {
        const std::string& id = runner.definition().id;
        auto it = checks.find(id);
        if (it == checks.end()) return;
        Running& running = it->second;
        registry::CheckKind kind = runner.definition().kind;
        stats.count(kind, runner.last_result().outcome, runner.last_result().duration_us);
        if (runner.machine().just_ejected()) stats.count_ejection(kind);
        const registry::CheckState& state = runner.machine().state();
        auto now_ms = static_cast<std::int64_t>(loop.now_ms());
        bool stale = worth_refreshing(running.reported, state) &&
                     now_ms - running.reported_at_ms >= options.refresh_ms;
        // A load that moved is what least_loaded answers by: no waiting for
        // the refresh period.
        bool load_moved = registry::load_moved(running.reported.load, state.load);
        if (status_changed || stale || load_moved ||
            runner.definition().kind == registry::CheckKind::ttl) {
            if (status_changed)
                log::info("health.status", {{"check", id},
                                            {"instance", runner.instance_id()},
                                            {"status", registry::to_string(state.status)},
                                            {"output", state.output.substr(0, 200)}});
            running.reported = state;
            running.reported_at_ms = now_ms;
            registry.update_check(id, state);
            if (status_changed && runner.expired() && ttl_expired)
                ttl_expired(runner.instance_id());
        }
        if (runner.machine().should_deregister(now_ms)) schedule_deregister(runner.instance_id());
    }

    void schedule_deregister(const std::string& instance_id) {
        if (std::find(to_deregister.begin(), to_deregister.end(), instance_id) !=
            to_deregister.end())
            return;
        to_deregister.push_back(instance_id);
        reaper.start(std::chrono::milliseconds(0), std::chrono::milliseconds(0),
                     [this] { deregister_due(); });
    }

    void deregister_due() {
        auto ids = std::move(to_deregister);
        to_deregister.clear();
        std::vector<std::string> removed;
        for (const auto& id : ids) {
            log::info("health.deregister",
                      {{"instance", id}, {"reason", "deregister_critical_after"}});
            if (registry.deregister_local(id, now(loop).wall_ms)) removed.push_back(id);
            sync_one(id);
        }
        if (!removed.empty() && deregistered) deregistered(removed);
    }
};

Prober::Prober(Loop& loop, registry::Registry& registry, ProberOptions options)
    : state_(std::make_unique<State>(loop, registry, options)) {}

Prober::~Prober() = default;

void Prober::sync() {
    State& s = *state_;
    std::vector<std::string> ids;
    std::unordered_map<std::string_view, bool> present;
    for (const auto* instance : s.registry.local_instances()) {
        present.emplace(instance->id, true);
        auto seen = s.seen_version.find(instance->id);
        if (seen == s.seen_version.end() || seen->second != instance->version)
            ids.push_back(instance->id);
    }
    for (const auto& [id, version] : s.seen_version)
        if (!present.contains(id)) ids.push_back(id); // deregistered: its checks stop
    for (const auto& id : ids) s.sync_one(id);
}

void Prober::sync_instance(std::string_view instance_id) {
    state_->sync_one(std::string(instance_id));
}

Result<> Prober::update_ttl(std::string_view check_id, registry::Health status, std::string note) {
    auto it = state_->checks.find(std::string(check_id));
    if (it == state_->checks.end()) return fail("no check with id {} on this agent", check_id);
    return it->second.runner->report_ttl(status, std::move(note));
}

void Prober::on_deregister(std::function<void(const std::vector<std::string>& ids)> callback) {
    state_->deregistered = std::move(callback);
}

void Prober::on_ttl_expired(std::function<void(const std::string& instance_id)> callback) {
    state_->ttl_expired = std::move(callback);
}

std::size_t Prober::check_count() const {
    return state_->checks.size();
}

const CheckStats& Prober::stats() const {
    return state_->stats;
}

const CheckMachine* Prober::find(std::string_view check_id) const {
    auto it = state_->checks.find(std::string(check_id));
    return it == state_->checks.end() ? nullptr : &it->second.runner->machine();
}

} // namespace cairn::health
