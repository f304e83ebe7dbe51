#include <glib.h>

#include <catch2/catch.hpp>
#include <random>
#include <stdexcept>
#include <string>

#include "cluster_packet.h"

using namespace clsync;

namespace {

const std::string kKey = "shared secret of the cluster";

Packet notice() {
    Packet p;
    p.type = PacketType::Notice;
    p.node = "node-a";
    p.epoch = 1764150000000;
    p.seq = 42;
    p.entries = {{"dir/file", false, 0x0123456789abcdefULL},
                 {"gone", true, 0},
                 {"new\nline \xff", false, 7},
                 {"dir", false, 8, true}};
    p.renames = {{"dir/a", "dir/b"}, {"x", "dir/new\nline"}};
    return p;
}

// `bytes` followed by their HMAC-SHA256 under `key`: a packet as a sender with the
// key could make it, well-formed or not.
std::string signed_with(const std::string& bytes, const std::string& key) {
    GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
    g_hmac_update(hmac, reinterpret_cast<const guchar*>(bytes.data()), static_cast<gssize>(bytes.size()));
    guint8 digest[32];
    gsize length = sizeof digest;
    g_hmac_get_digest(hmac, digest, &length);
    g_hmac_unref(hmac);
    return bytes + std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace

TEST_CASE("every packet type survives encoding and decoding") {
    Packet n = notice();
    DecodeResult d = decode_packet(encode_packet(n, kKey), kKey);
    REQUIRE(d.packet);
    CHECK(d.packet->type == PacketType::Notice);
    CHECK(d.packet->node == "node-a");
    CHECK(d.packet->epoch == n.epoch);
    CHECK(d.packet->seq == 42);
    CHECK(d.packet->entries == n.entries);
    CHECK(d.packet->renames == n.renames);

    Packet a;
    a.node = "b";
    a.seq = 1;
    d = decode_packet(encode_packet(a, kKey), kKey);
    REQUIRE(d.packet);
    CHECK(d.packet->type == PacketType::Announce);
    CHECK(d.packet->entries.empty());

    Packet ack;
    ack.type = PacketType::Ack;
    ack.node = "node-b";
    ack.seq = 9;
    ack.acked_node = "node-a";
    ack.acked_epoch = n.epoch;
    ack.acked_seq = 42;
    d = decode_packet(encode_packet(ack, kKey), kKey);
    REQUIRE(d.packet);
    CHECK(d.packet->acked_node == "node-a");
    CHECK(d.packet->acked_epoch == n.epoch);
    CHECK(d.packet->acked_seq == 42);

    Packet done;
    done.type = PacketType::Done;
    done.node = "node-a";
    done.seq = 50;
    done.done_seqs = {42, 43, 45};
    d = decode_packet(encode_packet(done, kKey), kKey);
    REQUIRE(d.packet);
    CHECK(d.packet->type == PacketType::Done);
    CHECK(d.packet->done_seqs == done.done_seqs);
    done.done_seqs = {42, 0};  // seq 0 is no packet's
    CHECK(decode_packet(encode_packet(done, kKey), kKey).error == DecodeError::Malformed);
    done.done_seqs.clear();
    CHECK(decode_packet(encode_packet(done, kKey), kKey).error == DecodeError::Malformed);

    Packet resend;
    resend.type = PacketType::Resend;
    resend.node = "node-b";
    resend.seq = 51;
    resend.to_node = "node-a";
    resend.entries = {{"dir/file", false, 0x0123456789abcdefULL}};
    d = decode_packet(encode_packet(resend, kKey), kKey);
    REQUIRE(d.packet);
    CHECK(d.packet->type == PacketType::Resend);
    CHECK(d.packet->to_node == "node-a");
    CHECK(d.packet->entries == resend.entries);
    resend.entries = {{"gone", true, 0}};  // only what is written is asked for again
    CHECK(decode_packet(encode_packet(resend, kKey), kKey).error == DecodeError::Malformed);
    resend.entries.clear();
    CHECK(decode_packet(encode_packet(resend, kKey), kKey).error == DecodeError::Malformed);
}

TEST_CASE("a path that could lead out of the synced tree is refused") {
    for (const char* good : {".", "a", "a/b", ".hidden", "a/..b", "...", "a b/\xff"}) CHECK(is_wire_path(good));
    for (const char* bad : {"", "/", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./a", "a/./b", "a//b", "a/"})
        CHECK_FALSE(is_wire_path(bad));
    CHECK_FALSE(is_wire_path(std::string("a\0b", 3)));
    Packet p = notice();
    for (const char* bad : {"../outside", "/etc/passwd", "a//b"}) {
        p.entries = {{bad, false, 1}};
        CHECK(decode_packet(encode_packet(p, kKey), kKey).error == DecodeError::Malformed);
    }
    p = notice();
    for (const char* bad : {"../outside", "/etc/passwd", "a//b", "."}) {  // nor the top: it is never renamed
        p.renames = {{"a", bad}};
        CHECK(decode_packet(encode_packet(p, kKey), kKey).error == DecodeError::Malformed);
        p.renames = {{bad, "a"}};
        CHECK(decode_packet(encode_packet(p, kKey), kKey).error == DecodeError::Malformed);
    }
}

TEST_CASE("a packet with another key, or any byte changed, is refused as unauthenticated") {
    std::string bytes = encode_packet(notice(), kKey);
    CHECK(decode_packet(bytes, "another key").error == DecodeError::BadMac);
    for (std::size_t i = 5; i < bytes.size(); ++i) {  // past magic and version, which are checked first
        std::string changed = bytes;
        changed[i] = static_cast<char>(changed[i] ^ 0x01);
        DecodeResult d = decode_packet(changed, kKey);
        CHECK_FALSE(d.packet);
        CHECK(d.error == DecodeError::BadMac);
    }
}

TEST_CASE("truncated, oversized and foreign packets are refused with a reason") {
    std::string bytes = encode_packet(notice(), kKey);
    for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decode_packet(bytes.substr(0, n), kKey).packet);
    CHECK(decode_packet(std::string(kMaxPacketSize + 1, 'x'), kKey).error == DecodeError::TooLong);
    CHECK(decode_packet("CLSY", kKey).error == DecodeError::TooShort);
    std::string foreign = bytes;
    foreign[0] = 'X';
    CHECK(decode_packet(foreign, kKey).error == DecodeError::BadMagic);
    std::string future = bytes;
    future[4] = kProtocolVersion + 1;
    CHECK(decode_packet(future, kKey).error == DecodeError::BadVersion);
}

TEST_CASE("fields that lie about their lengths are refused even when authenticated") {
    // A sender with the key is trusted to authenticate, not to be well-formed.
    Packet p = notice();
    std::string good = encode_packet(p, kKey);
    std::string body_start = good.substr(0, good.size() - kMacSize);
    std::size_t count_at = 4 + 1 + 1 + 2 + 1 + p.node.size() + 8 + 8 + 4;
    for (unsigned char count : {0, 3, 5, 255}) {  // the real count is 4
        std::string lying = body_start;
        lying[count_at + 3] = static_cast<char>(count);
        DecodeResult d = decode_packet(signed_with(lying, kKey), kKey);
        CHECK_FALSE(d.packet);
        CHECK(d.error == DecodeError::Malformed);
    }
    std::string bad_state = body_start;  // the first entry's: 0 written, 1 deleted, 2 complete
    std::size_t state_at = count_at + 4 + 2 + p.entries[0].path.size();
    REQUIRE(bad_state[state_at] == 0);
    bad_state[state_at] = 3;
    CHECK(decode_packet(signed_with(bad_state, kKey), kKey).error == DecodeError::Malformed);
    std::string bad_type = body_start;
    bad_type[5] = 9;
    CHECK(decode_packet(signed_with(bad_type, kKey), kKey).error == DecodeError::BadType);
    std::string trailing = body_start + "x";
    CHECK(decode_packet(signed_with(trailing, kKey), kKey).error == DecodeError::Malformed);
    CHECK(decode_packet(signed_with(body_start, kKey), kKey).packet);  // the signing helper itself is right

    Packet long_name;
    long_name.node = std::string(kMaxNodeName + 1, 'n');
    long_name.seq = 1;
    CHECK_THROWS_AS(encode_packet(long_name, kKey), std::length_error);
    Packet big = notice();
    big.entries.assign(1000, {"a/rather/long/path/name/to/fill/the/packet", false, 1});
    CHECK_THROWS_AS(encode_packet(big, kKey), std::length_error);
}

TEST_CASE("notice_capacity says how many entries fit in one packet") {
    Packet p = notice();
    p.entries.clear();
    p.renames.clear();
    NoticeEntry e{"dir/some-file-name", false, 3};
    std::size_t fit = notice_capacity(p.node) / notice_entry_size(e);
    p.entries.assign(fit, e);
    CHECK(encode_packet(p, kKey).size() <= kMaxPacketSize);
    p.entries.push_back(e);
    CHECK_THROWS_AS(encode_packet(p, kKey), std::length_error);
    p.entries.clear();
    NoticeRename r{"dir/some-file-name", "dir/other-name"};
    p.renames.assign(notice_capacity(p.node) / notice_rename_size(r), r);
    CHECK(encode_packet(p, kKey).size() <= kMaxPacketSize);
    p.renames.push_back(r);
    CHECK_THROWS_AS(encode_packet(p, kKey), std::length_error);
}

TEST_CASE("random bytes never decode and never crash") {
    std::mt19937 random(12345);
    std::string bytes = encode_packet(notice(), kKey);
    for (int i = 0; i < 20000; ++i) {
        std::string junk = i % 2 ? bytes : std::string(random() % 300, '\0');
        for (char& c : junk)
            if (random() % 7 == 0) c = static_cast<char>(random());
        if (junk == bytes) continue;
        CHECK_FALSE(decode_packet(junk, kKey).packet);
    }
}

TEST_CASE("the replay guard accepts each packet of a node once") {
    ReplayGuard guard;
    CHECK(guard.accept("a", 100, 1));
    CHECK_FALSE(guard.accept("a", 100, 1));  // replayed
    CHECK(guard.accept("a", 100, 3));
    CHECK(guard.accept("a", 100, 2));  // late, within the window
    CHECK_FALSE(guard.accept("a", 100, 2));
    CHECK(guard.accept("b", 100, 1));  // nodes are apart
    CHECK(guard.accept("a", 100, 3 + ReplayGuard::kWindow + 10));
    CHECK_FALSE(guard.accept("a", 100, 4));    // too far behind to tell: refused
    CHECK_FALSE(guard.accept("a", 99, 1000));  // an older epoch (before a restart)
    CHECK(guard.accept("a", 101, 1));          // the node restarted
    CHECK_FALSE(guard.accept("a", 100, 5000));
}

TEST_CASE("the replay guard tells a packet sent again from a stale one") {
    ReplayGuard guard;
    using V = ReplayGuard::Verdict;
    REQUIRE(guard.check("a", 2, 10) == V::New);
    REQUIRE(guard.check("a", 2, 10) == V::Duplicate);
    REQUIRE(guard.check("a", 2, 9) == V::New);
    REQUIRE(guard.check("a", 2, 200) == V::New);
    REQUIRE(guard.check("a", 2, 10) == V::Stale);   // more than the window behind
    REQUIRE(guard.check("a", 1, 500) == V::Stale);  // an older epoch
}
