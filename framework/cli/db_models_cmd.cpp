// `merx db models list|prune` (issue 17; registered by add_db_command in db_cmd.cpp): the saved models of a
// results database (merx/store/model_files.h).
//   list  --db DB [--experiment E] [--variant V] [--format table|csv]
//         one row per cell that references a model: cell id, experiment, variant, seed, fold, target, the
//         epoch model selection chose, the file's hash prefix and size, and whether the file is there
//         (ok, missing, or size differs from cells.model_bytes).
//   prune --db DB [--dry-run]
//         removes the .mxm files of <DB>-models/ that no cell references (left behind when cells were removed
//         or re-run) and leftover temporary files. Files changed in the last hour are kept: a running
//         `merx run` writes a model file just before the transaction that references it.
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <vector>

#include "cli/commands.h"
#include "cli/table.h"
#include "merx/csv.h"
#include "merx/errors.h"
#include "merx/store/model_files.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

namespace fs = std::filesystem;

struct ModelsArgs {
  std::string db, experiment, variant, format = "table";
  bool dry_run = false;
};

std::string value_text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

int list_models(const ModelsArgs& a) {
  const Store store = open_results_for_reading(a.db);
  std::vector<std::vector<std::string>> rows;
  std::set<std::string> referenced;
  size_t missing = 0;
  store.query(
      "SELECT c.id, e.name, g.variant, g.seed, c.fold_id, c.target, c.chosen_epoch, c.model_sha256, "
      "c.model_bytes FROM cells c JOIN groups g ON g.id = c.group_id JOIN experiments e ON e.id = "
      "g.experiment_id WHERE c.model_sha256 IS NOT NULL AND (?1 = '' OR e.name = ?1) AND (?2 = '' OR "
      "g.variant = ?2) ORDER BY c.id",
      {a.experiment, a.variant}, [&](const std::vector<SqlValue>& r) {
        const std::string sha = value_text(r[7]);
        referenced.insert(sha);
        const fs::path file = model_file(a.db, sha);
        std::error_code ec;
        std::string state = "ok";
        if (!fs::is_regular_file(file, ec)) {
          state = "missing";
          ++missing;
        } else if (std::holds_alternative<int64_t>(r[8]) &&
                   fs::file_size(file, ec) != static_cast<uintmax_t>(std::get<int64_t>(r[8]))) {
          state = "size differs";
          ++missing;
        }
        std::vector<std::string> row;
        for (size_t i = 0; i < 7; ++i) row.push_back(value_text(r[i]));
        row.push_back(a.format == "csv" ? sha : sha.substr(0, 12));
        row.push_back(value_text(r[8]));
        row.push_back(state);
        rows.push_back(std::move(row));
      });
  if (a.format == "csv") {
    std::cout << "cell,experiment,variant,seed,fold,target,chosen_epoch,model_sha256,model_bytes,file\n";
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) std::cout << (i ? "," : "") << csv_field(row[i]);
      std::cout << "\n";
    }
    return 0;
  }
  if (rows.empty()) {
    std::cout << "no cell of " << a.db << " references a saved model"
              << (a.experiment.empty() && a.variant.empty() ? "" : " (with these filters)") << "\n";
    return 0;
  }
  Table table({"CELL", "EXPERIMENT", "VARIANT", "SEED", "FOLD", "TARGET", "EPOCH", "MODEL", "BYTES", "FILE"});
  for (auto& row : rows) table.add(std::move(row));
  table.print(std::cout);
  std::cout << rows.size() << " cell(s) reference " << referenced.size() << " model file(s) in "
            << models_dir(a.db).string();
  if (missing) std::cout << "; " << missing << " missing or damaged (merx predict refuses those cells)";
  std::cout << "\n";
  return 0;
}

int prune_models(const ModelsArgs& a) {
  const Store store = open_results_for_reading(a.db);
  std::set<std::string> referenced;
  store.query("SELECT DISTINCT model_sha256 FROM cells WHERE model_sha256 IS NOT NULL", {},
              [&](const std::vector<SqlValue>& r) { referenced.insert(value_text(r[0])); });
  const fs::path dir = models_dir(a.db);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::cout << "no model folder " << dir.string() << ": nothing to prune\n";
    return 0;
  }
  const auto recent = fs::file_time_type::clock::now() - std::chrono::hours(1);
  uintmax_t files = 0, bytes = 0, kept_recent = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const std::string name = e.path().filename().string();
    const bool model = name.size() == 68 && name.compare(64, 4, ".mxm") == 0;
    const bool temporary = name.find(".mxm.tmp") != std::string::npos;
    if (!(model && !referenced.count(name.substr(0, 64))) && !temporary) continue;
    if (e.last_write_time(ec) > recent) {
      ++kept_recent;
      continue;
    }
    const uintmax_t size = e.file_size(ec);
    if (!a.dry_run && !fs::remove(e.path(), ec)) {
      std::cerr << "merx: warning: cannot remove " << e.path().string() << ": " << ec.message() << "\n";
      continue;
    }
    ++files;
    bytes += size;
    if (a.dry_run) std::cout << "would remove " << e.path().string() << "\n";
  }
  std::cout << (a.dry_run ? "would remove " : "removed ") << files << " file(s), " << bytes << " bytes, from "
            << dir.string() << " (" << referenced.size() << " referenced model(s) kept";
  if (kept_recent) std::cout << "; " << kept_recent << " changed in the last hour kept";
  std::cout << ")\n";
  return 0;
}

}  // namespace

void add_db_models_commands(CLI::App& db, Action& action) {
  auto* models = db.add_subcommand("models", "List or prune the saved models of a results database");
  models->require_subcommand(1);
  auto la = std::make_shared<ModelsArgs>();
  auto* l = models->add_subcommand("list", "Cells with a saved model: variant, seed, fold, chosen epoch, file");
  l->add_option("--db", la->db, "Results database")->required();
  l->add_option("--experiment", la->experiment, "Only this experiment (spec name)");
  l->add_option("--variant", la->variant, "Only this variant");
  l->add_option("--format", la->format, "table | csv")->check(CLI::IsMember({"table", "csv"}))->capture_default_str();
  l->callback([la, &action] { action = [la] { return list_models(*la); }; });
  auto pa = std::make_shared<ModelsArgs>();
  auto* p = models->add_subcommand("prune", "Remove model files no cell references (and stale temporaries)");
  p->add_option("--db", pa->db, "Results database")->required();
  p->add_flag("--dry-run", pa->dry_run, "Only say what would be removed");
  p->callback([pa, &action] { action = [pa] { return prune_models(*pa); }; });
}

}  // namespace merx::cli
