// Store reads and writes: experiments, groups, the cell queue, finished cells, group metrics.
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "store/store_impl.h"

namespace merx {
namespace {

using sqlite::Stmt;
using sqlite::Use;

constexpr const char* kNow = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

// The cell seed is an unsigned 64-bit value; SQLite INTEGER is signed 64-bit, so it is stored as the signed
// integer with the same bits (two's complement) and converted back bit for bit.
int64_t seed_to_db(uint64_t v) {
  int64_t s;
  std::memcpy(&s, &v, sizeof s);
  return s;
}
uint64_t seed_from_db(int64_t s) {
  uint64_t v;
  std::memcpy(&v, &s, sizeof v);
  return v;
}

MetricScope parse_scope(const std::string& s) {
  if (s == "fold") return MetricScope::Fold;
  if (s == "target") return MetricScope::Target;
  if (s == "pooled") return MetricScope::Pooled;
  throw StoreError("unknown metric scope '" + s + "' in the database");
}

std::optional<double> opt_real(const Stmt& s, int col) {
  return s.is_null(col) ? std::nullopt : std::optional<double>(s.real(col));
}

nlohmann::json opt_json(const Stmt& s, int col) {
  return s.is_null(col) ? nlohmann::json() : nlohmann::json::parse(s.text(col));
}

void check_target(MetricScope scope, const std::string& target, const std::string& what) {
  if ((scope == MetricScope::Target) != !target.empty())
    throw std::invalid_argument(what + ": a target dataset is required for scope 'target' and only there");
}

void validate(const MetricRow& m) {
  const std::string what =
      "metric '" + m.name + "'" + (m.class_name ? " of class '" + *m.class_name + "'" : "");
  if (m.name.empty()) throw std::invalid_argument("metric without a name");
  if (m.value && !std::isfinite(*m.value))
    throw std::invalid_argument(what + ": value is not finite; store no value and a reason instead");
  if (!m.value && m.reason.empty()) throw std::invalid_argument(what + ": no value and no reason");
  if (m.support < 0 || m.n_classes_defined < 0) throw std::invalid_argument(what + ": negative count");
  check_target(m.scope, m.target, what);
}

void validate(const ConfusionEntry& c) {
  if (c.count < 0) throw std::invalid_argument("confusion count below 0");
  check_target(c.scope, c.target, "confusion entry");
}

constexpr const char* kInsertMetric =
    "INSERT INTO metrics (cell_id, group_id, scope, target, name, class, value, reason, support, "
    "n_classes_defined) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kInsertConfusion =
    "INSERT INTO confusion (cell_id, group_id, scope, target, true_class, predicted_class, count) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)";

// Binds parameters 1, 2, 3, ... in call order; text() stores an empty string as NULL.
class Params {
 public:
  explicit Params(Stmt& s) : s_(s) {}
  template <class T>
  Params& add(const T& v) {
    s_.bind(++i_, v);
    return *this;
  }
  Params& text(const std::string& v) {
    s_.bind_text_or_null(++i_, v);
    return *this;
  }

