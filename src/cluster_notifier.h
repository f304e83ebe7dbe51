// The cluster notifier (--cluster-*): this node's end of the multicast conversation
// of doc/PROTOCOL.md. It tells the peers what this node is about to write into their
// trees (notices, sent again until every peer that is up acknowledged them), records
// what they announce for this node's tree (ExpectedChanges, which the echo filter of
// cluster_runner.cpp reads), and keeps the membership: who announced itself lately.
//
// Every packet received is checked (cluster_packet.h) before anything in it is
// believed; a refused one is counted and dropped, never acted upon.
//
// Threads: notify(), wait_acknowledged() and done() from workers (around their
// writes); everything else on the main thread, which owns the socket's reading side,
// the timers and the peers.
#pragma once

#include <glib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "clock.h"
#include "cluster_packet.h"
#include "expected_changes.h"
#include "status_report.h"
#include "unique_fd.h"

namespace clsync {

struct ClusterSettings {
    std::string iface;  // empty: the interface of the route to the group
    std::string group = "227.108.115.121";
    std::uint16_t port = 40079;
    std::string node;  // this node's name
    std::string key;   // the shared secret
};

class ClusterNotifier {
public:
    // Opens the socket and joins the group. Throws StartupError: 64 for an unknown
    // interface or a group that is not multicast, 71 when the socket cannot be set up.
    ClusterNotifier(ClusterSettings settings, ExpectedChanges& expected);
    ~ClusterNotifier();
    ClusterNotifier(const ClusterNotifier&) = delete;
    ClusterNotifier& operator=(const ClusterNotifier&) = delete;

    // Reads packets and announces this node from now on (main thread).
    void start();
    void stop();
    // Multicasts notices of `entries` and `renames` (split to fit packets); any thread.
    // Returns their seqs, for done().
    std::vector<std::uint64_t> notify(const std::vector<NoticeEntry>& entries,
                                      const std::vector<NoticeRename>& renames = {});
    // Asks `node` to sync `entries` again (each with the signature it announced): its
    // write here was overtaken (overtaken_writes.h); main thread.
    void ask_resend(const std::string& node, const std::vector<NoticeEntry>& entries);
    // Waits until every peer that is up acknowledged the notices `seqs` (each peer
    // acknowledges a notice once it has handled it: its conflict copies are made, its
    // expectations set), or they were given up (kMaxSends); any thread but the main
    // one. A write that lands before its notice is taken for the peer's own change.
    void wait_acknowledged(const std::vector<std::uint64_t>& seqs);
    // The batch those notices announced is written (or gave up); any thread.
    void done(const std::vector<std::uint64_t>& seqs);
    // Counts paths the echo filter did not sync back; any thread.
    void count_echoes(std::size_t paths) { echoes_ += paths; }
    const std::string& node() const { return settings_.node; }

    ClusterStatus status() const;
    void log_status() const;
    // Called when a peer comes up or goes down (--status-file); main thread.
    void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }
    // Called with each new notice of a peer, and when it arrived (wall clock, µs),
    // before its paths become expectations (conflict_keeper.h); main thread.
    using NoticeHandler =
        std::function<void(const std::string& node, const std::vector<NoticeEntry>&, std::int64_t arrived_us)>;
    void set_on_notice(NoticeHandler on_notice) { on_notice_ = std::move(on_notice); }

    // Called when a peer's batch that wrote directories whole (SettledBatch::complete: a
    // whole batch, every notice known), or paths in contest with another peer, is done
    // (stale_entries.h, overtaken_writes.h); main thread.
    void set_on_settled(std::function<void(const SettledBatch&)> on_settled) { on_settled_ = std::move(on_settled); }
    // Called when a peer asks this node to sync paths again (ask_resend); main thread.
    void set_on_resend(std::function<void(const std::string& node, const std::vector<NoticeEntry>&)> on_resend) {
        on_resend_ = std::move(on_resend);
    }

private:
    struct Peer {
        std::string address;
        std::uint64_t epoch = 0;
        TimePoint last_heard{};
        bool up = false;
    };
    struct Outstanding {
        std::string bytes;
        unsigned sends = 0;
        std::set<std::string> acked_by;
    };

    std::uint64_t send(Packet packet);
    // Sends `packet` and again until every peer that is up acknowledged it; its seq.
    std::uint64_t send_reliably(Packet packet);
    // Sends `packet` with `entries`, in as many packets as they need; their seqs.
    std::vector<std::uint64_t> send_entries(Packet packet, const std::vector<NoticeEntry>& entries,
                                            const std::vector<NoticeRename>& renames = {});
    void send_bytes(const std::string& bytes);
    void receive_all();
    // `arrived_us`: when the kernel received it (wall clock).
    void handle(const Packet& packet, const std::string& address, std::int64_t arrived_us);
    // What a new packet of a peer says, acted upon.
    void apply(const Packet& packet, const std::string& address, std::int64_t arrived_us);
    void acknowledged(const std::string& peer, std::uint64_t seq);
    // Whether every peer that is up acknowledged `o` (main thread).
    bool acked_by_all_up(const Outstanding& o) const;
    void count_peers_up();
    void heard_from(const Packet& packet, const std::string& address);
    void dropped(const std::string& reason, const std::string& address);
    void tick();            // announce, notice silent peers
    void retransmit();      // notices not acknowledged by every peer that is up
    void arm_retransmit();  // main thread

    ClusterSettings settings_;
    ExpectedChanges& expected_;
    UniqueFd socket_;
    std::string group_address_;  // sockaddr_in, as bytes
    const std::uint64_t epoch_;
    std::atomic<std::uint64_t> next_seq_{1};
    std::atomic<std::uint64_t> echoes_{0};
    std::atomic<unsigned> peers_up_{0};  // for wait_acknowledged() on workers

    // Main thread.
    ReplayGuard replay_;
    std::map<std::string, Peer> peers_;
    std::map<std::string, std::uint64_t> drops_;  // per reason
    std::uint64_t received_ = 0;
    std::function<void()> on_change_;
    NoticeHandler on_notice_;
    std::function<void(const SettledBatch&)> on_settled_;
    std::function<void(const std::string&, const std::vector<NoticeEntry>&)> on_resend_;
    bool warned_name_clash_ = false;
    unsigned ticks_ = 0;
    guint read_source_ = 0;
    guint tick_source_ = 0;
    guint retransmit_source_ = 0;

    std::mutex outstanding_mutex_;
    std::map<std::uint64_t, Outstanding> outstanding_;  // by seq; guarded by outstanding_mutex_
    bool retransmit_asked_ = false;                     // guarded by outstanding_mutex_
    std::condition_variable settled_;                   // an outstanding notice went
};

}  // namespace clsync
