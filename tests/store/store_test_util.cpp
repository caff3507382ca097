#include "store_test_util.h"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace merx::test {

TempDir::TempDir() {
  char tmpl[] = "/tmp/merx-store-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add,
                               ec);
  std::filesystem::remove_all(path_, ec);
}

FileSnapshot snapshot(const std::string& path) {
  FileSnapshot s;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  s.bytes = ss.str();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("stat failed: " + path);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

pid_t spawn(const std::function<int()>& body) {
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) return pid;
  int code = 100;
  try {
    code = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
  }
  std::fflush(nullptr);
  ::_exit(code);
}

int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1000;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1000;
}

Barrier::Barrier() {
  if (::pipe(fds_) != 0) throw std::runtime_error("pipe failed");
}
Barrier::~Barrier() {
  if (fds_[0] >= 0) ::close(fds_[0]);
  if (fds_[1] >= 0) ::close(fds_[1]);
}
void Barrier::wait() {
  ::close(fds_[1]);
  fds_[1] = -1;
  char c;
  while (::read(fds_[0], &c, 1) > 0) {
  }
}
void Barrier::release() {
  ::close(fds_[1]);
  fds_[1] = -1;
}

namespace {
sqlite3* raw_open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("raw open failed: " + path);
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

template <class F>
auto first_value(const std::string& path, const std::string& sql, F get) {
  sqlite3* db = raw_open(path);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    throw std::runtime_error("raw prepare failed: " + msg + " in " + sql);
  }
  const bool row = sqlite3_step(st) == SQLITE_ROW;
  auto v = get(st, row);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}
}  // namespace

int64_t sql_int(const std::string& path, const std::string& sql) {
  return first_value(path, sql,
                     [](sqlite3_stmt* st, bool row) { return row ? sqlite3_column_int64(st, 0) : 0; });
}

std::string sql_text(const std::string& path, const std::string& sql) {
  return first_value(path, sql, [](sqlite3_stmt* st, bool row) {
    const auto* p = row ? sqlite3_column_text(st, 0) : nullptr;
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  });
}

int sql_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = raw_open(path);
  sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

int64_t seed_queue(Store& store, int n, const std::string& group_identity) {
  const int64_t exp = store.upsert_experiment({"exp", {{"name", "exp"}}, "spec-hash-exp"});
  GroupKey g;
  g.experiment_id = exp;
  g.identity = group_identity;
  g.variant = "erm";
  g.point_hash = "point-hash-0";
  g.assignments = nlohmann::json::object();
  g.protocol = "lodo";
  g.datasets = {"casme2", "samm", "smic_hs"};
  const int64_t group = store.upsert_group(g);
  std::vector<CellKey> cells;
  for (int i = 0; i < n; ++i)
    cells.push_back(
        {"cell-" + std::to_string(i), group, "f" + std::to_string(i), "casme2", static_cast<uint64_t>(i)});
  store.enqueue_cells(cells);
  return exp;
}

CellResult full_result(const std::string& identity, int k) {
  CellResult r;
  r.identity = identity;
  r.status = CellStatus::Done;
  r.started_at = "2025-01-02T03:04:05.678Z";
  r.finished_at = "2025-01-02T03:14:05.000Z";
  r.prep_seconds = 1.25;
  r.fit_seconds = 2.5;
  r.train_seconds = 300.125 + k;
  r.eval_seconds = 0.75;
  r.threads = 2;
  r.host = "node-7";
  r.device = "cuda:0";
  r.git_commit = "abc1234-dirty";
  r.merx_version = "0.1.0";
  r.libtorch_version = "2.1.0";
  r.selection = "source_val";
  r.chosen_epoch = 17;
  r.backbone = {"ststnet", "1.0", std::string(64, 'a')};
  r.regularizer = {"brl", "2.1", std::string(64, 'b')};
  r.augmenter = {"au_gan", "0.3", std::string(64, 'c')};
  r.validation_split = {{"samm", {"samm/006/a", "samm/007/b"}}, {"seed", 42}};
  r.metrics = {
      {MetricScope::Fold, "", "uf1", std::nullopt, 0.5 + 0.01 * k, "", 30, 3},
      {MetricScope::Fold, "", "f1", std::string("surprise"), std::nullopt,
       "class absent: no samples, no predictions", 0, 3},
      {MetricScope::Target, "samm", "uar", std::nullopt, 0.625, "", 30, 2},
  };
  r.confusion = {{MetricScope::Fold, "", "negative", "negative", 12},
                 {MetricScope::Fold, "", "negative", "positive", 3}};
  r.predictions = {
      {"samm/006/clip_a", "negative", "negative", {{"negative", 0.875}, {"positive", 0.125}}},
      {"samm/007/clip_b", "positive", "negative", nullptr},
  };
  r.curves = {{0, "loss", 1.5}, {1, "loss", 0.25 + k}, {1, "loss_js", std::nan("")}};
  r.artifacts = {{"au_gan.quality", {{"accuracy", {{"negative", 0.9}}}, {"diversity", 0.33}}}};
  return r;
}

}  // namespace merx::test
