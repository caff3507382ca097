// End-to-end: `merx prep --adapter manifest` and `merx cache info` on tiny generated corpora (4 clips of 6
// gray 48 x 48 frames, a textured pattern moving by a fraction of a pixel). The frames hold no face, so every
// clip takes the documented fallback (centre crop, counted under FALLBACK). Checks the exact summary table,
// that a second run is served from the cache, the entry count, and both failure paths: an unreadable apex
// frame and a missing frame file each fail their sample only (exit 1 above --max-fail-rate, the clip and
// the reason named), the others are computed.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "../cli/run.h"
#include "fixtures.h"
#include "merx/preprocessing/cache.h"

namespace fs = std::filesystem;
using merx::test::run_merx;

namespace {

// A fresh folder per process (two build trees may run this test at the same time), removed at the end.
struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name)
      : dir(merx::test::scratch(name + "_" + std::to_string(::getpid()))) {}
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string q(const fs::path& p) {
  return "'" + p.string() + "'";
}

// <dir>/frames/c<i>/img1..6.png (apex frame 4) and <dir>/annotations.csv; returns the CSV.
fs::path write_corpus(const fs::path& dir, int clips) {
  std::ofstream csv(dir / "annotations.csv");
  csv << "subject,clip,frames,onset,apex,offset,label\n";
  for (int i = 1; i <= clips; ++i) {
    const std::string clip = "c" + std::to_string(i);
    const fs::path folder = dir / "frames" / clip;
    fs::create_directories(folder);
    for (int k = 0; k < 6; ++k) {
      cv::Mat frame;
      merx::test::shifted(48, 0.2 * k, 0.1 * k).convertTo(frame, CV_8UC1, 255.0);
      REQUIRE(cv::imwrite((folder / ("img" + std::to_string(k + 1) + ".png")).string(), frame));
    }
    csv << "s" << (i + 1) / 2 << "," << clip << ",frames/" << clip << ",1,4,6,positive\n";
  }
  return dir / "annotations.csv";
}

// One job unless said: each worker thread builds its own face detector first (about 0.3 s).
std::string prep_args(const fs::path& dir, const fs::path& cache, int jobs = 1) {
  return "prep --adapter manifest --root " + q(dir) + " --annotations " + q(dir / "annotations.csv") +
         " --cache " + q(cache) + " --jobs " + std::to_string(jobs);
}

}  // namespace

TEST_CASE("merx prep fills the cache, a second run is served from it, merx cache info counts the entries") {
  const Scratch scratch("cli_ok");
  const fs::path& dir = scratch.dir;
  write_corpus(dir, 4);
  const fs::path cache = dir / "cache";

  const auto first = run_merx(prep_args(dir, cache, 2));
  INFO(first.err);
  CHECK(first.code == 0);
  CHECK(first.out ==
        "DATASET   RECIPE       SAMPLES  DONE  CACHED  FALLBACK  FAILED\n"
        "--------  -----------  -------  ----  ------  --------  ------\n"
        "manifest  flow_strain  4        4     0       4         0\n"
        "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n");

  // --quiet: only errors on stderr (no progress lines either).
  const auto second = run_merx("-q " + prep_args(dir, cache));
  CHECK(second.code == 0);
  CHECK(second.err == "");
  CHECK(second.out ==
        "DATASET   RECIPE       SAMPLES  DONE  CACHED  FALLBACK  FAILED\n"
        "--------  -----------  -------  ----  ------  --------  ------\n"
        "manifest  flow_strain  4        0     4       4         0\n"
        "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n");

  const auto info = run_merx("cache info --cache " + q(cache));
  INFO(info.out);
  CHECK(info.code == 0);
  CHECK(info.out.find(": 4 entries, ") != std::string::npos);
  CHECK(info.out.find(", 0 temporary files\n") != std::string::npos);
  CHECK(info.out.find("\nflow_strain  4\n") != std::string::npos);

  // Another recipe is another set of entries.
  const auto gray = run_merx(prep_args(dir, cache) + " --recipe apex_gray");
  CHECK(gray.code == 0);
  CHECK(gray.out.find("manifest  apex_gray  4        4     0       4         0\n") != std::string::npos);
  const auto info2 = run_merx("cache info --cache " + q(cache));
  CHECK(info2.out.find(": 8 entries, ") != std::string::npos);
  CHECK(info2.out.find("\napex_gray    4\nflow_strain  4\n") != std::string::npos);
}

