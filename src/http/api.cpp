#include "http/api.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/duration.hpp"
#include "core/log.hpp"
#include "core/metrics_text.hpp"
#include "core/text.hpp"
#include "http/json_body.hpp"
#include "http/prometheus_sd.hpp"
#include "http/ui.hpp"
#include "registry/load.hpp"

namespace cairn::http {

using nlohmann::json;

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        auto slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
    }
    return parts;
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

// GET /v1/services/{name} of a service with more instances than this is
// streamed, this many instances per piece.
constexpr std::size_t stream_above_instances = 512;
constexpr std::size_t stream_slice_instances = 128;

Response method_not_allowed(std::string_view allow) {
    Response r = Response::error(405, fmt::format("method not allowed; use {}", allow));
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
}

bool is_write(std::string_view method) {
    return method == "PUT" || method == "DELETE" || method == "POST";
}

// Compares in time independent of where the strings differ.
bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

} // namespace

Api::Api(registry::Registry& registry, ApiOptions options, ApiHooks hooks)
    : registry_(registry)
    , options_(std::move(options))
    , hooks_(std::move(hooks))
    , index_book_(static_cast<std::uint64_t>(now_ms()) * 1000) {
    // The listener only books the change (and marks the key for the
    // watchers): the registry is in the middle of a write.
    auto clock_us = [this] { return static_cast<std::uint64_t>(now_ms()) * 1000; };
    registry_.set_listener({
        [this, clock_us](std::string_view service) {
            index_book_.service_changed(service, clock_us());
            if (!watchers_) return;
            watchers_->changed(service_key(service));
            watchers_->changed(any_service_key);
        },
        [this, clock_us] {
            index_book_.nodes_changed(clock_us());
            if (!watchers_) return;
            watchers_->changed(nodes_key);
            watchers_->changed(any_service_key);
        },
    });
}

Api::~Api() {
    registry_.set_listener({});
}

void Api::enable_blocking(Loop& loop) {
    watchers_ = std::make_unique<Watchers>(loop);
    watchers_->set_index([this](std::string_view key) { return index_book_.of(key); });
}

std::int64_t Api::now_ms() const {
    if (hooks_.now_ms) return hooks_.now_ms();
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

bool Api::exhausted() const {
    return registry_.version_counter() == std::numeric_limits<std::uint64_t>::max();
}

void Api::changed(const std::string& instance_id) {
    if (hooks_.on_change) hooks_.on_change(instance_id);
}

bool Api::authorized(const Request& r) const {
    if (options_.token.empty()) return true;
    // Consul's ways of sending it.
    if (const std::string* t = r.header("x-consul-token")) return same_secret(*t, options_.token);
    if (auto t = r.query_param("token")) return same_secret(*t, options_.token);
    const std::string* h = r.header("authorization");
    constexpr std::string_view scheme = "Bearer ";
    if (!h || h->size() < scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), h->begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
        }))
        return false;
    return same_secret(std::string_view(*h).substr(scheme.size()), options_.token);
}

std::optional<Response> Api::refuse_before_body(const Request& head) const {
    if (!is_write(head.method) || authorized(head)) return std::nullopt;
    Response resp = Response::error(
        401, "a valid bearer token is required for writes (Authorization: Bearer ...)");
    resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cairn\"");
    return resp;
}

