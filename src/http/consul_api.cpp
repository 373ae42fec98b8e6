// Consul's HTTP API on cairn's registry: routing, Consul's response headers
// and blocking, and the agent's writes (docs/consul-compatibility.md). The
// reads are in consul_read.cpp.

#include <algorithm>

#include <fmt/format.h>

#include "core/text.hpp"
#include "http/api.hpp"
#include "http/consul_decode.hpp"
#include "http/json_body.hpp"
#include "registry/validate.hpp"

namespace cairn::http {

using nlohmann::json;

namespace {

Response method_not_allowed(std::string_view allow) {
    Response r = Response::error(405, fmt::format("method not allowed; use {}", allow));
    r.headers.emplace_back("Allow", std::string(allow));
    return r;
}

// Consul answers a write with 200 and an empty body, and errors as text.
Response consul_shaped(Response r) {
    if (r.status >= 400 && !r.body_stream) {
        json j = json::parse(r.body, nullptr, false);
        if (j.is_object() && j.contains("error") && j["error"].is_string()) {
            r.body = j["error"].get<std::string>() + "\n";
            r.content_type = "text/plain; charset=utf-8";
        }
    }
    return r;
}

Respond empty_on_success(Respond respond) {
    return [respond = std::move(respond)](Response r) {
        if (r.status == 200) {
            r.body.clear();
            r.content_type = "text/plain; charset=utf-8";
        }
        respond(std::move(r));
    };
}

} // namespace

Respond Api::with_consul_headers(std::string key, Respond respond) {
    return [this, key = std::move(key), respond = std::move(respond)](Response r) {
        r = consul_shaped(std::move(r));
        // Read when the answer goes out, so that it is the index of what it shows.
        r.headers.emplace_back("X-Consul-Index", std::to_string(index_book_.of(key)));
        r.headers.emplace_back("X-Consul-KnownLeader", "true");
        r.headers.emplace_back("X-Consul-LastContact", "0");
        respond(std::move(r));
    };
}

void Api::consul(const Request& r, const std::vector<std::string_view>& parts, Respond respond) {
    std::optional<std::string> key = consul_read_key(parts);
    respond = with_consul_headers(key.value_or(std::string(any_service_key)), std::move(respond));
    if (!key) return consul_write(r, parts, std::move(respond));
    if (r.method != "GET") return respond(method_not_allowed("GET"));
    auto blocking = parse_blocking(r);
    if (!blocking) return respond(Response::error(400, blocking.error().message));
    // Only an index equal to the current one waits: an older one has missed
    // a change, and one ahead of the server (it restarted, or the client
    // made it up) must not wait for an index that may never come.
    if (!*blocking || !watchers_ || (*blocking)->index != index_book_.of(*key))
        return respond(consul_read(r, parts));
    jitter_seed_ = jitter_seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
    Duration wait = jittered_wait((*blocking)->wait, jitter_seed_ >> 33);
    auto request = std::make_shared<const Request>(r);
    watchers_->park(*key, (*blocking)->index, wait, [this, request, respond = std::move(respond)] {
        respond(consul_read(*request, split_path(request->path)));
    });
}

void Api::consul_write(const Request& r, const std::vector<std::string_view>& parts,
                       Respond respond) {
    auto not_found = [&] {
        return respond(
            Response::error(404, fmt::format("no such endpoint: {}", quote(r.path, 200))));
    };
    if (parts.size() < 4 || parts[1] != "agent") return not_found();
    std::string_view group = parts[2], op = parts[3];
    // Consul before 1.0 took these as GET, and python3-consul 0.7 (Debian
    // 12's) still sends them so.
    bool get_too = (group == "service" && op == "deregister") ||
                   (group == "check" && (op == "pass" || op == "warn" || op == "fail"));
    if (r.method != "PUT" && r.method != "POST" && !(get_too && r.method == "GET"))
        return respond(method_not_allowed(get_too ? "PUT, GET" : "PUT"));
    if (!authorized(r))
        return respond(Response::error(
            403, "Permission denied: a valid token is required for writes (X-Consul-Token)"));
    if (group == "service" && op == "register" && parts.size() == 4)
        return consul_register(r, empty_on_success(std::move(respond)));
    if (parts.size() != 5) return not_found();
    std::string id(parts[4]);
    if (group == "service" && op == "deregister")
        return deregister(id, empty_on_success(std::move(respond)));
    if (group == "service" && op == "maintenance") {
        // Go's strconv.ParseBool, as Consul reads it (python3-consul sends "True").
        std::string enable = r.query_param("enable").value_or("");
        bool on = enable == "1" || enable == "t" || enable == "T" || enable == "true" ||
                  enable == "True" || enable == "TRUE";
        bool off = enable == "0" || enable == "f" || enable == "F" || enable == "false" ||
                   enable == "False" || enable == "FALSE";
        if (!on && !off) return respond(Response::error(400, "enable: required, true or false"));
        return set_maintenance(id, on, r.query_param("reason").value_or(""),
                               empty_on_success(std::move(respond)));
    }
    if (group == "check") {
        std::optional<registry::Health> status;
        if (op == "pass")
            status = registry::Health::passing;
        else if (op == "warn")
            status = registry::Health::warning;
        else if (op == "fail")
            status = registry::Health::critical;
        else if (op != "update")
            return not_found();
        return consul_check_update(r, id, status, empty_on_success(std::move(respond)));
    }
    return not_found();
}

void Api::consul_register(const Request& r, Respond respond) {
    auto body = parse_json_body(r.body);
    if (!body) return respond(Response::error(400, body.error().message));
    auto instance = decode_consul_registration(*body, RegistrationDefaults{options_.address});
    if (!instance) return respond(Response::error(400, instance.error().message));
    // Without ?replace-existing-checks, Consul keeps the checks the service
    // had that this registration leaves out.
    if (!r.query_param("replace-existing-checks"))
        if (const registry::Instance* old = registry_.find_local(instance->id)) {
            for (const registry::Check& c : old->checks) {
                bool named = std::ranges::any_of(instance->checks, [&](const registry::Check& n) {
                    return n.definition.id == c.definition.id;
                });
                if (!named) instance->checks.push_back(c);
            }
            if (instance->checks.size() > registry::max_checks)
                return respond(Response::error(
                    400, fmt::format("Checks: with the {} checks kept from the last registration, "
                                     "more than {} (use ?replace-existing-checks)",
                                     old->checks.size(), registry::max_checks)));
        }
    store_registration(
        std::move(*instance), true,
        [](const registry::Instance&) { return Response::json(200, ""); },
        [](const std::string& message) { return consul_message(message, {}); }, std::move(respond));
}

void Api::consul_check_update(const Request& r, const std::string& check_id,
                              std::optional<registry::Health> status, Respond respond) {
    std::string note = r.query_param("note").value_or("");
    if (!status) {
        auto body = parse_json_body(r.body);
        if (!body) return respond(Response::error(400, body.error().message));
        auto update = decode_consul_check_update(*body);
        if (!update) return respond(Response::error(400, update.error().message));
        status = update->status;
        note = std::move(update->output);
    }
    report(check_id, *status, std::move(note), std::move(respond));
}

} // namespace cairn::http
