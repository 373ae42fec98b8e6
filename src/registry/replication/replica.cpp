#include "registry/replication/replica.hpp"

#include <algorithm>
#include <limits>

#include "registry/validate.hpp"

namespace cairn::registry::replication {

namespace {

// Every record of `owner` with a version in (after, upto], in version order
// (then by id, so that two agents list the same records alike).
std::vector<Record>
records_between(const Registry& registry, const std::string& owner, std::uint64_t after,
                std::uint64_t upto = std::numeric_limits<std::uint64_t>::max()) {
    Registry::Records found = registry.records_of(owner, after);
    std::vector<Record> out;
    out.reserve(found.instances.size() + found.tombstones.size());
    for (Instance& i : found.instances)
        if (i.version <= upto) out.emplace_back(std::move(i));
    for (Tombstone& t : found.tombstones)
        if (t.version <= upto) out.emplace_back(std::move(t));
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
        return std::pair(record_version(a), std::string_view(record_id(a))) <
               std::pair(record_version(b), std::string_view(record_id(b)));
    });
    return out;
}

// The version this registry holds for one of its own ids; 0 if none.
std::uint64_t own_version(const Registry& registry, const std::string& id) {
    if (const Instance* i = registry.find_local(id)) return i->version;
    if (const Tombstone* t = registry.find_local_tombstone(id)) return t->version;
    return 0;
}

} // namespace

Replica::Replica(Registry& registry, Clock clock, ReplicaOptions options)
    : registry_(registry)
    , clock_(std::move(clock))
    , options_(options)
    , self_(registry.local_node())
    , startup_version_(registry.version_counter())
    , announced_(startup_version_) {
    for (const Record& r : records_between(registry_, self_, 0))
        known_[record_id(r)] = record_version(r);
    (void)registry_.take_local_changes(); // known already: counted just above
}

void Replica::local_changed() {
    // The own records written since the last call (the registry names
    // them), so a write costs the same at any registry size; any of them,
    // not only those above announced_: a write prepared before another and
    // applied after it (the agent makes API writes durable first) lands
    // below what was announced already.
    std::vector<Record> records;
    for (std::string& id : registry_.take_local_changes()) {
        if (const Instance* i = registry_.find_local(id))
            records.emplace_back(*i);
        else if (const Tombstone* t = registry_.find_local_tombstone(id))
            records.emplace_back(*t);
        else
            known_.erase(id); // a tombstone collected
    }
    std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
        return record_version(a) < record_version(b);
    });
    std::vector<std::string> late;
    for (Record& record : records) {
        const std::string& id = record_id(record);
        std::uint64_t version = record_version(record);
        auto it = known_.find(id);
        if (it != known_.end() && it->second == version) continue;
        if (version <= announced_) {
            // Peers may count themselves complete past it: it goes out again
            // with a version above everything announced.
            late.push_back(id);
            continue;
        }
        known_.insert_or_assign(id, version);
        std::string name = record_key(self_, id);
        Update update{self_, announced_, std::move(record)};
        std::vector<std::uint8_t> bytes = encode(update);
        if (bytes.size() > options_.max_update_bytes)
            bytes = encode(Notice{self_, announced_, version});
        broadcasts_.push_back({std::move(name), std::move(bytes), true});
        announced_ = version;
    }
    bool superseded = false;
    for (const std::string& id : late)
        superseded = registry_.supersede_local(id, clock_()).has_value() || superseded;
    if (superseded) local_changed();
}

