#include "cluster_notifier.h"

#include <arpa/inet.h>
#include <glib-unix.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon.h"
#include "exit_codes.h"
#include "log.h"
#include "worker_pool.h"

namespace clsync {
namespace {

constexpr Millis kAnnounceInterval{1000};
// A peer not heard from for this long (five announces) is down.
constexpr Millis kPeerSilence{5000};
// A notice not acknowledged by every peer that is up is sent again this often, at most
// kMaxSends times in all: a notice that comes too late only costs a sync back.
constexpr Millis kRetransmitInterval{200};
constexpr unsigned kMaxSends = 5;
constexpr int kReceiveBuffer = 16 << 20;
// Nodes beyond this many are not tracked (a key holder making up names).
constexpr std::size_t kMaxPeers = 256;
// How often expired announcements are dropped (a pass over the whole table).
constexpr unsigned kExpireEveryTicks = 60;

std::uint64_t now_ms_since_epoch() { return static_cast<std::uint64_t>(g_get_real_time() / 1000); }

StartupError socket_error(const char* what) {
    return StartupError{kExitOsErr, std::string("cluster: ") + what + ": " + std::strerror(errno)};
}

std::string address_text(const sockaddr_in& from) {
    char text[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
    return text;
}

Packet packet_of_type(PacketType type) {
    Packet packet;
    packet.type = type;
    return packet;
}

double seconds_between(TimePoint from, TimePoint to) { return std::chrono::duration<double>(to - from).count(); }

}  // namespace

ClusterNotifier::ClusterNotifier(ClusterSettings settings, ExpectedChanges& expected)
    : settings_(std::move(settings)), expected_(expected), epoch_(now_ms_since_epoch()) {
    sockaddr_in group{};
    group.sin_family = AF_INET;
    group.sin_port = htons(settings_.port);
    if (inet_pton(AF_INET, settings_.group.c_str(), &group.sin_addr) != 1 ||
        !IN_MULTICAST(ntohl(group.sin_addr.s_addr)))
        throw StartupError{kExitUsage, "option --cluster-ip: '" + settings_.group +
                                           "' is not an IPv4 multicast address (224.0.0.0 to 239.255.255.255)"};
    group_address_.assign(reinterpret_cast<const char*>(&group), sizeof group);
    ip_mreqn membership{};
    membership.imr_multiaddr = group.sin_addr;
    if (!settings_.iface.empty()) {
        membership.imr_ifindex = static_cast<int>(if_nametoindex(settings_.iface.c_str()));
        if (membership.imr_ifindex == 0)
            throw StartupError{kExitUsage, "option --cluster-iface: no network interface '" + settings_.iface + "'"};
    }
    socket_.reset(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!socket_.valid()) throw socket_error("socket");
    int one = 1;
    unsigned char ttl = 1;   // peers share a link: never routed further
    unsigned char loop = 1;  // nodes on one host (tests, containers sharing a network) hear each other
    // Bound to the group, so that only its datagrams arrive; several nodes of one host
    // share the port.
    if (setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) throw socket_error("SO_REUSEADDR");
    if (bind(socket_.get(), reinterpret_cast<const sockaddr*>(&group), sizeof group) != 0)
        throw socket_error(("bind to " + settings_.group + " port " + std::to_string(settings_.port)).c_str());
    if (setsockopt(socket_.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership) != 0)
        throw socket_error(
            ("joining " + settings_.group +
             (settings_.iface.empty() ? " (no route to it? give --cluster-iface)" : " on " + settings_.iface))
                .c_str());
    if (setsockopt(socket_.get(), IPPROTO_IP, IP_MULTICAST_IF, &membership, sizeof membership) != 0)
        throw socket_error("IP_MULTICAST_IF");
    if (setsockopt(socket_.get(), IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0)
        throw socket_error("IP_MULTICAST_TTL");
    if (setsockopt(socket_.get(), IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
        throw socket_error("IP_MULTICAST_LOOP");
    // A whole-tree notice is hundreds of packets at once: the default buffer (about
    // 200 KiB) would drop most of them before the main loop reads them. Root may go
    // beyond net.core.rmem_max; others get what it allows.
    // When each datagram arrived, not when the main loop got to it (conflict_keeper.h).
    if (setsockopt(socket_.get(), SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
        throw socket_error("SO_TIMESTAMPNS");
    int buffer = kReceiveBuffer;
    if (setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0)
        setsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
}

ClusterNotifier::~ClusterNotifier() { stop(); }

void ClusterNotifier::start() {
    read_source_ = g_unix_fd_add(
        socket_.get(), G_IO_IN,
        [](gint, GIOCondition, gpointer self) -> gboolean {
            static_cast<ClusterNotifier*>(self)->receive_all();
            return G_SOURCE_CONTINUE;
        },
        this);
    tick_source_ = g_timeout_add(
        static_cast<guint>(kAnnounceInterval.count()),
        [](gpointer self) -> gboolean {
            static_cast<ClusterNotifier*>(self)->tick();
            return G_SOURCE_CONTINUE;
        },
        this);
    log_info("cluster: node %s on %s port %u%s%s", settings_.node.c_str(), settings_.group.c_str(), settings_.port,
             settings_.iface.empty() ? "" : " via ", settings_.iface.c_str());
    send(packet_of_type(PacketType::Announce));
}

void ClusterNotifier::stop() {
    for (guint* source : {&read_source_, &tick_source_, &retransmit_source_}) {
        if (*source) g_source_remove(*source);
        *source = 0;
    }
}

std::uint64_t ClusterNotifier::send(Packet packet) {
    packet.node = settings_.node;
    packet.epoch = epoch_;
    packet.seq = next_seq_++;
    send_bytes(encode_packet(packet, settings_.key));
    return packet.seq;
}

void ClusterNotifier::send_bytes(const std::string& bytes) {
    // A full socket buffer or a link that is down loses the packet: notices are sent
    // again until acknowledged, announces every second.
    if (sendto(socket_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(group_address_.data()),
               static_cast<socklen_t>(group_address_.size())) < 0)
        log_debug("cluster: sending a packet: %s", std::strerror(errno));
}

std::uint64_t ClusterNotifier::send_reliably(Packet packet) {
    packet.node = settings_.node;
    packet.epoch = epoch_;
    packet.seq = next_seq_++;
    std::string bytes = encode_packet(packet, settings_.key);
    {
        // Recorded before it is sent: an ack that comes at once finds it.
        std::lock_guard<std::mutex> lock(outstanding_mutex_);
        outstanding_[packet.seq] = Outstanding{bytes, 1, {}};
        if (!retransmit_asked_) {
            retransmit_asked_ = true;
            run_on_main_thread([this] { arm_retransmit(); });
        }
    }
    send_bytes(bytes);
    return packet.seq;
}

std::vector<std::uint64_t> ClusterNotifier::notify(const std::vector<NoticeEntry>& entries,
                                                   const std::vector<NoticeRename>& renames) {
    return send_entries(packet_of_type(PacketType::Notice), entries, renames);
}

void ClusterNotifier::ask_resend(const std::string& node, const std::vector<NoticeEntry>& entries) {
    Packet resend = packet_of_type(PacketType::Resend);
    resend.to_node = node;
    send_entries(std::move(resend), entries);
}

std::vector<std::uint64_t> ClusterNotifier::send_entries(Packet packet, const std::vector<NoticeEntry>& entries,
                                                         const std::vector<NoticeRename>& renames) {
    // A resend names its node in front of the entries.
    const std::size_t capacity =
        notice_capacity(settings_.node) - (packet.type == PacketType::Resend ? 1 + packet.to_node.size() : 0);
    std::vector<std::uint64_t> seqs;
    std::size_t used = 0;
    auto flush = [&] {
        if (packet.entries.empty() && packet.renames.empty()) return;
        seqs.push_back(send_reliably(packet));
        packet.entries.clear();
        packet.renames.clear();
        used = 0;
    };
    // What does not fit one packet alone (paths too long) is not announced: its echo
    // is synced back.
    auto make_room = [&](std::size_t size) {
        if (size > capacity) return false;
        if (used + size > capacity) flush();
        used += size;
        return true;
    };
    for (const NoticeRename& rename : renames)
        if (make_room(notice_rename_size(rename))) packet.renames.push_back(rename);
    for (const NoticeEntry& entry : entries)
        if (make_room(notice_entry_size(entry))) packet.entries.push_back(entry);
    flush();
    return seqs;
}

void ClusterNotifier::wait_acknowledged(const std::vector<std::uint64_t>& seqs) {
    if (peers_up_ == 0 || seqs.empty()) return;
    std::unique_lock<std::mutex> lock(outstanding_mutex_);
    // Bounded: a notice is given up after kMaxSends sends, at a retransmission tick.
    bool settled = settled_.wait_for(lock, kRetransmitInterval * (kMaxSends + 1), [&] {
        return std::none_of(seqs.begin(), seqs.end(), [&](std::uint64_t seq) { return outstanding_.count(seq); });
    });
    if (!settled) log_debug("cluster: a batch's notices are not all acknowledged or given up yet: writing anyway");
}

void ClusterNotifier::done(const std::vector<std::uint64_t>& seqs) {
    for (std::size_t start = 0; start < seqs.size(); start += kDoneSeqsPerPacket) {
        Packet packet = packet_of_type(PacketType::Done);
        packet.done_seqs.assign(seqs.begin() + static_cast<long>(start),
                                seqs.begin() + static_cast<long>(std::min(seqs.size(), start + kDoneSeqsPerPacket)));
        send_reliably(std::move(packet));
    }
}

void ClusterNotifier::arm_retransmit() {
    if (retransmit_source_) return;
    retransmit_source_ = g_timeout_add(
        static_cast<guint>(kRetransmitInterval.count()),
        [](gpointer self) -> gboolean {
            auto* notifier = static_cast<ClusterNotifier*>(self);
            notifier->retransmit();
            std::lock_guard<std::mutex> lock(notifier->outstanding_mutex_);
            if (!notifier->outstanding_.empty()) return G_SOURCE_CONTINUE;
            notifier->retransmit_asked_ = false;
            notifier->retransmit_source_ = 0;
            return G_SOURCE_REMOVE;
        },
        this);
}

bool ClusterNotifier::acked_by_all_up(const Outstanding& o) const {
    for (const auto& [name, peer] : peers_)
        if (peer.up && !o.acked_by.count(name)) return false;
    return true;
}

void ClusterNotifier::acknowledged(const std::string& peer, std::uint64_t seq) {
    std::lock_guard<std::mutex> lock(outstanding_mutex_);
    auto it = outstanding_.find(seq);
    if (it == outstanding_.end()) return;
    it->second.acked_by.insert(peer);
    if (!acked_by_all_up(it->second)) return;
    outstanding_.erase(it);
    settled_.notify_all();
}

void ClusterNotifier::retransmit() {
    std::lock_guard<std::mutex> lock(outstanding_mutex_);
    for (auto it = outstanding_.begin(); it != outstanding_.end();) {
        Outstanding& o = it->second;
        bool all_acked = acked_by_all_up(o);
        if (all_acked || o.sends >= kMaxSends) {
            if (!all_acked)
                log_debug("cluster: notice %llu not acknowledged by every node after %u sends",
                          static_cast<unsigned long long>(it->first), o.sends);
            it = outstanding_.erase(it);
            settled_.notify_all();
            continue;
        }
        send_bytes(o.bytes);
        ++o.sends;
        ++it;
    }
}

namespace {

// The kernel's time of arrival of a datagram (SO_TIMESTAMPNS), in µs of the wall clock;
// now if it gave none.
std::int64_t arrival_us(msghdr& message) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
        timespec at;
        std::memcpy(&at, CMSG_DATA(c), sizeof at);
        return static_cast<std::int64_t>(at.tv_sec) * 1000000 + at.tv_nsec / 1000;
    }
    return g_get_real_time();
}

}  // namespace

void ClusterNotifier::receive_all() {
    // One more byte than a packet may have: a longer datagram is refused as too long.
    char buffer[kMaxPacketSize + 1];
    for (int i = 0; i < 256; ++i) {
        sockaddr_in from{};
        iovec data{buffer, sizeof buffer};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
        msghdr message{};
        message.msg_name = &from;
        message.msg_namelen = sizeof from;
        message.msg_iov = &data;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        ssize_t n = recvmsg(socket_.get(), &message, MSG_TRUNC);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_debug("cluster: receiving: %s", std::strerror(errno));
            return;
        }
        std::string bytes(buffer, std::min(static_cast<std::size_t>(n), sizeof buffer));
        DecodeResult decoded = decode_packet(bytes, settings_.key);
        if (!decoded.packet)
            dropped(decode_error_name(decoded.error), address_text(from));
        else
            handle(*decoded.packet, address_text(from), arrival_us(message));
    }
}

void ClusterNotifier::handle(const Packet& packet, const std::string& address, std::int64_t arrived_us) {
    if (packet.node == settings_.node) {
        if (packet.epoch == epoch_) return;  // our own, looped back
        if (!warned_name_clash_)
            log_warning(
                "cluster: another node at %s calls itself %s too: its packets are ignored (give each node its "
                "own --cluster-node-name)",
                address.c_str(), settings_.node.c_str());
        warned_name_clash_ = true;
        ++drops_["another node with this node's name"];
        return;
    }
    ReplayGuard::Verdict verdict = replay_.check(packet.node, packet.epoch, packet.seq);
    if (verdict != ReplayGuard::Verdict::New)
        ++drops_["replayed or duplicate"];
    else if (!peers_.count(packet.node) && peers_.size() >= kMaxPeers)
        ++drops_["too many nodes"];
    else
        apply(packet, address, arrived_us);
    // Acknowledged once handled: the sender waits for it before it writes
    // (wait_acknowledged), so that its write cannot overtake the conflict copy made
    // here (cluster.py scenario 7). A notice (or done) sent again because our
    // acknowledgement was lost is acknowledged again; a replayed old one is not (no ack
    // storms for whoever captured packets).
    bool reliable =
        packet.type == PacketType::Notice || packet.type == PacketType::Done || packet.type == PacketType::Resend;
    if (reliable && verdict != ReplayGuard::Verdict::Stale) {
        Packet ack = packet_of_type(PacketType::Ack);
        ack.acked_node = packet.node;
        ack.acked_epoch = packet.epoch;
        ack.acked_seq = packet.seq;
        send(std::move(ack));
    }
}

void ClusterNotifier::apply(const Packet& packet, const std::string& address, std::int64_t arrived_us) {
    ++received_;
    heard_from(packet, address);
    if (packet.type == PacketType::Notice) {
        log_debug("cluster: node %s announces %zu changes", printable(packet.node).c_str(), packet.entries.size());
        if (on_notice_) on_notice_(packet.node, packet.entries, arrived_us);
        expected_.expect(packet.node, packet.entries, Clock::now(), g_get_real_time(), packet.seq, packet.renames);
    } else if (packet.type == PacketType::Done) {
        SettledBatch settled = expected_.settle(packet.node, packet.done_seqs, g_get_real_time());
        // A full Done packet may be one part of a batch: not all it named is known here.
        if (!settled.all_known || packet.done_seqs.size() >= kDoneSeqsPerPacket) settled.complete.clear();
        if (on_settled_ && (!settled.complete.empty() || !settled.contested.empty())) on_settled_(settled);
    } else if (packet.type == PacketType::Resend) {
        if (packet.to_node == settings_.node && on_resend_) on_resend_(packet.node, packet.entries);
    } else if (packet.type == PacketType::Ack && packet.acked_node == settings_.node && packet.acked_epoch == epoch_) {
        acknowledged(packet.node, packet.acked_seq);
    }
}

void ClusterNotifier::heard_from(const Packet& packet, const std::string& address) {
    TimePoint now = Clock::now();
    auto [it, is_new] = peers_.try_emplace(packet.node);
    Peer& peer = it->second;
    if (is_new)
        log_info("cluster: node %s at %s is up", printable(packet.node).c_str(), address.c_str());
    else if (peer.epoch != packet.epoch)
        log_info("cluster: node %s at %s restarted", printable(packet.node).c_str(), address.c_str());
    // What it was writing before it restarted or went silent will not be reported done.
    if (!is_new && (peer.epoch != packet.epoch || !peer.up))
        expected_.settle_all(packet.node, g_get_real_time());
    else if (!peer.up)
        log_info("cluster: node %s at %s is back after %.0f s", printable(packet.node).c_str(), address.c_str(),
                 seconds_between(peer.last_heard, now));
    bool changed = is_new || !peer.up;
    peer.address = address;
    peer.epoch = packet.epoch;
    peer.last_heard = now;
    peer.up = true;
    if (changed) count_peers_up();
    if (changed && on_change_) on_change_();
}

void ClusterNotifier::count_peers_up() {
    peers_up_ = static_cast<unsigned>(
        std::count_if(peers_.begin(), peers_.end(), [](const auto& named) { return named.second.up; }));
}

void ClusterNotifier::dropped(const std::string& reason, const std::string& address) {
    // The first of each kind is worth a warning (a wrong key, another program on the
    // port); the rest would flood the log.
    std::uint64_t& count = drops_[reason];
    if (count++ == 0)
        log_warning("cluster: dropped a packet from %s: %s (further ones are counted, see SIGUSR1)", address.c_str(),
                    reason.c_str());
    else
        log_debug("cluster: dropped a packet from %s: %s", address.c_str(), reason.c_str());
}

void ClusterNotifier::tick() {
    send(packet_of_type(PacketType::Announce));
    TimePoint now = Clock::now();
    for (auto& [name, peer] : peers_) {
        if (!peer.up || now - peer.last_heard < kPeerSilence) continue;
        peer.up = false;
        log_warning("cluster: node %s at %s is silent for %.0f s: down", printable(name).c_str(), peer.address.c_str(),
                    seconds_between(peer.last_heard, now));
        count_peers_up();
        if (on_change_) on_change_();
    }
    if (++ticks_ % kExpireEveryTicks == 0) expected_.expire(now, g_get_real_time());
}

ClusterStatus ClusterNotifier::status() const {
    ClusterStatus s;
    s.node = settings_.node;
    TimePoint now = Clock::now();
    for (const auto& [name, peer] : peers_)
        s.peers.push_back({name, peer.address, peer.up, seconds_between(peer.last_heard, now)});
    s.accepted = received_;
    s.dropped.assign(drops_.begin(), drops_.end());
    s.announced = expected_.size();
    s.not_synced_back = echoes_;
    return s;
}

void ClusterNotifier::log_status() const { log_info("status: cluster %s", describe_cluster(status()).c_str()); }

}  // namespace clsync
