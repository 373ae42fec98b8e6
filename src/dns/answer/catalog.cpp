#include "dns/answer/catalog.hpp"

#include <atomic>
#include <mutex>
#include <vector>

#include "dns/answer/answer.hpp"
#include "dns/answer/discovery.hpp"
#include "dns/wire/query.hpp"
#include "dns/wire/writer.hpp"

namespace cairn::dns {

namespace {

constexpr std::uint16_t ede_not_authoritative = 20; // RFC 8914 §4.21

// Settings with the names the hot path needs, in wire form, made once.
struct CompiledSettings {
    Settings settings;
    NameBuffer domain;   // lower-case wire form
    NameBuffer dc_label; // "\3dc1" + root, for matching the optional label
};

Result<std::shared_ptr<const CompiledSettings>> compile(Settings settings) {
    std::string& d = settings.domain;
    for (auto& c : d) c = static_cast<char>(ascii_lower(static_cast<std::uint8_t>(c)));
    if (d.empty() || d.back() != '.') d += '.';
    auto domain = name_from_text(d);
    if (!domain) return fail("dns domain '{}': {}", settings.domain, domain.error().message);
    if (domain->size <= 1) return fail("dns domain must not be the root");
    for (auto& c : settings.datacenter)
        c = static_cast<char>(ascii_lower(static_cast<std::uint8_t>(c)));
    auto dc = name_from_text(settings.datacenter);
    if (!dc || dc->labels > 1)
        return fail("datacenter '{}' is not a single DNS label", settings.datacenter);
    auto out = std::make_shared<CompiledSettings>();
    out->domain = *domain;
    out->dc_label = *dc;
    out->settings = std::move(settings);
    return std::shared_ptr<const CompiledSettings>(std::move(out));
}

} // namespace

struct Catalog::Shared {
    explicit Shared(const registry::SnapshotSlot& s)
        : snapshots(s) {}
    const registry::SnapshotSlot& snapshots;
    std::atomic<std::shared_ptr<const ZoneSet>> zones;
    std::atomic<std::shared_ptr<const CompiledSettings>> settings;
    std::atomic<Recursion*> recursion{nullptr};
    // Raised on every set_*: workers re-read zones and settings only then.
    std::atomic<std::uint64_t> generation{1};
    // Each Responder's counters, added when it is made (not per query).
    mutable std::mutex counters_mutex;
    std::vector<std::unique_ptr<AnswerCounters>> counters;
};

namespace {

class CatalogResponder final : public Responder {
public:
    CatalogResponder(const Catalog::Shared& shared, AnswerCounters& counters)
        : shared_(shared)
        , counters_(counters) {
        discovery_.count_into(&counters_);
    }

    std::size_t respond(std::span<const std::uint8_t> packet, const Client& client,
                        std::span<std::uint8_t> out) noexcept override {
        refresh();
        auto parsed = parse_query(packet, query_);
        bool tcp = client.transport == Transport::tcp;
        ResponseWriter writer(out, response_limit(query_, tcp));
        if (!parsed) {
            switch (parsed.error().error) {
            case QueryError::drop:
                return 0;
            case QueryError::formerr:
                writer.start_error(query_, rcode::formerr);
                break;
            case QueryError::notimp:
                writer.start_error(query_, rcode::notimp);
                break;
            case QueryError::no_question:
                writer.start_error(query_, rcode::noerror);
                break;
            case QueryError::badvers:
                // The question and the query's flags are echoed, with an OPT
                // of version 0 (as NSD does).
                writer.start(query_, packet);
                writer.echo_query_flags(query_);
                writer.set_rcode(rcode::badvers);
                break;
            }
            return writer.finish();
        }
        writer.start(query_, packet);
        counters_.count_qtype(query_.qtype);
        if (query_.qclass != rrclass::in && query_.qclass != rrclass::any) {
            if (query_.qclass == rrclass::ch)
                writer.set_rcode(rcode::refused);
            else
                writer.start_error(query_, rcode::refused);
            return writer.finish();
        }
        if (query_.qtype == rrtype::axfr || query_.qtype == rrtype::ixfr) {
            // No zone transfers. NSD says NOTIMP to AXFR over UDP (RFC 5936
            // §4.2 makes AXFR TCP-only) and REFUSED otherwise.
            bool notimp = query_.qtype == rrtype::axfr && !tcp;
            writer.set_rcode(notimp ? rcode::notimp : rcode::refused);
            return writer.finish();
        }
        bool recursion = recursion_ != nullptr && recursion_->offers(client);
        Route route = route_of();
        if (route.outside) {
            if (recursion)
                return recursion_->resolve(query_, packet, client, out,
                                           response_limit(query_, tcp));
            writer.set_rcode(rcode::refused);
            writer.set_extended_error(ede_not_authoritative);
            return writer.finish();
        }
        if (recursion) writer.set_ra();
        answer(route, client, writer);
        return writer.finish();
    }

private:
    void refresh() noexcept {
        std::uint64_t g = shared_.generation.load(std::memory_order_acquire);
        if (g != generation_) {
            zones_ = shared_.zones.load();
            settings_ = shared_.settings.load();
            recursion_ = shared_.recursion.load(std::memory_order_acquire);
            generation_ = g;
        }
        std::uint64_t s = shared_.snapshots.generation();
        if (s != snapshot_generation_) {
            snapshot_ = shared_.snapshots.load();
            snapshot_generation_ = s;
        }
    }

