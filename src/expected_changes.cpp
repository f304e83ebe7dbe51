#include "expected_changes.h"

#include <algorithm>

#include "path_tree.h"

namespace clsync {
namespace {

// rsync keeps at most this much of NAME in a temporary name (NAME_MAX - 8).
constexpr std::size_t kRsyncMaxTempBase = 247;

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// The NAMEs a writer's temporary file name may stand for: rsync's ".NAME.XXXXXX"
// (which shortens a NAME longer than kRsyncMaxTempBase, so that NAME is then a
// prefix; rsync 3.5.0 leaves out the first dot when NAME starts with one and the
// second when NAME ends with one), rsync's ".NAME.N" (a number of up to six digits:
// the name it makes a symlink, device or hard link under, get_tmpname's make_unique),
// or ".NAME.clsync-XXXXXX" (delta_engine.cpp).
std::vector<std::string> temp_targets(const std::string& name) {
    constexpr std::size_t kSuffix = 6;
    if (name.size() < 3 || name[0] != '.') return {};
    std::size_t mark = std::string::npos;  // before the suffix
    if (name.size() >= 1 + 1 + kSuffix && std::all_of(name.end() - kSuffix, name.end(), is_alnum)) {
        mark = name.size() - kSuffix - 1;
        static const std::string kOurs = ".clsync-";
        if (mark + 1 >= 1 + 1 + kOurs.size() && name.compare(mark + 1 - kOurs.size(), kOurs.size(), kOurs) == 0)
            return {name.substr(1, mark + 1 - kOurs.size() - 1)};
    }
    if (mark == std::string::npos || name[mark] != '.') {
        mark = name.rfind('.');
        auto digits = name.begin() + static_cast<long>(mark) + 1;
        if (mark == 0 || digits == name.end() || name.end() - digits > static_cast<long>(kSuffix) ||
            !std::all_of(digits, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return {};
    }
    // ".NAME.", ".NAME" + ".", "." + "NAME.", or NAME itself starting and ending with a dot.
    std::string base = name.substr(0, mark + 1);
    std::vector<std::string> names = {base.substr(1), base.substr(0, base.size() - 1), base};
    if (base.size() >= 3) names.push_back(base.substr(1, base.size() - 2));
    return names;
}

// Deliveries noted (note_delivery) count this long, and at most this many are kept.
constexpr Millis kDeliveryLifetime{60000};
constexpr std::size_t kMaxDeliveries = 100000;

}  // namespace

bool is_temp_name_for(const std::string& temp, const std::string& path) {
    auto [temp_dir, temp_name] = split_parent(temp);
    auto [dir, name] = split_parent(path);
    if (temp_dir != dir) return false;
    for (const std::string& target : temp_targets(temp_name))
        if (target == name || (target.size() >= kRsyncMaxTempBase && name.compare(0, target.size(), target) == 0))
            return true;
    return false;
}

std::pair<std::string, std::string> split_parent(const std::string& path) {
    std::string::size_type slash = path.rfind('/');
    if (slash == std::string::npos) return {std::string(), path};
    return {path.substr(0, slash), path.substr(slash + 1)};
}

bool Expectation::matches(bool absent, std::uint64_t state_signature) const {
    if (absent || deleted) return absent && deleted;
    return state_signature == signature ||
           (state_signature != 0 && std::find(earlier.begin(), earlier.end(), state_signature) != earlier.end());
}

bool Expectation::once_held(std::uint64_t state_signature) const {
    return state_signature != 0 && ((!deleted && signature == state_signature) ||
                                    std::find(earlier.begin(), earlier.end(), state_signature) != earlier.end());
}

void ExpectedChanges::expect(const std::string& node, const std::vector<NoticeEntry>& entries, TimePoint now,
                             std::int64_t now_us, std::uint64_t seq, const std::vector<NoticeRename>& renames) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (renames_.size() + renames.size() > kMaxExpectations) renames_.clear();  // only costs replays judged as local
    for (const NoticeRename& r : renames)
        renames_[{r.from, r.to}] = AnnouncedRename{node, seq, now_us, seq ? 0 : now_us, now + kExpectationLifetime};
    if (!renames.empty()) {
        for (const NoticeRename& r : renames) ++recent_targets_[r.to];
        recent_renames_.push_back(NoticeRenames{node, now + kMovedLookback, renames});
        drop_old_renames_locked(now);
    }
    std::vector<std::string> paths, complete;
    for (const NoticeEntry& e : entries) {
        std::string path = from_wire_path(e.path);
        if (seq && e.complete && !e.deleted) complete.push_back(path);
        Entry& entry = entries_[path];
        Expectation before = std::move(entry.expectation);
        if (seq && !before.node.empty() && before.node != node && !before.deleted && !e.deleted &&
            before.signature != e.signature && writing_locked(before.node, now_us))
            note_contest_locked(path, before, node, e.signature, now_us);
        entry = Entry{Expectation{node, e.deleted, e.signature, {}, now_us, seq != 0, seq ? 0 : now_us}, seq,
                      now + kExpectationLifetime};
        // The same state announced again (the node's next batch names it too) is still here.
        entry.expectation.landed =
            before.landed && before.node == node && before.deleted == e.deleted && before.signature == e.signature;
        if (before.node == node) {
            std::array<std::uint64_t, 3>& earlier = entry.expectation.earlier;
            earlier = before.earlier;
            if (!before.deleted && before.signature != e.signature) {
                std::copy_backward(earlier.begin(), earlier.end() - 1, earlier.end());
                earlier[0] = before.signature;
            }
        }
        if (seq) paths.push_back(std::move(path));
        if (entries_.size() > kMaxExpectations) drop_oldest_locked();
    }
    if (seq)
        in_flight_[{node, seq}] =
            InFlight{now + kExpectationLifetime, now_us, std::move(paths), std::move(complete), renames};
}

void ExpectedChanges::settle_locked(std::map<std::pair<std::string, std::uint64_t>, InFlight>::iterator it,
                                    std::int64_t now_us) {
    for (const std::string& path : it->second.paths) {
        auto entry = entries_.find(path);
        // Unless a later notice took the path over.
        if (entry != entries_.end() && entry->second.seq == it->first.second &&
            entry->second.expectation.node == it->first.first) {
            entry->second.expectation.in_flight = false;
            entry->second.expectation.settled_at_us = now_us;
        }
    }
    for (const NoticeRename& r : it->second.renames) {
        auto rename = renames_.find({r.from, r.to});
        if (rename != renames_.end() && rename->second.seq == it->first.second &&
            rename->second.node == it->first.first)
            rename->second.settled_at_us = now_us;
    }
    in_flight_.erase(it);
}

bool ExpectedChanges::announced_rename(const std::string& from, const std::string& to, std::int64_t in_flight_since_us,
                                       std::int64_t settled_since_us) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = renames_.find({from, to});
    if (it == renames_.end()) return false;
    const AnnouncedRename& r = it->second;
    return r.settled_at_us ? r.settled_at_us > settled_since_us : r.announced_at_us > in_flight_since_us;
}

SettledBatch ExpectedChanges::settle(const std::string& node, const std::vector<std::uint64_t>& seqs,
                                     std::int64_t now_us) {
    SettledBatch batch{node, now_us, {}, {}, true, {}};
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::uint64_t seq : seqs) {
        auto it = in_flight_.find({node, seq});
        if (it == in_flight_.end()) {
            batch.all_known = false;
            continue;
        }
        batch.announced_at_us = std::min(batch.announced_at_us, it->second.announced_at_us);
        batch.named.insert(it->second.paths.begin(), it->second.paths.end());
        batch.complete.insert(batch.complete.end(), it->second.complete.begin(), it->second.complete.end());
        settle_locked(it, now_us);
    }
    if (!contests_.empty()) batch.contested = decided_contests_locked();
    return batch;
}

