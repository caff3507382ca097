// Helpers for the store tests: temporary folders, file snapshots, child processes, raw SQL that does not go
// through the code under test, and a fully populated CellResult.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "merx/store/store.h"

namespace merx::test {

/// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// A file's bytes and modification time (nanoseconds), to prove it was left untouched.
struct FileSnapshot {
  std::string bytes;
  int64_t mtime_ns = 0;
  bool operator==(const FileSnapshot& o) const { return bytes == o.bytes && mtime_ns == o.mtime_ns; }
};
FileSnapshot snapshot(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

/// Runs `body` in a forked child; its return value is the exit code (an escaping exception: 100, printed).
/// The child leaves with _exit so that the test framework's state is never flushed twice.
pid_t spawn(const std::function<int()>& body);
/// Waits for the child: its exit code, or -signal if a signal ended it.
int wait_child(pid_t pid);

/// A start line for racing children: each child calls wait() (blocks), the parent calls release() once all
/// have been forked, which wakes them all at the same moment (EOF on a pipe).
class Barrier {
 public:
  Barrier();
  ~Barrier();
  void wait();     // in a child
  void release();  // in the parent

 private:
  int fds_[2];
};

/// First column of the first row of `sql` run on `path` with the raw SQLite API (0 when no row).
int64_t sql_int(const std::string& path, const std::string& sql);
std::string sql_text(const std::string& path, const std::string& sql);
/// Runs `sql` with the raw SQLite API; returns the SQLite result code (0 = SQLITE_OK).
int sql_exec(const std::string& path, const std::string& sql);

/// Creates experiment "exp", one group and `n` queued cells "cell-0".."cell-<n-1>" (fold "f<i>", target
/// "casme2", seed i). Returns the experiment id.
int64_t seed_queue(Store& store, int n, const std::string& group_identity = "group-a");

/// A CellResult for cell `identity` with every field set; `k` varies the numbers.
CellResult full_result(const std::string& identity, int k);

}  // namespace merx::test
