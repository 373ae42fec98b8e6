#include "registry/replication/message.hpp"

#include <algorithm>
#include <limits>

#include "registry/load.hpp"
#include "registry/replication/wire.hpp"

namespace cairn::registry::replication {

namespace {

// Bounds of the decoder. They are loose: the registry validates what it
// merges; these only keep a hostile message from costing more than its size.
constexpr std::size_t max_name = 256;  // node names, ids, service names
constexpr std::size_t max_text = 4096; // check output, URLs, arguments
constexpr std::size_t max_list = 256;  // tags, meta, checks, headers, args
constexpr std::size_t max_owners = 65536;
constexpr std::size_t max_records = 1 << 20;
constexpr std::uint64_t max_u32 = std::numeric_limits<std::uint32_t>::max();

// Wire values of a record's kind: append-only.
constexpr std::uint8_t kind_instance = 0;
constexpr std::uint8_t kind_tombstone = 1;

void write_pairs(Writer& w, const std::vector<std::pair<std::string, std::string>>& pairs) {
    w.varint(pairs.size());
    for (const auto& [k, v] : pairs) {
        w.bytes(k);
        w.bytes(v);
    }
}

void write_check(Writer& w, const Check& c, std::uint8_t version) {
    const CheckDefinition& d = c.definition;
    w.bytes(d.id);
    w.u8(static_cast<std::uint8_t>(d.kind));
    w.bytes(d.target);
    w.bytes(d.method);
    write_pairs(w, d.headers);
    w.u8(d.tls_skip_verify ? 1 : 0);
    w.varint(d.args.size());
    for (const std::string& a : d.args) w.bytes(a);
    w.varint(d.ttl_ms);
    w.varint(d.interval_ms);
    w.varint(d.timeout_ms);
    w.varint(d.success_before_passing);
    w.varint(d.failures_before_warning);
    w.varint(d.failures_before_critical);
    w.varint(d.deregister_critical_after_ms);
    w.u8(static_cast<std::uint8_t>(c.state.status));
    w.bytes(c.state.output);
    w.svarint(c.state.last_change_ms);
    w.varint(c.state.latency_us);
    if (version >= 2) w.varint(c.state.load ? std::uint64_t{*c.state.load} + 1 : 0);
}

void write_record(Writer& w, const Record& record, std::uint8_t version) {
    if (const auto* t = std::get_if<Tombstone>(&record)) {
        w.u8(kind_tombstone);
        w.bytes(t->id);
        w.varint(t->version);
        return;
    }
    const Instance& i = std::get<Instance>(record);
    w.u8(kind_instance);
    w.bytes(i.id);
    w.bytes(i.service);
    w.varint(i.version);
    w.u8(i.address.family);
    std::size_t address_length = i.address.family == 4 ? 4 : i.address.family == 6 ? 16 : 0;
    for (std::size_t b = 0; b < address_length; ++b) w.u8(i.address.bytes[b]);
    w.varint(i.port);
    w.varint(i.weight);
    w.u8(static_cast<std::uint8_t>(i.policy));
    w.varint(i.ttl_ms);
    w.varint(i.tags.size());
    for (const std::string& t : i.tags) w.bytes(t);
    write_pairs(w, i.meta);
    w.u8(i.maintenance ? 1 : 0);
    w.bytes(i.maintenance_reason);
    w.varint(i.checks.size());
    for (const Check& c : i.checks) write_check(w, c, version);
}

void write_versions(Writer& w, const std::vector<std::pair<std::string, std::uint64_t>>& list) {
    w.varint(list.size());
    for (const auto& [name, version] : list) {
        w.bytes(name);
        w.varint(version);
    }
}

std::uint32_t read_u32(Reader& r, std::string_view what) {
    return static_cast<std::uint32_t>(r.bounded(what, max_u32));
}

std::vector<std::pair<std::string, std::string>> read_pairs(Reader& r, std::string_view what) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t n = r.count(what, max_list);
    for (std::size_t k = 0; k < n && r.ok(); ++k) {
        std::string key = r.bytes(what, max_text);
        out.emplace_back(std::move(key), r.bytes(what, max_text));
    }
    return out;
}

// An enum's wire value, refused above `last`.
template <class Enum>
Enum read_enum(Reader& r, std::string_view what, Enum last) {
    std::uint8_t v = r.u8(what);
    if (v > static_cast<std::uint8_t>(last)) {
        r.fail("{}: unknown value {}", what, v);
        return Enum{};
    }
    return static_cast<Enum>(v);
}

Check read_check(Reader& r, std::uint8_t version) {
    Check c;
    CheckDefinition& d = c.definition;
    d.id = r.bytes("check id", max_name);
    d.kind = read_enum(r, "check kind", CheckKind::ttl);
    d.target = r.bytes("check target", max_text);
    d.method = r.bytes("check method", max_name);
    d.headers = read_pairs(r, "check headers");
    d.tls_skip_verify = r.flag("check tls_skip_verify");
    std::size_t nargs = r.count("check args", max_list);
    for (std::size_t k = 0; k < nargs && r.ok(); ++k)
        d.args.push_back(r.bytes("check args", max_text));
    d.ttl_ms = read_u32(r, "check ttl_ms");
    d.interval_ms = read_u32(r, "check interval_ms");
    d.timeout_ms = read_u32(r, "check timeout_ms");
    d.success_before_passing = read_u32(r, "check success_before_passing");
    d.failures_before_warning = read_u32(r, "check failures_before_warning");
    d.failures_before_critical = read_u32(r, "check failures_before_critical");
    d.deregister_critical_after_ms = read_u32(r, "check deregister_critical_after_ms");
    c.state.status = read_enum(r, "check status", Health::maintenance);
    c.state.output = r.bytes("check output", max_text);
    c.state.last_change_ms = r.svarint("check last_change_ms");
    c.state.latency_us = read_u32(r, "check latency_us");
    if (version >= 2) {
        // 0: none; else the load + 1.
        std::uint64_t load = r.bounded("check load", std::uint64_t{max_load} + 1);
        if (load != 0) c.state.load = static_cast<std::uint32_t>(load - 1);
    }
    return c;
}

Instance read_instance(Reader& r, const std::string& owner, std::uint8_t version) {
    Instance i;
    i.node = owner;
    i.id = r.bytes("instance id", max_name);
    i.service = r.bytes("instance service", max_name);
    i.version = r.varint("instance version");
    i.address.family = r.u8("instance address family");
    if (i.address.family != 0 && i.address.family != 4 && i.address.family != 6)
        r.fail("instance address family: unknown value {}", i.address.family);
    std::size_t address_length = i.address.family == 4 ? 4 : i.address.family == 6 ? 16 : 0;
    for (std::size_t b = 0; b < address_length; ++b) i.address.bytes[b] = r.u8("instance address");
    i.port = static_cast<std::uint16_t>(r.bounded("instance port", 65535));
    i.weight = read_u32(r, "instance weight");
    i.policy = read_enum(r, "instance policy", Policy::least_loaded);
    i.ttl_ms = read_u32(r, "instance ttl_ms");
    std::size_t ntags = r.count("instance tags", max_list);
    for (std::size_t k = 0; k < ntags && r.ok(); ++k)
        i.tags.push_back(r.bytes("instance tags", max_name));
    i.meta = read_pairs(r, "instance meta");
    i.maintenance = r.flag("instance maintenance");
    i.maintenance_reason = r.bytes("instance maintenance_reason", max_text);
    std::size_t nchecks = r.count("instance checks", max_list);
    for (std::size_t k = 0; k < nchecks && r.ok(); ++k) i.checks.push_back(read_check(r, version));
    return i;
}

Record read_record(Reader& r, const std::string& owner, std::uint8_t version) {
    std::uint8_t kind = r.u8("record kind");
    if (kind == kind_instance) return read_instance(r, owner, version);
    if (kind != kind_tombstone) r.fail("record kind: unknown value {}", kind);
    Tombstone t;
    t.node = owner;
    t.id = r.bytes("tombstone id", max_name);
    t.version = r.varint("tombstone version");
    return t;
}

std::vector<std::pair<std::string, std::uint64_t>> read_versions(Reader& r, std::string_view what) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    std::size_t n = r.count(what, max_owners);
    for (std::size_t k = 0; k < n && r.ok(); ++k) {
        std::string name = r.bytes(what, max_name);
        out.emplace_back(std::move(name), r.varint(what));
    }
    return out;
}

