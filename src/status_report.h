// What --status-file and SIGUSR1 tell about each destination, and the two formats of
// the status file: the original's plain text (a state word, then counters) extended
// with a line per destination, and JSON for monitoring. Pure: tested in
// tests/unit/test_status_report.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace clsync {

// The state of one destination, in the words of clsync(1).
enum class DestinationState {
    InSync,      // nothing queued, nothing running
    Syncing,     // changes queued or being written
    CatchingUp,  // writing what piled up: the initial sync, or the first syncs after being down
    Down,        // the last sync failed; retried with back-off
    Held,        // --standby-file exists: nothing is written
};

const char* state_name(DestinationState state);

struct DestinationStatus {
    std::string destination;
    DestinationState state = DestinationState::InSync;
    std::optional<std::time_t> down_since;         // wall-clock time of the first failure in a row
    std::optional<std::time_t> last_in_sync;       // when nothing was left to sync (kept across restarts)
    std::size_t pending = 0;                       // paths and renames queued
    std::optional<double> oldest_pending_seconds;  // age of the oldest change not yet written
    unsigned running = 0;
    unsigned iterations = 0;  // batches synced
    unsigned failures = 0;    // failed runs in a row
    std::string last_error;   // of the last failed run, until one succeeds
    std::string hold_reason;  // why the source guard holds it
};

// The cluster notifier's view (cluster_notifier.h): the peers heard from, and what
// the packets did.
struct ClusterNodeStatus {
    std::string node;
    std::string address;
    bool up = false;
    double silent_seconds = 0;  // since its last packet
};

struct ClusterStatus {
    std::string node;  // this node
    std::vector<ClusterNodeStatus> peers;
    std::uint64_t accepted = 0;                                  // packets
    std::vector<std::pair<std::string, std::uint64_t>> dropped;  // packets, per reason
    std::size_t announced = 0;                                   // paths peers announced, not expired
    std::uint64_t not_synced_back = 0;                           // paths left out by the echo filter
};

struct StatusReport {
    std::string word;  // the original's: starting, initsync, running, synchandler error, ...
    std::vector<DestinationStatus> destinations;
    std::optional<ClusterStatus> cluster;  // a cluster node only
};

enum class StatusFormat { Text, Json };

// Text: the original's five lines (word, pending, running, iterations, failures:
// summed over the destinations), then one "destination" line each, then a cluster
// node's "cluster" line.
std::string format_status(const StatusReport& report, StatusFormat format, std::time_t now);

// One line for the log (SIGUSR1).
std::string describe_destination(const DestinationStatus& status, std::time_t now);
std::string describe_cluster(const ClusterStatus& status);

// `text` as a JSON string literal. Bytes that are not UTF-8 (file names need not be)
// become U+FFFD: the result is valid JSON whatever the input.
std::string json_string(const std::string& text);

}  // namespace clsync
