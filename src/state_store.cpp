#include "state_store.h"

#include <fcntl.h>
#include <glib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace clsync {
namespace {

// A prepared statement, finalized when it goes out of scope.
class Statement {
public:
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
            throw StateStoreError(std::string("state store: ") + sqlite3_errmsg(db));
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Paths and destinations are bytes (file names need not be UTF-8): bound as BLOBs,
    // which SQLite compares with memcmp, so the subtree ranges of forget() hold.
    Statement& bytes(int index, const std::string& value) {
        sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& integer(int index, std::int64_t value) {
        sqlite3_bind_int64(stmt_, index, value);
        return *this;
    }
    Statement& blob(int index, const void* data, std::size_t size) {
        sqlite3_bind_blob(stmt_, index, data, static_cast<int>(size), SQLITE_TRANSIENT);
        return *this;
    }
    // True while there is a row; false when done. Throws on error.
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    bool step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw StateStoreError(std::string("state store: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_)));
    }
    std::int64_t column_integer(int index) const { return sqlite3_column_int64(stmt_, index); }
    std::string column_bytes(int index) const {
        const void* data = sqlite3_column_blob(stmt_, index);
        return data ? std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, index)) : std::string();
    }

private:
    sqlite3_stmt* stmt_ = nullptr;
};

// Paths are compared as blobs (bytes): everything below "a" sorts from "a/" up to,
// not including, "a0" ('0' follows '/').
std::string after_subtree(const std::string& path) { return path + '0'; }

}  // namespace

StateStore::StateStore(const std::string& dir) : dir_(dir) {
    if (g_mkdir_with_parents(dir.c_str(), 0700) != 0)
        throw StateStoreError("state dir " + dir + ": " + std::strerror(errno));
    std::string lock_path = dir + "/lock";
    lock_.reset(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_.valid())
        throw StateStoreError("state dir " + dir + ": cannot open " + lock_path + ": " + std::strerror(errno));
    if (flock(lock_.get(), LOCK_EX | LOCK_NB) != 0)
        throw StateDirInUse("state dir " + dir +
                            " is in use by another clsync (give each instance its own --state-dir or --label)");
    sqlite3* db = nullptr;
    std::string db_path = dir + "/state.db";
    int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    db_.reset(db);
    if (rc != SQLITE_OK) fail("cannot open " + db_path);
    sqlite3_busy_timeout(db, 5000);
    exec("PRAGMA journal_mode=WAL");
    // NORMAL: a commit survives the process being killed (it is in the kernel's page
    // cache), not a power cut; that costs no fsync per batch of events. begin_update,
    // which must be on disk before a byte is written in place, is written with FULL.
    exec("PRAGMA synchronous=NORMAL");
    // A signature is a row of what the file looked like when written, and its hashes
    // in chunks of kHashesPerChunk: an update rewrites only the chunks whose hashes
    // changed (an append: the last one or two), not all of a big file's hashes.
    exec(
        "CREATE TABLE IF NOT EXISTS signed_files ("
        " destination BLOB NOT NULL, path BLOB NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
        " inode INTEGER NOT NULL, PRIMARY KEY (destination, path)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS hash_chunks ("
        " destination BLOB NOT NULL, path BLOB NOT NULL, chunk INTEGER NOT NULL, hashes BLOB NOT NULL,"
        " PRIMARY KEY (destination, path, chunk))");
    exec(
        "CREATE TABLE IF NOT EXISTS unfinished_updates ("
        " destination BLOB NOT NULL, path BLOB NOT NULL, PRIMARY KEY (destination, path)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS pending ("
        " destination BLOB NOT NULL, path BLOB NOT NULL, recursive INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY (destination, path)) WITHOUT ROWID");
    exec(
        "CREATE TABLE IF NOT EXISTS destinations ("
        " destination BLOB PRIMARY KEY NOT NULL, last_in_sync INTEGER NOT NULL) WITHOUT ROWID");
}

void StateStore::exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &error) != SQLITE_OK) {
        std::string message = error ? error : "unknown error";
        sqlite3_free(error);
        throw StateStoreError("state store " + dir_ + ": " + message);
    }
}

