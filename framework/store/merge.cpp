// merge_databases (merx/store/merge.h): copies experiments, groups and cells with their results from shard
// databases into one, by identity, in one transaction on the output. Columns are copied generically
// (PRAGMA table_info), so a column added by a later migration travels without changes here.
#include "merx/store/merge.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "merx/errors.h"
#include "merx/store/model_files.h"
#include "merx/store/store.h"
#include "store/sqlite.h"

namespace merx {
namespace {

namespace fs = std::filesystem;

sqlite::Db open_raw(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  sqlite::Db db(raw);
  if (rc != SQLITE_OK) sqlite::fail(raw, rc, "opening " + path);
  sqlite3_busy_timeout(raw, 30000);
  db.exec("PRAGMA foreign_keys = ON");
  if (read_only) db.exec("PRAGMA query_only = ON");
  return db;
}

/// Column names of `table` in schema order.
std::vector<std::string> columns_of(sqlite3* db, const std::string& table) {
  sqlite::Stmt st(db, "SELECT name FROM pragma_table_info(?1)");
  st.bind(1, table);
  std::vector<std::string> cols;
  while (st.step()) cols.push_back(st.text(0));
  if (cols.empty()) throw StoreError("merge: table " + table + " not found");
  return cols;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

/// One value as text that tells every stored value apart (REAL with 17 digits, TEXT quoted, NULL).
std::string value_text(sqlite3_stmt* st, int col) {
  switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
      return "NULL";
    case SQLITE_INTEGER:
      return std::to_string(sqlite3_column_int64(st, col));
    case SQLITE_FLOAT: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(st, col));
      return buf;
    }
    default: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, col));
      return "'" + std::string(p ? p : "") + "'";
    }
  }
}

/// Copies the rows of `table` whose `key` column equals `from_id` in `in` to `out`, with `key` set to
/// `to_id`. Returns the number of rows copied.
std::size_t copy_rows(sqlite3* in, sqlite3* out, const std::string& table, const std::string& key,
                      int64_t from_id, int64_t to_id) {
  std::vector<std::string> cols;
  for (const auto& c : columns_of(out, table))
    if (c != "id") cols.push_back(c);
  sqlite::Stmt sel(in,
                   "SELECT " + join(cols, ", ") + " FROM " + table + " WHERE " + key + " = ?1 ORDER BY id");
  sel.bind(1, from_id);
  std::string marks;
  for (std::size_t i = 0; i < cols.size(); ++i) marks += (i ? ", ?" : "?") + std::to_string(i + 1);
  sqlite::Stmt ins(out, "INSERT INTO " + table + " (" + join(cols, ", ") + ") VALUES (" + marks + ")");
  std::size_t n = 0;
  while (sel.step()) {
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const int c = static_cast<int>(i);
      if (cols[i] == key) {
        ins.bind(c + 1, to_id);
      } else if (sqlite3_bind_value(ins.get(), c + 1, sqlite3_column_value(sel.get(), c)) != SQLITE_OK) {
        sqlite::fail(out, sqlite3_errcode(out), "merge: binding " + table + "." + cols[i]);
      }
    }
    ins.run();
    ins.reset();
    ++n;
  }
  return n;
}

/// Inserts one row of `table` (all columns but id) from `in` row `id`, with `over` columns replaced by the
/// given values; returns the new row id in `out`.
int64_t copy_row(sqlite3* in, sqlite3* out, const std::string& table, int64_t id,
                 const std::map<std::string, int64_t>& over) {
  std::vector<std::string> cols;
  for (const auto& c : columns_of(out, table))
    if (c != "id") cols.push_back(c);
  sqlite::Stmt sel(in, "SELECT " + join(cols, ", ") + " FROM " + table + " WHERE id = ?1");
  sel.bind(1, id);
  if (!sel.step()) throw StoreError("merge: " + table + " row " + std::to_string(id) + " vanished");
  std::string marks;
  for (std::size_t i = 0; i < cols.size(); ++i) marks += (i ? ", ?" : "?") + std::to_string(i + 1);
  sqlite::Stmt ins(out, "INSERT INTO " + table + " (" + join(cols, ", ") + ") VALUES (" + marks + ")");
  for (std::size_t i = 0; i < cols.size(); ++i) {
    const int c = static_cast<int>(i);
    const auto it = over.find(cols[i]);
    if (it != over.end()) {
      ins.bind(c + 1, it->second);
    } else if (sqlite3_bind_value(ins.get(), c + 1, sqlite3_column_value(sel.get(), c)) != SQLITE_OK) {
      sqlite::fail(out, sqlite3_errcode(out), "merge: binding " + table + "." + cols[i]);
    }
  }
  ins.run();
  return sqlite3_last_insert_rowid(out);
}

