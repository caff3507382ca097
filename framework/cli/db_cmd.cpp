// `merx db ...`: look into a results database and maintain it.
//   recompute --db FILE    recomputes every group's own metrics (pooled, per target, fold and target means;
//                          docs/methods.md §2) from what its cells stored and prints each group's headline.
//                          Groups with a cell that is not done are left as they are. Exit 1 when a group's
//                          stored rows are inconsistent (named).
//   ls --db FILE           experiments and groups with cell status counts (--cells: every cell too)
//   show CELL --db FILE    one cell (identity, identity prefix or numeric id): row, metrics, confusion,
//   curves query "SQL" --db FILE  one read-only statement (views of docs/database.md); writes refused with
//   exit 2 leaderboard --db FILE  merx/leaderboard/leaderboard.h rendered as table | md | csv | latex | json
// Exit 2 for a file that is missing or not a merx results database, and for refused SQL.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/table.h"
#include "merx/csv.h"
#include "merx/errors.h"
#include "merx/leaderboard/leaderboard.h"
#include "merx/leaderboard/per_class.h"
#include "merx/metrics/metrics.h"
#include "merx/store/store.h"
#include "merx/suggest.h"

namespace merx::cli {

void require_results_db(const std::string& file) {
  if (std::filesystem::is_regular_file(file)) return;
  throw UserError("results database " + file + " does not exist (`merx run SPEC` writes the spec's `output`; " +
                  "tools/demo writes build/demo/demo.sqlite)");
}

namespace {

std::string value_text(const GroupMetrics& g, const std::string& name) {
  for (const auto& m : g.metrics)
    if (m.scope == MetricScope::Pooled && m.name == name && !m.class_name) {
      if (!m.value) return "-";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", *m.value);
      return buf;
    }
  return "-";
}

int recompute(const std::string& file) {
  require_results_db(file);
  Store store = Store::open(file);
  Table t({"GROUP", "PROTOCOL", "VARIANT", "SEED", "CELLS DONE", "HEADLINE UF1", "HEADLINE UAR", "METRICS"});
  size_t written = 0, failed = 0;
  const std::vector<int64_t> groups = store.list_groups();
  for (int64_t id : groups) {
    const auto key = store.read_group(id);
    if (!key) continue;  // removed meanwhile
    const auto cells = store.group_cells(id);
    size_t done = 0;
    for (const auto& c : cells) done += c.status == CellStatus::Done;
    std::string state;
    try {
      if (metrics::update_group_metrics(store, id)) {
        state = "recomputed";
        ++written;
      } else {
        state = "incomplete, left as is";
      }
    } catch (const std::invalid_argument& e) {
      spdlog::error("group {} ({}): {}", id, key->identity.substr(0, 12), e.what());
      state = "error";
      ++failed;
    }
    const metrics::Headline h = metrics::headline(key->protocol);
    const GroupMetrics g = store.read_group_metrics(id);
    t.add({std::to_string(id), key->protocol, key->variant.empty() ? "-" : key->variant,
           std::to_string(key->seed), std::to_string(done) + "/" + std::to_string(cells.size()),
           value_text(g, h.uf1), value_text(g, h.uar), state});
  }
  if (!t.empty()) t.print(std::cout);
  std::cout << "recomputed " << written << " of " << groups.size() << " group"
            << (groups.size() == 1 ? "" : "s") << " in " << file << "\n";
  return failed ? 1 : 0;
}

// ---- reading commands ----

// Opens a database for reading. An older schema (e.g. v1 without the views) is first upgraded by opening
// it once for writing, when the file is writable; the migrations only add views and indexes.
}  // namespace

Store open_results_for_reading(const std::string& file) {
  require_results_db(file);
  try {
    return Store::open(file, Store::Mode::ReadOnly);
  } catch (const UserError&) {
    if (::access(file.c_str(), W_OK) != 0) throw;
    const int before = [&] {
      Store rw = Store::open(file);  // migrates; throws its own clear error for foreign/newer files
      return rw.user_version();
    }();
    spdlog::info("{}: schema upgraded to version {}", file, before);
    return Store::open(file, Store::Mode::ReadOnly);
  }
}

namespace {

std::string sql_text(const SqlValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "NULL";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", *d);
    return buf;
  }
  return std::get<std::string>(v);
}

std::string opt4(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", *d);
    return buf;
  }
  return std::holds_alternative<std::monostate>(v) ? "-" : sql_text(v);
}

