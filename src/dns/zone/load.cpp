// Reading master files with ldns and compiling them into a ZoneSet.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <ldns/ldns.h>

#include "dns/zone/zone.hpp"

namespace cairn::dns {

namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
struct RrFree {
    void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
struct RdfFree {
    void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
struct BufferFree {
    void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;
using BufferPtr = std::unique_ptr<ldns_buffer, BufferFree>;

constexpr std::uint32_t default_ttl = 3600;

struct Record {
    std::string owner; // lower-case wire name, as bytes
    std::uint16_t type = 0;
    std::uint32_t ttl = 0;
    std::vector<std::uint8_t> rdata;
    int line = 0;
};

struct ParsedZone {
    std::string apex; // lower-case wire name
    std::string file; // for errors
    std::vector<Record> records;
    std::uint32_t serial = 0;
    std::uint32_t negative_ttl = 0;
};

std::string lower_wire(const ldns_rdf* dname) {
    std::string s(reinterpret_cast<const char*>(ldns_rdf_data(dname)), ldns_rdf_size(dname));
    for (auto& c : s) c = static_cast<char>(ascii_lower(static_cast<std::uint8_t>(c)));
    return s;
}

WireName as_name(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// ldns's place in one master file: $TTL, $ORIGIN and the previous owner,
// which ldns replaces as it reads (freeing what it replaces), and the line.
// The unique_ptrs own whatever ldns left there last.
struct MasterFile {
    std::FILE* fp = nullptr;
    std::string name; // for errors
    std::uint32_t ttl = default_ttl;
    RdfPtr origin;
    RdfPtr prev;
    int line = 1;

    // Reads the next entry into `rr` (null for a directive or a blank line).
    // `entry_line` is the line of its last text: ldns has counted the
    // entry's final newline already.
    ldns_status next(RrPtr& rr, int& entry_line) {
        int start_line = line;
        ldns_rr* raw = nullptr;
        ldns_rdf* o = origin.release();
        ldns_rdf* p = prev.release();
        ldns_status status = ldns_rr_new_frm_fp_l(&raw, fp, &ttl, &o, &p, &line);
        origin.reset(o);
        prev.reset(p);
        rr.reset(raw);
        entry_line = std::max(start_line, line - 1);
        return status;
    }
};

// `origin_text` is the default origin ("" = none).
Result<MasterFile> open_master_file(std::FILE* fp, const std::string& origin_text,
                                    const std::string& file) {
    MasterFile in;
    in.fp = fp;
    in.name = file;
    if (!origin_text.empty()) {
        in.origin.reset(ldns_dname_new_frm_str(origin_text.c_str()));
        if (!in.origin) return fail("{}:1: bad origin '{}'", file, origin_text);
        in.prev.reset(ldns_rdf_clone(in.origin.get()));
    }
    return in;
}

// One record as the ZoneSet builder wants it: class IN, lower-case owner,
// RDATA in wire form.
Result<Record> to_record(const ldns_rr* rr, ldns_buffer* buffer, const std::string& file,
                         int line) {
    Record rec;
    rec.line = line;
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
        return fail("{}:{}: only class IN is served", file, line);
    rec.owner = lower_wire(ldns_rr_owner(rr));
    rec.type = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
    rec.ttl = ldns_rr_ttl(rr);
    // RFC 2181 §8: a TTL is 0 to 2^31-1; above that a resolver is told to
    // read it as 0. Refused here instead, so that the mistake is seen.
    if (rec.ttl > 0x7fffffffu)
        return fail("{}:{}: TTL {} is above 2147483647 (RFC 2181 §8)", file, line, rec.ttl);
    ldns_buffer_clear(buffer);
    if (ldns_rr_rdata2buffer_wire(buffer, rr) != LDNS_STATUS_OK ||
        ldns_buffer_position(buffer) > 0xffff)
        return fail("{}:{}: cannot encode the record data", file, line);
    auto* data = static_cast<const std::uint8_t*>(ldns_buffer_begin(buffer));
    rec.rdata.assign(data, data + ldns_buffer_position(buffer));
    return rec;
}

// The zone's one SOA: its owner is the apex; serial and negative TTL from it.
Result<void> take_soa(ParsedZone& zone, const ldns_rr* rr, const Record& rec) {
    if (!zone.apex.empty()) return fail("{}:{}: a second SOA record", zone.file, rec.line);
    if (ldns_rr_rd_count(rr) < 7) return fail("{}:{}: SOA record incomplete", zone.file, rec.line);
    zone.apex = rec.owner;
    zone.serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
    zone.negative_ttl = std::min(rec.ttl, ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)));
    return {};
}

Result<void> check_inside_apex(const ParsedZone& zone) {
    for (const auto& rec : zone.records)
        if (!is_subdomain(as_name(rec.owner), as_name(zone.apex)))
            return fail("{}:{}: {} is outside the zone {}", zone.file, rec.line,
                        name_to_text(as_name(rec.owner)), name_to_text(as_name(zone.apex)));
    return {};
}

// Parses one master file. `origin_text` is the default origin ("" = none).
Result<ParsedZone> parse_zone(std::FILE* fp, const std::string& origin_text,
                              const std::string& file) {
    auto in = open_master_file(fp, origin_text, file);
    if (!in) return std::unexpected(in.error());
    ParsedZone zone;
    zone.file = file;
    BufferPtr buffer(ldns_buffer_new(512));
    while (!std::feof(fp)) {
        RrPtr rr;
        int line = 0;
        ldns_status s = in->next(rr, line);
        if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
            s == LDNS_STATUS_SYNTAX_ORIGIN)
            continue;
        if (s == LDNS_STATUS_SYNTAX_INCLUDE)
            return fail("{}:{}: $INCLUDE is not supported", file, line);
        if (s != LDNS_STATUS_OK) return fail("{}:{}: {}", file, line, ldns_get_errorstr_by_id(s));
        if (!rr) continue;
        auto rec = to_record(rr.get(), buffer.get(), file, line);
        if (!rec) return std::unexpected(rec.error());
        if (rec->type == rrtype::soa)
            if (auto soa = take_soa(zone, rr.get(), *rec); !soa)
                return std::unexpected(soa.error());
        zone.records.push_back(std::move(*rec));
    }
    if (zone.apex.empty()) return fail("{}:{}: no SOA record", file, in->line);
    if (auto inside = check_inside_apex(zone); !inside) return std::unexpected(inside.error());
    return zone;
}

} // namespace

// Compiles parsed zones into the flat ZoneSet (see set.hpp).
class ZoneSetBuilder {
public:
    Result<std::shared_ptr<const ZoneSet>> build(std::vector<ParsedZone>& zones);

private:
    std::uint32_t deepest_zone(const std::string& name) const;
    std::uint32_t node_for(std::uint32_t zone, const std::string& name);
    Result<void> add_zone_records(std::uint32_t zone_index, ParsedZone& zone);
    Result<void> finish_rrsets();
    void compile_rrsets();
    void link_nodes();
    void build_table();

