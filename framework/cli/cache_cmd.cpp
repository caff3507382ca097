// `merx cache info [--cache DIR]`: entries, size and temporaries per recipe.
// `merx cache gc [--cache DIR] [--older-than DAYS]`: removes entries unused for DAYS (default 30), stale
// temporary files and entries that fail their checks.
#include <iostream>

#include "cli/commands.h"
#include "cli/table.h"
#include "merx/preprocessing/cache.h"

namespace merx::cli {
namespace {

std::filesystem::path cache_root(const std::string& dir) {
  return dir.empty() ? prep::default_cache_dir() : std::filesystem::path(dir);
}

std::string human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

}  // namespace

void add_cache_command(CLI::App& app, Action& action) {
  auto dir = std::make_shared<std::string>();
  auto days = std::make_shared<double>(30);
  auto* cmd = app.add_subcommand("cache", "Inspect or clean the feature cache");
  cmd->require_subcommand(1);
  auto* info = cmd->add_subcommand("info", "Entries and size per recipe");
  info->add_option("--cache", *dir,
                   "Cache folder (default $MERX_CACHE_DIR, $XDG_CACHE_HOME/merx, ~/.cache/merx)");
  info->callback([dir, &action] {
    action = [dir] {
      const auto root = cache_root(*dir);
      const auto st = prep::cache_stats(root);
      std::cout << "cache " << root.string() << ": " << st.entries << " entries, " << human(st.bytes) << ", "
                << st.temporaries << " temporary files\n";
      Table t({"RECIPE", "ENTRIES"});
      for (const auto& [recipe, n] : st.per_recipe) t.add({recipe, std::to_string(n)});
      if (!st.per_recipe.empty()) t.print(std::cout);
      return 0;
    };
  });
  auto* gc = cmd->add_subcommand("gc", "Remove unused, stale temporary and corrupt entries");
  gc->add_option("--cache", *dir, "Cache folder");
  gc->add_option("--older-than", *days, "Remove entries not read or written for this many days")
      ->check(CLI::NonNegativeNumber);
  gc->callback([dir, days, &action] {
    action = [dir, days] {
      const auto root = cache_root(*dir);
      const auto [files, bytes] = prep::cache_gc(root, *days);
      std::cout << "cache " << root.string() << ": removed " << files << " files, " << human(bytes) << "\n";
      return 0;
    };
  });
}

}  // namespace merx::cli
