// Content-addressed cache of preprocessed samples. Entry format (docs/preprocessing.md "Entry format";
// integers and IEEE-754 floats in this machine's byte order: little-endian on x86-64 and arm64):
//   "MERXPREP" | u32 format | u32 header bytes | header JSON | u64 floats | float32[floats] | u64 checksum
// where checksum = hash64 (SHA-256 prefix) of every preceding byte: truncation or corruption is detected.
// Format 2 added `sample_key` to the header; an entry of another format is a miss (recomputed, never
// misread).
#include "merx/preprocessing/cache.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "merx/hash.h"

namespace merx::prep {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'M', 'E', 'R', 'X', 'P', 'R', 'E', 'P'};
constexpr uint32_t kFormat = 2;
constexpr const char* kExt = ".mxp";

template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
bool take(const std::string& in, size_t& pos, T& v) {
  if (in.size() - pos < sizeof v) return false;
  std::memcpy(&v, in.data() + pos, sizeof v);
  pos += sizeof v;
  return true;
}

std::string encode(const std::string& key, const std::string& recipe, const PrepResult& r,
                   const std::string& sample_key) {
  json lm = json::array();
  for (const auto& p : r.landmarks) lm.push_back({p.x, p.y});
  const json header = {{"key", key},
                       {"sample_key", sample_key},
                       {"recipe", recipe},
                       {"channels", r.channels},
                       {"size", r.size},
                       {"onset_index", r.onset_index},
                       {"apex_index", r.apex_index},
                       {"apex_estimated", r.apex_estimated},
                       {"face_fallback", r.face_fallback},
                       {"zero_flow", r.zero_flow},
                       {"landmarks", lm},
                       {"note", r.note}};
  const std::string h = header.dump();
  std::string out(kMagic, sizeof kMagic);
  put(out, kFormat);
  put(out, static_cast<uint32_t>(h.size()));
  out += h;
  put(out, static_cast<uint64_t>(r.data.size()));
  out.append(reinterpret_cast<const char*>(r.data.data()), r.data.size() * sizeof(float));
  put(out, hash64(out));
  return out;
}