Message read_body(Reader& r, std::uint8_t type, std::uint8_t version) {
    switch (static_cast<MessageType>(type)) {
    case MessageType::update: {
        Update u;
        u.owner = r.bytes("update owner", max_name);
        u.prev = r.varint("update prev");
        u.record = read_record(r, u.owner, version);
        return u;
    }
    case MessageType::notice: {
        Notice n;
        n.owner = r.bytes("notice owner", max_name);
        n.prev = r.varint("notice prev");
        n.version = r.varint("notice version");
        return n;
    }
    case MessageType::digest: {
        Digest d;
        d.from = r.bytes("digest from", max_name);
        d.watermarks = read_versions(r, "digest watermarks");
        d.answer = r.flag("digest answer");
        return d;
    }
    case MessageType::request: {
        Request q;
        q.from = r.bytes("request from", max_name);
        q.wants = read_versions(r, "request wants");
        return q;
    }
    case MessageType::reply: {
        Reply p;
        p.from = r.bytes("reply from", max_name);
        p.owner = r.bytes("reply owner", max_name);
        p.after = r.varint("reply after");
        p.upto = r.varint("reply upto");
        if (p.upto < p.after) r.fail("reply: upto {} is below after {}", p.upto, p.after);
        p.more = r.flag("reply more");
        std::size_t n = r.count("reply records", max_records);
        for (std::size_t k = 0; k < n && r.ok(); ++k)
            p.records.push_back(read_record(r, p.owner, version));
        return p;
    }
    case MessageType::summary: {
        Summary m;
        m.from = r.bytes("summary from", max_name);
        m.fingerprint = r.fixed64("summary fingerprint");
        return m;
    }
    case MessageType::audit: {
        Audit a;
        a.from = r.bytes("audit from", max_name);
        a.after = r.varint("audit after");
        a.upto = r.varint("audit upto");
        if (a.upto < a.after) r.fail("audit: upto {} is below after {}", a.upto, a.after);
        a.fingerprint = r.fixed64("audit fingerprint");
        return a;
    }
    }
    r.fail("message type: unknown value {}", type);
    return Notice{};
}

} // namespace

