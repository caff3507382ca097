// Store internals shared by open.cpp (opening, checks, migrations) and store.cpp (reads and writes).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "merx/store/store.h"
#include "store/sqlite.h"

namespace merx {

/// Sleeps a short, jittered, growing time before retrying after SQLITE_BUSY.
void store_backoff(int attempt);

struct Store::Impl {
  std::string path;
  Mode mode = Mode::ReadWrite;
  Options options;
  sqlite::Db db;
  int user_version = 0;
  std::function<void(std::size_t)> write_hook;
  std::unordered_map<std::string, std::unique_ptr<sqlite::Stmt>> cache;

  /// The prepared statement for `sql`, prepared once per connection. Wrap in sqlite::Use.
  sqlite::Stmt& stmt(const std::string& sql) {
    auto& s = cache[sql];
    if (!s) s = std::make_unique<sqlite::Stmt>(db.get(), sql);
    return *s;
  }

  /// Runs `body` inside `begin` ... COMMIT. The busy handler already waits for other writers; on top of
  /// that a transaction that still meets SQLITE_BUSY (which SQLite reports without waiting in a few WAL
  /// cases) is rolled back and run again until the busy timeout has passed. Any other exception rolls back
  /// and propagates, so `body` must only touch the database.
  template <class F>
  void write_transaction(F&& body, const char* begin = "BEGIN IMMEDIATE") {
    const auto deadline = std::chrono::steady_clock::now() + options.busy_timeout;
    for (int attempt = 0;; ++attempt) {
      try {
        db.exec(begin);
        body();
        db.exec("COMMIT");
        return;
      } catch (const sqlite::BusyError& e) {
        db.rollback_quietly();
        if (std::chrono::steady_clock::now() >= deadline)
          throw StoreError(std::string(e.what()) + "; gave up after the busy timeout of " +
                           std::to_string(options.busy_timeout.count()) + " ms");
        store_backoff(attempt);
      } catch (...) {
        db.rollback_quietly();
        throw;
      }
    }
  }
};

}  // namespace merx