 private:
  Stmt& s_;
  int i_ = 0;
};

// Owner of metric/confusion rows: exactly one of cell and group.
struct Owner {
  std::optional<int64_t> cell, group;
};

void insert_metric(Store::Impl& s, const Owner& o, const MetricRow& m) {
  Use q(s.stmt(kInsertMetric));
  Params(*q)
      .add(o.cell)
      .add(o.group)
      .add(to_string(m.scope))
      .text(m.target)
      .add(m.name)
      .add(m.class_name)
      .add(m.value)
      .text(m.reason)
      .add(m.support)
      .add(m.n_classes_defined);
  q->run();
}

void insert_confusion(Store::Impl& s, const Owner& o, const ConfusionEntry& c) {
  Use q(s.stmt(kInsertConfusion));
  Params(*q)
      .add(o.cell)
      .add(o.group)
      .add(to_string(c.scope))
      .text(c.target)
      .add(c.true_class)
      .add(c.predicted_class)
      .add(c.count);
  q->run();
}

std::vector<MetricRow> read_metrics(Store::Impl& s, const char* owner_col, int64_t id) {
  Use q(s.stmt(std::string("SELECT scope, target, name, class, value, reason, support, n_classes_defined "
                           "FROM metrics WHERE ") +
               owner_col + " = ? ORDER BY id"));
  q->bind(1, id);
  std::vector<MetricRow> out;
  while (q->step()) {
    MetricRow m;
    m.scope = parse_scope(q->text(0));
    m.target = q->text(1);
    m.name = q->text(2);
    if (!q->is_null(3)) m.class_name = q->text(3);
    m.value = opt_real(*q, 4);
    m.reason = q->text(5);
    m.support = q->int64(6);
    m.n_classes_defined = q->int64(7);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<ConfusionEntry> read_confusion(Store::Impl& s, const char* owner_col, int64_t id) {
  Use q(s.stmt(std::string("SELECT scope, target, true_class, predicted_class, count FROM confusion WHERE ") +
               owner_col + " = ? ORDER BY id"));
  q->bind(1, id);
  std::vector<ConfusionEntry> out;
  while (q->step()) {
    ConfusionEntry c;
    c.scope = parse_scope(q->text(0));
    c.target = q->text(1);
    c.true_class = q->text(2);
    c.predicted_class = q->text(3);
    c.count = q->int64(4);
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<int64_t> cell_id(Store::Impl& s, const std::string& identity) {
  Use q(s.stmt("SELECT id FROM cells WHERE identity = ?"));
  q->bind(1, identity);
  if (!q->step()) return std::nullopt;
  return q->int64(0);
}

constexpr const char* kCellColumns =
    "id, identity, group_id, fold_id, target, cell_seed, status, error, attempts, queued_at, started_at, "
    "finished_at, host, device, threads";

CellRecord read_record(const Stmt& q) {
  CellRecord r;
  r.id = q.int64(0);
  r.key.identity = q.text(1);
  r.key.group_id = q.int64(2);
  r.key.fold_id = q.text(3);
  r.key.target = q.text(4);
  r.key.cell_seed = seed_from_db(q.int64(5));
  r.status = parse_cell_status(q.text(6));
  r.error = q.text(7);
  r.attempts = q.int64(8);
  r.queued_at = q.text(9);
  r.started_at = q.text(10);
  r.finished_at = q.text(11);
  r.host = q.text(12);
  r.device = q.text(13);
  r.threads = static_cast<int>(q.int64(14));
  return r;
}

bool json_equal_or_both_null(const nlohmann::json& a, const nlohmann::json& b) {
  return a == b;
}

}  // namespace

// ---- small value types ----

const char* to_string(CellStatus s) {
  switch (s) {
    case CellStatus::Queued:
      return "queued";
    case CellStatus::Running:
      return "running";
    case CellStatus::Done:
      return "done";
    case CellStatus::Failed:
      return "failed";
    case CellStatus::Interrupted:
      return "interrupted";
  }
  return "?";
}

CellStatus parse_cell_status(std::string_view s) {
  for (CellStatus c : {CellStatus::Queued, CellStatus::Running, CellStatus::Done, CellStatus::Failed,
                       CellStatus::Interrupted})
    if (s == to_string(c)) return c;
  throw std::invalid_argument("unknown cell status '" + std::string(s) + "'");
}

const char* to_string(MetricScope s) {
  switch (s) {
    case MetricScope::Fold:
      return "fold";
    case MetricScope::Target:
      return "target";
    case MetricScope::Pooled:
      return "pooled";
  }
  return "?";
}

bool MetricRow::operator==(const MetricRow& o) const {
  return scope == o.scope && target == o.target && name == o.name && class_name == o.class_name &&
         value == o.value && reason == o.reason && support == o.support &&
         n_classes_defined == o.n_classes_defined;
}
bool ConfusionEntry::operator==(const ConfusionEntry& o) const {
  return scope == o.scope && target == o.target && true_class == o.true_class &&
         predicted_class == o.predicted_class && count == o.count;
}
bool Prediction::operator==(const Prediction& o) const {
  return sample_key == o.sample_key && true_class == o.true_class && predicted_class == o.predicted_class &&
         json_equal_or_both_null(probabilities, o.probabilities);
}
bool CurvePoint::operator==(const CurvePoint& o) const {
  return epoch == o.epoch && name == o.name &&
         (value == o.value || (std::isnan(value) && std::isnan(o.value)));
}
bool Artifact::operator==(const Artifact& o) const {
  return name == o.name && data == o.data;
}
bool PluginProvenance::operator==(const PluginProvenance& o) const {
  return name == o.name && version == o.version && sha256 == o.sha256;
}

// ---- experiments, groups, cells ----

int64_t Store::upsert_experiment(const ExperimentKey& e) {
  if (e.spec_hash.empty()) throw std::invalid_argument("experiment '" + e.name + "' without spec hash");
  int64_t id = 0;
  impl_->write_transaction([&] {
    {
      Use q(
          impl_->stmt("INSERT INTO experiments (name, spec_json, spec_hash) VALUES (?, ?, ?) "
                      "ON CONFLICT (spec_hash) DO NOTHING"));
      q->bind(1, e.name).bind(2, e.spec.dump()).bind(3, e.spec_hash).run();
    }
    Use q(impl_->stmt("SELECT id FROM experiments WHERE spec_hash = ?"));
    q->bind(1, e.spec_hash);
    if (!q->step()) throw StoreError("experiment row vanished after insert");
    id = q->int64(0);
  });
  return id;
}

int64_t Store::upsert_group(const GroupKey& g) {
  if (g.identity.empty()) throw std::invalid_argument("group without identity");
  int64_t id = 0;
  impl_->write_transaction([&] {
    {
      Use q(impl_->stmt(
          "INSERT INTO groups (experiment_id, identity, point_index, variant, point_hash, assignments_json, "
          "seed, protocol, datasets_json, data_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT (identity) DO NOTHING"));
      q->bind(1, g.experiment_id).bind(2, g.identity).bind(3, g.point_index).bind(4, g.variant);
      q->bind(5, g.point_hash)
          .bind(6, (g.assignments.is_null() ? nlohmann::json::object() : g.assignments).dump());
      q->bind(7, g.seed).bind(8, g.protocol).bind(9, nlohmann::json(g.datasets).dump());
      q->bind_text_or_null(10, g.data_version).run();
    }
    Use q(impl_->stmt("SELECT id FROM groups WHERE identity = ?"));
    q->bind(1, g.identity);
    if (!q->step()) throw StoreError("group row vanished after insert");
    id = q->int64(0);
  });
  return id;
}

std::size_t Store::enqueue_cells(const std::vector<CellKey>& cells) {
  std::size_t inserted = 0;
  impl_->write_transaction([&] {
    inserted = 0;
    Use q(impl_->stmt(
        "INSERT INTO cells (identity, group_id, fold_id, target, cell_seed) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (identity) DO NOTHING"));
    for (const CellKey& c : cells) {
      if (c.identity.empty()) throw std::invalid_argument("cell without identity");
      q->bind(1, c.identity).bind(2, c.group_id).bind(3, c.fold_id).bind(4, c.target);
      q->bind(5, seed_to_db(c.cell_seed)).run();
      inserted += static_cast<std::size_t>(sqlite3_changes(impl_->db.get()));
      q->reset();
    }
  });
  return inserted;
}

// ---- the queue ----

namespace {
constexpr const char* kClaimById =
    "UPDATE cells SET status = 'running', attempts = attempts + 1, error = NULL, finished_at = NULL, "
    "started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), host = ?, device = ?, threads = ? "
    "WHERE id = ? AND status IN ('queued', 'interrupted')";

bool claim_row(Store::Impl& s, int64_t id, const Claim& who) {
  Use q(s.stmt(kClaimById));
  q->bind_text_or_null(1, who.host).bind_text_or_null(2, who.device).bind(3, who.threads).bind(4, id).run();
  return sqlite3_changes(s.db.get()) == 1;
}

void check_claim(const Claim& who) {
  if (who.threads <= 0) throw std::invalid_argument("claim with threads <= 0");
}
}  // namespace

bool Store::claim_cell(const std::string& identity, const Claim& who) {
  check_claim(who);
  bool claimed = false;
  impl_->write_transaction([&] {
    const auto id = cell_id(*impl_, identity);
    claimed = id && claim_row(*impl_, *id, who);
  });
  return claimed;
}

std::optional<std::string> Store::claim_next(int64_t experiment_id, const Claim& who) {
  check_claim(who);
  std::optional<std::string> claimed;
  impl_->write_transaction([&] {
    claimed.reset();
    int64_t id = 0;
    {
      Use q(impl_->stmt(
          "SELECT c.id, c.identity FROM cells c JOIN groups g ON g.id = c.group_id "
          "WHERE g.experiment_id = ? AND c.status IN ('queued', 'interrupted') ORDER BY c.id LIMIT 1"));
      q->bind(1, experiment_id);
      if (!q->step()) return;
      id = q->int64(0);
      claimed = q->text(1);
    }
    if (!claim_row(*impl_, id, who))
      throw StoreError("cell " + *claimed + " changed inside a write transaction");
  });
  return claimed;
}

std::size_t Store::requeue(int64_t experiment_id, const std::vector<CellStatus>& from) {
  std::size_t n = 0;
  impl_->write_transaction([&] {
    n = 0;
    Use q(
        impl_->stmt("UPDATE cells SET status = 'queued' WHERE status = ? "
                    "AND group_id IN (SELECT id FROM groups WHERE experiment_id = ?)"));
    for (CellStatus s : from) {
      if (s == CellStatus::Queued) continue;
      q->bind(1, to_string(s)).bind(2, experiment_id).run();
      n += static_cast<std::size_t>(sqlite3_changes(impl_->db.get()));
      q->reset();
    }
  });
  return n;
}

std::size_t Store::requeue_cells(const std::vector<std::string>& identities, const std::vector<CellStatus>& from) {
  std::size_t n = 0;
  impl_->write_transaction([&] {
    n = 0;
    Use q(impl_->stmt("UPDATE cells SET status = 'queued' WHERE identity = ? AND status = ?"));
    for (const auto& identity : identities)
      for (CellStatus s : from) {
        if (s == CellStatus::Queued) continue;
        q->bind(1, identity).bind(2, to_string(s)).run();
        n += static_cast<std::size_t>(sqlite3_changes(impl_->db.get()));
        q->reset();
      }
  });
  return n;
}

// ---- results ----

void Store::write_finished_cell(const CellResult& r) {
  if (r.status != CellStatus::Done && r.status != CellStatus::Failed && r.status != CellStatus::Interrupted)
    throw std::invalid_argument("cell " + r.identity +
                                ": a finished cell is done, failed or interrupted, not " +
                                to_string(r.status));
  for (const auto& m : r.metrics) validate(m);
  for (const auto& c : r.confusion) validate(c);
  if (r.threads < 0) throw std::invalid_argument("cell " + r.identity + ": threads < 0");

  Impl& s = *impl_;
  s.write_transaction([&] {
    const auto id = cell_id(s, r.identity);
    if (!id) throw std::invalid_argument("cell " + r.identity + " was never enqueued in " + s.path);
    {
      Use q(
          s.stmt(std::string("UPDATE cells SET status = ?, error = ?, started_at = COALESCE(?, started_at), "
                             "finished_at = COALESCE(?, ") +
                 kNow +
                 "), prep_seconds = ?, fit_seconds = ?, train_seconds = ?, eval_seconds = ?, "
                 "threads = COALESCE(?, threads), host = COALESCE(?, host), device = COALESCE(?, device), "
                 "git_commit = ?, merx_version = ?, libtorch_version = ?, selection = ?, chosen_epoch = ?, "
                 "backbone_name = ?, backbone_version = ?, backbone_sha256 = ?, "
                 "regularizer_name = ?, regularizer_version = ?, regularizer_sha256 = ?, "
                 "augmenter_name = ?, augmenter_version = ?, augmenter_sha256 = ?, validation_split_json = ?, "
                 "model_sha256 = ?, model_bytes = ? WHERE id = ?"));
      Params b(*q);
      b.add(to_string(r.status)).text(r.error).text(r.started_at).text(r.finished_at);
      b.add(r.prep_seconds).add(r.fit_seconds).add(r.train_seconds).add(r.eval_seconds);
      b.add(r.threads > 0 ? std::optional<int64_t>(r.threads) : std::nullopt).text(r.host).text(r.device);
      b.text(r.git_commit)
          .text(r.merx_version)
          .text(r.libtorch_version)
          .text(r.selection)
          .add(r.chosen_epoch);
      for (const PluginProvenance* p : {&r.backbone, &r.regularizer, &r.augmenter})
        b.text(p->name).text(p->version).text(p->sha256);
      b.add(r.validation_split.is_null() ? std::nullopt
                                         : std::optional<std::string>(r.validation_split.dump()));
      b.text(r.model_sha256).add(r.model_bytes);
      b.add(*id);
      q->run();
    }
    // A rerun replaces the previous run's rows.
    for (const char* table : {"metrics", "confusion", "predictions", "curves", "artifacts"}) {
      Use q(s.stmt(std::string("DELETE FROM ") + table + " WHERE cell_id = ?"));
      q->bind(1, *id).run();
    }

    std::size_t rows = 0;
    const auto inserted = [&] {
      ++rows;
      if (s.write_hook) s.write_hook(rows);
    };
    const Owner owner{*id, std::nullopt};
    for (const auto& m : r.metrics) {
      insert_metric(s, owner, m);
      inserted();
    }
    for (const auto& c : r.confusion) {
      insert_confusion(s, owner, c);
      inserted();
    }
    {
      Use q(s.stmt(
          "INSERT INTO predictions (cell_id, sample_key, true_class, predicted_class, probabilities_json) "
          "VALUES (?, ?, ?, ?, ?)"));
      for (const auto& p : r.predictions) {
        q->bind(1, *id).bind(2, p.sample_key).bind(3, p.true_class).bind(4, p.predicted_class);
        if (p.probabilities.is_null())
          q->bind_null(5);
        else
          q->bind(5, p.probabilities.dump());
        q->run();
        q->reset();
        inserted();
      }
    }
    {
      Use q(s.stmt("INSERT INTO curves (cell_id, epoch, name, value) VALUES (?, ?, ?, ?)"));
      for (const auto& c : r.curves) {
        q->bind(1, *id).bind(2, c.epoch).bind(3, c.name);
        if (std::isnan(c.value))
          q->bind_null(4);
        else
          q->bind(4, c.value);
        q->run();
        q->reset();
        inserted();
      }
    }
    {
      Use q(s.stmt("INSERT INTO artifacts (cell_id, name, json) VALUES (?, ?, ?)"));
      for (const auto& a : r.artifacts) {
        q->bind(1, *id).bind(2, a.name).bind(3, a.data.dump()).run();
        q->reset();
        inserted();
      }
    }
  });
}

void Store::write_group_metrics(int64_t group_id, const std::vector<MetricRow>& metrics,
                                const std::vector<ConfusionEntry>& confusion) {
  for (const auto& m : metrics) validate(m);
  for (const auto& c : confusion) validate(c);
  Impl& s = *impl_;
  s.write_transaction([&] {
    {
      Use q(s.stmt("SELECT 1 FROM groups WHERE id = ?"));
      q->bind(1, group_id);
      if (!q->step())
        throw std::invalid_argument("group " + std::to_string(group_id) + " does not exist in " + s.path);
    }
    for (const char* table : {"metrics", "confusion"}) {
      Use q(s.stmt(std::string("DELETE FROM ") + table + " WHERE group_id = ?"));
      q->bind(1, group_id).run();
    }
    const Owner owner{std::nullopt, group_id};
    for (const auto& m : metrics) insert_metric(s, owner, m);
    for (const auto& c : confusion) insert_confusion(s, owner, c);
  });
}

// ---- readers ----

std::optional<CellStatus> Store::cell_status(const std::string& identity) const {
  Use q(impl_->stmt("SELECT status FROM cells WHERE identity = ?"));
  q->bind(1, identity);
  if (!q->step()) return std::nullopt;
  return parse_cell_status(q->text(0));
}

std::optional<CellRecord> Store::find_cell(const std::string& identity) const {
  Use q(impl_->stmt(std::string("SELECT ") + kCellColumns + " FROM cells WHERE identity = ?"));
  q->bind(1, identity);
  if (!q->step()) return std::nullopt;
  return read_record(*q);
}

std::optional<CellResult> Store::read_cell(const std::string& identity) const {
  Impl& s = *impl_;
  // One read transaction, so the cell row and its result rows come from the same commit.
  s.db.exec("BEGIN");
  struct End {
    sqlite::Db& db;
    ~End() { db.rollback_quietly(); }
  } end{s.db};

  CellResult r;
  int64_t id = 0;
  {
    Use q(s.stmt(
        "SELECT id, identity, status, error, started_at, finished_at, prep_seconds, fit_seconds, "
        "train_seconds, "
        "eval_seconds, threads, host, device, git_commit, merx_version, libtorch_version, selection, "
        "chosen_epoch, backbone_name, backbone_version, backbone_sha256, regularizer_name, "
        "regularizer_version, "
        "regularizer_sha256, augmenter_name, augmenter_version, augmenter_sha256, validation_split_json, "
        "model_sha256, model_bytes FROM cells WHERE identity = ?"));
    q->bind(1, identity);
    if (!q->step()) return std::nullopt;
    int i = 0;
    id = q->int64(i++);
    r.identity = q->text(i++);
    r.status = parse_cell_status(q->text(i++));
    r.error = q->text(i++);
    r.started_at = q->text(i++);
    r.finished_at = q->text(i++);
    r.prep_seconds = opt_real(*q, i++);
    r.fit_seconds = opt_real(*q, i++);
    r.train_seconds = opt_real(*q, i++);
    r.eval_seconds = opt_real(*q, i++);
    r.threads = static_cast<int>(q->int64(i++));
    r.host = q->text(i++);
    r.device = q->text(i++);
    r.git_commit = q->text(i++);
    r.merx_version = q->text(i++);
    r.libtorch_version = q->text(i++);
    r.selection = q->text(i++);
    if (!q->is_null(i)) r.chosen_epoch = q->int64(i);
    ++i;
    for (PluginProvenance* p : {&r.backbone, &r.regularizer, &r.augmenter}) {
      p->name = q->text(i++);
      p->version = q->text(i++);
      p->sha256 = q->text(i++);
    }
    r.validation_split = opt_json(*q, i++);
    r.model_sha256 = q->text(i++);
    if (!q->is_null(i)) r.model_bytes = q->int64(i);
    ++i;
  }
  r.metrics = read_metrics(s, "cell_id", id);
  r.confusion = read_confusion(s, "cell_id", id);
  {
    Use q(
        s.stmt("SELECT sample_key, true_class, predicted_class, probabilities_json FROM predictions "
               "WHERE cell_id = ? ORDER BY id"));
    q->bind(1, id);
    while (q->step()) r.predictions.push_back({q->text(0), q->text(1), q->text(2), opt_json(*q, 3)});
  }
  {
    Use q(s.stmt("SELECT epoch, name, value FROM curves WHERE cell_id = ? ORDER BY id"));
    q->bind(1, id);
    while (q->step())
      r.curves.push_back({q->int64(0), q->text(1), q->is_null(2) ? std::nan("") : q->real(2)});
  }
  {
    Use q(s.stmt("SELECT name, json FROM artifacts WHERE cell_id = ? ORDER BY id"));
    q->bind(1, id);
    while (q->step()) r.artifacts.push_back({q->text(0), nlohmann::json::parse(q->text(1))});
  }
  return r;
}

GroupMetrics Store::read_group_metrics(int64_t group_id) const {
  Impl& s = *impl_;
  s.db.exec("BEGIN");
  struct End {
    sqlite::Db& db;
    ~End() { db.rollback_quietly(); }
  } end{s.db};
  return {read_metrics(s, "group_id", group_id), read_confusion(s, "group_id", group_id)};
}

std::optional<GroupKey> Store::read_group(int64_t group_id) const {
  Use q(impl_->stmt(
      "SELECT experiment_id, identity, point_index, variant, point_hash, assignments_json, seed, protocol, "
      "datasets_json FROM groups WHERE id = ?"));
  q->bind(1, group_id);
  if (!q->step()) return std::nullopt;
  GroupKey g;
  g.experiment_id = q->int64(0);
  g.identity = q->text(1);
  g.point_index = q->int64(2);
  g.variant = q->text(3);
  g.point_hash = q->text(4);
  g.assignments = nlohmann::json::parse(q->text(5));
  g.seed = q->int64(6);
  g.protocol = q->text(7);
  g.datasets = nlohmann::json::parse(q->text(8)).get<std::vector<std::string>>();
  return g;
}

std::vector<int64_t> Store::list_groups(std::optional<int64_t> experiment_id) const {
  Use q(impl_->stmt(experiment_id ? "SELECT id FROM groups WHERE experiment_id = ? ORDER BY id"
                                  : "SELECT id FROM groups ORDER BY id"));
  if (experiment_id) q->bind(1, *experiment_id);
  std::vector<int64_t> ids;
  while (q->step()) ids.push_back(q->int64(0));
  return ids;
}

std::vector<CellRecord> Store::group_cells(int64_t group_id) const {
  Use q(impl_->stmt(std::string("SELECT ") + kCellColumns + " FROM cells WHERE group_id = ? ORDER BY id"));
  q->bind(1, group_id);
  std::vector<CellRecord> cells;
  while (q->step()) cells.push_back(read_record(*q));
  return cells;
}

StatusCounts Store::count_cells(std::optional<int64_t> experiment_id) const {
  Use q(impl_->stmt(experiment_id
                        ? "SELECT c.status, count(*) FROM cells c JOIN groups g ON g.id = c.group_id "
                          "WHERE g.experiment_id = ? GROUP BY c.status"
                        : "SELECT status, count(*) FROM cells GROUP BY status"));
  if (experiment_id) q->bind(1, *experiment_id);
  StatusCounts n;
  while (q->step()) {
    const int64_t k = q->int64(1);
    switch (parse_cell_status(q->text(0))) {
      case CellStatus::Queued:
        n.queued = k;
        break;
      case CellStatus::Running:
        n.running = k;
        break;
      case CellStatus::Done:
        n.done = k;
        break;
      case CellStatus::Failed:
        n.failed = k;
        break;
      case CellStatus::Interrupted:
        n.interrupted = k;
        break;
    }
  }
  return n;
}

std::vector<std::string> Store::integrity_check() const {
  std::vector<std::string> problems;
  {
    Stmt q(impl_->db.get(), "PRAGMA integrity_check");
    while (q.step())
      if (q.text(0) != "ok") problems.push_back(q.text(0));
  }
  Stmt q(impl_->db.get(), "PRAGMA foreign_key_check");
  while (q.step())
    problems.push_back("foreign key: row " + q.text(1) + " of " + q.text(0) + " refers to a missing row of " +
                       q.text(2));
  return problems;
}

}  // namespace merx
