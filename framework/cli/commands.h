// The merx CLI: one file per noun (`merx <noun> [<verb>] [args]`), each registering its subcommand here.
// A command's parse step only records what to run; main() runs it and maps exceptions to exit codes
// (0 ok, 1 runtime failure, 2 user error — merx::UserError and CLI argument errors).
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace merx {
class Store;
}

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
/// `merx db compare|merge|export` (db_compare_cmd.cpp), added to the `db` subcommand by add_db_command.
void add_db_compare_commands(CLI::App& db, Action& action);
/// `merx db models list|prune` (db_models_cmd.cpp), added to the `db` subcommand by add_db_command.
void add_db_models_commands(CLI::App& db, Action& action);
/// Opens an existing results database read-only, upgrading an older schema first when the file is
/// writable (db_cmd.cpp). UserError for a missing file (require_results_db) or one that is not a merx database.
merx::Store open_results_for_reading(const std::string& file);
/// UserError naming the file and where results databases come from, when `file` is not a file.
void require_results_db(const std::string& file);
/// The identity (64 hex) of the cell named by `cell`: a numeric cells.id, or a unique prefix (>= 4 characters)
/// of its identity (db_cmd.cpp). UserError when none matches or the prefix is ambiguous (up to 5 listed).
std::string resolve_cell(const merx::Store& store, const std::string& cell);
void add_run_command(CLI::App& app, Action& action);
/// `merx predict` (predict_cmd.cpp): a stored cell's saved model applied to clips.
void add_predict_command(CLI::App& app, Action& action);
/// `merx slurm` (slurm_cmd.cpp): sbatch job array over `merx run --shard`, plus a merge job.
void add_slurm_command(CLI::App& app, Action& action);
void add_report_command(CLI::App& app, Action& action);

/// `merx --version`: version, git commit, LibTorch/OpenCV versions, CUDA availability.
void print_version();

}  // namespace merx::cli