int ls(const std::string& file, bool with_cells) {
  Store store = open_results_for_reading(file);
  Table ex({"ID", "EXPERIMENT", "CREATED", "GROUPS", "CELLS", "QUEUED", "RUNNING", "DONE", "FAILED",
            "INTERRUPTED"});
  store.query(
      "SELECT e.id, e.name, e.created_at, (SELECT count(*) FROM groups g WHERE g.experiment_id = e.id), "
      "count(c.id), sum(c.status = 'queued'), sum(c.status = 'running'), sum(c.status = 'done'), "
      "sum(c.status = 'failed'), sum(c.status = 'interrupted') "
      "FROM experiments e LEFT JOIN groups g ON g.experiment_id = e.id LEFT JOIN cells c ON c.group_id = "
      "g.id "
      "GROUP BY e.id ORDER BY e.id",
      {}, [&](const std::vector<SqlValue>& r) {
        std::vector<std::string> row;
        for (const auto& v : r) row.push_back(std::holds_alternative<std::monostate>(v) ? "0" : sql_text(v));
        ex.add(row);
      });
  if (ex.empty()) {
    std::cout << file << ": no experiments\n";
    return 0;
  }
  std::cout << "experiments\n";
  ex.print(std::cout);
  Table gt({"GROUP", "EXPERIMENT", "PROTOCOL", "METHOD", "POINT", "SEED", "CELLS", "DONE", "FAILED", "OTHER",
            "HEADLINE UF1", "HEADLINE UAR"});
  store.query(
      "SELECT group_id, experiment, protocol, IFNULL(backbone, '?') || ' + ' || IFNULL(regularizer, '?') || "
      "' + ' "
      "|| IFNULL(augmenter, '?') || CASE WHEN variant <> '' THEN ' [' || variant || ']' ELSE '' END, "
      "point_index, seed, cells, cells_done, "
      "(SELECT count(*) FROM cells c WHERE c.group_id = gs.group_id AND c.status = 'failed'), "
      "cells - cells_done - (SELECT count(*) FROM cells c WHERE c.group_id = gs.group_id AND c.status = "
      "'failed'), "
      "headline_uf1, headline_uar, oracle FROM group_summary gs ORDER BY group_id",
      {}, [&](const std::vector<SqlValue>& r) {
        std::vector<std::string> row;
        for (size_t i = 0; i < 10; ++i) row.push_back(sql_text(r[i]));
        if (std::get<int64_t>(r[12]) != 0) row[3] += " (oracle)";
        row.push_back(opt4(r[10]));
        row.push_back(opt4(r[11]));
        gt.add(row);
      });
  std::cout << "\ngroups (headline: pooled for loso/kfold_subject, mean over targets for lodo/hde)\n";
  gt.print(std::cout);
  if (with_cells) {
    Table ct({"CELL", "IDENTITY", "GROUP", "FOLD", "TARGET", "STATUS", "UF1", "UAR", "SOURCE-VAL", "ERROR"});
    store.query(
        "SELECT cell_id, substr(identity, 1, 12), group_id, fold_id, target, status, uf1, uar, "
        "source_val_uf1, "
        "IFNULL(substr(error, 1, 60), '') FROM cell_summary ORDER BY cell_id",
        {}, [&](const std::vector<SqlValue>& r) {
          ct.add({sql_text(r[0]), sql_text(r[1]), sql_text(r[2]), sql_text(r[3]), sql_text(r[4]),
                  sql_text(r[5]), opt4(r[6]), opt4(r[7]), opt4(r[8]), sql_text(r[9])});
        });
    std::cout << "\ncells\n";
    ct.print(std::cout);
  }
  return 0;
}

// CELL = numeric id, full identity or a unique identity prefix.
}  // namespace

std::string resolve_cell(const Store& store, const std::string& cell) {
  std::vector<std::string> found;
  const bool numeric = !cell.empty() && cell.find_first_not_of("0123456789") == std::string::npos;
  if (numeric)
    store.query("SELECT identity FROM cells WHERE id = ?1", {static_cast<int64_t>(std::stoll(cell))},
                [&](const std::vector<SqlValue>& r) { found.push_back(sql_text(r[0])); });
  if (found.empty()) {
    if (numeric && cell.size() < 4) throw UserError("no cell with id " + cell + " in " + store.path());
    if (cell.size() < 4)
      throw UserError("cell '" + cell + "': give a numeric id or at least 4 characters of the identity");
    // Range on the UNIQUE identity index instead of LIKE (which would scan and treat _ and % as patterns).
    store.query(
        "SELECT identity FROM cells WHERE identity >= ?1 AND identity < ?1 || x'ff' ORDER BY identity LIMIT "
        "6",
        {cell}, [&](const std::vector<SqlValue>& r) { found.push_back(sql_text(r[0])); });
  }
  if (found.empty()) throw UserError("no cell with id or identity '" + cell + "' in " + store.path());
  if (found.size() > 1) {
    std::string list;
    for (size_t i = 0; i < found.size() && i < 5; ++i) list += "\n  " + found[i];
    throw UserError("cell '" + cell + "' is ambiguous; it starts " +
                    (found.size() > 5 ? "more than 5" : std::to_string(found.size())) +
                    " identities:" + list);
  }
  return found[0];
}