    std::shared_ptr<ZoneSet> set_ = std::make_shared<ZoneSet>();
    std::vector<ParsedZone>* parsed_ = nullptr;
    std::unordered_map<std::string, std::uint32_t> apexes_;        // apex -> zone
    std::unordered_map<std::string, std::uint32_t> nodes_by_name_; // owner -> node (deepest zone)
    std::vector<std::string> node_names_;
    // Per node: its records grouped by type, in file order of first appearance.
    std::vector<std::vector<std::pair<std::uint16_t, std::vector<const Record*>>>> node_records_;
};

std::uint32_t ZoneSetBuilder::deepest_zone(const std::string& name) const {
    WireName n = as_name(name);
    for (unsigned strip = 0;; ++strip) {
        WireName suffix = strip_labels(n, strip);
        auto it =
            apexes_.find(std::string(reinterpret_cast<const char*>(suffix.data()), suffix.size()));
        if (it != apexes_.end()) return it->second;
        if (suffix.size() <= 1) return no_index;
    }
}

std::uint32_t ZoneSetBuilder::node_for(std::uint32_t zone, const std::string& name) {
    auto it = nodes_by_name_.find(name);
    if (it != nodes_by_name_.end()) return it->second;
    Node node;
    node.zone = zone;
    node.name_offset = static_cast<std::uint32_t>(set_->names_.size());
    node.name_size = static_cast<std::uint8_t>(name.size());
    set_->names_.insert(set_->names_.end(), name.begin(), name.end());
    auto index = static_cast<std::uint32_t>(set_->nodes_.size());
    set_->nodes_.push_back(node);
    node_names_.push_back(name);
    node_records_.emplace_back();
    nodes_by_name_.emplace(name, index);
    // Ancestors up to the apex exist too (empty non-terminals, RFC 4592 §2.2.2).
    const std::string& apex = (*parsed_)[zone].apex;
    if (name != apex) {
        WireName parent = strip_labels(as_name(name), 1);
        node_for(zone, std::string(reinterpret_cast<const char*>(parent.data()), parent.size()));
    }
    return index;
}

Result<void> ZoneSetBuilder::add_zone_records(std::uint32_t zone_index, ParsedZone& zone) {
    for (const auto& rec : zone.records) {
        std::uint32_t deepest = deepest_zone(rec.owner);
        std::uint32_t node_index;
        if (deepest == zone_index) {
            node_index = node_for(zone_index, rec.owner);
        } else if (rec.owner == (*parsed_)[deepest].apex) {
            // The parent's side of a cut to a zone we also serve: kept for DS.
            auto found = nodes_by_name_.find(rec.owner);
            Node& child_apex = set_->nodes_[found->second];
            if (child_apex.parent_side == no_index) {
                Node side;
                side.zone = zone_index;
                side.name_offset = child_apex.name_offset;
                side.name_size = child_apex.name_size;
                child_apex.parent_side = static_cast<std::uint32_t>(set_->nodes_.size());
                set_->nodes_.push_back(side);
                node_names_.push_back(rec.owner);
                node_records_.emplace_back();
            }
            node_index = child_apex.parent_side;
        } else {
            continue; // the child zone we serve is authoritative for it
        }
        auto& groups = node_records_[node_index];
        auto group = std::find_if(groups.begin(), groups.end(),
                                  [&](const auto& g) { return g.first == rec.type; });
        if (group == groups.end()) {
            groups.emplace_back(rec.type, std::vector<const Record*>{});
            group = groups.end() - 1;
        }
        // Repeated records are dropped by finish_rrsets(), in O(n log n);
        // only a CNAME is compared here (its RRset holds one record).
        bool duplicate = rec.type == rrtype::cname &&
                         std::any_of(group->second.begin(), group->second.end(),
                                     [&](const Record* r) { return r->rdata == rec.rdata; });
        if (!duplicate) group->second.push_back(&rec);
        bool has_cname = std::any_of(groups.begin(), groups.end(),
                                     [](const auto& g) { return g.first == rrtype::cname; });
        if (has_cname && groups.size() > 1)
            return fail("{}:{}: CNAME and other data at {}", zone.file, rec.line,
                        name_to_text(as_name(rec.owner)));
        if (rec.type == rrtype::cname && group->second.size() > 1)
            return fail("{}:{}: more than one CNAME at {}", zone.file, rec.line,
                        name_to_text(as_name(rec.owner)));
    }
    return {};
}

// Drops repeated records from an RRset (the first of equal RDATA stays, so
// the file order is kept) by sorting an index, not by comparing each record
// with all before it: O(n log n) for an RRset of n records.
static void drop_repeats(std::vector<const Record*>& records) {
    if (records.size() < 2) return;
    std::vector<std::uint32_t> index(records.size());
    for (std::uint32_t i = 0; i < index.size(); ++i) index[i] = i;
    // Any total order groups equal RDATA; this one (size, then bytes) is
    // written out because GCC 12 at -O3 reports a false -Wstringop-overread
    // in the memcmp of vector's operator<.
    auto before = [](const auto& x, const auto& y) -> bool {
        if (x.size() != y.size()) return x.size() < y.size();
        for (std::size_t k = 0; k < x.size(); ++k)
            if (x[k] != y[k]) return x[k] < y[k];
        return false;
    };
    std::sort(index.begin(), index.end(), [&](std::uint32_t a, std::uint32_t b) {
        const auto& x = records[a]->rdata;
        const auto& y = records[b]->rdata;
        return x != y ? before(x, y) : a < b;
    });
    std::vector<bool> repeat(records.size(), false);
    for (std::size_t i = 1; i < index.size(); ++i)
        if (records[index[i]]->rdata == records[index[i - 1]]->rdata) repeat[index[i]] = true;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < records.size(); ++i)
        if (!repeat[i]) records[kept++] = records[i];
    records.resize(kept);
}

