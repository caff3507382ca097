// merx — entry point. Parses `merx <noun> [<verb>] [args]`, sets up logging, runs the chosen command and
// maps failures to exit codes: 0 ok, 1 runtime failure, 2 user error (bad spec, arguments or plugin).
#include <cstdio>
#include <algorithm>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "merx/errors.h"
#include "merx/suggest.h"

namespace {

void setup_logging(int verbose, bool quiet) {
  auto logger = spdlog::stderr_color_mt("merx");
  logger->set_pattern("merx: %^%l%$: %v");
  logger->set_level(quiet ? spdlog::level::err : verbose >= 2 ? spdlog::level::trace
                                             : verbose == 1   ? spdlog::level::debug
                                                              : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"merx: cross-dataset micro-expression recognition experiments (spec -> cells -> results)"};
  app.name("merx");
  app.require_subcommand(0, 1);
  app.fallthrough();  // global flags may follow the noun: `merx plugins -v`

  int verbose = 0;
  bool quiet = false;
  bool version = false;
  app.add_flag("-v,--verbose", verbose, "More log output (repeat for trace)");
  app.add_flag("-q,--quiet", quiet, "Only errors on stderr");
  app.add_flag("--version", version, "Print version, git commit, LibTorch/OpenCV versions and CUDA availability");

  merx::cli::Action action;
  merx::cli::add_plugins_command(app, action);
  merx::cli::add_validate_command(app, action);
  merx::cli::add_plan_command(app, action);
  merx::cli::add_datasets_command(app, action);
  merx::cli::add_prep_command(app, action);
  merx::cli::add_cache_command(app, action);
  merx::cli::add_synth_command(app, action);
  merx::cli::add_db_command(app, action);
  merx::cli::add_run_command(app, action);
  merx::cli::add_slurm_command(app, action);
  merx::cli::add_report_command(app, action);
  merx::cli::add_predict_command(app, action);

  // The first word that is not an option must be a noun; say so plainly (with a did-you-mean) instead of
  // CLI11's "arguments were not expected", and name the nouns that later versions add.
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    std::vector<std::string> nouns;
    for (const auto* sub : app.get_subcommands({})) nouns.push_back(sub->get_name());
    if (std::find(nouns.begin(), nouns.end(), word) != nouns.end()) break;
    static const std::vector<std::string> planned = {};  // nouns announced in README but not built yet
    if (std::find(planned.begin(), planned.end(), word) != planned.end()) {
      std::cerr << "merx: error: `merx " << word << "` is not available yet in this version (see README, Status)\n";
    } else {
      std::string list;
      for (const auto& n : nouns) list += (list.empty() ? "" : ", ") + n;
      std::cerr << "merx: error: unknown command `" << word << "`" << merx::did_you_mean(word, nouns)
                << " (commands: " << list << ")\n";
    }
    return 2;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A noun that needs a verb (`merx datasets`) shows its own help.
    for (const auto* sub : app.get_subcommands()) {
      if (sub->get_require_subcommand_min() > 0 && sub->get_subcommands().empty()) {
        std::cerr << "merx: error: `merx " << sub->get_name() << "` needs a subcommand\n\n" << sub->help();
        return 2;
      }
    }
    std::cerr << "merx: error: ";
    app.exit(e, std::cerr, std::cerr);  // CLI11's message and usage hint
    return 2;
  }

  setup_logging(verbose, quiet);
  if (version) {
    merx::cli::print_version();
    return 0;
  }
  if (!action) {
    std::cout << app.help();
    return 0;
  }
  try {
    return action();
  } catch (const merx::ValidationError& e) {
    for (const auto& p : e.problems()) spdlog::error("{}", p.format());
    spdlog::error("{} problem{} found", e.problems().size(), e.problems().size() == 1 ? "" : "s");
    return 2;
  } catch (const merx::UserError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