namespace {

int show(const std::string& file, const std::string& cell) {
  Store store = open_results_for_reading(file);
  const std::string identity = resolve_cell(store, cell);
  std::vector<std::string> cols;
  std::cout << "cell\n";
  store.query(
      "SELECT * FROM cell_summary WHERE identity = ?1", {identity},
      [&](const std::vector<SqlValue>& r) {
        for (size_t i = 0; i < r.size(); ++i)
          if (!std::holds_alternative<std::monostate>(r[i]))
            std::cout << "  " << cols[i] << ": " << sql_text(r[i]) << "\n";
      },
      &cols);
  const std::optional<CellResult> res = store.read_cell(identity);
  if (!res) return 0;
  auto plugin = [](const char* kind, const PluginProvenance& p) {
    if (!p.name.empty())
      std::cout << "  " << kind << ": " << p.name << " " << p.version << " (sha256 " << p.sha256.substr(0, 12)
                << ")\n";
  };
  plugin("backbone plugin", res->backbone);
  plugin("regularizer plugin", res->regularizer);
  plugin("augmenter plugin", res->augmenter);
  if (!res->metrics.empty()) {
    Table wm({"SCOPE", "TARGET", "METRIC", "VALUE", "SUPPORT", "REASON"});
    Table pc({"CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"});
    std::map<std::string, std::vector<std::string>> per_class;
    std::vector<std::string> order;
    for (const MetricRow& m : res->metrics) {
      const SqlValue v = m.value ? SqlValue(*m.value) : SqlValue();
      if (!m.class_name) {
        wm.add({to_string(m.scope), m.target.empty() ? "-" : m.target, m.name, opt4(v),
                std::to_string(m.support), m.reason});
        continue;
      }
      auto [it, fresh] = per_class.try_emplace(*m.class_name, std::vector<std::string>{"-", "-", "-", "0"});
      if (fresh) order.push_back(*m.class_name);
      const int col = m.name == "precision" ? 0 : m.name == "recall" ? 1 : m.name == "f1" ? 2 : -1;
      if (col >= 0) it->second[static_cast<size_t>(col)] = opt4(v);
      it->second[3] = std::to_string(m.support);
    }
    for (const auto& c : order) {
      const auto& v = per_class[c];
      pc.add({c, v[0], v[1], v[2], v[3]});
    }
    std::cout << "\nmetrics\n";
    wm.print(std::cout);
    if (!pc.empty()) {
      std::cout << "\nper class\n";
      pc.print(std::cout);
    }
  }
  if (!res->confusion.empty()) {
    std::vector<std::string> classes = {};
    for (const auto& c : res->confusion)
      for (const std::string* n : {&c.true_class, &c.predicted_class})
        if (std::find(classes.begin(), classes.end(), *n) == classes.end()) classes.push_back(*n);
    std::vector<std::string> header = {"TRUE \\ PREDICTED"};
    header.insert(header.end(), classes.begin(), classes.end());
    Table cm(header);
    for (const auto& t : classes) {
      std::vector<std::string> row = {t};
      for (const auto& p : classes) {
        int64_t n = 0;
        for (const auto& c : res->confusion)
          if (c.true_class == t && c.predicted_class == p) n += c.count;
        row.push_back(std::to_string(n));
      }
      cm.add(row);
    }
    std::cout << "\nconfusion (fold)\n";
    cm.print(std::cout);
  }
  if (!res->curves.empty()) {
    std::map<std::string, std::vector<const CurvePoint*>> curves;
    std::vector<std::string> order;
    for (const auto& p : res->curves) {
      if (!curves.count(p.name)) order.push_back(p.name);
      curves[p.name].push_back(&p);
    }
    Table ct({"CURVE", "EPOCHS", "FIRST", "LAST", "AT CHOSEN EPOCH"});
    for (const auto& n : order) {
      const auto& pts = curves[n];
      std::string at = "-";
      for (const auto* p : pts)
        if (res->chosen_epoch && p->epoch == *res->chosen_epoch) at = opt4(p->value);
      ct.add({n, std::to_string(pts.size()), opt4(pts.front()->value), opt4(pts.back()->value), at});
    }
    std::cout << "\ncurves\n";
    ct.print(std::cout);
  }
  std::cout << "\npredictions: " << res->predictions.size()
            << " (merx db query \"SELECT * FROM predictions WHERE cell_id = " << store.find_cell(identity)->id
            << "\")\n";
  if (!res->artifacts.empty()) {
    std::cout << "artifacts:";
    for (const auto& a : res->artifacts) std::cout << " " << a.name;
    std::cout << "\n";
  }
  return 0;
}

int query(const std::string& file, const std::string& sql, const std::string& format) {
  if (format != "table" && format != "csv" && format != "json")
    throw UserError("unknown format '" + format + "'; use table, csv or json");
  Store store = open_results_for_reading(file);
  std::vector<std::string> cols;
  std::vector<std::vector<SqlValue>> rows;
  try {
    store.query(
        sql, {}, [&](const std::vector<SqlValue>& r) { rows.push_back(r); }, &cols);
  } catch (const SqlRefused& e) {
    throw UserError(std::string("merx db query: ") + e.what());
  } catch (const StoreError& e) {
    throw UserError(std::string("merx db query: ") + e.what());  // e.g. attempt to write a readonly database
  }
  if (format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json o = nlohmann::json::object();
      for (size_t i = 0; i < cols.size(); ++i) {
        const SqlValue& v = r[i];
        if (std::holds_alternative<std::monostate>(v))
          o[cols[i]] = nullptr;
        else if (const auto* x = std::get_if<int64_t>(&v))
          o[cols[i]] = *x;
        else if (const auto* d = std::get_if<double>(&v))
          o[cols[i]] = *d;
        else
          o[cols[i]] = std::get<std::string>(v);
      }
      out.push_back(o);
    }
    std::cout << out.dump(2) << "\n";
  } else if (format == "csv") {
    for (size_t i = 0; i < cols.size(); ++i) std::cout << (i ? "," : "") << csv_field(cols[i]);
    std::cout << "\n";
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i)
        std::cout << (i ? "," : "")
                  << (std::holds_alternative<std::monostate>(r[i]) ? "" : csv_field(sql_text(r[i])));
      std::cout << "\n";
    }
  } else {
    Table t(cols);
    for (const auto& r : rows) {
      std::vector<std::string> row;
      for (const auto& v : r) row.push_back(sql_text(v));
      t.add(row);
    }
    if (!cols.empty()) t.print(std::cout);
    std::cerr << rows.size() << " row" << (rows.size() == 1 ? "" : "s") << "\n";
  }
  return 0;
}

