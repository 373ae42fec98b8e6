#include "agent/state_rows.hpp"

#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/json_body.hpp"
#include "registry/validate.hpp"

namespace cairn::agent {

using nlohmann::json;

namespace {

constexpr int state_format = 1;
// Rows and the legacy file are ours; this only bounds what a damaged one
// makes the parser do.
constexpr int max_depth = 64;

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The states of TTL checks, from the encoded checks, in order.
void restore_ttl_states(const json& doc, registry::Instance& instance) {
    const auto checks = doc.find("checks");
    if (checks == doc.end() || !checks->is_array() || checks->size() != instance.checks.size())
        return;
    for (std::size_t i = 0; i < instance.checks.size(); ++i) {
        registry::Check& c = instance.checks[i];
        const json& jc = (*checks)[i];
        if (c.definition.kind != registry::CheckKind::ttl || !jc.is_object()) continue;
        if (auto s = jc.find("status"); s != jc.end() && s->is_string())
            if (auto h = registry::parse_health(s->get_ref<const std::string&>());
                h && *h != registry::Health::maintenance)
                c.state.status = *h;
        if (auto o = jc.find("output"); o != jc.end() && o->is_string())
            c.state.output = o->get<std::string>().substr(0, 4096);
        if (auto t = jc.find("last_change"); t != jc.end() && t->is_number_integer())
            c.state.last_change_ms = t->get<std::int64_t>();
    }
}

} // namespace

namespace {

constexpr std::uint8_t row_format = 1;

class Writer {
public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    template <class Int>
    void le(Int v) {
        auto u = static_cast<std::make_unsigned_t<Int>>(v);
        for (std::size_t i = 0; i < sizeof(Int); ++i) u8(static_cast<std::uint8_t>(u >> (8 * i)));
    }
    void str(std::string_view s) {
        le(static_cast<std::uint32_t>(s.size()));
        out_.append(s);
    }
    void pairs(const std::vector<std::pair<std::string, std::string>>& list) {
        le(static_cast<std::uint32_t>(list.size()));
        for (const auto& [k, v] : list) {
            str(k);
            str(v);
        }
    }
    void strings(const std::vector<std::string>& list) {
        le(static_cast<std::uint32_t>(list.size()));
        for (const auto& v : list) str(v);
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

// Every read is bounds-checked; the first failure sticks and names the field.
class Reader {
public:
    explicit Reader(std::string_view in)
        : in_(in) {}
    [[nodiscard]] bool ok() const { return error_.empty(); }
    [[nodiscard]] const std::string& error() const { return error_; }
    [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }

    std::uint8_t u8(std::string_view field) {
        if (!need(1, field)) return 0;
        return static_cast<std::uint8_t>(in_[pos_++]);
    }
    template <class Int>
    Int le(std::string_view field) {
        if (!need(sizeof(Int), field)) return 0;
        std::make_unsigned_t<Int> u = 0;
        for (std::size_t i = 0; i < sizeof(Int); ++i)
            u |= static_cast<std::make_unsigned_t<Int>>(static_cast<std::uint8_t>(in_[pos_++]))
                 << (8 * i);
        return static_cast<Int>(u);
    }
    std::string str(std::string_view field) {
        auto n = le<std::uint32_t>(field);
        if (!need(n, field)) return {};
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    // A count of items that take at least `min_bytes` each: bounded by what is left.
    std::uint32_t count(std::string_view field, std::size_t min_bytes) {
        auto n = le<std::uint32_t>(field);
        if (ok() && n > (in_.size() - pos_) / min_bytes) fail(field, "more items than bytes");
        return ok() ? n : 0;
    }
    std::vector<std::pair<std::string, std::string>> pairs(std::string_view field) {
        std::vector<std::pair<std::string, std::string>> out(count(field, 8));
        for (auto& [k, v] : out) {
            k = str(field);
            v = str(field);
        }
        return out;
    }
    std::vector<std::string> strings(std::string_view field) {
        std::vector<std::string> out(count(field, 4));
        for (auto& v : out) v = str(field);
        return out;
    }
    void fail(std::string_view field, std::string_view why) {
        if (ok()) error_ = fmt::format("{}: {} (byte {})", field, why, pos_);
    }

private:
    bool need(std::size_t n, std::string_view field) {
        if (!ok()) return false;
        if (in_.size() - pos_ < n) {
            fail(field, "the row ends early");
            return false;
        }
        return true;
    }
    std::string_view in_;
    std::size_t pos_ = 0;
    std::string error_;
};

template <class Enum>
Enum enum_of(Reader& r, std::string_view field, std::uint8_t last) {
    std::uint8_t v = r.u8(field);
    if (v > last) r.fail(field, fmt::format("{} is not a known value", v));
    return static_cast<Enum>(v <= last ? v : 0);
}

} // namespace

std::string encode_row(const registry::Instance& in) {
    Writer w;
    w.u8(row_format);
    w.str(in.id);
    w.str(in.service);
    w.u8(in.address.family);
    for (std::uint8_t b : in.address.bytes) w.u8(b);
    w.le(in.port);
    w.strings(in.tags);
    w.pairs(in.meta);
    w.le(in.weight);
    w.u8(static_cast<std::uint8_t>(in.policy));
    w.le(in.ttl_ms);
    w.u8(in.maintenance ? 1 : 0);
    w.str(in.maintenance_reason);
    w.le(static_cast<std::uint32_t>(in.checks.size()));
    for (const registry::Check& c : in.checks) {
        const registry::CheckDefinition& d = c.definition;
        w.str(d.id);
        w.u8(static_cast<std::uint8_t>(d.kind));
        w.str(d.target);
        w.str(d.method);
        w.pairs(d.headers);
        w.u8(d.tls_skip_verify ? 1 : 0);
        w.strings(d.args);
        for (std::uint32_t v : {d.ttl_ms, d.interval_ms, d.timeout_ms, d.success_before_passing,
                                d.failures_before_warning, d.failures_before_critical,
                                d.deregister_critical_after_ms})
            w.le(v);
        w.u8(static_cast<std::uint8_t>(c.state.status));
        w.str(c.state.output);
        w.le(c.state.last_change_ms);
        w.le(c.state.latency_us);
    }
    return w.take();
}

Result<registry::Instance> decode_row(std::string_view id, std::uint64_t version,
                                      std::string_view body, std::int64_t now_ms) {
    auto in = decode_row_body(body, now_ms);
    if (!in) return in;
    if (in->id != id) return fail("id: the row says \"{}\", its body \"{}\"", id, in->id);
    if (version == 0) return fail("version: 0 is not a version this agent issues");
    in->version = version;
    return in;
}

Result<registry::Instance> decode_row_body(std::string_view body, std::int64_t now_ms) {
    Reader r(body);
    if (std::uint8_t f = r.u8("format"); r.ok() && f != row_format)
        return fail("format: {} is not a row format this agent reads ({})", f, row_format);
    registry::Instance in;
    in.id = r.str("id");
    in.service = r.str("name");
    in.address.family = r.u8("address");
    for (std::uint8_t& b : in.address.bytes) b = r.u8("address");
    in.port = r.le<std::uint16_t>("port");
    in.tags = r.strings("tags");
    in.meta = r.pairs("meta");
    in.weight = r.le<std::uint32_t>("weight");
    in.policy = enum_of<registry::Policy>(
        r, "policy", static_cast<std::uint8_t>(registry::Policy::least_loaded));
    in.ttl_ms = r.le<std::uint32_t>("ttl");
    in.maintenance = r.u8("maintenance") != 0;
    in.maintenance_reason = r.str("maintenance_reason");
    in.checks.resize(r.count("checks", 64));
    for (registry::Check& c : in.checks) {
        registry::CheckDefinition& d = c.definition;
        d.id = r.str("checks.id");
        d.kind = enum_of<registry::CheckKind>(r, "checks.kind",
                                              static_cast<std::uint8_t>(registry::CheckKind::ttl));
        d.target = r.str("checks.target");
        d.method = r.str("checks.method");
        d.headers = r.pairs("checks.headers");
        d.tls_skip_verify = r.u8("checks.tls_skip_verify") != 0;
        d.args = r.strings("checks.args");
        for (std::uint32_t* v : {&d.ttl_ms, &d.interval_ms, &d.timeout_ms,
                                 &d.success_before_passing, &d.failures_before_warning,
                                 &d.failures_before_critical, &d.deregister_critical_after_ms})
            *v = r.le<std::uint32_t>("checks");
        c.state.status = enum_of<registry::Health>(
            r, "checks.status", static_cast<std::uint8_t>(registry::Health::critical));
        c.state.output = r.str("checks.output");
        c.state.last_change_ms = r.le<std::int64_t>("checks.last_change");
        c.state.latency_us = r.le<std::uint32_t>("checks.latency");
        if (d.kind != registry::CheckKind::ttl)
            c.state = {registry::Health::critical, "", now_ms, 0};
        if (c.state.output.size() > 4096) c.state.output.resize(4096);
    }
    if (r.ok() && !r.at_end()) r.fail("row", "bytes after the last field");
    if (!r.ok()) return fail("{}", r.error());
    if (auto valid = registry::validate(in); !valid) return std::unexpected(valid.error());
    return in;
}

std::string encode_state(const std::vector<const registry::Instance*>& instances) {
    std::string out = fmt::format("{{\"format\": {}, \"instances\": [", state_format);
    for (std::size_t i = 0; i < instances.size(); ++i) {
        out += i == 0 ? "\n" : ",\n";
        out += dump(http::encode_instance(*instances[i]));
    }
    out += "\n]}\n";
    return out;
}

Result<DecodedState> decode_state(std::string_view text,
                                  const http::RegistrationDefaults& defaults) {
    auto doc = http::parse_json_body(text, max_depth);
    if (!doc) return std::unexpected(doc.error());
    if (!doc->is_object() || !doc->contains("format") || !doc->contains("instances"))
        return fail("not a cairn state file (expected {{\"format\": 1, \"instances\": [...]}})");
    const json& format = (*doc)["format"];
    if (!format.is_number_unsigned() || format.get<std::uint64_t>() != state_format)
        return fail("format: {} is not a format this agent reads ({})", dump(format), state_format);
    const json& list = (*doc)["instances"];
    if (!list.is_array()) return fail("instances: expected an array");
    DecodedState out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto instance = http::decode_registration_json(list[i], defaults);
        if (instance) {
            // The owner's version carries on upward after a restart.
            if (const auto v = list[i].find("version");
                v != list[i].end() && v->is_number_unsigned())
                instance->version = v->get<std::uint64_t>();
            if (auto valid = registry::validate(*instance); !valid)
                instance = std::unexpected(valid.error());
        }
        if (!instance) {
            out.rejected.push_back(
                {fmt::format("instances[{}]: {}", i, instance.error().message), dump(list[i])});
            continue;
        }
        restore_ttl_states(list[i], *instance);
        out.instances.push_back(std::move(*instance));
    }
    return out;
}

} // namespace cairn::agent
