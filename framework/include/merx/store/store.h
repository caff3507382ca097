// The results store: one SQLite file per study holding experiments, groups, the cell queue and every result
// (schema: db/NNN_*.sql, explained in docs/database.md).
//
// Concurrency model: any number of processes may open the same file, each with its own Store (WAL mode, a
// busy timeout). A Store is one SQLite connection and is not thread-safe: use one per thread. Never fork()
// while a Store is open and use it in the child; open a new one after fork().
//
// Errors: a path that cannot be used (missing folder, not an SQLite file, not writable, a schema newer than
// this merx, another application's database) -> merx::UserError naming the path. Everything else SQLite
// reports -> merx::StoreError (a runtime failure). Invalid arguments (a metric value that is NaN, a write for
// a cell that was never enqueued, ...) -> std::invalid_argument.
//
// Times are UTC ISO 8601 text 'YYYY-MM-DDTHH:MM:SS.sssZ'; durations are seconds.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace merx {

/// A failure of the database itself (I/O error, corruption, lock timeout, a bug in a query).
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A statement Store::query will not run (it writes, is several statements, or does not compile): the
/// user's SQL is at fault, so the CLI maps it to exit code 2.
class SqlRefused : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// One SQL value: NULL, INTEGER, REAL or TEXT (a BLOB is read as its bytes in a string).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