bool ExpectedChanges::writing_locked(const std::string& node, std::int64_t until_us) const {
    for (auto it = in_flight_.lower_bound({node, 0}); it != in_flight_.end() && it->first.first == node; ++it)
        if (it->second.announced_at_us <= until_us) return true;
    return false;
}

void ExpectedChanges::note_contest_locked(const std::string& path, const Expectation& before, const std::string& node,
                                          std::uint64_t signature, std::int64_t now_us) {
    auto it = contests_.find(path);
    if (it == contests_.end()) {
        if (contests_.size() >= kMaxContestedPaths) return;  // only a write left as it landed
        it = contests_.emplace(path, Contest{}).first;
    }
    Contest& contest = it->second;
    contest.noted_at_us = std::max(contest.noted_at_us, now_us);
    for (const auto& writer : {std::make_pair(before.node, before.signature), std::make_pair(node, signature)}) {
        auto same_node = std::find_if(contest.writers.begin(), contest.writers.end(),
                                      [&writer](const auto& known) { return known.first == writer.first; });
        if (same_node == contest.writers.end())
            contest.writers.push_back(writer);
        else
            *same_node = writer;  // its newer announcement
    }
}

std::vector<ContestedPath> ExpectedChanges::decided_contests_locked() {
    std::vector<ContestedPath> decided;
    for (auto it = contests_.begin(); it != contests_.end();) {
        const Contest& contest = it->second;
        if (std::any_of(contest.writers.begin(), contest.writers.end(),
                        [&](const auto& w) { return writing_locked(w.first, contest.noted_at_us); })) {
            ++it;
            continue;
        }
        decided.push_back({it->first, contest.writers});
        it = contests_.erase(it);
    }
    return decided;
}