Result<void> Replica::receive(std::span<const std::uint8_t> bytes) {
    auto message = decode(bytes);
    if (!message) {
        ++stats_.decode_errors;
        return std::unexpected(message.error());
    }
    if (auto* u = std::get_if<Update>(&*message))
        on_update(std::move(*u), bytes);
    else if (const auto* n = std::get_if<Notice>(&*message))
        on_notice(*n, bytes);
    else if (const auto* q = std::get_if<Request>(&*message))
        on_request(*q);
    else if (auto* p = std::get_if<Reply>(&*message))
        on_reply(std::move(*p));
    else if (const auto* s = std::get_if<Summary>(&*message))
        on_summary(*s);
    else if (const auto* a = std::get_if<Audit>(&*message))
        on_audit(*a);
    else
        on_digest(std::get<Digest>(*message));
    return {};
}

Digest Replica::digest(bool answer) const {
    Digest digest{self_, {}, answer};
    digest.watermarks.reserve(owners_.size() + 1);
    digest.watermarks.emplace_back(self_, announced_);
    for (const auto& [name, owner] : owners_)
        if (owner.watermark > 0) digest.watermarks.emplace_back(name, owner.watermark);
    return digest;
}

std::uint64_t Replica::fingerprint() const {
    return digest_fingerprint(digest(false).watermarks);
}

void Replica::send_digest(const std::string& to, bool answer) {
    Digest d = digest(answer);
    digests_sent_[to] = {digest_fingerprint(d.watermarks), clock_()};
    outgoing_.push_back({to, encode(d)});
}

std::vector<std::uint8_t> Replica::local_state(bool join) const {
    // A joiner holds little of what the cluster holds: the whole digest at
    // once saves the round trip a Summary would cost.
    if (join) return encode(digest(false));
    return encode(Summary{self_, fingerprint()});
}

Result<void> Replica::merge_remote_state(std::span<const std::uint8_t> bytes) {
    auto message = decode(bytes);
    if (!message) {
        ++stats_.decode_errors;
        return std::unexpected(message.error());
    }
    if (const auto* summary = std::get_if<Summary>(&*message)) {
        on_summary(*summary);
        return {};
    }
    const auto* digest = std::get_if<Digest>(&*message);
    if (!digest) {
        ++stats_.decode_errors;
        return fail("push-pull state: a digest or a summary was expected");
    }
    on_digest(*digest);
    return {};
}

void Replica::on_summary(const Summary& summary) {
    if (summary.from.empty() || summary.from == self_) return;
    if (summary.fingerprint != fingerprint()) {
        // Something differs, on either side: the whole digests settle what.
        send_digest(summary.from, true);
        return;
    }
    // The same digest as ours, so on_digest() would ask for nothing; but for
    // the one check of ours: the peer's watermark for us is announced_.
    if (announced_ > startup_version_ && checked_peers_.insert(summary.from).second)
        audit(summary.from, announced_);
}

void Replica::audit(const std::string& to, std::uint64_t upto) {
    std::vector<Record> mine = records_between(registry_, self_, startup_version_, upto);
    outgoing_.push_back(
        {to, encode(Audit{self_, startup_version_, upto, records_fingerprint(mine)})});
}

void Replica::on_audit(const Audit& audit) {
    if (audit.from.empty() || audit.from == self_ || forgotten(audit.from)) return;
    std::vector<Record> held = records_between(registry_, audit.from, audit.after, audit.upto);
    if (records_fingerprint(held) == audit.fingerprint) return;
    // The owner sees every copy it does not hold, and writes again above them.
    std::size_t budget = options_.max_answer_bytes;
    answer(audit.from, audit.from, audit.after, budget);
}

