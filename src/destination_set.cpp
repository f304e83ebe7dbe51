#include "destination_set.h"

#include <cstring>

namespace clsync {

DestinationSet::~DestinationSet() {
    stop();
    cancel_and_join();
}

void DestinationSet::add(std::unique_ptr<SyncRunner> runner, unsigned threads, CoordinatorSettings settings) {
    Destination d;
    d.runner = std::move(runner);
    d.pool = std::make_unique<WorkerPool>(threads);
    std::size_t index = destinations_.size();
    d.coordinator = std::make_unique<SyncCoordinator>(std::move(settings), *d.runner, *d.pool,
                                                      [this, index](int code) { finished(index, code); });
    destinations_.push_back(std::move(d));
}

void DestinationSet::deliver(std::vector<PathEvent> events) {
    // The last one takes the events themselves; the others a copy.
    for (std::size_t i = 0; i + 1 < destinations_.size(); ++i) destinations_[i].coordinator->deliver(events);
    if (!destinations_.empty()) destinations_.back().coordinator->deliver(std::move(events));
}

void DestinationSet::finished(std::size_t index, int code) {
    // Once all have finished, each later call goes on as it comes, as with one
    // destination: after --pre-exit-hook, the second round of finishing quits.
    if (code == 0) finished_.insert(index);
    if (code != 0 || finished_.size() == destinations_.size()) finish_(code);
}

void DestinationSet::start(bool initial_sync) {
    for (Destination& d : destinations_) d.coordinator->start(initial_sync);
}

void DestinationSet::sync_whole_tree_now() {
    for (Destination& d : destinations_) d.coordinator->sync_whole_tree_now();
}

void DestinationSet::finish_queued_then_exit() {
    for (Destination& d : destinations_) d.coordinator->finish_queued_then_exit();
}

void DestinationSet::finish_running_then_exit() {
    for (Destination& d : destinations_) d.coordinator->finish_running_then_exit();
}

void DestinationSet::update_timing(DelayQueue::Delays delays, Millis delay_sync, unsigned retries,
                                   bool ignore_failures) {
    for (Destination& d : destinations_) d.coordinator->update_timing(delays, delay_sync, retries, ignore_failures);
}

void DestinationSet::log_status() const {
    for (const Destination& d : destinations_) d.coordinator->log_status();
}

bool DestinationSet::whole_tree_synced() const {
    for (const Destination& d : destinations_)
        if (!d.coordinator->whole_tree_synced()) return false;
    return !destinations_.empty();
}

StatusReport DestinationSet::status() const {
    StatusReport report;
    // The original's single word: the most telling of the destinations'.
    report.word = "running";
    for (const Destination& d : destinations_) {
        const char* word = d.coordinator->status_word();
        if (std::strcmp(word, "running") != 0 && report.word != "synchandler error") report.word = word;
        report.destinations.push_back(d.coordinator->status());
    }
    return report;
}

void DestinationSet::stop() {
    for (Destination& d : destinations_) d.coordinator->stop();
}

void DestinationSet::cancel_and_join() {
    for (Destination& d : destinations_) d.runner->cancel();
    for (Destination& d : destinations_) d.pool->shutdown();
}

}  // namespace clsync