void ExpectedChanges::settle_all(const std::string& node, std::int64_t now_us) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = in_flight_.lower_bound({node, 0}); it != in_flight_.end() && it->first.first == node;)
        settle_locked(it++, now_us);
}

void ExpectedChanges::drop_oldest_locked() {
    // Rare (a million paths announced within the lifetime): a linear pass is fine, and
    // drops a tenth at once so that it stays rare.
    std::vector<TimePoint> times;
    times.reserve(entries_.size());
    for (const auto& [path, entry] : entries_) times.push_back(entry.expires);
    auto cut = times.begin() + static_cast<long>(times.size() / 10);
    std::nth_element(times.begin(), cut, times.end());
    for (auto it = entries_.begin(); it != entries_.end();)
        it = it->second.expires <= *cut ? entries_.erase(it) : std::next(it);
}

std::optional<Expectation> ExpectedChanges::find(const std::string& path, TimePoint now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(path);
    if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
    return it->second.expectation;
}

std::optional<Expectation> ExpectedChanges::deleted_above(const std::string& path, TimePoint now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::string dir = path; !dir.empty();) {
        dir = split_parent(dir).first;
        auto it = entries_.find(dir);
        if (it == entries_.end() || it->second.expires <= now) continue;
        if (!it->second.expectation.deleted) return std::nullopt;
        return it->second.expectation;
    }
    return std::nullopt;
}

bool ExpectedChanges::peer_writing(std::int64_t since_us) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::any_of(in_flight_.begin(), in_flight_.end(),
                       [since_us](const auto& notice) { return notice.second.announced_at_us > since_us; });
}

bool ExpectedChanges::is_writer_temp(const std::string& path, TimePoint now) const {
    auto [dir, name] = split_parent(path);
    std::vector<std::string> targets = temp_targets(name);
    if (targets.empty()) return false;
    auto written = [now](const Entry& e) { return !e.expectation.deleted && e.expires > now; };
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& target : targets) {
        std::string prefix = dir.empty() ? target : dir + '/' + target;
        auto exact = entries_.find(prefix);
        if (exact != entries_.end() && written(exact->second)) return true;
        if (target.size() < kRsyncMaxTempBase) continue;
        // rsync shortened NAME: a longer name in the same directory.
        for (auto it = entries_.lower_bound(prefix); it != entries_.end(); ++it) {
            const std::string& announced = it->first;
            if (announced.compare(0, prefix.size(), prefix) != 0) break;
            if (announced.find('/', prefix.size()) != std::string::npos) continue;
            if (written(it->second)) return true;
        }
    }
    return false;
}

void ExpectedChanges::mark_landed(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(path);
    if (it != entries_.end()) it->second.expectation.landed = true;
}

void ExpectedChanges::follow_peer_rename(const std::string& from, const std::string& to) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::pair<std::string, Entry>> moved;
    erase_subtree(entries_, from, false, [&](const std::pair<const std::string, Entry>& entry) {
        moved.emplace_back(to + entry.first.substr(from.size()), entry.second);
    });
    for (auto& [path, entry] : moved) {
        entry.seq = 0;
        entry.expectation.in_flight = false;
        auto [there, inserted] = entries_.emplace(path, entry);
        if (inserted || entry.expectation.deleted) continue;
        Expectation& newer = there->second.expectation;
        if (newer.node != entry.expectation.node || newer.signature == entry.expectation.signature) continue;
        std::copy_backward(newer.earlier.begin(), newer.earlier.end() - 1, newer.earlier.end());
        newer.earlier[0] = entry.expectation.signature;
    }
}

