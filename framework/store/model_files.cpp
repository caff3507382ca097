#include "merx/store/model_files.h"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

namespace merx {

namespace fs = std::filesystem;

fs::path models_dir(const fs::path& database) {
  return fs::path(database.string() + "-models");
}

fs::path model_file(const fs::path& database, const std::string& sha256) {
  return models_dir(database) / (sha256 + ".mxm");
}

bool copy_model_file(const fs::path& from, const fs::path& to, const std::string& sha256) {
  const fs::path src = model_file(from, sha256), dst = model_file(to, sha256);
  std::error_code ec;
  if (!fs::is_regular_file(src, ec)) return false;
  if (fs::exists(dst, ec) && fs::file_size(dst, ec) == fs::file_size(src, ec)) return true;
  fs::create_directories(dst.parent_path(), ec);
  if (ec) throw std::runtime_error("cannot create " + dst.parent_path().string() + ": " + ec.message());
  static std::atomic<uint64_t> counter{0};
  const fs::path tmp = dst.string() + ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, dst, ec);
  if (ec) {
    std::error_code ignore;
    fs::remove(tmp, ignore);
    throw std::runtime_error("cannot copy " + src.string() + " to " + dst.string() + ": " + ec.message());
  }
  return true;
}

}  // namespace merx
