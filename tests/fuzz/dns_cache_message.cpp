// Fuzzes what the forwarded-answer cache reads from upstreams
// (src/dns/forward/cached_message.hpp): the input is an upstream response;
// the client's query is made from its question (or a fixed one when that
// does not parse). Whatever is stored must be served within the client's
// limit and the buffer, at any age, fresh or stale.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dns/forward/cache.hpp"
#include "dns/wire/query.hpp"

using namespace cairn::dns;

namespace {

// A query for the response's question: its header with QR and the counts
// other than QDCOUNT cleared, and the bytes that follow.
std::vector<std::uint8_t> query_for(const std::uint8_t* data, std::size_t size) {
    std::vector<std::uint8_t> q(data, data + std::min<std::size_t>(size, 12 + 260));
    if (q.size() < 12) return {};
    q[2] &= 0x79; // QR, AA, TC off; opcode kept
    q[3] = 0;
    put_u16(&q[4], 1);
    std::fill(q.begin() + 6, q.begin() + 12, 0);
    return q;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::uint8_t mode = data[0];
    data += 1;
    size -= 1;

    std::vector<std::uint8_t> packet = query_for(data, size);
    Query query;
    if (packet.empty() || !parse_query(packet, query)) {
        packet = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1};
        if (!parse_query(packet, query)) std::abort();
    }
    query.dnssec_ok = (mode & 1) != 0;
    query.edns = (mode & 2) != 0;

    forward::CacheSettings settings;
    settings.shards = 1;
    settings.max_bytes = 1 << 20;
    forward::Cache cache(settings);
    auto t0 = forward::Clock::time_point{} + std::chrono::hours(1);
    if (!cache.store(query, {data, size}, t0)) return 0;

    static std::array<std::uint8_t, 65535> out;
    const std::size_t limits[] = {12, 100, 512, 1232, 65535};
    for (std::size_t limit : limits) {
        for (int age_s : {0, 1, 100000, 200000}) {
            auto now = t0 + std::chrono::seconds(age_s);
            for (bool stale : {false, true}) {
                auto answer = stale ? cache.lookup_stale(query, packet, now, out, limit)
                                    : cache.lookup(query, packet, now, out, limit);
                std::size_t floor = 12 + query.question_size + (query.edns ? 17 : 0);
                if (answer.size > std::max(limit, floor) || answer.size > out.size()) std::abort();
                if (answer.size != 0 && answer.size < 12) std::abort();
            }
        }
    }
    cache.flush();
    return 0;
}
