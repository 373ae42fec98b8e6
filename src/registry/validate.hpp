#pragma once
// Validation of instances before they enter the registry. Every message names
// the field it is about, in the spelling of the HTTP API ("port: 70000 is out
// of range 1-65535", "tags[1]: ..."), so the HTTP layer can return it as is.
// The field checks are public so a JSON decoder can reject values that do not
// even fit the struct (a port of 70000) with the same words.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "registry/types.hpp"

namespace cairn::registry {

// Letters, digits and '-', 1-63 characters, not starting or ending with '-':
// safe as one DNS label (RFC 1035 §2.3.1, digits first allowed per RFC 1123).
[[nodiscard]] bool is_label_safe(std::string_view text);

// Each returns an empty string when the value is fine, else the message.
[[nodiscard]] std::string check_service_name(std::string_view name);
[[nodiscard]] std::string check_instance_id(std::string_view id);
[[nodiscard]] std::string check_port(std::int64_t port);
[[nodiscard]] std::string check_weight(std::int64_t weight);
[[nodiscard]] std::string check_tag(std::size_t index, std::string_view tag);

// The whole instance, including its checks. `node` and `version` are not
// looked at: the registry sets them.
[[nodiscard]] std::expected<void, std::string> validate(const Instance& instance);

} // namespace cairn::registry
