#include "overtaken_writes.h"

#include "log.h"
#include "scanner.h"

namespace clsync {
namespace {

// A present entry that is not a directory (whose mtime every write into it moves: not
// worth a contest), with its signature.
bool is_resendable(const EntryState& state) { return state.kind == EntryState::Kind::Present && !state.directory; }

}  // namespace

std::map<std::string, std::vector<NoticeEntry>> OvertakenWrites::to_ask(const std::vector<ContestedPath>& contested,
                                                                        TimePoint now) {
    for (auto it = asked_.begin(); it != asked_.end();) it = it->second <= now ? asked_.erase(it) : std::next(it);
    if (asked_.size() >= kMaxAsked) asked_.clear();  // at worst a writer is asked once more
    std::map<std::string, std::vector<NoticeEntry>> asks;
    for (const ContestedPath& contest : contested) {
        EntryState here = path_state(watch_dir_, contest.path);
        if (!is_resendable(here)) continue;
        for (const auto& [node, signature] : contest.writers) {
            if (signature == here.signature) continue;
            std::string key = node + '\0' + contest.path + '\0' + std::to_string(signature);
            if (!asked_.emplace(key, now + kExpectationLifetime).second) continue;
            asks[node].push_back({to_wire_path(contest.path), false, signature});
        }
    }
    for (const auto& [node, entries] : asks)
        log_info("cluster: asking node %s to sync %zu paths again: its write here was overtaken by another node's",
                 printable(node).c_str(), entries.size());
    return asks;
}

void queue_resends(const std::string& watch_dir, const std::string& peer, const std::vector<NoticeEntry>& asked,
                   ExpectedChanges& expected, EventSink& sink) {
    std::vector<PathEvent> events;
    for (const NoticeEntry& e : asked) {
        PathEvent event;
        event.path = from_wire_path(e.path);
        event.requested = true;
        EntryState state = path_state(watch_dir, event.path);
        if (!is_resendable(state) || state.signature != e.signature) continue;
        expected.resend(event.path, peer, Clock::now());
        events.push_back(std::move(event));
    }
    log_info("cluster: node %s asks for %zu paths again (%zu still as announced): queued", printable(peer).c_str(),
             asked.size(), events.size());
    if (!events.empty()) sink.deliver(std::move(events));
}

}  // namespace clsync