// The result tables of a cell, and the columns that identify a result (everything but ids and timings).
const std::vector<std::string> kResultTables = {"metrics", "confusion", "predictions", "curves", "artifacts"};

/// A cell's results as sorted text rows, one list per result table plus the cell's own result columns.
std::vector<std::vector<std::string>> results_of(sqlite3* db, int64_t cell_id) {
  std::vector<std::vector<std::string>> out;
  {
    sqlite::Stmt st(db, "SELECT selection, chosen_epoch FROM cells WHERE id = ?1");
    st.bind(1, cell_id);
    std::vector<std::string> rows;
    if (st.step())
      rows.push_back("selection=" + value_text(st.get(), 0) + " chosen_epoch=" + value_text(st.get(), 1));
    out.push_back(rows);
  }
  for (const auto& table : kResultTables) {
    std::vector<std::string> cols;
    for (const auto& c : columns_of(db, table))
      if (c != "id" && c != "cell_id") cols.push_back(c);
    sqlite::Stmt st(db, "SELECT " + join(cols, ", ") + " FROM " + table + " WHERE cell_id = ?1 ORDER BY " +
                            join(cols, ", "));
    st.bind(1, cell_id);
    std::vector<std::string> rows;
    while (st.step()) {
      std::string r = table + ":";
      for (std::size_t i = 0; i < cols.size(); ++i)
        r += " " + cols[i] + "=" + value_text(st.get(), static_cast<int>(i));
      rows.push_back(r);
    }
    out.push_back(rows);
  }
  return out;
}

/// The first difference between two cells' results, or "" when equal.
std::string first_difference(const std::vector<std::vector<std::string>>& a,
                             const std::vector<std::vector<std::string>>& b) {
  for (std::size_t t = 0; t < a.size(); ++t) {
    const auto& x = a[t];
    const auto& y = b[t];
    for (std::size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
      const std::string l = i < x.size() ? x[i] : "(no row)";
      const std::string r = i < y.size() ? y[i] : "(no row)";
      if (l != r) return "[" + l + "] vs [" + r + "]";
    }
  }
  return "";
}

struct OutCell {
  int64_t id;
  bool done;
};

}  // namespace

