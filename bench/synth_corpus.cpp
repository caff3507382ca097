// Issue 5: `merx synth --preset default` in under 3 minutes on 2 cores, and the figures of
// docs/demo-corpus.md: clips per domain and class, the generation time on 1 and 2 threads, and a nearest-
// centroid classifier on flow features within each domain (leave-one-subject-out) and across domains
// (trained on the other two). Optionally writes the contact sheet of the docs (onset, apex and flow of one
// clip per class and domain).
//
//   bench_synth_corpus [--preset default] [--out DIR] [--seed N] [--sources DIR] [--no-timing]
//                      [--sheet docs/demo-corpus.png] [--check]
//
// Features: merx prep's flow_uv recipe (dlib landmarks on the onset frame, eye alignment to a 64 px crop,
// TV-L1 onset -> apex, resized to 8 x 8: 128 numbers). Scores: UAR (mean per-class recall) over the megc3
// classes. --check exits 1 when the 2-thread generation takes 180 s or more.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "merx/datasets/load.h"
#include "merx/preprocessing/preprocess.h"
#include "merx/preprocessing/stages.h"
#include "merx/synth/synth.h"
#include "common/nearest_centroid.h"

namespace fs = std::filesystem;
using namespace merx;

namespace {

double generate(const std::string& preset, uint64_t seed, const fs::path& out, const fs::path& sources,
                int threads) {
  synth::SynthOptions o;
  o.preset = preset;
  o.seed = seed;
  o.out = out;
  o.sources = sources;
  o.threads = threads;
  o.replace = true;
  o.warn = [](const std::string& w) { std::cerr << "warning: " << w << "\n"; };
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  const auto s = synth::generate(o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
  for (const auto& d : s.domains) {
    std::cout << "  " << d.name << ": " << d.clips << " clips, " << d.subjects << " subjects, " << d.frames
              << " frames;";
    for (const auto& [k, v] : d.classes) std::cout << " " << k << " " << v;
    std::cout << "\n";
  }
  std::printf("  wall %.1f s, CPU %.1f s (%.2f cores busy)\n", secs, cpu, cpu / secs);
  return secs;
}

std::vector<LoadResult> load(const fs::path& corpus) {
  std::vector<LoadResult> out;
  for (const DatasetSource& s : merx::synth::corpus_sources(corpus)) {
    LoadOptions o;
    o.labels.name = "megc3";
    out.push_back(load_dataset(s, o));
  }
  return out;
}

// Flow as colour: hue = direction, value = magnitude (saturating at `full` pixels).
cv::Mat flow_colour(const cv::Mat& flow, double full) {
  std::vector<cv::Mat> uv;
  cv::split(flow, uv);
  cv::Mat mag, ang;
  cv::cartToPolar(uv[0], uv[1], mag, ang, true);
  cv::Mat hsv[3] = {ang * 0.5, cv::Mat::ones(ang.size(), CV_32F) * 255, cv::min(mag / full, 1.0) * 255};
  cv::Mat merged, out;
  cv::merge(hsv, 3, merged);
  merged.convertTo(merged, CV_8UC3);
  cv::cvtColor(merged, out, cv::COLOR_HSV2BGR);
  return out;
}

cv::Mat tile(const cv::Mat& img, int side) {
  cv::Mat c = img.channels() == 1 ? img : img;
  if (c.channels() == 1) cv::cvtColor(img, c, cv::COLOR_GRAY2BGR);
  const int s = std::min(c.cols, c.rows);
  cv::Mat sq = c(cv::Rect((c.cols - s) / 2, (c.rows - s) / 2, s, s)), out;
  cv::resize(sq, out, cv::Size(side, side), 0, 0, cv::INTER_AREA);
  return out;
}

// One clip per (domain, class), onset | apex | flow, the base faces taken in turn so that all three people
// appear; among the first clips of that face, the one whose onset -> apex flow is strongest.
void contact_sheet(const fs::path& corpus, const std::vector<LoadResult>& all, const fs::path& file) {
  const int side = 72, label_h = 16, label_w = 84;
  const auto& classes = megc3_classes();
  std::map<std::string, std::string> identity;  // key -> identity, from ground_truth.csv
  {
    std::ifstream in(corpus / "ground_truth.csv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::stringstream ss(line);
      for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
      identity[cells.at(4)] = cells.at(10);
    }
  }
  const std::vector<std::string> people = {"collins", "video", "hopper"};
  cv::Mat sheet(label_h + int(all.size()) * side, label_w + int(classes.size()) * 3 * side, CV_8UC3,
                cv::Scalar(255, 255, 255));
  auto text = [&](const std::string& t, int x, int y) {
    cv::putText(sheet, t, cv::Point(x, y), cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1,
                cv::LINE_AA);
  };
  for (size_t c = 0; c < classes.size(); ++c)
    text(classes[c] + ": onset, apex, flow", label_w + int(c) * 3 * side + 4, label_h - 4);
  prep::RecipeConfig config;
  prep::FlowEstimator flow(config);
  for (size_t d = 0; d < all.size(); ++d) {
    text(all[d].dataset, 2, label_h + int(d) * side + side / 2 + 4);
    for (size_t c = 0; c < classes.size(); ++c) {
      const std::string& who = people[(d + c) % people.size()];
      const SampleRecord* best = nullptr;
      double best_m = -1;
      cv::Mat best_flow;
      int seen = 0;
      for (const auto& s : all[d].samples) {
        if (*s.label != classes[c] || identity[s.key] != who || seen++ >= 4) continue;
        const cv::Mat a = prep::read_gray(s.frames.front()), b = prep::read_gray(s.frames.at(*s.apex_index));
        const cv::Mat f = flow.compute(a, b);
        const double m = prep::mean_flow_magnitude(f);
        if (m > best_m) best_m = m, best = &s, best_flow = f;
      }
      if (!best) continue;
      const cv::Mat onset = cv::imread(best->frames.front().string(), cv::IMREAD_COLOR);
      const cv::Mat apex = cv::imread(best->frames.at(*best->apex_index).string(), cv::IMREAD_COLOR);
      const int x = label_w + int(c) * 3 * side, y = label_h + int(d) * side;
      tile(onset, side).copyTo(sheet(cv::Rect(x, y, side, side)));
      tile(apex, side).copyTo(sheet(cv::Rect(x + side, y, side, side)));
      tile(flow_colour(best_flow, 1.5), side).copyTo(sheet(cv::Rect(x + 2 * side, y, side, side)));
    }
  }
  cv::imwrite(file.string(), sheet, {cv::IMWRITE_PNG_COMPRESSION, 9});
  std::cout << "contact sheet: " << file.string() << " (" << fs::file_size(file) / 1024 << " KiB)\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset = "default", sheet;
  fs::path out = fs::temp_directory_path() / "merx_bench_synth", sources;
  uint64_t seed = 1;
  bool timing = true, check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--preset")
      preset = next();
    else if (a == "--out")
      out = next();
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--sources")
      sources = next();
    else if (a == "--sheet")
      sheet = next();
    else if (a == "--no-timing")
      timing = false;
    else if (a == "--check")
      check = true;
    else {
      std::cerr
          << "usage: bench_synth_corpus [--preset P] [--out DIR] [--seed N] [--sources DIR] [--no-timing] "
             "[--sheet FILE.png] [--check]\n";
      return 2;
    }
  }
  cv::setNumThreads(1);
  double t2 = 0;
  if (timing) {
    std::cout << "merx synth --preset " << preset << " --seed " << seed << ", 1 thread:\n";
    const double t1 = generate(preset, seed, out, sources, 1);
    std::cout << "2 threads:\n";
    t2 = generate(preset, seed, out, sources, 2);
    std::printf("  speed-up from the second thread: %.2fx\n", t1 / t2);
  } else if (!fs::exists(out / "synth.json")) {
    generate(preset, seed, out, sources, 0);
  }

  const auto all = load(out);
  prep::RecipeConfig config;
  config.recipe = "flow_uv";
  config.size = 8;
  config.flow_size = 64;
  const prep::Preprocessor pre(config);
  std::vector<const SampleRecord*> samples;
  std::vector<size_t> domain_of;
  for (size_t d = 0; d < all.size(); ++d)
    for (const auto& s : all[d].samples) samples.push_back(&s), domain_of.push_back(d);
  std::vector<merx::test::Item> items(samples.size());
  std::vector<int> fallback(samples.size(), 0);
  tbb::parallel_for(size_t(0), samples.size(), [&](size_t i) {
    const auto r = pre.run(*samples[i]);
    fallback[i] = r.face_fallback;
    merx::test::Item& it = items[i];
    it.domain = domain_of[i];
    it.subject = samples[i]->global_subject;
    const auto& classes = megc3_classes();
    it.label = int(std::find(classes.begin(), classes.end(), *samples[i]->label) - classes.begin());
    for (float v : r.data) it.x.push_back(v);
  });
  if (const char* dump = std::getenv("MERX_BENCH_DUMP")) {
    std::ofstream f(dump);
    for (size_t i = 0; i < items.size(); ++i) {
      f << items[i].domain << "," << items[i].subject << "," << items[i].label << "," << samples[i]->key;
      for (double v : items[i].x) f << "," << v;
      f << "\n";
    }
  }
  double within_sum = 0, cross_sum = 0;
  std::cout << "nearest centroid on flow_uv 8x8 (UAR over negative/positive/surprise; chance 0.333):\n";
  for (size_t d = 0; d < all.size(); ++d) {
    std::vector<int> truth, within, cross;
    for (const merx::test::Item& x : items) {
      if (x.domain != d) continue;
      std::vector<const merx::test::Item*> loso, others;
      for (const merx::test::Item& t : items) {
        if (t.domain == d && t.subject != x.subject) loso.push_back(&t);
        if (t.domain != d) others.push_back(&t);
      }
      truth.push_back(x.label);
      within.push_back(merx::test::nearest_centroid(loso, x));
      cross.push_back(merx::test::nearest_centroid(others, x));
    }
    int no_face = 0;
    for (size_t i = 0; i < items.size(); ++i) no_face += items[i].domain == d && fallback[i];
    if (no_face)
      std::printf("  %s: no face found on %d onset frames (centre crop used)\n", all[d].dataset.c_str(),
                  no_face);
    const double w = merx::test::uar3(truth, within), c = merx::test::uar3(truth, cross);
    within_sum += w, cross_sum += c;
    std::printf("  %-12s within (LOSO) %.3f   trained on the other two %.3f\n", all[d].dataset.c_str(), w, c);
  }
  std::printf("  mean         within %.3f   across %.3f\n", within_sum / 3, cross_sum / 3);
  if (!sheet.empty()) contact_sheet(out, all, sheet);
  if (check && timing && t2 >= 180) {
    std::cerr << "goal missed: 2-thread generation took " << t2 << " s (goal < 180 s)\n";
    return 1;
  }
  return 0;
}
