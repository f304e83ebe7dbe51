// Runs one child process to completion: feeds it `input` on stdin, collects its
// stderr, discards its stdout. The child runs in its own process group (registered
// in the ChildRegistry so that shutdown can stop it and its helpers), with no signals
// blocked. Called on worker threads; thread safe.
#pragma once

#include <string>
#include <vector>

#include "child_registry.h"

namespace clsync {

struct ChildOutcome {
    bool started = false;
    std::string error;        // why it could not be started
    int exit_code = -1;       // -1 unless it exited normally
    int term_signal = 0;      // the signal that ended it, if any
    std::string stderr_text;  // the first 64 KiB of what it wrote to stderr
};

ChildOutcome run_child(const std::vector<std::string>& argv, const std::string& input, ChildRegistry& children);

}  // namespace clsync