void Api::handle(const Request& r, Respond outer) {
    // Every answer, at once or after a commit, is counted by route and status.
    Respond respond = [this, route = route_of(r.path), method = method_label(r.method),
                       outer = std::move(outer)](Response resp) {
        routes_.count(route, method, resp.status);
        outer(std::move(resp));
    };
    auto parts = split_path(r.path);
    const std::string& m = r.method;

    if (parts.size() >= 2 && parts[0] == "v1" &&
        ((parts[1] == "agent" && parts.size() >= 3) || parts[1] == "catalog" ||
         parts[1] == "health" || parts[1] == "status"))
        return consul(r, parts, std::move(respond));

    if (auto refusal = refuse_before_body(r)) return respond(std::move(*refusal));

    if (is_ui_path(r.path)) return respond(ui(r));
    if (parts.size() == 1 && parts[0] == "health")
        return respond(m == "GET" ? health() : method_not_allowed("GET"));
    if (parts.size() == 1 && parts[0] == "metrics")
        return respond(m == "GET" ? metrics() : method_not_allowed("GET"));
    if (parts.empty() || parts[0] != "v1")
        return respond(
            Response::error(404, fmt::format("no such endpoint: {}", quote(r.path, 200))));

    if (parts.size() == 2 && parts[1] == "services") {
        if (m == "GET") return respond(list_services());
        if (m == "PUT" || m == "POST") return register_instance(r, std::move(respond));
        return respond(method_not_allowed("GET, PUT"));
    }
    if (parts.size() == 3 && parts[1] == "services") {
        std::string key(parts[2]);
        if (m == "GET") return respond(service(r, key));
        if (m == "DELETE") return deregister(key, std::move(respond));
        return respond(method_not_allowed("GET, DELETE"));
    }
    if (parts.size() == 4 && parts[1] == "services" && parts[3] == "maintenance") {
        if (m != "PUT") return respond(method_not_allowed("PUT"));
        return maintenance(r, std::string(parts[2]), std::move(respond));
    }
    if (parts.size() == 4 && parts[1] == "checks") {
        std::optional<registry::Health> status;
        if (parts[3] == "pass")
            status = registry::Health::passing;
        else if (parts[3] == "warn")
            status = registry::Health::warning;
        else if (parts[3] == "fail")
            status = registry::Health::critical;
        if (!status)
            return respond(
                Response::error(404, fmt::format("no such endpoint: {} (use pass, warn or fail)",
                                                 quote(r.path, 200))));
        if (m != "PUT") return respond(method_not_allowed("PUT"));
        return check_report(r, std::string(parts[2]), *status, std::move(respond));
    }
    if (parts.size() == 2 && parts[1] == "members")
        return respond(m == "GET" ? members() : method_not_allowed("GET"));
    if (parts.size() == 2 && parts[1] == "keyring")
        return m == "GET" ? keyring(r, "", std::move(respond)) : respond(method_not_allowed("GET"));
    if (parts.size() == 3 && parts[1] == "keyring") {
        if (parts[2] != "install" && parts[2] != "use" && parts[2] != "remove")
            return respond(Response::error(
                404, fmt::format("no such endpoint: {} (use install, use or remove)",
                                 quote(r.path, 200))));
        if (m != "PUT" && m != "POST") return respond(method_not_allowed("PUT, POST"));
        return keyring(r, parts[2], std::move(respond));
    }
    if (parts.size() == 2 && parts[1] == "agent")
        return respond(m == "GET" ? agent() : method_not_allowed("GET"));
    if (parts.size() == 3 && parts[1] == "dns" && parts[2] == "lookup")
        return respond(m == "GET" ? dns_lookup(r) : method_not_allowed("GET"));
    if (parts.size() == 3 && parts[1] == "dns" && parts[2] == "cache")
        return respond(m == "DELETE" ? flush_dns_cache(r) : method_not_allowed("DELETE"));
    if (parts.size() == 3 && parts[1] == "prometheus" && parts[2] == "sd")
        return respond(m == "GET" ? prometheus_sd(registry_, r, options_.datacenter)
                                  : method_not_allowed("GET"));
    return respond(Response::error(404, fmt::format("no such endpoint: {}", quote(r.path, 200))));
}

Response Api::handle(const Request& r) {
    std::optional<Response> answer;
    handle(r, [&answer](Response resp) { answer = std::move(resp); });
    if (!answer)
        return Response::error(500, "internal error: this write is answered after its commit");
    return std::move(*answer);
}

Response Api::health() {
    if (hooks_.storage_fault)
        if (std::string fault = hooks_.storage_fault(); !fault.empty())
            return Response::text(503, fmt::format("storage fault: {}\n", fault));
    return Response::text(200, "ok\n");
}

