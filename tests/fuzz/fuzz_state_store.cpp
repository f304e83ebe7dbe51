// libFuzzer target for the records of the state store (src/state_store.cpp), as a
// damaged or hand-edited state.db may hold them: the input is one big file's row
// (size, mtime, inode: 8 bytes each) and its hash chunks (chunk number: 1 byte, length:
// 2 bytes, hashes), and a pending row's path; reading them back gives a signature or
// none (the file is then written whole), never a crash, a hang or a huge allocation.
// Run: tests/fuzz/run.sh (make fuzz)
#include <sqlite3.h>
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "state_store.h"

namespace {

struct Fixture {
    std::string dir;
    clsync::StateStore* store = nullptr;
    sqlite3* db = nullptr;
    Fixture() {
        char templ[] = "/tmp/clsync-fuzz-state.XXXXXX";
        dir = mkdtemp(templ);
        store = new clsync::StateStore(dir);
        sqlite3_open((dir + "/state.db").c_str(), &db);
    }
};

std::uint64_t take_u64(const std::uint8_t*& data, std::size_t& size) {
    std::uint64_t v = 0;
    std::size_t n = size < 8 ? size : 8;
    std::memcpy(&v, data, n);
    data += n;
    size -= n;
    return v;
}

void run(sqlite3* db, const char* sql, const std::string& a, std::int64_t b, const std::string& blob) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    sqlite3_bind_int64(stmt, 1, b);
    sqlite3_bind_blob(stmt, 2, a.data(), static_cast<int>(a.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 3, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture fixture;
    sqlite3* db = fixture.db;
    sqlite3_exec(db, "DELETE FROM signed_files; DELETE FROM hash_chunks; DELETE FROM pending", nullptr, nullptr,
                 nullptr);
    std::int64_t file_size = static_cast<std::int64_t>(take_u64(data, size));
    std::int64_t mtime = static_cast<std::int64_t>(take_u64(data, size));
    std::int64_t inode = static_cast<std::int64_t>(take_u64(data, size));
    std::string row = std::to_string(file_size) + "," + std::to_string(mtime) + "," + std::to_string(inode);
    sqlite3_exec(db, ("INSERT INTO signed_files VALUES (x'64', x'70', " + row + ")").c_str(), nullptr, nullptr,
                 nullptr);
    while (size >= 3) {
        int chunk = data[0];
        std::size_t length = static_cast<std::size_t>(data[1] | data[2] << 8);
        data += 3;
        size -= 3;
        if (length > size) length = size;
        run(db, "INSERT OR REPLACE INTO hash_chunks VALUES (x'64', x'70', ?1, ?3)", "", chunk,
            std::string(reinterpret_cast<const char*>(data), length));
        run(db, "INSERT OR REPLACE INTO pending VALUES (x'64', ?2, 1, ?1)",
            std::string(reinterpret_cast<const char*>(data), length), chunk, "");
        data += length;
        size -= length;
    }
    fixture.store->signature("d", "p");
    fixture.store->pending("d");
    return 0;
}
