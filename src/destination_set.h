// The destinations (-D, repeatable): each has its own runner, worker threads and
// coordinator (queue, back-off, status), so that a slow or dead one never delays the
// others. The watcher's events go to every one of them.
//
// Threads: deliver() may be called from any thread; everything else runs on the
// main thread.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "status_report.h"
#include "sync_coordinator.h"
#include "sync_runner.h"
#include "worker_pool.h"

namespace clsync {

class DestinationSet : public EventSink {
public:
    // `finish(code)` is called once every destination met its exit condition (with 0;
    // then again at each later one), or when one fails for good (with its code).
    explicit DestinationSet(std::function<void(int)> finish) : finish_(std::move(finish)) {}
    ~DestinationSet() override;

    void add(std::unique_ptr<SyncRunner> runner, unsigned threads, CoordinatorSettings settings);

    void deliver(std::vector<PathEvent> events) override;

    // What SyncCoordinator does of the same name, for every destination.
    void start(bool initial_sync);
    void sync_whole_tree_now();
    void finish_queued_then_exit();
    void finish_running_then_exit();
    void update_timing(DelayQueue::Delays delays, Millis delay_sync, unsigned retries, bool ignore_failures);
    void log_status() const;
    // Every destination was synced whole at least once.
    bool whole_tree_synced() const;
    StatusReport status() const;

    // Starts nothing more and ignores results still arriving.
    void stop();
    // Stops the running in-process runs and waits for every worker (after stop()).
    void cancel_and_join();

private:
    struct Destination {
        std::unique_ptr<SyncRunner> runner;
        std::unique_ptr<WorkerPool> pool;
        std::unique_ptr<SyncCoordinator> coordinator;
    };
    void finished(std::size_t index, int code);

    std::function<void(int)> finish_;
    std::vector<Destination> destinations_;
    std::set<std::size_t> finished_;  // destinations that met their exit condition
};

}  // namespace clsync
