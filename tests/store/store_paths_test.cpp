// Paths that cannot hold results: each is refused with a UserError naming the path, and nothing is written.
//
// Unwritable files and folders: the tests run as root, which chmod does not stop, so those cases run in a
// forked child that first drops to uid/gid 65534 (nobody); as non-root they run in-process. A path under
// /proc stands for a folder that refuses new files although access(2) calls it writable.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "merx/errors.h"
#include "merx/store/store.h"
#include "store_test_util.h"

using namespace merx;
namespace fs = std::filesystem;

namespace {

// The UserError's message, or "" when `f` did not throw one.
template <class F>
std::string user_error_of(F f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

bool mentions(const std::string& message, const std::string& path) {
  return message.find("'" + path + "'") != std::string::npos;
}

// Every way of opening `path` must refuse it, naming it, without changing the file.
void check_refused_untouched(const std::string& path, const std::string& expect_in_message) {
  const test::FileSnapshot before = test::snapshot(path);
  for (Store::Mode mode : {Store::Mode::ReadWrite, Store::Mode::ReadOnly}) {
    const std::string msg = user_error_of([&] { Store::open(path, mode); });
    CHECK_MESSAGE(mentions(msg, path), msg);
    CHECK_MESSAGE(msg.find(expect_in_message) != std::string::npos, msg);
  }
  const std::string msg = user_error_of([&] { Store::check_output(path); });
  CHECK_MESSAGE(mentions(msg, path), msg);
  CHECK(test::snapshot(path) == before);
  CHECK_FALSE(fs::exists(path + "-wal"));
  CHECK_FALSE(fs::exists(path + "-shm"));
  CHECK_FALSE(fs::exists(path + "-journal"));
}

}  // namespace

TEST_CASE("a text file is refused and left byte for byte as it was") {
  test::TempDir dir;
  const std::string path = dir.file("notes.txt");
  test::write_file(path, "results go here\nnot a database\n");
  check_refused_untouched(path, "not an SQLite database");
}

TEST_CASE("a file with the SQLite header but no valid database is refused and left as it was") {
  test::TempDir dir;
  const std::string path = dir.file("broken.db");
  test::write_file(path, std::string("SQLite format 3\0", 16) + std::string(200, '\x07'));
  check_refused_untouched(path, "not a usable SQLite database");
}

TEST_CASE("another application's SQLite database is refused and left as it was") {
  test::TempDir dir;
  const std::string path = dir.file("other.db");
  test::write_file(path, "");
  REQUIRE(test::sql_exec(
              path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (1)") == 0);
  check_refused_untouched(path, "not a merx results database");
}

TEST_CASE("a database with a newer schema version is refused naming both versions, untouched") {
  test::TempDir dir;
  const std::string path = dir.file("future.db");
  test::write_file(path, "");
  // What a future merx would leave: merx's application id ('MERX' = 1296388696), user_version 99, WAL.
  REQUIRE(test::sql_exec(path,
                         "PRAGMA journal_mode = WAL; PRAGMA application_id = 1296388696; "
                         "PRAGMA user_version = 99; CREATE TABLE future (x)") == 0);
  REQUIRE(test::sql_int(path, "PRAGMA user_version") == 99);
  check_refused_untouched(path, "schema version 99");
  const std::string msg = user_error_of([&] { Store::open(path); });
  CHECK_MESSAGE(msg.find("version 4,") != std::string::npos, msg);  // db/001 .. db/004
  CHECK(test::sql_int(path, "PRAGMA user_version") == 99);
  CHECK(test::sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'cells'") == 0);
}

TEST_CASE("a folder is refused") {
  test::TempDir dir;
  const std::string path = dir.file("results.db");
  fs::create_directory(path);
  for (Store::Mode mode : {Store::Mode::ReadWrite, Store::Mode::ReadOnly}) {
    const std::string msg = user_error_of([&] { Store::open(path, mode); });
    CHECK_MESSAGE(mentions(msg, path), msg);
    CHECK_MESSAGE(msg.find("is a folder") != std::string::npos, msg);
  }
  CHECK(mentions(user_error_of([&] { Store::check_output(path); }), path));
  CHECK(fs::is_empty(path));
}

TEST_CASE("a file in a folder that does not exist is refused and no folder is created") {
  test::TempDir dir;
  const std::string path = dir.file("no/such/folder/results.db");
  for (Store::Mode mode : {Store::Mode::ReadWrite, Store::Mode::ReadOnly}) {
    const std::string msg = user_error_of([&] { Store::open(path, mode); });
    CHECK_MESSAGE(mentions(msg, path), msg);
    CHECK_MESSAGE(msg.find("does not exist") != std::string::npos, msg);
  }
  CHECK(mentions(user_error_of([&] { Store::check_output(path); }), path));
  CHECK_FALSE(fs::exists(dir.file("no")));
}

TEST_CASE("a file in a folder that refuses new files is refused (procfs)") {
  const std::string path = "/proc/merx-store-test-" + std::to_string(::getpid()) + ".db";
  const std::string msg = user_error_of([&] { Store::open(path); });
  CHECK_MESSAGE(mentions(msg, path), msg);
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("an unwritable results file or folder is refused and left as it was") {
  test::TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  const std::string db = dir.file("results.db");
  {
    Store s = Store::open(db);
    test::seed_queue(s, 1);
  }
  fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const std::string locked_dir = dir.file("locked");
  fs::create_directory(locked_dir);
  fs::permissions(locked_dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                  fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const std::string new_in_locked = locked_dir + "/results.db";
  const test::FileSnapshot before = test::snapshot(db);

  // Exit code = number of failed expectations (each printed), checked by the parent.
  const auto body = [&]() -> int {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 90;
    int failures = 0;
    const auto expect = [&](bool ok, const std::string& what, const std::string& msg) {
      if (!ok) {
        std::fprintf(stderr, "expectation failed: %s (message: '%s')\n", what.c_str(), msg.c_str());
        ++failures;
      }
    };
    std::string msg = user_error_of([&] { Store::open(db); });
    expect(mentions(msg, db) && msg.find("not writable") != std::string::npos, "open read-only file", msg);
    msg = user_error_of([&] { Store::check_output(db); });
    expect(mentions(msg, db) && msg.find("not writable") != std::string::npos, "check read-only file", msg);
    msg = user_error_of([&] { Store::open(new_in_locked); });
    expect(mentions(msg, new_in_locked) && msg.find("not writable") != std::string::npos, "open in locked",
           msg);
    msg = user_error_of([&] { Store::check_output(new_in_locked); });
    expect(mentions(msg, new_in_locked), "check in locked", msg);
    // Reading an unwritable database is fine.
    msg = user_error_of([&] {
      expect(Store::open(db, Store::Mode::ReadOnly).count_cells().queued == 1, "read-only count", "");
    });
    expect(msg.empty(), "read-only open of an unwritable file", msg);
    return failures;
  };
  CHECK(test::wait_child(test::spawn(body)) == 0);
  CHECK(test::snapshot(db) == before);
  CHECK_FALSE(fs::exists(new_in_locked));
}

TEST_CASE("check_output accepts a new path, an empty file and a current database, and changes nothing") {
  test::TempDir dir;
  Store::check_output(dir.file("new.db"));
  CHECK_FALSE(fs::exists(dir.file("new.db")));
  Store::check_output("relative-name-in-cwd.db");  // no folder part: the current folder

  const std::string empty = dir.file("empty.db");
  test::write_file(empty, "");
  Store::check_output(empty);
  CHECK(fs::file_size(empty) == 0);

  const std::string db = dir.file("current.db");
  {
    Store s = Store::open(db);
    test::seed_queue(s, 1);
  }
  const auto before = test::snapshot(db);
  Store::check_output(db);
  CHECK(test::snapshot(db) == before);
  CHECK_FALSE(fs::exists(db + "-wal"));

  // An empty file becomes a database when opened for writing.
  CHECK(Store::open(empty).user_version() == 4);
}