TEST_CASE("merx prep: an unreadable apex frame fails its sample, exit 1 above --max-fail-rate") {
  const Scratch scratch("cli_unreadable");
  const fs::path& dir = scratch.dir;
  write_corpus(dir, 4);
  { std::ofstream(dir / "frames" / "c3" / "img4.png", std::ios::trunc) << "not a PNG"; }
  const fs::path cache = dir / "cache";

  // 1 of 4 = 25 % > the default 1 %.
  const auto r = run_merx(prep_args(dir, cache));
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(r.out ==
        "DATASET   RECIPE       SAMPLES  DONE  CACHED  FALLBACK  FAILED\n"
        "--------  -----------  -------  ----  ------  --------  ------\n"
        "manifest  flow_strain  4        3     0       3         1\n"
        "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n");
  CHECK(r.err.find("failed: manifest/s2/c3: ") != std::string::npos);
  CHECK(r.err.find("img4.png") != std::string::npos);
  CHECK(r.err.find("1 of 4 samples failed (25.0 % > --max-fail-rate 1.0 %)") != std::string::npos);

  // Nothing was stored for the failed sample; with a 30 % tolerance the same run succeeds.
  const auto tolerant = run_merx(prep_args(dir, cache) + " --max-fail-rate 0.3");
  INFO(tolerant.err);
  CHECK(tolerant.code == 0);
  CHECK(tolerant.out ==
        "DATASET   RECIPE       SAMPLES  DONE  CACHED  FALLBACK  FAILED\n"
        "--------  -----------  -------  ----  ------  --------  ------\n"
        "manifest  flow_strain  4        0     3       3         1\n"
        "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n");
  CHECK(tolerant.err.find("failed: manifest/s2/c3: ") != std::string::npos);
  CHECK(run_merx("cache info --cache " + q(cache)).out.find(": 3 entries, ") != std::string::npos);
}

TEST_CASE("merx prep: a missing frame file fails its sample with the reason and the others are computed") {
  const Scratch scratch("cli_missing");
  const fs::path& dir = scratch.dir;
  write_corpus(dir, 4);
  fs::remove(dir / "frames" / "c2" / "img3.png");
  const fs::path cache = dir / "cache";

  const auto r = run_merx(prep_args(dir, cache));
  INFO(r.err);
  CHECK(r.code == 1);  // 1 of 4 = 25 % > the default 1 %
  CHECK(r.out ==
        "DATASET   RECIPE       SAMPLES  DONE  CACHED  FALLBACK  FAILED\n"
        "--------  -----------  -------  ----  ------  --------  ------\n"
        "manifest  flow_strain  4        3     0       3         1\n"
        "(DONE computed now, CACHED read from the cache, FALLBACK no face found: a centred crop was used)\n");
  CHECK(r.err.find("failed: manifest/s1/c2: frames missing in ") != std::string::npos);
  CHECK(r.err.find("c2: 3 (1 of 6; frame_gaps allows 0)") != std::string::npos);
  CHECK(r.err.find("1 of 4 samples failed (25.0 % > --max-fail-rate 1.0 %)") != std::string::npos);
  CHECK(merx::prep::cache_stats(cache).entries == 3);

  // The adapter option frame_gaps tolerates the gap: every sample is computed.
  const auto gaps = run_merx(prep_args(dir, cache) + " --options '{\"frame_gaps\": 1}'");
  INFO(gaps.err);
  CHECK(gaps.code == 0);
  CHECK(gaps.out.find("manifest  flow_strain  4        1     3       4         0\n") != std::string::npos);
  CHECK(run_merx(prep_args(dir, cache) + " --options '[1]'").code == 2);
}