/// An INTEGER (or a REAL truncated toward zero) of a query row; 0 for NULL and TEXT.
inline int64_t sql_integer(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}
/// A REAL (or an INTEGER as a double) of a query row; nullopt for NULL and TEXT.
inline std::optional<double> sql_real(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

/// State of a cell in the queue: queued -> running -> done | failed | interrupted.
enum class CellStatus { Queued, Running, Done, Failed, Interrupted };
const char* to_string(CellStatus s);               // "queued", "running", "done", "failed", "interrupted"
CellStatus parse_cell_status(std::string_view s);  // inverse of to_string; std::invalid_argument otherwise

/// Which predictions a metric or confusion count was computed over.
enum class MetricScope {
  Fold,    // one fold's predictions
  Target,  // all predictions on one target dataset (MetricRow::target names it)
  Pooled,  // all folds' predictions concatenated (the MEGC way)
};
const char* to_string(MetricScope s);  // "fold", "target", "pooled"

/// One metric value (methods.md §2). A value that cannot be computed is nullopt with a reason.
struct MetricRow {
  MetricScope scope = MetricScope::Fold;
  std::string target;                     // dataset name; required for Target scope, empty otherwise
  std::string name;                       // "uf1", "uar", "accuracy", "f1", "recall", "uf1_fold_mean", ...
  std::optional<std::string> class_name;  // per-class metrics: the class; nullopt: whole-set metric
  std::optional<double> value;            // finite; nullopt when undefined
  std::string reason;                     // required when value is nullopt (why); optional note otherwise
  int64_t support = 0;                    // per-class: n_c; whole-set: number of predictions evaluated
  int64_t n_classes_defined = 0;          // classes the averaged metric counted (undefined ones excluded)
  bool operator==(const MetricRow& o) const;
};

/// One non-zero entry of a confusion matrix.
struct ConfusionEntry {
  MetricScope scope = MetricScope::Fold;
  std::string target;  // as MetricRow::target
  std::string true_class;
  std::string predicted_class;
  int64_t count = 0;  // number of samples, >= 0
  bool operator==(const ConfusionEntry& o) const;
};

/// One evaluated test sample.
struct Prediction {
  std::string sample_key;  // global sample id, "dataset/subject/clip"
  std::string true_class;
  std::string predicted_class;
  nlohmann::json probabilities;  // {"class": p, ...}; null when the model gives none
  bool operator==(const Prediction& o) const;
};

/// One point of a training curve.
struct CurvePoint {
  int64_t epoch = 0;                           // 0-based
  std::string name;                            // "loss", "loss_js", "source_val_uf1", ...
  double value = 0;                            // NaN is stored as NULL and read back as NaN
  bool operator==(const CurvePoint& o) const;  // NaN equals NaN here
};

/// A plugin-specific figure of a cell, e.g. name "au_gan.quality".
struct Artifact {
  std::string name;
  nlohmann::json data;
  bool operator==(const Artifact& o) const;
};

/// Which plugin build made a model. Empty name = not recorded (stored as NULL).
struct PluginProvenance {
  std::string name;     // registry name, e.g. "ststnet"
  std::string version;  // the plugin's behaviour version
  std::string sha256;   // hex SHA-256 of the plugin's shared-object file
  bool operator==(const PluginProvenance& o) const;
};

/// Everything a finished run of one cell produced. Written with Store::write_finished_cell, read back whole
/// with Store::read_cell.
struct CellResult {
  std::string identity;                  // the cell (must have been enqueued)
  CellStatus status = CellStatus::Done;  // Done, Failed or Interrupted
  std::string error;                     // Failed/Interrupted: what went wrong; empty = none

  // Timings. On write, an empty started_at keeps the time recorded by claim_cell; an empty finished_at
  // means "now". Durations in wall-clock seconds; nullopt = the phase did not run.
  std::string started_at;
  std::string finished_at;
  std::optional<double> prep_seconds;   // building inputs
  std::optional<double> fit_seconds;    // fitting the augmenter
  std::optional<double> train_seconds;  // training
  std::optional<double> eval_seconds;   // predicting + metrics

  // Where it ran. On write, empty/0 keeps what claim_cell recorded.
  int threads = 0;  // intra-op CPU threads
  std::string host;
  std::string device;  // "cpu", "cuda:0", ...

  // Provenance. Empty strings are stored as NULL.
  std::string git_commit;               // merx source commit
  std::string merx_version;             // merx version
  std::string libtorch_version;         // e.g. "2.1.0"
  std::string selection;                // "last" | "source_val" | "loo_source" | "oracle"
  std::optional<int64_t> chosen_epoch;  // epoch of the reported checkpoint, 0-based
  PluginProvenance backbone, regularizer, augmenter;
  nlohmann::json validation_split;  // samples held out for selection; null when none
  /// The saved model (schema 3, docs/database.md "Saved models"): SHA-256 hex of the .mxm file in
  /// <database>-models/ and its size in bytes; empty / nullopt = none saved (stored as NULL).
  std::string model_sha256;
  std::optional<int64_t> model_bytes;

  std::vector<MetricRow> metrics;         // this cell's metrics (usually scope Fold)
  std::vector<ConfusionEntry> confusion;  // this cell's confusion counts
  std::vector<Prediction> predictions;
  std::vector<CurvePoint> curves;
  std::vector<Artifact> artifacts;
};

/// An experiment: one spec as run. Identity: spec_hash.
struct ExperimentKey {
  std::string name;
  nlohmann::json spec;    // the fully resolved spec
  std::string spec_hash;  // SHA-256 hex of the canonical spec
};

/// A group: one protocol run (experiment x sweep point x seed value), the unit pooled metrics are computed
/// over. Identity: identity.
struct GroupKey {
  int64_t experiment_id = 0;
  std::string identity;
  int64_t point_index = 0;            // sweep point position, 0-based
  std::string variant;                // sweep point's variant name
  std::string point_hash;             // hash of the point's assignments
  nlohmann::json assignments;         // {"param.path": value, ...}
  int64_t seed = 0;                   // the seed value (not the cell seed)
  std::string protocol;               // "lodo", "hde", "loso", "kfold_subject", ...
  std::vector<std::string> datasets;  // the protocol's dataset names in spec order (no counterfactual twins)
  std::string data_version;           // Plan::data_version (SHA-256 hex); "" = not recorded (NULL)
};

/// A cell to enqueue. Identity: identity.
struct CellKey {
  std::string identity;
  int64_t group_id = 0;
  std::string fold_id;     // "samm" (lodo), "casme2/sub01" (loso), ...
  std::string target;      // dataset the fold is tested on; several: names joined by '+'
  uint64_t cell_seed = 0;  // full 64-bit value (stored two's-complement, read back exactly)
};

/// A cell's queue row (no results).
struct CellRecord {
  int64_t id = 0;
  CellKey key;
  CellStatus status = CellStatus::Queued;
  std::string error;
  int64_t attempts = 0;                            // times claimed
  std::string queued_at, started_at, finished_at;  // empty = not yet
  std::string host, device;
  int threads = 0;
};

/// Who runs a claimed cell.
struct Claim {
  std::string host;
  std::string device;  // "cpu", "cuda:0", ...
  int threads = 1;     // intra-op CPU threads, > 0
};

/// Cells per status.
struct StatusCounts {
  int64_t queued = 0, running = 0, done = 0, failed = 0, interrupted = 0;
  int64_t total() const { return queued + running + done + failed + interrupted; }
};

/// A group's own metrics (pooled, per target, fold means) and confusion counts.
struct GroupMetrics {
  std::vector<MetricRow> metrics;
  std::vector<ConfusionEntry> confusion;
};

/// How a Store behaves towards other processes.
struct StoreOptions {
  /// How long one operation waits for another process's write lock before it fails with StoreError.
  std::chrono::milliseconds busy_timeout{30000};
};

class Store {
 public:
  enum class Mode { ReadWrite, ReadOnly };

  using Options = StoreOptions;

  /// Schema version this merx writes (the highest db/NNN_*.sql).
  static int schema_version();

  /// Opens (ReadWrite: creating it if absent, migrating it to schema_version()) a results database.
  /// An existing file is checked before anything is written to it: it must be empty or start with the
  /// SQLite header, be writable (ReadWrite), carry merx's application id (or be an empty database), and
  /// have a schema version <= schema_version(). Otherwise UserError naming the path, file untouched.
  /// ReadOnly: the file must exist with exactly the current schema version; nothing is ever written.
  static Store open(const std::string& path, Mode mode = Mode::ReadWrite, Options options = {});

  /// Checks, without creating or changing anything, that `path` can be opened ReadWrite: either it does not
  /// exist and its folder exists and is writable, or it is an empty file or a merx results database with a
  /// known schema version, and writable. Throws UserError naming the path otherwise.
  /// Note: writability of a folder is what access(2) reports (root passes everywhere but on read-only file
  /// systems; special file systems such as /proc are only caught by open()).
  static void check_output(const std::string& path);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const std::string& path() const;
  int user_version() const;  // PRAGMA user_version of the open file

  // ---- experiments, groups, cells (idempotent by identity) ----

  /// Inserts the experiment unless one with the same spec_hash exists; returns its id either way (an
  /// existing row is not changed).
  int64_t upsert_experiment(const ExperimentKey& e);
  /// Inserts the group unless one with the same identity exists; returns its id either way.
  int64_t upsert_group(const GroupKey& g);
  /// Inserts the cells as queued, skipping identities already present (whatever their status), in one
  /// transaction. Returns how many were inserted.
  std::size_t enqueue_cells(const std::vector<CellKey>& cells);

  // ---- the queue ----

  /// Marks the cell running for `who` if it is queued or interrupted (attempts + 1, started_at = now).
  /// Returns false when it is in another state (e.g. another process claimed it) or unknown.
  bool claim_cell(const std::string& identity, const Claim& who);
  /// Claims the first queued or interrupted cell of the experiment in enqueue order; its identity, or
  /// nullopt when none is left. Atomic across processes.
  std::optional<std::string> claim_next(int64_t experiment_id, const Claim& who);
  /// Sets cells of the experiment whose status is in `from` back to queued (e.g. failed cells to retry, or
  /// running cells of a process that died). Returns how many.
  std::size_t requeue(int64_t experiment_id, const std::vector<CellStatus>& from);
  /// The same for the cells named by identity (whatever experiment they were enqueued under; unknown
  /// identities are ignored), in one transaction. Returns how many.
  std::size_t requeue_cells(const std::vector<std::string>& identities, const std::vector<CellStatus>& from);

  /// Writes a finished run in ONE transaction: updates the cell row (status, error, timings, provenance) and
  /// replaces all its metrics, confusion, predictions, curves and artifacts. Either all of it is in the
  /// database afterwards or none of it (a crash in the middle leaves the cell as it was). Waits/retries
  /// while another process writes, up to the busy timeout. std::invalid_argument for an unknown identity, a
  /// status other than Done/Failed/Interrupted, a non-finite metric value, a NULL value without reason or
  /// a Target-scope row without target.
  void write_finished_cell(const CellResult& r);

  /// Replaces all metric and confusion rows of the group in one transaction.
  void write_group_metrics(int64_t group_id, const std::vector<MetricRow>& metrics,
                           const std::vector<ConfusionEntry>& confusion);

  // ---- readers ----

  std::optional<CellStatus> cell_status(const std::string& identity) const;
  std::optional<CellRecord> find_cell(const std::string& identity) const;
  /// Everything written by write_finished_cell (rows in insertion order), plus what claim_cell recorded.
  std::optional<CellResult> read_cell(const std::string& identity) const;
  GroupMetrics read_group_metrics(int64_t group_id) const;
  /// The group's row as upsert_group wrote it; nullopt when no group has this id.
  std::optional<GroupKey> read_group(int64_t group_id) const;
  /// Group ids in ascending order (= creation order): all, or one experiment's.
  std::vector<int64_t> list_groups(std::optional<int64_t> experiment_id = std::nullopt) const;
  /// The cells of a group in enqueue order; empty when it has none (or no such group exists).
  std::vector<CellRecord> group_cells(int64_t group_id) const;
  /// Counts over all cells, or over one experiment's.
  StatusCounts count_cells(std::optional<int64_t> experiment_id = std::nullopt) const;

  /// PRAGMA integrity_check and PRAGMA foreign_key_check; empty when the database is sound, otherwise one
  /// message per problem.
  std::vector<std::string> integrity_check() const;

  // ---- plain SQL (framework/store/query.cpp) ----

  /// Runs ONE SQL statement that does not write (sqlite3_stmt_readonly) with positional parameters ?1..?N
  /// and calls `on_row` once per result row (values in column order). `columns`, when given, receives the
  /// result column names before the first row. Used by the leaderboard, `merx db query` and exports.
  /// Throws SqlRefused for a statement that would write (INSERT, DELETE, UPDATE, DDL, PRAGMA assignments,
  /// ATTACH, ...), for more than one statement, and for SQL that does not compile (SQLite's message);
  /// StoreError for failures while stepping. A ReadOnly Store is additionally query_only.
  void query(std::string_view sql, const std::vector<SqlValue>& params,
             const std::function<void(const std::vector<SqlValue>&)>& on_row,
             std::vector<std::string>* columns = nullptr) const;

  /// Testing only: called inside write_finished_cell's transaction after each inserted result row with
  /// the number of rows inserted so far (lets a test kill the process mid-write). Empty = none.
  void set_test_write_hook(std::function<void(std::size_t rows_inserted)> hook);

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace merx