MergeSummary merge_databases(const std::string& out, const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw UserError("merge: no input databases given");
  std::error_code ec;
  const fs::path out_canon = fs::weakly_canonical(out, ec);
  std::set<fs::path> seen;
  for (const auto& in : inputs) {
    if (!fs::is_regular_file(in)) throw UserError("merge: input database " + in + " does not exist");
    const fs::path canon = fs::weakly_canonical(in, ec);
    if (canon == out_canon) throw UserError("merge: input " + in + " is the output " + out);
    if (!seen.insert(canon).second) throw UserError("merge: input " + in + " is named twice");
    Store::open(in, Store::Mode::ReadOnly);  // a merx results database of this schema version, or UserError
  }
  const bool existed = fs::exists(out);
  Store::open(out);  // creates or migrates OUT (UserError naming it when unusable)

  MergeSummary sum;
  sum.inputs = inputs.size();
  std::set<int64_t> changed;
  try {
    sqlite::Db odb = open_raw(out, false);
    sqlite3* o = odb.get();
    odb.exec("BEGIN IMMEDIATE");
    try {
      std::map<std::string, std::string> origin;  // cell identity -> file its row in OUT came from
      std::vector<std::pair<std::string, std::string>> models;  // (input, sha256) of the cells brought in
      for (const auto& in : inputs) {
        sqlite::Db idb = open_raw(in, true);
        sqlite3* i = idb.get();
        // Experiments by spec_hash.
        std::map<int64_t, int64_t> exp_map;
        {
          sqlite::Stmt st(i, "SELECT id, spec_hash FROM experiments ORDER BY id");
          sqlite::Stmt find(o, "SELECT id FROM experiments WHERE spec_hash = ?1");
          while (st.step()) {
            find.bind(1, st.text(1));
            if (find.step()) {
              exp_map[st.int64(0)] = find.int64(0);
            } else {
              exp_map[st.int64(0)] = copy_row(i, o, "experiments", st.int64(0), {});
              ++sum.experiments_added;
            }
            find.reset();
          }
        }
        // Groups by identity; their own metric rows are not copied (see merge.h).
        std::map<int64_t, int64_t> group_map;
        {
          sqlite::Stmt st(i, "SELECT id, identity, experiment_id FROM groups ORDER BY id");
          sqlite::Stmt find(o, "SELECT id FROM groups WHERE identity = ?1");
          while (st.step()) {
            find.bind(1, st.text(1));
            if (find.step()) {
              group_map[st.int64(0)] = find.int64(0);
            } else {
              group_map[st.int64(0)] =
                  copy_row(i, o, "groups", st.int64(0), {{"experiment_id", exp_map.at(st.int64(2))}});
              ++sum.groups_added;
            }
            find.reset();
          }
        }
        // Cells by identity.
        sqlite::Stmt st(
            i,
            "SELECT c.id, c.identity, c.status, c.group_id, c.fold_id, g.variant, g.seed, e.name "
            "FROM cells c JOIN groups g ON g.id = c.group_id JOIN experiments e ON e.id = g.experiment_id "
            "ORDER BY c.id");
        sqlite::Stmt find(o, "SELECT id, status FROM cells WHERE identity = ?1");
        sqlite::Stmt drop(o, "DELETE FROM cells WHERE id = ?1");
        sqlite::Stmt model(i, "SELECT model_sha256 FROM cells WHERE id = ?1");
        while (st.step()) {
          const int64_t in_id = st.int64(0);
          const std::string identity = st.text(1);
          const bool in_done = st.text(2) == "done";
          const int64_t gid = group_map.at(st.int64(3));
          find.bind(1, identity);
          std::optional<OutCell> have;
          if (find.step()) have = OutCell{find.int64(0), find.text(1) == "done"};
          find.reset();
          auto add = [&] {
            const int64_t new_id = copy_row(i, o, "cells", in_id, {{"group_id", gid}});
            for (const auto& table : kResultTables) copy_rows(i, o, table, "cell_id", in_id, new_id);
            changed.insert(gid);
            origin[identity] = in;
            model.bind(1, in_id);
            if (model.step() && !model.is_null(0)) models.emplace_back(in, model.text(0));
            model.reset();
          };
          if (!have) {
            add();
            ++sum.cells_added;
          } else if (in_done && !have->done) {
            drop.bind(1, have->id);
            drop.run();  // its results go with it (ON DELETE CASCADE)
            drop.reset();
            add();
            ++sum.cells_replaced;
          } else if (in_done && have->done) {
            const std::string diff = first_difference(results_of(o, have->id), results_of(i, in_id));
            if (!diff.empty()) {
              const auto it = origin.find(identity);
              const std::string where = it == origin.end() ? out : it->second;
              throw UserError("merge: cell " + identity + " (experiment " + st.text(7) + ", variant " +
                              st.text(5) + ", seed " + std::to_string(st.int64(6)) + ", fold " + st.text(4) +
                              ") is done in both " + where + " and " + in +
                              " with different results: " + diff);
            }
            ++sum.cells_identical;
          } else {
            ++sum.cells_kept;
          }
        }
      }
      sqlite::Stmt dm(o, "DELETE FROM metrics WHERE group_id = ?1");
      sqlite::Stmt dc(o, "DELETE FROM confusion WHERE group_id = ?1");
      for (int64_t g : changed) {
        dm.bind(1, g);
        dm.run();
        dm.reset();
        dc.bind(1, g);
        dc.run();
        dc.reset();
      }
      // The saved models of the cells brought in, before the rows referencing them are committed (a file
      // copied for a merge that then fails is harmless: content-addressed, and `db models prune` removes it).
      for (const auto& [in, sha] : models) {
        if (copy_model_file(in, out, sha)) {
          ++sum.models_copied;
        } else {
          ++sum.models_missing;
        }
      }
      odb.exec("COMMIT");
    } catch (...) {
      odb.rollback_quietly();
      throw;
    }
  } catch (...) {
    if (!existed)
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(out + suffix, ec);
    throw;
  }
  sum.groups_changed.assign(changed.begin(), changed.end());
  return sum;
}

}  // namespace merx
