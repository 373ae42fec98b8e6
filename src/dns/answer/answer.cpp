#include "dns/answer/answer.hpp"

#include <array>

namespace cairn::dns {

namespace {

constexpr unsigned max_cname_chain = 16;
constexpr std::uint16_t rrtype_dnskey = 48;

// The RRsets chosen for a response, by section, before they are written
// (additional data is found while the answer is still being built, but the
// writer takes sections in order). An RRset is listed once, in the most
// important section it was asked for (as NSD's answer_add_rrset does).
class Plan {
public:
    // Trivially constructible, so that a Plan on the stack costs nothing
    // until used (no per-query initialisation of 128 entries).
    struct Item {
        const std::uint8_t* owner;
        const std::uint8_t* records;
        std::uint32_t records_size;
        std::uint16_t count;
        std::uint8_t owner_size;
        Section section;
        bool required;
        std::uint16_t type;
        std::uint16_t parent; // the item whose additional data this is; no_parent if none
    };
    static constexpr std::uint16_t no_parent = 0xffff;

    // False if the RRset was already listed (a CNAME loop, or the NS RRset
    // already in the answer) or the plan is full.
    // Returns the item's index, or no_parent if it was not added.
    std::uint16_t add(Section section, WireName owner, std::span<const std::uint8_t> records,
                      std::uint16_t count, bool required = true,
                      std::uint16_t parent = no_parent) noexcept {
        for (std::size_t i = 0; i < size_; ++i) {
            if (items_[i].records == records.data()) {
                if (section < items_[i].section) {
                    items_[i].section = section;
                    items_[i].required = items_[i].required || required;
                    items_[i].owner = owner.data();
                    items_[i].owner_size = static_cast<std::uint8_t>(owner.size());
                }
                return false;
            }
        }
        if (size_ == items_.size()) return false;
        items_[size_++] = Item{owner.data(),
                               records.data(),
                               static_cast<std::uint32_t>(records.size()),
                               count,
                               static_cast<std::uint8_t>(owner.size()),
                               section,
                               required,
                               records.size() >= 2 ? get_u16(records.data()) : std::uint16_t{0},
                               parent};
        return static_cast<std::uint16_t>(size_ - 1);
    }

    // Additional data goes A records first, then AAAA, and stops at the
    // first RRset that does not fit (NSD's order, so the same records make
    // it into a full 512-byte answer).
    void write(ResponseWriter& writer) const noexcept {
        std::array<bool, capacity> written{};
        for (int pass = 0; pass < 4; ++pass) {
            Section section = pass < 2 ? static_cast<Section>(pass) : Section::additional;
            for (std::size_t i = 0; i < size_; ++i) {
                const Item& item = items_[i];
                if (item.section != section ||
                    (pass >= 2 && (pass == 2) != (item.type == rrtype::a)))
                    continue;
                // No addresses for an NS RRset that was left out.
                if (item.parent != no_parent && !written[item.parent]) continue;
                written[i] = writer.add_precompiled(section, {item.owner, item.owner_size},
                                                    {item.records, item.records_size}, item.count,
                                                    item.required);
                if (written[i]) continue;
                if (writer.truncated() || section == Section::additional)
                    return; // the rest would not be read, or would not fit either
            }
        }
    }

private:
    static constexpr std::size_t capacity = 128;
    std::array<Item, capacity> items_;
    std::size_t size_ = 0;
};

class ZoneAnswer {
public:
    ZoneAnswer(const ZoneSet& zones, const Query& query)
        : zones_(zones)
        , query_(query) {}

    void run(const ZoneMatch& match, WireName name, ResponseWriter& writer) noexcept {
        lookup(match, name);
        writer.set_aa(aa_);
        writer.set_rcode(rcode_);
        plan_.write(writer);
    }

private:
    bool add_rrset(Section section, WireName owner, const RRsetEntry& rrset,
                   bool required = true) noexcept {
        std::uint16_t index =
            plan_.add(section, owner, zones_.records_of(rrset), rrset.count, required);
        if (index == Plan::no_parent) return false;
        for (std::uint32_t target : zones_.additional_of(rrset)) {
            const Node& node = zones_.node(target);
            for (std::uint16_t type : {rrtype::a, rrtype::aaaa})
                if (const RRsetEntry* address = zones_.find_rrset(node, type))
                    plan_.add(Section::additional, zones_.name_of(node),
                              zones_.records_of(*address), address->count, false, index);
        }
        return true;
    }

    void add_negative_soa(const Zone& zone) noexcept {
        if (query_.qclass != rrclass::any)
            (void)plan_.add(Section::authority, zones_.name_of(zones_.node(zone.apex)),
                            zones_.negative_soa(zone), 1);
    }

    // After a CNAME chain these describe its last name (RFC 6604), as NSD
    // 4.6 does.
    void nodata(const Zone& zone) noexcept { add_negative_soa(zone); }

    void nxdomain(const Zone& zone) noexcept {
        rcode_ = rcode::nxdomain;
        add_negative_soa(zone);
    }

