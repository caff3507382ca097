// bench_index_datasets [--keep DIR] [--limit SECONDS]
// Figure for issue 3: "indexing a generated corpus of 2,000 clips x 60 frames takes under 2 s on one core
// (only directory listing and sheet parsing; no image decoding)".
//
// Generates a CASME II corpus in the official layout (CASME2_RAW_selected/sub{SS}/{clip}/img{N}.jpg, 26
// subjects, 2,000 clips of 60 frames each = 120,000 ZERO-BYTE frame files: nothing decodes them) and its
// annotation sheet CASME2-coding-20140508.xlsx with the official columns (2,000 data rows, written by
// libxlsxwriter). Then pins itself to one CPU and times load_dataset() (strict mode, native labels: sheet
// read, header search, errata, AU parsing, frame listing and validation of every clip) three times, and
// prints the best wall time (and the CPU time of that run). Exit code 1 when the best run takes 2 s or more
// (or --limit), 2 on a setup error. The corpus lives in a temporary folder removed at the end.
#include <sched.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "merx/datasets/load.h"

namespace fs = std::filesystem;

namespace {

constexpr int kClips = 2000;
constexpr int kFrames = 60;
constexpr int kSubjects = 26;

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::string pad2(int n) {
  return (n < 10 ? "0" : "") + std::to_string(n);
}

// Returns the annotation file; frames under dir/CASME2_RAW_selected.
fs::path generate(const fs::path& dir) {
  const fs::path root = dir / "CASME2_RAW_selected";
  const fs::path sheet = dir / "CASME2-coding-20140508.xlsx";
  lxw_workbook* wb = workbook_new(sheet.string().c_str());
  if (!wb) throw std::runtime_error("libxlsxwriter: cannot create " + sheet.string());
  lxw_worksheet* ws = workbook_add_worksheet(wb, "Sheet1");
  const char* header[] = {"Subject",    "Filename",     "",
                          "OnsetFrame", "ApexFrame",    "OffsetFrame",
                          "",           "Action Units", "Estimated Emotion"};
  for (lxw_col_t c = 0; c < 9; ++c)
    if (*header[c]) worksheet_write_string(ws, 0, c, header[c], nullptr);
  const char* emotions[] = {"happiness", "disgust", "repression", "surprise", "others", "fear", "sadness"};
  const char* aus[] = {"12", "4+L10", "R14A", "1+2", "4", "4+7", "1+15"};
  for (int i = 0; i < kClips; ++i) {
    const int subject = i % kSubjects + 1;
    const std::string clip = "EP" + pad2(i / kSubjects + 1) + "_01f";  // unique within the subject
    const int onset = 1 + 7 * (i % 13);
    const int offset = onset + kFrames - 1;
    const auto row = static_cast<lxw_row_t>(i + 1);
    worksheet_write_number(ws, row, 0, subject, nullptr);
    worksheet_write_string(ws, row, 1, clip.c_str(), nullptr);
    worksheet_write_number(ws, row, 3, onset, nullptr);
    worksheet_write_number(ws, row, 4, onset + kFrames / 3, nullptr);
    worksheet_write_number(ws, row, 5, offset, nullptr);
    worksheet_write_string(ws, row, 7, aus[i % 7], nullptr);
    worksheet_write_string(ws, row, 8, emotions[i % 7], nullptr);
    const fs::path folder = root / ("sub" + pad2(subject)) / clip;
    fs::create_directories(folder);
    for (int n = onset; n <= offset; ++n) {
      std::ofstream f(folder / ("img" + std::to_string(n) + ".jpg"));  // zero bytes
      if (!f) throw std::runtime_error("cannot create a frame file in " + folder.string());
    }
  }
  if (workbook_close(wb) != LXW_NO_ERROR)
    throw std::runtime_error("libxlsxwriter: cannot write " + sheet.string());
  return sheet;
}

}  // namespace

int main(int argc, char** argv) {
  double limit = 2.0;
  fs::path keep;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--limit") && i + 1 < argc) {
      limit = std::stod(argv[++i]);
    } else if (!std::strcmp(argv[i], "--keep") && i + 1 < argc) {
      keep = argv[++i];
    } else {
      std::cerr << "usage: bench_index_datasets [--keep DIR] [--limit SECONDS]\n";
      return 2;
    }
  }

  // One core: pin to the first CPU we are allowed on (load_dataset is single-threaded anyway).
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  int cpu = -1;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE && cpu < 0; ++c)
      if (CPU_ISSET(c, &allowed)) cpu = c;
  if (cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) cpu = -1;
  }

  const fs::path dir =
      keep.empty() ? fs::temp_directory_path() / ("merx_bench_index_" + std::to_string(::getpid())) : keep;
  try {
    fs::remove_all(dir);
    fs::create_directories(dir);
    const auto g0 = std::chrono::steady_clock::now();
    const fs::path sheet = generate(dir);
    const double gen = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
    std::printf(
        "corpus: CASME II layout, %d clips x %d frames = %d zero-byte .jpg files, %d subjects; "
        "sheet %s (%d rows, libxlsxwriter), generated in %.1f s\n",
        kClips, kFrames, kClips * kFrames, kSubjects, sheet.filename().string().c_str(), kClips, gen);
    if (cpu >= 0)
      std::printf("pinned to CPU %d\n", cpu);
    else
      std::printf("could not pin to one CPU (sched_setaffinity failed); timing anyway\n");

    merx::DatasetSource src;
    src.adapter = "casme2";
    src.root = dir / "CASME2_RAW_selected";
    src.annotations = sheet;
    double best = 1e30, best_cpu = 0;
    for (int run = 1; run <= 3; ++run) {
      const double c0 = cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      const merx::LoadResult r = merx::load_dataset(src);
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double cpu_s = cpu_seconds() - c0;
      size_t frames = 0;
      for (const auto& s : r.samples) frames += s.frames.size();
      std::printf("run %d: load_dataset %.3f s wall, %.3f s CPU (%zu clips, %zu subjects, %zu frames)\n", run,
                  wall, cpu_s, r.samples.size(), r.subjects().size(), frames);
      if (r.samples.size() != static_cast<size_t>(kClips) ||
          frames != static_cast<size_t>(kClips) * kFrames) {
        std::fprintf(stderr, "error: expected %d clips and %d frames\n", kClips, kClips * kFrames);
        if (keep.empty()) fs::remove_all(dir);
        return 2;
      }
      if (wall < best) {
        best = wall;
        best_cpu = cpu_s;
      }
    }
    if (keep.empty()) fs::remove_all(dir);
    std::printf("best of 3: %.3f s wall (%.3f s CPU); limit %.1f s: %s\n", best, best_cpu, limit,
                best < limit ? "PASS" : "FAIL");
    return best < limit ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (keep.empty()) fs::remove_all(dir);
    return 2;
  }
}
