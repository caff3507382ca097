// bench_prep_flow [--samples N] [--repeats R] [--keep DIR] [--check]
// Figures for issue 4: "samples per second for `flow_strain` at 28 px from 128x128 aligned crops, with 1 and
// 2 cores (goal: >= 1.8x from the second core); a warm-cache pass over the same samples >= 100x faster than
// the cold pass."
//
// Generates N (default 48) synthetic clips that are already face crops: 5 textured 128x128 8-bit gray PNG
// frames each, frame k moved by k/4 of a per-clip sub-pixel shift (about half a pixel at the apex, frame 3),
// described by a manifest CSV. The corpus is read by the real loader (adapter `manifest`, option
// `cropped`), and every sample goes through the real path of `merx prep`: FeatureCache::get (cache key:
// SHA-256 over the recipe and the frame files' size + mtime) -> Preprocessor::run (PNG decoding, landmarks
// fitted inside the whole frame, 128x128 crop, TV-L1 flow, optical strain, resize to 28x28) -> atomic write
// of the entry. OpenCV's own threading is off (cv::setNumThreads(1)) as in `merx prep`; samples run in
// parallel in a tbb::task_arena of 1 or 2 threads.
//
//   cold 1 thread / cold 2 threads: each repeat starts from an empty cache; the best of R repeats (R = 3)
//   warm: the same samples with the cache filled (every outcome must be a hit with a bit-identical
//         tensor); best of 5 passes, 1 thread and 2 threads
//
// Before timing, one untimed pass without a cache loads the landmark model and creates each thread's TV-L1
// object (both happen once per process / thread in `merx prep` too). Prints samples/s, the speed-up from the
// second thread and the cold/warm ratio, plus the load average and, per cold pass, the process CPU time over
// the wall time (how many cores it actually got: the figures are only meaningful on an otherwise idle
// machine). Exit code 0; with --check, 1 when a goal is missed; 2 on a setup error. The corpus and caches
// live in a temporary folder removed at the end (--keep DIR: generated there, kept).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include "merx/datasets/load.h"
#include "merx/preprocessing/cache.h"
#include "merx/preprocessing/preprocess.h"

namespace fs = std::filesystem;

namespace {

constexpr int kSide = 128;  // the crops are already 128 x 128 (= the recipe's flow_size)
constexpr int kFrames = 5;  // frames 1..5, apex 4 (position 3)
constexpr int kApex = 4;    // frame number of the apex
constexpr double kSpeedupGoal = 1.8;
constexpr double kWarmGoal = 100.0;

// Smooth texture (wavelengths 7-29 px) in [0.1, 0.9], defined everywhere so shifts can be sub-pixel.
double texture(double x, double y, double phase) {
  const double two_pi = 6.283185307179586;
  return 0.5 + 0.15 * std::sin(two_pi * (x / 13.0 + y / 29.0) + phase) +
         0.1 * std::cos(two_pi * (x / 7.3 - y / 17.0) + 2 * phase) + 0.1 * std::sin(two_pi * y / 11.0 + 1);
}

cv::Mat frame(double dx, double dy, double phase) {
  cv::Mat img(kSide, kSide, CV_8UC1);
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x)
      img.at<uint8_t>(y, x) = cv::saturate_cast<uint8_t>(255.0 * texture(x - dx, y - dy, phase));
  return img;
}

struct Shift {
  double dx, dy;
};

// Clip i's apex shift: (0.5, 0.25) px give or take 0.1 px.
Shift apex_shift(int i) {
  return {0.5 + 0.025 * (i % 5 - 2), 0.25 + 0.02 * (i % 3 - 1)};
}