void Api::durable(DurableWrite write, std::function<Response()> ok, Respond respond) {
    auto apply = [this](const DurableWrite& w) {
        if (w.applied) return;
        if (w.instance)
            registry_.apply(*w.instance);
        else if (w.tombstone)
            registry_.apply(*w.tombstone);
    };
    if (!hooks_.persist) {
        apply(write);
        return respond(ok());
    }
    auto stored = std::make_shared<DurableWrite>(write);
    hooks_.persist(std::move(write), [stored, apply, ok = std::move(ok),
                                      respond = std::move(respond)](Result<void> r) {
        if (!r)
            return respond(Response::error(
                503, fmt::format("not stored, so not applied: {}", r.error().message)));
        apply(*stored);
        respond(ok());
    });
}

json Api::display(const registry::Instance& instance) const {
    json j = encode_instance(instance);
    if (!j.contains("policy")) j["policy"] = options_.default_policy;
    if (!j.contains("ttl")) j["ttl"] = format_duration(Duration{options_.default_ttl_ms});
    return j;
}

void Api::register_instance(const Request& r, Respond respond) {
    auto body = parse_json_body(r.body);
    if (!body) return respond(Response::error(400, body.error().message));
    auto instance = decode_registration_json(*body, RegistrationDefaults{options_.address});
    if (!instance) return respond(Response::error(400, instance.error().message));
    store_registration(
        std::move(*instance), !body->contains("maintenance"),
        [this](const registry::Instance& i) { return Response::json(200, dump(display(i))); },
        [](const std::string& message) { return message; }, std::move(respond));
}

void Api::store_registration(registry::Instance instance, bool keep_maintenance,
                             std::function<Response(const registry::Instance&)> ok,
                             std::function<std::string(const std::string&)> message,
                             Respond respond) {
    // Maintenance is an operator's switch: re-registering does not undo it
    // unless the registration says so.
    if (keep_maintenance)
        if (const registry::Instance* old = registry_.find_local(instance.id);
            old && old->maintenance) {
            instance.maintenance = true;
            instance.maintenance_reason = old->maintenance_reason;
        }
    // The registry validates too, and changes nothing when it refuses.
    auto prepared = registry_.prepare_upsert(std::move(instance), now_ms());
    if (!prepared)
        return respond(Response::error(exhausted() ? 503 : 400, message(prepared.error())));
    std::string id = prepared->instance.id;
    if (!prepared->changed) return respond(ok(prepared->instance));
    durable(
        {std::move(prepared->instance), std::nullopt},
        [this, id, ok = std::move(ok)] {
            if (const registry::Instance* stored = registry_.find_local(id))
                log::info("http.register",
                          {{"id", id}, {"service", stored->service}, {"version", stored->version}});
            changed(id);
            const registry::Instance* now = registry_.find_local(id);
            return now ? ok(*now) : Response::json(200, dump(json::object()));
        },
        std::move(respond));
}

void Api::deregister(const std::string& id, Respond respond) {
    if (!registry_.find_local(id))
        return respond(Response::error(
            404, fmt::format("no instance with id {} is registered with this agent", quote(id))));
    auto tombstone = registry_.prepare_deregister(id, now_ms());
    if (!tombstone) return respond(Response::error(503, tombstone.error()));
    durable(
        {std::nullopt, std::move(*tombstone)},
        [this, id] {
            log::info("http.deregister", {{"id", id}});
            changed(id);
            return Response::json(200, dump(json{{"deregistered", id}}));
        },
        std::move(respond));
}

Response Api::list_services() {
    json out = json::array();
    for (const std::string& name : registry_.service_names()) {
        std::array<std::size_t, 4> counts{};
        auto instances = registry_.instances_of(name);
        for (const registry::Instance* i : instances)
            ++counts[static_cast<std::size_t>(i->health())];
        out.push_back({{"name", instances.empty() ? name : instances.front()->service},
                       {"instances", instances.size()},
                       {"passing", counts[0]},
                       {"warning", counts[1]},
                       {"critical", counts[2]},
                       {"maintenance", counts[3]}});
    }
    return Response::json(200, dump(out));
}

