// Runs one child process to completion: feeds it `input` on stdin, collects its
// stderr, discards its stdout. The child runs in its own process group (registered
// in the ChildRegistry so that shutdown can stop it and its helpers), with no signals
// blocked. A child that outlives its timeout has its whole group killed. Called on
// worker threads; thread safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "child_registry.h"
#include "clock.h"

namespace clsync {

struct ChildSpec {
    std::vector<std::string> argv;
    std::string input;
    std::string working_dir;                                       // empty: ours
    std::vector<std::pair<std::string, std::string>> environment;  // set on top of ours
    Millis timeout{0};                                             // 0: none
};

struct ChildOutcome {
    bool started = false;
    std::string error;        // why it could not be started
    int exit_code = -1;       // -1 unless it exited normally
    int term_signal = 0;      // the signal that ended it, if any
    bool timed_out = false;   // killed because it ran longer than the timeout
    std::string stderr_text;  // the first 64 KiB of what it wrote to stderr
};

ChildOutcome run_child(const ChildSpec& spec, ChildRegistry& children);

// "exit code 3", "killed by signal 9 after the 10 s timeout", ... for messages.
std::string describe_exit(const ChildOutcome& outcome);

}  // namespace clsync