// Refuses what could never be served whole (docs/dns.md, "Limits"): an
// RRset whose smallest possible response (header, the question naming its
// owner, each record with its owner compressed to a 2-byte pointer, no OPT)
// is over 65,535 bytes, the most a DNS message can be; and a name with more
// than 65,535 RRsets. The error names the line of the record that crossed
// the limit.
Result<void> ZoneSetBuilder::finish_rrsets() {
    for (std::size_t n = 0; n < node_records_.size(); ++n) {
        const std::string& file = (*parsed_)[set_->nodes_[n].zone].file;
        const std::string& owner = node_names_[n];
        if (node_records_[n].size() > 0xffff)
            return fail("{}: more than 65535 RRsets at {}", file, name_to_text(as_name(owner)));
        for (auto& [type, records] : node_records_[n]) {
            drop_repeats(records);
            std::size_t bytes = header_size + owner.size() + 4;
            for (const Record* r : records) {
                bytes += 2 + 10 + r->rdata.size();
                if (bytes > max_message)
                    return fail(
                        "{}:{}: the type {} RRset at {} takes more than the 65535 bytes of a DNS "
                        "message ({} records): it could never be served whole",
                        file, r->line, type, name_to_text(as_name(owner)), records.size());
            }
        }
    }
    return {};
}