struct LeaderboardArgs {
  std::string file, experiment, metric = "uf1", format = "table", output, data_version;
  int bootstrap = 0;
  int decimals = 4;
  uint64_t bootstrap_seed = 0;
  bool oracle = false;
  bool per_class = false;
};

int leaderboard_cmd(const LeaderboardArgs& a) {
  leaderboard::Options opt;
  opt.metrics = leaderboard::parse_metrics(a.metric);  // "uf1,uar": side by side in one table
  opt.metric = opt.metrics.front();
  const leaderboard::Format format = leaderboard::parse_format(a.format);
  if (!a.experiment.empty()) opt.experiment = a.experiment;
  if (a.bootstrap < 0) throw UserError("--bootstrap must be >= 0");
  if (a.decimals < 0 || a.decimals > leaderboard::kMaxDecimals)  // before the build, which may take a while
    throw UserError("--decimals " + std::to_string(a.decimals) + ": must be between 0 and " +
                    std::to_string(leaderboard::kMaxDecimals));
  opt.bootstrap = a.bootstrap;
  opt.bootstrap_seed = a.bootstrap_seed;
  opt.oracle = a.oracle;
  opt.data_version = a.data_version;
  Store store = open_results_for_reading(a.file);
  const leaderboard::Leaderboard lb = leaderboard::build(store, opt);
  if (lb.tables.empty() && opt.experiment) {
    bool known = false;
    store.query("SELECT 1 FROM experiments WHERE name = ?1", {*opt.experiment},
                [&](const std::vector<SqlValue>&) { known = true; });
    if (!known) {
      std::vector<std::string> names;
      store.query("SELECT DISTINCT name FROM experiments ORDER BY name", {},
                  [&](const std::vector<SqlValue>& r) { names.push_back(std::get<std::string>(r[0])); });
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      throw UserError("no experiment named '" + *opt.experiment + "' in " + a.file +
                      did_you_mean(*opt.experiment, names) + " (experiments: " + (list.empty() ? "none" : list) +
                      ")");
    }
  }
  leaderboard::RenderOptions ro;
  ro.decimals = a.decimals;
  const std::string text = a.per_class
                               ? leaderboard::render_per_class(leaderboard::per_class(store, lb), format, ro)
                               : leaderboard::render(lb, format, ro);
  if (a.output.empty()) {
    std::cout << text;
  } else {
    std::ofstream out(a.output, std::ios::binary);
    if (!out) throw UserError("cannot write " + a.output);
    out << text;
  }
  return 0;
}
}  // namespace

