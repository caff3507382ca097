// RAII wrappers over the SQLite C API used by the store (private to framework/store).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "merx/store/store.h"

namespace merx::sqlite {

/// SQLITE_BUSY / SQLITE_LOCKED: another connection holds a lock. Callers retry the whole transaction.
class BusyError : public StoreError {
 public:
  using StoreError::StoreError;
};

/// "<what>: <sqlite message> (<extended code>) [database '<file>']"; BusyError for busy/locked codes.
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what);

/// Owns one connection; closed on destruction.
class Db {
 public:
  Db() = default;
  explicit Db(sqlite3* db) : db_(db) {}
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();
  sqlite3* get() const { return db_; }

  /// Runs one or more statements without results; throws (BusyError when locked).
  void exec(const char* sql);
  /// Rolls back if a transaction is open; never throws (used on error paths).
  void rollback_quietly() noexcept;

 private:
  sqlite3* db_ = nullptr;
};

/// Owns one prepared statement. Parameters are 1-based, columns 0-based (as in SQLite).
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);  // copied (SQLITE_TRANSIENT)
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_null(int i);
  /// Empty string -> NULL.
  Stmt& bind_text_or_null(int i, const std::string& v);
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  /// true: a row is available; false: done. Throws StoreError/BusyError.
  bool step();
  /// step() that must finish without a row (INSERT/UPDATE/DELETE).
  void run();

  bool is_null(int col) const;
  int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;  // NULL -> ""

  /// Ready for reuse: resets and clears all bindings.
  void reset() noexcept;
  /// The raw statement, for generic column access (sqlite3_column_value, sqlite3_column_count).
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Resets a (cached) statement when leaving scope, also on exceptions.
class Use {
 public:
  explicit Use(Stmt& s) : s_(s) {}
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  ~Use() { s_.reset(); }
  Stmt* operator->() { return &s_; }
  Stmt& operator*() { return s_; }

 private:
  Stmt& s_;
};

}  // namespace merx::sqlite