void ZoneSetBuilder::compile_rrsets() {
    auto& data = set_->data_;
    for (std::size_t n = 0; n < set_->nodes_.size(); ++n) {
        Node& node = set_->nodes_[n];
        node.rrsets_begin = static_cast<std::uint32_t>(set_->rrsets_.size());
        node.rrsets_count = static_cast<std::uint16_t>(node_records_[n].size());
        for (const auto& [type, records] : node_records_[n]) {
            RRsetEntry entry;
            entry.type = type;
            entry.count = static_cast<std::uint16_t>(records.size());
            entry.data_offset = static_cast<std::uint32_t>(data.size());
            for (const Record* r : records) {
                std::uint8_t fixed[10];
                put_u16(fixed, r->type);
                put_u16(fixed + 2, rrclass::in);
                put_u32(fixed + 4, r->ttl);
                put_u16(fixed + 8, static_cast<std::uint16_t>(r->rdata.size()));
                data.insert(data.end(), fixed, fixed + 10);
                data.insert(data.end(), r->rdata.begin(), r->rdata.end());
            }
            entry.data_size = static_cast<std::uint32_t>(data.size() - entry.data_offset);
            set_->rrsets_.push_back(entry);
        }
    }
}

void ZoneSetBuilder::link_nodes() {
    auto find = [&](const std::string& name) -> std::uint32_t {
        auto it = nodes_by_name_.find(name);
        return it == nodes_by_name_.end() ? no_index : it->second;
    };
    auto& nodes = set_->nodes_;
    for (std::uint32_t n = 0; n < nodes.size(); ++n) {
        Node& node = nodes[n];
        const std::string& name = node_names_[n];
        const std::string& apex = (*parsed_)[node.zone].apex;
        std::string wildcard = std::string("\1*", 2) + name;
        node.wildcard = find(wildcard);
        if (node.wildcard != no_index && nodes[node.wildcard].zone != node.zone)
            node.wildcard = no_index;
        // The highest NS below the apex on the path from the apex to here.
        unsigned extra = count_labels(as_name(name)) - count_labels(as_name(apex));
        for (unsigned strip = extra; strip-- > 0;) {
            WireName suffix = strip_labels(as_name(name), strip);
            std::uint32_t a =
                find(std::string(reinterpret_cast<const char*>(suffix.data()), suffix.size()));
            if (a != no_index && nodes[a].zone == node.zone &&
                set_->find_rrset(nodes[a], rrtype::ns)) {
                node.cut = a;
                break;
            }
        }
    }
    // Additional-section targets of NS (glue allowed), MX and SRV (no glue).
    for (std::uint32_t n = 0; n < nodes.size(); ++n) {
        Node& node = nodes[n];
        for (std::uint32_t r = node.rrsets_begin; r < node.rrsets_begin + node.rrsets_count; ++r) {
            RRsetEntry& rrset = set_->rrsets_[r];
            if (rrset.type != rrtype::ns && rrset.type != rrtype::mx && rrset.type != rrtype::srv)
                continue;
            rrset.additional_begin = static_cast<std::uint32_t>(set_->additional_.size());
            auto records = set_->records_of(rrset);
            for (std::size_t pos = 0; pos + 10 <= records.size();) {
                std::size_t rdlength = get_u16(records.data() + pos + 8);
                std::size_t skip = rrset.type == rrtype::mx ? 2 : rrset.type == rrtype::srv ? 6 : 0;
                if (rdlength < skip + 1) {
                    pos += 10 + rdlength;
                    continue;
                }
                std::string target(reinterpret_cast<const char*>(records.data() + pos + 10 + skip),
                                   rdlength - skip);
                for (auto& c : target)
                    c = static_cast<char>(ascii_lower(static_cast<std::uint8_t>(c)));
                pos += 10 + rdlength;
                std::uint32_t t = find(target);
                if (t == no_index || nodes[t].zone != node.zone) continue;
                if (rrset.type != rrtype::ns && nodes[t].cut != no_index) continue;
                if (!set_->find_rrset(nodes[t], rrtype::a) &&
                    !set_->find_rrset(nodes[t], rrtype::aaaa))
                    continue;
                set_->additional_.push_back(t);
                ++rrset.additional_count;
            }
        }
    }
}

