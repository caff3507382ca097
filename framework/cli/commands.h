// The merx CLI: one file per noun (`merx <noun> [<verb>] [args]`), each registering its subcommand here.
// A command's parse step only records what to run; main() runs it and maps exceptions to exit codes
// (0 ok, 1 runtime failure, 2 user error — merx::UserError and CLI argument errors).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace merx::cli {

using Action = std::function<int()>;

void add_plugins_command(CLI::App& app, Action& action);
void add_validate_command(CLI::App& app, Action& action);
void add_plan_command(CLI::App& app, Action& action);
void add_datasets_command(CLI::App& app, Action& action);
void add_prep_command(CLI::App& app, Action& action);
void add_cache_command(CLI::App& app, Action& action);
void add_synth_command(CLI::App& app, Action& action);
void add_db_command(CLI::App& app, Action& action);
void add_run_command(CLI::App& app, Action& action);

/// `merx --version`: version, git commit, LibTorch/OpenCV versions, CUDA availability.
void print_version();

}  // namespace merx::cli
