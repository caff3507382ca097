// `merx db recompute --db FILE`: recomputes every group's own metrics (pooled, per target, fold and target
// means; docs/methods.md §2) from what its cells stored, and prints each group's headline figure.
// Groups with a cell that is not done are left as they are. Exit 0; 1 when a group's stored rows are
// inconsistent (named); 2 for a file that is missing or not a merx results database.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/table.h"
#include "merx/errors.h"
#include "merx/metrics/metrics.h"
#include "merx/store/store.h"

namespace merx::cli {
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
  if (!std::filesystem::is_regular_file(file)) throw UserError("results database " + file + " does not exist");
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
    t.add({std::to_string(id), key->protocol, key->variant.empty() ? "-" : key->variant, std::to_string(key->seed),
           std::to_string(done) + "/" + std::to_string(cells.size()), value_text(g, h.uf1), value_text(g, h.uar),
           state});
  }
  if (!t.empty()) t.print(std::cout);
  std::cout << "recomputed " << written << " of " << groups.size() << " group" << (groups.size() == 1 ? "" : "s")
            << " in " << file << "\n";
  return failed ? 1 : 0;
}

}  // namespace

void add_db_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("db", "Maintain a results database");
  cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* rc = cmd->add_subcommand(
      "recompute", "Recompute every group's pooled, per-target and mean metrics from its cells' stored results");
  rc->add_option("--db", *file, "Results database (SQLite file written by merx run)")->required();
  rc->callback([file, &action] { action = [file] { return recompute(*file); }; });
}

}  // namespace merx::cli
