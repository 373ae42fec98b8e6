#pragma once
// The in-memory form of the static zones: one flat, immutable structure for
// all zones, built by load.cpp and read by answer/answer.cpp from every worker.
//
// Every name of every zone is a Node, found through an open-addressing hash
// table keyed by its lower-case wire name. Ancestors between a name and its
// zone apex exist as Nodes without RRsets (empty non-terminals). When zones
// nest, a name belongs to the deepest zone that contains it. RRsets are
// stored precompiled, without owner, in one byte array, ready for
// ResponseWriter::add_precompiled().

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dns/wire/wire.hpp"

namespace cairn::dns {

struct ZoneInfo;

inline constexpr std::uint32_t no_index = 0xffff'ffff;

struct RRsetEntry {
    std::uint16_t type = 0;
    std::uint16_t count = 0;       // records
    std::uint32_t data_offset = 0; // into ZoneSet::data()
    std::uint32_t data_size = 0;
    // Nodes whose A/AAAA go to the additional section with this RRset (NS, MX
    // and SRV targets inside the same zone), a range of ZoneSet::additional().
    std::uint32_t additional_begin = 0;
    std::uint32_t additional_count = 0;
};

struct Node {
    std::uint32_t name_offset = 0; // into ZoneSet::names(): lower-case wire name
    std::uint8_t name_size = 0;
    std::uint32_t zone = 0;         // index into ZoneSet::zones()
    std::uint32_t rrsets_begin = 0; // range of ZoneSet::rrsets()
    std::uint16_t rrsets_count = 0;
    // The highest delegation point (NS below the apex) on the way from the
    // apex down to this node, itself included; no_index if none.
    std::uint32_t cut = no_index;
    std::uint32_t wildcard = no_index; // the node "*.<this name>", if any
    // At a zone apex that also lies inside a parent zone: the parent's node
    // for the same name (answers DS, RFC 4035 §3.1.4.1).
    std::uint32_t parent_side = no_index;
};

struct Zone {
    std::uint32_t apex = 0; // node index
    std::uint32_t soa_rrset = no_index;
    std::uint32_t ns_rrset = no_index; // at the apex
    // (soa_rrset and ns_rrset index ZoneSet::rrset())
    // The SOA record for negative answers (TTL = min(SOA TTL, minimum)),
    // precompiled like an RRset of one.
    std::uint32_t negative_soa_offset = 0;
    std::uint32_t negative_soa_size = 0;
    std::uint32_t serial = 0;
    std::size_t records = 0;
};

class ZoneSet {
public:
    [[nodiscard]] bool empty() const noexcept { return zones_.empty(); }
    [[nodiscard]] std::vector<ZoneInfo> info() const;

    // The node for this lower-case wire name, or nullptr.
    [[nodiscard]] const Node* find(WireName lower_name) const noexcept;

    [[nodiscard]] WireName name_of(const Node& node) const noexcept {
        return {names_.data() + node.name_offset, node.name_size};
    }
    [[nodiscard]] std::span<const RRsetEntry> rrsets_of(const Node& node) const noexcept {
        return {rrsets_.data() + node.rrsets_begin, node.rrsets_count};
    }
    [[nodiscard]] const RRsetEntry* find_rrset(const Node& node,
                                               std::uint16_t type) const noexcept {
        for (const auto& r : rrsets_of(node))
            if (r.type == type) return &r;
        return nullptr;
    }
    [[nodiscard]] std::span<const std::uint8_t> records_of(const RRsetEntry& rrset) const noexcept {
        return {data_.data() + rrset.data_offset, rrset.data_size};
    }
    [[nodiscard]] std::span<const std::uint32_t>
    additional_of(const RRsetEntry& rrset) const noexcept {
        return {additional_.data() + rrset.additional_begin, rrset.additional_count};
    }
    [[nodiscard]] std::span<const std::uint8_t> negative_soa(const Zone& zone) const noexcept {
        return {data_.data() + zone.negative_soa_offset, zone.negative_soa_size};
    }
    [[nodiscard]] const Node& node(std::uint32_t index) const noexcept { return nodes_[index]; }
    [[nodiscard]] const RRsetEntry& rrset(std::uint32_t index) const noexcept {
        return rrsets_[index];
    }
    [[nodiscard]] const Zone& zone(std::uint32_t index) const noexcept { return zones_[index]; }
    [[nodiscard]] std::uint32_t index_of(const Node& node) const noexcept {
        return static_cast<std::uint32_t>(&node - nodes_.data());
    }

private:
    friend class ZoneSetBuilder;

    std::vector<Zone> zones_;
    std::vector<Node> nodes_;
    std::vector<RRsetEntry> rrsets_;
    std::vector<std::uint8_t> data_;
    std::vector<std::uint8_t> names_;
    std::vector<std::uint32_t> additional_;
    std::vector<std::uint32_t> table_; // node index + 1; 0 = empty; size a power of two
};

// FNV-1a over a lower-case wire name.
[[nodiscard]] inline std::uint32_t hash_name(WireName name) noexcept {
    std::uint32_t h = 2166136261u;
    for (std::uint8_t b : name) h = (h ^ b) * 16777619u;
    return h;
}

} // namespace cairn::dns