void StateStore::fail(const std::string& what) const {
    throw StateStoreError("state store " + dir_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
}

std::optional<FileSignature> StateStore::signature(const std::string& destination, const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_.get(),
                     "SELECT size, mtime_ns, inode FROM signed_files WHERE destination = ?1 AND path = ?2"
                     " AND NOT EXISTS (SELECT 1 FROM unfinished_updates u WHERE u.destination = ?1 AND u.path = ?2)");
    select.bytes(1, destination).bytes(2, path);
    if (!select.step()) return std::nullopt;
    std::int64_t size = select.column_integer(0);
    if (size < 0) return std::nullopt;  // a damaged row: the file is written whole
    FileSignature signature;
    signature.blocks.size = static_cast<std::uint64_t>(size);
    signature.mtime_ns = select.column_integer(1);
    signature.inode = static_cast<std::uint64_t>(select.column_integer(2));
    // Not reserved from the row's size: a damaged one could ask for terabytes.
    std::uint64_t count = block_count(signature.blocks.size);
    Statement chunks(db_.get(),
                     "SELECT chunk, hashes FROM hash_chunks WHERE destination = ?1 AND path = ?2 ORDER BY chunk");
    chunks.bytes(1, destination).bytes(2, path);
    while (chunks.step() && signature.blocks.hashes.size() < count) {
        std::string hashes = chunks.column_bytes(1);
        if (static_cast<std::uint64_t>(chunks.column_integer(0)) * kHashesPerChunk != signature.blocks.hashes.size())
            return std::nullopt;  // a chunk is missing
        std::size_t n = hashes.size() / sizeof(std::uint64_t);
        if (n == 0) return std::nullopt;  // a damaged chunk (none is written empty)
        std::size_t at = signature.blocks.hashes.size();
        signature.blocks.hashes.resize(at + n);
        std::memcpy(signature.blocks.hashes.data() + at, hashes.data(), n * sizeof(std::uint64_t));
    }
    if (signature.blocks.hashes.size() != count) return std::nullopt;
    return signature;
}

void StateStore::finish_update(const std::string& destination, const std::string& path, const FileSignature& signature,
                               const BlockSignature* previous) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::vector<std::uint64_t>& now = signature.blocks.hashes;
    std::uint64_t chunks = (now.size() + kHashesPerChunk - 1) / kHashesPerChunk;
    exec("BEGIN");
    try {
        Statement write(
            db_.get(), "INSERT OR REPLACE INTO hash_chunks (destination, path, chunk, hashes) VALUES (?1, ?2, ?3, ?4)");
        for (std::uint64_t c = 0; c < chunks; ++c) {
            std::size_t from = c * kHashesPerChunk, to = std::min<std::size_t>(now.size(), from + kHashesPerChunk);
            bool unchanged = previous && previous->hashes.size() >= to &&
                             (to == from + kHashesPerChunk || previous->hashes.size() == to) &&
                             std::equal(now.begin() + from, now.begin() + to, previous->hashes.begin() + from);
            if (unchanged) continue;
            write.bytes(1, destination).bytes(2, path).integer(3, static_cast<std::int64_t>(c));
            write.blob(4, now.data() + from, (to - from) * sizeof(std::uint64_t)).step();
            write.reset();
        }
        Statement trim(db_.get(), "DELETE FROM hash_chunks WHERE destination = ?1 AND path = ?2 AND chunk >= ?3");
        trim.bytes(1, destination).bytes(2, path).integer(3, static_cast<std::int64_t>(chunks)).step();
        Statement insert(db_.get(),
                         "INSERT OR REPLACE INTO signed_files (destination, path, size, mtime_ns, inode)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)");
        insert.bytes(1, destination).bytes(2, path).integer(3, static_cast<std::int64_t>(signature.blocks.size));
        insert.integer(4, signature.mtime_ns).integer(5, static_cast<std::int64_t>(signature.inode)).step();
        Statement clear(db_.get(), "DELETE FROM unfinished_updates WHERE destination = ?1 AND path = ?2");
        clear.bytes(1, destination).bytes(2, path).step();
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void StateStore::forget(const std::string& destination, const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const char* table : {"signed_files", "hash_chunks"}) {
        std::string sql = std::string("DELETE FROM ") + table + " WHERE destination = ?1";
        if (!path.empty()) sql += " AND (path = ?2 OR (path >= ?3 AND path < ?4))";
        Statement remove(db_.get(), sql.c_str());
        remove.bytes(1, destination);
        if (!path.empty()) remove.bytes(2, path).bytes(3, path + '/').bytes(4, after_subtree(path));
        remove.step();
    }
}