std::optional<PrepResult> decode(const std::string& in, const std::string& key) {
  size_t pos = 0;
  if (in.size() < sizeof kMagic + 8 || std::memcmp(in.data(), kMagic, sizeof kMagic) != 0)
    return std::nullopt;
  pos = sizeof kMagic;
  uint32_t format = 0, hlen = 0;
  if (!take(in, pos, format) || format != kFormat || !take(in, pos, hlen) || in.size() - pos < hlen)
    return std::nullopt;
  const std::string h = in.substr(pos, hlen);
  pos += hlen;
  uint64_t n = 0;
  if (!take(in, pos, n) || (in.size() - pos) / sizeof(float) < n) return std::nullopt;
  const size_t data_pos = pos;
  pos += n * sizeof(float);
  uint64_t checksum = 0;
  if (!take(in, pos, checksum) || pos != in.size()) return std::nullopt;
  if (checksum != hash64(std::string_view(in.data(), pos - sizeof checksum))) return std::nullopt;
  try {
    const json j = json::parse(h);
    if (!key.empty() && j.at("key").get<std::string>() != key) return std::nullopt;
    PrepResult r;
    r.channels = j.at("channels").get<int>();
    r.size = j.at("size").get<int>();
    if (static_cast<uint64_t>(r.channels) * r.size * r.size != n) return std::nullopt;
    r.onset_index = j.at("onset_index").get<size_t>();
    r.apex_index = j.at("apex_index").get<size_t>();
    r.apex_estimated = j.at("apex_estimated").get<bool>();
    r.face_fallback = j.at("face_fallback").get<bool>();
    r.zero_flow = j.at("zero_flow").get<bool>();
    r.note = j.at("note").get<std::string>();
    for (const auto& p : j.at("landmarks"))
      r.landmarks.emplace_back(p.at(0).get<float>(), p.at(1).get<float>());
    r.data.resize(n);
    std::memcpy(r.data.data(), in.data() + data_pos, n * sizeof(float));
    return r;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json model_identity(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  return {{"file", p.filename().string()}, {"size", ec ? -1 : static_cast<int64_t>(size)}};
}

}  // namespace

fs::path default_cache_dir() {
  if (const char* d = std::getenv("MERX_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return fs::path(d) / "merx";
  if (const char* d = std::getenv("HOME"); d && *d) return fs::path(d) / ".cache" / "merx";
  return ".merx-cache";
}

std::string cache_key(const SampleRecord& s, const RecipeConfig& config, const FaceModels& models,
                      bool content_hash) {
  json frames = json::array();
  for (const auto& f : s.frames) {
    std::error_code ec;
    if (content_hash) {
      try {
        frames.push_back({f.filename().string(), sha256_file(f)});
      } catch (const std::exception& e) {
        throw PrepError(s.key + ": " + e.what());
      }
      continue;
    }
    const auto size = fs::file_size(f, ec);
    if (ec) throw PrepError(s.key + ": missing frame " + f.string());
    const auto mtime = fs::last_write_time(f, ec).time_since_epoch().count();
    frames.push_back({f.filename().string(), size, static_cast<int64_t>(mtime)});
  }
  json m = {{"shape_predictor", model_identity(models.shape_predictor)}};
  if (config.detector == "haar") m["haar_cascade"] = model_identity(models.haar_cascade);
  const json id = {
      {"recipe", config.to_json()},
      {"models", m},
      {"sample",
       {{"key", s.key},
        {"dataset", s.dataset},
        {"adapter", s.adapter},
        {"subject", s.subject},
        {"clip", s.clip},
        {"onset_index", s.onset_index},
        {"apex_index", s.apex_index ? json(*s.apex_index) : json(nullptr)},
        {"apex_missing", s.apex_missing},
        {"face_cropped", s.face_cropped},
        {"frames", frames}}},
  };
  return sha256_hex(id.dump());
}

FeatureCache::FeatureCache(fs::path root) : root_(std::move(root)) {}

fs::path FeatureCache::entry_path(const std::string& recipe, const std::string& key) const {
  return root_ / "prep" / recipe / key.substr(0, 2) / (key + kExt);
}

std::optional<PrepResult> FeatureCache::load(const std::string& recipe, const std::string& key,
                                             bool* corrupt) const {
  if (corrupt) *corrupt = false;
  const auto bytes = slurp(entry_path(recipe, key));
  if (!bytes) return std::nullopt;
  auto r = decode(*bytes, key);
  if (!r && corrupt) *corrupt = true;
  return r;
}

void FeatureCache::store(const std::string& recipe, const std::string& key, const PrepResult& result,
                         const std::string& sample_key) const {
  static std::atomic<uint64_t> counter{0};
  const fs::path final_path = entry_path(recipe, key);
  fs::create_directories(final_path.parent_path());
  // Unique per process and call: concurrent writers never share a temporary; rename() is atomic.
  const fs::path tmp =
      final_path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  const std::string bytes = encode(key, recipe, result, sample_key);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw std::runtime_error("cannot write the cache entry " + tmp.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw std::runtime_error("cannot rename the cache entry into " + final_path.string());
  }
}

PrepResult FeatureCache::get(const Preprocessor& prep, const SampleRecord& sample, CacheOutcome* outcome,
                             bool content_hash) const {
  const auto& recipe = prep.config().recipe;
  const std::string key = cache_key(sample, prep.config(), prep.models(), content_hash);
  bool corrupt = false;
  if (auto hit = load(recipe, key, &corrupt)) {
    std::error_code ec;  // mark as used for `cache gc`; failure only affects gc
    fs::last_write_time(entry_path(recipe, key), fs::file_time_type::clock::now(), ec);
    if (outcome) *outcome = CacheOutcome::Hit;
    return std::move(*hit);
  }
  PrepResult r = prep.run(sample);
  store(recipe, key, r, sample.key);
  if (outcome) *outcome = corrupt ? CacheOutcome::Recomputed : CacheOutcome::Computed;
  return r;
}

CacheStats cache_stats(const fs::path& root) {
  CacheStats st;
  std::map<std::string, uint64_t> per;
  std::error_code ec;
  const fs::path prep = root / "prep";
  if (!fs::is_directory(prep, ec)) return st;
  for (fs::recursive_directory_iterator it(prep, ec), end; it != end; it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    const auto size = it->file_size(ec);
    if (name.find(".tmp.") != std::string::npos) {
      ++st.temporaries;
    } else if (it->path().extension() == kExt) {
      ++st.entries;
      st.bytes += ec ? 0 : size;
      ++per[fs::relative(it->path(), prep, ec).begin()->string()];
    }
  }
  st.per_recipe.assign(per.begin(), per.end());
  return st;
}

std::pair<uint64_t, uint64_t> cache_gc(const fs::path& root, double older_than_days) {
  uint64_t files = 0, bytes = 0;
  std::error_code ec;
  const fs::path prep = root / "prep";
  if (!fs::is_directory(prep, ec)) return {0, 0};
  const auto now = fs::file_time_type::clock::now();
  const auto max_age = std::chrono::duration<double, std::ratio<86400>>(older_than_days);
  std::vector<fs::path> doomed;
  for (fs::recursive_directory_iterator it(prep, ec), end; it != end; it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const auto age = now - it->last_write_time(ec);
    const std::string name = it->path().filename().string();
    if (name.find(".tmp.") != std::string::npos) {
      if (age > std::chrono::hours(1)) doomed.push_back(it->path());
    } else if (it->path().extension() == kExt) {
      if (age > max_age) {
        doomed.push_back(it->path());
      } else {
        const auto b = slurp(it->path());
        if (!b || !decode(*b, "")) doomed.push_back(it->path());
      }
    }
  }
  for (const auto& p : doomed) {
    const auto size = fs::file_size(p, ec);
    if (fs::remove(p, ec)) {
      ++files;
      bytes += ec ? 0 : size;
    }
  }
  return {files, bytes};
}

}  // namespace merx::prep