void add_db_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("db", "Maintain a results database");
  cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* rc = cmd->add_subcommand(
      "recompute",
      "Recompute every group's pooled, per-target and mean metrics from its cells' stored results");
  rc->add_option("--db", *file, "Results database (SQLite file written by merx run)")->required();
  rc->callback([file, &action] { action = [file] { return recompute(*file); }; });

  auto ls_args = std::make_shared<std::pair<std::string, bool>>();
  auto* lsc = cmd->add_subcommand("ls", "List experiments and groups with cell status counts");
  lsc->add_option("--db", ls_args->first, "Results database")->required();
  lsc->add_flag("--cells", ls_args->second, "Also list every cell");
  lsc->callback([ls_args, &action] { action = [ls_args] { return ls(ls_args->first, ls_args->second); }; });

  auto show_args = std::make_shared<std::pair<std::string, std::string>>();
  auto* sh = cmd->add_subcommand("show", "Show one cell: row, metrics, confusion, curves");
  sh->add_option("cell", show_args->second, "Cell: numeric id, identity or identity prefix (>= 4 characters)")
      ->required();
  sh->add_option("--db", show_args->first, "Results database")->required();
  sh->callback(
      [show_args, &action] { action = [show_args] { return show(show_args->first, show_args->second); }; });

  auto q_args = std::make_shared<std::array<std::string, 3>>();
  (*q_args)[2] = "table";
  auto* q =
      cmd->add_subcommand("query", "Run one read-only SQL statement (tables and views: docs/database.md)");
  q->add_option("sql", (*q_args)[1], "The SQL statement (SELECT/WITH/read-only PRAGMA)")->required();
  q->add_option("--db", (*q_args)[0], "Results database")->required();
  q->add_option("--format", (*q_args)[2], "table | csv | json")->capture_default_str();
  q->callback(
      [q_args, &action] { action = [q_args] { return query((*q_args)[0], (*q_args)[1], (*q_args)[2]); }; });

  auto lb = std::make_shared<LeaderboardArgs>();
  auto* l = cmd->add_subcommand(
      "leaderboard",
      "Leaderboards per protocol and dataset list: source-validation-selected sweep points, mean ± SE");
  l->add_option("--db", lb->file, "Results database")->required();
  l->add_option("--experiment", lb->experiment, "Only this experiment (spec name)");
  l->add_option("--metric", lb->metric, "uf1 | uar | acc, or a comma list (uf1,uar) shown side by side")
      ->capture_default_str();
  l->add_option("--format", lb->format, "table | md | csv | latex | json")->capture_default_str();
  l->add_option("--decimals", lb->decimals, "Digits after the point in table, md and latex output (0-10)")
      ->capture_default_str();
  l->add_option("--bootstrap", lb->bootstrap, "Resamples for a stratified bootstrap 95 % interval (0 = none)")
      ->capture_default_str();
  l->add_option("--bootstrap-seed", lb->bootstrap_seed, "Seed of the bootstrap resampling")
      ->capture_default_str();
  l->add_flag("--per-class", lb->per_class,
              "Instead: per-class F1 of the selected rows (methods x target classes), same formats");
  l->add_flag("--oracle", lb->oracle, "Also show tables of oracle-selected runs (test data chose the epoch)");
  l->add_option("--data-version", lb->data_version,
                "Data version to show (a prefix; default the newest) or all (each version its own table)");
  l->add_option("-o,--output", lb->output, "Write to this file instead of standard output");
  l->callback([lb, &action] { action = [lb] { return leaderboard_cmd(*lb); }; });

  add_db_compare_commands(*cmd, action);  // compare, merge, export (db_compare_cmd.cpp)
  add_db_models_commands(*cmd, action);   // models list|prune (db_models_cmd.cpp)
}

}  // namespace merx::cli
