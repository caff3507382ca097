// `merx slurm SPEC [--partition P] [--gpus-per-task G] [--cpus-per-task C] [--time T] [--shards N]
// [--workdir DIR] [--output DB] [--threads-per-cell T] [--cache DIR] [--rerun-failed] [--submit]
// [--set path=value]...`: hands a sweep to a Slurm cluster (docs/cluster.md). Writes into DIR:
//   run.sbatch    a job array, one task per unfinished shard i: `merx run SPEC --shard i/N --output
//                 DIR/shards/i.sqlite` (its exit code goes to DIR/status/i);
//   merge.sbatch  `merx db merge OUTPUT DIR/shards/*.sqlite`, then one line per shard that did not end
//                 cleanly (no status = killed or timed out; 1 = some cells failed; 130 = interrupted);
//   submit.sh     sbatch run.sbatch, then sbatch --dependency=afterany:<array job> merge.sbatch.
// --submit runs submit.sh. Resubmitting after a failure reruns only what is not done: shards whose cells are
// all finished in their database are left out of the array, and each task's `merx run` skips done cells.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/spec_common.h"
#include "merx/engine/run.h"
#include "merx/errors.h"
#include "merx/store/store.h"

namespace merx::cli {
namespace {

namespace fs = std::filesystem;

struct SlurmArgs {
  SpecArgs spec;
  std::string partition, time, workdir, output, cache;
  int gpus_per_task = 0, cpus_per_task = 1, shards = 0, threads_per_cell = 1;
  bool submit = false, rerun_failed = false;
};

// POSIX shell single quoting.
std::string sh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

fs::path self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path("merx") : p;
}

// True when every cell of the shard is finished (done; or failed unless failed ones are to be rerun) in
// its database.
// A shard is finished when each of its cells is done (or failed, without --rerun-failed) in its shard
// database or already in the output database (a spec run before, locally or by an earlier merge).
bool shard_finished(const Plan& plan, const engine::Shard& shard, const fs::path& db, const fs::path& output,
                    bool rerun_failed) {
  std::vector<Store> stores;
  for (const fs::path& f : {db, output}) {
    if (!fs::exists(f)) continue;
    try {
      stores.push_back(Store::open(f.string(), Store::Mode::ReadOnly));
    } catch (const std::exception&) {
      // unreadable: does not count
    }
  }
  for (size_t i : engine::shard_cells(plan, shard)) {
    bool finished = false;
    for (const Store& store : stores) {
      const auto st = store.cell_status(plan.cells[i].identity);
      if (st && (*st == CellStatus::Done || (*st == CellStatus::Failed && !rerun_failed))) finished = true;
    }
    if (!finished) return false;
  }
  return true;
}

void write_file(const fs::path& p, const std::string& text, bool executable) {
  std::ofstream f(p);
  f << text;
  f.close();
  if (!f) throw UserError("cannot write " + p.string());
  if (executable)
    fs::permissions(p, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
}

int run(const SlurmArgs& a) {
  const Plan plan = plan_from_args(a.spec);
  if (plan.cells.empty()) throw UserError(a.spec.file + ": the spec has no cells");
  const size_t n_cells = plan.cells.size();
  const size_t n = a.shards > 0 ? static_cast<size_t>(a.shards) : std::min<size_t>(n_cells, 16);
  if (n > n_cells)
    throw UserError("--shards " + std::to_string(n) + ": the spec has only " + std::to_string(n_cells) + " cells");
  const fs::path spec = fs::absolute(a.spec.file);
  const fs::path output = fs::absolute(a.output.empty() ? plan.output : fs::path(a.output));
  fs::path dir = a.workdir.empty() ? output.parent_path() / (output.stem().string() + ".slurm") : fs::path(a.workdir);
  dir = fs::absolute(dir);
  for (const char* sub : {"shards", "status", "logs"}) fs::create_directories(dir / sub);
  Store::check_output(output.string());
  const fs::path merx = self_exe();

  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i)
    if (!shard_finished(plan, {i, n}, dir / "shards" / (std::to_string(i) + ".sqlite"), output, a.rerun_failed))
      todo.push_back(i);

  std::string sets;
  for (const auto& s : a.spec.sets) sets += " --set " + sh(s);
  if (a.spec.allow_large) sets += " --allow-large";  // each shard expands the whole spec again
  const int jobs = std::max(1, a.cpus_per_task / std::max(1, a.threads_per_cell));
  auto header = [&](const std::string& name, const std::string& log) {
    std::string h = "#!/bin/bash\n#SBATCH --job-name=" + name + "\n#SBATCH --output=" + log + "\n";
    if (!a.partition.empty()) h += "#SBATCH --partition=" + a.partition + "\n";
    if (!a.time.empty()) h += "#SBATCH --time=" + a.time + "\n";
    return h;
  };
  std::string array;
  for (size_t i : todo) array += (array.empty() ? "" : ",") + std::to_string(i);

  // The array: one task per unfinished shard.
  std::string run = header("merx-" + plan.name, (dir / "logs" / "shard-%a.log").string());
  run += "#SBATCH --array=" + (array.empty() ? std::string("0") : array) + "\n";
  run += "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=" + std::to_string(a.cpus_per_task) + "\n";
  if (a.gpus_per_task > 0) run += "#SBATCH --gpus-per-task=" + std::to_string(a.gpus_per_task) + "\n";
  run += "# Written by `merx slurm` for " + spec.string() + " (" + std::to_string(n_cells) + " cells, " +
         std::to_string(n) + " shards). Rerunning a task only runs its cells that are not done.\n";
  run += "set -u\ncd " + sh(fs::current_path().string()) + "\n";
  run += "i=${SLURM_ARRAY_TASK_ID}\nrm -f " + sh((dir / "status").string()) + "/$i\n";
  run += sh(merx.string()) + " run " + sh(spec.string()) + sets + " --shard \"$i/" + std::to_string(n) +
         "\" --output " + sh((dir / "shards").string()) + "/$i.sqlite --jobs " + std::to_string(jobs) +
         " --threads-per-cell " + std::to_string(a.threads_per_cell) +
         (a.cache.empty() ? "" : " --cache " + sh(fs::absolute(a.cache).string())) +
         (a.rerun_failed ? " --rerun-failed" : "") + "\nrc=$?\necho $rc > " + sh((dir / "status").string()) +
         "/$i\nexit $rc\n";
  write_file(dir / "run.sbatch", run, true);

  // The merge: every shard database there is into the output, then a report of the shards.
  std::string merge = header("merx-" + plan.name + "-merge", (dir / "logs" / "merge.log").string());
  merge += "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n";
  merge += "set -u\nn=" + std::to_string(n) + "\nstatus=" + sh((dir / "status").string()) +
           "\nshards=()\nfor ((i = 0; i < n; i++)); do\n  f=" + sh((dir / "shards").string()) +
           "/$i.sqlite\n  [ -s \"$f\" ] && shards+=(\"$f\")\ndone\n";
  merge += "rc=0\nif [ ${#shards[@]} -gt 0 ]; then\n  " + sh(merx.string()) + " db merge " + sh(output.string()) +
           " \"${shards[@]}\" || rc=1\nelse\n  echo \"merx slurm: no shard database to merge\"; rc=1\nfi\n";
  merge += "for ((i = 0; i < n; i++)); do\n"
           "  if [ ! -f \"$status/$i\" ]; then echo \"merx slurm: shard $i/$n FAILED: it did not finish (killed, timed "
           "out or never started); resubmit\"; rc=1\n"
           "  else s=$(cat \"$status/$i\"); case \"$s\" in\n"
           "    0) ;;\n"
           "    1) echo \"merx slurm: shard $i/$n: some cells failed (reasons in the database; --rerun-failed "
           "retries)\"; rc=1 ;;\n"
           "    130) echo \"merx slurm: shard $i/$n FAILED: interrupted (time limit?); resubmit\"; rc=1 ;;\n"
           "    *) echo \"merx slurm: shard $i/$n FAILED: merx run exited with $s (see logs/shard-$i.log)\"; rc=1 ;;\n"
           "  esac; fi\ndone\n";
  merge += "[ $rc -eq 0 ] && echo \"merx slurm: all $n shards done, merged into " + output.string() + "\"\nexit $rc\n";
  write_file(dir / "merge.sbatch", merge, true);

  std::string submit = "#!/bin/bash\n# Written by `merx slurm`: the array, then the merge once every task has ended.\nset -eu\n";
  if (!todo.empty())
    submit += "array=$(sbatch --parsable " + sh((dir / "run.sbatch").string()) + ")\narray=${array%%;*}\n"
              "echo \"array job $array (" + std::to_string(todo.size()) + " shard" + (todo.size() == 1 ? "" : "s") +
              ")\"\nmerge=$(sbatch --parsable --dependency=afterany:$array " + sh((dir / "merge.sbatch").string()) +
              ")\n";
  else
    submit += "merge=$(sbatch --parsable " + sh((dir / "merge.sbatch").string()) + ")\n";
  submit += "merge=${merge%%;*}\necho \"merge job $merge\"\n";
  write_file(dir / "submit.sh", submit, true);

  std::cout << plan.name << ": " << n_cells << " cells in " << n << " shards; " << todo.size()
            << " shard" << (todo.size() == 1 ? "" : "s") << " to run"
            << (todo.size() < n ? " (" + std::to_string(n - todo.size()) + " finished)" : "") << "\n"
            << "wrote " << (dir / "run.sbatch").string() << ", " << (dir / "merge.sbatch").string() << ", "
            << (dir / "submit.sh").string() << "\nresults: " << output.string() << "\n";
  if (!a.submit) {
    std::cout << "submit with: " << (dir / "submit.sh").string() << "  (or merx slurm ... --submit)\n";
    return 0;
  }
  std::cout.flush();
  const int rc = std::system(sh((dir / "submit.sh").string()).c_str());
  if (rc != 0) throw std::runtime_error("submitting with sbatch failed (" + (dir / "submit.sh").string() + ")");
  return 0;
}

}  // namespace