void ZoneSetBuilder::build_table() {
    std::size_t size = 16;
    while (size < nodes_by_name_.size() * 2) size *= 2;
    set_->table_.assign(size, 0);
    for (const auto& [name, index] : nodes_by_name_) {
        std::size_t slot = hash_name(as_name(name)) & (size - 1);
        while (set_->table_[slot] != 0) slot = (slot + 1) & (size - 1);
        set_->table_[slot] = index + 1;
    }
}

Result<std::shared_ptr<const ZoneSet>> ZoneSetBuilder::build(std::vector<ParsedZone>& zones) {
    parsed_ = &zones;
    for (std::uint32_t z = 0; z < zones.size(); ++z) {
        if (!apexes_.emplace(zones[z].apex, z).second)
            return fail("{}: zone {} is also defined in another file", zones[z].file,
                        name_to_text(as_name(zones[z].apex)));
    }
    set_->zones_.resize(zones.size());
    // Deeper zones first, so that a child apex exists before its parent's
    // records for the same name are seen.
    std::vector<std::uint32_t> order(zones.size());
    for (std::uint32_t z = 0; z < zones.size(); ++z) order[z] = z;
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        return count_labels(as_name(zones[a].apex)) > count_labels(as_name(zones[b].apex));
    });
    for (std::uint32_t z : order) {
        set_->zones_[z].apex = node_for(z, zones[z].apex);
        if (auto r = add_zone_records(z, zones[z]); !r) return std::unexpected(r.error());
    }
    if (auto r = finish_rrsets(); !r) return std::unexpected(r.error());
    compile_rrsets();
    link_nodes();
    build_table();
    for (std::uint32_t z = 0; z < zones.size(); ++z) {
        Zone& zone = set_->zones_[z];
        const Node& apex = set_->nodes_[zone.apex];
        for (std::uint32_t r = apex.rrsets_begin; r < apex.rrsets_begin + apex.rrsets_count; ++r) {
            if (set_->rrsets_[r].type == rrtype::soa) zone.soa_rrset = r;
            if (set_->rrsets_[r].type == rrtype::ns) zone.ns_rrset = r;
        }
        zone.serial = zones[z].serial;
        zone.records = zones[z].records.size();
        // The negative SOA: the SOA record with TTL = min(TTL, minimum) (RFC 2308 §3).
        auto soa = set_->records_of(set_->rrsets_[zone.soa_rrset]);
        zone.negative_soa_offset = static_cast<std::uint32_t>(set_->data_.size());
        zone.negative_soa_size = static_cast<std::uint32_t>(soa.size());
        std::vector<std::uint8_t> copy(soa.begin(), soa.end());
        put_u32(copy.data() + 4, zones[z].negative_ttl);
        set_->data_.insert(set_->data_.end(), copy.begin(), copy.end());
    }
    return std::shared_ptr<const ZoneSet>(std::move(set_));
}