// Writes <dir>/frames/c<i>/img<n>.png and <dir>/annotations.csv; returns the CSV.
fs::path generate(const fs::path& dir, int n) {
  std::ofstream csv(dir / "annotations.csv");
  csv << "subject,clip,frames,onset,apex,offset,label\n";
  const char* labels[] = {"negative", "positive", "surprise"};
  for (int i = 0; i < n; ++i) {
    const std::string clip = "c" + std::to_string(i);
    const fs::path folder = dir / "frames" / clip;
    fs::create_directories(folder);
    const Shift s = apex_shift(i);
    const double phase = 0.37 * i;
    for (int k = 0; k < kFrames; ++k) {
      const double t = k / double(kApex - 1);  // 0 at the onset, 1 at the apex
      const fs::path f = folder / ("img" + std::to_string(k + 1) + ".png");
      if (!cv::imwrite(f.string(), frame(t * s.dx, t * s.dy, phase)))
        throw std::runtime_error("cannot write " + f.string());
    }
    csv << "s" << (i % 6 + 1) << "," << clip << ",frames/" << clip << ",1," << kApex << "," << kFrames << ","
        << labels[i % 3] << "\n";
  }
  if (!csv.flush()) throw std::runtime_error("cannot write the manifest in " + dir.string());
  return dir / "annotations.csv";
}

using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Pass {
  double seconds = 0, cpu = 0;  // wall and process CPU time
  size_t hits = 0, computed = 0;
};

// One pass over all samples through the cache in an arena of `threads` threads.
Pass run_pass(const merx::prep::Preprocessor& prep, const merx::prep::FeatureCache& cache,
              const std::vector<merx::SampleRecord>& samples, int threads,
              std::vector<merx::prep::PrepResult>* results = nullptr) {
  std::vector<merx::prep::CacheOutcome> outcomes(samples.size());
  std::vector<merx::prep::PrepResult> out(samples.size());
  tbb::task_arena arena(threads);
  const double c0 = cpu_seconds();
  const auto t0 = Clock::now();
  arena.execute([&] {
    tbb::parallel_for(size_t(0), samples.size(),
                      [&](size_t i) { out[i] = cache.get(prep, samples[i], &outcomes[i]); });
  });
  Pass p;
  p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  p.cpu = cpu_seconds() - c0;
  for (auto o : outcomes) ++(o == merx::prep::CacheOutcome::Hit ? p.hits : p.computed);
  if (results) *results = std::move(out);
  return p;
}

