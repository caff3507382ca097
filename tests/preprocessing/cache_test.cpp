// The feature cache: bit-identical hits, misses on any parameter change, truncated entries recomputed,
// two processes filling the same cache at once.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

#include <doctest/doctest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <opencv2/core/utility.hpp>

#include "fixtures.h"
#include "merx/preprocessing/cache.h"

extern char** environ;

using namespace merx::prep;
namespace fs = std::filesystem;

namespace {

RecipeConfig small() {
  RecipeConfig c;
  c.flow_size = 40;
  c.size = 12;
  return c;
}

std::vector<merx::SampleRecord> clips(const fs::path& dir, int n) {
  std::vector<merx::SampleRecord> out;
  for (int i = 0; i < n; ++i)
    out.push_back(merx::test::write_clip(dir, "c" + std::to_string(i),
                                         {merx::test::u8(merx::test::shifted(40, 0, 0)),
                                          merx::test::u8(merx::test::shifted(40, 0.5 + 0.25 * i, 0.5))},
                                         1));
  return out;
}

bool same(const PrepResult& a, const PrepResult& b) {
  return a.channels == b.channels && a.size == b.size && a.data.size() == b.data.size() &&
         std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0 &&
         a.apex_index == b.apex_index && a.face_fallback == b.face_fallback && a.zero_flow == b.zero_flow;
}

}  // namespace

TEST_CASE("a cache hit returns a bit-identical tensor") {
  const auto dir = merx::test::scratch("cache_hit");
  const auto s = clips(dir / "frames", 1)[0];
  FeatureCache cache(dir / "cache");
  Preprocessor prep(small());
  CacheOutcome o1{}, o2{};
  const PrepResult a = cache.get(prep, s, &o1);
  const PrepResult b = cache.get(prep, s, &o2);
  CHECK(o1 == CacheOutcome::Computed);
  CHECK(o2 == CacheOutcome::Hit);
  CHECK(same(a, b));
  CHECK(same(a, prep.run(s)));
}

TEST_CASE("changing any stage parameter, the frames or the sample changes the cache key") {
  const auto dir = merx::test::scratch("cache_key");
  auto s = clips(dir, 1)[0];
  const FaceModels m;
  const RecipeConfig base = small();
  std::vector<RecipeConfig> variants(12, base);
  variants[0].recipe = "flow_uv";
  variants[1].size = 14;
  variants[2].flow_size = 48;
  variants[3].flow = "farneback";
  variants[4].normalisation = "maxabs";
  variants[5].detector = "haar";
  variants[6].eye_distance = 0.45;
  variants[7].eye_height = 0.4;
  variants[8].tvl1.lambda = 0.2;
  variants[9].tvl1.warps = 3;
  variants[10].farneback.winsize = 9;
  variants[11].tvl1.median_filtering = 3;
  std::set<std::string> keys = {cache_key(s, base, m)};
  for (const auto& v : variants) keys.insert(cache_key(s, v, m));
  CHECK(keys.size() == variants.size() + 1);
  CHECK(cache_key(s, base, m) == cache_key(s, base, m));  // deterministic

  auto s2 = s;
  s2.apex_index = 0;
  keys.insert(cache_key(s2, base, m));
  fs::last_write_time(s.frames[1], fs::last_write_time(s.frames[1]) + std::chrono::seconds(5));
  keys.insert(cache_key(s, base, m));
  CHECK(keys.size() == variants.size() + 3);
  CHECK(cache_key(s, base, m, true) != cache_key(s, base, m, false));
}

TEST_CASE("a truncated cache entry is detected and recomputed") {
  const auto dir = merx::test::scratch("cache_trunc");
  const auto s = clips(dir / "frames", 1)[0];
  FeatureCache cache(dir / "cache");
  Preprocessor prep(small());
  const PrepResult a = cache.get(prep, s);
  const fs::path entry = cache.entry_path("flow_strain", cache_key(s, prep.config(), prep.models()));
  REQUIRE(fs::exists(entry));
  const auto full = fs::file_size(entry);
  for (uintmax_t cut : {full - 1, full / 2, uintmax_t(3), uintmax_t(0)}) {
    CAPTURE(cut);
    fs::resize_file(entry, cut);
    bool corrupt = false;
    CHECK_FALSE(cache.load("flow_strain", cache_key(s, prep.config(), prep.models()), &corrupt).has_value());
    CHECK(corrupt);
    CacheOutcome o{};
    CHECK(same(cache.get(prep, s, &o), a));
    CHECK(o == CacheOutcome::Recomputed);
    CHECK(fs::file_size(entry) == full);
  }
  // One flipped byte in the data is caught by the checksum.
  {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(full - 20));
    f.put('\x7f');
  }
  CHECK_FALSE(cache.load("flow_strain", cache_key(s, prep.config(), prep.models())).has_value());
  const auto gc = cache_gc(dir / "cache", 30);
  CHECK(gc.first == 1);
}

// Helper run by the test below in child processes (does nothing unless MERX_PREP_CHILD_CACHE is set).
TEST_CASE("cache fill child process") {
  const char* cache_dir = std::getenv("MERX_PREP_CHILD_CACHE");
  const char* frames_dir = std::getenv("MERX_PREP_CHILD_FRAMES");
  if (!cache_dir || !frames_dir) return;
  cv::setNumThreads(1);
  std::vector<merx::SampleRecord> samples;
  for (int i = 0; i < 8; ++i) {
    merx::SampleRecord s;
    s.key = "c" + std::to_string(i);
    s.frames = {fs::path(frames_dir) / ("c" + std::to_string(i) + "_0.png"),
                fs::path(frames_dir) / ("c" + std::to_string(i) + "_1.png")};
    s.apex_index = 1;
    s.offset_index = 1;
    samples.push_back(s);
  }
  FeatureCache cache(cache_dir);
  Preprocessor prep(small());
  for (const auto& s : samples) REQUIRE(cache.get(prep, s).data.size() == 3u * 12 * 12);
}

TEST_CASE("two processes filling the same cache concurrently both succeed") {
  const auto dir = merx::test::scratch("cache_procs");
  const auto samples = clips(dir / "frames", 8);
  const std::string env_cache = "MERX_PREP_CHILD_CACHE=" + (dir / "cache").string();
  const std::string env_frames = "MERX_PREP_CHILD_FRAMES=" + (dir / "frames").string();
  std::vector<std::string> env_store = {env_cache, env_frames};
  std::vector<char*> env;
  for (auto& e : env_store) env.push_back(e.data());
  for (char** e = environ; *e; ++e) env.push_back(*e);
  env.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string filter = "--test-case=cache fill child process";
  std::vector<char*> argv = {exe.data(), filter.data(), nullptr};
  pid_t pids[2];
  for (auto& pid : pids)
    REQUIRE(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), env.data()) == 0);
  for (auto pid : pids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  const auto st = cache_stats(dir / "cache");
  CHECK(st.entries == 8);
  CHECK(st.temporaries == 0);
  FeatureCache cache(dir / "cache");
  Preprocessor prep(small());
  for (const auto& s : samples) {
    // The children built their records without identity fields: the parent's keys differ, so recompute
    // the child's key shape here by loading through a record of the same fields.
    merx::SampleRecord c;
    c.key = s.key;
    c.frames = s.frames;
    c.apex_index = 1;
    c.offset_index = 1;
    const auto hit = cache.load("flow_strain", cache_key(c, prep.config(), prep.models()));
    REQUIRE(hit.has_value());
    CHECK(same(*hit, prep.run(c)));
  }
}
