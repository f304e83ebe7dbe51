// libFuzzer target for the cluster packet decoder (src/cluster_packet.cpp). The input
// is signed with the key before it is decoded, so that the fuzzer reaches the parser
// behind the authentication (it could not forge a MAC): whatever the bytes, decoding
// must succeed or refuse with a reason, never crash, hang or read out of bounds; and a
// packet that decodes must encode back to the same bytes.
// Run: tests/fuzz/run.sh (make fuzz)
#include <glib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cluster_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clsync;
    static const std::string key = "fuzzing key";
    std::string bytes(reinterpret_cast<const char*>(data), size);
    GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
    g_hmac_update(hmac, data, static_cast<gssize>(size));
    guint8 digest[kMacSize];
    gsize length = sizeof digest;
    g_hmac_get_digest(hmac, digest, &length);
    g_hmac_unref(hmac);
    bytes.append(reinterpret_cast<const char*>(digest), length);
    DecodeResult result = decode_packet(bytes, key);
    if (result.packet && encode_packet(*result.packet, key) != bytes) std::abort();
    return 0;
}
