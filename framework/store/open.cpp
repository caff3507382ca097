// Opening a results database: path checks that never write, connection setup, schema migrations.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "merx/buildinfo.h"
#include "merx/errors.h"
#include "merx/store/schema.h"
#include "store/store_impl.h"

namespace merx {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kApplicationId = 0x4D455258;  // 'MERX', set by db/001_initial.sql

std::string describe(const std::string& path) {
  return "results database '" + path + "'";
}

[[noreturn]] void user_error(const std::string& path, const std::string& what) {
  throw UserError(describe(path) + ": " + what);
}

const std::vector<Migration>& checked_migrations() {
  const auto& ms = schema_migrations();
  for (std::size_t i = 0; i < ms.size(); ++i)
    if (ms[i].version != static_cast<int>(i) + 1)
      throw StoreError(std::string("schema migrations must be numbered 1..N without gaps; found ") +
                       ms[i].file);
  return ms;
}

enum class PathState { Missing, EmptyFile, SqliteFile };

// Looks at `path` without opening it through SQLite: SQLite would happily treat any file as a database and
// PRAGMA journal_mode=WAL would then write to it.
PathState examine(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec && st.type() != fs::file_type::not_found) user_error(path, "cannot be accessed: " + ec.message());
  if (st.type() == fs::file_type::not_found) {
    fs::path parent = fs::path(path).parent_path();
    if (parent.empty()) parent = ".";
    const fs::file_status pst = fs::status(parent, ec);
    if (pst.type() == fs::file_type::not_found)
      user_error(path, "its folder '" + parent.string() + "' does not exist");
    if (!fs::is_directory(pst)) user_error(path, "'" + parent.string() + "' is not a folder");
    if (::access(parent.c_str(), W_OK | X_OK) != 0)
      user_error(path, "its folder '" + parent.string() + "' is not writable (" + std::strerror(errno) + ")");
    return PathState::Missing;
  }
  if (fs::is_directory(st)) user_error(path, "is a folder, not a file");
  if (!fs::is_regular_file(st)) user_error(path, "is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error(path, std::string("cannot be read (") + std::strerror(errno) + ")");
  char header[16] = {};
  in.read(header, sizeof header);
  if (in.gcount() == 0) return PathState::EmptyFile;
  static const char kMagic[16] = "SQLite format 3";  // 15 characters + NUL = the 16-byte header string
  if (in.gcount() != 16 || std::memcmp(header, kMagic, 16) != 0)
    user_error(path,
               "is not an SQLite database (it does not start with the SQLite header); "
               "refusing to touch it");
  return PathState::SqliteFile;
}

// `name` is what SQLite opens (a path, or a file: URI), `path` what messages show.
sqlite::Db connect(const std::string& path, int flags, const std::string& name = {}) {
  // SQLite builds with SQLITE_USE_URI (Debian's) would read a path starting with "file:" as a URI.
  const std::string target = !name.empty() ? name : path.rfind("file:", 0) == 0 ? "./" + path : path;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(target.c_str(), &raw, flags, nullptr);
  sqlite::Db db(raw);  // closes it on every path below
  if (rc != SQLITE_OK)
    user_error(path, std::string("cannot be opened: ") + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

// Percent-encodes what a file: URI would otherwise read as syntax.
std::string uri_path(const std::string& path) {
  std::string out;
  for (const unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A read-only connection that leaves nothing behind. When the file is writable: read-write with
// query_only set by the caller (a SQLITE_OPEN_READONLY connection to a WAL database leaves -wal/-shm files
// behind; a read-write one that only reads removes them on close and never writes the database file).
// When it is not: SQLITE_OPEN_READONLY, which for a WAL database needs -shm/-wal files it can create; where
// it cannot create them and no -wal exists (so no writer is active), the file is complete as it is and is
// opened immutable.
sqlite::Db connect_for_reading(const std::string& path) {
  if (::access(path.c_str(), W_OK) == 0) return connect(path, SQLITE_OPEN_READWRITE);
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  if (::access(parent.c_str(), W_OK) != 0 && !fs::exists(path + "-wal", ec))
    return connect(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, "file:" + uri_path(path) + "?immutable=1");
  return connect(path, SQLITE_OPEN_READONLY);
}

int64_t pragma_int(sqlite3* db, const char* sql) {
  sqlite::Stmt s(db, sql);
  if (!s.step()) throw StoreError(std::string("no result from ") + sql);
  return s.int64(0);
}

struct Header {
  int user_version = 0;
  int64_t application_id = 0;
  int64_t objects = 0;  // rows of sqlite_schema
};

// Reads what decides whether the file is ours (reads only). Errors here mean the file is not a usable
// database, which is the user's to fix.
Header read_header(const std::string& path, sqlite3* db) {
  try {
    // One statement = one read transaction: separate reads could straddle another process's migration
    // (user_version still 0, tables already there).
    sqlite::Stmt q(
        db,
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT application_id FROM pragma_application_id), (SELECT count(*) FROM sqlite_master)");
    if (!q.step()) throw StoreError("no header row");
    Header h;
    h.user_version = static_cast<int>(q.int64(0));
    h.application_id = q.int64(1);
    h.objects = q.int64(2);
    return h;
  } catch (const sqlite::BusyError&) {
    throw;
  } catch (const StoreError& e) {
    user_error(path, std::string("is not a usable SQLite database: ") + e.what());
  }
}

std::string newer_message(int found, int known) {
  return "has schema version " + std::to_string(found) + ", newer than version " + std::to_string(known) +
         ", the newest this merx knows; use a newer merx (the file was not changed)";
}

void check_header(const std::string& path, const Header& h) {
  const int known = Store::schema_version();
  if (h.application_id != kApplicationId && (h.user_version != 0 || h.objects != 0 || h.application_id != 0))
    user_error(path, "is an SQLite database but not a merx results database (application_id " +
                         std::to_string(h.application_id) + ", user_version " +
                         std::to_string(h.user_version) + ", " + std::to_string(h.objects) +
                         " schema objects); refusing to touch it");
  if (h.user_version > known) user_error(path, newer_message(h.user_version, known));
}

// journal_mode=WAL must run outside a transaction and, on a database others have open, can report
// SQLITE_BUSY without going through the busy handler; retry it within the busy timeout.
void enable_wal(Store::Impl& s) {
  const auto deadline = std::chrono::steady_clock::now() + s.options.busy_timeout;
  for (int attempt = 0;; ++attempt) {
    try {
      sqlite::Stmt st(s.db.get(), "PRAGMA journal_mode=WAL");
      const std::string mode = st.step() ? st.text(0) : std::string();
      if (mode != "wal")
        spdlog::warn(
            "{}: SQLite could not switch to WAL (journal mode '{}'); concurrent writers will wait "
            "longer",
            describe(s.path), mode);
      return;
    } catch (const sqlite::BusyError&) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      store_backoff(attempt);
    }
  }
}

// Applies the missing migrations. BEGIN EXCLUSIVE makes the read of user_version and the writes one atomic
// step, so when several processes open a new file at once exactly one applies each migration and the
// others find user_version already current.
void migrate(Store::Impl& s) {
  const auto& ms = checked_migrations();
  s.write_transaction(
      [&] {
        const int v = static_cast<int>(pragma_int(s.db.get(), "PRAGMA user_version"));
        if (v > static_cast<int>(ms.size()))
          user_error(s.path, newer_message(v, static_cast<int>(ms.size())));
        for (const Migration& m : ms) {
          if (m.version <= v) continue;
          try {
            s.db.exec(m.sql);
          } catch (const sqlite::BusyError&) {
            throw;
          } catch (const StoreError& e) {
            throw StoreError(std::string("applying schema migration ") + m.file + ": " + e.what());
          }
          s.db.exec(("PRAGMA user_version = " + std::to_string(m.version)).c_str());
          sqlite::Stmt log(s.db.get(),
                           "INSERT INTO schema_log (version, file, applied_at, merx_version) "
                           "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?)");
          log.bind(1, m.version).bind(2, m.file).bind(3, version_string()).run();
        }
        s.user_version = static_cast<int>(pragma_int(s.db.get(), "PRAGMA user_version"));
      },
      "BEGIN EXCLUSIVE");
}

}  // namespace

void store_backoff(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int cap_ms = std::min(2 + 2 * attempt, 50);
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + static_cast<int>(rng() % cap_ms)));
}

int Store::schema_version() {
  return static_cast<int>(checked_migrations().size());
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

const std::string& Store::path() const {
  return impl_->path;
}
int Store::user_version() const {
  return impl_->user_version;
}
void Store::set_test_write_hook(std::function<void(std::size_t)> hook) {
  impl_->write_hook = std::move(hook);
}

void Store::check_output(const std::string& path) {
  const PathState state = examine(path);
  if (state == PathState::Missing) return;
  if (::access(path.c_str(), W_OK) != 0)
    user_error(path, std::string("is not writable (") + std::strerror(errno) + ")");
  if (state == PathState::EmptyFile) return;
  // Opened read-write on purpose: a read-only connection to a WAL database leaves -wal/-shm files behind,
  // a read-write one that only reads removes them again on close and never writes the database file.
  sqlite::Db db = connect(path, SQLITE_OPEN_READWRITE);
  if (sqlite3_db_readonly(db.get(), "main") == 1) user_error(path, "is not writable");
  sqlite3_busy_timeout(db.get(), 30000);
  check_header(path, read_header(path, db.get()));
}

Store Store::open(const std::string& path, Mode mode, Options options) {
  auto s = std::make_unique<Impl>();
  s->path = path;
  s->mode = mode;
  s->options = options;
  const int known = schema_version();

  const PathState state = examine(path);
  if (mode == Mode::ReadOnly) {
    if (state == PathState::Missing) user_error(path, "does not exist");
    if (state == PathState::EmptyFile) user_error(path, "is an empty file, not a results database");
    s->db = connect_for_reading(path);
  } else {
    s->db = connect(path, SQLITE_OPEN_READWRITE | (state == PathState::Missing ? SQLITE_OPEN_CREATE : 0));
    if (sqlite3_db_readonly(s->db.get(), "main") == 1) user_error(path, "is not writable");
  }
  sqlite3_busy_timeout(s->db.get(), static_cast<int>(options.busy_timeout.count()));

  const Header h = read_header(path, s->db.get());
  check_header(path, h);
  s->user_version = h.user_version;
  s->db.exec("PRAGMA foreign_keys = ON");

  if (mode == Mode::ReadOnly) {
    if (h.user_version != known)
      user_error(path, "has schema version " + std::to_string(h.user_version) +
                           " but this merx reads version " + std::to_string(known) +
                           "; open it once for writing (e.g. merx run) to upgrade it");
    s->db.exec("PRAGMA query_only = ON");
    return Store(std::move(s));
  }

  enable_wal(*s);
  // In WAL mode NORMAL keeps every commit atomic and durable across process crashes; only a power loss can
  // undo the last commits (the cells are then simply run again).
  s->db.exec("PRAGMA synchronous = NORMAL");
  if (h.user_version < known) migrate(*s);
  return Store(std::move(s));
}

}  // namespace merx