const std::string& record_id(const Record& r) {
    return std::visit([](const auto& v) -> const std::string& { return v.id; }, r);
}

std::uint64_t record_version(const Record& r) {
    return std::visit([](const auto& v) { return v.version; }, r);
}

namespace {

// Whether a record says something that only format version 2 carries.
bool needs_version_2(const Record& record) {
    const auto* i = std::get_if<Instance>(&record);
    if (!i) return false;
    if (i->policy == Policy::least_loaded) return true;
    return std::any_of(i->checks.begin(), i->checks.end(),
                       [](const Check& c) { return c.state.load.has_value(); });
}

std::uint8_t version_for(const Message& message) {
    if (const auto* u = std::get_if<Update>(&message)) return needs_version_2(u->record) ? 2 : 1;
    if (const auto* p = std::get_if<Reply>(&message))
        return std::any_of(p->records.begin(), p->records.end(), needs_version_2) ? 2 : 1;
    return 1;
}

} // namespace

std::vector<std::uint8_t> encode(const Message& message) {
    Writer w;
    std::uint8_t version = version_for(message);
    w.u8(version);
    w.u8(static_cast<std::uint8_t>(message.index() + 1)); // the variant follows MessageType's order
    if (const auto* u = std::get_if<Update>(&message)) {
        w.bytes(u->owner);
        w.varint(u->prev);
        write_record(w, u->record, version);
    } else if (const auto* n = std::get_if<Notice>(&message)) {
        w.bytes(n->owner);
        w.varint(n->prev);
        w.varint(n->version);
    } else if (const auto* d = std::get_if<Digest>(&message)) {
        w.bytes(d->from);
        write_versions(w, d->watermarks);
        w.u8(d->answer ? 1 : 0);
    } else if (const auto* q = std::get_if<Request>(&message)) {
        w.bytes(q->from);
        write_versions(w, q->wants);
    } else if (const auto* m = std::get_if<Summary>(&message)) {
        w.bytes(m->from);
        w.fixed64(m->fingerprint);
    } else if (const auto* a = std::get_if<Audit>(&message)) {
        w.bytes(a->from);
        w.varint(a->after);
        w.varint(a->upto);
        w.fixed64(a->fingerprint);
    } else {
        const Reply& p = std::get<Reply>(message);
        w.bytes(p.from);
        w.bytes(p.owner);
        w.varint(p.after);
        w.varint(p.upto);
        w.u8(p.more ? 1 : 0);
        w.varint(p.records.size());
        for (const Record& r : p.records) write_record(w, r, version);
    }
    return w.take();
}

namespace {

// 64 bits of FNV-1a, then splitmix64's finalizer: every input bit reaches
// every output bit.
std::uint64_t fingerprint_of(std::span<const std::uint8_t> bytes) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (std::uint8_t b : bytes) {
        h ^= b;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

} // namespace

std::uint64_t digest_fingerprint(std::vector<std::pair<std::string, std::uint64_t>> watermarks) {
    std::erase_if(watermarks, [](const auto& w) { return w.second == 0; });
    std::sort(watermarks.begin(), watermarks.end());
    Writer w;
    for (const auto& [owner, version] : watermarks) {
        w.bytes(owner);
        w.varint(version);
    }
    return fingerprint_of(w.take());
}

Instance without_drift(Instance instance) {
    for (Check& c : instance.checks) {
        c.state.latency_us = 0;
        c.state.load.reset();
    }
    return instance;
}

std::uint64_t records_fingerprint(std::span<const Record> records) {
    Writer w;
    for (const Record& record : records) {
        if (const auto* i = std::get_if<Instance>(&record))
            write_record(w, without_drift(*i), format_version);
        else
            write_record(w, record, format_version);
    }
    return fingerprint_of(w.take());
}

std::size_t encoded_size(const Record& record) {
    Writer w;
    write_record(w, record, format_version);
    return w.size();
}

Result<Message> decode(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > max_message_bytes)
        return fail("message: {} bytes is above the limit of {}", bytes.size(), max_message_bytes);
    Reader r(bytes);
    std::uint8_t version = r.u8("format version");
    if (r.ok() && (version < oldest_format_version || version > format_version))
        return fail("format version: {} is not supported (this agent speaks {} to {})", version,
                    oldest_format_version, format_version);
    std::uint8_t type = r.u8("message type");
    Message message = read_body(r, type, version);
    if (r.ok() && r.remaining() != 0)
        r.fail("message: {} bytes left over after byte {}", r.remaining(), r.offset());
    if (!r.ok()) return std::unexpected(Error{r.error()});
    return message;
}

} // namespace cairn::registry::replication