Response Api::service(const Request& r, const std::string& name) {
    auto instances = registry_.instances_of(name);
    if (instances.empty())
        return Response::error(404, fmt::format("no service named {}", quote(name)));
    bool passing_only = r.query_param("passing").has_value();
    auto tag = r.query_param("tag");
    if (instances.size() > stream_above_instances)
        return streamed_service(name, instances, passing_only, std::move(tag));
    json out = json::array();
    for (const registry::Instance* i : instances) {
        if (passing_only && i->health() != registry::Health::passing) continue;
        if (tag && std::ranges::find(i->tags, *tag) == i->tags.end()) continue;
        out.push_back(display(*i));
    }
    return Response::json(200, dump(out));
}

// A large service is written as the connection drains, a slice of instances
// at a time: the body is never whole in memory, and the main loop is never
// held for more than one slice. Instances are looked up again per slice, so
// one that is deregistered meanwhile is left out and one that changed is
// shown as it is then.
Response Api::streamed_service(const std::string& name,
                               const std::vector<const registry::Instance*>& instances,
                               bool passing_only, std::optional<std::string> tag) {
    std::uint64_t version = registry_.version_counter();
    auto& cached = stream_keys_[name];
    std::shared_ptr<const StreamKeys> keys =
        cached.first == version ? cached.second.lock() : nullptr;
    if (!keys) {
        auto fresh = std::make_shared<StreamKeys>();
        fresh->reserve(instances.size());
        for (const registry::Instance* i : instances) fresh->emplace_back(i->node, i->id);
        keys = fresh;
        cached = {version, keys};
        std::erase_if(stream_keys_,
                      [](const auto& entry) { return entry.second.second.expired(); });
    }
    Response r = Response::json(200, "");
    std::size_t next = 0;
    bool opened = false, any = false;
    r.body_stream = [this, keys, next, opened, any, passing_only, tag](std::string& out) mutable {
        if (!opened) {
            out += '[';
            opened = true;
        }
        std::size_t end = std::min(keys->size(), next + stream_slice_instances);
        for (; next < end; ++next) {
            const registry::Instance* i = registry_.find((*keys)[next].first, (*keys)[next].second);
            if (!i || (passing_only && i->health() != registry::Health::passing)) continue;
            if (tag && std::ranges::find(i->tags, *tag) == i->tags.end()) continue;
            if (any) out += ',';
            any = true;
            out += display(*i).dump(-1, ' ', false, json::error_handler_t::replace);
        }
        if (next < keys->size()) return true;
        out += "]\n";
        return false;
    };
    return r;
}

void Api::check_report(const Request& r, const std::string& check_id, registry::Health status,
                       Respond respond) {
    std::string note;
    std::optional<std::uint32_t> load;
    if (!r.body.empty()) {
        auto j = parse_json_body(r.body);
        if (!j) return respond(Response::error(400, j.error().message));
        if (!j->is_object())
            return respond(
                Response::error(400, "body: expected a JSON object such as {\"note\": \"...\"}"));
        for (const auto& [k, v] : j->items()) {
            if (k == "load") {
                if (!v.is_number_integer())
                    return respond(Response::error(400, "load: expected a whole number"));
                auto value = registry::load_value(
                    v.is_number_unsigned() ? static_cast<std::int64_t>(std::min<std::uint64_t>(
                                                 v.get<std::uint64_t>(), INT64_MAX))
                                           : v.get<std::int64_t>());
                if (!value) return respond(Response::error(400, value.error().message));
                load = *value;
                continue;
            }
            if (k != "note")
                return respond(Response::error(400, fmt::format("{}: unknown field", escaped(k))));
            if (!v.is_string()) return respond(Response::error(400, "note: expected a string"));
            note = v.get<std::string>();
        }
        // The load travels as the check's output says it (registry/load.hpp):
        // a leading `load=N` word, which wins over one in the note.
        if (load)
            note = note.empty() ? fmt::format("load={}", *load)
                                : fmt::format("load={} {}", *load, note);
    }
    report(check_id, status, std::move(note), std::move(respond));
}

