// The tiny demo corpus the synth tests share, and small readers that do not use the generator's code.
// The corpus is generated once per build of the test binary (seed 7, one thread) into
// <build>/tests/synth/corpus-<stamp> and reused by the other test processes (ctest runs each case alone).
// The face sources come from <cache>/faces (tools/fetch-faces; MERX_FACES_DIR overrides); when one is
// missing the tests fail, naming the command that fetches them: tests never download anything.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "merx/synth/synth.h"

namespace merx::test {

namespace fs = std::filesystem;

inline constexpr uint64_t kTinySeed = 7;

/// MERX_TEST_VERBOSE set and non-empty: tests print the figures they check (MESSAGE).
inline bool verbose() {
  const char* v = std::getenv("MERX_TEST_VERBOSE");
  return v && *v;
}

/// The face-source folder; FAILs the current test (with the command to run) when a source is missing.
inline fs::path faces_dir() {
  const char* env = std::getenv("MERX_FACES_DIR");
  const fs::path dir = env && *env ? fs::path(env) : synth::default_sources_dir();
  for (const auto& f : synth::source_files())
    if (!fs::exists(dir / f))
      FAIL("face source "
           << (dir / f).string()
           << " is missing: run tools/fetch-faces (tools/bootstrap does) before the synth tests");
  return dir;
}

/// A corpus generated on first use in this build into <build>/tests/synth/corpus-<stamp>[-<preset>]
/// (seed 7) and shared by the test processes of this build.
inline fs::path build_corpus(const std::string& preset, int threads) {
  std::error_code ec;
  const auto stamp = std::to_string(fs::last_write_time("/proc/self/exe", ec).time_since_epoch().count());
  const fs::path base = fs::path(MERX_BINARY_DIR) / "tests" / "synth";
  const std::string name = "corpus-" + stamp + (preset == "tiny" ? "" : "-" + preset);
  const fs::path dir = base / name;
  if (fs::exists(dir / "synth.json")) return dir;
  const fs::path sources = faces_dir();
  for (const auto& e : fs::directory_iterator(base, ec)) {  // corpora of earlier builds
    const std::string f = e.path().filename().string();
    if (f.rfind("corpus-", 0) == 0 && f.rfind("corpus-" + stamp, 0) != 0) fs::remove_all(e.path(), ec);
  }
  const fs::path tmp = base / ("tmp-" + preset + "-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  synth::SynthOptions o;
  o.preset = preset;
  o.seed = kTinySeed;
  o.out = tmp;
  o.sources = sources;
  o.threads = threads;
  synth::generate(o);
  fs::rename(tmp, dir, ec);  // another test process may have won the race: then use its copy
  if (ec) fs::remove_all(tmp, ec);
  return dir;
}

/// The shared tiny corpus (generated on first use in this build, one thread).
inline const fs::path& tiny_corpus() {
  static const fs::path root = build_corpus("tiny", 1);
  return root;
}

/// The shared shift_tiny corpus (tiny's sizes and counts with the shift and its twins; two threads).
inline const fs::path& shift_tiny_corpus() {
  static const fs::path root = build_corpus("shift_tiny", 2);
  return root;
}

using CsvRow = std::map<std::string, std::string>;

/// A CSV with a header row and no quoted fields (ground_truth.csv); cells keep their spaces.
inline std::vector<CsvRow> read_csv(const fs::path& file, const std::string& sep = ",") {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in.good(), "cannot read " << file.string());
  auto split = [&](const std::string& line) {
    std::vector<std::string> cells;
    size_t at = 0;
    while (true) {
      const size_t next = line.find(sep, at);
      cells.push_back(line.substr(at, next == std::string::npos ? std::string::npos : next - at));
      if (next == std::string::npos) break;
      at = next + sep.size();
    }
    return cells;
  };
  std::string line;
  std::getline(in, line);
  const auto header = split(line);
  std::vector<CsvRow> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto cells = split(line);
    REQUIRE(cells.size() == header.size());
    CsvRow r;
    for (size_t i = 0; i < header.size(); ++i) r[header[i]] = cells[i];
    rows.push_back(r);
  }
  return rows;
}

/// ground_truth.csv by key (<dataset>/<subject>/<clip>).
inline std::map<std::string, CsvRow> truth_by_key(const fs::path& corpus) {
  std::map<std::string, CsvRow> m;
  for (auto& r : read_csv(corpus / "ground_truth.csv")) m[r["key"]] = r;
  return m;
}

/// AU numbers of a ground-truth row with a non-zero apex intensity.
inline std::vector<int> truth_aus(const CsvRow& r) {
  std::vector<int> aus;
  for (const auto& [k, v] : r)
    if (k.size() == 4 && k.rfind("AU", 0) == 0 && std::stod(v) > 0) aus.push_back(std::stoi(k.substr(2)));
  return aus;
}

inline bool has_au(const CsvRow& r, int au) {
  char name[8];
  std::snprintf(name, sizeof name, "AU%02d", au);
  return std::stod(r.at(name)) > 0;
}

inline std::string slurp_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace merx::test
