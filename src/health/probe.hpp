#pragma once
// A probe is one run of one check: an HTTP request, a TCP connect, a script.
// Every probe runs on the main loop and reports exactly once through its
// ProbeDone callback, never from inside the call that started it. Destroying
// the Probe handle cancels the run: the callback is then never called, and the
// libuv/libcurl resources are released when they say they may be.

#include <functional>
#include <memory>

#include "health/check_machine.hpp"

namespace cairn::health {

using ProbeDone = std::function<void(ProbeResult)>;

class Probe {
public:
    virtual ~Probe() = default;
};

using ProbePtr = std::unique_ptr<Probe>;

// The handle for an in-flight op that lives on the heap until libuv or
// libcurl is done with it. Whichever ends first unlinks the other: the op
// calls detach() when it finishes, the handle calls op->cancel() when it is
// destroyed first. Op needs a member `OpProbe<Op>* owner` and `cancel()`.
template <class Op>
class OpProbe final : public Probe {
public:
    explicit OpProbe(Op* op)
        : op_(op) {
        op_->owner = this;
    }
    ~OpProbe() override {
        if (op_ != nullptr) {
            op_->owner = nullptr;
            op_->cancel();
        }
    }
    OpProbe(const OpProbe&) = delete;
    OpProbe& operator=(const OpProbe&) = delete;

    void detach() { op_ = nullptr; }

private:
    Op* op_;
};

} // namespace cairn::health