void Api::report(const std::string& check_id, registry::Health status, std::string note,
                 Respond respond) {
    if (note.size() > 4096) note.resize(4096);
    const registry::Instance* owner = registry_.find_by_check(check_id);
    if (!owner)
        return respond(Response::error(
            404, fmt::format("no check with id {} on this agent", quote(check_id))));
    const registry::Check* check = nullptr;
    for (const auto& c : owner->checks)
        if (c.definition.id == check_id) check = &c;
    if (!check || check->definition.kind != registry::CheckKind::ttl)
        return respond(Response::error(
            400, fmt::format("check {} is not a ttl check; only ttl checks take reports",
                             quote(check_id))));
    // A report applies at once (the health engine owns the check), so a
    // storage that is known to fail refuses it before it changes anything.
    if (hooks_.persist && hooks_.storage_fault)
        if (std::string fault = hooks_.storage_fault(); !fault.empty())
            return respond(
                Response::error(503, fmt::format("not stored, so not applied: {}", fault)));
    std::string owner_id = owner->id; // the registry write below may move the instance
    registry::Health status_before = check->state.status;
    if (hooks_.ttl_report) {
        if (auto ok = hooks_.ttl_report(check_id, status, note); !ok)
            return respond(Response::error(400, ok.error().message));
    } else {
        registry::CheckState state = check->state;
        if (state.status != status) state.last_change_ms = now_ms();
        state.status = status;
        state.output = note;
        if (auto reported = registry::load_in_output(note)) state.load = reported;
        registry_.update_check(check_id, state);
    }
    changed(owner_id);
    auto answer = [check_id, status] {
        return Response::json(
            200, dump(json{{"check", check_id}, {"status", registry::to_string(status)}}));
    };
    // Durable when it changed the check's status (and so, maybe, what DNS serves).
    const registry::Instance* now = registry_.find_local(owner_id);
    const registry::Check* after = nullptr;
    if (now)
        for (const auto& c : now->checks)
            if (c.definition.id == check_id) after = &c;
    if (!hooks_.persist || !after || after->state.status == status_before) return respond(answer());
    durable({*now, std::nullopt, true}, answer, std::move(respond));
}

void Api::maintenance(const Request& r, const std::string& id, Respond respond) {
    auto enable = r.query_param("enable");
    if (!enable || (*enable != "true" && *enable != "false"))
        return respond(Response::error(400, "enable: required, true or false"));
    set_maintenance(id, *enable == "true", r.query_param("reason").value_or(""),
                    std::move(respond));
}

void Api::set_maintenance(const std::string& id, bool on, std::string reason, Respond respond) {
    if (!registry_.find_local(id))
        return respond(Response::error(
            404, fmt::format("no instance with id {} is registered with this agent", quote(id))));
    auto prepared = registry_.prepare_maintenance(id, on, reason);
    if (!prepared) return respond(Response::error(503, prepared.error()));
    auto answer = [this, id, enable = on ? "true" : "false", reason] {
        log::info("http.maintenance", {{"id", id}, {"enable", enable}, {"reason", reason}});
        changed(id);
        const registry::Instance* now = registry_.find_local(id);
        return Response::json(200, dump(now ? display(*now) : json::object()));
    };
    if (!prepared->changed) return respond(answer());
    durable({std::move(prepared->instance), std::nullopt}, answer, std::move(respond));
}

void Api::keyring(const Request& r, std::string_view op, Respond respond) {
    // The keys are the cluster's secret: with a token set, reading them
    // needs it as writes do.
    if (!authorized(r)) {
        Response resp = Response::error(
            401, "a valid bearer token is required for the keyring (Authorization: Bearer ...)");
        resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cairn\"");
        return respond(std::move(resp));
    }
    if (!hooks_.keyring_list || !hooks_.keyring_change)
        return respond(Response::error(409, "this agent has no gossip keyring"));
    if (op.empty()) return respond(Response::json(200, dump(hooks_.keyring_list())));
    auto j = parse_json_body(r.body);
    if (!j) return respond(Response::error(400, j.error().message));
    if (!j->is_object())
        return respond(
            Response::error(400, "body: expected a JSON object such as {\"key\": \"...\"}"));
    std::string key;
    bool has_key = false;
    for (const auto& [k, v] : j->items()) {
        if (k != "key")
            return respond(Response::error(400, fmt::format("{}: unknown field", escaped(k))));
        if (!v.is_string()) return respond(Response::error(400, "key: expected a base64 string"));
        key = v.get<std::string>();
        has_key = true;
    }
    if (!has_key) return respond(Response::error(400, "key: missing"));
    hooks_.keyring_change(
        op, std::move(key),
        [respond = std::move(respond)](std::expected<json, ApiRefusal> changed) {
            if (!changed)
                return respond(Response::error(changed.error().status, changed.error().message));
            respond(Response::json(200, dump(*changed)));
        });
}

