// The cluster notifier's packets (doc/PROTOCOL.md): a versioned binary format,
// authenticated with HMAC-SHA256 over a shared key, and the replay guard that lets
// each packet of a node be applied once. Pure: no sockets here (tested in
// tests/unit/test_cluster_packet.cpp, fuzzed by tests/fuzz/fuzz_cluster_packet.cpp).
//
// Decoding trusts nothing: every length is checked against what is left, the MAC is
// checked before anything else is read, and any failure is a reason, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace clsync {

constexpr std::uint8_t kProtocolVersion = 2;
// One UDP datagram (IP fragments it over a 1500-byte MTU; a lost fragment loses the
// packet, which retransmission covers).
constexpr std::size_t kMaxPacketSize = 8192;
constexpr std::size_t kMaxNodeName = 64;
constexpr std::size_t kMacSize = 32;  // HMAC-SHA256
// A batch's Done lists this many seqs per packet (the decoder takes up to 1,024).
constexpr std::size_t kDoneSeqsPerPacket = 512;
// The synced tree's top directory in a notice (a path may not be empty).
constexpr const char* kRootWirePath = ".";

enum class PacketType : std::uint8_t {
    Announce = 1,  // "I am here" (membership), sent periodically
    Notice = 2,    // changes this node is about to write to the others
    Ack = 3,       // a notice was received
    Done = 4,      // the batch those notices announced is written: judge its paths now
    Resend = 5,    // a node asks another to sync paths again: their write here was overtaken
};

// One change a notice announces: what a path will hold once written (or that it goes).
struct NoticeEntry {
    std::string path;  // relative to the synced tree; bytes
    bool deleted = false;
    std::uint64_t signature = 0;  // XXH3 of content and metadata; 0 when deleted
    // A directory written whole: the notices of its batch name every entry below it.
    bool complete = false;
    bool operator==(const NoticeEntry& o) const {
        return path == o.path && deleted == o.deleted && signature == o.signature && complete == o.complete;
    }
};

// A rename a notice's batch replays at the destination before it writes: the receiver's
// watcher sees it happen, and must not take it for a local one.
struct NoticeRename {
    std::string from;  // both relative to the synced tree, never its top
    std::string to;
    bool operator==(const NoticeRename& o) const { return from == o.from && to == o.to; }
};

struct Packet {
    PacketType type = PacketType::Announce;
    std::string node;                   // sender's name, 1 to kMaxNodeName bytes
    std::uint64_t epoch = 0;            // sender's start (ms since the epoch): a restart begins a new sequence
    std::uint64_t seq = 0;              // per sender and epoch, from 1, increasing
    std::vector<NoticeEntry> entries;   // Notice
    std::vector<NoticeRename> renames;  // Notice, in the order they are replayed
    std::string acked_node;             // Ack: whose packet
    std::uint64_t acked_epoch = 0;
    std::uint64_t acked_seq = 0;
    std::vector<std::uint64_t> done_seqs;  // Done: the seqs of the batch's notices
    std::string to_node;                   // Resend: who is asked; its entries: the paths, each
                                           // with the signature that node announced
};

enum class DecodeError {
    TooShort,
    TooLong,
    BadMagic,
    BadVersion,
    BadMac,
    BadType,
    Malformed,  // a length or a field that does not fit
};
const char* decode_error_name(DecodeError error);

// A path relative to the synced tree ("" for its top) as a notice names it, and back.
inline std::string to_wire_path(const std::string& path) { return path.empty() ? kRootWirePath : path; }
inline std::string from_wire_path(const std::string& wire) { return wire == kRootWirePath ? std::string() : wire; }

// Whether `path` may name something in the synced tree: "." (kRootWirePath), or
// relative, without empty, "." or ".." components (no way out of the tree).
bool is_wire_path(const std::string& path);

// The bytes to send; throws std::length_error if the packet exceeds kMaxPacketSize or
// a field its limit (a notice with too many entries is split by the caller).
std::string encode_packet(const Packet& packet, const std::string& key);

struct DecodeResult {
    std::optional<Packet> packet;
    DecodeError error = DecodeError::Malformed;  // when !packet
};
DecodeResult decode_packet(const std::string& bytes, const std::string& key);

// The encoded size of a notice entry or rename, for splitting a list of changes into
// packets.
std::size_t notice_entry_size(const NoticeEntry& entry);
std::size_t notice_rename_size(const NoticeRename& rename);
// Room for entries in one notice from `node`.
std::size_t notice_capacity(const std::string& node);

// Exactly-once: accepts each (node, epoch, seq) once. An older epoch of a node is
// refused; a newer one starts afresh; within an epoch, a sequence number already seen,
// or more than kWindow behind the highest, is refused.
class ReplayGuard {
public:
    static constexpr std::uint64_t kWindow = 64;
    enum class Verdict {
        New,        // apply it
        Duplicate,  // seen in the current window (a packet sent again): do not apply
        Stale,      // an older epoch, or too far behind: do not apply
    };
    Verdict check(const std::string& node, std::uint64_t epoch, std::uint64_t seq);
    bool accept(const std::string& node, std::uint64_t epoch, std::uint64_t seq) {
        return check(node, epoch, seq) == Verdict::New;
    }

private:
    struct Seen {
        std::uint64_t epoch = 0;
        std::uint64_t highest = 0;
        std::uint64_t window = 0;  // bit i: highest - i was seen
    };
    std::map<std::string, Seen> nodes_;
};

}  // namespace clsync