void StateStore::begin_update(const std::string& destination, const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    // The hashes stay: finish_update rewrites only the chunks that changed.
    exec("PRAGMA synchronous=FULL");
    try {
        Statement insert(db_.get(), "INSERT OR IGNORE INTO unfinished_updates (destination, path) VALUES (?1, ?2)");
        insert.bytes(1, destination).bytes(2, path).step();
    } catch (...) {
        exec("PRAGMA synchronous=NORMAL");
        throw;
    }
    exec("PRAGMA synchronous=NORMAL");
}

std::vector<std::string> StateStore::unfinished_updates(const std::string& destination) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_.get(), "SELECT path FROM unfinished_updates WHERE destination = ?1 ORDER BY path");
    select.bytes(1, destination);
    std::vector<std::string> paths;
    while (select.step()) paths.push_back(select.column_bytes(0));
    return paths;
}

void StateStore::add_pending(const std::string& destination, const std::vector<QueuedPath>& paths, std::int64_t seq) {
    if (paths.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    exec("BEGIN");
    try {
        Statement upsert(db_.get(),
                         "INSERT INTO pending (destination, path, recursive, seq) VALUES (?1, ?2, ?3, ?4)"
                         " ON CONFLICT (destination, path) DO UPDATE SET"
                         " recursive = MAX(recursive, excluded.recursive), seq = excluded.seq");
        for (const QueuedPath& p : paths) {
            upsert.bytes(1, destination).bytes(2, p.path).integer(3, p.recursive ? 1 : 0).integer(4, seq).step();
            upsert.reset();
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

void StateStore::clear_pending(const std::string& destination, const std::vector<QueuedPath>& covered,
                               std::int64_t up_to_seq) {
    if (covered.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    exec("BEGIN");
    try {
        Statement exact(db_.get(), "DELETE FROM pending WHERE destination = ?1 AND path = ?2 AND seq <= ?3");
        Statement below(db_.get(),
                        "DELETE FROM pending WHERE destination = ?1 AND path >= ?2 AND path < ?3 AND seq <= ?4");
        Statement all(db_.get(), "DELETE FROM pending WHERE destination = ?1 AND seq <= ?2");
        for (const QueuedPath& p : covered) {
            if (p.path.empty() && p.recursive) {  // the whole tree
                all.bytes(1, destination).integer(2, up_to_seq).step();
                all.reset();
                continue;
            }
            exact.bytes(1, destination).bytes(2, p.path).integer(3, up_to_seq).step();
            exact.reset();
            if (!p.recursive) continue;
            below.bytes(1, destination).bytes(2, p.path + '/').bytes(3, after_subtree(p.path)).integer(4, up_to_seq);
            below.step();
            below.reset();
        }
        exec("COMMIT");
    } catch (...) {
        sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

std::vector<QueuedPath> StateStore::pending(const std::string& destination) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_.get(), "SELECT path, recursive FROM pending WHERE destination = ?1 ORDER BY path");
    select.bytes(1, destination);
    std::vector<QueuedPath> paths;
    while (select.step()) paths.push_back({select.column_bytes(0), select.column_integer(1) != 0});
    return paths;
}

std::int64_t StateStore::last_pending_seq() {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_.get(), "SELECT COALESCE(MAX(seq), 0) FROM pending");
    return select.step() ? select.column_integer(0) : 0;
}

void StateStore::set_last_in_sync(const std::string& destination, std::int64_t when) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement upsert(db_.get(), "INSERT OR REPLACE INTO destinations (destination, last_in_sync) VALUES (?1, ?2)");
    upsert.bytes(1, destination).integer(2, when).step();
}

std::int64_t StateStore::last_in_sync(const std::string& destination) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement select(db_.get(), "SELECT last_in_sync FROM destinations WHERE destination = ?1");
    select.bytes(1, destination);
    return select.step() ? select.column_integer(0) : 0;
}

void StateStore::clear_update(const std::string& destination, const std::string& path) {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement clear(db_.get(), "DELETE FROM unfinished_updates WHERE destination = ?1 AND path = ?2");
    clear.bytes(1, destination).bytes(2, path).step();
}

}  // namespace clsync
