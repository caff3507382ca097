// The tiny generated corpus and scratch folder shared by the engine's end-to-end tests (run_test.cpp,
// sched_test.cpp), and their spec helpers: datasets alpha (12 clips), beta (6), gamma (6), each clip 6 frames of a shifted 32 x 32
// gray pattern whose motion direction is its class (negative right, positive down, surprise up-left).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../preprocessing/fixtures.h"
#include "merx/plugins/registry.h"
#include "merx/spec/plan.h"
#include "merx/spec/spec.h"

namespace merx::test::engine {

namespace fs = std::filesystem;

/// A fresh folder under the temporary directory, removed with the object.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(fs::temp_directory_path() / ("merx_engine_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

/// Single-quoted for a shell command line.
inline std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

/// Clips per class and subject of each dataset (2 subjects, 3 classes).
inline const std::map<std::string, int> kClipsPerClass = {{"alpha", 2}, {"beta", 1}, {"gamma", 1}};

/// <dir>/<dataset>/frames/<clip>/img1..6.png (32 x 32 gray, apex frame 4) and <dir>/<dataset>/annotations.csv
/// (manifest adapter). Returns false when a frame cannot be written.
inline bool write_corpus(const fs::path& dir) {
  const std::map<std::string, std::pair<double, double>> motion = {
      {"negative", {0.5, 0.0}}, {"positive", {0.0, 0.5}}, {"surprise", {-0.4, -0.4}}};
  for (const auto& [ds, per_class] : kClipsPerClass) {
    fs::create_directories(dir / ds);
    std::ofstream csv(dir / ds / "annotations.csv");
    csv << "subject,clip,frames,onset,apex,offset,label\n";
    for (int subject = 1; subject <= 2; ++subject)
      for (const auto& [label, m] : motion)
        for (int k = 0; k < per_class; ++k) {
          const std::string clip = "s" + std::to_string(subject) + "_" + label + std::to_string(k);
          const fs::path folder = dir / ds / "frames" / clip;
          fs::create_directories(folder);
          for (int f = 0; f < 6; ++f) {
            const double step = f * (1.0 + 0.1 * subject + 0.05 * k);
            cv::Mat frame;
            merx::test::shifted(32, m.first * step + subject, m.second * step + k).convertTo(frame, CV_8UC1, 255.0);
            if (!cv::imwrite((folder / ("img" + std::to_string(f + 1) + ".png")).string(), frame)) return false;
          }
          csv << "s" << subject << "," << clip << ",frames/" << clip << ",1,4,6," << label << "\n";
        }
  }
  return true;
}

/// The spec's `datasets` array for the corpus written by write_corpus(dir).
inline nlohmann::json corpus_datasets(const fs::path& dir) {
  nlohmann::json datasets = nlohmann::json::array();
  for (const auto& [ds, n] : kClipsPerClass)
    datasets.push_back({{"name", ds},
                        {"adapter", "manifest"},
                        {"root", (dir / ds).string()},
                        {"annotations", (dir / ds / "annotations.csv").string()},
                        {"options", {{"cropped", true}}}});
  return datasets;
}

/// LODO over the corpus of write_corpus(dir) with ststnet, 2 epochs, megc3 labels, results in `output`.
inline nlohmann::json lodo_spec(const fs::path& dir, const std::string& output, const std::string& name) {
  return {{"name", name},
          {"datasets", corpus_datasets(dir)},
          {"labels", {{"name", "megc3"}}},
          {"recipe",
           {{"name", "flow_strain"}, {"params", {{"size", 28}, {"flow_size", 32}, {"flow", "farneback"}}}}},
          {"protocol", {{"name", "lodo"}}},
          {"backbone", {{"name", "ststnet"}}},
          {"training", {{"epochs", 2}, {"batch", 2}, {"lr", 0.01}, {"threads_per_cell", 1}}},
          {"seeds", 1},
          {"output", output}};
}

/// Writes `s` to dir/file (pretty JSON) and returns the path.
inline fs::path write_spec(const fs::path& dir, const std::string& file, const nlohmann::json& s) {
  std::ofstream(dir / file) << s.dump(2);
  return dir / file;
}

/// The plan of a spec file with the build tree's plugins and the engine's test plugins only.
inline merx::Plan plan_of(const fs::path& spec_file) {
  merx::DiscoveryOptions o;
  o.default_dirs = false;
  o.environment = false;
  o.extra_dirs = {std::string(MERX_BINARY_DIR) + "/plugins", std::string(MERX_TEST_PLUGIN_DIR) + "/engine"};
  return merx::make_plan(merx::load_spec(spec_file), merx::PluginRegistry::discover(o));
}

}  // namespace merx::test::engine