    void lookup(const ZoneMatch& match, WireName name) noexcept {
        const Node* node = match.encloser;
        const Zone* zone = &zones_.zone(node->zone);
        bool at_apex = zones_.index_of(*node) == zone->apex;
        if (match.exact && query_.qtype == rrtype::ds && at_apex) {
            // DS belongs to the parent side of the cut (RFC 4035 §3.1.4.1).
            if (node->parent_side != no_index) {
                node = &zones_.node(node->parent_side);
                zone = &zones_.zone(node->zone);
            }
            aa_ = query_.qclass != rrclass::any;
            answer_node(*node, *zone, name);
            return;
        }
        bool ds_at_cut =
            match.exact && query_.qtype == rrtype::ds && node->cut == zones_.index_of(*node);
        if (node->cut != no_index && !ds_at_cut) {
            referral(zones_.node(node->cut));
            return;
        }
        aa_ = query_.qclass != rrclass::any;
        if (match.exact)
            answer_node(*node, *zone, name);
        else if (node->wildcard != no_index)
            answer_node(zones_.node(node->wildcard), *zone, name);
        else
            nxdomain(*zone);
    }

    void referral(const Node& cut) noexcept {
        aa_ = cname_count_ > 0;
        if (const RRsetEntry* ns = zones_.find_rrset(cut, rrtype::ns))
            add_rrset(Section::authority, zones_.name_of(cut), *ns);
    }

    void answer_node(const Node& node, const Zone& zone, WireName owner) noexcept {
        std::uint16_t qtype = query_.qtype;
        if (qtype == rrtype::any) {
            // RFC 8482 §4.1: one RRset, no NS RRset in authority (as NSD 4.6).
            if (const RRsetEntry* rrset = pick_for_any(node))
                add_rrset(Section::answer, owner, *rrset);
            else
                nodata(zone);
            return;
        } else if (const RRsetEntry* rrset = zones_.find_rrset(node, qtype)) {
            add_rrset(Section::answer, owner, *rrset);
        } else if (const RRsetEntry* cname = zones_.find_rrset(node, rrtype::cname)) {
            if (add_rrset(Section::answer, owner, *cname)) follow_cname(*cname);
            return; // no NS RRset after a CNAME (RFC 1034 §6.2.7)
        } else {
            nodata(zone);
            return;
        }
        if (query_.qclass != rrclass::any && zone.ns_rrset != no_index && qtype != rrtype::ds &&
            qtype != rrtype_dnskey)
            add_rrset(Section::authority, zones_.name_of(zones_.node(zone.apex)),
                      zones_.rrset(zone.ns_rrset),
                      false); // optional: left out without TC when it does not fit (as NSD)
    }

    const RRsetEntry* pick_for_any(const Node& node) const noexcept {
        for (std::uint16_t preferred :
             {rrtype::soa, rrtype::a, rrtype::aaaa, rrtype::cname, rrtype::mx})
            if (const RRsetEntry* rrset = zones_.find_rrset(node, preferred)) return rrset;
        auto all = zones_.rrsets_of(node);
        return all.empty() ? nullptr : &all.front();
    }

    void follow_cname(const RRsetEntry& cname) noexcept {
        if (cname_count_ >= max_cname_chain) return;
        auto records = zones_.records_of(cname);
        if (records.size() < 11) return;
        std::size_t rdlength = get_u16(records.data() + 8);
        Target& target = targets_[cname_count_];
        if (rdlength > max_name_size || 10 + rdlength > records.size()) return;
        for (std::size_t i = 0; i < rdlength; ++i) target.bytes[i] = ascii_lower(records[10 + i]);
        WireName name{target.bytes, rdlength};
        ++cname_count_;
        ZoneMatch match = match_zone(zones_, name);
        if (match.encloser) lookup(match, name);
    }

    const ZoneSet& zones_;
    const Query& query_;
    Plan plan_;
    bool aa_ = false;
    std::uint16_t rcode_ = rcode::noerror;
    unsigned cname_count_ = 0;
    // Lower-case CNAME targets (owners of the records that follow them);
    // left uninitialised: only the bytes written are read.
    struct Target {
        std::uint8_t bytes[max_name_size];
    };
    Target targets_[max_cname_chain];
};

} // namespace

ZoneMatch match_zone(const ZoneSet& zones, WireName lower_name) noexcept {
    WireName suffix = lower_name;
    while (!suffix.empty()) {
        if (const Node* node = zones.find(suffix)) {
            ZoneMatch m;
            m.encloser = node;
            m.exact = suffix.size() == lower_name.size();
            m.apex_labels = count_labels(zones.name_of(zones.node(zones.zone(node->zone).apex)));
            return m;
        }
        if (suffix[0] == 0) break;
        suffix = suffix.subspan(suffix[0] + 1u);
    }
    return {};
}

void answer_from_zones(const ZoneSet& zones, const Query& query, const ZoneMatch& match,
                       ResponseWriter& writer) noexcept {
    if (!match.encloser) return;
    ZoneAnswer answer(zones, query);
    answer.run(match, query.qname.name(), writer);
}

} // namespace cairn::dns
