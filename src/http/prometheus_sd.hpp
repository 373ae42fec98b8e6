#pragma once
// GET /v1/prometheus/sd: Prometheus's HTTP service discovery format
// (http_sd_configs, docs/http-api.md): a JSON array of target groups, one
// per servable instance (passing or warning, not in maintenance, on a live
// agent), each {"targets": ["<address>:<port>"], "labels": {...}} with
// __meta_cairn_* labels. ?service= and ?tag= filter, each repeatable: any of
// the services, all of the tags. Main loop only (reads the registry).

#include "http/message.hpp"
#include "registry/registry.hpp"

namespace cairn::http {

[[nodiscard]] Response prometheus_sd(const registry::Registry& registry, const Request& request,
                                     const std::string& datacenter);

// "version" -> "version", "build-id" -> "build_id": a meta key as a label
// name's tail ([a-zA-Z0-9_], anything else '_').
[[nodiscard]] std::string label_name_part(std::string_view key);

} // namespace cairn::http