void ExpectedChanges::drop_old_renames_locked(TimePoint now) {
    std::size_t total = 0;
    for (const NoticeRenames& notice : recent_renames_) total += notice.renames.size();
    while (!recent_renames_.empty() && (recent_renames_.size() > kMaxMovedNotices || total > kMaxExpectations ||
                                        recent_renames_.front().expires <= now)) {
        for (const NoticeRename& r : recent_renames_.front().renames)
            if (--recent_targets_[r.to] == 0) recent_targets_.erase(r.to);
        total -= recent_renames_.front().renames.size();
        recent_renames_.pop_front();
    }
}

std::optional<Expectation> ExpectedChanges::moved_by_peer(const std::string& path, TimePoint now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    // Cheap first: most paths are below no rename's new name.
    bool below_a_target = false;
    for (std::string name = path; !below_a_target && !name.empty(); name = split_parent(name).first)
        below_a_target = recent_targets_.count(name) != 0;
    if (!below_a_target) return std::nullopt;
    std::set<std::string> nodes;
    for (const NoticeRenames& notice : recent_renames_) nodes.insert(notice.node);
    for (const std::string& node : nodes) {
        std::string name = path;
        // Back through the node's renames, the newest first.
        for (auto notice = recent_renames_.rbegin(); notice != recent_renames_.rend(); ++notice) {
            if (notice->node != node || notice->expires <= now) continue;
            for (auto r = notice->renames.rbegin(); r != notice->renames.rend(); ++r) {
                if (name != r->to && !is_ancestor(r->to, name)) continue;
                name = r->from + name.substr(r->to.size());
                auto it = entries_.find(name);
                if (it != entries_.end() && it->second.expires > now && it->second.expectation.node == node)
                    return it->second.expectation;
            }
        }
    }
    return std::nullopt;
}

void ExpectedChanges::note_delivery(const std::string& path, TimePoint now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (deliveries_.size() >= kMaxDeliveries) deliveries_.clear();  // only costs syncs back
    deliveries_[path] = now + kDeliveryLifetime;
}

void ExpectedChanges::forget_delivery(const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    deliveries_.erase(path);
}

bool ExpectedChanges::was_delivered(const std::string& path, TimePoint now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!delivery_noted_locked(path, now)) return false;
    auto entry = entries_.find(path);
    return entry != entries_.end() && entry->second.expires > now;
}

bool ExpectedChanges::delivery_noted(const std::string& path, TimePoint now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return delivery_noted_locked(path, now);
}

bool ExpectedChanges::delivery_noted_locked(const std::string& path, TimePoint now) const {
    auto delivery = deliveries_.find(path);
    return delivery != deliveries_.end() && delivery->second > now;
}

void ExpectedChanges::resend(const std::string& path, const std::string& asker, TimePoint now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (resends_.size() >= kMaxDeliveries) resends_.clear();  // only costs an overtaken write left as it is
    Resend& request = resends_[path];
    // A request while an earlier one lives adds its asker; either way every destination
    // asked is carried to anew.
    if (request.expires <= now) request.askers.clear();
    request.expires = now + kResendLifetime;
    request.askers.insert(asker);
    request.carried_to.clear();
}

ExpectedChanges::ResendTo ExpectedChanges::resend_to(const std::string& path, const std::string& destination,
                                                     const std::string& destination_node, TimePoint now) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = resends_.find(path);
    if (it == resends_.end() || it->second.expires <= now || it->second.carried_to.count(destination))
        return ResendTo::None;
    if (!destination_node.empty() && !it->second.askers.count(destination_node)) return ResendTo::Elsewhere;
    return ResendTo::Here;
}

void ExpectedChanges::resend_carried(const std::string& path, const std::string& destination) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = resends_.find(path);
    if (it != resends_.end()) it->second.carried_to.insert(destination);
}

void ExpectedChanges::expire(TimePoint now, std::int64_t now_us) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = resends_.begin(); it != resends_.end();)
        it = it->second.expires <= now ? resends_.erase(it) : std::next(it);
    for (auto it = deliveries_.begin(); it != deliveries_.end();)
        it = it->second <= now ? deliveries_.erase(it) : std::next(it);
    for (auto it = in_flight_.begin(); it != in_flight_.end();)
        if (it->second.expires <= now)
            settle_locked(it++, now_us);
        else
            ++it;
    for (auto it = entries_.begin(); it != entries_.end();)
        it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    for (auto it = renames_.begin(); it != renames_.end();)
        it = it->second.expires <= now ? renames_.erase(it) : std::next(it);
    drop_old_renames_locked(now);
}

std::size_t ExpectedChanges::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

}  // namespace clsync
