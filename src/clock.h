// Time as the pure core sees it: a monotonic time point passed in by the caller,
// so queues and batching can be tested with a fake clock.
#pragma once

#include <chrono>

namespace clsync {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

}  // namespace clsync