Response Api::flush_dns_cache(const Request& r) {
    if (!hooks_.flush_dns_cache)
        return Response::error(409, "this agent does not forward: it has no DNS cache");
    std::optional<std::string> name = r.query_param("name");
    if (name && name->empty())
        return Response::error(400, "name: empty (leave it out to flush all)");
    auto removed = hooks_.flush_dns_cache(name ? std::optional<std::string_view>(*name)
                                               : std::optional<std::string_view>());
    if (!removed) return Response::error(400, removed.error().message);
    return Response::json(200, dump(json{{"removed", *removed}}));
}

Response Api::members() {
    if (hooks_.members) return Response::json(200, dump(hooks_.members()));
    json self = {{"name", options_.node_name},
                 {"address", cairn::to_string(options_.address)},
                 {"datacenter", options_.datacenter},
                 {"state", "alive"},
                 {"incarnation", 0},
                 {"meta", json::object()}};
    return Response::json(200, dump(json::array({self})));
}

Response Api::dns_lookup(const Request& r) {
    if (!hooks_.dns_lookup) return Response::error(409, "this agent does not answer DNS");
    std::optional<std::string> name = r.query_param("name");
    if (!name || name->empty()) return Response::error(400, "name: missing");
    std::string type = r.query_param("type").value_or("A");
    auto answer = hooks_.dns_lookup(*name, type);
    if (!answer) return Response::error(400, answer.error().message);
    return Response::json(200, dump(*answer));
}

// The status page: open without a token; with one, for a request that
// presents it (the bearer header, or the cookie that ?token= sets).
Response Api::ui(const Request& r) const {
    if (options_.token.empty()) return ui_response(r, true, std::nullopt);
    if (auto given = r.query_param("token"); given && same_secret(*given, options_.token))
        return ui_response(r, true, *given);
    if (auto cookie = ui_cookie_token(r); cookie && same_secret(*cookie, options_.token))
        return ui_response(r, true, std::nullopt);
    return ui_response(r, authorized(r), std::nullopt);
}

Response Api::agent() {
    json out = {{"name", options_.node_name},
                {"datacenter", options_.datacenter},
                {"version", options_.version},
                {"address", cairn::to_string(options_.address)},
                {"config", options_.config_summary}};
    return Response::json(200, dump(out));
}

Response Api::metrics() {
    std::array<std::size_t, 4> counts{};
    auto names = registry_.service_names();
    for (const std::string& name : names)
        for (const registry::Instance* i : registry_.instances_of(name))
            ++counts[static_cast<std::size_t>(i->health())];
    MetricsText m;
    m.gauge("cairn_services", "Services known to this agent.", names.size());
    m.family("cairn_instances", "gauge", "Instances known to this agent, by health.");
    for (std::size_t h = 0; h < counts.size(); ++h)
        m.sample("cairn_instances", counts[h],
                 {{"health", registry::to_string(static_cast<registry::Health>(h))}});
    m.gauge("cairn_local_instances", "Instances registered with this agent.",
            registry_.local_instances().size());
    m.gauge("cairn_tombstones", "Deregistrations remembered.", registry_.tombstones().size());
    m.gauge("cairn_http_blocking_queries", "Consul blocking queries waiting for a change now.",
            parked_queries());
    std::string out = std::move(m).text();
    out += routes_.metrics();
    if (server_metrics_) out += server_metrics_();
    if (hooks_.extra_metrics) out += hooks_.extra_metrics();
    Response resp = Response::text(200, std::move(out));
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return resp;
}

} // namespace cairn::http
