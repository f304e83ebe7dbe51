#include "cluster_packet.h"

#include <glib.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace clsync {
namespace {

constexpr char kMagic[4] = {'C', 'L', 'S', 'Y'};
constexpr std::size_t kMaxPath = 4096;
// magic, version, type, flags (2), node length (1); then node, epoch (8), seq (8),
// body length (4), body, MAC.
constexpr std::size_t kFixedHeader = 4 + 1 + 1 + 2 + 1;
constexpr std::size_t kFixedTail = 8 + 8 + 4 + kMacSize;

std::string hmac_sha256(const std::string& key, const char* data, std::size_t size) {
    GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
    g_hmac_update(hmac, reinterpret_cast<const guchar*>(data), static_cast<gssize>(size));
    guint8 digest[kMacSize];
    gsize length = sizeof digest;
    g_hmac_get_digest(hmac, digest, &length);
    g_hmac_unref(hmac);
    return std::string(reinterpret_cast<const char*>(digest), length);
}

// Compares in time independent of where the first difference is.
bool same_mac(const char* a, const char* b) {
    unsigned char diff = 0;
    for (std::size_t i = 0; i < kMacSize; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

void put_u8(std::string& out, std::uint8_t v) { out += static_cast<char>(v); }
void put_u16(std::string& out, std::uint16_t v) {
    for (int shift = 8; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
void put_u32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
void put_u64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}
void put_bytes16(std::string& out, const std::string& bytes) {
    put_u16(out, static_cast<std::uint16_t>(bytes.size()));
    out += bytes;
}

// Reads big-endian fields from a byte range; every read checks what is left.
class Reader {
public:
    Reader(const char* data, std::size_t size) : p_(reinterpret_cast<const unsigned char*>(data)), left_(size) {}
    bool u8(std::uint8_t& v) { return number(v, 1); }
    bool u16(std::uint16_t& v) { return number(v, 2); }
    bool u32(std::uint32_t& v) { return number(v, 4); }
    bool u64(std::uint64_t& v) { return number(v, 8); }
    bool bytes(std::string& v, std::size_t n) {
        if (n > left_) return false;
        v.assign(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        left_ -= n;
        return true;
    }
    bool bytes16(std::string& v, std::size_t max) {
        std::uint16_t n = 0;
        return u16(n) && n <= max && bytes(v, n);
    }
    bool done() const { return left_ == 0; }

private:
    template <typename T>
    bool number(T& v, std::size_t n) {
        if (n > left_) return false;
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < n; ++i) value = (value << 8) | p_[i];
        v = static_cast<T>(value);
        p_ += n;
        left_ -= n;
        return true;
    }
    const unsigned char* p_;
    std::size_t left_;
};

// A notice entry's state byte.
constexpr std::uint8_t kEntryWritten = 0, kEntryDeleted = 1, kEntryComplete = 2;

void put_node(std::string& out, const std::string& node) {
    if (node.empty() || node.size() > kMaxNodeName) throw std::length_error("node name length");
    put_u8(out, static_cast<std::uint8_t>(node.size()));
    out += node;
}

void put_entries(std::string& out, const std::vector<NoticeEntry>& entries) {
    put_u32(out, static_cast<std::uint32_t>(entries.size()));
    for (const NoticeEntry& e : entries) {
        if (e.path.empty() || e.path.size() > kMaxPath) throw std::length_error("notice path length");
        put_bytes16(out, e.path);
        put_u8(out, e.deleted ? kEntryDeleted : e.complete ? kEntryComplete : kEntryWritten);
        put_u64(out, e.deleted ? 0 : e.signature);
    }
}

void put_renames(std::string& out, const std::vector<NoticeRename>& renames) {
    put_u32(out, static_cast<std::uint32_t>(renames.size()));
    for (const NoticeRename& r : renames)
        for (const std::string* name : {&r.from, &r.to}) {
            if (name->empty() || name->size() > kMaxPath) throw std::length_error("notice rename path length");
            put_bytes16(out, *name);
        }
}

std::string encode_body(const Packet& packet) {
    std::string body;
    switch (packet.type) {
        case PacketType::Announce:
            break;
        case PacketType::Notice:
            put_entries(body, packet.entries);
            put_renames(body, packet.renames);
            break;
        case PacketType::Ack:
            put_node(body, packet.acked_node);
            put_u64(body, packet.acked_epoch);
            put_u64(body, packet.acked_seq);
            break;
        case PacketType::Done:
            put_u32(body, static_cast<std::uint32_t>(packet.done_seqs.size()));
            for (std::uint64_t seq : packet.done_seqs) put_u64(body, seq);
            break;
        case PacketType::Resend:
            put_node(body, packet.to_node);
            put_entries(body, packet.entries);
            break;
    }
    return body;
}

bool get_node(Reader& r, std::string& node) {
    std::uint8_t length = 0;
    return r.u8(length) && length > 0 && length <= kMaxNodeName && r.bytes(node, length);
}

// A notice's entries; a resend's (`written_only`) are all in state 0.
bool get_entries(Reader& r, std::vector<NoticeEntry>& entries, bool written_only) {
    std::uint32_t count = 0;
    if (!r.u32(count)) return false;
    // Each entry takes at least 12 bytes: a count beyond what is left is a lie.
    if (count > kMaxPacketSize / 12) return false;
    entries.resize(count);
    for (NoticeEntry& e : entries) {
        std::uint8_t state = 0;
        if (!r.bytes16(e.path, kMaxPath) || !is_wire_path(e.path) || !r.u8(state) ||
            state > (written_only ? kEntryWritten : kEntryComplete) || !r.u64(e.signature))
            return false;
        e.deleted = state == kEntryDeleted;
        e.complete = state == kEntryComplete;
        if (e.deleted && e.signature != 0) return false;
    }
    return true;
}

// A rename's names are paths in the tree, never its top.
bool get_renames(Reader& r, std::vector<NoticeRename>& renames) {
    std::uint32_t count = 0;
    if (!r.u32(count)) return false;
    // Each rename takes at least 6 bytes: a count beyond what is left is a lie.
    if (count > kMaxPacketSize / 6) return false;
    renames.resize(count);
    for (NoticeRename& rename : renames)
        for (std::string* name : {&rename.from, &rename.to})
            if (!r.bytes16(*name, kMaxPath) || !is_wire_path(*name) || *name == kRootWirePath) return false;
    return true;
}

bool decode_body(Reader& r, Packet& packet) {
    switch (packet.type) {
        case PacketType::Announce:
            return r.done();
        case PacketType::Notice:
            return get_entries(r, packet.entries, false) && get_renames(r, packet.renames) && r.done();
        case PacketType::Ack:
            return get_node(r, packet.acked_node) && r.u64(packet.acked_epoch) && r.u64(packet.acked_seq) && r.done();
        case PacketType::Done: {
            std::uint32_t count = 0;
            if (!r.u32(count) || count == 0 || count > kMaxPacketSize / 8) return false;
            packet.done_seqs.resize(count);
            for (std::uint64_t& seq : packet.done_seqs)
                if (!r.u64(seq) || seq == 0) return false;
            return r.done();
        }
        case PacketType::Resend:
            return get_node(r, packet.to_node) && get_entries(r, packet.entries, true) && !packet.entries.empty() &&
                   r.done();
    }
    return false;
}

}  // namespace

bool is_wire_path(const std::string& path) {
    if (path == kRootWirePath) return true;
    if (path.empty() || path.size() > kMaxPath) return false;
    for (std::string::size_type start = 0; start <= path.size();) {
        std::string::size_type end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        std::string_view part(path.data() + start, end - start);
        if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string_view::npos) return false;
        start = end + 1;
    }
    return true;
}

const char* decode_error_name(DecodeError error) {
    switch (error) {
        case DecodeError::TooShort:
            return "too short";
        case DecodeError::TooLong:
            return "too long";
        case DecodeError::BadMagic:
            return "not a clsync packet";
        case DecodeError::BadVersion:
            return "unknown protocol version";
        case DecodeError::BadMac:
            return "bad authentication code (another key?)";
        case DecodeError::BadType:
            return "unknown packet type";
        case DecodeError::Malformed:
            return "malformed";
    }
    return "malformed";
}

std::string encode_packet(const Packet& packet, const std::string& key) {
    if (packet.node.empty() || packet.node.size() > kMaxNodeName) throw std::length_error("node name length");
    std::string body = encode_body(packet);
    std::string out(kMagic, sizeof kMagic);
    put_u8(out, kProtocolVersion);
    put_u8(out, static_cast<std::uint8_t>(packet.type));
    put_u16(out, 0);  // flags
    put_u8(out, static_cast<std::uint8_t>(packet.node.size()));
    out += packet.node;
    put_u64(out, packet.epoch);
    put_u64(out, packet.seq);
    put_u32(out, static_cast<std::uint32_t>(body.size()));
    out += body;
    out += hmac_sha256(key, out.data(), out.size());
    if (out.size() > kMaxPacketSize) throw std::length_error("packet larger than " + std::to_string(kMaxPacketSize));
    return out;
}

DecodeResult decode_packet(const std::string& bytes, const std::string& key) {
    DecodeResult result;
    auto fail = [&result](DecodeError e) {
        result.error = e;
        return result;
    };
    if (bytes.size() > kMaxPacketSize) return fail(DecodeError::TooLong);
    if (bytes.size() < kFixedHeader + 1 + kFixedTail) return fail(DecodeError::TooShort);
    if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return fail(DecodeError::BadMagic);
    if (static_cast<std::uint8_t>(bytes[4]) != kProtocolVersion) return fail(DecodeError::BadVersion);
    // Authenticated before anything else is believed.
    std::size_t signed_size = bytes.size() - kMacSize;
    std::string mac = hmac_sha256(key, bytes.data(), signed_size);
    if (!same_mac(mac.data(), bytes.data() + signed_size)) return fail(DecodeError::BadMac);

    Reader r(bytes.data() + 5, signed_size - 5);
    Packet packet;
    std::uint8_t type = 0, node_length = 0;
    std::uint16_t flags = 0;
    std::uint32_t body_length = 0;
    if (!r.u8(type) || !r.u16(flags) || !r.u8(node_length)) return fail(DecodeError::Malformed);
    if (type < 1 || type > static_cast<std::uint8_t>(PacketType::Resend)) return fail(DecodeError::BadType);
    packet.type = static_cast<PacketType>(type);
    if (flags != 0 || node_length == 0 || node_length > kMaxNodeName || !r.bytes(packet.node, node_length) ||
        !r.u64(packet.epoch) || !r.u64(packet.seq) || !r.u32(body_length) || packet.seq == 0)
        return fail(DecodeError::Malformed);
    std::string body;
    if (!r.bytes(body, body_length) || !r.done()) return fail(DecodeError::Malformed);
    Reader body_reader(body.data(), body.size());
    if (!decode_body(body_reader, packet)) return fail(DecodeError::Malformed);
    result.packet = std::move(packet);
    return result;
}

std::size_t notice_entry_size(const NoticeEntry& entry) { return 2 + entry.path.size() + 1 + 8; }

std::size_t notice_rename_size(const NoticeRename& rename) { return 2 + rename.from.size() + 2 + rename.to.size(); }

std::size_t notice_capacity(const std::string& node) {
    // The two counts: of entries, of renames.
    return kMaxPacketSize - (kFixedHeader + node.size() + kFixedTail + 4 + 4);
}

ReplayGuard::Verdict ReplayGuard::check(const std::string& node, std::uint64_t epoch, std::uint64_t seq) {
    auto [it, added] = nodes_.try_emplace(node);
    Seen& s = it->second;
    if (added || epoch > s.epoch) {
        s = {epoch, seq, 1};
        return Verdict::New;
    }
    if (epoch < s.epoch) return Verdict::Stale;
    if (seq > s.highest) {
        std::uint64_t shift = seq - s.highest;
        s.window = shift >= kWindow ? 1 : (s.window << shift) | 1;
        s.highest = seq;
        return Verdict::New;
    }
    std::uint64_t behind = s.highest - seq;
    if (behind >= kWindow) return Verdict::Stale;
    std::uint64_t bit = std::uint64_t{1} << behind;
    if (s.window & bit) return Verdict::Duplicate;
    s.window |= bit;
    return Verdict::New;
}

}  // namespace clsync