const Node* ZoneSet::find(WireName lower_name) const noexcept {
    if (table_.empty()) return nullptr;
    std::size_t mask = table_.size() - 1;
    for (std::size_t slot = hash_name(lower_name) & mask;; slot = (slot + 1) & mask) {
        std::uint32_t entry = table_[slot];
        if (entry == 0) return nullptr;
        const Node& node = nodes_[entry - 1];
        if (node.name_size == lower_name.size() &&
            std::equal(lower_name.begin(), lower_name.end(), names_.begin() + node.name_offset))
            return &node;
    }
}

std::vector<ZoneInfo> ZoneSet::info() const {
    std::vector<ZoneInfo> out;
    for (const auto& zone : zones_)
        out.push_back(
            ZoneInfo{name_to_text(name_of(nodes_[zone.apex])), zone.serial, zone.records});
    return out;
}

namespace {

Result<std::shared_ptr<const ZoneSet>> build(std::vector<ParsedZone>& zones) {
    ZoneSetBuilder builder;
    return builder.build(zones);
}

} // namespace

Result<std::shared_ptr<const ZoneSet>> load_zones(const std::string& dir) {
    namespace fs = std::filesystem;
    std::vector<ParsedZone> zones;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return build(zones);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.path().extension() == ".zone" && entry.is_regular_file())
            files.push_back(entry.path());
    if (ec) return fail("{}: {}", dir, ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        FilePtr fp(std::fopen(path.c_str(), "r"));
        if (!fp) return fail("{}: cannot open", path.string());
        // The file name (without .zone) is the default origin, so "@" works
        // without $ORIGIN; $ORIGIN and the SOA owner still decide the apex.
        auto zone = parse_zone(fp.get(), path.stem().string() + ".", path.string());
        if (!zone) return std::unexpected(zone.error());
        zones.push_back(std::move(*zone));
    }
    return build(zones);
}

Result<std::shared_ptr<const ZoneSet>>
load_zone_text(const std::string& text, const std::string& origin, const std::string& file_label) {
    std::string copy = text;
    FilePtr fp(fmemopen(copy.data(), copy.size(), "r"));
    if (!fp) return fail("{}: cannot read", file_label);
    auto zone = parse_zone(fp.get(), origin, file_label);
    if (!zone) return std::unexpected(zone.error());
    std::vector<ParsedZone> zones;
    zones.push_back(std::move(*zone));
    return build(zones);
}

} // namespace cairn::dns