    // Who answers the query's name: a zone, the discovery domain, or
    // nobody here (outside).
    struct Route {
        ZoneMatch match;
        bool zone = false;
        bool outside = false;
    };
    [[nodiscard]] Route route_of() const noexcept {
        Route r;
        WireName qname = query_.qname.name();
        if (zones_) r.match = match_zone(*zones_, qname);
        const CompiledSettings* s = settings_.get();
        bool in_domain = s && is_subdomain(qname, s->domain.name());
        r.zone = r.match.encloser && (!in_domain || r.match.apex_labels >= s->domain.labels);
        r.outside = !r.zone && !in_domain;
        return r;
    }

    void answer(const Route& route, const Client& client, ResponseWriter& writer) noexcept {
        if (route.zone) {
            answer_from_zones(*zones_, query_, route.match, writer);
            return;
        }
        WireName qname = query_.qname.name();
        const CompiledSettings* s = settings_.get();
        // Split the name into <relative>.<apex>, the apex being the domain or
        // <dc>.<domain>.
        unsigned extra = query_.qname.labels - s->domain.labels;
        WireName apex = s->domain.name();
        if (extra > 0) {
            WireName one_more = strip_labels(qname, extra - 1);
            std::size_t dc_len = s->dc_label.size - 1u; // label bytes without the root
            if (one_more.size() > dc_len && std::equal(one_more.begin(), one_more.begin() + dc_len,
                                                       s->dc_label.bytes.begin())) {
                apex = one_more;
                --extra;
            }
        }
        std::size_t relative_size = qname.size() - apex.size();
        std::copy(qname.begin(), qname.begin() + relative_size, relative_.bytes.begin());
        relative_.bytes[relative_size] = 0;
        relative_.size = static_cast<std::uint8_t>(relative_size + 1);
        relative_.labels = static_cast<std::uint8_t>(extra);
        DiscoveryQuery q{
            query_, client,           s->settings,     s->domain.name(),
            apex,   relative_.name(), snapshot_.get(), snapshot_ ? snapshot_->generation() : 0};
        discovery_.answer(q, writer);
    }

    const Catalog::Shared& shared_;
    AnswerCounters& counters_;
    std::uint64_t generation_ = 0;
    std::uint64_t snapshot_generation_ = ~std::uint64_t{0};
    std::shared_ptr<const ZoneSet> zones_;
    std::shared_ptr<const CompiledSettings> settings_;
    Recursion* recursion_ = nullptr;
    std::shared_ptr<const registry::Snapshot> snapshot_;
    Query query_;
    NameBuffer relative_;
    DiscoveryWorker discovery_;
};

} // namespace

Catalog::Catalog(const registry::SnapshotSlot& snapshots)
    : shared_(std::make_unique<Shared>(snapshots)) {
    set_settings(Settings{});
}

Catalog::~Catalog() = default;

void Catalog::set_zones(std::shared_ptr<const ZoneSet> zones) {
    shared_->zones.store(std::move(zones));
    shared_->generation.fetch_add(1, std::memory_order_acq_rel);
}

Result<void> Catalog::validate_settings(const Settings& settings) {
    auto compiled = compile(settings);
    if (!compiled) return std::unexpected(compiled.error());
    return {};
}

void Catalog::set_settings(Settings settings) {
    auto compiled = compile(std::move(settings));
    if (!compiled) return;
    shared_->settings.store(std::move(*compiled));
    shared_->generation.fetch_add(1, std::memory_order_acq_rel);
}

void Catalog::set_recursion(Recursion* recursion) {
    shared_->recursion.store(recursion, std::memory_order_release);
    shared_->generation.fetch_add(1, std::memory_order_acq_rel);
}

ResponderFactory Catalog::responder_factory() {
    Shared* shared = shared_.get();
    return [shared]() -> std::unique_ptr<Responder> {
        std::lock_guard lock(shared->counters_mutex);
        auto& counters = shared->counters.emplace_back(std::make_unique<AnswerCounters>());
        return std::make_unique<CatalogResponder>(*shared, *counters);
    };
}

AnswerStats Catalog::answer_stats() const {
    AnswerStats total;
    std::lock_guard lock(shared_->counters_mutex);
    for (const auto& c : shared_->counters) total.add(*c);
    return total;
}

} // namespace cairn::dns