void Replica::on_update(Update update, std::span<const std::uint8_t> bytes) {
    ++stats_.updates_received;
    if (update.owner.empty() || forgotten(update.owner)) return;
    if (update.owner == self_) {
        on_own_record(update.record);
        return;
    }
    std::string name = record_key(update.owner, record_id(update.record));
    std::uint64_t version = record_version(update.record);
    bool held = false;
    bool changed = merge_record(std::move(update.record), held);
    if (held) {
        Owner& owner = owners_[update.owner];
        link(owner, update.prev, version);
        // A gap before this change: ask its owner for what lies between.
        if (owner.watermark < update.prev) request(update.owner, {{update.owner, owner.watermark}});
    }
    if (changed) {
        // Epidemic relay: the owner's own broadcasts reach only a few nodes.
        ++stats_.updates_new;
        broadcasts_.push_back(
            {std::move(name), std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
    }
}

void Replica::on_notice(const Notice& notice, std::span<const std::uint8_t> bytes) {
    ++stats_.notices_received;
    if (notice.owner.empty() || forgotten(notice.owner)) return;
    if (notice.owner == self_) {
        if (notice.version > announced_) lost_writes(notice.version, notice.owner);
        return;
    }
    Owner& owner = owners_[notice.owner];
    if (notice.version <= owner.noticed) return;
    owner.noticed = notice.version;
    broadcasts_.push_back(
        {record_key(notice.owner, "\n"), std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
    if (owner.watermark < notice.version) request(notice.owner, {{notice.owner, owner.watermark}});
}

void Replica::on_request(const Request& request) {
    if (request.from.empty() || request.from == self_) return;
    std::size_t budget = options_.max_answer_bytes;
    for (const auto& [owner, after] : request.wants)
        if (budget > 0 && !forgotten(owner)) answer(request.from, owner, after, budget);
    ++stats_.requests_answered;
}

void Replica::answer(const std::string& to, const std::string& owner, std::uint64_t after,
                     std::size_t& budget) {
    std::uint64_t complete = owner == self_ ? announced_ : watermark(owner);
    if (complete <= after) return;
    std::vector<Record> records = records_between(registry_, owner, after);

    // Chunks in version order; each claims completeness up to its last
    // record (never past what this agent is complete up to).
    Reply chunk{self_, owner, after, after, false, {}};
    std::size_t chunk_bytes = 0;
    auto send = [&](bool last) {
        if (last) chunk.upto = std::max(chunk.upto, complete);
        std::vector<std::uint8_t> bytes = encode(chunk);
        budget -= std::min(budget, bytes.size());
        outgoing_.push_back({to, std::move(bytes)});
        chunk.after = chunk.upto;
        chunk.records.clear();
        chunk_bytes = 0;
    };
    for (Record& record : records) {
        std::size_t size = encoded_size(record);
        if (!chunk.records.empty() && chunk_bytes + size > options_.max_chunk_bytes) {
            if (budget < chunk_bytes + options_.max_chunk_bytes) {
                // Out of budget: this chunk is the last, and says there is more.
                chunk.more = true;
                send(false);
                return;
            }
            send(false);
        }
        chunk_bytes += size;
        chunk.upto = std::min(record_version(record), complete);
        chunk.records.push_back(std::move(record));
    }
    send(true);
}

void Replica::on_reply(Reply reply) {
    ++stats_.replies_received;
    if (reply.owner.empty() || forgotten(reply.owner)) return;
    if (reply.owner == self_) {
        for (const Record& r : reply.records) on_own_record(r);
        return;
    }
    // A short answer filled a gap that others may have too: what was new
    // here is relayed like an update. Within a chunk each record links to
    // the one before (the chunk holds every record of its range).
    bool relay = reply.records.size() <= options_.max_relayed_per_reply;
    bool all_held = true;
    std::uint64_t prev = reply.after;
    for (Record& r : reply.records) {
        bool held = false;
        std::uint64_t version = record_version(r);
        std::vector<std::uint8_t> bytes;
        if (relay) bytes = encode(Update{reply.owner, prev, r});
        std::string name = record_key(reply.owner, record_id(r));
        if (merge_record(std::move(r), held)) {
            ++stats_.records_merged;
            if (relay && bytes.size() <= options_.max_update_bytes)
                broadcasts_.push_back({std::move(name), std::move(bytes)});
        }
        all_held = all_held && held;
        prev = version;
    }
    Owner& owner = owners_[reply.owner];
    if (all_held && owner.watermark >= reply.after && reply.upto > owner.watermark) {
        owner.watermark = reply.upto;
        link(owner, owner.watermark, owner.watermark);
    }
    if (reply.more && !reply.from.empty()) {
        owner.requested = false;
        request(reply.from, {{reply.owner, owner.watermark}});
    }
}

void Replica::on_digest(const Digest& digest) {
    if (digest.from.empty() || digest.from == self_) return;
    if (digest.answer) {
        // Unless the peer was just sent this same digest (both sides of a
        // push-pull or of a revival ask at once).
        auto sent = digests_sent_.find(digest.from);
        bool has_it = sent != digests_sent_.end() && sent->second.fingerprint == fingerprint() &&
                      clock_() - sent->second.at_ms < options_.digest_retry_ms;
        if (!has_it) send_digest(digest.from, false);
    }
    std::vector<std::pair<std::string, std::uint64_t>> wants;
    for (const auto& [name, version] : digest.watermarks) {
        if (name.empty() || forgotten(name)) continue;
        if (name == self_) {
            if (version > announced_)
                lost_writes(version, digest.from);
            else if (version > startup_version_ && checked_peers_.insert(digest.from).second)
                // The peer holds records of ours from after the start-up
                // counter: some may be from before a restart; check once.
                audit(digest.from, version);
            continue;
        }
        auto it = owners_.find(name);
        std::uint64_t mine = it == owners_.end() ? 0 : it->second.watermark;
        if (version > mine) wants.emplace_back(name, mine);
    }
    request(digest.from, std::move(wants));
}

bool Replica::merge_record(Record record, bool& held) {
    bool changed = false;
    bool acceptable = false;
    if (auto* t = std::get_if<Tombstone>(&record)) {
        // Collected by the time this agent learned of it, not the owner's clock.
        t->deleted_at_ms = clock_();
        changed = registry_.merge(*t);
        acceptable = !t->id.empty() && t->version > 0;
    } else {
        const Instance& i = std::get<Instance>(record);
        changed = registry_.merge(i);
        acceptable = changed || (i.version > 0 && validate(i).has_value());
    }
    // Not merged but acceptable: this registry holds that version or newer.
    held = acceptable;
    return changed;
}

void Replica::on_own_record(const Record& record) {
    const std::string& id = record_id(record);
    std::uint64_t version = record_version(record);
    registry_.observe_version(version);
    // The cluster holds a copy of one of this agent's records that this
    // agent does not hold: a newer version, or the same version with other
    // contents, or another record at the same version. It was written
    // before a restart that lost it, so the version was used twice. This
    // agent is the only writer: it writes again what it holds now, above it.
    std::vector<std::string> rewrite;
    std::uint64_t mine = own_version(registry_, id);
    if (version > mine) {
        rewrite.push_back(id);
    } else if (version == mine) {
        const Instance* local = registry_.find_local(id);
        const auto* remote = std::get_if<Instance>(&record);
        if ((local == nullptr) != (remote == nullptr) ||
            (local && without_drift(*local) != without_drift(*remote)))
            rewrite.push_back(id);
    }
    if (version <= announced_ && version > startup_version_)
        for (const Record& r : records_between(registry_, self_, version - 1, version))
            if (record_version(r) == version && record_id(r) != id) rewrite.push_back(record_id(r));
    for (const std::string& stale : rewrite)
        if (registry_.supersede_local(stale, clock_())) ++stats_.own_records_superseded;
    if (!rewrite.empty()) local_changed();
}

void Replica::lost_writes(std::uint64_t seen_version, const std::string& from) {
    // Versions above the start-up counter may have been issued twice
    // (before and after the restart), so every own record above it is
    // written again, above anything the cluster saw.
    registry_.observe_version(seen_version);
    for (const Record& r : records_between(registry_, self_, startup_version_))
        if (registry_.supersede_local(record_id(r), clock_())) ++stats_.own_records_superseded;
    local_changed();
    announced_ = std::max(announced_, seen_version);
    // And whatever the cluster holds of ours that this agent does not
    // (on_own_record() supersedes each).
    checked_peers_.insert(from);
    request(from, {{self_, startup_version_}});
}

void Replica::link(Owner& owner, std::uint64_t prev, std::uint64_t version) const {
    if (version > owner.watermark) {
        if (prev > owner.watermark) {
            owner.links[prev] = std::max(owner.links[prev], version);
            while (owner.links.size() > options_.max_pending_links)
                owner.links.erase(std::prev(owner.links.end()));
            return;
        }
        owner.watermark = version;
    }
    // Links that were waiting for this gap.
    while (!owner.links.empty() && owner.links.begin()->first <= owner.watermark) {
        owner.watermark = std::max(owner.watermark, owner.links.begin()->second);
        owner.links.erase(owner.links.begin());
    }
}

void Replica::request(const std::string& to,
                      std::vector<std::pair<std::string, std::uint64_t>> wants) {
    std::int64_t now = clock_();
    std::erase_if(wants, [&](const auto& want) {
        if (want.first == self_) return false;
        Owner& owner = owners_[want.first];
        bool recent = owner.requested && owner.requested_after == want.second &&
                      now - owner.requested_at_ms < options_.request_retry_ms;
        if (!recent) {
            owner.requested = true;
            owner.requested_after = want.second;
            owner.requested_at_ms = now;
        }
        return recent;
    });
    if (wants.empty() || to.empty() || to == self_) return;
    ++stats_.requests_sent;
    outgoing_.push_back({to, encode(Request{self_, std::move(wants)})});
}

void Replica::node_alive(Node node) {
    if (node.name.empty()) return;
    const Node* known = registry_.find_node(node.name);
    bool back = forgotten_.erase(node.name) > 0 || !known || !known->alive;
    failed_.erase(node.name);
    std::string name = node.name;
    node.alive = true;
    registry_.set_node(std::move(node));
    // Whatever it and this agent missed of each other while apart (or before
    // it joined) is exchanged now, not at the next push-pull.
    if (back && name != self_) send_digest(name, true);
}

void Replica::node_failed(std::string_view name) {
    if (name.empty() || name == self_) return;
    failed_.emplace(name);
    Node node;
    if (const Node* known = registry_.find_node(name)) node = *known;
    node.name = std::string(name);
    node.alive = false;
    registry_.set_node(std::move(node));
}

void Replica::node_left(std::string_view name) {
    if (name.empty() || name == self_) return;
    std::string key(name);
    failed_.erase(key);
    registry_.forget_node(key);
    owners_.erase(key);
    digests_sent_.erase(key);
    forgotten_[key] = clock_();
}

void Replica::forget_reaped(const std::function<bool(const std::string&)>& is_member) {
    std::vector<std::string> reaped;
    for (const std::string& name : failed_)
        if (!is_member(name)) reaped.push_back(name);
    for (const std::string& name : reaped) node_left(name);
}

void Replica::collect_garbage() {
    std::int64_t now = clock_();
    registry_.collect_tombstones(now - options_.tombstone_ttl_ms);
    std::erase_if(forgotten_, [&](const auto& entry) {
        return now - entry.second > options_.tombstone_ttl_ms;
    });
}

std::vector<Broadcast> Replica::take_broadcasts() {
    return std::exchange(broadcasts_, {});
}

std::vector<Outgoing> Replica::take_outgoing() {
    return std::exchange(outgoing_, {});
}

std::uint64_t Replica::watermark(std::string_view owner) const {
    if (owner == self_) return announced_;
    auto it = owners_.find(std::string(owner));
    return it == owners_.end() ? 0 : it->second.watermark;
}

bool Replica::forgotten(const std::string& name) const {
    return forgotten_.contains(name);
}

} // namespace cairn::registry::replication
