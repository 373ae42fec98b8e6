// The instances the balancing tests choose from (balance_test,
// least_loaded_test, large_pool_test): held in a deque, so that the
// Endpoints made from them, which point at them, stay valid.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "registry/snapshot.hpp"

namespace cairn::dns::test {

// A "web" instance on node-a.
inline registry::Instance web_instance(std::string id, std::uint32_t weight = 1) {
    registry::Instance i;
    i.id = std::move(id);
    i.service = "web";
    i.node = "node-a";
    i.weight = weight;
    return i;
}

// A passing check of `instance`'s own (id "<instance>:1"), for its latency
// or reported load.
inline registry::Check& add_passing_check(registry::Instance& instance) {
    registry::Check c;
    c.definition.id = instance.id + ":1";
    c.state.status = registry::Health::passing;
    instance.checks.push_back(c);
    return instance.checks.back();
}

class InstanceStore {
public:
    registry::Endpoint add(registry::Instance instance) {
        instances_.push_back(std::move(instance));
        return registry::make_endpoint(instances_.back());
    }

private:
    std::deque<registry::Instance> instances_;
};

} // namespace cairn::dns::test
