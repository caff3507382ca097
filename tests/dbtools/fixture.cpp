#include "fixture.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

#include "merx/metrics/metrics.h"

namespace merx::test {

void write_study(Store& store, const std::function<bool(std::size_t)>& mine, const std::string& host,
                 const std::function<bool(std::size_t)>& bump) {
  const nlohmann::json spec = {{"name", "study"},
                               {"protocol", {{"name", "lodo"}}},
                               {"datasets", kStudyTargets},
                               {"seeds", kStudySeeds}};
  const int64_t exp = store.upsert_experiment({"study", spec, std::string(64, '5')});
  std::size_t i = 0;
  for (std::size_t v = 0; v < kStudyVariants.size(); ++v) {
    for (int seed : kStudySeeds) {
      const std::string gid = "group-" + kStudyVariants[v] + "-" + std::to_string(seed);
      bool whole = true, any = false;
      for (std::size_t t = 0; t < kStudyTargets.size(); ++t) {
        const bool m = mine(i + t);
        whole = whole && m;
        any = any || m;
      }
      if (!any) {
        i += kStudyTargets.size();
        continue;
      }
      GroupKey g;
      g.experiment_id = exp;
      g.identity = gid;
      g.point_index = static_cast<int64_t>(v);
      g.variant = kStudyVariants[v];
      g.point_hash = "point-" + kStudyVariants[v];
      g.assignments = {{"regularizer", kStudyVariants[v] == "erm" ? "none" : "brl"}};
      g.seed = seed;
      g.protocol = "lodo";
      g.datasets = kStudyTargets;
      const int64_t group = store.upsert_group(g);
      for (std::size_t t = 0; t < kStudyTargets.size(); ++t, ++i) {
        if (!mine(i)) continue;
        const std::string id = "cell-" + std::to_string(i);
        const std::string& target = kStudyTargets[t];
        store.enqueue_cells({{id, group, target, target, 1000 + i}});
        CellResult r;
        r.identity = id;
        r.status = CellStatus::Done;
        r.started_at = host == "single" ? "2026-01-01T00:00:00.000Z" : "2026-02-02T00:00:00.000Z";
        r.train_seconds = host == "single" ? 10.0 : 20.0 + static_cast<double>(i);
        r.host = host;
        r.device = "cpu";
        r.threads = 1;
        r.selection = "source_val";
        r.chosen_epoch = static_cast<int64_t>(i % 3);
        r.backbone = {"ststnet", "1", std::string(64, 'a')};
        r.regularizer = {kStudyVariants[v] == "erm" ? "none" : "brl", "1", std::string(64, 'b')};
        r.augmenter = {"none", "1", std::string(64, 'c')};
        // Confusion: 6 + i % 3 clips per class; clip j of class c goes to class c + 1 when (j + i + v) % 4 ==
        // 0.
        std::vector<int> y_true, y_pred;
        for (int c = 0; c < 3; ++c)
          for (std::size_t j = 0; j < 6 + i % 3; ++j) {
            const int p = (j + i + v) % 4 == 0 ? (c + 1) % 3 : c;
            y_true.push_back(c);
            y_pred.push_back(p);
            r.predictions.push_back({target + "/sub0" + std::to_string(j % 3 + 1) + "/clip" +
                                         std::to_string(c) + "_" + std::to_string(j),
                                     kStudyClasses[c],
                                     kStudyClasses[p],
                                     {{kStudyClasses[p], 0.75}, {kStudyClasses[(p + 1) % 3], 0.25}}});
          }
        const metrics::Confusion conf = metrics::Confusion::from(kStudyClasses, y_true, y_pred);
        r.metrics = metrics::metric_rows(conf, MetricScope::Fold);
        if (bump && bump(i)) r.metrics[0].value = *r.metrics[0].value + 0.01;
        r.confusion = metrics::confusion_entries(conf, MetricScope::Fold);
        for (int e = 0; e < 3; ++e) {
          r.curves.push_back({e, "loss", 1.0 / (e + 1 + static_cast<double>(i))});
          r.curves.push_back({e, "source_val_uf1", 0.3 + 0.1 * e + 0.01 * static_cast<double>(i)});
        }
        if (i % 2 == 0) r.artifacts.push_back({"test.figure", {{"cell", i}}});
        if (!store.claim_cell(id, {host, "cpu", 1})) throw std::logic_error("fixture: cannot claim " + id);
        store.write_finished_cell(r);
      }
      if (whole) metrics::update_group_metrics(store, group);
    }
  }
}

std::string dump_tables(const std::string& path, const std::vector<std::string>& skip_columns) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("dump_tables: cannot open " + path);
  }
  std::set<std::string> skip(skip_columns.begin(), skip_columns.end());
  skip.insert("id");
  // Ids differ between databases: rows refer to their owners by identity instead (joins below).
  const std::map<std::string, std::string> queries = {
      {"experiments", "SELECT name, spec_json, spec_hash FROM experiments ORDER BY spec_hash"},
      {"groups",
       "SELECT g.*, e.spec_hash AS experiment FROM groups g JOIN experiments e ON e.id = g.experiment_id "
       "ORDER BY g.identity"},
      {"cells",
       "SELECT c.*, g.identity AS grp FROM cells c JOIN groups g ON g.id = c.group_id ORDER BY c.identity"},
  };
  std::string out;
  auto run = [&](const std::string& name, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error("dump_tables: " + std::string(sqlite3_errmsg(db)));
    std::vector<std::string> rows;
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row = name + ":";
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const std::string col = sqlite3_column_name(st, c);
        if (skip.count(col) || col == "experiment_id" || col == "group_id" || col == "cell_id" ||
            col == "created_at")
          continue;
        const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        char buf[40];
        if (sqlite3_column_type(st, c) == SQLITE_FLOAT) {
          std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(st, c));
          t = buf;
        }
        row += " " + col + "=" + (t ? t : "NULL");
      }
      rows.push_back(row);
    }
    sqlite3_finalize(st);
    std::sort(rows.begin(), rows.end());
    for (const auto& r : rows) out += r + "\n";
  };
  for (const auto& [name, sql] : queries) run(name, sql);
  for (const std::string table : {"metrics", "confusion"}) {
    run(table + "(cell)",
        "SELECT t.*, c.identity AS owner FROM " + table + " t JOIN cells c ON c.id = t.cell_id");
    run(table + "(group)",
        "SELECT t.*, g.identity AS owner FROM " + table + " t JOIN groups g ON g.id = t.group_id");
  }
  for (const std::string table : {"predictions", "curves", "artifacts"})
    run(table, "SELECT t.*, c.identity AS owner FROM " + table + " t JOIN cells c ON c.id = t.cell_id");
  sqlite3_close(db);
  return out;
}

}  // namespace merx::test
