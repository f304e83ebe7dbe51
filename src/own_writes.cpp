#include "own_writes.h"

#include <algorithm>
#include <chrono>

namespace clsync {

void OwnWrites::follow(const std::vector<Rename>& renames, const std::vector<RenameReplay>& replayed,
                       std::int64_t now_us) {
    std::lock_guard<std::mutex> lock(mutex_);
    // The entry renamed is changed (its ctime), not those below it.
    auto moved_now = [&](const std::string& path) {
        if (auto it = entries_.find(path); it != entries_.end()) it->second.at_us = now_us;
    };
    for (std::size_t i = 0; i < renames.size() && i < replayed.size(); ++i) {
        const Rename& r = renames[i];
        if (replayed[i] == RenameReplay::Exchanged && i + 1 < renames.size()) {
            Table a = take_locked(r.from), b = take_locked(r.to);
            put_locked(std::move(a), r.from, r.to);
            put_locked(std::move(b), r.to, r.from);
            moved_now(r.from);
            moved_now(r.to);
            ++i;
        } else if (replayed[i] == RenameReplay::Renamed) {
            take_locked(r.to);
            put_locked(take_locked(r.from), r.from, r.to);
            moved_now(r.to);
        }
    }
}

void OwnWrites::record(const std::vector<NoticeEntry>& entries, std::int64_t now_us) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() + entries.size() > kMaxOwnWrites) drop_expired_locked(now_us);
    for (const NoticeEntry& e : entries) {
        // A deletion here need not have reached the destination (a run overtaken by the
        // source keeps what it wrote there): the record stays, and expires.
        if (e.deleted) continue;
        std::string path = from_wire_path(e.path);
        if (auto it = entries_.find(path); it != entries_.end()) {
            std::array<std::uint64_t, 3>& s = it->second.signatures;
            if (s[0] != e.signature) s = {e.signature, s[0], s[1]};
            it->second.at_us = now_us;
        } else if (entries_.size() < kMaxOwnWrites) {
            entries_.emplace(std::move(path), Written{{e.signature, 0, 0}, now_us});
        }
    }
}

bool OwnWrites::wrote(const std::string& path, const EntryState& state, std::int64_t now_us) const {
    return why_not_wrote(path, state, now_us) == nullptr;
}

const char* OwnWrites::why_not_wrote(const std::string& path, const EntryState& state, std::int64_t now_us) const {
    if (state.kind != EntryState::Kind::Present) return "gone";
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(path);
    if (it == entries_.end()) return "no record of a write there";
    if (is_expired(it->second, now_us)) return "written too long ago";
    // Changed since this node wrote it (a copy put back there, even an equal one): not its.
    // Not for a directory, whose ctime moves with every entry made or removed in it
    // (this node's own removals too); it goes only once all in it went, as this node's.
    if (!state.directory && state.ctime_ns / 1000 > it->second.at_us) return "changed there since";
    const std::array<std::uint64_t, 3>& s = it->second.signatures;
    if (std::find(s.begin(), s.end(), state.signature) == s.end()) return "holds something else than written";
    return nullptr;
}

bool OwnWrites::knows(const std::string& path, std::int64_t now_us) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(path);
    return it != entries_.end() && !is_expired(it->second, now_us);
}

std::size_t OwnWrites::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

OwnWrites::Table OwnWrites::take_locked(const std::string& path) {
    Table taken;
    if (auto node = entries_.extract(path)) taken.insert(std::move(node));
    // Below "a" lie "a/..." only: '/' + 1 == '0' bounds them ("a-b", "a.b" sort before).
    auto first = entries_.lower_bound(path + '/'), last = entries_.lower_bound(path + '0');
    if (path.empty()) first = entries_.begin(), last = entries_.end();
    while (first != last) taken.insert(entries_.extract(first++));
    return taken;
}

void OwnWrites::put_locked(Table moved, const std::string& from, const std::string& to) {
    for (const auto& [path, written] : moved) entries_[to + path.substr(from.size())] = written;
}

bool OwnWrites::is_expired(const Written& w, std::int64_t now_us) {
    return now_us - w.at_us >= std::chrono::microseconds(kOwnWriteLifetime).count();
}

void OwnWrites::drop_expired_locked(std::int64_t now_us) {
    for (auto it = entries_.begin(); it != entries_.end();)
        it = is_expired(it->second, now_us) ? entries_.erase(it) : std::next(it);
}

}  // namespace clsync