void add_slurm_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("slurm", "Write (and --submit) a Slurm job array running a spec's shards, plus a merge job");
  auto args = std::make_shared<SlurmArgs>();
  add_spec_args(cmd, args->spec);
  cmd->add_option("--partition", args->partition, "Slurm partition (default: the cluster's default)");
  cmd->add_option("--gpus-per-task", args->gpus_per_task, "GPUs per array task (default 0)")->check(CLI::Range(0, 64));
  cmd->add_option("--cpus-per-task", args->cpus_per_task, "CPUs per array task (default 1)")->check(CLI::Range(1, 4096));
  cmd->add_option("--threads-per-cell", args->threads_per_cell,
                  "Torch threads per cell; a task runs cpus-per-task / threads-per-cell cells at once (default 1)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--time", args->time, "Time limit per task (sbatch --time, e.g. 02:00:00)");
  cmd->add_option("--shards", args->shards, "Array tasks (default: min(cells, 16))")->check(CLI::Range(1, 100000));
  cmd->add_option("--workdir", args->workdir, "Folder for scripts, shard databases and logs (default <output>.slurm)");
  cmd->add_option("--output,-o", args->output, "Merged results database (default: the spec's `output`)");
  cmd->add_option("--cache", args->cache, "Feature cache folder the tasks use (a shared file system)");
  cmd->add_flag("--rerun-failed", args->rerun_failed, "Run failed cells again");
  cmd->add_flag("--submit", args->submit, "Submit with sbatch after writing");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace merx::cli
