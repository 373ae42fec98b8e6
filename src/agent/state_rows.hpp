#pragma once
// What the state database keeps per record, as text, and the legacy
// services.json it replaced. Pure functions, no I/O: the state store reads
// and writes the rows, the fuzz harness feeds them bytes.
//
// A row body is a compact binary encoding of the instance with its checks
// and their states (little-endian integers, strings as a 32-bit length and
// the bytes, a format byte first); JSON took 14 us per instance to read
// back, so 100,000 of them more than a second. Reading checks every
// length against what is left and every enum against its values, then the
// registry's own rules (registry::validate). On the way back only the
// states of TTL checks are kept: those are what a client reported (and was
// answered 200 for); the other checks probe again from the start.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "http/registration.hpp"
#include "registry/types.hpp"

namespace cairn::agent {

[[nodiscard]] std::string encode_row(const registry::Instance& instance);
// `id` and `version` come from the row's columns and must agree with the
// body; checks that are not TTL checks start critical at `now_ms`.
[[nodiscard]] Result<registry::Instance> decode_row(std::string_view id, std::uint64_t version,
                                                    std::string_view body, std::int64_t now_ms);
// The body alone (version 0); decode_row adds the checks against the columns.
[[nodiscard]] Result<registry::Instance> decode_row_body(std::string_view body,
                                                         std::int64_t now_ms);

// The legacy file: {"format": 1, "instances": [<instance as the API shows it>...]}.
[[nodiscard]] std::string encode_state(const std::vector<const registry::Instance*>& instances);

struct DecodedState {
    std::vector<registry::Instance> instances;
    struct Rejected {
        std::string error; // "instances[3]: port: ..."
        std::string entry; // the entry's JSON text
    };
    std::vector<Rejected> rejected;
};
// Fails when the text is not a state file at all; a bad instance inside is
// skipped and reported in `rejected`.
[[nodiscard]] Result<DecodedState> decode_state(std::string_view text,
                                                const http::RegistrationDefaults& defaults);

} // namespace cairn::agent