std::string load_average() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) != 3) return "unknown";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int samples = 48, repeats = 3;
  bool check = false;
  fs::path keep;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--samples" && i + 1 < argc) {
      samples = std::atoi(argv[++i]);
    } else if (a == "--repeats" && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (a == "--keep" && i + 1 < argc) {
      keep = argv[++i];
    } else if (a == "--check") {
      check = true;
    } else {
      std::cerr << "usage: bench_prep_flow [--samples N] [--repeats R] [--keep DIR] [--check]\n";
      return 2;
    }
  }
  if (samples < 2 || repeats < 1) {
    std::cerr << "bench_prep_flow: --samples must be >= 2 and --repeats >= 1\n";
    return 2;
  }

  const fs::path dir =
      keep.empty() ? fs::temp_directory_path() / ("merx-bench-prep-" + std::to_string(::getpid())) : keep;
  int code = 0;
  try {
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::cout << "bench_prep_flow: " << samples << " clips of " << kFrames << " frames, " << kSide << "x"
              << kSide << " gray crops; recipe flow_strain (TV-L1, flow_size 128, S = 28); " << repeats
              << " cold repeat(s)\nload average before: " << load_average() << "\n";
    const fs::path csv = generate(dir, samples);

    merx::DatasetSource src;
    src.name = "bench";
    src.adapter = "manifest";
    src.root = dir;
    src.annotations = csv;
    src.options = {{"cropped", true}};
    const merx::LoadResult loaded = merx::load_dataset(src);
    if (loaded.samples.size() != size_t(samples) || !loaded.samples[0].face_cropped)
      throw std::runtime_error("the loader returned " + std::to_string(loaded.samples.size()) +
                               " samples (or not face-cropped)");
    const auto& all = loaded.samples;

    cv::setNumThreads(1);  // as merx prep: parallel over samples only
    const merx::prep::Preprocessor prep{merx::prep::RecipeConfig{}};

    // Untimed: landmark model, per-thread TV-L1 objects, page cache of the frame files.
    {
      tbb::task_arena arena(2);
      arena.execute(
          [&] { tbb::parallel_for(size_t(0), all.size(), [&](size_t i) { (void)prep.run(all[i]); }); });
    }

    auto cold = [&](int threads, std::vector<merx::prep::PrepResult>* results) {
      double best = 1e300;
      for (int r = 0; r < repeats; ++r) {
        const fs::path root = dir / ("cache-" + std::to_string(threads) + "-" + std::to_string(r));
        fs::remove_all(root);
        const Pass p = run_pass(prep, merx::prep::FeatureCache(root), all, threads,
                                r + 1 == repeats ? results : nullptr);
        if (p.computed != all.size()) throw std::runtime_error("cold pass found cache hits");
        std::printf("  cold, %d thread%s, repeat %d: %.3f s (%.2f samples/s), CPU %.3f s = %.2f cores busy\n",
                    threads, threads == 1 ? "" : "s", r + 1, p.seconds, all.size() / p.seconds, p.cpu,
                    p.cpu / p.seconds);
        best = std::min(best, p.seconds);
      }
      return best;
    };
    std::vector<merx::prep::PrepResult> cold_results;
    const double cold1 = cold(1, nullptr);
    const double cold2 = cold(2, &cold_results);

    // Warm: the cache the last 2-thread cold repeat filled.
    const merx::prep::FeatureCache filled(dir / ("cache-2-" + std::to_string(repeats - 1)));
    auto warm = [&](int threads) {
      double best = 1e300;
      for (int r = 0; r < 5; ++r) {
        std::vector<merx::prep::PrepResult> got;
        const Pass p = run_pass(prep, filled, all, threads, &got);
        if (p.hits != all.size()) throw std::runtime_error("warm pass missed the cache");
        for (size_t i = 0; i < all.size(); ++i)
          if (got[i].data != cold_results[i].data)
            throw std::runtime_error("warm tensor differs from the cold one: " + all[i].key);
        best = std::min(best, p.seconds);
      }
      return best;
    };
    const double warm1 = warm(1), warm2 = warm(2);

    // Sanity: the mean flow of the 28 x 28 grid is the apex shift times 28 / 128.
    double u = 0, v = 0, eu = 0, ev = 0;
    for (size_t i = 0; i < cold_results.size(); ++i) {
      u += cv::mean(cold_results[i].channel(0)(cv::Rect(4, 4, 20, 20)))[0];
      v += cv::mean(cold_results[i].channel(1)(cv::Rect(4, 4, 20, 20)))[0];
      eu += apex_shift(int(i)).dx * 28.0 / kSide;
      ev += apex_shift(int(i)).dy * 28.0 / kSide;
    }
    const double n = double(all.size());
    std::printf("sanity: mean flow on the 28 px grid (%.4f, %.4f) px, expected (%.4f, %.4f)\n", u / n, v / n,
                eu / n, ev / n);

    const double speedup = cold1 / cold2, ratio1 = cold1 / warm1, ratio2 = cold2 / warm2;
    std::printf("cold, 1 thread:  %.2f samples/s (%.1f ms per sample)\n", n / cold1, 1e3 * cold1 / n);
    std::printf("cold, 2 threads: %.2f samples/s; speed-up %.2fx (goal >= %.1fx)\n", n / cold2, speedup,
                kSpeedupGoal);
    std::printf("warm, 1 thread:  %.0f samples/s (%.3f ms per sample); cold/warm %.0fx (goal >= %.0fx)\n",
                n / warm1, 1e3 * warm1 / n, ratio1, kWarmGoal);
    std::printf("warm, 2 threads: %.0f samples/s; cold/warm %.0fx\n", n / warm2, ratio2);
    std::cout << "load average after: " << load_average() << "\n";
    const bool ok = speedup >= kSpeedupGoal && ratio1 >= kWarmGoal && ratio2 >= kWarmGoal;
    std::cout << (ok ? "goals met" : "GOAL MISSED") << (check ? "" : " (not checked: no --check)") << "\n";
    if (check && !ok) code = 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_prep_flow: " << e.what() << "\n";
    code = 2;
  }
  if (keep.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return code;
}
